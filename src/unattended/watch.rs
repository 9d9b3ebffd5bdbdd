//! Watching a folder (unattended.md, `sheetbridge watch`): which files are candidates, when a
//! file has settled, and handling each new content exactly once: convert and queue (through
//! [`super::handle`]), then move the file to `已处理/<date>/` or, with its errors workbook or a
//! note, to `需要处理/`.
//!
//! The order makes a kill at any moment safe: the batches are committed to the outbox first
//! (queueing the same rows again is refused, and rows already queued count as duplicates), then
//! the side file is written, then the journal records the content and its destination, and only
//! then does the file move. A file whose content is in the journal but which is still in the
//! folder is moved where the journal says, without being handled again.

// Over 600 lines: candidates, settling, the one-file sequence and the folder moves share the
// journal's invariants above, and the last hundred lines are their tests.
use super::handle::{Counts, FileResult, Workflow, WorkflowError};
use super::journal::{Handled, Journal, JournalError};
use super::{DONE_DIR, FIX_DIR, claim, file_sha256};
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::privacy::mask_text as mask;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Extensions of the files the converter reads.
pub const EXTENSIONS: &[&str] = &[
    "xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "et", "xml", "htm", "html",
];

/// Endings of files still being downloaded or written.
const PARTIAL: &[&str] = &["crdownload", "part", "tmp", "download"];

/// Why a pass stopped (not a problem of one file).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum WatchError {
    NoFolder { path: PathBuf },
    Io { path: PathBuf, detail: String },
    Journal(#[from] JournalError),
    Workflow(#[from] WorkflowError),
}

impl Localized for WatchError {
    fn message(&self) -> Text {
        match self {
            WatchError::NoFolder { path } => {
                let path = path.display();
                Text::new(
                    format!(
                        "找不到要监视的文件夹「{path}」。请先建好这个文件夹，或在设置里改成另一个文件夹。"
                    ),
                    format!("no folder {path}"),
                )
            }
            WatchError::Io { path, detail } => {
                let path = path.display();
                Text::new(
                    format!("无法处理文件夹「{path}」：{detail}"),
                    format!("{path}: {detail}"),
                )
            }
            WatchError::Journal(e) => e.message(),
            WatchError::Workflow(e) => e.message(),
        }
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> WatchError + '_ {
    move |e| WatchError::Io {
        path: path.to_owned(),
        detail: io_message(&e),
    }
}

/// Where a handled file went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Went {
    /// Every row queued, uploaded before, or a duplicate: `已处理/<date>/`.
    Done,
    /// Some rows rejected: `需要处理/` with `<stem>_错误行.xlsx`.
    RowsToFix,
    /// Unreadable or not recognised: `需要处理/` with `<stem>_说明.txt`.
    Unreadable,
    /// The same content was handled before: moved where it went then.
    SeenBefore,
}

/// One file of a pass.
#[derive(Debug, Clone, PartialEq)]
pub struct FileReport {
    pub name: String,
    pub went: Went,
    pub counts: Option<Counts>,
    /// Where the file now is.
    pub dest: PathBuf,
    /// The errors workbook or the note beside it.
    pub side_file: Option<PathBuf>,
    /// Older versions of the same download moved out of `需要处理/`.
    pub replaced: Vec<String>,
}

impl FileReport {
    /// Did the file go to `需要处理/`?
    pub fn needs_clerk(&self) -> bool {
        matches!(self.went, Went::RowsToFix | Went::Unreadable)
            || (self.went == Went::SeenBefore && in_fix_dir(&self.dest))
    }

    /// Where the file went, relative to the watched folder (`已处理/2022-01-10/`).
    fn dest_shown(&self, folder: &Path) -> String {
        self.dest
            .parent()
            .and_then(|p| p.strip_prefix(folder).ok())
            .map(|p| format!("{}/", p.display()))
            .unwrap_or_else(|| self.dest.display().to_string())
    }

    /// The one line for the terminal and the log; no ID or phone number in full.
    pub fn line(&self, folder: &Path) -> String {
        let dest = self.dest_shown(folder);
        let rows = match &self.counts {
            Some(c) => format!(
                "共 {} 行，可上报 {}，有错误 {}，重复或已上报 {}，批次 {}",
                c.total, c.ready, c.rejected, c.duplicate, c.batches
            ),
            None if self.went == Went::SeenBefore => "同样内容之前已处理过".into(),
            None => "读不了".into(),
        };
        let mut line = format!("{}：{rows} → {dest}", self.name);
        if !self.replaced.is_empty() {
            line.push_str(&format!("（替换了旧版本 {}）", self.replaced.join("、")));
        }
        mask(&line)
    }

    /// The line in English.
    pub fn line_en(&self, folder: &Path) -> String {
        let dest = self.dest_shown(folder);
        let rows = match &self.counts {
            Some(c) => format!(
                "{} rows, {} ready, {} rejected, {} duplicate or uploaded before, {} batches",
                c.total, c.ready, c.rejected, c.duplicate, c.batches
            ),
            None if self.went == Went::SeenBefore => "handled before".into(),
            None => "unreadable".into(),
        };
        mask(&format!("{}: {rows} -> {dest}", self.name))
    }
}

fn in_fix_dir(path: &Path) -> bool {
    path.parent()
        .and_then(|p| p.file_name())
        .is_some_and(|n| n == FIX_DIR)
}

/// What one pass over the folder did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pass {
    pub files: Vec<FileReport>,
    /// Names skipped because the window (or another watcher) holds them.
    pub claimed: Vec<String>,
    /// Files still being written (left for a later pass).
    pub settling: usize,
}

