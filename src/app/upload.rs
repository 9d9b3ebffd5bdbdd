//! Uploading from the window: the window's view of the outbox ([`Uploads`]), fed by one
//! long-lived sender thread (`sender.rs`) that owns the window's workspace and is asked over a
//! channel ([`Cmd`]); the queue window (`queue.rs`); "测试连接"; the session's password (kept in
//! memory only); and the ticker that wakes the window's watcher.
//!
//! Every outbox and network call runs on the sender thread; results come back over a channel.

mod queue;
mod sender;

pub use queue::{QueueAction, plain};

use super::task;
use eframe::egui;
use sheetbridge::batch::Batch;
use sheetbridge::profile::Profiles;
use sheetbridge::unattended::journal::Handled;
use sheetbridge::unattended::watch;
use sheetbridge::upload::client::{Client, Credentials};
use sheetbridge::upload::outbox::{BatchRecord, State};
use sheetbridge::upload::target::{Auth, Target};
use sheetbridge::workspace::Folders;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

/// The window's watcher looks at the folder at least this often (file notifications bring it
/// sooner; network folders send none).
const LOOK_EVERY: Duration = Duration::from_secs(11);

/// What the window asks of its sender thread.
pub enum Cmd {
    /// Read the outbox again.
    Refresh,
    /// Send what is due with these credentials for the window's target (a run in progress
    /// restarts with them, every queued batch due now); other targets' batches go with their
    /// own.
    Send(Session),
    /// "现在重试": stop waiting out the backoff.
    Now,
    /// Queue the batch's ready rows for the target (only its positives, with
    /// `positives_only`); the answer goes back on `reply`.
    Queue {
        batch: Box<Batch>,
        target: Box<Target>,
        positives_only: bool,
        reply: Sender<(Box<Batch>, QueueResult)>,
    },
    /// Keep the day's record of a file checked or exported in the window (daily.md); the
    /// batch goes back on `reply`.
    Record {
        batch: Box<Batch>,
        target: Box<Target>,
        reply: Sender<Box<Batch>>,
    },
    /// "已在省平台网站手工上报": the batch's ready rows were uploaded by hand on the
    /// platform's website; how many rows were marked goes back on `reply`.
    MarkUploaded {
        batch: Box<Batch>,
        target: Box<Target>,
        reply: Sender<(Box<Batch>, MarkResult)>,
    },
    /// A person's decisions.
    Retry(String),
    Forget(String),
    /// The retention setting changed: delete files of batches confirmed longer ago.
    KeepDays(u32),
    /// Settings → 自动上报: watch this folder (`None`: stop watching).
    Watch(Option<Box<WatchSetup>>),
    /// Look at the watched folder now (a file event, the timer, a file closed in the window).
    Pass,
    /// The clerk fixed and uploaded this file of `需要处理/`: it moves to `已处理/<today>/`.
    Resolved(PathBuf),
}

/// What the window's own watcher needs (settings → 自动上报).
#[derive(Clone)]
pub struct WatchSetup {
    pub folder: PathBuf,
    pub target: Target,
    pub profiles: Profiles,
    /// The clerk's lab, for rows without one.
    pub lab: Option<String>,
}

/// What unattended mode did, for the start screen: read from the journal after every pass of
/// the window's watcher (and at start, for what a scheduled task did).
#[derive(Debug, Clone, Default)]
pub struct Unattended {
    /// Files handled today, newest first.
    pub today: Vec<Handled>,
    /// Files waiting in `需要处理/`, newest first.
    pub to_fix: Vec<Handled>,
    /// The folder watched by the window now.
    pub watching: Option<PathBuf>,
    /// Files left alone by the last pass because they are open in the window.
    pub claimed: Vec<String>,
    /// Why the last pass failed (Chinese, English).
    pub error: Option<(String, String)>,
}

/// How many rows were marked uploaded by hand, or why not (Chinese, English).
pub type MarkResult = Result<usize, (String, String)>;

