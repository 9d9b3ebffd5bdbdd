//! The folders and settings the commands take from the environment: the library is given them.

use sheetbridge::issue::Lang;
use sheetbridge::paths;
use sheetbridge::workspace::Folders;
use std::path::PathBuf;

/// The folders to work in: `SHEETBRIDGE_DATA_DIR` / `SHEETBRIDGE_CONFIG_DIR` when set, else
/// the per-user ones. A command that cannot work without the data folder asks
/// `Folders::data_dir` (or opens the workspace), which says what to set when there is none.
pub fn folders() -> Folders {
    Folders {
        data: data_dir(),
        config: config_dir(),
    }
}

/// Warns when `folder`, to be watched, is the Downloads folder (unattended.md: allowed, with a
/// warning saying why not).
pub fn warn_if_downloads(folder: &std::path::Path, lang: Lang) {
    let downloads = directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(std::path::Path::to_path_buf));
    if let Some(d) = downloads
        && let Some(warning) =
            sheetbridge::unattended::watch::watch_folder_warning(folder, &[d.as_path()], lang)
    {
        eprintln!("{}", super::console(&warning));
    }
}

/// The config folder: `SHEETBRIDGE_CONFIG_DIR`, or the per-user one.
pub fn config_dir() -> Option<PathBuf> {
    paths::chosen(
        std::env::var_os("SHEETBRIDGE_CONFIG_DIR"),
        paths::default_config_dir(),
    )
}

/// The data folder: `SHEETBRIDGE_DATA_DIR`, or the per-user one.
pub fn data_dir() -> Option<PathBuf> {
    paths::chosen(
        std::env::var_os("SHEETBRIDGE_DATA_DIR"),
        paths::default_data_dir(),
    )
}

/// The user's targets (`<config>/targets`).
pub fn targets_dir() -> Option<PathBuf> {
    config_dir().map(|c| c.join("targets"))
}

/// Days to keep the files of confirmed batches: `SHEETBRIDGE_KEEP_DAYS`, or 7.
pub fn keep_days() -> u32 {
    std::env::var("SHEETBRIDGE_KEEP_DAYS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(sheetbridge::upload::outbox::DEFAULT_RETENTION_DAYS)
}

/// Where every command finds the credentials of a target or a source (the one lookup of
/// `sheetbridge::credentials::Finder`): `SHEETBRIDGE_USER` / `_PASSWORD` / `_TOKEN` (and
/// `SHEETBRIDGE_SOURCE_*` for a source) when set, else what `login` or the window remembered.
pub fn credentials() -> sheetbridge::credentials::Finder {
    sheetbridge::credentials::Finder::new(
        super::login::store(),
        std::sync::Arc::new(|k| std::env::var(k).ok()),
    )
}
