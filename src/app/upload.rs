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
use crate::profile::Profiles;
use crate::unattended::handle::{ConvertOptions, Workflow};
use crate::unattended::journal::{Handled, Journal};
use crate::unattended::watch::{self, Settle, Watch, WatchError};
use crate::upload::client::{Client, Credentials, Outcome};
use crate::upload::outbox::{BatchRecord, Outbox, OutboxError, State};
use crate::upload::send::{Flow, SendHooks};
use crate::upload::target::{Auth, Target};
use crate::workspace::{Folders, Workspace};
use eframe::egui::{self, Color32, RichText};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

/// A file must have been still this long before the window's watcher takes it (a browser or a
/// colleague may still be writing it): the same as `watch --settle`'s default.
const SETTLE: Duration = Duration::from_secs(10);
/// The window's watcher looks at the folder at least this often (file notifications bring it
/// sooner; network folders send none).
const LOOK_EVERY: Duration = Duration::from_secs(11);

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
    /// Passes made since the window opened.
    pub passes: u64,
    /// Why the last pass failed (Chinese, English).
    pub error: Option<(String, String)>,
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
    sent_with: Option<Credentials>,
    /// What unattended mode did (the start screen shows it).
    pub unattended: Unattended,
    /// A pass of the watcher queued batches: the window starts sending.
    pub pass_queued: bool,
    /// A file that left `需要处理/` (from, to), for the window to follow.
    pub moved: Option<(PathBuf, PathBuf)>,
    /// Stops the thread that wakes the watcher.
    ticker: Option<Arc<AtomicBool>>,
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
            unattended: Unattended::default(),
            pass_queued: false,
            moved: None,
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
                            crate::log::event::error(&format!("test connection: {d}"));
                        }
                        text
                    }));
                }
                Msg::Failed(zh, en) => {
                    crate::log::event::error(&en);
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
            std::thread::spawn(move || ticker(&folder, &cmd, &stop));
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
                        for (i, group) in groups(&self.records).iter().enumerate() {
                            if let Some(a) = group_card(ui, lang, i, group) {
                                action = Some(a);
                            }
                        }
                    });
            });
        self.show_queue = open;
        action
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

/// What the queue window asks for.
pub enum QueueAction {
    Send,
    /// A person's decision for these batches (one file's waiting or rejected batches).
    Retry(Vec<String>),
    Forget(Vec<String>),
}

/// The batches of one file queued on one day: one card in the queue view.
pub struct Group<'a> {
    /// The file's name (or a word saying it is not known).
    pub file: Option<String>,
    /// `YYYY-MM-DD`, local.
    pub day: String,
    /// The earliest queueing time of the group, `HH:MM`.
    pub time: String,
    pub batches: Vec<&'a BatchRecord>,
}

impl Group<'_> {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.rows).sum()
    }

    fn count(&self, state: State) -> usize {
        self.batches.iter().filter(|b| b.state == state).count()
    }

    /// One line for the state of the group: "已确认 10，等待 2".
    pub fn state_line(&self, lang: Lang) -> String {
        [
            State::Confirmed,
            State::Sending,
            State::Queued,
            State::Waiting,
            State::Rejected,
        ]
        .iter()
        .filter_map(|&st| {
            let n = self.count(st);
            (n > 0).then(|| match lang {
                Lang::Zh => format!("{} {n}", state_text(st, lang).0),
                Lang::En => format!("{n} {}", state_text(st, lang).0),
            })
        })
        .collect::<Vec<_>>()
        .join(tr(lang, "，", ", "))
    }

    /// The group's distinct problems in plain words, each once.
    pub fn problems(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for b in &self.batches {
            if b.state == State::Confirmed {
                continue;
            }
            if let Some(e) = &b.last_error {
                let (text, _) = plain(e);
                if !seen.contains(&text) {
                    seen.push(text);
                }
            }
        }
        seen
    }

    /// The batches a person must decide on.
    fn undecided(&self) -> Vec<String> {
        self.batches
            .iter()
            .filter(|b| matches!(b.state, State::Waiting | State::Rejected))
            .map(|b| b.id.clone())
            .collect()
    }
}