impl Pass {
    /// Did a file handled in this pass go to `需要处理/`?
    pub fn needs_clerk(&self) -> bool {
        self.files.iter().any(FileReport::needs_clerk)
    }
}

/// Is `name` a possible input by its name alone?
pub fn is_candidate_name(name: &str) -> bool {
    if name.starts_with("~$") || name.starts_with('.') {
        return false;
    }
    let lower = name.to_lowercase();
    let Some((_, ext)) = lower.rsplit_once('.') else {
        return false;
    };
    !PARTIAL.contains(&ext) && EXTENSIONS.contains(&ext)
}

/// Remembers what each file looked like, so that a file whose clock is off (a network folder)
/// still settles once it has stopped changing for the settle time by our own clock.
#[derive(Debug, Default)]
pub struct Settle {
    seen: HashMap<PathBuf, (u64, Option<SystemTime>, std::time::Instant)>,
}

impl Settle {
    /// Has the file at `path` (with `meta`) not changed for `settle`?
    fn settled(&mut self, path: &Path, meta: &std::fs::Metadata, settle: Duration) -> bool {
        let modified = meta.modified().ok();
        let now = std::time::Instant::now();
        let entry = self
            .seen
            .entry(path.to_owned())
            .or_insert((meta.len(), modified, now));
        if (entry.0, entry.1) != (meta.len(), modified) {
            *entry = (meta.len(), modified, now);
        }
        let by_mtime = modified
            .and_then(|m| SystemTime::now().duration_since(m).ok())
            .is_some_and(|age| age >= settle);
        by_mtime || now.duration_since(entry.2) >= settle && !settle.is_zero()
    }
}

/// Why `folder` is a poor choice to watch, for the clerk (unattended.md: allowed, with a warning):
/// the Downloads folder is where files are opened to be reviewed, and a file dropped there may be
/// sent before anyone looked at it.
pub fn watch_folder_warning(
    folder: &Path,
    downloads: &[&Path],
    lang: crate::issue::Lang,
) -> Option<String> {
    let same = |a: &Path, b: &Path| {
        a == b
            || std::fs::canonicalize(a)
                .ok()
                .zip(std::fs::canonicalize(b).ok())
                .is_some_and(|(a, b)| a == b)
    };
    if !downloads.iter().any(|d| same(folder, d)) {
        return None;
    }
    Some(lang.pick(
        "提醒：监视的是“下载”文件夹。大家从这里打开文件核对，放在这里的文件可能在核对之前就被自动上报了。建议用单独的文件夹，例如 文档/核酸上报/待上报，并让浏览器或同事把导出表存到那里。",
        "Note: the watched folder is Downloads. Files are opened from there to be reviewed, and may be sent before the review. A folder of its own, such as Documents/核酸上报/待上报, is better.",
    ).into())
}

