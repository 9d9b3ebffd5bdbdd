//! The clerk's window (eframe/egui): open an export, review and fix its rows, export the upload
//! sheet. Every screen calls the same pipeline and batch as the command line.
//!
//! The UI thread never reads a file: loading and exporting run as [`jobs::Job`]s. Screens draw
//! and return an [`Action`], which [`App`] applies after drawing.

mod auto;
mod dialogs;
pub mod fonts;
mod home;
pub mod jobs;
pub mod keep;
pub mod lookup;
pub mod mapping;
pub mod recent;
pub mod review;
pub mod settings;
pub mod upload;

use crate::batch::Batch;
use crate::issue::Lang;
use crate::pipeline::{LoadError, Options};
use crate::profile::Profiles;
use eframe::egui;
use jobs::{Done, Job, JobKind, Poll};
pub use review::Filter;
use settings::{HistoryEntry, Settings};
use std::path::{Path, PathBuf};

/// Picks the Chinese or English text.
pub fn tr(lang: Lang, zh: &'static str, en: &'static str) -> &'static str {
    match lang {
        Lang::Zh => zh,
        Lang::En => en,
    }
}

/// Where the window keeps its files (the per-user folders, or test folders).
#[derive(Debug, Clone)]
pub struct Dirs {
    pub config: Option<PathBuf>,
    pub data: Option<PathBuf>,
}

impl Dirs {
    /// The per-user folders (`SHEETBRIDGE_CONFIG_DIR`/`SHEETBRIDGE_DATA_DIR` replace them).
    pub fn user() -> Dirs {
        use crate::paths::{chosen, default_config_dir, default_data_dir};
        Dirs {
            config: chosen(
                std::env::var_os("SHEETBRIDGE_CONFIG_DIR"),
                default_config_dir(),
            ),
            data: chosen(std::env::var_os("SHEETBRIDGE_DATA_DIR"), default_data_dir()),
        }
    }

    /// The workspace's folders (none without a data folder).
    pub fn folders(&self) -> Option<crate::workspace::Folders> {
        upload::folders(self)
    }

    fn profiles(&self) -> Option<PathBuf> {
        self.config.as_ref().map(|c| c.join("profiles"))
    }
}

/// What a screen asks the app to do once drawing is over.
#[must_use]
pub enum Action {
    None,
    /// Show the file dialog.
    PickFile,
    Open(PathBuf),
    /// Load again with this profile (`None`: automatic).
    Reload(Option<String>),
    /// Write the upload sheet into this folder.
    Export(PathBuf),
    /// Back to the start screen.
    Close,
    CancelJob,
    SaveSettings,
    OpenFolder(PathBuf),
    /// The mapping screen saved a profile: reload the profiles, then the file with it.
    ProfileSaved(String),
    /// Queue the ready rows for the upload target and start sending.
    Upload,
    ShowQueue,
    /// "查询上报记录".
    ShowLookup,
}

/// A message shown above the content until dismissed.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
    /// Offer "retry" for this action (a locked file).
    pub retry_export: Option<PathBuf>,
}

impl Notice {
    /// Something went wrong: said in red until dismissed.
    pub fn error(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: true,
            retry_export: None,
        }
    }

    /// Something done, or to know.
    pub fn info(text: impl Into<String>) -> Notice {
        Notice {
            error: false,
            ..Notice::error(text)
        }
    }
}

pub(crate) enum Screen {
    Home,
    Mapping(Box<mapping::Mapping>),
    Review(Box<review::Review>),
    /// The batch is away with a job (export, queueing); the review keeps its filter and
    /// selection.
    Exporting(Box<review::Review>),
}

/// The window's state, in four parts by how long each lives (as eframe_template and rerun keep
/// persisted settings apart from runtime state).
pub struct App {
    /// Saved in the config folder when changed, read at start.
    pub settings: Settings,
    /// The file being worked on, from opening it to closing it.
    pub session: Session,
    /// Folders, profiles, workers and caches: as long as the window is open.
    pub runtime: Runtime,
    /// What the screen shows between frames: open dialogs, the notice, the start screen.
    pub ui: Ui,
}

/// The file being worked on: where it came from, how it is read, what was done with it.
pub struct Session {
    /// The screen on show (the batch lives in it).
    pub(crate) screen: Screen,
    /// The source of the batch on screen, and the profile chosen by hand (if any).
    source: Option<PathBuf>,
    chosen_profile: Option<String>,
    /// The last export, for the result panel.
    pub exported: Option<jobs::Exported>,
    /// The claim on the file open in the window: no watcher touches it until it is closed.
    claim: Option<crate::unattended::claim::Claim>,
}

