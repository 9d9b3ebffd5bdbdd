//! The one loader of the TOML files a person names (profiles, upload targets, sources, and
//! whatever kind comes next): a name is a file's stem, looked up in the user's folder and then
//! among the files compiled into the program, or a path (it ends in `.toml` or is a file). A
//! file is read within [`crate::bounded::TEXT_FILE`], parsed by its kind ([`Named::parse`]),
//! and every failure is one [`FileError`] that names the file.
//!
//! A new kind of named file implements [`Named`] and gets [`find`], [`from_path`] and
//! [`names`]; its messages are the rows of [`FileKind`].

use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::paths::for_line;
use std::path::{Path, PathBuf};

/// Which kind of named file an error is about: it chooses the words of the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Profile,
    Target,
    Source,
}

impl FileKind {
    /// The file's name in a message: Chinese, English.
    fn noun(self) -> (&'static str, &'static str) {
        match self {
            FileKind::Profile => ("模板", "profile"),
            FileKind::Target => ("上报目标", "target"),
            FileKind::Source => ("数据来源", "source"),
        }
    }
}

/// Why a named file could not be loaded. Every variant names the file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum FileError {
    /// The text is not a valid file of its kind: the line (when known), the key (when known)
    /// and what is wrong, in Chinese from the checks.
    Invalid {
        kind: FileKind,
        path: String,
        line: Option<usize>,
        key: Option<String>,
        detail: String,
    },
    /// The file could not be read.
    Io {
        kind: FileKind,
        path: String,
        detail: String,
    },
    /// No file has that name. `available`: the names there are (joined with `、`), or for a
    /// source the folder it was looked for in.
    NotFound {
        kind: FileKind,
        name: String,
        available: String,
    },
}

impl FileError {
    /// The kind of file the error is about.
    pub fn kind(&self) -> FileKind {
        match self {
            FileError::Invalid { kind, .. }
            | FileError::Io { kind, .. }
            | FileError::NotFound { kind, .. } => *kind,
        }
    }

    /// The path of the file, when the error is about one file.
    pub fn path(&self) -> Option<&str> {
        match self {
            FileError::Invalid { path, .. } | FileError::Io { path, .. } => Some(path),
            FileError::NotFound { .. } => None,
        }
    }
}

/// The key a message is about, `（键 k）` / ` (key k)`, or nothing.
pub(crate) fn key_note(key: &Option<String>) -> Text {
    match key {
        Some(k) => Text::new(format!("（键 {k}）"), format!(" (key {k})")),
        None => Text::new("", ""),
    }
}

impl Localized for FileError {
    fn message(&self) -> Text {
        let (zh_noun, en_noun) = self.kind().noun();
        let text = match self {
            FileError::Invalid {
                path,
                line,
                key,
                detail,
                ..
            } => {
                let key = key_note(key);
                let (zh_line, en_line, fix) = match line {
                    Some(n) => (format!("第 {n} 行"), format!(", line {n}"), "这一行"),
                    None => (String::new(), String::new(), ""),
                };
                Text::new(
                    format!(
                        "{zh_noun}文件「{path}」{zh_line}{}有误：{detail}。请改正{fix}后再试。",
                        key.zh
                    ),
                    format!("{en_noun} file {path}{en_line}{}: {detail}", key.en),
                )
            }
            FileError::Io { path, detail, .. } => Text::new(
                format!("读不了{zh_noun}文件「{path}」：{detail}"),
                format!("cannot read {en_noun} file {path}: {detail}"),
            ),
            FileError::NotFound {
                kind,
                name,
                available,
            } => {
                // Names typed on a command line or found as file names: one line each.
                let (name, available) = (for_line(name), for_line(available));
                match kind {
                    FileKind::Profile => Text::new(
                        format!("找不到名为「{name}」的模板。可用的模板：{available}。"),
                        format!("no profile named {name}; available: {available}"),
                    ),
                    FileKind::Target => Text::new(
                        format!(
                            "找不到名为「{name}」的上报目标。可用的目标：{available}。也可以直接给出 .toml 文件的路径。"
                        ),
                        format!("no upload target named {name}; available: {available}"),
                    ),
                    FileKind::Source => Text::new(
                        format!(
                            "找不到名为「{name}」的数据来源。请把 {name}.toml 放进文件夹「{available}」，或直接给出 .toml 文件的路径。"
                        ),
                        format!("no source named {name} in {available}"),
                    ),
                }
            }
        };
        match self.kind() {
            // A profile's details come from its checks in Chinese: the English says what kind
            // of error it is and quotes the Chinese.
            FileKind::Profile => {
                let en = format!("profile error: {}", text.zh);
                Text::new(text.zh, en)
            }
            FileKind::Target | FileKind::Source => text,
        }
    }
}