/// The files directly in `folder` that may be handled now, oldest first; and how many are
/// still settling.
pub fn candidates(
    folder: &Path,
    settle: Duration,
    tracker: &mut Settle,
) -> Result<(Vec<PathBuf>, usize), WatchError> {
    if !folder.is_dir() {
        return Err(WatchError::NoFolder {
            path: folder.to_owned(),
        });
    }
    let mut files = Vec::new();
    let mut settling = 0;
    for entry in std::fs::read_dir(folder).map_err(io(folder))?.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_candidate_name(&name) {
            continue;
        }
        let path = entry.path();
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        if !tracker.settled(&path, &meta, settle) {
            settling += 1;
            continue;
        }
        files.push((meta.modified().ok(), name, path));
    }
    files.sort();
    Ok((files.into_iter().map(|(_, _, p)| p).collect(), settling))
}

/// A free name for `name` in `dir`: `name`, else `stem(2).ext`, `stem(3).ext`, ...
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let first = dir.join(name);
    if !first.exists() {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s, format!(".{e}")),
        None => (name, String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem}({n}){ext}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The errors workbook's and the note's paths for a file that goes (or went) to `dest`.
pub fn side_files(dest: &Path) -> (PathBuf, PathBuf) {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let stem = stem_of(dest);
    (
        dir.join(format!("{stem}_错误行.xlsx")),
        dir.join(format!("{stem}_说明.txt")),
    )
}

/// The note for an unreadable file.
pub fn note_text(name: &str, reason: &str, folder: &Path, when: &str) -> String {
    format!(
        "文件「{name}」没有上报。\r\n\r\n原因：{reason}\r\n\r\n请这样处理：\r\n\
         1. 用“核酸结果上报助手”窗口打开这个文件看看是不是当天的核酸结果表；\r\n\
         2. 如果是城市系统导出出错（登录页面、空表、导错了表），请重新导出，保存到文件夹「{}」，会自动上报；\r\n\
         3. 如果表格本身没问题却认不出来，请联系信息科添加模板。\r\n\r\n处理时间：{when}\r\n",
        folder.display()
    )
}

/// The handling of one folder.
pub struct Watch<'a> {
    pub folder: &'a Path,
    pub data_dir: &'a Path,
    pub settle: Duration,
}

