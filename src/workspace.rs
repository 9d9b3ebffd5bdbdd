//! The workflow every front end follows, in one place: open -> check -> export -> queue ->
//! send -> ledger. The command line, the window and the watcher call this; none of them strings
//! the sequence together itself, and none opens the outbox any other way (this module is the
//! only caller of `Outbox::open`).
//!
//! A [`Workspace`] is given its folders ([`Folders`]); it reads no environment variable. It
//! owns the outbox for its process: open it once per process (recovery runs then, and only for
//! batches whose claiming process has gone), and hand the same workspace to whatever sends.

use crate::batch::{Batch, RowStatus};
use crate::credentials::Finder;
use crate::edits::{EditStore, FileEdits, Restored};
use crate::message::Localized;
use crate::pipeline::{self, LoadError, Options, Progress};
use crate::profile::Profiles;
use crate::upload::client::Outcome;
use crate::upload::daily::{self, DayAccount, LookupAnswer};
use crate::upload::outbox::KnownRows;
use crate::upload::outbox::{
    self, BatchRecord, LedgerEntry, LedgerSnapshot, Lookup, Outbox, OutboxError, Queued, Recovery,
    State,
};
pub use crate::upload::send::Flow;
use crate::upload::send::{SendHooks, SendOptions, SendReport, send_due};
use crate::upload::target::{Target, TargetError};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The folders the program works in, chosen by the front end (the per-user folders, or
/// `SHEETBRIDGE_DATA_DIR` / `SHEETBRIDGE_CONFIG_DIR`): the one struct the command line, the
/// window, the workflow, the unattended work and the support kit are all given.
///
/// Either may be missing (no home folder and no variable). What cannot work without the data
/// folder asks [`Folders::data_dir`], where its absence becomes the one error
/// ([`OutboxError::NoDataDir`], saying what to set); [`load`] without one only reads and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Folders {
    /// Outbox database, batch files, ledger, saved edits, logs. Private to the user.
    pub data: Option<PathBuf>,
    /// Profiles, targets, settings, packs.
    pub config: Option<PathBuf>,
}

impl Folders {
    /// The data folder, or the error that says to set one: the one check of its absence.
    pub fn data_dir(&self) -> Result<&Path, OutboxError> {
        self.data.as_deref().ok_or(OutboxError::NoDataDir)
    }

    /// The user's targets (`<config>/targets`).
    pub fn targets_dir(&self) -> Option<PathBuf> {
        self.config.as_ref().map(|c| c.join("targets"))
    }

    /// The user's profiles (`<config>/profiles`).
    pub fn profiles_dir(&self) -> Option<PathBuf> {
        self.config.as_ref().map(|c| c.join("profiles"))
    }

    /// The built-in profiles and the user's.
    pub fn profiles(&self) -> Profiles {
        Profiles::load(self.profiles_dir().as_deref())
    }

    /// A target by file stem or path (the user's first, then the built-in ones).
    pub fn target(&self, name: &str) -> Result<Target, TargetError> {
        Target::find(name, self.targets_dir().as_deref())
    }

    /// Where the clerk's edits are kept (nowhere without a data folder).
    pub fn edit_store(&self) -> Option<EditStore> {
        self.data.as_deref().map(EditStore::new)
    }

    /// The ledger of `target` (of every target when `None`), read without opening the outbox
    /// for writing; `None` when nothing was ever confirmed here.
    pub fn ledger(&self, target: Option<&Target>) -> Result<Option<LedgerSnapshot>, OutboxError> {
        outbox::read_ledger(self.data_dir()?, target)
    }

    /// Confirmed rows by barcode or by ID number, read-only (see [`Workspace::lookup`]).
    pub fn lookup(&self, query: &Lookup) -> Result<Vec<LedgerEntry>, OutboxError> {
        outbox::read_lookup(self.data_dir()?, query)
    }
}

/// A file loaded and checked, with the clerk's saved decisions applied.
pub struct Loaded {
    pub batch: Batch,
    /// The clerk's edits of this file, to record further ones; `None` when the file's content
    /// could not be hashed (then nothing is saved).
    pub edits: Option<FileEdits>,
    /// What was restored from earlier work on the same content.
    pub restored: Restored,
    /// Things that did not stop the load, for the clerk: the ledger or the saved edits could
    /// not be read. (Chinese, English.)
    pub warnings: Vec<(String, String)>,
}

