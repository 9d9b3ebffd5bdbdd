//! Uploading from the window: one long-lived sender thread that owns the window's workspace
//! (the outbox is opened once, at start, and recovered then), fed by a channel: it queues a
//! file's rows, sends what is due (resuming by itself at start and when the credentials
//! change), applies a person's retry and forget, and reports the queue back. The queue view
//! with retry and forget, "测试连接", and the session's password (kept in memory only).
//!
//! Every outbox and network call runs on that thread; results come back over a channel.

use super::tr;
use crate::batch::{Batch, RowStatus};
use crate::issue::Lang;
use crate::upload::client::{Client, Credentials, Outcome};
use crate::upload::outbox::{BatchRecord, Outbox, OutboxError, State};
use crate::upload::send::{Flow, SendHooks};
use crate::upload::target::{Auth, Target};
use crate::workspace::{Folders, Workspace};
use eframe::egui::{self, Color32, RichText};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::Duration;

/// How long the window keeps retrying a failing batch in one go before it rests (it starts
/// again at the next upload, at "继续上传", when the credentials change, or at the next start).
const SEND_FOR: Duration = Duration::from_secs(30 * 60);

/// What the window asks of its sender thread.
pub enum Cmd {
    /// Read the outbox again.
    Refresh,
    /// Send what is due with these credentials (a run in progress restarts with them, every
    /// queued batch due now).
    Send(Credentials),
    /// "现在重试": stop waiting out the backoff.
    Now,
    /// Queue the batch's ready rows for the target; the answer goes back on `reply`.
    Queue {
        batch: Box<Batch>,
        target: Box<Target>,
        reply: Sender<(Box<Batch>, QueueResult)>,
    },
    /// A person's decisions.
    Retry(String),
    Forget(String),
    /// The retention setting changed: delete files of batches confirmed longer ago.
    KeepDays(u32),
}

/// (batches new, batches queued before), or why not (Chinese, English).
pub type QueueResult = Result<(usize, usize), (String, String)>;

/// A message from the sender thread.
enum Msg {
    Records(Vec<BatchRecord>),
    /// What the last attempt said (already masked), in Chinese and English.
    Attempt(String, String),
    Sending(bool),
    SenderDone(Option<(String, String)>),
    Tested(Result<(), (String, String)>),
    Failed(String, String),
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
    sent_with: Option<Credentials>,
    ctx: egui::Context,
}

