//! Long work off the UI thread: loading and checking a file, writing the results. A job is a
//! [`Task`] (the window's one way to start a worker) that also reports progress through
//! atomics; the window polls it each frame. One job at a time.

use super::task::{self, Task};
use eframe::egui;
use sheetbridge::batch::Batch;
use sheetbridge::pipeline::{LoadError, Options, Progress};
use sheetbridge::profile::Profiles;
use sheetbridge::write::{self, WriteError};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::channel;

/// Progress shared between a job's thread and the window.
pub struct Shared {
    rows: AtomicU64,
    of: AtomicU64,
    cancel: AtomicBool,
    ctx: egui::Context,
}

impl Progress for Shared {
    fn rows_read(&self, rows: u64, of: Option<u64>) {
        self.rows.store(rows, Ordering::Relaxed);
        self.of.store(of.unwrap_or(0), Ordering::Relaxed);
        self.ctx.request_repaint();
    }

    fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// What a finished job hands back.
pub enum Done {
    Loaded {
        path: PathBuf,
        result: Box<Result<sheetbridge::workspace::Loaded, LoadError>>,
        /// The file's claim (unattended.md): no watcher touches it while the window holds it.
        claim: Option<sheetbridge::unattended::claim::Claim>,
    },
    Exported {
        batch: Box<Batch>,
        result: Result<Exported, WriteError>,
    },
    /// Rows queued in the outbox: (batches new, batches queued before), or why not.
    Queued {
        batch: Box<Batch>,
        result: super::upload::QueueResult,
    },
    /// Rows marked as uploaded by hand on the platform's website (how many), or why not.
    Marked {
        batch: Box<Batch>,
        result: Result<usize, (String, String)>,
    },
    /// The file opened is one of the program's own outputs.
    Ours {
        path: PathBuf,
        kind: sheetbridge::unattended::journal::Output,
    },
    /// The sender thread ended while queueing (a bug): the batch is gone with it.
    QueueLost,
}

/// Files an export wrote.
#[derive(Debug, Clone)]
pub struct Exported {
    pub upload: PathBuf,
    pub rows: usize,
    pub rejected: Option<(PathBuf, usize)>,
}

/// The state of a job.
pub enum Poll {
    Running,
    Done(Done),
    Died,
}

/// A running job.
pub struct Job {
    pub what: JobKind,
    shared: Arc<Shared>,
    task: Task<Done>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum JobKind {
    Load(PathBuf),
    Export,
    Queue,
    /// "已在省平台网站手工上报".
    Mark,
}

impl Job {
    fn spawn(
        what: JobKind,
        ctx: &egui::Context,
        work: impl FnOnce(&Shared) -> Done + Send + 'static,
    ) -> Job {
        let shared = Arc::new(Shared {
            rows: AtomicU64::new(0),
            of: AtomicU64::new(0),
            cancel: AtomicBool::new(false),
            ctx: ctx.clone(),
        });
        let thread_shared = Arc::clone(&shared);
        let task = Task::spawn("job", ctx, move || work(&thread_shared));
        Job { what, shared, task }
    }

    /// Loads and checks a file through the workspace: rows already uploaded to `target` (to
    /// any target when none is chosen) are marked as such, and the clerk's saved edits and
    /// exclusions for the same content are applied.
    pub fn load(
        ctx: &egui::Context,
        path: PathBuf,
        profiles: Profiles,
        options: Options,
        folders: sheetbridge::workspace::Folders,
        target: Option<sheetbridge::upload::target::Target>,
        sender: Option<std::sync::mpsc::Sender<super::upload::Cmd>>,
    ) -> Job {
        let p = path.clone();
        Job::spawn(JobKind::Load(path), ctx, move |shared| {
            // The file's content is hashed once, here (with a data folder: its claim, the
            // own-output check and the saved edits all need it), not once for each.
            let data = folders.data.as_deref();
            let sha = data.and_then(|_| sheetbridge::digest::file_sha256(&p).ok());
            // The program's own outputs are not exports: said, never read as one.
            if let Some(kind) =
                sheetbridge::unattended::journal::own_output_hashed(data, &p, sha.as_deref())
            {
                return Done::Ours { path: p, kind };
            }
            // Claimed before it is read, so a watcher cannot take it meanwhile. A file a
            // watcher is handling right now is opened all the same, without a claim.
            let claim = data.zip(sha.as_deref()).and_then(|(data, sha)| {
                sheetbridge::unattended::claim::claim(data, sha, &p)
                    .ok()
                    .flatten()
            });
            let options = Options {
                hash: sha,
                ..options
            };
            // No data folder: nothing saved to restore, no ledger, no day's record (the
            // workspace knows).
            let recording = folders.data.is_some();
            let result = sheetbridge::workspace::load(
                &folders,
                &profiles,
                &p,
                options,
                target.as_ref(),
                shared,
            )
            .map(|loaded| {
                if recording {
                    record(loaded, target, sender)
                } else {
                    loaded
                }
            });
            Done::Loaded {
                result: Box::new(result),
                path: p,
                claim,
            }
        })
    }