/// The queue grouped by file and day, newest first.
pub fn groups(records: &[BatchRecord]) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    let local = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.with_timezone(&chrono::Local))
            .unwrap_or_default()
    };
    let mut sorted: Vec<&BatchRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.created);
    for r in sorted {
        let when = local(r.created);
        let day = when.format("%Y-%m-%d").to_string();
        match out.iter_mut().find(|g| g.file == r.source && g.day == day) {
            Some(g) => g.batches.push(r),
            None => out.push(Group {
                file: r.source.clone(),
                day,
                time: when.format("%H:%M").to_string(),
                batches: vec![r],
            }),
        }
    }
    out.reverse();
    out
}

/// One file's card: name, day, batches and rows, one state line, each problem once, the
/// decisions for the whole file; batch ids only under "详情" (for support).
fn group_card(ui: &mut egui::Ui, lang: Lang, index: usize, g: &Group<'_>) -> Option<QueueAction> {
    let mut action = None;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let day = if g.day == today {
        tr(lang, "今天", "today").to_owned()
    } else {
        g.day.clone()
    };
    let file = g
        .file
        .clone()
        .unwrap_or_else(|| tr(lang, "（文件名未记录）", "(file not recorded)").to_owned());
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(
            RichText::new(match lang {
                Lang::Zh => format!(
                    "{file} · {day} {} · {} 批 · {} 行",
                    g.time,
                    g.batches.len(),
                    g.rows()
                ),
                Lang::En => format!(
                    "{file} · {day} {} · {} batches · {} rows",
                    g.time,
                    g.batches.len(),
                    g.rows()
                ),
            })
            .strong(),
        );
        let worst = [
            State::Rejected,
            State::Waiting,
            State::Queued,
            State::Sending,
            State::Confirmed,
        ]
        .into_iter()
        .find(|&st| g.count(st) > 0)
        .unwrap_or(State::Confirmed);
        ui.label(RichText::new(g.state_line(lang)).color(state_text(worst, lang).1));
        for p in g.problems() {
            ui.add(egui::Label::new(RichText::new(p).weak()).wrap());
        }
        let undecided = g.undecided();
        if !undecided.is_empty() {
            ui.horizontal(|ui| {
                let n = undecided.len();
                let again = match lang {
                    Lang::Zh => format!("重新上传（{n} 批）"),
                    Lang::En => format!("Retry ({n})"),
                };
                if ui.button(again).clicked() {
                    action = Some(QueueAction::Retry(undecided.clone()));
                }
                let forget = match lang {
                    Lang::Zh => format!("放弃（{n} 批）"),
                    Lang::En => format!("Forget ({n})"),
                };
                if ui.button(forget).clicked() {
                    action = Some(QueueAction::Forget(undecided.clone()));
                }
            });
        }
        egui::CollapsingHeader::new(tr(lang, "详情（给技术支持看）", "Details (for support)"))
            .id_salt(("queue-group", index))
            .show(ui, |ui| {
                for b in &g.batches {
                    ui.add(
                        egui::Label::new(
                            RichText::new({
                                let (id, rows, tries) = (&b.id, b.rows, b.attempts);
                                let state = state_text(b.state, lang).0;
                                let error = b
                                    .last_error
                                    .as_ref()
                                    .map(|e| format!(" · {e}"))
                                    .unwrap_or_default();
                                match lang {
                                    Lang::Zh => format!(
                                        "批次 {id} · {rows} 行 · {state} · 已尝试 {tries} 次{error}"
                                    ),
                                    Lang::En => format!(
                                        "batch {id} · {rows} rows · {state} · {tries} attempts{error}"
                                    ),
                                }
                            })
                            .small()
                            .weak(),
                        )
                        .wrap(),
                    );
                }
            });
    });
    action
}

/// A message for the clerk in plain words, and the technical detail taken out of it: a
/// bracketed part with no Chinese in it and several words of English (a network library's
/// error chain, an operating-system message) goes to the log, not to the screen. A short part
/// such as an address or "HTTP 503" stays.
pub fn plain(text: &str) -> (String, Option<String>) {
    let mut shown = String::new();
    let mut detail: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '（' && c != '(' {
            shown.push(c);
            i += 1;
            continue;
        }
        // The matching bracket, counting both kinds.
        let mut depth = 0usize;
        let mut end = None;
        for (j, &d) in chars.iter().enumerate().skip(i) {
            match d {
                '（' | '(' => depth += 1,
                '）' | ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            shown.extend(&chars[i..]);
            break;
        };
        let inner: String = chars[i + 1..end].iter().collect();
        let cjk = inner
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let words = inner
            .split_whitespace()
            .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 2)
            .count();
        if !cjk && words >= 3 {
            detail.push(inner);
            while shown.ends_with(' ') {
                shown.pop();
            }
        } else {
            shown.extend(&chars[i..=end]);
        }
        i = end + 1;
    }
    let shown = shown.replace("，。", "。").replace("；。", "。");
    (shown, (!detail.is_empty()).then(|| detail.join("; ")))
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

