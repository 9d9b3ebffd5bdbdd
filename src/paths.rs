//! The per-user folders: profiles and targets (config), outbox, ledger and logs (data).
//!
//! `SHEETBRIDGE_CONFIG_DIR` and `SHEETBRIDGE_DATA_DIR` replace them (tests, portable installs).

use directories::ProjectDirs;
use std::path::{Path, PathBuf};

fn project() -> Option<ProjectDirs> {
    ProjectDirs::from("cn", "SheetBridge", "sheetbridge")
}

/// The per-user config folder (holds `profiles/`, `targets/`, `settings.toml`).
pub fn config_dir() -> Option<PathBuf> {
    match std::env::var_os("SHEETBRIDGE_CONFIG_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => project().map(|p| p.config_dir().to_owned()),
    }
}

/// The per-user data folder (outbox database, batch files, ledger, logs).
pub fn data_dir() -> Option<PathBuf> {
    match std::env::var_os("SHEETBRIDGE_DATA_DIR") {
        Some(d) if !d.is_empty() => Some(PathBuf::from(d)),
        _ => project().map(|p| p.data_dir().to_owned()),
    }
}

/// The user's own profiles.
pub fn profiles_dir() -> Option<PathBuf> {
    config_dir().map(|d| d.join("profiles"))
}

/// A path's file name as text, for messages and screens (empty when it has none).
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
