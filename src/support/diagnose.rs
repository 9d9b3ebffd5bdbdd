//! The diagnostic bundle (`sheetbridge diagnose`, "导出诊断包"): what the support engineer needs
//! to see what happened on a clerk's PC, and nothing about a person.
//!
//! A zip of `about.txt`, the user's `profiles/`, `targets/` and `sources/` as they are,
//! `outbox.txt`, `log.txt` (the last [`LOG_LINES`] lines) and `history.txt` (the last
//! [`HISTORY_DAYS`] days). Never a password, a token, a row of data, or a full ID or phone
//! number: every text written is masked ([`crate::privacy::mask_numbers`]) once more, the settings lose
//! their user and secret entries, and `credentials.toml` is never read.

use super::Folders;
use crate::issue::Lang;
use crate::log::LogFile;
use crate::message::{Localized, Text};
use crate::privacy::mask_numbers as mask;
use std::io::Write;
use std::path::{Path, PathBuf};
use zip::write::SimpleFileOptions;

/// Lines of the log in the bundle.
pub const LOG_LINES: usize = 2000;
/// Days of history in the bundle.
pub const HISTORY_DAYS: i64 = 30;
/// The user's folders copied as they are.
pub const COPIED_FOLDERS: [&str; 3] = ["profiles", "targets", "sources"];

/// Why no bundle was written.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum DiagnoseError {
    Write { path: PathBuf, detail: String },
}

impl Localized for DiagnoseError {
    fn message(&self) -> Text {
        match self {
            DiagnoseError::Write { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法写出诊断包「{path}」：{detail}。请换一个文件夹（例如桌面）再试。"),
                    format!("cannot write the diagnostic bundle {path}: {detail}"),
                )
            }
        }
    }
}

/// What the running program knows beyond its folders (the front end fills it).
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The renderer the window uses now, when the bundle is made from the window.
    pub renderer: Option<String>,
    /// The system and processor (`linux x86_64`).
    pub system: String,
}

/// The default file name: `sheetbridge-诊断-<date>.zip`.
pub fn default_name(date: chrono::NaiveDate) -> String {
    format!("sheetbridge-诊断-{}.zip", date.format("%Y-%m-%d"))
}

/// Writes the bundle to `out` (whole or not at all). Returns the names of its entries.
pub fn write_bundle(
    out: &Path,
    folders: &Folders,
    context: &Context,
) -> Result<Vec<String>, DiagnoseError> {
    let mut entries: Vec<(String, Vec<u8>)> = vec![
        ("about.txt".into(), about(folders, context).into_bytes()),
        ("outbox.txt".into(), outbox(folders).into_bytes()),
        ("log.txt".into(), log_text(folders).into_bytes()),
        ("history.txt".into(), history(folders).into_bytes()),
    ];
    if let Some(config) = &folders.config {
        for name in COPIED_FOLDERS {
            for (path, rel) in super::files_under(&config.join(name)) {
                // An unreadable file is left out; about.txt lists the folders anyway.
                if let Ok(bytes) = std::fs::read(&path) {
                    entries.push((format!("{name}/{rel}"), bytes));
                }
            }
        }
    }
    let names: Vec<String> = entries.iter().map(|(n, _)| n.clone()).collect();
    crate::write::write_atomically(out, |file| {
        let err = |e: std::io::Error| crate::write::WriteError::Io {
            path: out.to_owned(),
            reason: crate::read::io_message(&e),
        };
        // Behind StopOnError a full disk is one error, and the zip writer's last attempt to
        // finish the archive (on drop) prints nothing on the console.
        let sink = crate::write::StopOnError::new(std::io::BufWriter::new(file));
        let mut zip = zip::ZipWriter::new_stream(sink);
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        let mut added = Ok(());
        for (name, bytes) in &entries {
            added = zip
                .start_file(name.as_str(), options)
                .map_err(|e| err(e.into()))
                .and_then(|()| zip.write_all(bytes).map_err(err));
            if added.is_err() {
                break;
            }
        }
        let sink = zip.finish().map_err(|e| err(e.into()))?.into_inner();
        // The first I/O error says most (the disk is full); then the archive's own.
        sink.finish().map_err(err)?;
        added
    })
    .map_err(|e| DiagnoseError::Write {
        path: out.to_owned(),
        detail: match e {
            crate::write::WriteError::Io { reason, .. } => reason,
            other => other.to_string(),
        },
    })?;
    ::log::info!(target: "sheetbridge", "diagnostic bundle written: {}", crate::paths::file_name(out));
    Ok(names)
}