/// Loads and checks `path` through the one pipeline: rows already confirmed on `target` (on
/// any target when `None`) are marked `already_uploaded`, and the clerk's saved edits and
/// exclusions for this content are applied.
///
/// Without a data folder there is nothing to add (no outbox can open, so nothing was confirmed
/// or saved from here): the file is only read and checked.
pub fn load(
    folders: &Folders,
    profiles: &Profiles,
    path: &Path,
    mut options: Options,
    target: Option<&Target>,
    progress: &dyn Progress,
) -> Result<Loaded, LoadError> {
    let Some(store) = folders.edit_store() else {
        return load_alone(profiles, path, options, progress);
    };
    let mut warnings = Vec::new();
    if options.ledger.is_none() {
        match folders.ledger(target) {
            Ok(Some(ledger)) => options.ledger = Some(Arc::new(ledger)),
            Ok(None) => {}
            Err(e) => warnings.push((
                format!("读不了已上报记录，本次不检查重复上报：{e}"),
                format!(
                    "ledger not read, no already_uploaded check: {}",
                    e.english()
                ),
            )),
        }
    }
    let mut batch = pipeline::load(path, profiles, &options, progress)?;
    // The front end's hash when it has one: an opened file is read for its hash once.
    let hash = match options.hash.take() {
        Some(hash) => Ok(hash),
        None => crate::digest::file_sha256(path),
    };
    let (edits, restored) = match hash {
        Ok(hash) => match store.load(&hash) {
            Ok(saved) => {
                let restored = crate::edits::apply(&mut batch, &saved);
                (Some(FileEdits::new(store, hash, saved)), restored)
            }
            Err(e) => {
                warnings.push(e.pair());
                (None, Restored::default())
            }
        },
        Err(e) => {
            let detail = crate::message::io_message(&e);
            warnings.push((
                format!("无法读取文件内容来恢复上次的修改：{detail}"),
                format!("cannot hash the file to restore earlier edits: {detail}"),
            ));
            (None, Restored::default())
        }
    };
    Ok(Loaded {
        batch,
        edits,
        restored,
        warnings,
    })
}

/// [`load`] without a data folder (convert and the window can run without one): nothing saved
/// to restore, no ledger to mark rows already uploaded.
fn load_alone(
    profiles: &Profiles,
    path: &Path,
    options: Options,
    progress: &dyn Progress,
) -> Result<Loaded, LoadError> {
    let batch = pipeline::load(path, profiles, &options, progress)?;
    Ok(Loaded {
        batch,
        edits: None,
        restored: Restored::default(),
        warnings: Vec::new(),
    })
}

/// The outbox of one process, with the folders it lives in.
pub struct Workspace {
    folders: Folders,
    /// `folders.data`, there when the workspace opened.
    data: PathBuf,
    outbox: Outbox,
    recovery: Recovery,
}

/// What `upload FILE` (and the watcher, and the window's "上传到省平台") did with one file.
#[derive(Debug, Clone)]
pub struct FileUpload {
    /// Each batch of the file's ready rows: new, or queued or sent before.
    pub queued: Vec<Queued>,
    /// Rows of the file already confirmed on this target (not queued again).
    pub already_uploaded: usize,
    /// The send run.
    pub report: SendReport,
    /// The file's batches as they are after the run.
    pub batches: Vec<BatchRecord>,
}

/// The state of one file's batches after an upload, the first that applies (target.md, "Exit
/// codes").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Nothing could be done: no ready row and nothing uploaded before, or the login refused.
    Nothing,
    /// A batch needs a person: rejected, or `waiting`.
    NeedsPerson,
    /// Batches are still queued for retry (or being sent by another program).
    Queued,
    /// Every batch confirmed (or every row uploaded before).
    Done,
}

impl FileUpload {
    pub fn state(&self) -> FileState {
        if self.report.login_refused.is_some()
            || (self.queued.is_empty() && self.already_uploaded == 0)
        {
            return FileState::Nothing;
        }
        if self
            .batches
            .iter()
            .any(|b| matches!(b.state, State::Rejected | State::Waiting))
        {
            FileState::NeedsPerson
        } else if self
            .batches
            .iter()
            .any(|b| matches!(b.state, State::Queued | State::Sending))
        {
            FileState::Queued
        } else {
            FileState::Done
        }
    }
}