/// (batches new, batches queued before, the outbox ids of all of them), or why not (Chinese,
/// English).
pub type QueueResult = Result<(usize, usize, Vec<String>), (String, String)>;

/// A message from the sender thread.
enum Msg {
    Records(Vec<BatchRecord>),
    /// What the last attempt said (already masked), in Chinese and English.
    Attempt(String, String),
    Sending(bool),
    SenderDone(Option<(String, String)>),
    Tested(Result<(), (String, String)>),
    Failed(String, String),
    Unattended(Box<Unattended>),
    /// A pass of the watcher queued new batches.
    PassQueued,
    /// A fixed file left `需要处理/` for here.
    Moved(PathBuf, PathBuf),
}

/// The window's view of the outbox.
pub struct Uploads {
    cmd: Option<Sender<Cmd>>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    /// The outbox as last read.
    pub records: Vec<BatchRecord>,
    pub sending: bool,
    /// The last thing the platform or the network said.
    pub last: Option<(String, String)>,
    pub testing: bool,
    pub test_result: Option<Result<String, String>>,
    /// The password for this session; never saved.
    pub password: String,
    pub show_queue: bool,
    /// The outbox has been read at least once (for resuming at start).
    pub loaded: bool,
    /// The credentials the sender was last given (to notice a change).
    sent_with: Option<Session>,
    /// What unattended mode did (the start screen shows it).
    pub unattended: Unattended,
    /// A pass of the watcher queued batches: the window starts sending.
    pub pass_queued: bool,
    /// A file that left `需要处理/` (from, to), for the window to follow.
    pub moved: Option<(PathBuf, PathBuf)>,
    /// Counts the outbox's readings (the day's account is read again when it moves).
    pub generation: u64,
    /// Stops the thread that wakes the watcher.
    ticker: Option<Arc<AtomicBool>>,
    ctx: egui::Context,
}

impl Uploads {
    /// Starts the sender thread on the workspace in `folders` (opened there, once), keeping
    /// files of confirmed batches `keep_days` days. No data folder: no thread, nothing to send.
    pub fn new(ctx: &egui::Context, folders: Folders, keep_days: u32) -> Uploads {
        let (tx, rx) = channel();
        let cmd = folders.data.is_some().then(|| {
            let (cmd_tx, cmd_rx) = channel();
            let tx = tx.clone();
            let ctx = ctx.clone();
            task::worker("sender", move || {
                sender::run(folders, keep_days, &cmd_rx, &tx, &ctx)
            });
            cmd_tx
        });
        let u = Uploads {
            cmd,
            tx,
            rx,
            records: Vec::new(),
            sending: false,
            last: None,
            testing: false,
            test_result: None,
            password: String::new(),
            show_queue: false,
            loaded: false,
            sent_with: None,
            unattended: Unattended::default(),
            pass_queued: false,
            moved: None,
            generation: 0,
            ticker: None,
            ctx: ctx.clone(),
        };
        u.refresh();
        u
    }

    fn ask(&self, cmd: Cmd) {
        if let Some(c) = &self.cmd {
            let _ = c.send(cmd);
        }
    }

    /// The sender's channel (for a queue job).
    pub fn commands(&self) -> Option<Sender<Cmd>> {
        self.cmd.clone()
    }

    /// Reads the outbox again.
    pub fn refresh(&self) {
        self.ask(Cmd::Refresh);
    }

