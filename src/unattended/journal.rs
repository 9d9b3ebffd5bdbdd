//! The journal of unattended work, `unattended.sqlite` in the data folder: the content (SHA-256)
//! of every file handled and where it went, the program's own outputs (never taken as input),
//! and the downloads of each source and day (a new version is saved only when it differs).
//!
//! Every change is one SQLite transaction (WAL, full sync), so it survives a kill; several
//! processes may use it at once (the window, a scheduled `watch --once`, a terminal).

use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// Why the journal could not be used.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub struct JournalError {
    pub path: PathBuf,
    pub detail: String,
}

impl Localized for JournalError {
    fn message(&self) -> Text {
        let (path, detail) = (crate::paths::shown(&self.path), &self.detail);
        Text::new(
            format!(
                "无人值守记录「{path}」出错：{detail}。如果问题持续，请联系技术支持并提供这个文件。"
            ),
            format!("journal {path}: {detail}"),
        )
    }
}

/// One handled content.
#[derive(Debug, Clone, PartialEq)]
pub struct Handled {
    pub sha256: String,
    /// The file's name when it was handled.
    pub name: String,
    /// Unix milliseconds.
    pub at: i64,
    /// Where the file was moved (its full path).
    pub dest: PathBuf,
    /// It went to `需要处理/`.
    pub needs_clerk: bool,
    /// The one-line summary (masked).
    pub line: String,
    /// Why it waits for the clerk (`None`: it does not, or an older journal did not say).
    pub waiting: Option<Waiting>,
}

/// Why a file in `需要处理/` waits for the clerk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Waiting {
    /// It could not be read as a spreadsheet.
    Unreadable,
    /// Read, but no template knows its headers.
    NoTemplate,
    /// This many rows have errors.
    Rows(usize),
}

impl Waiting {
    /// How the journal keeps it.
    fn stored(self) -> String {
        match self {
            Waiting::Unreadable => "unreadable".into(),
            Waiting::NoTemplate => "no_template".into(),
            Waiting::Rows(n) => format!("rows:{n}"),
        }
    }

    fn from_stored(s: &str) -> Option<Waiting> {
        match s {
            "unreadable" => Some(Waiting::Unreadable),
            "no_template" => Some(Waiting::NoTemplate),
            _ => s.strip_prefix("rows:")?.parse().ok().map(Waiting::Rows),
        }
    }

    /// The reason as the start screen says it, with what to do.
    pub fn said(self, lang: crate::issue::Lang) -> String {
        match self {
            Waiting::Unreadable => lang
                .pick(
                    "读不了：请从城市系统重新导出",
                    "unreadable: export it again from the city system",
                )
                .into(),
            Waiting::NoTemplate => lang
                .pick(
                    "没有模板认得：打开后对应各列",
                    "no template knows it: open it and match the columns",
                )
                .into(),
            Waiting::Rows(n) => lang.pick(
                format!("{n} 行有错误：打开改正后上传"),
                format!("{n} rows with errors: open, fix and upload"),
            ),
        }
    }
}

