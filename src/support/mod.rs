//! The support engineer's kit (support.md): the diagnostic bundle, signed profile packs, and
//! the ledger lookup. Each is given its folders by the front end (`workspace::Folders`).

pub mod diagnose;
pub mod lookup;
pub mod pack;

use std::path::{Path, PathBuf};

/// The regular files under `dir`, sorted, each with its path relative to `dir` joined by `/`
/// (as in a bundle or a pack). No symbolic link is followed: a link in the config folder must
/// not pull files from elsewhere into a bundle or a rollback.
pub(crate) fn files_under(dir: &Path) -> Vec<(PathBuf, String)> {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let rel = e.path().strip_prefix(dir).ok()?;
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            Some((e.into_path(), rel))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn files_under_lists_files_relative_and_follows_no_link() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("profiles");
        std::fs::create_dir_all(root.join("b")).unwrap();
        std::fs::write(root.join("a.toml"), "a").unwrap();
        std::fs::write(root.join("b/c.toml"), "c").unwrap();
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(outside.join("secret.txt"), "s").unwrap();
        #[cfg(unix)]
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        let rels: Vec<String> = super::files_under(&root)
            .into_iter()
            .map(|(_, r)| r)
            .collect();
        assert_eq!(rels, ["a.toml", "b/c.toml"]);
        assert!(super::files_under(&dir.path().join("missing")).is_empty());
    }
}