/// One named file as found, for its kind to parse.
#[derive(Debug, Clone, Copy)]
pub struct Found<'a> {
    /// The file stem (the name it is known by).
    pub stem: &'a str,
    /// What the file is remembered by: its stem, or its absolute path when it was given by
    /// path.
    pub reference: &'a str,
    /// How messages name the file.
    pub shown: &'a str,
    /// The file on disk; `None` for one compiled into the program.
    pub path: Option<&'a Path>,
    /// Where paths written in the file (a `ca_cert`) are looked up.
    pub dir: Option<&'a Path>,
    pub text: &'a str,
}

/// A kind of named TOML file.
pub trait Named: Sized {
    /// Its words in messages.
    const KIND: FileKind;
    /// The files compiled into the program: (stem, text).
    const BUILTIN: &'static [(&'static str, &'static str)];
    /// The folder the compiled-in files came from, to name them in messages.
    const BUILTIN_DIR: &'static str;
    /// Parses and checks one file.
    fn parse(found: &Found<'_>) -> Result<Self, FileError>;
}

/// Is `name` a path rather than a stem: it ends in `.toml`, or it is a file.
pub fn is_path(name: &str) -> bool {
    name.to_ascii_lowercase().ends_with(".toml") || Path::new(name).is_file()
}

/// Reads a named file of `kind` within the size limit of a text file.
pub fn read(kind: FileKind, path: &Path) -> Result<String, FileError> {
    crate::bounded::read_to_string(path, crate::bounded::TEXT_FILE).map_err(|e| FileError::Io {
        kind,
        path: crate::paths::shown(path),
        detail: e.reason(),
    })
}

/// Loads a file given by path: its reference is its absolute path, its folder is where its
/// relative paths are looked up.
pub fn from_path<T: Named>(path: &Path) -> Result<T, FileError> {
    let text = read(T::KIND, path)?;
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    T::parse(&Found {
        stem: &stem,
        reference: &crate::paths::shown(&abs),
        shown: &crate::paths::shown(path),
        path: Some(path),
        dir: abs.parent(),
        text: &text,
    })
}

/// A file by name: a path (see [`is_path`]), else `<name>.toml` in the user's folder, else the
/// compiled-in file of that stem. Every name [`names`] lists is found.
pub fn find<T: Named>(name: &str, user_dir: Option<&Path>) -> Result<T, FileError> {
    if is_path(name) {
        return from_path(Path::new(name));
    }
    if let Some(dir) = user_dir {
        // `<name>.toml`, or the same stem under another case of the extension (`.TOML`), as
        // [`names`] lists it.
        let exact = dir.join(format!("{name}.toml"));
        let path = if exact.is_file() {
            Some(exact)
        } else {
            files_in(dir)
                .into_iter()
                .find(|p| p.file_stem().is_some_and(|s| s == name) && p.is_file())
        };
        if let Some(path) = path {
            let text = read(T::KIND, &path)?;
            return T::parse(&Found {
                stem: name,
                reference: name,
                shown: &crate::paths::shown(&path),
                path: Some(&path),
                dir: Some(dir),
                text: &text,
            });
        }
    }
    if let Some((stem, text)) = T::BUILTIN.iter().find(|(n, _)| *n == name) {
        return T::parse(&Found {
            stem,
            reference: stem,
            shown: &format!("{}/{stem}.toml", T::BUILTIN_DIR),
            path: None,
            dir: None,
            text,
        });
    }
    Err(FileError::NotFound {
        kind: T::KIND,
        name: name.to_owned(),
        available: match T::KIND {
            FileKind::Source => user_dir.map(crate::paths::shown).unwrap_or_default(),
            FileKind::Profile | FileKind::Target => names::<T>(user_dir).join("、"),
        },
    })
}

/// The `*.toml` files in a folder, sorted; a missing or unreadable folder has none.
pub fn files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
        })
        .collect();
    paths.sort();
    paths
}

