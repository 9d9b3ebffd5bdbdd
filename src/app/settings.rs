//! What the window remembers between runs (`settings.toml` in the per-user config folder), and
//! the day's history on the start screen (`history.toml` in the data folder). Loaded data is
//! never kept here.

use serde::{Deserialize, Serialize};
use sheetbridge::issue::Lang;
use std::path::{Path, PathBuf};

/// Settings the clerk chooses; every field has a default so an old or partial file still loads.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// The clerk's own lab: the 检测机构 of rows that have none.
    pub lab: String,
    /// Where the last file was opened from (the file dialog starts there).
    pub last_dir: Option<PathBuf>,
    /// Where the last export went; empty: next to the source.
    pub export_dir: Option<PathBuf>,
    /// The profile chosen last time by hand; empty: automatic.
    pub profile: Option<String>,
    pub lang: Lang,
    /// The upload target (a file stem in `mappings/targets/` or the user's `targets/`).
    pub target: Option<String>,
    /// The user name on the platform (the password is asked for each session, never saved).
    pub user: String,
    /// Days to keep the files of confirmed batches (personal data); `None`: 7.
    pub keep_days: Option<u32>,
    /// "记住密码（自动上报需要）": the password goes to the system's credential store (or,
    /// where none answers, `credentials.toml` readable by this user alone).
    pub remember: bool,
    /// Settings → 自动上报.
    pub auto: Auto,
}

/// Unattended reporting from the window (unattended.md, "In the window").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Auto {
    /// While the window is open, files landing in the folder are sent by themselves.
    pub on: bool,
    /// The watched folder; `None`: `<Documents>/核酸上报/待上报`.
    pub folder: Option<PathBuf>,
}

/// The watched folder when none is chosen: `<Documents>/核酸上报/待上报` (unattended.md).
pub fn default_watch_folder() -> Option<PathBuf> {
    directories::UserDirs::new()
        .and_then(|u| u.document_dir().map(Path::to_owned))
        .or_else(|| directories::BaseDirs::new().map(|b| b.home_dir().join("Documents")))
        .map(|d| d.join("核酸上报").join("待上报"))
}

pub use sheetbridge::unattended::watch::watch_folder_warning;

impl Settings {
    /// Days to keep the files of confirmed batches.
    pub fn keep_days(&self) -> u32 {
        self.keep_days
            .unwrap_or(sheetbridge::upload::outbox::DEFAULT_RETENTION_DAYS)
    }
}

impl Settings {
    /// Loads from `dir/settings.toml`; a missing or unreadable file gives the defaults.
    pub fn load(dir: Option<&Path>) -> Settings {
        dir.and_then(|d| {
            sheetbridge::bounded::read_to_string(
                &d.join("settings.toml"),
                sheetbridge::bounded::TEXT_FILE,
            )
            .ok()
        })
        .and_then(|t| toml::from_str(&t).ok())
        .unwrap_or_default()
    }

    /// Saves to `dir/settings.toml` (whole or not at all).
    pub fn save(&self, dir: &Path) -> Result<(), sheetbridge::write::WriteError> {
        save_toml(&dir.join("settings.toml"), self)
    }
}

/// One file handled, for the start screen's "today" list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub time: String,
    pub file: String,
    pub rows: usize,
    pub ready: usize,
    pub rejected: usize,
    /// Where the upload sheet went, when exported.
    pub exported: Option<PathBuf>,
    /// The file opened, to open it again from the list.
    #[serde(default)]
    pub source: Option<PathBuf>,
    /// Rows put into the upload queue from this file.
    #[serde(default)]
    pub queued: usize,
    /// The outbox batches those rows went in.
    #[serde(default)]
    pub batches: Vec<String>,
    /// Rows the platform confirmed, once it confirmed every one of `batches`.
    #[serde(default)]
    pub confirmed: usize,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct HistoryFile {
    entry: Vec<HistoryEntry>,
}

/// The history of handled files, newest last, trimmed to the last 200.
pub fn load_history(dir: Option<&Path>) -> Vec<HistoryEntry> {
    dir.and_then(|d| {
        sheetbridge::bounded::read_to_string(
            &d.join("history.toml"),
            sheetbridge::bounded::TEXT_FILE,
        )
        .ok()
    })
    .and_then(|t| toml::from_str::<HistoryFile>(&t).ok())
    .map(|h| h.entry)
    .unwrap_or_default()
}

pub fn save_history(
    dir: &Path,
    entries: &[HistoryEntry],
) -> Result<(), sheetbridge::write::WriteError> {
    let keep = entries.len().saturating_sub(200);
    save_toml(
        &dir.join("history.toml"),
        &HistoryFile {
            entry: entries[keep..].to_vec(),
        },
    )
}

fn save_toml<T: Serialize>(path: &Path, value: &T) -> Result<(), sheetbridge::write::WriteError> {
    let text = toml::to_string_pretty(value).map_err(|e| sheetbridge::write::WriteError::Io {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| sheetbridge::write::WriteError::Io {
            path: dir.to_owned(),
            reason: sheetbridge::read::io_message(&e),
        })?;
    }
    sheetbridge::write::write_atomically(path, |f| {
        use std::io::Write;
        f.write_all(text.as_bytes())
            .map_err(|e| sheetbridge::write::WriteError::Io {
                path: path.to_owned(),
                reason: sheetbridge::read::io_message(&e),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_round_trip_and_tolerate_old_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = Settings {
            lab: "本院".into(),
            lang: Lang::En,
            ..Settings::default()
        };
        s.save(dir.path()).unwrap();
        assert_eq!(Settings::load(Some(dir.path())), s);
        std::fs::write(
            dir.path().join("settings.toml"),
            "lab = \"x\"\nunknown = 1\n",
        )
        .unwrap();
        assert_eq!(Settings::load(Some(dir.path())).lab, "x");
        std::fs::write(dir.path().join("settings.toml"), "not toml [").unwrap();
        assert_eq!(Settings::load(Some(dir.path())), Settings::default());
    }

    #[test]
    fn watching_the_downloads_folder_comes_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        let downloads = dir.path().join("下载");
        std::fs::create_dir(&downloads).unwrap();
        let own = dir.path().join("待上报");
        assert!(watch_folder_warning(&own, &[&downloads], Lang::Zh).is_none());
        let why = watch_folder_warning(&downloads, &[&downloads], Lang::Zh).unwrap();
        assert!(why.contains("下载") && why.contains("核对"), "{why}");
        // The same folder written another way is still Downloads.
        let other_way = dir.path().join("待上报/../下载");
        std::fs::create_dir(&own).unwrap();
        assert!(watch_folder_warning(&other_way, &[&downloads], Lang::En).is_some());
        assert!(default_watch_folder().is_none_or(|f| f.ends_with("核酸上报/待上报")));
    }

    #[test]
    fn uploaded_files_are_kept_seven_days_unless_set() {
        let mut s = Settings::default();
        assert_eq!(s.keep_days(), 7);
        s.keep_days = Some(30);
        assert_eq!(s.keep_days(), 30);
    }

    #[test]
    fn history_keeps_the_last_entries() {
        let dir = tempfile::tempdir().unwrap();
        let e = HistoryEntry {
            date: "2022-01-10".into(),
            time: "09:00".into(),
            file: "a.xlsx".into(),
            rows: 3,
            ready: 2,
            rejected: 1,
            exported: None,
            source: None,
            queued: 0,
            batches: vec!["b1".into()],
            confirmed: 0,
        };
        save_history(dir.path(), &vec![e.clone(); 250]).unwrap();
        assert_eq!(load_history(Some(dir.path())).len(), 200);
    }
}
