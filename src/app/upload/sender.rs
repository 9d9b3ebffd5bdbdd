//! The window's sender thread: it owns the window's workspace (the outbox opened once, at
//! start, and recovered then) and serves the window's commands: queueing a file's rows,
//! sending what is due, a person's retry and forget, and the passes of the window's watcher.

use super::Session;
use super::{Cmd, Msg, Unattended, WatchSetup};
use eframe::egui;
use sheetbridge::credentials::Finder;
use sheetbridge::message::Localized;
use sheetbridge::unattended::handle::{ConvertOptions, Workflow};
use sheetbridge::unattended::journal::Journal;
use sheetbridge::unattended::watch::{self, WatchError};
use sheetbridge::unattended::watcher::Watcher;
use sheetbridge::upload::client::Outcome;
use sheetbridge::upload::outbox::{BatchRecord, OutboxError, Queued};
use sheetbridge::workspace::{Batches, Flow, Folders, Hooks, Workspace};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, TryRecvError};
use std::time::{Duration, Instant};

/// A file must have been still this long before the window's watcher takes it (a browser or a
/// colleague may still be writing it): the same as `watch --settle`'s default.
const SETTLE: Duration = Duration::from_secs(10);

/// How long the window keeps retrying a failing batch in one go before it rests (it starts
/// again at the next upload, at "继续上传", when the credentials change, or at the next start).
const SEND_FOR: Duration = Duration::from_secs(30 * 60);

/// The sender thread: opens the workspace once, then serves the window's commands until the
/// window goes (its channel closes).
pub(super) fn run(
    folders: Folders,
    keep_days: u32,
    rx: &Receiver<Cmd>,
    tx: &Sender<Msg>,
    ctx: &egui::Context,
) {
    let Some(mut ws) = open(folders, keep_days, rx, tx, ctx) else {
        return;
    };
    let data = ws.data().to_path_buf();
    let keys = super::finder(ws.folders().config.clone());
    let mut hooks = WindowHooks::new(rx, tx, ctx, data.clone(), keys);
    hooks.records(&ws.batches());
    hooks.report(&data);
    let mut budget = Budget::default();
    loop {
        let cmd = match rx.recv() {
            Ok(c) => c,
            Err(_) => return,
        };
        let flow = hooks.handle(&mut ws.batches(), cmd);
        if flow == Flow::Now && hooks.creds.is_none() {
            // A retry or a new upload while no run is going: send with the last credentials.
            hooks.creds = hooks.known.clone();
        }
        // New credentials, a retry, a new upload: every queued batch is due now.
        ws = send_runs(ws, &mut hooks, &mut budget, flow != Flow::Continue);
        if hooks.closed {
            return;
        }
    }
}

/// Opens the window's workspace and says what its recovery moved aside. When it cannot be
/// opened, the window is told why and every queue request is answered with the reason (so no
/// job waits for ever) until the window goes: `None`.
fn open(
    folders: Folders,
    keep_days: u32,
    rx: &Receiver<Cmd>,
    tx: &Sender<Msg>,
    ctx: &egui::Context,
) -> Option<Workspace> {
    let ws = match Workspace::open(folders, keep_days) {
        Ok(ws) => ws,
        Err(e) => {
            let (zh, en) = e.pair();
            let _ = tx.send(Msg::Failed(zh, en));
            ctx.request_repaint();
            while let Ok(cmd) = rx.recv() {
                match cmd {
                    Cmd::Queue { batch, reply, .. } => {
                        let _ = reply.send((batch, Err(e.pair())));
                    }
                    Cmd::MarkUploaded { batch, reply, .. } => {
                        let _ = reply.send((batch, Err(e.pair())));
                    }
                    Cmd::Record { batch, reply, .. } => {
                        let _ = reply.send(batch);
                    }
                    _ => {}
                }
            }
            return None;
        }
    };
    if let Some((folder, n)) = &ws.recovery().quarantined {
        let _ = tx.send(Msg::Failed(
            format!(
                "待上报数据库不见了或读不了，但还有 {n} 个待上报文件：已移到「{}」，没有删除。请重新打开原来的文件并上传（同样的行不会重复上报）。",
                sheetbridge::paths::shown(folder)
            ),
            format!(
                "the outbox database was missing or unreadable: {n} batch files moved to {} (nothing deleted); upload their source files again",
                sheetbridge::paths::shown(folder)
            ),
        ));
    }
    Some(ws)
}