/// The credentials for a target: the window's user name and this session's password, else the
/// environment variables (scheduled use), else the remembered ones (`remembered`, read from the
/// credential store when settings change). `None` when the target needs what is missing.
pub fn credentials(
    target: &Target,
    user: &str,
    password: &str,
    remembered: Option<&Credentials>,
) -> Option<Credentials> {
    // The window is a front end: it may read the environment (scheduled use).
    let env = Credentials::from_vars(|k| std::env::var(k).ok());
    let env = crate::credentials::with_env(env, remembered.cloned());
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
    let data = ws.folders().data.clone();
    let mut hooks = WindowHooks {
        rx,
        tx,
        ctx,
        creds: None,
        known: None,
        dirty: false,
        last: None,
        closed: false,
        journal: None,
        watching: None,
        pass_due: false,
        passes: 0,
        claimed: Vec::new(),
        pass_error: None,
        in_run: false,
        data: data.clone(),
    };
    hooks.records(ws.outbox());
    hooks.report(&data);
    let mut budget = Budget::default();
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
        // New credentials, a retry, a new upload: every queued batch is due now. A run that
        // resumes after a pass of the watcher keeps its backoff and what is left of its budget.
        let mut fresh = flow != Flow::Continue;
        loop {
            let mut new_work = false;
            if std::mem::take(&mut hooks.pass_due) {
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
                break;
            };
            let fresh_run = std::mem::take(&mut fresh);
            let Some(max_wait) = budget.left(fresh_run || new_work, Instant::now()) else {
                // The run's budget is spent: it rests until the clerk or new files start it.
                let _ = tx.send(Msg::SenderDone(hooks.last.take()));
                break;
            };
            let _ = tx.send(Msg::Sending(true));
            if fresh_run {
                let _ = ws.outbox().all_due_now();
            }
            hooks.in_run = true;
            let sent = ws.send(&creds, max_wait, None, &mut hooks);
            hooks.in_run = false;
            let done = match sent {
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
        if hooks.closed {
            return;
        }
    }
}

/// How long a send run may go on: [`SEND_FOR`] from its start. A run the watcher's pass
/// interrupted (every [`LOOK_EVERY`]) resumes with what is left, so passes do not make a
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

/// The window's watcher on the sender thread: the folder, the journal, the files settling.
struct Watching {
    setup: WatchSetup,
    settle: Settle,
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
    /// The journal of unattended work, once there is one.
    journal: Option<Journal>,
    watching: Option<Watching>,
    /// A pass of the watcher is asked for.
    pass_due: bool,
    passes: u64,
    claimed: Vec<String>,
    pass_error: Option<(String, String)>,
    /// A send run is going on (commands come through `idle`).
    in_run: bool,
    /// The data folder.
    data: PathBuf,
}

impl WindowHooks<'_> {
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
        if self.journal.is_none() && (create || crate::unattended::journal::path_in(data).exists())
        {
            match Journal::open(data) {
                Ok(j) => self.journal = Some(j),
                Err(e) => self.pass_error = Some((e.to_string(), e.english())),
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
            passes: self.passes,
            error: self.pass_error.clone(),
            ..Unattended::default()
        };
        if let Some(j) = self.journal(data, false) {
            match (j.handled_since(today_ms), watch::waiting_for_clerk(j)) {
                (Ok(today), Ok(to_fix)) => {
                    u.today = today;
                    u.to_fix = to_fix;
                }
                (Err(e), _) => u.error = Some((e.to_string(), e.english())),
                (_, Err(e)) => u.error = Some((e.to_string(), e.english())),
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
            detail: crate::read::io_message(&e),
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
            Credentials::default(),
        );
        let watcher = Watch {
            folder: &setup.folder,
            data_dir: data,
            settle: SETTLE,
        };
        let folder = setup.folder.clone();
        let result = made.and_then(|()| {
            watcher.pass(journal, &mut flow, &mut w.settle, &mut |f| {
                ::log::info!(target: "sheetbridge", "watch (window): {}", f.line_en(&folder));
            })
        });
        let ws = flow.into_workspace();
        self.passes += 1;
        let queued = match result {
            Ok(pass) => {
                self.pass_error = None;
                self.claimed = pass.claimed;
                pass.files
                    .iter()
                    .any(|f| f.counts.as_ref().is_some_and(|c| c.batches > 0))
            }
            Err(e) => {
                crate::log::event::error(&e.english());
                self.pass_error = Some((e.to_string(), e.english()));
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
                crate::log::event::error(&e.english());
                self.pass_error = Some((e.to_string(), e.english()));
            }
        }
        self.report(data);
    }

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
            Cmd::Watch(setup) => {
                self.watching = setup.map(|setup| Watching {
                    setup: *setup,
                    settle: Settle::default(),
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

    #[test]
    fn technical_text_is_taken_out_of_messages() {
        let zh = "连不上省平台（http://10.1.2.3:8443），请检查 VPN 是否已连接、网络是否正常；数据已保存，连上后会自动重发。（error sending request for url (http://10.1.2.3:8443/login): client error (Connect): tcp connect error: Connection refused (os error 111)）";
        let (shown, detail) = plain(zh);
        assert_eq!(
            shown,
            "连不上省平台（http://10.1.2.3:8443），请检查 VPN 是否已连接、网络是否正常；数据已保存，连上后会自动重发。"
        );
        assert!(detail.unwrap().contains("Connection refused"));
        let en = "cannot reach the platform at http://x: check the VPN; the batch stays queued (error sending request for url (http://x/): operation timed out)";
        let (shown, detail) = plain(en);
        assert_eq!(
            shown,
            "cannot reach the platform at http://x: check the VPN; the batch stays queued"
        );
        assert!(detail.is_some());
        // Short or Chinese brackets stay.
        for kept in [
            "省平台暂时无法处理（HTTP 503），稍后会自动重试。",
            "省平台拒绝登录：用户名或密码错误（第 2 次）。",
        ] {
            assert_eq!(plain(kept), (kept.to_owned(), None));
        }
    }

    fn record(
        id: &str,
        source: Option<&str>,
        created: i64,
        state: State,
        err: Option<&str>,
    ) -> BatchRecord {
        BatchRecord {
            id: id.into(),
            target: "t".into(),
            rows: 10,
            state,
            attempts: 1,
            last_error: err.map(str::to_owned),
            created,
            next_attempt_at: 0,
            idempotency_key: id.into(),
            confirmed_at: None,
            accepted: None,
            resend_safe: true,
            retry_from: created,
            source: source.map(str::to_owned),
        }
    }

    #[test]
    fn the_queue_is_grouped_by_file_and_day_with_each_problem_once() {
        let day = 86_400_000;
        let t0 = chrono::Local::now().timestamp_millis();
        let busy = "省平台暂时无法处理（HTTP 503），稍后会自动重试。";
        let records = vec![
            record("a1", Some("a.xlsx"), t0 - day, State::Confirmed, None),
            record("b1", Some("b.xlsx"), t0, State::Confirmed, None),
            record("b2", Some("b.xlsx"), t0 + 1, State::Queued, Some(busy)),
            record("b3", Some("b.xlsx"), t0 + 2, State::Queued, Some(busy)),
            record(
                "a2",
                Some("a.xlsx"),
                t0 + 3,
                State::Rejected,
                Some("平台说：格式不对"),
            ),
        ];
        let g = groups(&records);
        let names: Vec<(Option<&str>, usize)> = g
            .iter()
            .map(|g| (g.file.as_deref(), g.batches.len()))
            .collect();
        // Newest first; a.xlsx of yesterday is a group of its own.
        assert_eq!(
            names,
            vec![
                (Some("a.xlsx"), 1),
                (Some("b.xlsx"), 3),
                (Some("a.xlsx"), 1)
            ]
        );
        let b = &g[1];
        assert_eq!(b.rows(), 30);
        assert_eq!(b.state_line(Lang::Zh), "已确认 1，等待 2");
        assert_eq!(b.problems(), vec![busy.to_owned()]);
        assert_eq!(g[0].undecided(), vec!["a2".to_owned()]);
    }
}