impl Workspace {
    /// Opens the outbox in `folders.data` (created private if needed), once per process: see
    /// `Outbox::open` for what it recovers, migrates and quarantines. Files of batches
    /// confirmed more than `keep_days` ago are deleted. Without a data folder:
    /// [`OutboxError::NoDataDir`].
    pub fn open(folders: Folders, keep_days: u32) -> Result<Workspace, OutboxError> {
        let data = folders.data_dir()?.to_path_buf();
        // A data folder made by an older version was readable by every local account. Not
        // being able to change that (a file of another owner) is logged; it does not stop the
        // clerk's work.
        for dir in [data.clone(), data.join("outbox")] {
            if let Err(e) = crate::privacy::tighten(&dir) {
                ::log::warn!(
                    target: "sheetbridge::workspace",
                    "cannot make {} private: {}",
                    crate::paths::file_name(&dir),
                    crate::message::io_message(&e)
                );
            }
        }
        let (outbox, recovery) = Outbox::open(&data, keep_days, daily::SCHEMA)?;
        // The day's record keeps 90 days (daily.md).
        if let Err(e) = daily::prune(outbox.conn()) {
            ::log::warn!(target: "sheetbridge::workspace", "day's record not pruned: {e}");
        }
        Ok(Workspace {
            folders,
            data,
            outbox,
            recovery,
        })
    }

    /// The outbox and what opening it found (for the outbox's own tests).
    #[cfg(test)]
    pub(crate) fn into_parts(self) -> (Outbox, Recovery) {
        (self.outbox, self.recovery)
    }

    pub fn folders(&self) -> &Folders {
        &self.folders
    }

    /// The data folder the outbox is in.
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// What opening found and tidied up.
    pub fn recovery(&self) -> &Recovery {
        &self.recovery
    }