impl Watch<'_> {
    /// Handles every settled new file once. `on_file` hears each file as soon as it has moved.
    pub fn pass(
        &self,
        journal: &Journal,
        workflow: &mut Workflow,
        tracker: &mut Settle,
        on_file: &mut dyn FnMut(&FileReport),
    ) -> Result<Pass, WatchError> {
        let (files, settling) = candidates(self.folder, self.settle, tracker)?;
        let mut pass = Pass {
            settling,
            ..Pass::default()
        };
        for path in files {
            let name = crate::paths::file_name(&path);
            let sha = match file_sha256(&path) {
                Ok(s) => s,
                // Gone or locked since the listing: the next pass sees it again.
                Err(_) => continue,
            };
            if journal.is_output(&sha)? {
                continue;
            }
            let Some(held) = claim::claim(self.data_dir, &sha, &path).map_err(io(self.data_dir))?
            else {
                pass.claimed.push(name);
                continue;
            };
            let report = self.one(journal, workflow, &path, &name, &sha)?;
            held.release();
            on_file(&report);
            pass.files.push(report);
        }
        Ok(pass)
    }

    /// Handles one claimed file.
    // Long: one claimed file from claim to journal entry, with each way it can end recorded.
    fn one(
        &self,
        journal: &Journal,
        workflow: &mut Workflow,
        path: &Path,
        name: &str,
        sha: &str,
    ) -> Result<FileReport, WatchError> {
        let now = chrono::Local::now();
        if let Some(before) = journal.handled(sha)? {
            // Handled already (by name or under another name): finish the move.
            let dir = before
                .dest
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| self.folder.join(DONE_DIR));
            std::fs::create_dir_all(&dir).map_err(io(&dir))?;
            let dest = free_name(&dir, name);
            std::fs::rename(path, &dest).map_err(io(path))?;
            journal.set_dest(sha, &dest, before.needs_clerk)?;
            return Ok(FileReport {
                name: name.to_owned(),
                went: Went::SeenBefore,
                counts: None,
                dest,
                side_file: None,
                replaced: Vec::new(),
            });
        }
        let fix_dir = self.folder.join(FIX_DIR);
        let done_dir = self
            .folder
            .join(DONE_DIR)
            .join(now.format("%Y-%m-%d").to_string());
        std::fs::create_dir_all(&fix_dir).map_err(io(&fix_dir))?;
        let fix_dest = free_name(&fix_dir, name);
        let (errors_out, note_out) = side_files(&fix_dest);
        let result = workflow.handle_file(path, &errors_out)?;
        let (went, counts, side_file) = match result {
            FileResult::Converted(c) if c.rejected == 0 => (Went::Done, Some(c), None),
            FileResult::Converted(c) => {
                let side = (c.errors_written > 0).then(|| errors_out.clone());
                (Went::RowsToFix, Some(c), side)
            }
            FileResult::Unreadable { zh, .. } => {
                let text = note_text(
                    name,
                    &mask(&zh),
                    self.folder,
                    &now.format("%Y-%m-%d %H:%M").to_string(),
                );
                crate::write::write_atomically(&note_out, |f| {
                    std::io::Write::write_all(f, text.as_bytes()).map_err(|e| {
                        crate::write::WriteError::Io {
                            path: note_out.clone(),
                            reason: io_message(&e),
                        }
                    })
                })
                .map_err(WorkflowError::from)?;
                (Went::Unreadable, None, Some(note_out.clone()))
            }
        };
        if let Some(side) = &side_file {
            let side_sha = file_sha256(side).map_err(io(side))?;
            journal.record_output(&side_sha, side)?;
        }
        let dest = if went == Went::Done {
            std::fs::create_dir_all(&done_dir).map_err(io(&done_dir))?;
            free_name(&done_dir, name)
        } else {
            fix_dest
        };
        let mut report = FileReport {
            name: name.to_owned(),
            went,
            counts,
            dest: dest.clone(),
            side_file,
            replaced: Vec::new(),
        };
        journal.record_handled(&Handled {
            sha256: sha.to_owned(),
            name: name.to_owned(),
            at: crate::upload::outbox::now_ms(),
            dest: dest.clone(),
            needs_clerk: report.needs_clerk(),
            line: report.line(self.folder),
        })?;
        std::fs::rename(path, &dest).map_err(io(path))?;
        report.replaced = self.replace_older(journal, sha, &done_dir)?;
        Ok(report)
    }

    /// Moves older versions of the same download (same source and day) out of `需要处理/`,
    /// with their side files, into `done_dir`: the clerk has one file of the day to fix.
    fn replace_older(
        &self,
        journal: &Journal,
        sha: &str,
        done_dir: &Path,
    ) -> Result<Vec<String>, WatchError> {
        let mut moved = Vec::new();
        for other in journal.other_versions(sha)? {
            let Some(h) = journal.handled(&other)? else {
                continue;
            };
            if !h.needs_clerk || !in_fix_dir(&h.dest) || !h.dest.is_file() {
                continue;
            }
            std::fs::create_dir_all(done_dir).map_err(io(done_dir))?;
            let name = crate::paths::file_name(&h.dest);
            let dest = free_name(done_dir, &name);
            let (errors, note) = side_files(&h.dest);
            let (new_errors, new_note) = side_files(&dest);
            // The record first: a kill in between leaves it pointing at where the file goes.
            journal.set_dest(&other, &dest, false)?;
            std::fs::rename(&h.dest, &dest).map_err(io(&h.dest))?;
            for (from, to) in [(errors, new_errors), (note, new_note)] {
                if from.is_file() {
                    std::fs::rename(&from, &to).map_err(io(&from))?;
                }
            }
            moved.push(name);
        }
        Ok(moved)
    }
}