/// Handles and caches the window keeps while it is open: its folders and profiles, the job
/// and the workers, and what was read when settings last changed.
pub struct Runtime {
    dirs: Dirs,
    profiles: Profiles,
    /// The background job (load, export, queue), at most one.
    job: Option<Job>,
    /// The files handled (saved in the data folder after every change).
    history: Vec<HistoryEntry>,
    /// The sender thread and the outbox as last read.
    pub uploads: upload::Uploads,
    /// Whether the outbox was looked at after start (to resume sending).
    resumed: bool,
    /// The chosen target, read when settings change (not at every action).
    target_cache: Option<auto::TargetCache>,
    /// The remembered credentials of the chosen target (read when settings change).
    remembered: Option<crate::upload::client::Credentials>,
    /// Settings → 自动上报 and its workers.
    auto: auto::AutoState,
}

/// The window's own state between frames: the notice, open dialogs, questions asked, what was
/// done once.
pub struct Ui {
    /// The message above the content, until dismissed.
    pub notice: Option<Notice>,
    /// The technical detail of the last failure the clerk was told about in plain words
    /// (for the log and the diagnostic bundle, never for the screen).
    pub detail: Option<String>,
    /// The start screen's state (the Downloads list, the path box).
    home: home::Home,
    /// The support kit: diagnostic bundle, profile packs.
    support: dialogs::SupportState,
    /// "查询上报记录".
    pub lookup: lookup::Lookup,
    show_settings: bool,
    /// The targets offered in settings (reference, name), read when the settings window
    /// opens (not every frame).
    settings_targets: Option<Vec<(String, String)>>,
    show_about: bool,
    /// Asking whether to close with batches not uploaded; `allow_close` once answered yes.
    confirm_close: bool,
    allow_close: bool,
    /// The start screen was opened anew: read the Downloads folder again.
    home_stale: bool,
    /// Whether the window was fitted to the screen's work area.
    fitted: bool,
    /// The language of the window title set.
    titled: Option<Lang>,
    /// The last error notice written to the program's log (each is logged once).
    logged_notice: Option<String>,
    /// "记住密码" as last saved (unticking it forgets the password).
    remember_saved: bool,
}

impl App {
    /// A new window state; installs the fonts into `ctx`.
    pub fn new(ctx: &egui::Context, dirs: Dirs) -> App {
        fonts::install(ctx);
        let settings = Settings::load(dirs.config.as_deref());
        let profiles = Profiles::load(dirs.profiles().as_deref());
        let history = settings::load_history(dirs.data.as_deref());
        let uploads = upload::Uploads::new(ctx, dirs.folders(), settings.keep_days());
        let session = Session {
            screen: Screen::Home,
            source: None,
            chosen_profile: settings.profile.clone(),
            exported: None,
            claim: None,
        };
        let runtime = Runtime {
            dirs,
            profiles,
            job: None,
            history,
            uploads,
            resumed: false,
            target_cache: None,
            remembered: None,
            auto: Default::default(),
        };
        let ui = Ui {
            notice: None,
            detail: None,
            home: home::Home {
                recent: recent::Recent::new(recent::downloads_dir()),
                path: String::new(),
            },
            support: Default::default(),
            lookup: Default::default(),
            show_settings: false,
            settings_targets: None,
            show_about: false,
            confirm_close: false,
            allow_close: false,
            home_stale: true,
            fitted: false,
            titled: None,
            logged_notice: None,
            remember_saved: settings.remember,
        };
        let mut app = App {
            settings,
            session,
            runtime,
            ui,
        };
        // The chosen target is read once here and again only when settings change.
        app.refresh_target(false);
        app
    }

    /// The folder whose newest spreadsheets the start screen lists (`None`: no list); read
    /// again at the next frame.
    pub fn set_downloads(&mut self, dir: Option<PathBuf>) {
        self.ui.home.recent = recent::Recent::new(dir);
        self.ui.home_stale = true;
    }

    /// The spreadsheets the start screen lists now.
    pub fn downloads(&self) -> &[recent::RecentFile] {
        &self.ui.home.recent.files
    }

    /// Whether the Downloads folder is still being read.
    pub fn reading_downloads(&self) -> bool {
        self.ui.home.recent.reading()
    }

    pub fn lang(&self) -> Lang {
        self.settings.lang
    }

    /// The batch on screen, if any.
    pub fn batch(&self) -> Option<&Batch> {
        match &self.session.screen {
            Screen::Review(r) => Some(&r.batch),
            _ => None,
        }
    }

    pub fn batch_mut(&mut self) -> Option<&mut Batch> {
        match &mut self.session.screen {
            Screen::Review(r) => Some(&mut r.batch),
            _ => None,
        }
    }

    /// Whether a background job is running.
    pub fn busy(&self) -> bool {
        self.runtime.job.is_some()
    }