impl Uploads {
    /// Starts the sender thread on the workspace in `folders` (opened there, once), keeping
    /// files of confirmed batches `keep_days` days. No data folder: no thread, nothing to send.
    pub fn new(ctx: &egui::Context, folders: Option<Folders>, keep_days: u32) -> Uploads {
        let (tx, rx) = channel();
        let cmd = folders.map(|folders| {
            let (cmd_tx, cmd_rx) = channel();
            let tx = tx.clone();
            let ctx = ctx.clone();
            std::thread::spawn(move || sender(folders, keep_days, &cmd_rx, &tx, &ctx));
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
                }
                Msg::Attempt(zh, en) => self.last = Some((zh, en)),
                Msg::Sending(on) => self.sending = on,
                Msg::SenderDone(last) => {
                    self.sending = false;
                    if last.is_some() {
                        self.last = last;
                    }
                }
                Msg::Tested(r) => {
                    self.testing = false;
                    self.test_result = Some(r.map(|_| String::new()).map_err(|(zh, _)| zh));
                }
                Msg::Failed(zh, en) => self.last = Some((zh, en)),
            }
        }
    }

    /// Batches not yet confirmed nor given up: queued, sending, or waiting for a person.
    pub fn pending(&self) -> usize {
        self.records
            .iter()
            .filter(|r| matches!(r.state, State::Queued | State::Sending | State::Waiting))
            .count()
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
    pub fn start_sending(&mut self, creds: Credentials) {
        if self.cmd.is_none() {
            return;
        }
        self.sending = true;
        self.sent_with = Some(creds.clone());
        self.ask(Cmd::Send(creds));
    }

    /// The credentials may have changed (settings): when they did and batches are waiting,
    /// sending resumes by itself and the last (stale) error goes.
    pub fn credentials_changed(&mut self, creds: Option<Credentials>) {
        let Some(creds) = creds else {
            return;
        };
        let same = self.sent_with.as_ref().is_some_and(|old| {
            old.user == creds.user && old.password == creds.password && old.token == creds.token
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
    pub fn test(&mut self, target: Target, creds: Credentials) {
        if self.testing {
            return;
        }
        self.testing = true;
        self.test_result = None;
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            let result = match Client::new(&target) {
                Ok(mut client) => client.test(&creds).map_err(|o| (o.zh, o.en)),
                Err(e) => Err((e.to_string(), e.to_string())),
            };
            let _ = tx.send(Msg::Tested(result));
            ctx.request_repaint();
        });
    }

    /// The queue window. Returns the ids to retry or forget through the caller.
    pub fn queue_window(
        &mut self,
        ctx: &egui::Context,
        lang: Lang,
        can_send: bool,
    ) -> Option<QueueAction> {
        let mut action = None;
        let mut open = self.show_queue;
        egui::Window::new(tr(lang, "上传队列", "Upload queue"))
            .open(&mut open)
            .default_width(760.0)
            .show(ctx, |ui| {
                let (batches, rows) = self.confirmed();
                ui.label(match lang {
                    Lang::Zh => format!(
                        "省平台已确认 {batches} 批，共 {rows} 行；还有 {} 批没有完成。",
                        self.pending()
                    ),
                    Lang::En => format!(
                        "The platform confirmed {batches} batches, {rows} rows; {} not finished.",
                        self.pending()
                    ),
                });
                if let Some((zh, en)) = &self.last {
                    ui.label(
                        RichText::new(format!(
                            "{}{}",
                            tr(lang, "最近一次：", "Last: "),
                            if lang == Lang::Zh { zh } else { en }
                        ))
                        .weak(),
                    );
                }
                ui.horizontal(|ui| {
                    if self.sending {
                        ui.spinner();
                        ui.label(tr(
                            lang,
                            "正在上传（失败会自动重试）……",
                            "Sending (failures are retried)…",
                        ));
                        if self.pending() > 0
                            && ui
                                .button(tr(
                                    lang,
                                    "现在重试（VPN 已连上时点这里）",
                                    "Retry now (after reconnecting)",
                                ))
                                .clicked()
                        {
                            self.retry_now();
                        }
                    } else if self.pending() > 0
                        && ui
                            .add_enabled(
                                can_send,
                                egui::Button::new(tr(lang, "继续上传", "Send now")),
                            )
                            .clicked()
                    {
                        action = Some(QueueAction::Send);
                    }
                    if ui.button(tr(lang, "刷新", "Refresh")).clicked() {
                        self.refresh();
                    }
                });
                ui.separator();
                egui::ScrollArea::vertical()
                    .max_height(380.0)
                    .show(ui, |ui| {
                        if self.records.is_empty() {
                            ui.label(
                                RichText::new(tr(lang, "队列是空的。", "The queue is empty."))
                                    .weak(),
                            );
                        }
                        for r in self.records.iter().rev() {
                            egui::Frame::group(ui.style()).show(ui, |ui| {
                                ui.set_width(ui.available_width());
                                ui.horizontal(|ui| {
                                    let (text, color) = state_text(r.state, lang);
                                    ui.label(RichText::new(text).color(color).strong());
                                    let short = &r.id[..r.id.len().min(8)];
                                    ui.label(match lang {
                                        Lang::Zh => format!(
                                            "批次 {short} · {} 行 · 已尝试 {} 次",
                                            r.rows, r.attempts
                                        ),
                                        Lang::En => format!(
                                            "batch {short} · {} rows · {} attempts",
                                            r.rows, r.attempts
                                        ),
                                    });
                                    if matches!(r.state, State::Waiting | State::Rejected) {
                                        if ui.button(tr(lang, "重新上传", "Retry")).clicked() {
                                            action = Some(QueueAction::Retry(r.id.clone()));
                                        }
                                        if ui.button(tr(lang, "放弃", "Forget")).clicked() {
                                            action = Some(QueueAction::Forget(r.id.clone()));
                                        }
                                    }
                                });
                                if let Some(note) = &r.last_error
                                    && r.state != State::Confirmed
                                {
                                    ui.add(egui::Label::new(RichText::new(note).weak()).wrap());
                                }
                            });
                        }
                    });
            });
        self.show_queue = open;
        action
    }
}

/// What the queue window asks for.
pub enum QueueAction {
    Send,
    Retry(String),
    Forget(String),
}

fn state_text(state: State, lang: Lang) -> (&'static str, Color32) {
    match state {
        State::Queued => (tr(lang, "等待", "queued"), Color32::from_rgb(90, 90, 90)),
        State::Sending => (
            tr(lang, "发送中", "sending"),
            Color32::from_rgb(21, 101, 192),
        ),
        State::Confirmed => (
            tr(lang, "已确认", "confirmed"),
            Color32::from_rgb(27, 120, 50),
        ),
        State::Rejected => (
            tr(lang, "被平台拒绝", "rejected"),
            Color32::from_rgb(176, 0, 32),
        ),
        State::Waiting => (
            tr(lang, "需要确认", "needs a decision"),
            Color32::from_rgb(150, 90, 0),
        ),
    }
}

/// The credentials for a target: the window's user name and this session's password, or the
/// environment variables (scheduled use). `None` when the target needs what is missing.
pub fn credentials(target: &Target, user: &str, password: &str) -> Option<Credentials> {
    // The window is a front end: it may read the environment (scheduled use).
    let env = Credentials::from_vars(|k| std::env::var(k).ok());
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
    ok.then_some(creds)
}

/// The workspace folders of the window's `Dirs` (none without a data folder).
pub fn folders(dirs: &super::Dirs) -> Option<Folders> {
    dirs.data.clone().map(|data| Folders {
        data,
        config: dirs.config.clone(),
    })
}

/// The sender thread: opens the workspace once, then serves the window's commands until the
/// window goes (its channel closes).
fn sender(
    folders: Folders,
    keep_days: u32,
    rx: &Receiver<Cmd>,
    tx: &Sender<Msg>,
    ctx: &egui::Context,
) {
    let mut ws = match Workspace::open(folders, keep_days) {
        Ok(ws) => ws,
        Err(e) => {
            let _ = tx.send(Msg::Failed(e.to_string(), e.english()));
            ctx.request_repaint();
            // Answer queue requests with the reason, so no job waits for ever.
            while let Ok(cmd) = rx.recv() {
                if let Cmd::Queue { batch, reply, .. } = cmd {
                    let _ = reply.send((batch, Err((e.to_string(), e.english()))));
                }
            }
            return;
        }
    };
    if let Some((folder, n)) = &ws.recovery().quarantined {
        let _ = tx.send(Msg::Failed(
            format!(
                "待上报数据库不见了或读不了，但还有 {n} 个待上报文件：已移到「{}」，没有删除。请重新打开原来的文件并上传（同样的行不会重复上报）。",
                folder.display()
            ),
            format!(
                "the outbox database was missing or unreadable: {n} batch files moved to {} (nothing deleted); upload their source files again",
                folder.display()
            ),
        ));
    }
    let mut hooks = WindowHooks {
        rx,
        tx,
        ctx,
        creds: None,
        known: None,
        dirty: false,
        last: None,
        closed: false,
    };
    hooks.records(ws.outbox());
    loop {
        let cmd = match rx.recv() {
            Ok(c) => c,
            Err(_) => return,
        };
        let flow = hooks.handle(ws.outbox(), cmd);
        if flow == Flow::Now && hooks.creds.is_none() {
            // A retry or a new upload while no run is going: send with the last credentials.
            hooks.creds = hooks.known.clone();
        }
        if flow != Flow::Continue {
            // New credentials: send until nothing is due or the window says otherwise.
            while let Some(creds) = hooks.creds.take() {
                let _ = tx.send(Msg::Sending(true));
                let _ = ws.outbox().all_due_now();
                let done = match ws.send(&creds, SEND_FOR, None, &mut hooks) {
                    Ok(report) => report
                        .login_refused
                        .map(|o| (o.zh, o.en))
                        .or(hooks.last.take()),
                    Err(e) => Some((e.to_string(), e.english())),
                };
                if hooks.creds.is_none() {
                    let _ = tx.send(Msg::SenderDone(done));
                }
                hooks.records(ws.outbox());
            }
        }
        if hooks.closed {
            return;
        }
    }
}

/// The sender's turn between attempts: the window's commands are served there too, so a
/// retry, a forget or a new upload never waits for a long send run.
struct WindowHooks<'a> {
    rx: &'a Receiver<Cmd>,
    tx: &'a Sender<Msg>,
    ctx: &'a egui::Context,
    /// Credentials to (re)start sending with.
    creds: Option<Credentials>,
    /// The credentials last given.
    known: Option<Credentials>,
    /// An attempt was made since the window last heard the queue.
    dirty: bool,
    last: Option<(String, String)>,
    closed: bool,
}