/// A file of `需要处理/` that the clerk fixed and uploaded from the window leaves it: it moves
/// with its errors workbook and note to `已处理/<today>/` next to it, and the journal says so.
/// Returns where it went; `None` when `path` is not in a `需要处理/` folder or the journal does
/// not know its content (a file put there by hand is left alone).
pub fn resolve(journal: &Journal, path: &Path) -> Result<Option<PathBuf>, WatchError> {
    if !in_fix_dir(path) || !path.is_file() {
        return Ok(None);
    }
    let sha = file_sha256(path).map_err(io(path))?;
    if journal.handled(&sha)?.is_none() {
        return Ok(None);
    }
    let Some(folder) = path.parent().and_then(Path::parent) else {
        return Ok(None);
    };
    let done_dir = folder
        .join(DONE_DIR)
        .join(chrono::Local::now().format("%Y-%m-%d").to_string());
    std::fs::create_dir_all(&done_dir).map_err(io(&done_dir))?;
    let dest = free_name(&done_dir, &crate::paths::file_name(path));
    let (errors, note) = side_files(path);
    let (new_errors, new_note) = side_files(&dest);
    journal.set_dest(&sha, &dest, false)?;
    std::fs::rename(path, &dest).map_err(io(path))?;
    for (from, to) in [(errors, new_errors), (note, new_note)] {
        if from.is_file() {
            std::fs::rename(&from, &to).map_err(io(&from))?;
        }
    }
    Ok(Some(dest))
}

/// The files waiting in `需要处理/` for the clerk, newest first, as the journal knows them
/// (side files and files moved on since are left out).
pub fn waiting_for_clerk(journal: &Journal) -> Result<Vec<Handled>, WatchError> {
    Ok(journal
        .handled_since(0)?
        .into_iter()
        .filter(|h| h.needs_clerk && in_fix_dir(&h.dest) && h.dest.is_file())
        .collect())
}

/// File notifications for a folder: `wait` returns when something changed or `timeout` passed.
/// Where notifications cannot be had (network folders), it just waits: the periodic scan is
/// the fallback.
pub struct Notifier {
    _watcher: Option<notify::RecommendedWatcher>,
    rx: std::sync::mpsc::Receiver<()>,
}

impl Notifier {
    pub fn new(folder: &Path) -> Notifier {
        use notify::Watcher;
        let (tx, rx) = std::sync::mpsc::channel();
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            if ev.is_ok() {
                let _ = tx.send(());
            }
        })
        .ok()
        .and_then(|mut w| {
            w.watch(folder, notify::RecursiveMode::NonRecursive)
                .ok()
                .map(|()| w)
        });
        Notifier {
            _watcher: watcher,
            rx,
        }
    }

    /// Is a notification watcher running (else only the periodic scan)?
    pub fn active(&self) -> bool {
        self._watcher.is_some()
    }

    /// Waits for a change (then a little longer, to gather a burst of events) or `timeout`.
    pub fn wait(&self, timeout: Duration) {
        match self.rx.recv_timeout(timeout) {
            Ok(()) => {
                std::thread::sleep(Duration::from_millis(300));
                while self.rx.try_recv().is_ok() {}
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(timeout),
        }
    }
}

/// The record of the last `watch --once` run (for `schedule status`), `last-run.json` in the
/// data folder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastRun {
    /// Local time, `YYYY-MM-DD HH:MM:SS`.
    pub at: String,
    pub exit_code: u8,
    pub files: usize,
}

pub fn last_run_path(data_dir: &Path) -> PathBuf {
    data_dir.join("last-run.json")
}

/// Records a run (best effort: the run's work is done whatever happens here).
pub fn record_run(data_dir: &Path, run: &LastRun) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(run).map_err(std::io::Error::other)?;
    crate::credentials::write_private(&last_run_path(data_dir), &json)
}

