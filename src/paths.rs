//! The per-user folders: profiles and targets (config), outbox, ledger and logs (data).
//!
//! The front ends let `SHEETBRIDGE_CONFIG_DIR` and `SHEETBRIDGE_DATA_DIR` replace them (tests,
//! portable installs) and hand the result to [`crate::workspace::Folders`]: the library reads
//! no environment variable.

use directories::ProjectDirs;
use std::path::{Path, PathBuf};

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("cn", "SheetBridge", "sheetbridge")
}

/// The per-user config folder (holds `profiles/`, `targets/`, `settings.toml`).
pub fn default_config_dir() -> Option<PathBuf> {
    project().map(|p| p.config_dir().to_owned())
}

/// The per-user data folder (outbox database, batch files, ledger, saved edits, logs).
pub fn default_data_dir() -> Option<PathBuf> {
    project().map(|p| p.data_dir().to_owned())
}

/// A folder given by the environment (`SHEETBRIDGE_CONFIG_DIR`, ...) when set and not empty,
/// else the default. The front ends read the variable and call this.
pub fn chosen(from_env: Option<std::ffi::OsString>, default: Option<PathBuf>) -> Option<PathBuf> {
    match from_env {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => default,
    }
}

/// A path's file name as text, for messages and screens (empty when it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