impl WindowHooks<'_> {
    fn records(&self, outbox: &Outbox) {
        if let Ok(records) = outbox.list() {
            let _ = self.tx.send(Msg::Records(records));
        }
        self.ctx.request_repaint();
    }

    fn failed(&self, e: &OutboxError) {
        let _ = self.tx.send(Msg::Failed(e.to_string(), e.english()));
    }

    /// Serves one command; `Stop` when a send run must (re)start with `self.creds`.
    fn handle(&mut self, outbox: &mut Outbox, cmd: Cmd) -> Flow {
        let flow = match cmd {
            Cmd::Refresh => Flow::Continue,
            Cmd::Send(creds) => {
                self.known = Some(creds.clone());
                self.creds = Some(creds);
                Flow::Stop
            }
            Cmd::Now => Flow::Now,
            Cmd::Queue {
                batch,
                target,
                reply,
            } => {
                let rows: Vec<usize> = batch.rows_with(RowStatus::Ready).collect();
                let source = crate::paths::file_name(&batch.source.path);
                let result = outbox
                    .queue(&target, &batch, &rows, &source)
                    .map(|queued| {
                        let new = queued
                            .iter()
                            .filter(|q| matches!(q, crate::upload::outbox::Queued::New { .. }))
                            .count();
                        let ids: Vec<String> = queued.iter().map(|q| q.id().to_owned()).collect();
                        let _ = outbox.due_now(&ids);
                        (new, queued.len() - new)
                    })
                    .map_err(|e| (e.to_string(), e.english()));
                let _ = reply.send((batch, result));
                Flow::Now
            }
            Cmd::Retry(id) => {
                if let Err(e) = outbox.retry(&id) {
                    self.failed(&e);
                }
                Flow::Now
            }
            Cmd::Forget(id) => {
                if let Err(e) = outbox.forget(&id) {
                    self.failed(&e);
                }
                Flow::Continue
            }
            Cmd::KeepDays(days) => {
                if let Err(e) = outbox.delete_expired(days) {
                    self.failed(&e);
                }
                Flow::Continue
            }
        };
        self.records(outbox);
        flow
    }
}

impl SendHooks for WindowHooks<'_> {
    fn attempt(&mut self, _batch: &BatchRecord, outcome: &Outcome) {
        let _ = self
            .tx
            .send(Msg::Attempt(outcome.zh.clone(), outcome.en.clone()));
        self.last = Some((outcome.zh.clone(), outcome.en.clone()));
        self.dirty = true;
        self.ctx.request_repaint();
    }

    fn idle(&mut self, outbox: &mut Outbox) -> Result<Flow, OutboxError> {
        if std::mem::take(&mut self.dirty) {
            self.records(outbox);
        }
        let mut flow = Flow::Continue;
        loop {
            match self.rx.try_recv() {
                Ok(cmd) => match self.handle(outbox, cmd) {
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