fn about(folders: &Folders, context: &Context) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "核酸结果上报助手 (sheetbridge) {}\n",
        env!("CARGO_PKG_VERSION")
    ));
    t.push_str(&format!(
        "生成时间 made: {}\n",
        chrono::Local::now().format("%Y-%m-%d %H:%M:%S %:z")
    ));
    t.push_str(&format!(
        "系统 system: {} {}\n",
        context.system,
        os_release().unwrap_or_default()
    ));
    let renderer = context
        .renderer
        .clone()
        .or_else(|| last_renderer(folders))
        .unwrap_or_else(|| "（窗口没有运行过 / the window has not run）".into());
    t.push_str(&format!("显卡渲染 renderer: {renderer}\n\n"));
    t.push_str("文件夹 folders:\n");
    let show = |p: &Option<PathBuf>| {
        p.as_ref()
            .map(|p| crate::paths::shown(p))
            .unwrap_or_else(|| "（无 / none）".into())
    };
    t.push_str(&format!("  config: {}\n", show(&folders.config)));
    t.push_str(&format!("  data:   {}\n", show(&folders.data)));
    if let Some(config) = &folders.config {
        for name in COPIED_FOLDERS {
            let n = super::files_under(&config.join(name)).len();
            t.push_str(&format!("  {name}/: {n} 个文件 files\n"));
        }
    }
    t.push_str("\n设置 settings (settings.toml, 不含用户名和密码 / without user or secrets):\n");
    t.push_str(&settings(folders));
    t.push_str("\n已安装的模板包 installed packs:\n");
    let packs = folders
        .config
        .as_deref()
        .map(super::pack::installed)
        .unwrap_or_default();
    if packs.is_empty() {
        t.push_str("  （无 / none）\n");
    }
    for p in packs {
        t.push_str(&format!(
            "  {} {} ({}) {}\n",
            p.name, p.version, p.date, p.installed
        ));
    }
    mask(&t)
}

/// `PRETTY_NAME` of /etc/os-release (Linux), e.g. "UnionTech OS Desktop 20".
fn os_release() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_owned())
}

/// The renderer the window last logged.
fn last_renderer(folders: &Folders) -> Option<String> {
    let log = LogFile::new(&crate::log::dir_in(folders.data.as_ref()?));
    log.tail(usize::MAX)
        .iter()
        .rev()
        .find_map(|l| l.split_once("renderer: ").map(|(_, r)| r.to_owned()))
}

/// Keys of settings.toml that could name a person or hold a secret.
fn secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["user", "password", "token", "secret", "credential", "key"]
        .iter()
        .any(|s| k.contains(s))
        && k != "keep_days"
}

fn settings(folders: &Folders) -> String {
    let Some(text) = folders.config.as_ref().and_then(|c| {
        crate::bounded::read_to_string(&c.join("settings.toml"), crate::bounded::TEXT_FILE).ok()
    }) else {
        return "  （没有保存的设置 / none saved）\n".into();
    };
    let Ok(table) = text.parse::<toml::Table>() else {
        return "  （settings.toml 无法读取 / unreadable）\n".into();
    };
    let mut t = String::new();
    for (k, v) in &table {
        if secret_key(k) {
            t.push_str(&format!("  {k} = （已略去 / left out）\n"));
        } else {
            t.push_str(&format!("  {k} = {v}\n"));
        }
    }
    t
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|| "-".into())
}

/// Every batch of the outbox, read without changing anything (another program may be sending).
fn outbox(folders: &Folders) -> String {
    let Some(db) = folders
        .data
        .as_ref()
        .map(|d| d.join("outbox.sqlite"))
        .filter(|p| p.is_file())
    else {
        return "没有上报队列 / no outbox\n".into();
    };
    match read_batches(&db) {
        Ok(rows) => {
            let mut t = String::from(
                "id\ttarget\trows\tstate\tattempts\tcreated\tnext_attempt\tconfirmed\taccepted\tlast_error\n",
            );
            if rows.is_empty() {
                t.push_str("（队列是空的 / empty）\n");
            }
            for r in rows {
                t.push_str(&mask(&r));
                t.push('\n');
            }
            t
        }
        Err(e) => format!(
            "上报队列读不了 / outbox unreadable: {}\n",
            mask(&e.to_string())
        ),
    }
}