    /// Queues the ready rows through the window's sender thread (the one owner of the outbox
    /// in this process); each batch file is written whole first.
    pub fn queue(
        ctx: &egui::Context,
        batch: Batch,
        target: sheetbridge::upload::target::Target,
        positives_only: bool,
        sender: std::sync::mpsc::Sender<super::upload::Cmd>,
    ) -> Job {
        Job::spawn(JobKind::Queue, ctx, move |_| {
            let (reply, answer) = channel();
            let asked = sender.send(super::upload::Cmd::Queue {
                batch: Box::new(batch),
                target: Box::new(target),
                positives_only,
                reply,
            });
            match (asked, answer.recv()) {
                (Ok(()), Ok((batch, result))) => Done::Queued { batch, result },
                // The sender thread is gone: the batch went with it; a bug, shown as such.
                (Err(std::sync::mpsc::SendError(super::upload::Cmd::Queue { batch, .. })), _) => {
                    Done::Queued {
                        batch,
                        result: Err((
                            "上传队列没有运行，请重新打开程序后再上传。".into(),
                            "the upload queue is not running; restart the program".into(),
                        )),
                    }
                }
                _ => Done::QueueLost,
            }
        })
    }

    /// "已在省平台网站手工上报": the batch's ready rows become 已手工上报 for `target` in the
    /// day's record and its ledger, through the sender thread (the same
    /// `Workspace::mark_uploaded` as `sheetbridge mark-uploaded`).
    pub fn mark(
        ctx: &egui::Context,
        batch: Batch,
        target: sheetbridge::upload::target::Target,
        sender: std::sync::mpsc::Sender<super::upload::Cmd>,
    ) -> Job {
        Job::spawn(JobKind::Mark, ctx, move |_| {
            let (reply, answer) = channel();
            let asked = sender.send(super::upload::Cmd::MarkUploaded {
                batch: Box::new(batch),
                target: Box::new(target),
                reply,
            });
            match (asked, answer.recv()) {
                (Ok(()), Ok((batch, result))) => Done::Marked { batch, result },
                (
                    Err(std::sync::mpsc::SendError(super::upload::Cmd::MarkUploaded {
                        batch, ..
                    })),
                    _,
                ) => Done::Marked {
                    batch,
                    result: Err((
                        "上传队列没有运行，请重新打开程序后再试。".into(),
                        "the upload queue is not running; restart the program".into(),
                    )),
                },
                _ => Done::QueueLost,
            }
        })
    }

    /// Writes the upload sheet and, when there are rejected rows, the workbook of them; both
    /// are recorded as the program's own outputs in the journal of `data` (a watched folder
    /// never takes them as input).
    pub fn export(
        ctx: &egui::Context,
        batch: Batch,
        upload: PathBuf,
        rejected: Option<PathBuf>,
        data: Option<PathBuf>,
        lang: sheetbridge::issue::Lang,
    ) -> Job {
        Job::spawn(JobKind::Export, ctx, move |_| {
            let result = (|| {
                let rows = write::write_upload(&batch, &upload)?;
                let rejected = match rejected {
                    Some(path) => {
                        let n = write::write_rejected(&batch, &path, lang)?;
                        Some((path, n))
                    }
                    None => None,
                };
                if let Some(data) = &data {
                    let written: Vec<&std::path::Path> = std::iter::once(upload.as_path())
                        .chain(rejected.as_ref().map(|(p, _)| p.as_path()))
                        .collect();
                    // The files are written: a failure to record them is logged, not shown.
                    if let Err(e) = sheetbridge::unattended::journal::record_written(data, &written)
                    {
                        sheetbridge::log::event::error(&sheetbridge::message::Localized::english(
                            &e,
                        ));
                    }
                }
                Ok(Exported {
                    upload,
                    rows,
                    rejected,
                })
            })();
            Done::Exported {
                batch: Box::new(batch),
                result,
            }
        })
    }

    /// (rows read, of about how many; 0 when unknown).
    pub fn progress(&self) -> (u64, u64) {
        (
            self.shared.rows.load(Ordering::Relaxed),
            self.shared.of.load(Ordering::Relaxed),
        )
    }

    pub fn cancel(&self) {
        self.shared.cancel.store(true, Ordering::Relaxed);
    }

    /// The result, once the job is done.
    pub fn poll(&self) -> Poll {
        match self.task.poll() {
            task::Poll::Done(done) => Poll::Done(done),
            task::Poll::Running => Poll::Running,
            // The thread ended without an answer: a bug, shown as such.
            task::Poll::Died => Poll::Died,
        }
    }
}

/// A file checked for a target goes into the day's record (daily.md) through the sender thread,
/// the one owner of the outbox, and comes back. Without a target or a sender it is not
/// recorded; a sender gone takes nothing (the batch comes back with the command).
fn record(
    mut loaded: sheetbridge::workspace::Loaded,
    target: Option<sheetbridge::upload::target::Target>,
    sender: Option<std::sync::mpsc::Sender<super::upload::Cmd>>,
) -> sheetbridge::workspace::Loaded {
    let (Some(target), Some(sender)) = (target, sender) else {
        return loaded;
    };
    let (reply, answer) = channel();
    let placeholder = loaded.batch.take();
    match sender.send(super::upload::Cmd::Record {
        batch: Box::new(placeholder),
        target: Box::new(target),
        reply,
    }) {
        Ok(()) => {
            if let Ok(batch) = answer.recv() {
                loaded.batch.put_back(*batch);
            }
        }
        Err(std::sync::mpsc::SendError(super::upload::Cmd::Record { batch, .. })) => {
            loaded.batch.put_back(*batch)
        }
        Err(_) => {}
    }
    loaded
}
