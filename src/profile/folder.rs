//! Where profiles come from: the built-in ones compiled in from `mappings/`, and the user's
//! folder of `*.toml` files, where a broken file is reported rather than hiding the others.

use super::{Origin, Profile, ProfileError};
use std::path::{Path, PathBuf};

/// The profiles compiled into the program, from `mappings/`.
pub const BUILTIN: &[(&str, &str)] = &[("cdc-nat", include_str!("../../mappings/cdc-nat.toml"))];

/// All profiles available: built-in first, then the user's folder (sorted by name). A broken
/// user file is kept aside in `broken` with its message rather than hiding the others.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    pub list: Vec<Profile>,
    pub broken: Vec<ProfileError>,
    /// The user's profile folder, when known.
    pub user_dir: Option<PathBuf>,
}

impl Profiles {
    /// Built-in profiles plus every `*.toml` in `user_dir` (a missing folder is fine).
    pub fn load(user_dir: Option<&Path>) -> Profiles {
        let mut list: Vec<Profile> = BUILTIN
            .iter()
            .filter_map(|(name, text)| Profile::parse(name, text, Origin::Builtin).ok())
            .collect();
        let mut broken = Vec::new();
        if let Some(dir) = user_dir {
            for p in crate::named::files_in(dir) {
                match Profile::from_path(&p) {
                    Ok(profile) => list.push(profile),
                    Err(e) => broken.push(e),
                }
            }
        }
        Profiles {
            list,
            broken,
            user_dir: user_dir.map(Path::to_owned),
        }
    }

    /// A profile by name (file stem), or by path when `name` ends in `.toml` or is a file.
    pub fn find(&self, name: &str) -> Result<Profile, ProfileError> {
        if crate::named::is_path(name) {
            return Profile::from_path(Path::new(name));
        }
        // The user's own file of the same name overrides the built-in one, and so does a
        // broken one: its error, never the built-in profile in its place.
        if let Some(e) = self.broken.iter().find(|e| {
            e.path()
                .is_some_and(|p| Path::new(p).file_stem().is_some_and(|s| s == name))
        }) {
            return Err(e.clone());
        }
        if let Some(p) = self.list.iter().rev().find(|p| p.name == name) {
            return Ok(p.clone());
        }
        Err(ProfileError::NotFound {
            kind: crate::named::FileKind::Profile,
            name: name.to_owned(),
            available: self
                .list
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join("、"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_user_file_is_never_replaced_by_the_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cdc-nat.toml"),
            "title = \"x\"\n[[fieldz]]\n",
        )
        .unwrap();
        let all = Profiles::load(Some(dir.path()));
        let e = all.find("cdc-nat").unwrap_err();
        assert!(e.to_string().contains("cdc-nat.toml"), "{e}");
        assert!(e.to_string().contains("第 2 行"), "{e}");
    }

    #[test]
    fn user_folder_overrides_and_reports_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("good.toml"),
            "title = \"g\"\n[[fields]]\nkey = \"a\"\nheader = \"A\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.toml"), "title = \n").unwrap();
        let all = Profiles::load(Some(dir.path()));
        assert!(all.find("cdc-nat").is_ok());
        assert_eq!(all.find("good").unwrap().title, "g");
        assert!(
            all.find("bad")
                .unwrap_err()
                .to_string()
                .contains("bad.toml")
        );
        assert!(matches!(
            all.find("nope"),
            Err(ProfileError::NotFound { .. })
        ));
    }
}