/// Send runs, and the watcher's passes that interrupt them, until no run is asked for; gives
/// the workspace back. `fresh`: a person's command started this, so every queued batch is due
/// now and the budget starts anew; a run that resumes after a pass keeps its backoff and what
/// is left of its budget.
fn send_runs(
    mut ws: Workspace,
    hooks: &mut WindowHooks<'_>,
    budget: &mut Budget,
    mut fresh: bool,
) -> Workspace {
    let tx = hooks.tx;
    loop {
        let mut new_work = false;
        if std::mem::take(&mut hooks.pass_due) {
            let data = hooks.data.clone();
            let (back, queued) = hooks.pass(ws, &data);
            ws = back;
            new_work = queued;
            if queued && hooks.creds.is_none() {
                if hooks.known.is_some() {
                    hooks.creds = hooks.known.clone();
                } else {
                    let _ = tx.send(Msg::PassQueued);
                }
            }
        }
        let Some(creds) = hooks.creds.take() else {
            return ws;
        };
        let fresh_run = std::mem::take(&mut fresh);
        let anew = fresh_run || new_work || std::mem::take(&mut hooks.anew);
        let Some(max_wait) = budget.left(anew, Instant::now()) else {
            // The run's budget is spent: it rests until the clerk or new files start it.
            let _ = tx.send(Msg::SenderDone(hooks.last.take()));
            return ws;
        };
        let _ = tx.send(Msg::Sending(true));
        if fresh_run {
            let _ = ws.batches().all_due_now();
        }
        hooks.in_run = true;
        // The clerk's typed credentials go to their own target's batches; every other
        // target's batches get that target's own (environment, else remembered).
        let keys = hooks.keys.clone().with_session(
            sheetbridge::credentials::Account::Target(creds.target.clone()),
            creds.creds.clone(),
        );
        let sent = ws.send(&keys, max_wait, None, hooks);
        hooks.in_run = false;
        let done = match sent {
            Ok(report) => report
                .login_refused
                .map(|o| (o.zh, o.en))
                .or(hooks.last.take()),
            Err(e) => Some(e.pair()),
        };
        if hooks.creds.is_none() {
            let _ = tx.send(Msg::SenderDone(done));
        }
        hooks.records(&ws.batches());
    }
}

/// How long a send run may go on: [`SEND_FOR`] from its start. A run the watcher's pass
/// interrupted (every `LOOK_EVERY`) resumes with what is left, so passes do not make a
/// failing run endless; a person's command or new batches start a run anew.
#[derive(Debug, Default)]
struct Budget {
    started: Option<Instant>,
}

impl Budget {
    /// The time the run may take from `now`: all of [`SEND_FOR`] for a new run (`anew`, or
    /// none before), else what is left of it; `None` once it is spent.
    fn left(&mut self, anew: bool, now: Instant) -> Option<Duration> {
        let started = match self.started {
            Some(started) if !anew => started,
            _ => *self.started.insert(now),
        };
        let left = SEND_FOR.saturating_sub(now.saturating_duration_since(started));
        (!left.is_zero()).then_some(left)
    }
}

/// The window's watcher on the sender thread: its setup, and the watcher both front ends run.
struct Watching {
    setup: WatchSetup,
    watcher: Watcher,
}

/// The sender's turn between attempts: the window's commands are served there too, so a
/// retry, a forget or a new upload never waits for a long send run.
struct WindowHooks<'a> {
    rx: &'a Receiver<Cmd>,
    tx: &'a Sender<Msg>,
    ctx: &'a egui::Context,
    /// Credentials to (re)start sending with (those the clerk gave for the window's target).
    creds: Option<Session>,
    /// The credentials last given.
    known: Option<Session>,
    /// Where every other target's credentials are found.
    keys: Finder,
    /// An attempt was made since the window last heard the queue.
    dirty: bool,
    last: Option<(String, String)>,
    closed: bool,
    /// The journal of unattended work, once there is one.
    journal: Option<Journal>,
    watching: Option<Watching>,
    /// A pass of the watcher is asked for.
    pass_due: bool,
    claimed: Vec<String>,
    pass_error: Option<(String, String)>,
    /// A send run is going on (commands come through `idle`).
    in_run: bool,
    /// New credentials came during a run: the next run has the whole budget.
    anew: bool,
    /// The data folder.
    data: PathBuf,
}

