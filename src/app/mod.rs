//! The clerk's window (eframe/egui): open an export, review and fix its rows, export the upload
//! sheet. Every screen calls the same pipeline and batch as the command line.
//!
//! The UI thread never reads a file: loading and exporting run as [`jobs::Job`]s. Screens draw
//! and return an [`Action`], which [`App`] applies after drawing.

mod auto;
mod bars;
mod by_hand;
pub mod daily;
mod dialogs;
mod finish;
pub mod fonts;
mod home;
pub mod jobs;
pub mod keep;
mod launch;
pub mod lookup;
pub mod mapping;
mod positives;
pub mod recent;
pub mod review;
mod sending;
pub mod settings;
mod task;
pub mod upload;

use eframe::egui;
use jobs::Job;
pub use launch::run;
#[cfg(test)]
pub use review::Filter;
use settings::{HistoryEntry, Settings};
use sheetbridge::batch::Batch;
use sheetbridge::issue::Lang;
use sheetbridge::pipeline::Options;
use sheetbridge::profile::Profiles;
use sheetbridge::workspace::Folders;
use std::path::{Path, PathBuf};

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
    /// "更换文件夹…": the folder the upload sheet goes into.
    PickExportFolder,
    /// Back to the start screen.
    Close,
    CancelJob,
    OpenFolder(PathBuf),
    /// The mapping screen saved a profile: reload the profiles, then the file with it.
    ProfileSaved(String),
    /// Queue the ready rows for the upload target and start sending.
    Upload,
    ShowQueue,
    /// "查询上报记录".
    ShowLookup,
    /// 今日对账: open this file and select the row (as Excel numbers it) once loaded.
    OpenAt(PathBuf, u32),
    /// "先上报阳性结果": queue the file's positive rows alone and send them at once.
    UploadPositives,
    /// "已在省平台网站手工上报": the exported rows were uploaded by hand.
    MarkUploaded,
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
    claim: Option<sheetbridge::unattended::claim::Claim>,
}

/// Handles and caches the window keeps while it is open: its folders and profiles, the job
/// and the workers, and what was read when settings last changed.
pub struct Runtime {
    dirs: Folders,
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
    remembered: Option<sheetbridge::upload::client::Credentials>,
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
    /// 今日对账 and the positives waiting (daily.md).
    pub account: daily::Account,
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
    /// The window title set.
    titled: Option<String>,
    /// The last error notice written to the program's log (each is logged once).
    logged_notice: Option<String>,
    /// "记住密码" as last saved (unticking it forgets the password).
    remember_saved: bool,
    /// An upload was asked for and waits for the settings: saving them carries it on.
    upload_after_settings: bool,
}

impl App {
    /// A new window state; installs the fonts into `ctx`.
    pub fn new(ctx: &egui::Context, dirs: Folders) -> App {
        fonts::install(ctx);
        let settings = Settings::load(dirs.config.as_deref());
        let profiles = dirs.profiles();
        let history = settings::load_history(dirs.data.as_deref());
        let uploads = upload::Uploads::new(ctx, dirs.clone(), settings.keep_days());
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
                ..Default::default()
            },
            support: Default::default(),
            lookup: Default::default(),
            account: Default::default(),
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
            upload_after_settings: false,
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

    /// The file dialog 选择文件… and Ctrl+O show (the system's unless a test says otherwise).
    #[cfg(test)]
    pub fn set_file_dialog(&mut self, dialog: fn(rfd::FileDialog) -> Option<PathBuf>) {
        self.ui.home.dialog = dialog;
    }

    /// The folder dialog 更换文件夹… and 选择文件夹… show (the system's unless a test says
    /// otherwise).
    #[cfg(test)]
    pub fn set_folder_dialog(&mut self, dialog: fn(rfd::FileDialog) -> Option<PathBuf>) {
        self.ui.home.folder_dialog = dialog;
    }

    /// The folder whose newest spreadsheets the start screen lists (`None`: no list); read
    /// again at the next frame.
    #[cfg(test)]
    pub fn set_downloads(&mut self, dir: Option<PathBuf>) {
        self.ui.home.recent = recent::Recent::new(dir);
        self.ui.home_stale = true;
    }

    /// The spreadsheets the start screen lists now.
    #[cfg(test)]
    pub fn downloads(&self) -> &[recent::RecentFile] {
        &self.ui.home.recent.files
    }

    /// Whether the Downloads folder is still being read.
    #[cfg(test)]
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
    #[cfg(test)]
    pub fn busy(&self) -> bool {
        self.runtime.job.is_some()
    }

    /// The mapping screen's state, when it is shown.
    #[cfg(test)]
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
            self.ui.notice = Some(Notice::error(self.lang().pick(
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
            self.runtime.dirs.clone(),
            self.target().ok(),
            self.runtime.uploads.commands(),
        ));
    }

