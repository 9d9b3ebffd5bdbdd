//! The clerk's work on a file, kept: the cells fixed and the rows left out ("不上报此行") are
//! saved in the data folder as they are made, keyed by the SHA-256 of the source file's
//! content, and applied again whenever the same file is loaded (the window, `upload`, the
//! watcher), so a decision is never lost and an excluded row is never sent.
//!
//! One small JSON file per source file, `edits/<sha256>.json`, written whole (atomically) and
//! private to the user: fixed values may hold ID numbers.

use crate::batch::Batch;
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why saved edits could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum EditsError {
    Io { path: PathBuf, detail: String },
    Corrupt { path: PathBuf, detail: String },
}

impl Localized for EditsError {
    fn message(&self) -> Text {
        match self {
            EditsError::Io { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法保存或读取对「{path}」的修改：{detail}"),
                    format!("cannot read or save the edits {path}: {detail}"),
                )
            }
            EditsError::Corrupt { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "保存的修改「{path}」已损坏（{detail}），本次不恢复；可以删除这个文件。"
                    ),
                    format!("the saved edits {path} are damaged ({detail}); not restored"),
                )
            }
        }
    }
}

/// One fixed cell: the source row (its line in the sheet), the field's key and the new text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Edit {
    pub line: u32,
    pub field: String,
    pub value: String,
}

/// Everything the clerk decided about one file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedEdits {
    #[serde(default)]
    pub edits: Vec<Edit>,
    /// Source lines left out of the upload.
    #[serde(default)]
    pub excluded: Vec<u32>,
}

impl SavedEdits {
    pub fn is_empty(&self) -> bool {
        self.edits.is_empty() && self.excluded.is_empty()
    }

    /// Records a fixed cell (replacing an earlier fix of the same cell).
    pub fn set_edit(&mut self, line: u32, field: &str, value: &str) {
        match self
            .edits
            .iter_mut()
            .find(|e| e.line == line && e.field == field)
        {
            Some(e) => e.value = value.to_owned(),
            None => self.edits.push(Edit {
                line,
                field: field.to_owned(),
                value: value.to_owned(),
            }),
        }
    }

    /// Records a row left out, or taken back.
    pub fn set_excluded(&mut self, line: u32, excluded: bool) {
        self.excluded.retain(|l| *l != line);
        if excluded {
            self.excluded.push(line);
            self.excluded.sort_unstable();
        }
    }
}

/// What was applied to a loaded file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    pub edits: usize,
    pub excluded: usize,
}

impl Restored {
    /// "已恢复上次的 3 处修改和 1 行不上报", or `None` when nothing was restored.
    pub fn message(&self, lang: Lang) -> Option<String> {
        if self.edits == 0 && self.excluded == 0 {
            return None;
        }
        let (edits, excluded) = (self.edits, self.excluded);
        Some(lang.pick(
            format!("已恢复上次的 {edits} 处修改和 {excluded} 行不上报"),
            format!("restored {edits} earlier edits and {excluded} rows left out"),
        ))
    }
}

/// Where saved edits live: `<data folder>/edits/`.
#[derive(Debug, Clone)]
pub struct EditStore {
    dir: PathBuf,
}

impl EditStore {
    pub fn new(data_dir: &Path) -> EditStore {
        EditStore {
            dir: data_dir.join("edits"),
        }
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.dir.join(format!("{hash}.json"))
    }

    /// The saved edits of the file with this content hash (empty when there are none).
    pub fn load(&self, hash: &str) -> Result<SavedEdits, EditsError> {
        let path = self.path(hash);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(SavedEdits::default());
            }
            Err(e) => {
                return Err(EditsError::Io {
                    detail: io_message(&e),
                    path,
                });
            }
        };
        serde_json::from_str(&text).map_err(|e| EditsError::Corrupt {
            path,
            detail: e.to_string(),
        })
    }

    /// Saves them whole (an empty set removes the file).
    pub fn save(&self, hash: &str, saved: &SavedEdits) -> Result<(), EditsError> {
        let path = self.path(hash);
        let io = |e: std::io::Error| EditsError::Io {
            path: path.clone(),
            detail: io_message(&e),
        };
        if saved.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io(e)),
                _ => Ok(()),
            };
        }
        crate::privacy::create_private_dir(&self.dir).map_err(io)?;
        let text = serde_json::to_vec_pretty(saved).map_err(|e| EditsError::Io {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        crate::write::write_atomically(&path, |file| {
            std::io::Write::write_all(file, &text).map_err(|e| crate::write::WriteError::Io {
                path: path.clone(),
                reason: io_message(&e),
            })
        })
        .map_err(|e| EditsError::Io {
            path: path.clone(),
            detail: e.to_string(),
        })
    }
}