    /// The mapping screen's state, when it is shown.
    pub fn mapping(&mut self) -> Option<&mut mapping::Mapping> {
        match &mut self.session.screen {
            Screen::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The review screen's state, when it is shown.
    pub fn review(&mut self) -> Option<&mut review::Review> {
        match &mut self.session.screen {
            Screen::Review(r) => Some(r),
            _ => None,
        }
    }

    /// Starts loading a file (what a drop, the dialog and the start screen do); a profile pack
    /// (`.sbpack`) is installed instead.
    pub fn open(&mut self, ctx: &egui::Context, path: PathBuf) {
        if dialogs::is_pack(&path) {
            self.install_pack(ctx, path);
            return;
        }
        if self.runtime.job.is_some() {
            self.ui.notice = Some(Notice::error(tr(
                self.lang(),
                "正在处理上一个文件，请稍候再打开。",
                "Still working on the last file; open this one afterwards.",
            )));
            return;
        }
        if let Some(dir) = path.parent() {
            self.settings.last_dir = Some(dir.to_owned());
        }
        self.ui.notice = None;
        self.session.exported = None;
        // The file on screen is let go before the next is claimed (it may be the same file).
        self.session.claim = None;
        self.session.source = Some(path.clone());
        let options = Options {
            profile: self.session.chosen_profile.clone(),
            lab: Some(self.settings.lab.clone()).filter(|l| !l.trim().is_empty()),
            ledger: None,
            ..Options::default()
        };
        self.runtime.job = Some(Job::load(
            ctx,
            path,
            self.runtime.profiles.clone(),
            options,
            self.runtime.dirs.folders(),
            self.target().ok(),
        ));
    }

    /// Draws one frame: the whole window.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.fit_to_screen(&ctx);
        if self.ui.home_stale && matches!(self.session.screen, Screen::Home) {
            self.ui.home_stale = false;
            self.ui.home.recent.refresh(&ctx);
        }
        self.refresh_target(false);
        self.poll_job();
        self.poll_support();
        self.runtime.uploads.poll();
        self.poll_auto(&ctx);
        self.follow_unattended();
        self.resume_uploads();
        self.guard_close(&ctx);
        let mut action = self.handle_input(&ctx);

        egui::Panel::top("steps").show(ui, |ui| {
            if let Some(a) = self.top_bar(ui) {
                action = a;
            }
        });
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(a) = self.notice_bar(ui) {
                action = a;
            }
            let screen_action = if let Some(job) = &self.runtime.job {
                progress_view(ui, job, self.settings.lang)
            } else {
                match &mut self.session.screen {
                    Screen::Home => self.ui.home.show(
                        ui,
                        self.settings.lang,
                        &self.runtime.history,
                        &self.runtime.uploads.unattended,
                        self.runtime.auto.problem.as_deref(),
                    ),
                    Screen::Mapping(m) => m.show(
                        ui,
                        self.settings.lang,
                        self.runtime.dirs.profiles().as_deref(),
                    ),
                    Screen::Review(r) => r.show(
                        ui,
                        self.settings.lang,
                        &self.runtime.profiles,
                        self.session.exported.as_ref(),
                    ),
                    Screen::Exporting(_) => Action::None,
                }
            };
            if !matches!(screen_action, Action::None) {
                action = screen_action;
            }
        });
        if self.ui.show_settings {
            self.settings_window(&ctx);
        }
        if self.ui.show_about {
            self.about_window(&ctx);
        }
        if self.ui.lookup.open {
            let data = self.runtime.dirs.data.clone();
            self.ui.lookup.window(&ctx, self.lang(), data);
        }
        let can_send = self.credentials().is_some();
        match self
            .runtime
            .uploads
            .queue_window(&ctx, self.lang(), can_send)
        {
            Some(upload::QueueAction::Send) => self.start_sending(),
            Some(upload::QueueAction::Retry(ids)) => {
                for id in ids {
                    self.runtime.uploads.retry(id);
                }
                self.start_sending();
            }
            Some(upload::QueueAction::Forget(ids)) => {
                for id in ids {
                    self.runtime.uploads.forget(id);
                }
            }
            None => {}
        }
        if self.ui.confirm_close {
            self.close_dialog(&ctx);
        }
        self.close_changes_dialog(&ctx);
        self.apply(&ctx, action);
        self.log_notice();
    }

    /// Writes an error notice to the program's log once, when it appears.
    fn log_notice(&mut self) {
        let error = self.ui.notice.as_ref().filter(|n| n.error).map(|n| &n.text);
        if error.is_some() && error != self.ui.logged_notice.as_ref() {
            crate::log::event::error(error.map_or("", String::as_str));
        }
        self.ui.logged_notice = error.cloned();
    }

    /// Once the screen's size is known: on a small screen (1366×768, 1024×768) the window
    /// fills the work area (maximised, so the taskbar stays visible); the title follows the
    /// language.
    fn fit_to_screen(&mut self, ctx: &egui::Context) {
        let title = tr(
            self.lang(),
            "核酸结果上报助手",
            "Nucleic-acid result reporting",
        );
        if self.ui.titled != Some(self.lang()) {
            self.ui.titled = Some(self.lang());
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title.to_owned()));
        }
        if self.ui.fitted {
            return;
        }
        if let Some(size) = ctx.input(|i| i.viewport().monitor_size) {
            self.ui.fitted = true;
            if size.x <= 1440.0 || size.y <= 900.0 {
                ctx.send_viewport_cmd(egui::ViewportCommand::Maximized(true));
            }
        }
    }

    fn handle_input(&mut self, ctx: &egui::Context) -> Action {
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_owned())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            return Action::Open(path);
        }
        let (open, save) = ctx.input_mut(|i| {
            (
                i.consume_key(egui::Modifiers::COMMAND, egui::Key::O),
                i.consume_key(egui::Modifiers::COMMAND, egui::Key::S),
            )
        });
        if open {
            return Action::PickFile;
        }
        if save && let Screen::Review(r) = &self.session.screen {
            return Action::Export(r.export_dir.clone());
        }
        Action::None
    }

    fn poll_job(&mut self) {
        let Some(job) = &self.runtime.job else { return };
        let done = match job.poll() {
            Poll::Running => return,
            Poll::Done(done) => done,
            Poll::Died => {
                self.runtime.job = None;
                self.ui.notice = Some(Notice::error(tr(
                    self.lang(),
                    "程序内部出错，这次处理没有完成。请重新打开文件；如果反复出现，请联系技术支持。",
                    "Internal error: the job did not finish. Open the file again; if it keeps happening, contact support.",
                )));
                return;
            }
        };
        self.runtime.job = None;
        match done {
            Done::Loaded {
                path,
                result,
                claim,
            } => match *result {
                Ok(loaded) => {
                    self.session.claim = claim;
                    let crate::workspace::Loaded {
                        batch,
                        edits,
                        restored,
                        warnings,
                    } = loaded;
                    self.ui.notice = keep::loaded_notice(restored, &warnings, self.lang());
                    let s = batch.summary();
                    self.record_history(&path, s, None);
                    let export_dir = self
                        .settings
                        .export_dir
                        .clone()
                        .or_else(|| path.parent().map(Path::to_owned))
                        .unwrap_or_default();
                    let mut review = review::Review::new(batch, export_dir);
                    review.keep = keep::Keep::new(edits, restored);
                    self.session.screen = Screen::Review(Box::new(review));
                }
                Err(LoadError::Cancelled) => self.session.screen = Screen::Home,
                Err(LoadError::NoMatch(m)) if !m.headers_all.is_empty() => {
                    self.session.claim = claim;
                    if let Some(base) = self.runtime.profiles.list.first().cloned() {
                        self.session.screen = Screen::Mapping(Box::new(mapping::Mapping::new(
                            path,
                            base,
                            &m,
                            self.settings.lang,
                        )));
                    }
                }
                Err(e) => {
                    self.session.screen = Screen::Home;
                    self.ui.notice = Some(Notice::error(match self.lang() {
                        Lang::Zh => e.to_string(),
                        Lang::En => e.english(),
                    }));
                }
            },
            Done::QueueLost => {
                self.session.screen = Screen::Home;
                self.ui.notice = Some(Notice::error(tr(
                    self.lang(),
                    "上传队列意外停止，文件已关闭（修改已保存）。请重新打开程序和文件后再上传。",
                    "The upload queue stopped unexpectedly and the file was closed (edits are saved); restart and open it again.",
                )));
            }
            Done::Queued { batch, result } => {
                let fixed = batch.summary().rejected == 0;
                self.put_back(*batch);
                // A file of 需要处理/ fixed and uploaded leaves it (unattended.md).
                if result.is_ok()
                    && fixed
                    && let Some(source) = self.session.source.clone()
                {
                    self.runtime.uploads.resolved(source);
                }
                if result.is_ok()
                    && let Some(review) = self.review()
                {
                    review.keep.queued();
                }
                match result {
                    Ok((new, before)) => {
                        if new > 0 {
                            let ready = self.batch().map_or(0, |b| b.summary().ready);
                            self.record_queued(ready);
                        }
                        let lang = self.lang();
                        self.ui.notice = Some(Notice::info(match lang {
                            Lang::Zh if new == 0 => format!(
                                "这些数据之前已经放进上传队列（{before} 批），不会重复上传。"
                            ),
                            Lang::Zh => {
                                format!("已放进上传队列：{new} 批。正在上传，进度见“上传队列”。")
                            }
                            Lang::En if new == 0 => format!(
                                "These rows were queued before ({before} batches); they are not sent twice."
                            ),
                            Lang::En => {
                                format!("Queued {new} batches; sending now (see the upload queue).")
                            }
                        }));
                        self.runtime.uploads.refresh();
                        self.start_sending();
                        self.runtime.uploads.show_queue = true;
                    }
                    Err((zh, en)) => {
                        self.ui.notice =
                            Some(Notice::error(if self.lang() == Lang::Zh { zh } else { en }));
                    }
                }
            }
            Done::Exported { batch, result } => {
                let written = result.is_ok();
                let export_dir = result
                    .as_ref()
                    .ok()
                    .and_then(|r| r.upload.parent().map(Path::to_owned))
                    .unwrap_or_default();
                match result {
                    Ok(done) => {
                        if let Some(path) = self.session.source.clone() {
                            self.record_history(&path, batch.summary(), Some(done.upload.clone()));
                        }
                        self.settings.export_dir = Some(export_dir.clone());
                        self.save_settings();
                        self.session.exported = Some(done);
                        self.ui.notice = None;
                    }
                    Err(e) => {
                        let locked = matches!(e, crate::write::WriteError::Locked { .. });
                        let (text, detail) = export_failure(&e, self.lang());
                        self.ui.detail = detail;
                        let retry = locked.then(|| self.last_export_dir());
                        self.ui.notice = Some(Notice {
                            retry_export: retry,
                            ..Notice::error(text)
                        });
                    }
                }
                self.session.screen =
                    match std::mem::replace(&mut self.session.screen, Screen::Home) {
                        Screen::Exporting(mut review) => {
                            review.batch.put_back(*batch);
                            if written {
                                review.keep.exported();
                            }
                            Screen::Review(review)
                        }
                        _ => Screen::Review(Box::new(review::Review::new(
                            *batch,
                            self.last_export_dir(),
                        ))),
                    };
            }
        }
    }

    /// Returns a batch that was away with a job to the review screen.
    fn put_back(&mut self, batch: Batch) {
        self.session.screen = match std::mem::replace(&mut self.session.screen, Screen::Home) {
            Screen::Exporting(mut review) => {
                review.batch.put_back(batch);
                Screen::Review(review)
            }
            _ => Screen::Review(Box::new(review::Review::new(batch, self.last_export_dir()))),
        };
    }

    fn credentials(&self) -> Option<crate::upload::client::Credentials> {
        let target = self.target().ok()?;
        upload::credentials(
            &target,
            &self.settings.user,
            &self.runtime.uploads.password,
            self.runtime.remembered.as_ref(),
        )
    }

    /// Follows what the window's watcher did: batches it queued are sent (with the
    /// credentials at hand), and a fixed file that left 需要处理/ is followed to its new place.
    fn follow_unattended(&mut self) {
        if std::mem::take(&mut self.runtime.uploads.pass_queued) {
            match self.credentials() {
                Some(creds) => self.runtime.uploads.start_sending(creds),
                None => {
                    self.ui.notice = Some(Notice::error(tr(
                        self.lang(),
                        "自动上报已把新文件放进上传队列，但还没有密码：请在“设置”里填写密码，并勾选“记住密码（自动上报需要）”。",
                        "Unattended reporting queued a new file, but there is no password: enter it in Settings and tick \"Remember the password\".",
                    )));
                }
            }
        }
        if let Some((from, to)) = self.runtime.uploads.moved.take() {
            if self.session.source.as_ref() == Some(&from) {
                self.session.source = Some(to.clone());
                if let Some(batch) = self.batch_mut() {
                    batch.source.path = to.clone();
                }
                if let Some(dir) = to.parent() {
                    self.settings.last_dir = Some(dir.to_owned());
                }
            }
            for e in self
                .runtime
                .history
                .iter_mut()
                .filter(|e| e.source.as_ref() == Some(&from))
            {
                e.source = Some(to.clone());
            }
            self.save_history();
        }
    }

    fn start_sending(&mut self) {
        match self.credentials() {
            Some(creds) => self.runtime.uploads.start_sending(creds),
            None => {
                self.ui.notice = Some(Notice::error(tr(
                    self.lang(),
                    "要上传，请先在“设置”里选择省平台并填写用户名和密码（密码只在这次打开期间记住）。",
                    "To upload, choose the platform and enter the user name and password in Settings (the password is kept for this session only).",
                )));
                self.ui.show_settings = true;
            }
        }
    }

    /// At start: batches left from last time are sent again when the credentials are at hand.
    fn resume_uploads(&mut self) {
        if self.runtime.resumed || !self.runtime.uploads.loaded {
            return;
        }
        self.runtime.resumed = true;
        let pending = self.runtime.uploads.pending();
        if pending == 0 {
            return;
        }
        match self.credentials() {
            Some(creds) => self.runtime.uploads.start_sending(creds),
            None => {
                self.ui.notice = Some(Notice::info(match self.lang() {
                    Lang::Zh => format!(
                        "上次还有 {pending} 批数据没有上传完。请在“设置”里填写密码，然后在“上传队列”里点“继续上传”。"
                    ),
                    Lang::En => format!(
                        "{pending} batches were not finished last time. Enter the password in Settings, then press \"Send now\" in the upload queue."
                    ),
                }));
            }
        }
    }

    /// Closing with batches not uploaded asks first (they are sent at the next start).
    fn guard_close(&mut self, ctx: &egui::Context) {
        if self.hold_close_for_changes(ctx) {
            return;
        }
        if ctx.input(|i| i.viewport().close_requested())
            && !self.ui.allow_close
            && self.runtime.uploads.pending() > 0
        {
            ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
            self.ui.confirm_close = true;
        }
    }

    fn last_export_dir(&self) -> PathBuf {
        self.settings
            .export_dir
            .clone()
            .or_else(|| {
                self.session
                    .source
                    .as_ref()
                    .and_then(|p| p.parent().map(Path::to_owned))
            })
            .unwrap_or_default()
    }

    fn record_history(&mut self, path: &Path, s: crate::batch::Summary, exported: Option<PathBuf>) {
        let now = chrono::Local::now();
        let file = crate::paths::file_name(path);
        let mut entry = HistoryEntry {
            date: now.format("%Y-%m-%d").to_string(),
            time: now.format("%H:%M").to_string(),
            file,
            rows: s.total,
            ready: s.ready,
            rejected: s.rejected,
            exported,
            source: Some(path.to_owned()),
            queued: 0,
        };
        // Exporting the file just opened updates its entry.
        match self.runtime.history.last_mut() {
            Some(last)
                if entry.exported.is_some()
                    && last.file == entry.file
                    && last.date == entry.date =>
            {
                entry.queued = last.queued;
                *last = entry
            }
            _ => self.runtime.history.push(entry),
        }
        self.save_history();
    }

    /// Notes in today's entry of the file on screen that `rows` rows went into the queue.
    fn record_queued(&mut self, rows: usize) {
        let Some(file) = self.session.source.as_deref().map(crate::paths::file_name) else {
            return;
        };
        if let Some(last) = self
            .runtime
            .history
            .iter_mut()
            .rev()
            .find(|e| e.file == file)
        {
            last.queued += rows;
            self.save_history();
        }
    }

    fn save_history(&self) {
        if let Some(dir) = &self.runtime.dirs.data {
            // The history is a convenience: failing to save it must not stop the clerk.
            let _ = settings::save_history(dir, &self.runtime.history);
        }
    }

    fn save_settings(&mut self) {
        if let Some(dir) = &self.runtime.dirs.config
            && let Err(e) = self.settings.save(dir)
        {
            self.ui.notice = Some(Notice::error(format!(
                "{}{e}",
                tr(self.lang(), "设置没能保存：", "Settings were not saved: ")
            )));
        }
    }

    fn apply(&mut self, ctx: &egui::Context, action: Action) {
        match action {
            Action::None => {}
            Action::PickFile => {
                if self.runtime.job.is_none() {
                    let mut dialog = rfd::FileDialog::new()
                        .set_title(tr(
                            self.lang(),
                            "选择导出的结果文件",
                            "Choose the exported results",
                        ))
                        .add_filter(
                            tr(self.lang(), "表格文件", "Spreadsheets"),
                            &[
                                "xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "txt", "xml", "htm",
                                "html",
                            ],
                        );
                    if let Some(dir) = &self.settings.last_dir {
                        dialog = dialog.set_directory(dir);
                    }
                    if let Some(path) = dialog.pick_file() {
                        self.open(ctx, path);
                    }
                }
            }
            Action::Open(path) => self.open(ctx, path),
            Action::Reload(profile) => {
                self.session.chosen_profile = profile.clone();
                self.settings.profile = profile;
                self.save_settings();
                if let Some(path) = self.session.source.clone() {
                    self.open(ctx, path);
                }
            }
            Action::Export(dir) => self.start_export(ctx, dir),
            Action::Close if !self.may_close_file() => {}
            Action::Close => {
                // Let go of the file: a watcher may take it now.
                self.session.claim = None;
                self.runtime.uploads.look_now();
                self.session.screen = Screen::Home;
                self.ui.home_stale = true;
                self.session.exported = None;
                self.ui.notice = None;
            }
            Action::CancelJob => {
                if let Some(job) = &self.runtime.job {
                    job.cancel();
                }
            }
            Action::SaveSettings => {
                self.save_settings();
                self.runtime.uploads.credentials_changed(self.credentials());
            }
            Action::OpenFolder(dir) => {
                if let Err(e) = open::that_detached(&dir) {
                    // The launcher's own words ("gio", exit statuses) are for the log only.
                    self.ui.detail = Some(format!("open {}: {e}", dir.display()));
                    self.ui.notice = Some(Notice::error(match self.lang() {
                        Lang::Zh => format!(
                            "没能自动打开文件夹。请在文件管理器里打开：{}",
                            dir.display()
                        ),
                        Lang::En => format!(
                            "The folder could not be opened for you. Open it in the file manager: {}",
                            dir.display()
                        ),
                    }));
                }
            }
            Action::Upload => self.start_queue(ctx),
            Action::ShowLookup => self.ui.lookup.open = true,
            Action::ShowQueue => {
                self.runtime.uploads.show_queue = true;
                self.runtime.uploads.refresh();
            }
            Action::ProfileSaved(name) => {
                self.runtime.profiles = Profiles::load(self.runtime.dirs.profiles().as_deref());
                self.session.chosen_profile = Some(name);
                if let Some(path) = self.session.source.clone() {
                    self.open(ctx, path);
                }
            }
        }
    }

    /// Queues the ready rows of the batch on screen for the chosen target, then sends.
    fn start_queue(&mut self, ctx: &egui::Context) {
        if self.runtime.job.is_some() {
            return;
        }
        let target = match self.target() {
            Ok(t) => t,
            Err(text) => {
                self.ui.notice = Some(Notice::error(text));
                self.ui.show_settings = true;
                return;
            }
        };
        if upload::credentials(
            &target,
            &self.settings.user,
            &self.runtime.uploads.password,
            self.runtime.remembered.as_ref(),
        )
        .is_none()
        {
            self.start_sending();
            return;
        }
        let Some(sender) = self.runtime.uploads.commands() else {
            return;
        };
        let Screen::Review(review) = &mut self.session.screen else {
            return;
        };
        let batch = review.batch.take();
        if let Screen::Review(review) = std::mem::replace(&mut self.session.screen, Screen::Home) {
            self.session.screen = Screen::Exporting(review);
        }
        self.ui.notice = None;
        self.runtime.job = Some(Job::queue(ctx, batch, target, sender));
    }

    /// Exports the batch on screen into `dir` (the upload sheet, and the rejected rows).
    pub fn start_export(&mut self, ctx: &egui::Context, dir: PathBuf) {
        if self.runtime.job.is_some() {
            return;
        }
        let Screen::Review(review) = &mut self.session.screen else {
            return;
        };
        let batch = review.batch.take();
        review.export_dir = dir.clone();
        if let Screen::Review(review) = std::mem::replace(&mut self.session.screen, Screen::Home) {
            self.session.screen = Screen::Exporting(review);
        }
        let source = &batch.source.path;
        let upload = dir.join(crate::write::upload_name(source));
        let rejected =
            (batch.summary().rejected > 0).then(|| dir.join(crate::write::rejected_name(source)));
        self.ui.notice = None;
        self.settings.export_dir = Some(dir);
        self.runtime.job = Some(Job::export(ctx, batch, upload, rejected, self.lang()));
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let lang = self.lang();
        let step = match (&self.session.screen, &self.runtime.job) {
            (_, Some(j)) if matches!(j.what, JobKind::Load(_)) => 1,
            (Screen::Home, _) => 1,
            (Screen::Mapping(_), _) => 1,
            (Screen::Review(_), _) if self.session.exported.is_some() => 3,
            (Screen::Review(_), _) => 2,
            (Screen::Exporting(_), _) => 3,
        };
        let mut action = None;
        let wide = ui.available_width() >= 1250.0;
        ui.horizontal(|ui| {
            // On a narrow screen the window title names the program; the steps and the
            // buttons keep their room.
            if wide {
                ui.heading(tr(
                    lang,
                    "核酸结果上报助手",
                    "Nucleic-acid result reporting",
                ));
                ui.add_space(20.0);
            }
            for (n, zh, en) in [
                (1, "① 打开文件", "1 Open"),
                (2, "② 核对", "2 Review"),
                (3, "③ 导出", "3 Export"),
            ] {
                let text = egui::RichText::new(tr(lang, zh, en)).size(18.0);
                let text = if n == step {
                    text.strong().color(ui.visuals().selection.bg_fill)
                } else {
                    text.weak()
                };
                ui.label(text);
                if n < 3 {
                    ui.label(egui::RichText::new("▶").weak());
                }
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                if ui.button(tr(lang, "关于", "About")).clicked() {
                    self.ui.show_about = true;
                }
                if ui.button(tr(lang, "设置", "Settings")).clicked() {
                    self.ui.show_settings = true;
                }
                let pending = self.runtime.uploads.pending();
                let queue = match (lang, pending, self.runtime.uploads.sending) {
                    (Lang::Zh, 0, _) => "上传队列".to_owned(),
                    (Lang::Zh, n, true) => format!("上传队列：{n} 批上传中"),
                    (Lang::Zh, n, false) => format!("上传队列：{n} 批等待"),
                    (Lang::En, 0, _) => "Upload queue".to_owned(),
                    (Lang::En, n, _) => format!("Upload queue: {n} pending"),
                };
                if ui.button(queue).clicked() {
                    action = Some(Action::ShowQueue);
                }
                if self.runtime.job.is_none()
                    && ui
                        .button(tr(lang, "打开文件 (Ctrl+O)", "Open file (Ctrl+O)"))
                        .clicked()
                {
                    action = Some(Action::PickFile);
                }
            });
        });
        action
    }

    fn notice_bar(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let notice = self.ui.notice.clone()?;
        let lang = self.lang();
        let mut action = None;
        let fill = if notice.error {
            egui::Color32::from_rgb(255, 235, 235)
        } else {
            egui::Color32::from_rgb(232, 245, 233)
        };
        egui::Frame::new()
            .fill(fill)
            .inner_margin(10.0)
            .corner_radius(6.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        egui::RichText::new(&notice.text)
                            .color(egui::Color32::from_rgb(60, 20, 20)),
                    );
                    if let Some(dir) = &notice.retry_export
                        && ui.button(tr(lang, "重试", "Retry")).clicked()
                    {
                        action = Some(Action::Export(dir.clone()));
                    }
                    if ui.button(tr(lang, "知道了", "Dismiss")).clicked() {
                        self.ui.notice = None;
                    }
                });
            });
        ui.add_space(6.0);
        action
    }
}