    /// Draws one frame: the whole window. What happened since the last frame is taken in
    /// first; screens and dialogs draw and return an action, applied once drawing is over.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.catch_up(&ctx);
        let mut action = self.handle_input(&ctx);
        // Tab with nothing focused goes to the content, not to the top bar drawn first (with a
        // window open over the content, to the first widget as egui orders them).
        let tab_in = !self.window_over_content()
            && ctx.memory(|m| m.focused().is_none())
            && ctx.input(|i| i.modifiers.is_none() && i.key_pressed(egui::Key::Tab));
        if tab_in {
            ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::None));
        }
        egui::Panel::top("steps").show(ui, |ui| {
            if let Some(a) = self.top_bar(ui) {
                action = a;
            }
        });
        if tab_in {
            ctx.memory_mut(|m| m.move_focus(egui::FocusDirection::Next));
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(a) = self.notice_bar(ui) {
                action = a;
            }
            if let Some(a) = self.positives_bar(ui) {
                action = a;
            }
            let screen_action = self.screen(ui);
            if !matches!(screen_action, Action::None) {
                action = screen_action;
            }
        });
        self.windows(&ctx);
        if self.ui.home.asking_path
            && let Some(a) = self.ui.home.path_window(&ctx, self.settings.lang)
        {
            action = a;
        }
        self.apply(&ctx, action);
        self.log_notice();
    }

    /// Whether a window is open over the screen (settings, about, the lookup, the path box,
    /// the queue).
    fn window_over_content(&self) -> bool {
        self.ui.show_settings
            || self.ui.show_about
            || self.ui.lookup.open
            || self.ui.home.asking_path
            || self.runtime.uploads.show_queue
    }

    /// Takes in what the workers did since the last frame: the job, the support kit, the
    /// sender, the settings' workers, the watcher; resumes sending at start; asks before
    /// closing with work left.
    fn catch_up(&mut self, ctx: &egui::Context) {
        self.fit_to_screen(ctx);
        if self.ui.home_stale && matches!(self.session.screen, Screen::Home) {
            self.ui.home_stale = false;
            let data = self.runtime.dirs.data.clone();
            self.ui.home.recent.refresh(ctx, data);
        }
        self.refresh_target(false);
        self.poll_job();
        self.poll_support();
        self.runtime.uploads.poll();
        self.follow_confirmed();
        self.refresh_account(ctx);
        self.poll_auto(ctx);
        self.follow_unattended();
        self.resume_uploads();
        self.guard_close(ctx);
    }

    /// The screen on show (or the job's progress in its place).
    fn screen(&mut self, ui: &mut egui::Ui) -> Action {
        let lang = self.settings.lang;
        if let Some(job) = &self.runtime.job {
            return bars::progress_view(ui, job, lang);
        }
        // Windows with fields of their own (the queue and 关于 have none).
        let covered = self.ui.show_settings || self.ui.lookup.open || self.ui.home.asking_path;
        match &mut self.session.screen {
            Screen::Home => self.ui.home.show(
                ui,
                lang,
                &self.runtime.history,
                &self.runtime.uploads.unattended,
                self.runtime.auto.problem.as_deref(),
                &mut self.ui.account,
            ),
            Screen::Mapping(m) => m.show(ui, lang, self.runtime.dirs.profiles_dir().as_deref()),
            Screen::Review(r) => r.show(
                ui,
                covered,
                lang,
                &self.runtime.profiles,
                self.session.exported.as_ref(),
            ),
            Screen::Exporting(_) => Action::None,
        }
    }

    /// The windows over the screen: settings, about, the lookup, the upload queue, and the
    /// questions asked before closing.
    fn windows(&mut self, ctx: &egui::Context) {
        if self.ui.show_settings {
            self.settings_window(ctx);
        }
        if self.ui.show_about {
            self.about_window(ctx);
        }
        if self.ui.lookup.open {
            let data = self.runtime.dirs.data.clone();
            self.ui.lookup.window(ctx, self.lang(), data);
        }
        let can_send = self.credentials().is_some();
        match self
            .runtime
            .uploads
            .queue_window(ctx, self.lang(), can_send)
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
            self.close_dialog(ctx);
        }
        self.close_changes_dialog(ctx);
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

    fn save_settings(&mut self) {
        if let Some(dir) = &self.runtime.dirs.config
            && let Err(e) = self.settings.save(dir)
        {
            self.ui.notice = Some(Notice::error(format!(
                "{}{e}",
                self.lang()
                    .pick("设置没能保存：", "Settings were not saved: ")
            )));
        }
    }

    fn apply(&mut self, ctx: &egui::Context, action: Action) {
        match action {
            Action::None => {}
            Action::PickFile => self.pick_file(ctx),
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
            Action::PickExportFolder => self.pick_export_folder(),
            Action::Close if !self.may_close_file() => {}
            Action::Close => self.close_file(),
            Action::CancelJob => {
                if let Some(job) = &self.runtime.job {
                    job.cancel();
                }
            }
            Action::OpenFolder(dir) => self.open_folder(&dir),
            Action::Upload => {
                self.ui.account.positives_asked = false;
                self.start_queue(ctx);
            }
            Action::UploadPositives => {
                self.ui.account.positives_asked = true;
                self.start_queue(ctx);
            }
            Action::MarkUploaded => self.start_mark(ctx),
            Action::OpenAt(path, row) => {
                self.ui.account.goto = Some((path.clone(), row));
                self.open(ctx, path);
            }
            Action::ShowLookup => self.ui.lookup.open = true,
            Action::ShowQueue => {
                self.runtime.uploads.show_queue = true;
                self.runtime.uploads.refresh();
            }
            Action::ProfileSaved(name) => {
                self.runtime.profiles = self.runtime.dirs.profiles();
                self.session.chosen_profile = Some(name);
                if let Some(path) = self.session.source.clone() {
                    self.open(ctx, path);
                }
            }
        }
    }

    /// "打开文件": the system's file dialog, in the folder last opened from.
    fn pick_file(&mut self, ctx: &egui::Context) {
        if self.runtime.job.is_some() {
            return;
        }
        let lang = self.lang();
        let mut dialog = rfd::FileDialog::new()
            .set_title(lang.pick("选择导出的结果文件", "Choose the exported results"))
            .add_filter(
                lang.pick("表格文件", "Spreadsheets"),
                &[
                    "xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "txt", "xml", "htm", "html",
                ],
            );
        if let Some(dir) = &self.settings.last_dir {
            dialog = dialog.set_directory(dir);
        }
        match self.ui.home.pick(dialog, lang) {
            home::Picked::File(path) => self.open(ctx, path),
            home::Picked::Cancelled => {}
            home::Picked::NoDialog(text) => {
                self.ui.home.asking_path = !matches!(self.session.screen, Screen::Home);
                self.ui.notice = Some(Notice::error(text));
            }
        }
    }

    /// "更换文件夹…": the system's folder dialog; without one, the clerk is told so and the
    /// export bar offers a box for the folder.
    fn pick_export_folder(&mut self) {
        let lang = self.lang();
        let ask = self.ui.home.folder_dialog;
        let Screen::Review(review) = &mut self.session.screen else {
            return;
        };
        let dialog = rfd::FileDialog::new().set_directory(&review.export_dir);
        match home::pick_folder(ask, dialog, review::FOLDER_BOX_NOTE, lang) {
            home::PickedFolder::Folder(dir) => review.export_dir = dir,
            home::PickedFolder::Cancelled => {}
            home::PickedFolder::NoDialog(text) => {
                review.folder_box = Some(review.export_dir.to_string_lossy().into_owned());
                self.ui.notice = Some(Notice::error(text));
            }
        }
    }

    /// "关闭此文件": back to the start screen; the file is let go, so a watcher may take it.
    fn close_file(&mut self) {
        self.session.claim = None;
        self.runtime.uploads.look_now();
        self.session.screen = Screen::Home;
        self.ui.home_stale = true;
        self.session.exported = None;
        self.ui.notice = None;
    }

    /// Opens a folder in the file manager; when that fails the clerk is told where it is.
    fn open_folder(&mut self, dir: &Path) {
        if let Err(e) = open::that_detached(dir) {
            // The launcher's own words ("gio", exit statuses) are for the log only.
            self.ui.detail = Some(format!("open {}: {e}", sheetbridge::paths::shown(dir)));
            let dir = sheetbridge::paths::shown(dir);
            self.ui.notice = Some(Notice::error(self.lang().pick(
                format!("没能自动打开文件夹。请在文件管理器里打开：{dir}"),
                format!(
                    "The folder could not be opened for you. Open it in the file manager: {dir}"
                ),
            )));
        }
    }

    /// Exports the batch on screen into `dir` (the upload sheet, and the rejected rows).
    pub fn start_export(&mut self, ctx: &egui::Context, dir: PathBuf) {
        if self.runtime.job.is_some() {
            return;
        }
        let Screen::Review(review) = &mut self.session.screen else {
            return;
        };
        review.export_dir = dir.clone();
        let Some(batch) = self.take_away() else {
            return;
        };
        let source = &batch.source.path;
        let upload = dir.join(sheetbridge::write::upload_name(source));
        let rejected = (batch.summary().rejected > 0)
            .then(|| dir.join(sheetbridge::write::rejected_name(source)));
        self.ui.notice = None;
        self.settings.export_dir = Some(dir);
        let data = self.runtime.dirs.data.clone();
        self.runtime.job = Some(Job::export(ctx, batch, upload, rejected, data, self.lang()));
    }
}

#[cfg(test)]
mod tests;