/// Applies saved edits to a freshly loaded batch: each fixed cell is typed again and each row
/// left out is left out, exactly as the clerk did. Edits of lines or fields the batch does not
/// have (another profile chose other columns) are skipped.
pub fn apply(batch: &mut Batch, saved: &SavedEdits) -> Restored {
    let mut restored = Restored::default();
    for e in &saved.edits {
        let (Some(index), Some(field)) = (
            batch.index_of_line(e.line),
            batch.profile().field_index(&e.field),
        ) else {
            continue;
        };
        batch.edit(index, field, &e.value);
        restored.edits += 1;
    }
    for &line in &saved.excluded {
        if let Some(index) = batch.index_of_line(line) {
            batch.set_excluded(index, true);
            restored.excluded += 1;
        }
    }
    restored
}

/// The clerk's edits of one open file, saved as they are made.
#[derive(Debug, Clone)]
pub struct FileEdits {
    store: EditStore,
    hash: String,
    pub saved: SavedEdits,
}

impl FileEdits {
    pub fn new(store: EditStore, hash: String, saved: SavedEdits) -> FileEdits {
        FileEdits { store, hash, saved }
    }

    /// The source file's content hash.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// Fixes a cell in the batch and saves the fix.
    pub fn edit(
        &mut self,
        batch: &mut Batch,
        index: usize,
        field: usize,
        text: &str,
    ) -> Result<(), EditsError> {
        batch.edit(index, field, text);
        let key = batch.profile().fields[field].key.clone();
        self.saved.set_edit(batch.line(index), &key, text);
        self.store.save(&self.hash, &self.saved)
    }

    /// Leaves a row out (or takes it back) and saves the decision.
    pub fn set_excluded(
        &mut self,
        batch: &mut Batch,
        index: usize,
        excluded: bool,
    ) -> Result<(), EditsError> {
        batch.set_excluded(index, excluded);
        self.saved.set_excluded(batch.line(index), excluded);
        self.store.save(&self.hash, &self.saved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_edits_round_trip_and_replace() {
        let dir = tempfile::tempdir().unwrap();
        let store = EditStore::new(dir.path());
        assert!(store.load("ab").unwrap().is_empty());
        let mut s = SavedEdits::default();
        s.set_edit(15, "id_number", "1");
        s.set_edit(15, "id_number", "2");
        s.set_excluded(4, true);
        s.set_excluded(7, true);
        s.set_excluded(7, false);
        store.save("ab", &s).unwrap();
        let back = store.load("ab").unwrap();
        assert_eq!(back, s);
        assert_eq!(back.edits.len(), 1);
        assert_eq!(back.edits[0].value, "2");
        assert_eq!(back.excluded, [4]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&dir.path().join("edits")), 0o700);
            assert_eq!(mode(&dir.path().join("edits/ab.json")), 0o600);
        }
        store.save("ab", &SavedEdits::default()).unwrap();
        assert!(!dir.path().join("edits/ab.json").exists());
        std::fs::create_dir_all(dir.path().join("edits")).unwrap();
        std::fs::write(dir.path().join("edits/cd.json"), "{").unwrap();
        assert!(matches!(store.load("cd"), Err(EditsError::Corrupt { .. })));
    }

    #[test]
    fn restored_message() {
        let r = Restored {
            edits: 3,
            excluded: 1,
        };
        assert_eq!(
            r.message(Lang::Zh).unwrap(),
            "已恢复上次的 3 处修改和 1 行不上报"
        );
        assert_eq!(Restored::default().message(Lang::Zh), None);
    }
}