/// The journal.
pub struct Journal {
    conn: Connection,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS handled (
    sha256 TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    dest TEXT NOT NULL,
    needs_clerk INTEGER NOT NULL,
    line TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS outputs (
    sha256 TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS fetched (
    source TEXT NOT NULL,
    day TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    name TEXT NOT NULL,
    at INTEGER NOT NULL,
    cells TEXT,
    PRIMARY KEY (source, day, sha256)
);
";

/// The journal's file in a data folder.
pub fn path_in(data_dir: &Path) -> PathBuf {
    data_dir.join("unattended.sqlite")
}

impl Journal {
    /// Opens (creating if needed) the journal in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Journal, JournalError> {
        let path = path_in(data_dir);
        let err = |e: &dyn std::fmt::Display| JournalError {
            path: path.clone(),
            detail: e.to_string(),
        };
        crate::privacy::create_private_dir(data_dir).map_err(|e| err(&io_message(&e)))?;
        let conn = crate::upload::db::open(&path, crate::upload::db::Access::Write)
            .map_err(|e| err(&e))?;
        crate::upload::db::retry(|| conn.pragma_update(None, "journal_mode", "WAL"))
            .map_err(|e| err(&e))?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| err(&e))?;
        crate::upload::db::retry(|| conn.execute_batch(SCHEMA)).map_err(|e| err(&e))?;
        crate::upload::db::retry(|| add_column(&conn, "fetched", "cells")).map_err(|e| err(&e))?;
        crate::upload::db::retry(|| add_column(&conn, "handled", "waiting"))
            .map_err(|e| err(&e))?;
        Ok(Journal { conn, path })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> JournalError + '_ {
        move |e| JournalError {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// The record of a content handled before.
    pub fn handled(&self, sha256: &str) -> Result<Option<Handled>, JournalError> {
        self.conn
            .query_row(
                "SELECT sha256, name, at, dest, needs_clerk, line, waiting FROM handled WHERE sha256 = ?1",
                params![sha256],
                row,
            )
            .optional()
            .map_err(self.err())
    }

    /// Records a handled content (replacing an earlier record of it).
    pub fn record_handled(&self, h: &Handled) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO handled (sha256, name, at, dest, needs_clerk, line, waiting)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    h.sha256,
                    h.name,
                    h.at,
                    h.dest.to_string_lossy(),
                    h.needs_clerk as i64,
                    h.line,
                    h.waiting.map(Waiting::stored)
                ],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Where a handled file now is (after it was moved on).
    pub fn set_dest(
        &self,
        sha256: &str,
        dest: &Path,
        needs_clerk: bool,
    ) -> Result<(), JournalError> {
        self.conn
            .execute(
                "UPDATE handled SET dest = ?2, needs_clerk = ?3 WHERE sha256 = ?1",
                params![sha256, dest.to_string_lossy(), needs_clerk as i64],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Everything handled since `since_ms` (Unix ms), newest first (the start screen's list).
    pub fn handled_since(&self, since_ms: i64) -> Result<Vec<Handled>, JournalError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT sha256, name, at, dest, needs_clerk, line, waiting FROM handled
                 WHERE at >= ?1 ORDER BY at DESC",
            )
            .map_err(self.err())?;
        st.query_map(params![since_ms], row)
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())
    }

    /// Records a file the program wrote (never to be taken as input).
    pub fn record_output(&self, sha256: &str, path: &Path) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO outputs (sha256, path, at) VALUES (?1, ?2, ?3)",
                params![
                    sha256,
                    path.to_string_lossy(),
                    crate::upload::outbox::now_ms()
                ],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// Did the program write this content?
    pub fn is_output(&self, sha256: &str) -> Result<bool, JournalError> {
        self.conn
            .query_row(
                "SELECT 1 FROM outputs WHERE sha256 = ?1",
                params![sha256],
                |_| Ok(()),
            )
            .optional()
            .map(|o| o.is_some())
            .map_err(self.err())
    }

    /// The content of the latest download of `source` for `day`, if any: its bytes' SHA-256
    /// and its cells' (see [`super::cells_sha256`]; `None` when not known).
    pub fn last_fetched(
        &self,
        source: &str,
        day: &str,
    ) -> Result<Option<(String, Option<String>)>, JournalError> {
        self.conn
            .query_row(
                "SELECT sha256, cells FROM fetched WHERE source = ?1 AND day = ?2 ORDER BY at DESC, rowid DESC LIMIT 1",
                params![source, day],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(self.err())
    }

    /// Records a saved download.
    pub fn record_fetched(
        &self,
        source: &str,
        day: &str,
        sha256: &str,
        cells: Option<&str>,
        name: &str,
    ) -> Result<(), JournalError> {
        self.conn
            .execute(
                "INSERT OR REPLACE INTO fetched (source, day, sha256, name, at, cells) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![source, day, sha256, name, crate::upload::outbox::now_ms(), cells],
            )
            .map(|_| ())
            .map_err(self.err())
    }

    /// The other downloads of the same source and day as this content (older versions).
    pub fn other_versions(&self, sha256: &str) -> Result<Vec<String>, JournalError> {
        let mut st = self
            .conn
            .prepare(
                "SELECT b.sha256 FROM fetched a JOIN fetched b
                 ON a.source = b.source AND a.day = b.day AND b.sha256 <> a.sha256
                 WHERE a.sha256 = ?1",
            )
            .map_err(self.err())?;
        st.query_map(params![sha256], |r| r.get(0))
            .map_err(self.err())?
            .collect::<Result<_, _>>()
            .map_err(self.err())
    }
}

/// Records files the program has just written (an upload sheet, an errors workbook, a side
/// file) as its own outputs in the journal of `data_dir`, by their content: a folder watched
/// later never takes them as input, whatever name they are copied under. Every front end that
/// writes such a file calls this where it writes it.
pub fn record_written(data_dir: &Path, paths: &[&Path]) -> Result<(), JournalError> {
    let journal = Journal::open(data_dir)?;
    for path in paths {
        let sha = crate::digest::file_sha256(path).map_err(|e| JournalError {
            path: path.to_path_buf(),
            detail: io_message(&e),
        })?;
        journal.record_output(&sha, path)?;
    }
    Ok(())
}

/// Which of the program's own outputs a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// An upload sheet (`<stem>_上报.xlsx`).
    Upload,
    /// The rejected rows (`<stem>_错误行.xlsx`).
    Errors,
    /// A side note (`<stem>_说明.txt`).
    Note,
    /// A file the journal knows the program wrote, under whatever name.
    Written,
}

impl Output {
    /// What the clerk is told on opening it: what it is and what to open instead.
    pub fn said(self, lang: crate::issue::Lang) -> &'static str {
        match self {
            Output::Upload => lang.pick(
                "这是本程序导出的上报表，不是城市系统的导出文件。请打开从城市系统下载的原始文件。",
                "This is an upload sheet this program wrote, not an export from the city system. Open the file downloaded from the city system.",
            ),
            Output::Errors => lang.pick(
                "这是本程序导出的错误行表，不是城市系统的导出文件。请在城市系统里改正后重新导出，或打开原始文件修改。",
                "This is the rejected-rows workbook this program wrote, not an export from the city system. Fix the rows in the city system and export again, or open the original file.",
            ),
            Output::Note => lang.pick(
                "这是本程序写的说明文件，不是导出文件。请打开它旁边的原始文件。",
                "This is a note this program wrote, not an export. Open the original file beside it.",
            ),
            Output::Written => lang.pick(
                "这是本程序自己写出的文件，不是城市系统的导出文件。请打开从城市系统下载的原始文件。",
                "This file was written by this program, not exported by the city system. Open the file downloaded from the city system.",
            ),
        }
    }
}

/// Whether `path` is one of the program's own outputs: by its name (`<stem>_上报`, `_错误行`,
/// `_说明`) or, under any name, by its content in the journal of `data_dir`. The one test every
/// front end asks before offering or opening a file as an export. A file that cannot be read,
/// or no journal yet, is judged by its name alone; the journal is never created here.
pub fn own_output(data_dir: Option<&Path>, path: &Path) -> Option<Output> {
    own_output_hashed(data_dir, path, None)
}

/// [`own_output`] for a file whose content hash the caller has already
/// ([`crate::digest::file_sha256`]): the file is not read again.
pub fn own_output_hashed(
    data_dir: Option<&Path>,
    path: &Path,
    sha256: Option<&str>,
) -> Option<Output> {
    if let Some(stem) = path.file_stem() {
        let stem = stem.to_string_lossy();
        for (end, kind) in [
            ("_上报", Output::Upload),
            ("_错误行", Output::Errors),
            ("_说明", Output::Note),
        ] {
            if stem.ends_with(end) {
                return Some(kind);
            }
        }
    }
    let data_dir = data_dir.filter(|d| path_in(d).is_file())?;
    let sha = match sha256 {
        Some(sha) => sha.to_owned(),
        None => crate::digest::file_sha256(path).ok()?,
    };
    let journal = Journal::open(data_dir).ok()?;
    journal
        .is_output(&sha)
        .ok()
        .filter(|&o| o)
        .map(|_| Output::Written)
}

/// A journal made before a column of `table` was known gains it (TEXT). Two programs opening
/// it at once may both try: the second finds the column there.
fn add_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<()> {
    let has = |conn: &Connection| -> rusqlite::Result<bool> {
        let mut st = conn.prepare("SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2")?;
        st.exists(params![table, column])
    };
    if has(conn)? {
        return Ok(());
    }
    match conn.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN {column} TEXT")) {
        Err(_) if has(conn)? => Ok(()),
        r => r,
    }
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Handled> {
    Ok(Handled {
        sha256: r.get(0)?,
        name: r.get(1)?,
        at: r.get(2)?,
        dest: PathBuf::from(r.get::<_, String>(3)?),
        needs_clerk: r.get::<_, i64>(4)? != 0,
        line: r.get(5)?,
        waiting: r
            .get::<_, Option<String>>(6)?
            .as_deref()
            .and_then(Waiting::from_stored),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_handled_outputs_and_versions() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(dir.path()).unwrap();
        assert!(j.handled("aa").unwrap().is_none());
        let h = Handled {
            sha256: "aa".into(),
            name: "a.xlsx".into(),
            at: 5,
            dest: dir.path().join("已处理/a.xlsx"),
            needs_clerk: false,
            line: "a".into(),
            waiting: None,
        };
        j.record_handled(&h).unwrap();
        // A second process sees it.
        let j2 = Journal::open(dir.path()).unwrap();
        assert_eq!(j2.handled("aa").unwrap(), Some(h));
        assert_eq!(j2.handled_since(6).unwrap().len(), 0);
        j.record_output("bb", Path::new("x")).unwrap();
        assert!(j2.is_output("bb").unwrap());
        assert!(!j2.is_output("aa").unwrap());
        j.record_fetched("city", "2026-01-01", "v1", None, "a_0800.xlsx")
            .unwrap();
        j.record_fetched("city", "2026-01-01", "v2", Some("c2"), "a_0900.xlsx")
            .unwrap();
        j.record_fetched("city", "2026-01-02", "v3", None, "a_0900.xlsx")
            .unwrap();
        assert_eq!(
            j.last_fetched("city", "2026-01-01").unwrap(),
            Some(("v2".to_owned(), Some("c2".to_owned())))
        );
        assert_eq!(j.other_versions("v2").unwrap(), vec!["v1".to_owned()]);
        assert!(j.last_fetched("city", "2026-01-03").unwrap().is_none());
    }

    #[test]
    fn a_journal_without_the_cells_column_gains_it() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(path_in(dir.path())).unwrap();
        conn.execute_batch(
            "CREATE TABLE fetched (source TEXT NOT NULL, day TEXT NOT NULL, sha256 TEXT NOT NULL,
             name TEXT NOT NULL, at INTEGER NOT NULL, PRIMARY KEY (source, day, sha256));
             INSERT INTO fetched VALUES ('city', '2026-01-01', 'v1', 'a_0800.xlsx', 1);",
        )
        .unwrap();
        drop(conn);
        let j = Journal::open(dir.path()).unwrap();
        assert_eq!(
            j.last_fetched("city", "2026-01-01").unwrap(),
            Some(("v1".to_owned(), None))
        );
        drop(j);
        // Opening again finds the column there.
        let j = Journal::open(dir.path()).unwrap();
        j.record_fetched("city", "2026-01-01", "v2", Some("c2"), "a_0900.xlsx")
            .unwrap();
    }
}