/// What the clerk reads when an export fails, and the technical detail (for the log) when the
/// error carries any: an operating-system or spreadsheet-library message is not shown.
pub fn export_failure(e: &crate::write::WriteError, lang: Lang) -> (String, Option<String>) {
    use crate::write::WriteError;
    let technical = match e {
        WriteError::Io { reason, .. } => reason.contains('(') || reason.contains('（'),
        WriteError::Xlsx { .. } | WriteError::Source(_) => true,
        WriteError::Locked { .. } | WriteError::Extension { .. } | WriteError::IsSource { .. } => {
            false
        }
    };
    if !technical {
        let text = match lang {
            Lang::Zh => e.to_string(),
            Lang::En => e.english(),
        };
        return (text, None);
    }
    let path = match e {
        WriteError::Io { path, .. } | WriteError::Xlsx { path, .. } => {
            crate::paths::file_name(path)
        }
        _ => String::new(),
    };
    let text = match (lang, e) {
        (Lang::Zh, WriteError::Source(_)) => "写出错误行时没能重新读取原文件。请确认原文件还在、没有被移动，然后再导出一次。".to_owned(),
        (Lang::En, WriteError::Source(_)) => "The source file could not be read again for the rejected rows. Check it is still there, then export again.".to_owned(),
        (Lang::Zh, _) => format!("没能写出「{path}」。请点“更换文件夹…”换一个文件夹（例如桌面），再导出一次。"),
        (Lang::En, _) => format!("{path} could not be written. Press \"Change folder…\", choose another folder (the desktop, say) and export again."),
    };
    (text, Some(e.english()))
}