    /// Takes in what the sender said.
    pub fn poll(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Records(r) => {
                    self.records = r;
                    self.loaded = true;
                    self.generation += 1;
                }
                Msg::Attempt(zh, en) => self.last = Some((plain(&zh).0, plain(&en).0)),
                Msg::Sending(on) => self.sending = on,
                Msg::SenderDone(last) => {
                    self.sending = false;
                    if let Some((zh, en)) = last {
                        self.last = Some((plain(&zh).0, plain(&en).0));
                    }
                }
                Msg::Tested(r) => {
                    self.testing = false;
                    self.test_result = Some(r.map(|_| String::new()).map_err(|(zh, en)| {
                        let (text, detail) = plain(&zh);
                        if let Some(d) = detail.or_else(|| plain(&en).1) {
                            sheetbridge::log::event::error(&format!("test connection: {d}"));
                        }
                        text
                    }));
                }
                Msg::Failed(zh, en) => {
                    sheetbridge::log::event::error(&en);
                    self.last = Some((plain(&zh).0, plain(&en).0));
                }
                Msg::Unattended(u) => self.unattended = *u,
                Msg::PassQueued => self.pass_queued = true,
                Msg::Moved(from, to) => self.moved = Some((from, to)),
            }
        }
    }

    /// Starts (or stops, with `None`) the window's own watcher: the sender thread looks at the
    /// folder when a file event comes, every few seconds, and when asked
    /// ([`Uploads::look_now`]).
    pub fn watch(&mut self, setup: Option<WatchSetup>) {
        if let Some(stop) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
        }
        if let (Some(setup), Some(cmd)) = (&setup, &self.cmd) {
            let stop = Arc::new(AtomicBool::new(false));
            self.ticker = Some(Arc::clone(&stop));
            let cmd = cmd.clone();
            let folder = setup.folder.clone();
            task::worker("watch-ticker", move || ticker(&folder, &cmd, &stop));
        }
        self.ask(Cmd::Watch(setup.map(Box::new)));
    }

    /// Asks the watcher to look at the folder now (a file was closed in the window).
    pub fn look_now(&self) {
        if self.ticker.is_some() {
            self.ask(Cmd::Pass);
        }
    }

    /// The clerk fixed and uploaded `path`: when it is a file of `需要处理/`, it moves on.
    pub fn resolved(&self, path: PathBuf) {
        self.ask(Cmd::Resolved(path));
    }

    /// Batches not yet confirmed nor given up: queued, sending, or waiting for a person.
    pub fn pending(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.state, State::Queued | State::Sending | State::Waiting))
            .count()
    }

    /// Rows in batches not yet confirmed nor given up.
    pub fn pending_rows(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.state, State::Queued | State::Sending | State::Waiting))
            .map(|r| r.rows)
            .sum()
    }

    /// Whether the platform confirmed every one of these outbox batches (`false` for none).
    pub fn all_confirmed(&self, ids: &[String]) -> bool {
        !ids.is_empty()
            && ids.iter().all(|id| {
                self.records
                    .iter()
                    .any(|r| &r.id == id && r.state == State::Confirmed)
            })
    }

    /// (batches, rows) the platform confirmed.
    pub fn confirmed(&self) -> (usize, usize) {
        let done: Vec<&BatchRecord> = self
            .records
            .iter()
            .filter(|r| r.state == State::Confirmed)
            .collect();
        (done.len(), done.iter().map(|r| r.rows).sum())
    }

    /// Starts sending what is due (a run in progress goes on with these credentials).
    pub fn start_sending(&mut self, creds: Session) {
        if self.cmd.is_none() {
            return;
        }
        self.sending = true;
        self.sent_with = Some(creds.clone());
        self.ask(Cmd::Send(creds));
    }

    /// The credentials may have changed (settings): when they did and batches are waiting,
    /// sending resumes by itself and the last (stale) error goes.
    pub fn credentials_changed(&mut self, creds: Option<Session>) {
        let Some(creds) = creds else {
            return;
        };
        let same = self.sent_with.as_ref().is_some_and(|old| {
            let (o, n) = (&old.creds, &creds.creds);
            old.target == creds.target
                && o.user == n.user
                && o.password == n.password
                && o.token == n.token
        });
        if same || self.sent_with.is_none() && self.pending() == 0 {
            return;
        }
        if self
            .records
            .iter()
            .any(|r| matches!(r.state, State::Queued | State::Sending))
        {
            self.last = None;
            self.start_sending(creds);
        } else {
            self.sent_with = Some(creds);
        }
    }

    /// The retention setting changed: applied now, and at every start.
    pub fn set_keep_days(&self, days: u32) {
        self.ask(Cmd::KeepDays(days));
    }

    /// "现在重试": the sender stops waiting out its backoff and tries every queued batch now.
    pub fn retry_now(&self) {
        self.ask(Cmd::Now);
    }

    /// A person's decision for a waiting or rejected batch.
    pub fn retry(&self, id: String) {
        self.ask(Cmd::Retry(id));
    }

    pub fn forget(&self, id: String) {
        self.ask(Cmd::Forget(id));
    }

    /// "测试连接": can the platform be reached, and does the login work?
    pub fn test(&mut self, target: Target, creds: Session) {
        if self.testing {
            return;
        }
        self.testing = true;
        self.test_result = None;
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        task::worker("test-connection", move || {
            let result = match Client::new(&target) {
                Ok(mut client) => client.test(&creds.creds).map_err(|o| (o.zh, o.en)),
                Err(e) => Err(sheetbridge::message::Localized::pair(&e)),
            };
            let _ = tx.send(Msg::Tested(result));
            ctx.request_repaint();
        });
    }
}