    /// The outbox's batches, for queueing, listing and a person's decisions: the one way a
    /// front end reaches them (no front end holds the outbox itself).
    pub fn batches(&mut self) -> Batches<'_> {
        Batches {
            outbox: &mut self.outbox,
        }
    }

    /// The ledger of `target` (every target's when `None`).
    pub fn ledger(&self, target: Option<&Target>) -> Result<LedgerSnapshot, OutboxError> {
        self.outbox.ledger(target)
    }

    /// The rows a new load for `target` must not queue again: confirmed on it (its ledger), or
    /// in a batch not yet decided (queued, sending or waiting), read on the outbox's own
    /// connection.
    pub fn known_rows(&self, target: &Target) -> Result<KnownRows, OutboxError> {
        self.outbox.known_rows(target)
    }

    /// Confirmed rows found by barcode, or by ID number through its hash, newest first, each
    /// with its target, batch, source file name and confirmation time (the ledger alone; see
    /// [`Workspace::lookup`] for every state).
    pub fn ledger_lookup(&self, query: &Lookup) -> Result<Vec<LedgerEntry>, OutboxError> {
        self.outbox.lookup(query)
    }

    /// Records every row of a file handled for `target` in the day's record (daily.md): its
    /// check's verdict, its file and row. [`Workspace::queue`] does it first; `convert
    /// --target` and the window after a check call it alone.
    pub fn record(&mut self, target: &Target, batch: &Batch) -> Result<(), OutboxError> {
        self.batches().record(target, batch)
    }

    /// Queues the batch's ready rows for `target` (see [`Outbox::queue`]), after recording
    /// every row in the day's record. Positive rows (阳性, 待复核) go first, in batches of their
    /// own, so that they are sent ahead of every other batch (daily.md, "Positives first").
    pub fn queue(&mut self, target: &Target, batch: &Batch) -> Result<Vec<Queued>, OutboxError> {
        self.batches().queue(target, batch)
    }

    /// "已在省平台网站手工上报" / `mark-uploaded`: the ready rows of an upload sheet the clerk
    /// uploaded by hand become 已手工上报 in the day's record and enter the target's ledger (so
    /// they are `already_uploaded` from now on, like confirmed rows). Returns how many rows.
    pub fn mark_uploaded(&mut self, target: &Target, batch: &Batch) -> Result<usize, OutboxError> {
        self.batches().mark_uploaded(target, batch)
    }

    /// The day's account of `date` (`YYYY-MM-DD`) for `target` (its identity, however its
    /// rows were handled: by stem, path or a copy of its file), or every target: each sample with its state, reason and place,
    /// positives first, and the day by hour.
    pub fn day_account(
        &self,
        date: &str,
        target: Option<&Target>,
    ) -> Result<DayAccount, OutboxError> {
        daily::day_account(self.outbox.conn(), date, target).map_err(|e| self.db_error(e))
    }

    /// Every file the day's record lists (the exports and sheets handled): an account is never
    /// written over one ([`daily::write_account`]).
    pub fn handled_files(&self) -> Result<Vec<std::path::PathBuf>, OutboxError> {
        daily::handled_files(self.outbox.conn()).map_err(|e| self.db_error(e))
    }

    /// Every sample of an ID number (any spelling), a barcode or a name, with its state and
    /// reason; and what the record covers, for an answer of "没有记录". Rows confirmed before the
    /// record existed are found in the ledger.
    pub fn lookup(&self, query: &str) -> Result<LookupAnswer, OutboxError> {
        let query = daily::Query::new(query);
        let mut answer = daily::lookup(self.outbox.conn(), &query).map_err(|e| self.db_error(e))?;
        for q in &query.ledger_queries() {
            for e in self.outbox.lookup(q)? {
                daily::add_ledger_entry(&mut answer, e);
            }
        }
        Ok(answer)
    }

    fn db_error(&self, e: daily::DbError) -> OutboxError {
        self.outbox.db_error(e)
    }

    /// Sends what is due (only the batches in `only`, when given), retrying for up to
    /// `max_wait`.
    pub fn send(
        &mut self,
        keys: &Finder,
        max_wait: Duration,
        only: Option<HashSet<String>>,
        hooks: &mut dyn Hooks,
    ) -> Result<SendReport, OutboxError> {
        // Positives first (daily.md): their batches go before any other due batch.
        let positive = daily::positive_batches(self.outbox.conn()).map_err(|e| self.db_error(e))?;
        let positive: HashSet<String> = positive
            .into_iter()
            .filter(|id| only.as_ref().is_none_or(|o| o.contains(id)))
            .collect();
        let mut report = SendReport::default();
        if !positive.is_empty() {
            let opts = SendOptions {
                max_wait: Duration::ZERO,
                only: Some(positive),
                targets_dir: self.folders.targets_dir(),
            };
            report = send_due(&mut self.outbox, keys, &opts, &mut Relay(hooks))?;
            self.settle_confirmed()?;
        }
        let opts = SendOptions {
            max_wait,
            only,
            targets_dir: self.folders.targets_dir(),
        };
        let rest = send_due(&mut self.outbox, keys, &opts, &mut Relay(hooks))?;
        self.settle_confirmed()?;
        report.attempts += rest.attempts;
        report.login_refused = report.login_refused.or(rest.login_refused);
        for e in rest.broken_targets {
            if !report.broken_targets.contains(&e) {
                report.broken_targets.push(e);
            }
        }
        Ok(report)
    }

    /// Confirmed batches' samples become 已确认 in the day's record; each positive confirmed
    /// is logged once with how long it took (daily.md: the hospital shows how long it took).
    fn settle_confirmed(&mut self) -> Result<(), OutboxError> {
        let found = daily::settle_confirmed(self.outbox.conn()).map_err(|e| self.db_error(e))?;
        for p in found {
            let minutes = (p.confirmed_at - p.seen).max(0) / 60_000;
            ::log::info!(
                target: "sheetbridge",
                "positive confirmed: barcode {} ({}) for {}, batch {}, confirmed {}, {} min after it was handled",
                crate::paths::for_line(&p.barcode),
                p.name,
                crate::paths::for_line(&p.target),
                p.batch,
                daily::local_time(p.confirmed_at),
                minutes
            );
        }
        Ok(())
    }

    /// Positives of `date` the platform does not have yet, over every target (the start
    /// screen's and the title's "阳性 N 人未上报"; `watch --once` exits 3 while there is one).
    pub fn positives_waiting(&self, date: &str) -> Result<usize, OutboxError> {
        Ok(self.day_account(date, None)?.positives_waiting())
    }

    /// Positives handled within `within` (of any sampling day: an export of yesterday's
    /// samples handled this morning counts) that the platform does not have yet.
    /// By sampling day (`YYYY-MM-DD`, oldest first), so a message can say which day's account
    /// lists them.
    pub fn recent_positives_waiting(
        &self,
        within: Duration,
    ) -> Result<Vec<(String, usize)>, OutboxError> {
        let since = crate::upload::outbox::now_ms() - within.as_millis() as i64;
        daily::positives_waiting_since(self.outbox.conn(), since).map_err(|e| self.db_error(e))
    }

    /// `upload FILE`: queues the ready rows of a loaded file (its batches queued before are
    /// found, not refused), makes the file's queued batches due now, sends what is due, and
    /// reports the state of the file's batches, whoever queued them.
    pub fn upload(
        &mut self,
        target: &Target,
        batch: &Batch,
        keys: &Finder,
        max_wait: Duration,
        hooks: &mut dyn Hooks,
    ) -> Result<FileUpload, OutboxError> {
        let queued = self.queue(target, batch)?;
        let already_uploaded = already_uploaded(batch);
        let ids: Vec<String> = queued.iter().map(|q| q.id().to_owned()).collect();
        self.outbox.due_now(&ids)?;
        let report = self.send(keys, max_wait, None, hooks)?;
        let mut batches = Vec::new();
        for id in &ids {
            if let Some(b) = self.outbox.get(id)? {
                batches.push(b);
            }
        }
        Ok(FileUpload {
            queued,
            already_uploaded,
            report,
            batches,
        })
    }
}