fn read_batches(db: &Path) -> rusqlite::Result<Vec<String>> {
    let conn = crate::db::open(db, crate::db::Access::Read)?;
    let mut st = conn.prepare(
        "SELECT id, target, rows, state, attempts, created, next_attempt_at, confirmed_at,
                accepted, last_error FROM batches ORDER BY created, id",
    )?;
    st.query_map([], |r| {
        Ok(format!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, i64>(4)?,
            when(r.get(5)?),
            when(r.get(6)?),
            when(r.get(7)?),
            r.get::<_, Option<i64>>(8)?
                .map(|n| n.to_string())
                .unwrap_or_else(|| "-".into()),
            r.get::<_, Option<String>>(9)?
                .unwrap_or_default()
                .replace(['\n', '\t', '\r'], " ")
        ))
    })?
    .collect()
}

fn log_text(folders: &Folders) -> String {
    let Some(data) = &folders.data else {
        return String::new();
    };
    let mut t = LogFile::new(&crate::log::dir_in(data))
        .tail(LOG_LINES)
        .join("\n");
    t.push('\n');
    mask(&t)
}

/// The files handled in the last days: the window's history, and every file a command or the
/// window opened as the log tells, with when each positive was confirmed (daily.md).
fn history(folders: &Folders) -> String {
    let Some(data) = &folders.data else {
        return String::new();
    };
    let since = chrono::Local::now().date_naive() - chrono::Duration::days(HISTORY_DAYS);
    let since_text = since.format("%Y-%m-%d").to_string();
    let mut t = format!("自 {since_text} 起 / since {since_text}\n\n窗口 window:\n");
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct Entry {
        date: String,
        time: String,
        file: String,
        rows: usize,
        ready: usize,
        rejected: usize,
        exported: Option<PathBuf>,
    }
    #[derive(serde::Deserialize, Default)]
    #[serde(default)]
    struct HistoryFile {
        entry: Vec<Entry>,
    }
    let file: HistoryFile = std::fs::read_to_string(data.join("history.toml"))
        .ok()
        .and_then(|s| toml::from_str(&s).ok())
        .unwrap_or_default();
    for e in file.entry.iter().filter(|e| e.date >= since_text) {
        t.push_str(&format!(
            "  {} {} {}：{} 行 rows，可上报 ready {}，有错误 rejected {}{}\n",
            e.date,
            e.time,
            e.file,
            e.rows,
            e.ready,
            e.rejected,
            if e.exported.is_some() {
                "，已导出 exported"
            } else {
                ""
            }
        ));
    }
    t.push_str("\n日志 log:\n");
    let log = LogFile::new(&crate::log::dir_in(data));
    for line in log.tail(usize::MAX) {
        let recent = line.get(..10).is_some_and(|d| d >= since_text.as_str());
        if recent
            && (line.contains("] opened: ")
                || line.contains("] exported ")
                || line.contains("] queued: ")
                || line.contains("] positive confirmed: "))
        {
            t.push_str("  ");
            t.push_str(&line);
            t.push('\n');
        }
    }
    mask(&t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_lose_user_and_secrets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("settings.toml"),
            "lab = \"本院\"\nuser = \"zhangsan\"\ntoken = \"abc\"\nkeep_days = 9\n",
        )
        .unwrap();
        let folders = Folders {
            config: Some(dir.path().to_owned()),
            data: None,
        };
        let s = settings(&folders);
        assert!(s.contains("lab = \"本院\""), "{s}");
        assert!(s.contains("keep_days = 9"), "{s}");
        assert!(!s.contains("zhangsan") && !s.contains("abc"), "{s}");
    }

    #[test]
    fn default_name_has_the_date() {
        let d = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).unwrap();
        assert_eq!(default_name(d), "sheetbridge-诊断-2026-11-28.zip");
    }
}