impl Drop for Uploads {
    fn drop(&mut self) {
        if let Some(stop) = self.ticker.take() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

/// Wakes the watcher on the sender thread: at a file event in `folder`, and every
/// [`LOOK_EVERY`], until `stop` is set or the sender is gone.
fn ticker(folder: &Path, cmd: &Sender<Cmd>, stop: &AtomicBool) {
    let _ = std::fs::create_dir_all(folder);
    let notifier = watch::Notifier::new(folder);
    while !stop.load(Ordering::Relaxed) {
        if cmd.send(Cmd::Pass).is_err() {
            return;
        }
        notifier.wait(LOOK_EVERY);
    }
}

/// The credentials the clerk gave the window, for its target alone (by the target's reference).
#[derive(Debug, Clone, Default)]
pub struct Session {
    pub target: String,
    pub creds: Credentials,
}

/// Where the window's sender finds each target's credentials: the environment (the window is a
/// front end: it may read it), else what was remembered, in the store `sheetbridge login` uses.
pub fn finder(config: Option<PathBuf>) -> sheetbridge::credentials::Finder {
    let file_only = std::env::var("SHEETBRIDGE_CREDENTIAL_STORE").is_ok_and(|v| v == "file");
    let store = if file_only {
        sheetbridge::credentials::Store::file_only(config)
    } else {
        sheetbridge::credentials::Store::new(config)
    };
    sheetbridge::credentials::Finder::new(store, Arc::new(|k| std::env::var(k).ok()))
}

/// The credentials for a target: the window's user name and this session's password, else the
/// environment variables (scheduled use), else the remembered ones (`remembered`, read from the
/// credential store when settings change). `None` when the target needs what is missing.
pub fn credentials(
    target: &Target,
    user: &str,
    password: &str,
    remembered: Option<&Credentials>,
) -> Option<Session> {
    // The window is a front end: it may read the environment (scheduled use).
    let env = Credentials::from_vars(|k| std::env::var(k).ok());
    let env = sheetbridge::credentials::with_env(env, remembered.cloned());
    let user = Some(user.trim().to_owned())
        .filter(|u| !u.is_empty())
        .or(env.user);
    let password = Some(password.to_owned())
        .filter(|p| !p.is_empty())
        .or(env.password);
    let token = env.token.or_else(|| password.clone());
    let creds = Credentials {
        user,
        password,
        token,
    };
    let ok = match target.auth {
        Auth::None => true,
        Auth::Bearer => creds.token.is_some(),
        Auth::Basic | Auth::Form { .. } => creds.user.is_some() && creds.password.is_some(),
    };
    ok.then(|| Session {
        target: target.reference.clone(),
        creds,
    })
}
