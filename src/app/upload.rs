//! Uploading from the window: the background sender that drains the outbox while the window is
//! open (and resumes at the next start), the queue view with retry and forget, "测试连接", and
//! the session's password (kept in memory only, never written).
//!
//! Every outbox and network call runs on a worker thread; results come back over a channel.

use super::tr;
use crate::issue::Lang;
use crate::upload::client::{Client, Credentials};
use crate::upload::outbox::{BatchRecord, Outbox, State};
use crate::upload::send::{SendOptions, send_due};
use crate::upload::target::{Auth, Target};
use eframe::egui::{self, Color32, RichText};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

/// How long the window keeps retrying a failing batch in one go before it rests (it starts
/// again at the next upload, at "继续上传", or at the next start).
const SEND_FOR: Duration = Duration::from_secs(30 * 60);

/// A message from a worker thread.
enum Msg {
    Records(Vec<BatchRecord>),
    /// What the last attempt said (already masked), in Chinese and English.
    Attempt(String, String),
    SenderDone(Option<(String, String)>),
    Tested(Result<(), (String, String)>),
    Failed(String, String),
}

/// The window's view of the outbox.
pub struct Uploads {
    data_dir: Option<PathBuf>,
    tx: Sender<Msg>,
    rx: Receiver<Msg>,
    ctx: egui::Context,
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
    /// Days to keep the files of confirmed batches (from the settings).
    pub keep_days: u32,
    /// "现在重试": ends the sender's wait for its next attempt.
    wake: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Uploads {
    /// Reads the outbox in the background.
    pub fn new(ctx: &egui::Context, data_dir: Option<PathBuf>) -> Uploads {
        let (tx, rx) = channel();
        let u = Uploads {
            data_dir,
            tx,
            rx,
            ctx: ctx.clone(),
            records: Vec::new(),
            sending: false,
            last: None,
            testing: false,
            test_result: None,
            password: String::new(),
            show_queue: false,
            loaded: false,
            keep_days: crate::upload::outbox::DEFAULT_RETENTION_DAYS,
            wake: Default::default(),
        };
        u.refresh();
        u
    }

    fn work(&self, job: impl FnOnce(&Sender<Msg>, &mut Outbox) + Send + 'static) {
        let Some(dir) = self.data_dir.clone() else {
            return;
        };
        let tx = self.tx.clone();
        let ctx = self.ctx.clone();
        std::thread::spawn(move || {
            match Outbox::open(&dir, 7) {
                Ok((mut outbox, _)) => {
                    job(&tx, &mut outbox);
                    if let Ok(records) = outbox.list() {
                        let _ = tx.send(Msg::Records(records));
                    }
                }
                Err(e) => {
                    let _ = tx.send(Msg::Failed(e.to_string(), e.english()));
                }
            }
            ctx.request_repaint();
        });
    }

    /// Reads the outbox again.
    pub fn refresh(&self) {
        self.work(|_, _| {});
    }

    /// Takes in what the workers said.
    pub fn poll(&mut self) {
        while let Ok(msg) = self.rx.try_recv() {
            match msg {
                Msg::Records(r) => {
                    self.records = r;
                    self.loaded = true;
                }
                Msg::Attempt(zh, en) => {
                    self.last = Some((zh, en));
                    self.refresh();
                }
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
                Msg::Failed(zh, en) => {
                    self.sending = false;
                    self.last = Some((zh, en));
                }
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

    /// Starts sending what is due, unless a sender already runs.
    pub fn start_sending(&mut self, creds: Credentials) {
        if self.sending || self.data_dir.is_none() {
            return;
        }
        self.sending = true;
        let ctx = self.ctx.clone();
        let wake = std::sync::Arc::clone(&self.wake);
        self.work(move |tx, outbox| {
            let mut last = None;
            let opts = SendOptions {
                max_wait: SEND_FOR,
                only: None,
                wake: Some(wake),
            };
            let result = send_due(outbox, &creds, &opts, &mut |_, outcome| {
                // The window reads the outbox again on its own connection when it hears this.
                let _ = tx.send(Msg::Attempt(outcome.zh.clone(), outcome.en.clone()));
                last = Some((outcome.zh.clone(), outcome.en.clone()));
                ctx.request_repaint();
            });
            let done = match result {
                Ok(report) => report.login_refused.map(|o| (o.zh, o.en)).or(last),
                Err(e) => Some((e.to_string(), e.english())),
            };
            let _ = tx.send(Msg::SenderDone(done));
        });
    }

    /// "现在重试": the sender stops waiting out its backoff and tries every queued batch now.
    pub fn retry_now(&self) {
        self.wake.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// A person's decision for a waiting or rejected batch.
    pub fn retry(&self, id: String) {
        self.work(move |tx, outbox| {
            if let Err(e) = outbox.retry(&id) {
                let _ = tx.send(Msg::Failed(e.to_string(), e.english()));
            }
        });
    }

    pub fn forget(&self, id: String) {
        self.work(move |tx, outbox| {
            if let Err(e) = outbox.forget(&id) {
                let _ = tx.send(Msg::Failed(e.to_string(), e.english()));
            }
        });
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
    let env = Credentials::from_env();
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