/// The names of every file of a kind: the compiled-in ones, then the user's (sorted).
pub fn names<T: Named>(user_dir: Option<&Path>) -> Vec<String> {
    let mut names: Vec<String> = T::BUILTIN.iter().map(|(n, _)| (*n).to_owned()).collect();
    if let Some(dir) = user_dir {
        names.extend(
            files_in(dir)
                .iter()
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned())),
        );
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A kind whose files hold one number.
    #[derive(Debug, PartialEq)]
    struct Number {
        stem: String,
        reference: String,
        value: i64,
    }

    impl Named for Number {
        const KIND: FileKind = FileKind::Target;
        const BUILTIN: &'static [(&'static str, &'static str)] = &[("one", "value = 1\n")];
        const BUILTIN_DIR: &'static str = "mappings/numbers";
        fn parse(found: &Found<'_>) -> Result<Number, FileError> {
            let table: toml::Table =
                toml::from_str(found.text).map_err(|e| FileError::Invalid {
                    kind: Self::KIND,
                    path: found.shown.to_owned(),
                    line: None,
                    key: None,
                    detail: e.message().to_owned(),
                })?;
            Ok(Number {
                stem: found.stem.to_owned(),
                reference: found.reference.to_owned(),
                value: table.get("value").and_then(|v| v.as_integer()).unwrap_or(0),
            })
        }
    }

    #[test]
    fn a_user_file_overrides_the_builtin_and_a_path_is_read_as_given() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(find::<Number>("one", Some(dir.path())).unwrap().value, 1);
        std::fs::write(dir.path().join("one.toml"), "value = 11\n").unwrap();
        std::fs::write(dir.path().join("Two.TOML"), "value = 2\n").unwrap();
        std::fs::write(dir.path().join("bad.toml"), "value = \n").unwrap();
        let one = find::<Number>("one", Some(dir.path())).unwrap();
        assert_eq!((one.value, one.reference.as_str()), (11, "one"));
        assert_eq!(find::<Number>("Two", Some(dir.path())).unwrap().value, 2);
        let by_path = dir.path().join("Two.TOML");
        let two = find::<Number>(&by_path.to_string_lossy(), None).unwrap();
        assert_eq!((two.value, two.stem.as_str()), (2, "Two"));
        assert!(Path::new(&two.reference).is_absolute());
        let bad = find::<Number>("bad", Some(dir.path())).unwrap_err();
        assert_eq!(
            bad.path(),
            Some(crate::paths::shown(&dir.path().join("bad.toml")).as_str())
        );
        assert_eq!(
            names::<Number>(Some(dir.path())),
            ["one", "Two", "bad", "one"]
        );
        match find::<Number>("nope", Some(dir.path())).unwrap_err() {
            FileError::NotFound { available, .. } => assert_eq!(available, "one、Two、bad、one"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_file_over_the_size_limit_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.toml");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(crate::bounded::TEXT_FILE + 1).unwrap();
        let e = find::<Number>("big", Some(dir.path())).unwrap_err();
        assert!(matches!(e, FileError::Io { .. }), "{e:?}");
        assert!(e.to_string().contains("big.toml"), "{e}");
    }
}
