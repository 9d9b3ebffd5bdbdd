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

/// Text from outside (a file or folder name, a target's name) as one line of output or of the
/// log shows it: control characters and the characters that reorder a line (bidirectional
/// overrides) are escaped as `\n`, `\r`, `\t`, `\x1b`, `\u{202e}`, so "one line per file" stays
/// one line and a name cannot recolour or rewrite the terminal. Everything else, Chinese
/// included, is kept as it is.
pub fn for_line(text: &str) -> String {
    use std::fmt::Write;
    let hostile = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !text.chars().any(hostile) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && hostile(c) => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if hostile(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A path for a line of output or of the log (see [`for_line`]); the path itself, for opening
/// files, is never this text.
pub fn shown(path: &Path) -> String {
    for_line(&path.to_string_lossy())
}

/// A path's file name for a line of output or of the log (see [`for_line`]).
pub fn shown_name(path: &Path) -> String {
    for_line(&file_name(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_control_character_is_escaped_and_nothing_else_changes() {
        for b in 0u32..=0x9f {
            let c = char::from_u32(b).unwrap();
            let line = for_line(&format!("a{c}b"));
            assert_eq!(line.lines().count(), 1, "{b:#x}");
            assert!(!line.chars().any(|c| c.is_control()), "{b:#x}: {line:?}");
        }
        assert_eq!(for_line("核酸结果_0110.xlsx"), "核酸结果_0110.xlsx");
        assert_eq!(for_line("a\nb\x1b[31m"), "a\\nb\\x1b[31m");
        assert_eq!(for_line("x\u{202e}gpj.exe"), "x\\u{202e}gpj.exe");
        assert_eq!(shown_name(Path::new("/d/a\rb.xlsx")), "a\\rb.xlsx");
    }
}