impl<'a> WindowHooks<'a> {
    fn new(
        rx: &'a Receiver<Cmd>,
        tx: &'a Sender<Msg>,
        ctx: &'a egui::Context,
        data: PathBuf,
        keys: Finder,
    ) -> WindowHooks<'a> {
        WindowHooks {
            rx,
            tx,
            ctx,
            creds: None,
            known: None,
            keys,
            dirty: false,
            last: None,
            closed: false,
            journal: None,
            watching: None,
            pass_due: false,
            claimed: Vec::new(),
            pass_error: None,
            in_run: false,
            anew: false,
            data,
        }
    }
    /// After a pass was asked for: a send run in progress stops for it and resumes after it
    /// with the same credentials; otherwise the pass comes next.
    fn resume_after_pass(&mut self) -> Flow {
        if self.pass_due && self.in_run {
            if self.creds.is_none() {
                self.creds = self.known.clone();
            }
            Flow::Stop
        } else {
            Flow::Continue
        }
    }

    /// The journal, opened when there is one (or `create`: the window starts watching).
    fn journal(&mut self, data: &Path, create: bool) -> Option<&Journal> {
        if self.journal.is_none()
            && (create || sheetbridge::unattended::journal::path_in(data).exists())
        {
            match Journal::open(data) {
                Ok(j) => self.journal = Some(j),
                Err(e) => self.pass_error = Some(e.pair()),
            }
        }
        self.journal.as_ref()
    }

    /// Tells the window what unattended mode did today and what waits in `需要处理/`.
    fn report(&mut self, data: &Path) {
        let today_ms = chrono::Local::now()
            .date_naive()
            .and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
            .map_or(0, |t| t.timestamp_millis());
        let mut u = Unattended {
            watching: self.watching.as_ref().map(|w| w.setup.folder.clone()),
            claimed: self.claimed.clone(),
            error: self.pass_error.clone(),
            ..Unattended::default()
        };
        if let Some(j) = self.journal(data, false) {
            match (j.handled_since(today_ms), watch::waiting_for_clerk(j)) {
                (Ok(today), Ok(to_fix)) => {
                    u.today = today;
                    u.to_fix = to_fix;
                }
                (Err(e), _) => u.error = Some(e.pair()),
                (_, Err(e)) => u.error = Some(e.pair()),
            }
        }
        let _ = self.tx.send(Msg::Unattended(Box::new(u)));
        self.ctx.request_repaint();
    }

    /// One pass of the window's watcher over its folder (exactly what `watch --once` does to
    /// each file, on the window's own workspace). Gives the workspace back, and whether new
    /// batches were queued.
    fn pass(&mut self, ws: Workspace, data: &Path) -> (Workspace, bool) {
        if self.watching.is_none() {
            return (ws, false);
        }
        if self.journal(data, true).is_none() {
            self.report(data);
            return (ws, false);
        }
        let (Some(w), Some(journal)) = (&mut self.watching, &self.journal) else {
            return (ws, false);
        };
        let setup = &w.setup;
        let made = std::fs::create_dir_all(&setup.folder).map_err(|e| WatchError::Io {
            path: setup.folder.clone(),
            detail: sheetbridge::read::io_message(&e),
        });
        let convert = ConvertOptions {
            profile: None,
            lab: setup.lab.clone(),
        };
        let mut flow = Workflow::on(
            ws,
            setup.target.clone(),
            setup.profiles.clone(),
            convert,
            self.keys.clone(),
        );
        // The pass logs each file's line and each link it skips (named once).
        let result = made.and_then(|()| w.watcher.pass(journal, &mut flow, &mut |_| {}));
        let ws = flow.into_workspace();
        let queued = match result {
            Ok(pass) => {
                self.pass_error = None;
                self.claimed = pass.claimed;
                pass.files
                    .iter()
                    .any(|f| f.counts.as_ref().is_some_and(|c| c.batches > 0))
            }
            Err(e) => {
                sheetbridge::log::event::error(&e.english());
                self.pass_error = Some(e.pair());
                false
            }
        };
        self.report(data);
        (ws, queued)
    }

    /// A fixed file leaves `需要处理/` (the window says where it went).
    fn resolve(&mut self, data: &Path, path: &Path) {
        let Some(journal) = self.journal(data, false) else {
            return;
        };
        match watch::resolve(journal, path) {
            Ok(Some(dest)) => {
                let _ = self.tx.send(Msg::Moved(path.to_owned(), dest));
            }
            Ok(None) => {}
            Err(e) => {
                sheetbridge::log::event::error(&e.english());
                self.pass_error = Some(e.pair());
            }
        }
        self.report(data);
    }

    fn records(&self, batches: &Batches<'_>) {
        if let Ok(records) = batches.list() {
            let _ = self.tx.send(Msg::Records(records));
        }
        self.ctx.request_repaint();
    }

    fn failed(&self, e: &OutboxError) {
        let (zh, en) = e.pair();
        let _ = self.tx.send(Msg::Failed(zh, en));
    }

    /// Serves one command; `Stop` when a send run must (re)start with `self.creds`.
    fn handle(&mut self, batches: &mut Batches<'_>, cmd: Cmd) -> Flow {
        let flow = match cmd {
            Cmd::Refresh => Flow::Continue,
            Cmd::Send(creds) => {
                self.known = Some(creds.clone());
                self.creds = Some(creds);
                // A run in progress starts again with them, its budget whole.
                self.anew = true;
                Flow::Stop
            }
            Cmd::Now => Flow::Now,
            Cmd::Queue {
                batch,
                target,
                positives_only,
                reply,
            } => {
                // The one way rows are queued (Workspace::queue's, with its log line): the
                // day's record first, positives in batches of their own; "先上报阳性结果"
                // queues those alone.
                let queued = if positives_only {
                    batches.queue_positives(&target, &batch)
                } else {
                    batches.queue(&target, &batch)
                };
                let result = queued
                    .map(|queued| {
                        let new = queued
                            .iter()
                            .filter(|q| matches!(q, Queued::New { .. }))
                            .count();
                        let ids: Vec<String> = queued.iter().map(|q| q.id().to_owned()).collect();
                        let _ = batches.due_now(&ids);
                        (new, queued.len() - new, ids)
                    })
                    .map_err(|e| e.pair());
                let _ = reply.send((batch, result));
                Flow::Now
            }
            Cmd::Record {
                batch,
                target,
                reply,
            } => {
                // The record is the day's account: a failure is logged, the clerk goes on.
                if let Err(e) = batches.record(&target, &batch) {
                    sheetbridge::log::event::error(&e.english());
                }
                let _ = reply.send(batch);
                Flow::Continue
            }
            Cmd::MarkUploaded {
                batch,
                target,
                reply,
            } => {
                let result = batches.mark_uploaded(&target, &batch).map_err(|e| e.pair());
                let _ = reply.send((batch, result));
                Flow::Continue
            }
            Cmd::Retry(id) => {
                if let Err(e) = batches.retry(&id) {
                    self.failed(&e);
                }
                Flow::Now
            }
            Cmd::Forget(id) => {
                if let Err(e) = batches.forget(&id) {
                    self.failed(&e);
                }
                Flow::Continue
            }
            Cmd::KeepDays(days) => {
                if let Err(e) = batches.delete_expired(days) {
                    self.failed(&e);
                }
                Flow::Continue
            }
            Cmd::Watch(setup) => {
                let data = self.data.clone();
                self.watching = setup.map(|setup| Watching {
                    watcher: Watcher::new(setup.folder.clone(), data, SETTLE),
                    setup: *setup,
                });
                self.claimed.clear();
                self.pass_error = None;
                self.pass_due = self.watching.is_some();
                let data = self.data.clone();
                self.report(&data);
                // A run in progress stops for the pass and goes on after it.
                self.resume_after_pass()
            }
            Cmd::Pass => {
                self.pass_due = self.watching.is_some();
                self.resume_after_pass()
            }
            Cmd::Resolved(path) => {
                let data = self.data.clone();
                self.resolve(&data, &path);
                Flow::Continue
            }
        };
        self.records(batches);
        flow
    }
}