pub fn last_run(data_dir: &Path) -> Option<LastRun> {
    serde_json::from_slice(&std::fs::read(last_run_path(data_dir)).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_names() {
        for ok in ["核酸结果.xlsx", "a.XLS", "b.csv", "c.ods", "d.xlsb"] {
            assert!(is_candidate_name(ok), "{ok}");
        }
        for no in [
            "~$核酸结果.xlsx",
            ".hidden.xlsx",
            "a.xlsx.crdownload",
            "a.xlsx.part",
            "a.tmp",
            "b.download",
            "说明.txt",
            "noext",
            "a.pdf",
        ] {
            assert!(!is_candidate_name(no), "{no}");
        }
    }

    #[test]
    fn free_names_and_side_files() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(free_name(dir.path(), "a.xlsx"), dir.path().join("a.xlsx"));
        std::fs::write(dir.path().join("a.xlsx"), "x").unwrap();
        std::fs::write(dir.path().join("a(2).xlsx"), "x").unwrap();
        assert_eq!(
            free_name(dir.path(), "a.xlsx"),
            dir.path().join("a(3).xlsx")
        );
        let (e, n) = side_files(&dir.path().join("需要处理/结果.xlsx"));
        assert!(e.ends_with("需要处理/结果_错误行.xlsx"));
        assert!(n.ends_with("需要处理/结果_说明.txt"));
    }

    #[test]
    fn settling_files_wait_subfolders_and_partials_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("new.xlsx"), "x").unwrap();
        std::fs::write(dir.path().join("dl.xlsx.crdownload"), "x").unwrap();
        std::fs::create_dir(dir.path().join("已处理")).unwrap();
        std::fs::write(dir.path().join("已处理/old.xlsx"), "x").unwrap();
        let mut t = Settle::default();
        let (files, settling) = candidates(dir.path(), Duration::from_secs(3600), &mut t).unwrap();
        assert!(files.is_empty());
        assert_eq!(settling, 1);
        let (files, settling) = candidates(dir.path(), Duration::ZERO, &mut t).unwrap();
        assert_eq!(files, vec![dir.path().join("new.xlsx")]);
        assert_eq!(settling, 0);
        let missing = candidates(&dir.path().join("nope"), Duration::ZERO, &mut t);
        assert!(matches!(missing, Err(WatchError::NoFolder { .. })));
    }

    #[test]
    fn report_lines_mask_numbers() {
        let r = FileReport {
            name: "13812345678.xlsx".into(),
            went: Went::Done,
            counts: Some(Counts {
                total: 3,
                ready: 3,
                ..Counts::default()
            }),
            dest: PathBuf::from("/w/已处理/2026-01-01/13812345678.xlsx"),
            side_file: None,
            replaced: vec![],
        };
        let line = r.line(Path::new("/w"));
        assert!(line.contains("138****5678"), "{line}");
        assert!(line.contains("已处理/2026-01-01/"), "{line}");
        assert!(!r.needs_clerk());
    }

    #[test]
    fn a_fixed_file_leaves_the_fix_folder_with_its_side_files() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::open(&dir.path().join("data")).unwrap();
        let fix = dir.path().join("watch").join(FIX_DIR);
        std::fs::create_dir_all(&fix).unwrap();
        let file = fix.join("结果.xlsx");
        std::fs::write(&file, "rows").unwrap();
        std::fs::write(fix.join("结果_错误行.xlsx"), "errors").unwrap();
        let unknown = fix.join("别人放的.xlsx");
        std::fs::write(&unknown, "other").unwrap();
        let sha = file_sha256(&file).unwrap();
        journal
            .record_handled(&Handled {
                sha256: sha.clone(),
                name: "结果.xlsx".into(),
                at: 1,
                dest: file.clone(),
                needs_clerk: true,
                line: String::new(),
            })
            .unwrap();
        assert_eq!(waiting_for_clerk(&journal).unwrap().len(), 1);
        assert_eq!(resolve(&journal, &unknown).unwrap(), None);
        let dest = resolve(&journal, &file).unwrap().unwrap();
        assert!(dest.is_file() && !file.exists());
        assert!(dest.parent().unwrap().parent().unwrap().ends_with(DONE_DIR));
        assert!(
            side_files(&dest).0.is_file(),
            "the errors workbook moved along"
        );
        assert!(waiting_for_clerk(&journal).unwrap().is_empty());
        assert!(!journal.handled(&sha).unwrap().unwrap().needs_clerk);
        assert!(unknown.is_file(), "a file the journal does not know stays");
    }
}