/// The outbox's batches as a front end uses them, from [`Workspace::batches`] or, during a send
/// run, from [`Hooks::idle`]: every queueing goes through [`Batches::queue`] and its log line.
pub struct Batches<'a> {
    outbox: &'a mut Outbox,
}

impl Batches<'_> {
    /// Queues the batch's ready rows for `target` (see [`Outbox::queue`]), each batch logged,
    /// after recording every row in the day's record. Positive rows (阳性, 待复核) go first, in
    /// batches of their own, so that they are sent ahead of every other batch (daily.md,
    /// "Positives first"). Every queue of the program goes through here.
    pub fn queue(&mut self, target: &Target, batch: &Batch) -> Result<Vec<Queued>, OutboxError> {
        self.queue_rows(target, batch, false)
    }

    /// [`Batches::queue`] for the positive ready rows alone, in the same batches of their own
    /// (so queueing the whole file later finds them queued): the window's "先上报阳性结果",
    /// offered as soon as a file is checked (daily.md).
    pub fn queue_positives(
        &mut self,
        target: &Target,
        batch: &Batch,
    ) -> Result<Vec<Queued>, OutboxError> {
        self.queue_rows(target, batch, true)
    }

    /// The one body of [`Batches::queue`] and [`Batches::queue_positives`]: the day's record,
    /// then the positive rows' batches, then (unless `positives_only`) the others'.
    fn queue_rows(
        &mut self,
        target: &Target,
        batch: &Batch,
        positives_only: bool,
    ) -> Result<Vec<Queued>, OutboxError> {
        let outbox = &mut *self.outbox;
        daily::record(outbox.conn(), target, batch).map_err(|e| outbox.db_error(e))?;
        let (positive, mut other): (Vec<usize>, Vec<usize>) = batch
            .rows_with(RowStatus::Ready)
            .partition(|&i| daily::is_positive(batch, i));
        if positives_only {
            other.clear();
        }
        let source = crate::paths::file_name(&batch.source.path);
        let mut queued = Vec::new();
        let mut chunks: Vec<(String, Vec<usize>)> = Vec::new();
        for rows in [positive, other] {
            if rows.is_empty() {
                continue;
            }
            let these = outbox.queue(target, batch, &rows, &source)?;
            // One entry per chunk of `max_rows_per_file` rows, in order (Outbox::queue).
            for (q, chunk) in these
                .iter()
                .zip(rows.chunks(target.max_rows_per_file.max(1)))
            {
                chunks.push((q.id().to_owned(), chunk.to_vec()));
            }
            queued.extend(these);
        }
        for q in &queued {
            let (rows, new) = match q {
                Queued::New { rows, .. } => (*rows, true),
                Queued::Already { .. } => (0, false),
            };
            crate::log::event::queued(q.id(), &target.name, rows, new);
        }
        daily::queued(outbox.conn(), target, batch, &chunks).map_err(|e| outbox.db_error(e))?;
        Ok(queued)
    }

    /// [`Workspace::record`]: every row of a file handled for `target` in the day's record.
    pub fn record(&mut self, target: &Target, batch: &Batch) -> Result<(), OutboxError> {
        daily::record(self.outbox.conn(), target, batch).map_err(|e| self.outbox.db_error(e))
    }

    /// [`Workspace::mark_uploaded`]: the ready rows uploaded by hand become 已手工上报 and
    /// enter the target's ledger. Returns how many rows.
    pub fn mark_uploaded(&mut self, target: &Target, batch: &Batch) -> Result<usize, OutboxError> {
        // Every row is recorded first (a rejected one too: lookup finds it, with its error).
        daily::record(self.outbox.conn(), target, batch).map_err(|e| self.outbox.db_error(e))?;
        let rows: Vec<usize> = batch.rows_with(RowStatus::Ready).collect();
        let n = daily::mark_manual(self.outbox.conn(), target, batch, &rows)
            .map_err(|e| self.outbox.db_error(e))?;
        ::log::info!(
            target: "sheetbridge",
            "marked uploaded by hand: {} rows of {} for {}",
            n,
            crate::paths::file_name(&batch.source.path),
            target.name
        );
        Ok(n)
    }

    /// Makes these queued batches due now (a clerk uploads their file again).
    pub fn due_now(&mut self, ids: &[String]) -> Result<(), OutboxError> {
        self.outbox.due_now(ids)
    }

    /// "现在重试": every queued batch is due now. Returns how many.
    pub fn all_due_now(&mut self) -> Result<usize, OutboxError> {
        self.outbox.all_due_now()
    }

    /// One batch.
    pub fn get(&self, id: &str) -> Result<Option<BatchRecord>, OutboxError> {
        self.outbox.get(id)
    }

    /// Every batch, oldest first.
    pub fn list(&self) -> Result<Vec<BatchRecord>, OutboxError> {
        self.outbox.list()
    }

    /// A person's decision: send a `waiting` or `rejected` batch again (see [`Outbox::retry`]).
    pub fn retry(&mut self, id: &str) -> Result<(), OutboxError> {
        self.outbox.retry(id)
    }

    /// A person's decision: drop a `waiting` or `rejected` batch (see [`Outbox::forget`]).
    pub fn forget(&mut self, id: &str) -> Result<(), OutboxError> {
        self.outbox.forget(id)
    }

    /// Deletes the files of batches confirmed more than `keep_days` ago (the setting changed).
    pub fn delete_expired(&mut self, keep_days: u32) -> Result<usize, OutboxError> {
        self.outbox.delete_expired(keep_days)
    }
}

