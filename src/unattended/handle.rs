//! The seam between unattended reporting and the conversion and upload workflow: the ONE place
//! where [`super::watch`] converts a file, queues its ready rows and sends the outbox, exactly as
//! `sheetbridge upload FILE --target TARGET` does, through the library's workflow layer
//! ([`crate::workspace`]): the clerk's saved edits apply, the ledger is the target's, and the
//! outbox is the process's one [`Workspace`]. Everything else in `unattended` only sees
//! [`Workflow`], [`FileResult`] and [`OutboxState`].

use crate::credentials::Finder;
use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::pipeline::{LoadError, Options};
use crate::profile::Profiles;
use crate::upload::client::Outcome;
use crate::upload::outbox::{BatchRecord, OutboxError, State};
use crate::upload::target::Target;
use crate::workspace::{self, Folders, Workspace};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why the workflow could not go on (not a problem of one file: the watcher stops).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum WorkflowError {
    Outbox(#[from] OutboxError),
    Write(#[from] crate::write::WriteError),
    Profile(#[from] crate::profile::ProfileError),
}

impl Localized for WorkflowError {
    fn message(&self) -> Text {
        match self {
            WorkflowError::Outbox(e) => e.message(),
            WorkflowError::Write(e) => e.message(),
            WorkflowError::Profile(e) => e.message(),
        }
    }
}

/// What handling one file gave.
#[derive(Debug, Clone, PartialEq)]
pub enum FileResult {
    /// Read and checked; its ready rows are queued (committed to the outbox).
    Converted(Counts),
    /// Unreadable, or no profile recognises it (`no_template`): the reason in both languages.
    Unreadable {
        zh: String,
        en: String,
        no_template: bool,
    },
    /// Read, but no longer the file that settled (changed, or swapped for a link while it was
    /// read): nothing was queued; a later look takes it again.
    Changed,
}

/// The rows of one converted file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub total: usize,
    pub ready: usize,
    /// Rejected: they need the clerk.
    pub rejected: usize,
    /// Left out by the clerk (a decision already made).
    pub excluded: usize,
    /// Repeats, rows already uploaded, rows already queued.
    pub duplicate: usize,
    /// Batches this file's ready rows went into (new or queued before).
    pub batches: usize,
    /// Rejected rows written to the errors workbook.
    pub errors_written: usize,
}

/// The whole outbox after a run (the exit code of `watch --once`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OutboxState {
    /// Batches rejected by the platform or `waiting` for a person.
    pub needs_person: usize,
    /// Batches still queued (or being sent).
    pub queued: usize,
}

/// What a send gave.
#[derive(Debug, Clone, Default)]
pub struct Sent {
    pub attempts: usize,
    /// The login was refused: nothing more can be done until the credentials are fixed.
    pub login_refused: Option<Outcome>,
    /// Targets that could not be loaded (their batches stay queued), as messages.
    pub broken_targets: Vec<String>,
}

/// Options of the conversion.
#[derive(Debug, Clone, Default)]
pub struct ConvertOptions {
    pub profile: Option<String>,
    pub lab: Option<String>,
}

/// The workflow for one target: the outbox (owned for the whole run), the profiles, and where
/// each target's credentials are found (every batch is sent with its own target's).
pub struct Workflow {
    workspace: Workspace,
    target: Target,
    profiles: Profiles,
    convert: ConvertOptions,
    keys: Finder,
}

impl Workflow {
    /// Opens the outbox in `folders.data` (the process's one [`Workspace`]) for `target`.
    pub fn open(
        folders: Folders,
        retention_days: u32,
        target: Target,
        profiles: Profiles,
        convert: ConvertOptions,
        keys: Finder,
    ) -> Result<Workflow, WorkflowError> {
        if let Some(p) = &convert.profile {
            profiles.find(p)?;
        }
        let workspace = Workspace::open(folders, retention_days)?;
        Ok(Workflow {
            workspace,
            target,
            profiles,
            convert,
            keys,
        })
    }

    /// The workflow on a workspace the caller already owns (the window's sender thread, the one
    /// owner of the outbox in its process); [`Workflow::into_workspace`] gives it back.
    pub fn on(
        workspace: Workspace,
        target: Target,
        profiles: Profiles,
        convert: ConvertOptions,
        keys: Finder,
    ) -> Workflow {
        Workflow {
            workspace,
            target,
            profiles,
            convert,
            keys,
        }
    }

    /// The workspace back, for its owner.
    pub fn into_workspace(self) -> Workspace {
        self.workspace
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Converts `path` and queues its ready rows; when some rows are rejected they are written
    /// to `errors_out` (before the file moves: the workbook is made from the source).
    ///
    /// Rows already confirmed, or waiting in a batch that is queued, being sent or waiting for
    /// a person, count as duplicates: a newer version of a growing export, or the same file
    /// after a crash, never queues a row twice.
    ///
    /// `still_settled` is asked after the file was read and before anything is queued: a file
    /// swapped for a link (or changed) while it was read is not queued ([`FileResult::Changed`]).
    pub fn handle_file(
        &mut self,
        path: &Path,
        errors_out: &Path,
        still_settled: &dyn Fn() -> bool,
    ) -> Result<FileResult, WorkflowError> {
        let ledger = self.workspace.known_rows(&self.target)?;
        let opts = Options {
            profile: self.convert.profile.clone(),
            lab: self.convert.lab.clone(),
            ledger: Some(Arc::new(ledger)),
            ..Options::default()
        };
        let loaded = match workspace::load(
            self.workspace.folders(),
            &self.profiles,
            path,
            opts,
            Some(&self.target),
            &(),
        ) {
            Ok(l) => l,
            Err(LoadError::Profile(e)) => return Err(e.into()),
            Err(e) => {
                let no_template = matches!(e, LoadError::NoMatch(_));
                let (zh, en) = e.pair();
                return Ok(FileResult::Unreadable {
                    zh,
                    en,
                    no_template,
                });
            }
        };
        // The read followed the name: if the name now leads elsewhere (a link put in its place
        // between the last look and the read), what was read is not the settled file.
        if !still_settled() {
            return Ok(FileResult::Changed);
        }
        let batch = loaded.batch;
        let s = batch.summary();
        let queued = self.workspace.queue(&self.target, &batch)?;
        let mut counts = Counts {
            total: s.total,
            ready: s.ready,
            rejected: s.rejected,
            excluded: s.excluded,
            duplicate: s.duplicate,
            batches: queued.len(),
            errors_written: 0,
        };
        if s.rejected > 0 {
            counts.errors_written = crate::write::write_rejected(&batch, errors_out, Lang::Zh)?;
        }
        Ok(FileResult::Converted(counts))
    }

    /// Sends every due batch of the outbox (one attempt each, or retrying for `max_wait`).
    pub fn send(
        &mut self,
        max_wait: std::time::Duration,
        on_attempt: &mut dyn FnMut(&BatchRecord, &Outcome),
    ) -> Result<Sent, WorkflowError> {
        let mut hooks = on_attempt;
        let report = self
            .workspace
            .send(&self.keys, max_wait, None, &mut hooks)?;
        Ok(Sent {
            attempts: report.attempts,
            login_refused: report.login_refused,
            broken_targets: report
                .broken_targets
                .iter()
                .map(|e| e.to_string())
                .collect(),
        })
    }

    /// Positives handled in the last two days that the platform does not have yet (daily.md:
    /// `watch --once` exits 3 while there is one), by sampling day, oldest first.
    pub fn positives_waiting(&self) -> Result<Vec<(String, usize)>, WorkflowError> {
        Ok(self
            .workspace
            .recent_positives_waiting(std::time::Duration::from_secs(2 * 86_400))?)
    }

    /// The scheduled run after 16:00 (local `now`) writes the day's account (every target) to
    /// `FOLDER/对账/YYYY-MM-DD.xlsx` (daily.md); each later run rewrites it, so the last run's
    /// stays. Before 16:00 nothing is written (`None`).
    pub fn write_day_account(
        &self,
        folder: &Path,
        now: chrono::DateTime<chrono::Local>,
    ) -> Result<Option<PathBuf>, WorkflowError> {
        write_day_account(&self.workspace, folder, now)
    }

    /// The state of the whole outbox.
    pub fn state(&mut self) -> Result<OutboxState, WorkflowError> {
        let mut s = OutboxState::default();
        for b in self.workspace.batches().list()? {
            match b.state {
                State::Rejected | State::Waiting => s.needs_person += 1,
                State::Queued | State::Sending => s.queued += 1,
                State::Confirmed => {}
            }
        }
        Ok(s)
    }
}

/// From this hour (local) the scheduled run writes the day's account (daily.md).
pub const ACCOUNT_FROM_HOUR: u32 = 16;

/// See [`Workflow::write_day_account`].
fn write_day_account(
    workspace: &Workspace,
    folder: &Path,
    now: chrono::DateTime<chrono::Local>,
) -> Result<Option<PathBuf>, WorkflowError> {
    use chrono::Timelike;
    if now.hour() < ACCOUNT_FROM_HOUR {
        return Ok(None);
    }
    let date = now.format("%Y-%m-%d").to_string();
    let dir = folder.join("对账");
    std::fs::create_dir_all(&dir).map_err(|e| crate::write::WriteError::Io {
        path: dir.clone(),
        reason: crate::message::io_message(&e),
    })?;
    let path = dir.join(format!("{date}.xlsx"));
    let account = workspace.day_account(&date, None)?;
    let handled = workspace.handled_files()?;
    crate::upload::daily::write_account(&account, &path, Lang::Zh, &handled)?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_day_s_account_is_written_from_16_00() {
        let dir = tempfile::tempdir().unwrap();
        let folders = Folders {
            data: Some(dir.path().join("data")),
            config: None,
        };
        let ws = Workspace::open(folders, 7).unwrap();
        let folder = dir.path().join("待上报");
        std::fs::create_dir_all(&folder).unwrap();
        let at = |h, m| {
            chrono::Local
                .with_ymd_and_hms(2026, 12, 6, h, m, 0)
                .unwrap()
        };
        assert_eq!(write_day_account(&ws, &folder, at(15, 59)).unwrap(), None);
        assert!(!folder.join("对账").exists());
        let written = write_day_account(&ws, &folder, at(16, 0)).unwrap().unwrap();
        assert_eq!(written, folder.join("对账/2026-12-06.xlsx"));
        assert!(written.is_file());
        // A later run rewrites it.
        assert_eq!(
            write_day_account(&ws, &folder, at(18, 30)).unwrap(),
            Some(written)
        );
    }
}