fn progress_view(ui: &mut egui::Ui, job: &Job, lang: Lang) -> Action {
    let mut action = Action::None;
    ui.add_space(60.0);
    ui.vertical_centered(|ui| {
        let (rows, of) = job.progress();
        let title = match &job.what {
            JobKind::Load(path) => format!(
                "{}{}",
                tr(lang, "正在读取并检查：", "Reading and checking: "),
                crate::paths::file_name(path)
            ),
            JobKind::Export => tr(lang, "正在写出上报表……", "Writing the upload sheet…").to_owned(),
            JobKind::Queue => tr(lang, "正在放进上传队列……", "Queueing for upload…").to_owned(),
        };
        ui.heading(title);
        ui.add_space(16.0);
        let bar = if !matches!(job.what, JobKind::Load(_)) {
            // Writing and queueing report no rows: a moving bar says it is working.
            egui::ProgressBar::new(0.0).animate(true)
        } else if of > 0 {
            egui::ProgressBar::new((rows as f32 / of as f32).min(1.0)).text(match lang {
                Lang::Zh => format!("已读 {rows} / 约 {of} 行"),
                Lang::En => format!("{rows} of about {of} rows"),
            })
        } else {
            egui::ProgressBar::new(0.0).animate(true).text(match lang {
                Lang::Zh => format!("已读 {rows} 行"),
                Lang::En => format!("{rows} rows read"),
            })
        };
        ui.add(bar.desired_width(520.0));
        ui.add_space(16.0);
        if matches!(job.what, JobKind::Load(_)) && ui.button(tr(lang, "取消", "Cancel")).clicked()
        {
            action = Action::CancelJob;
        }
    });
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(100));
    action
}