/// Hears a send run ([`Workspace::send`], [`Workspace::upload`]): each attempt's outcome, and
/// a turn between attempts with the batches, for the other work of the program that owns the
/// workspace (the window's sender thread queues and applies a person's decisions there).
pub trait Hooks {
    fn attempt(&mut self, _batch: &BatchRecord, _outcome: &Outcome) {}
    fn idle(&mut self, _batches: &mut Batches<'_>) -> Result<Flow, OutboxError> {
        Ok(Flow::Continue)
    }
}

impl<F: FnMut(&BatchRecord, &Outcome)> Hooks for F {
    fn attempt(&mut self, batch: &BatchRecord, outcome: &Outcome) {
        self(batch, outcome)
    }
}

/// A front end's [`Hooks`] as the send loop hears them: its turn gets [`Batches`], never the
/// outbox.
struct Relay<'h>(&'h mut dyn Hooks);

impl SendHooks for Relay<'_> {
    fn attempt(&mut self, batch: &BatchRecord, outcome: &Outcome) {
        self.0.attempt(batch, outcome)
    }

    fn idle(&mut self, outbox: &mut Outbox) -> Result<Flow, OutboxError> {
        self.0.idle(&mut Batches { outbox })
    }
}

/// Rows of the batch left out because they were already confirmed on the platform (the
/// `already_uploaded` warning; rows with errors or left out by the clerk are not counted).
pub fn already_uploaded(batch: &Batch) -> usize {
    (0..batch.len())
        .filter(|&i| {
            batch.status(i) == RowStatus::Duplicate
                && batch
                    .issues(i)
                    .iter()
                    .any(|x| x.code == crate::issue::Code::AlreadyUploaded)
        })
        .count()
}
