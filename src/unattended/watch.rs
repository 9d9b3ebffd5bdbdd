//! Watching a folder (unattended.md, `sheetbridge watch`): handling each new content exactly
//! once: convert and queue (through [`super::handle`]), then move the file to `已处理/<date>/`
//! or, with its errors workbook or a note, to `需要处理/`. Which files are taken at all (settled
//! by our own clock, links never followed) is [`super::candidates`]'s one function; our own
//! outputs and content handled before are left where they are. Files move only into real
//! subfolders of the watched folder, never through a link.
//!
//! The order makes a kill at any moment safe: the batches are committed to the outbox first
//! (queueing the same rows again is refused, and rows already queued count as duplicates), then
//! the side file is written, then the journal records the content and its destination, and only
//! then does the file move. A file whose content is in the journal but which is still in the
//! folder is moved where the journal says, without being handled again.

// Over 600 lines: the one-file sequence and the folder moves share the journal's invariants
// above, and the last hundred lines are their tests.
use super::candidates::{Candidate, Found, LookError, settled_candidates};
pub use super::candidates::{EXTENSIONS, Settle, is_candidate_name};
use super::handle::{Counts, FileResult, Workflow, WorkflowError};
use super::journal::{Handled, Journal, JournalError, Waiting};
use super::{DONE_DIR, FIX_DIR, claim};
use crate::digest::file_sha256;
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::paths::{for_line, shown, shown_name};
use crate::privacy::mask_text as mask;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Why a pass stopped (not a problem of one file).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum WatchError {
    /// The watched folder is not there (removed, a network drive gone, a USB stick out).
    NoFolder {
        path: PathBuf,
    },
    /// `需要处理/` or `已处理/` (or a day's folder in it) is a link or not a folder: files are
    /// never moved through it.
    NotOwnFolder {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        detail: String,
    },
    Journal(#[from] JournalError),
    Workflow(#[from] WorkflowError),
}

impl Localized for WatchError {
    fn message(&self) -> Text {
        match self {
            WatchError::NoFolder { path } => {
                let path = shown(path);
                Text::new(
                    format!(
                        "找不到要监视的文件夹「{path}」。请先建好这个文件夹，或在设置里改成另一个文件夹。"
                    ),
                    format!("no folder {path}"),
                )
            }
            WatchError::NotOwnFolder { path } => {
                let path = shown(path);
                Text::new(
                    format!(
                        "「{path}」是一个链接（快捷方式）或不是文件夹，文件不能挪进去（可能会挪到别的地方）。这次没有处理任何文件。请删掉它，程序会自己建这个文件夹。"
                    ),
                    format!(
                        "{path} is a link or not a folder: no file is moved through it; nothing was handled. Remove it and the folder is made anew."
                    ),
                )
            }
            WatchError::Io { path, detail } => {
                let path = shown(path);
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
    /// The same content was handled before (under this name or another): nothing moves.
    SeenBefore,
    /// Handled before, but a stop (a crash, a kill) came before it moved: moved now where the
    /// journal says, without being handled again.
    Finished,
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
    /// For content handled before: the line of that time.
    pub earlier: Option<String>,
}

impl FileReport {
    /// Did the file go to `需要处理/`?
    pub fn needs_clerk(&self) -> bool {
        matches!(self.went, Went::RowsToFix | Went::Unreadable)
            || (self.went == Went::Finished && in_fix_dir(&self.dest))
    }

    /// Where the file went, relative to the watched folder (`已处理/2022-01-10/`).
    fn dest_shown(&self, folder: &Path) -> String {
        self.dest
            .parent()
            .and_then(|p| p.strip_prefix(folder).ok())
            .map(|p| format!("{}/", shown(p)))
            .unwrap_or_else(|| shown(&self.dest))
    }

    /// The one line for the terminal and the log; no ID or phone number in full.
    pub fn line(&self, folder: &Path) -> String {
        let name = for_line(&self.name);
        if self.went == Went::SeenBefore {
            let earlier = self.earlier.as_deref().map(for_line).unwrap_or_default();
            return mask(&format!(
                "{name}：同样的内容之前已处理过（{earlier}），这次不再处理，文件留在原处，可以删掉。"
            ));
        }
        let dest = self.dest_shown(folder);
        let rows = match &self.counts {
            Some(c) => format!(
                "共 {} 行，可上报 {}，有错误 {}，重复或已上报 {}，批次 {}",
                c.total, c.ready, c.rejected, c.duplicate, c.batches
            ),
            None if self.went == Went::Finished => "之前已处理，这次把文件挪到位".into(),
            None => "读不了".into(),
        };
        let mut line = format!("{name}：{rows} → {dest}");
        if !self.replaced.is_empty() {
            let replaced: Vec<String> = self.replaced.iter().map(|r| for_line(r)).collect();
            line.push_str(&format!("（替换了旧版本 {}）", replaced.join("、")));
        }
        mask(&line)
    }

    /// The line in English.
    pub fn line_en(&self, folder: &Path) -> String {
        let name = for_line(&self.name);
        if self.went == Went::SeenBefore {
            let earlier = self.earlier.as_deref().map(for_line).unwrap_or_default();
            return mask(&format!(
                "{name}: the same content was handled before ({earlier}); left where it is"
            ));
        }
        let dest = self.dest_shown(folder);
        let rows = match &self.counts {
            Some(c) => format!(
                "{} rows, {} ready, {} rejected, {} duplicate or uploaded before, {} batches",
                c.total, c.ready, c.rejected, c.duplicate, c.batches
            ),
            None if self.went == Went::Finished => "handled before, moved now".into(),
            None => "unreadable".into(),
        };
        mask(&format!("{name}: {rows} -> {dest}"))
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
    /// The shortest time after which a settling file may have settled.
    pub wait: Option<Duration>,
    /// Links seen for the first time: skipped, never followed, named once.
    pub links: Vec<PathBuf>,
    /// Files skipped because the program wrote them (its own outputs).
    pub outputs: usize,
}

impl Pass {
    /// Did a file handled in this pass go to `需要处理/`?
    pub fn needs_clerk(&self) -> bool {
        self.files.iter().any(FileReport::needs_clerk)
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

impl Pass {
    /// Takes in a later pass of the same run (`watch --once` looks twice).
    pub fn absorb(&mut self, later: Pass) {
        self.files.extend(later.files);
        self.claimed = later.claimed;
        self.settling = later.settling;
        self.wait = later.wait;
        self.links.extend(later.links);
        self.outputs += later.outputs;
    }
}

/// `name` under `parent`, which must be a real folder of its own (made when missing): never a
/// link, a junction or a file. Files of the watched folder move only into such folders.
fn own_dir(parent: &Path, name: &str) -> Result<PathBuf, WatchError> {
    let path = parent.join(name);
    if std::fs::symlink_metadata(&path).is_err() {
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            // Made by another watcher in the meantime: checked below like any other.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    check_own_dir(&path)?;
    Ok(path)
}

/// `sub` (relative to `folder`, or a path under it) as real folders of their own, each made
/// when missing (see [`own_dir`]).
fn own_dirs(folder: &Path, sub: &Path) -> Result<PathBuf, WatchError> {
    let sub = sub.strip_prefix(folder).unwrap_or(sub);
    let mut dir = folder.to_owned();
    for part in sub.components() {
        match part {
            std::path::Component::Normal(name) => {
                dir = own_dir(&dir, &name.to_string_lossy())?;
            }
            _ => {
                return Err(WatchError::NotOwnFolder {
                    path: folder.join(sub),
                });
            }
        }
    }
    Ok(dir)
}

/// Is `path`, when it exists, a real folder (not a link)?
fn check_own_dir(path: &Path) -> Result<(), WatchError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
        Ok(m) if m.is_dir() && !super::candidates::is_link("", &m) => Ok(()),
        Ok(_) => Err(WatchError::NotOwnFolder {
            path: path.to_owned(),
        }),
    }
}

/// A free name for `name` in `dir`: `name`, else `stem(2).ext`, `stem(3).ext`, ...
fn free_name(dir: &Path, name: &str) -> PathBuf {
    let taken = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    let first = dir.join(name);
    if !taken(&first) {
        return first;
    }
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) => (s, format!(".{e}")),
        None => (name, String::new()),
    };
    (2..)
        .map(|n| dir.join(format!("{stem}({n}){ext}")))
        .find(|p| !taken(p))
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
        "文件「{}」没有上报。\r\n\r\n原因：{}\r\n\r\n请这样处理：\r\n\
         1. 用“核酸结果上报助手”窗口打开这个文件看看是不是当天的核酸结果表；\r\n\
         2. 如果是城市系统导出出错（登录页面、空表、导错了表），请重新导出，保存到文件夹「{}」，会自动上报；\r\n\
         3. 如果表格本身没问题却认不出来，请联系信息科添加模板。\r\n\r\n处理时间：{when}\r\n",
        for_line(&crate::privacy::mask_text(name)),
        for_line(&crate::privacy::mask_text(reason)),
        shown(folder)
    )
}

/// The handling of one folder.
pub struct Watch<'a> {
    pub folder: &'a Path,
    pub data_dir: &'a Path,
    pub settle: Duration,
}

impl Watch<'_> {
    /// Handles every settled new file once (the files [`settled_candidates`] gives: links are
    /// never followed, a file is taken only at its second unchanged look). Our own outputs and
    /// content handled before are left where they are. `on_file` hears each file as soon as
    /// it has moved; each file's line and each new link also go to the log.
    pub fn pass(
        &self,
        journal: &Journal,
        workflow: &mut Workflow,
        tracker: &mut Settle,
        on_file: &mut dyn FnMut(&FileReport),
    ) -> Result<Pass, WatchError> {
        let found = settled_candidates(self.folder, self.settle, tracker).map_err(|e| match e {
            LookError::NoFolder => WatchError::NoFolder {
                path: self.folder.to_owned(),
            },
            LookError::Io(e) => io(self.folder)(e),
        })?;
        let Found {
            files,
            settling,
            wait,
            links,
        } = found;
        for link in &links {
            ::log::warn!(
                target: "sheetbridge",
                "watch: {} is a link (or shortcut), skipped and not followed",
                shown_name(link)
            );
        }
        let mut pass = Pass {
            settling,
            wait,
            links,
            ..Pass::default()
        };
        if !files.is_empty() {
            // Files move only into real subfolders: refuse before anything is handled.
            check_own_dir(&self.folder.join(FIX_DIR))?;
            check_own_dir(&self.folder.join(DONE_DIR))?;
            check_own_dir(&self.done_dir(&chrono::Local::now()))?;
        }
        for file in files {
            let path = file.path.clone();
            let name = crate::paths::file_name(&path);
            // Gone, locked, changed or now a link since the listing: a later pass looks again.
            let Some(sha) = file.sha256(tracker) else {
                pass.settling += 1;
                continue;
            };
            if journal.is_output(&sha)? {
                tracker.decided(&path);
                pass.outputs += 1;
                continue;
            }
            let Some(held) = claim::claim(self.data_dir, &sha, &path).map_err(io(self.data_dir))?
            else {
                pass.claimed.push(name);
                continue;
            };
            let Some(report) = self.one(journal, workflow, &file, &name, &sha)? else {
                tracker.changed(&path);
                pass.settling += 1;
                continue;
            };
            held.release();
            if report.went == Went::SeenBefore {
                tracker.decided(&path);
            }
            ::log::info!(target: "sheetbridge", "watch: {}", report.line_en(self.folder));
            on_file(&report);
            pass.files.push(report);
        }
        Ok(pass)
    }

    /// `已处理/<day>/` for a file handled at `now`.
    fn done_dir(&self, now: &chrono::DateTime<chrono::Local>) -> PathBuf {
        self.folder
            .join(DONE_DIR)
            .join(now.format("%Y-%m-%d").to_string())
    }

    /// Handles one claimed file; `None` when it changed (or became a link) before it was read.
    // Long: one claimed file from claim to journal entry, with each way it can end recorded.
    fn one(
        &self,
        journal: &Journal,
        workflow: &mut Workflow,
        file: &Candidate,
        name: &str,
        sha: &str,
    ) -> Result<Option<FileReport>, WatchError> {
        let path = file.path.as_path();
        let now = chrono::Local::now();
        if let Some(before) = journal.handled(sha)? {
            // A stop between the journal's record and the move leaves the file under the name
            // it was handled by, and nothing where it was to go: finish the move. Otherwise it
            // is a copy of content handled before, under this name or another: nothing moves.
            let unmoved = before.name == name
                && before.dest != path
                && std::fs::symlink_metadata(&before.dest).is_err();
            if !unmoved {
                return Ok(Some(FileReport {
                    name: name.to_owned(),
                    went: Went::SeenBefore,
                    counts: None,
                    dest: path.to_owned(),
                    side_file: None,
                    replaced: Vec::new(),
                    earlier: Some(before.line),
                }));
            }
            let inside = before
                .dest
                .parent()
                .and_then(|d| d.strip_prefix(self.folder).ok())
                .filter(|d| d.components().count() > 0);
            let dir = match inside {
                Some(sub) => own_dirs(self.folder, sub)?,
                None => own_dirs(self.folder, &self.done_dir(&now))?,
            };
            let dest = free_name(&dir, name);
            std::fs::rename(path, &dest).map_err(io(path))?;
            journal.set_dest(sha, &dest, before.needs_clerk)?;
            return Ok(Some(FileReport {
                name: name.to_owned(),
                went: Went::Finished,
                counts: None,
                dest,
                side_file: None,
                replaced: Vec::new(),
                earlier: Some(before.line),
            }));
        }
        if !file.unchanged() {
            return Ok(None);
        }
        let fix_dir = own_dir(self.folder, FIX_DIR)?;
        let done_dir = self.done_dir(&now);
        let fix_dest = free_name(&fix_dir, name);
        let (errors_out, note_out) = side_files(&fix_dest);
        let result = workflow.handle_file(path, &errors_out, &|| file.unchanged())?;
        let mut waiting = None;
        let (went, counts, side_file) = match result {
            FileResult::Changed => return Ok(None),
            FileResult::Converted(c) if c.rejected == 0 => (Went::Done, Some(c), None),
            FileResult::Converted(c) => {
                waiting = Some(Waiting::Rows(c.rejected));
                let side = (c.errors_written > 0).then(|| errors_out.clone());
                (Went::RowsToFix, Some(c), side)
            }
            FileResult::Unreadable {
                zh, no_template, ..
            } => {
                waiting = Some(if no_template {
                    Waiting::NoTemplate
                } else {
                    Waiting::Unreadable
                });
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
            free_name(&own_dirs(self.folder, &done_dir)?, name)
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
            earlier: None,
        };
        journal.record_handled(&Handled {
            sha256: sha.to_owned(),
            name: name.to_owned(),
            at: crate::upload::outbox::now_ms(),
            dest: dest.clone(),
            needs_clerk: report.needs_clerk(),
            line: report.line(self.folder),
            waiting,
        })?;
        std::fs::rename(path, &dest).map_err(io(path))?;
        report.replaced = self.replace_older(journal, sha, &done_dir)?;
        Ok(Some(report))
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
            let name = crate::paths::file_name(&h.dest);
            let dest = free_name(&own_dirs(self.folder, done_dir)?, &name);
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
    let real_file = std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_file() && !super::candidates::is_link("", &m));
    if !in_fix_dir(path) || !real_file {
        return Ok(None);
    }
    let sha = file_sha256(path).map_err(io(path))?;
    if journal.handled(&sha)?.is_none() {
        return Ok(None);
    }
    let Some(folder) = path.parent().and_then(Path::parent) else {
        return Ok(None);
    };
    let day = chrono::Local::now().format("%Y-%m-%d").to_string();
    let done_dir = own_dirs(folder, &Path::new(DONE_DIR).join(day))?;
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
    fn the_note_masks_the_name_and_keeps_each_line_whole() {
        let text = note_text(
            "note_440106195702020021.csv",
            "读不了\n第二行\x1b[2J 440106195702020021",
            Path::new("/d/待上报"),
            "2026-12-06 12:00",
        );
        assert!(!text.contains("440106195702020021"), "{text}");
        assert!(
            text.starts_with("文件「note_440106********0021.csv」没有上报。"),
            "{text}"
        );
        assert!(
            text.contains("原因：读不了\\n第二行\\x1b[2J 440106********0021\r\n"),
            "{text}"
        );
        assert!(
            !text.replace("\r\n", "").chars().any(char::is_control),
            "{text}"
        );
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
            earlier: None,
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
                waiting: Some(Waiting::Rows(2)),
            })
            .unwrap();
        let waiting = waiting_for_clerk(&journal).unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(
            waiting[0].waiting,
            Some(Waiting::Rows(2)),
            "the reason is kept"
        );
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