impl eframe::App for App {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// Writes the renderer in use to the program's log (the diagnostic bundle shows the last one).
fn log_renderer(cc: &eframe::CreationContext<'_>) {
    use eframe::glow::HasContext;
    let Some(gl) = &cc.gl else { return };
    // SAFETY: reading strings of the current OpenGL context, which eframe has made current on
    // this thread for the creation of the app.
    let (renderer, version) = unsafe {
        (
            gl.get_parameter_string(eframe::glow::RENDERER),
            gl.get_parameter_string(eframe::glow::VERSION),
        )
    };
    let software = std::env::var_os("LIBGL_ALWAYS_SOFTWARE").is_some();
    ::log::info!(
        target: "sheetbridge",
        "window: renderer: {renderer}, OpenGL {version}{}",
        if software { " (software rendering)" } else { "" }
    );
}

/// Opens the window (what running `sheetbridge` with no arguments does) drawn by `renderer`.
pub fn run(initial: Option<PathBuf>, renderer: eframe::Renderer) -> Result<(), eframe::Error> {
    let mut viewport = egui::ViewportBuilder::default();
    if let Ok(icon) =
        eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon/sheetbridge-64.png"))
    {
        viewport = viewport.with_icon(icon);
    }
    let options = eframe::NativeOptions {
        renderer,
        viewport: viewport
            .with_title("核酸结果上报助手")
            // Fits a 1366×768 screen with a taskbar; smaller screens are maximised at start.
            .with_inner_size([1280.0, 680.0])
            .with_min_inner_size([800.0, 560.0])
            .with_drag_and_drop(true),
        ..Default::default()
    };
    eframe::run_native(
        "sheetbridge",
        options,
        Box::new(move |cc| {
            log_renderer(cc);
            let mut app = App::new(&cc.egui_ctx, Dirs::user());
            if let Some(path) = initial {
                app.open(&cc.egui_ctx, path);
            }
            Ok(Box::new(app))
        }),
    )
}