impl Hooks for WindowHooks<'_> {
    fn attempt(&mut self, _batch: &BatchRecord, outcome: &Outcome) {
        let _ = self
            .tx
            .send(Msg::Attempt(outcome.zh.clone(), outcome.en.clone()));
        self.last = Some((outcome.zh.clone(), outcome.en.clone()));
        self.dirty = true;
        self.ctx.request_repaint();
    }

    fn idle(&mut self, batches: &mut Batches<'_>) -> Result<Flow, OutboxError> {
        if std::mem::take(&mut self.dirty) {
            self.records(batches);
        }
        let mut flow = Flow::Continue;
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => match self.handle(batches, cmd) {
                    Flow::Stop => return Ok(Flow::Stop),
                    Flow::Now => flow = Flow::Now,
                    Flow::Continue => {}
                },
                Err(TryRecvError::Empty) => return Ok(flow),
                Err(TryRecvError::Disconnected) => {
                    self.closed = true;
                    return Ok(Flow::Stop);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_send_budget_survives_the_watchers_passes() {
        // A clock of our own: a failing run interrupted by a pass every 11 s.
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut budget = Budget::default();
        assert_eq!(budget.left(false, at(0)), Some(SEND_FOR));
        let mut passes = 0;
        let mut s = 11;
        while let Some(left) = budget.left(false, at(s)) {
            assert_eq!(left, SEND_FOR - Duration::from_secs(s));
            passes += 1;
            s += 11;
        }
        // 30 minutes of passes, then the run rests: it does not begin again at each pass.
        assert_eq!(passes, 163);
        assert_eq!(budget.left(false, at(s + 600)), None);
        // A person's command (or new batches) starts a new run with the whole budget.
        assert_eq!(budget.left(true, at(s + 600)), Some(SEND_FOR));
        assert_eq!(
            budget.left(false, at(s + 660)),
            Some(SEND_FOR - Duration::from_secs(60))
        );
    }
}
