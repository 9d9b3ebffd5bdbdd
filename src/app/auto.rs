//! Unattended reporting in the window (unattended.md, "In the window"): settings → 自动上报
//! (the folder, on/off, the scheduled task, "记住密码"), the window's own watcher started and
//! stopped when settings change, and the chosen target read once per change of settings.
//!
//! The credential store and the system's scheduler are asked on worker threads: a Secret
//! Service or `systemctl` that is slow to answer never holds up the window.

use super::settings::{default_watch_folder, watch_folder_warning};
use super::task::{Poll, Task};
use super::{App, Notice, upload};
use eframe::egui;
use sheetbridge::credentials::{Account, Store};
use sheetbridge::message::Localized;
use sheetbridge::unattended::schedule::{self, Job, Scheduler};
use sheetbridge::upload::client::Credentials;
use sheetbridge::upload::target::Target;
use std::path::PathBuf;

/// Minutes between runs of the scheduled task (`schedule install`'s default).
const EVERY: u32 = 15;

/// The chosen target as read when settings last changed.
pub(crate) struct TargetCache {
    /// `settings.target` when it was read.
    key: Option<String>,
    loaded: Result<Target, (String, String)>,
}

/// What the workers of this screen hand back.
enum Done {
    /// Credentials read from the store for the target (`None`: nothing remembered).
    Recalled(Option<Credentials>),
    /// Where the password went, or why not (Chinese, English).
    Remembered(Result<(String, String), (String, String)>),
    /// The scheduled task's state in words (Chinese, English).
    Schedule(String, String),
}

/// The state of settings → 自动上报 that is not saved.
#[derive(Default)]
pub(crate) struct AutoState {
    tasks: Vec<Task<Done>>,
    /// The folder as typed in settings (applied when settings are saved).
    pub(crate) folder_text: Option<String>,
    /// The last word from the credential store (shown under "记住密码").
    pub(crate) remembered_note: Option<(String, String)>,
    /// The scheduled task's state in words; `None`: not asked yet.
    pub(crate) schedule: Option<(String, String)>,
    pub(crate) schedule_busy: bool,
    /// Why the folder cannot be watched (shown in settings and on the start screen).
    pub(crate) problem: Option<String>,
    /// Why the folder is a poor choice (the Downloads folder): said, but watched.
    pub(crate) warning: Option<String>,
    /// What the watcher was last started with (to start it again only when that changes).
    watched: Option<(PathBuf, Option<String>, String)>,
    pub(crate) started: bool,
    /// 选择文件夹… found no folder dialog: where to type the folder instead.
    pub(crate) folder_note: Option<&'static str>,
}

impl App {
    /// Reads the chosen target when `settings.target` changed since the last read (or when
    /// `force`: settings were saved). Never more than once per change.
    pub(crate) fn refresh_target(&mut self, force: bool) {
        if !force
            && let Some(c) = &self.runtime.target_cache
            && c.key == self.settings.target
        {
            return;
        }
        let loaded = match &self.settings.target {
            None => Err((
                "还没有选择上报目标：请在“设置”里选择省平台。".to_owned(),
                "No upload target yet: choose one in Settings.".to_owned(),
            )),
            Some(name) => {
                let dir = self.runtime.dirs.config.as_ref().map(|c| c.join("targets"));
                Target::find(name, dir.as_deref()).map_err(|e| e.pair())
            }
        };
        self.runtime.target_cache = Some(TargetCache {
            key: self.settings.target.clone(),
            loaded,
        });
    }

    /// The chosen upload target, as read when settings last changed.
    pub(crate) fn target(&self) -> Result<Target, String> {
        let pick = |(zh, en): &(String, String)| self.lang().pick(zh.clone(), en.clone());
        match &self.runtime.target_cache {
            Some(c) if c.key == self.settings.target => c.loaded.clone().map_err(|e| pick(&e)),
            _ => Err(self
                .lang()
                .pick(
                    "上报目标还没有读好，请稍候再试。",
                    "The upload target is not read yet; try again.",
                )
                .to_owned()),
        }
    }

    /// The watched folder: the chosen one, else `<Documents>/核酸上报/待上报`.
    pub fn watch_folder(&self) -> Option<PathBuf> {
        self.settings
            .auto
            .folder
            .clone()
            .or_else(default_watch_folder)
    }

    /// What unattended mode did (the start screen's section).
    #[cfg(test)]
    pub fn unattended(&self) -> &upload::Unattended {
        &self.runtime.uploads.unattended
    }

    fn credential_store(&self) -> Store {
        // A front end may read the environment: the same choice as `sheetbridge login`.
        let file_only = std::env::var("SHEETBRIDGE_CREDENTIAL_STORE").is_ok_and(|v| v == "file");
        if file_only {
            Store::file_only(self.runtime.dirs.config.clone())
        } else {
            Store::new(self.runtime.dirs.config.clone())
        }
    }

    fn account(&self) -> Option<Account> {
        let target = self.target().ok()?;
        Some(Account::Target(target.reference))
    }

    /// Reads the remembered credentials of the chosen target (on a worker thread).
    pub(crate) fn recall_credentials(&mut self, ctx: &egui::Context) {
        self.runtime.remembered = None;
        if !self.settings.remember {
            return;
        }
        let Some(account) = self.account() else {
            return;
        };
        let store = self.credential_store();
        self.spawn_auto(ctx, move || {
            Done::Recalled(store.recall(&account).ok().flatten())
        });
    }

    /// After settings were saved: remember the password (or forget it when "记住密码" was
    /// unticked), on a worker thread; the clerk is told where it went.
    pub(crate) fn remember_credentials(&mut self, ctx: &egui::Context, was_on: bool) {
        let Some(account) = self.account() else {
            return;
        };
        let store = self.credential_store();
        if !self.settings.remember {
            if was_on {
                self.runtime.remembered = None;
                self.runtime.auto.remembered_note = None;
                self.spawn_auto(ctx, move || {
                    Done::Remembered(match store.forget(&account) {
                        Ok(()) => Ok((
                            "已不再记住密码。".into(),
                            "The password is forgotten.".into(),
                        )),
                        Err(e) => Err(e.pair()),
                    })
                });
            }
            return;
        }
        if self.runtime.uploads.password.is_empty() {
            self.recall_credentials(ctx);
            return;
        }
        let creds = Credentials {
            user: Some(self.settings.user.trim().to_owned()).filter(|u| !u.is_empty()),
            password: Some(self.runtime.uploads.password.clone()),
            token: None,
        };
        self.runtime.remembered = Some(creds.clone());
        self.spawn_auto(ctx, move || {
            Done::Remembered(
                store
                    .remember(&account, &creds)
                    .map(|stored| stored.pair())
                    .map_err(|e| e.pair()),
            )
        });
    }

    fn spawn_auto(&mut self, ctx: &egui::Context, work: impl FnOnce() -> Done + Send + 'static) {
        let task = Task::spawn("auto", ctx, work);
        self.runtime.auto.tasks.push(task);
    }

    /// Takes in what the workers of 自动上报 found.
    pub(crate) fn poll_auto(&mut self, ctx: &egui::Context) {
        let mut done = Vec::new();
        self.runtime.auto.tasks.retain(|task| match task.poll() {
            Poll::Done(d) => {
                done.push(d);
                false
            }
            Poll::Running => true,
            Poll::Died => false,
        });
        for d in done {
            match d {
                Done::Recalled(creds) => {
                    self.runtime.remembered = creds;
                    self.runtime.uploads.credentials_changed(self.credentials());
                }
                Done::Remembered(Ok(note)) => self.runtime.auto.remembered_note = Some(note),
                Done::Remembered(Err((zh, en))) => {
                    self.runtime.auto.remembered_note = Some((zh.clone(), en.clone()));
                    self.ui.notice = Some(Notice::error(self.lang().pick(
                        format!("密码没能记住：{zh}"),
                        format!("The password was not remembered: {en}"),
                    )));
                }
                Done::Schedule(zh, en) => {
                    self.runtime.auto.schedule = Some((zh, en));
                    self.runtime.auto.schedule_busy = false;
                }
            }
        }
        if !self.runtime.auto.started {
            self.runtime.auto.started = true;
            self.recall_credentials(ctx);
            self.apply_watch();
        }
    }

    /// Starts, moves or stops the window's own watcher to match the settings (at start and
    /// when settings are saved).
    pub(crate) fn apply_watch(&mut self) {
        let folder = self.watch_folder();
        self.runtime.auto.problem = None;
        self.runtime.auto.warning = None;
        let setup = match (&folder, self.target()) {
            (Some(folder), Ok(target)) if self.settings.auto.on => {
                let downloads = [recent_downloads(), self.ui.home.recent.dir.clone()];
                let downloads: Vec<&std::path::Path> =
                    downloads.iter().flatten().map(PathBuf::as_path).collect();
                self.runtime.auto.warning = watch_folder_warning(folder, &downloads, self.lang());
                Some(upload::WatchSetup {
                    folder: folder.clone(),
                    target,
                    profiles: self.runtime.profiles.clone(),
                    lab: Some(self.settings.lab.clone()).filter(|l| !l.trim().is_empty()),
                })
            }
            (_, Err(e)) if self.settings.auto.on => {
                self.runtime.auto.problem = Some(e);
                None
            }
            _ => None,
        };
        let key = setup
            .as_ref()
            .map(|s| (s.folder.clone(), s.lab.clone(), s.target.identity()));
        if key != self.runtime.auto.watched {
            self.runtime.auto.watched = key;
            self.runtime.uploads.watch(setup);
        }
    }

    /// Asks the system's scheduler for the task's state (on a worker thread).
    pub(crate) fn ask_schedule(&mut self, ctx: &egui::Context) {
        let Some(data) = self.runtime.dirs.data.clone() else {
            return;
        };
        self.runtime.auto.schedule_busy = true;
        self.spawn_auto(ctx, move || {
            let s = Scheduler::for_user(data);
            schedule_words(&s, None)
        });
    }

    /// "安装定时任务" (`install`) or "删除定时任务": the task runs `watch --once` on the folder
    /// every 15 minutes, also when the window is closed. Never with credentials in it.
    pub(crate) fn change_schedule(&mut self, ctx: &egui::Context, install: bool) {
        let (Some(data), Some(folder)) = (self.runtime.dirs.data.clone(), self.watch_folder())
        else {
            return;
        };
        let target = match self.target() {
            Ok(t) => t.reference,
            Err(e) => {
                self.runtime.auto.schedule = Some((e.clone(), e));
                return;
            }
        };
        let mut env: Vec<(String, String)> = Vec::new();
        if let Some(c) = &self.runtime.dirs.config {
            env.push((
                "SHEETBRIDGE_CONFIG_DIR".into(),
                c.to_string_lossy().to_string(),
            ));
        }
        env.push((
            "SHEETBRIDGE_DATA_DIR".into(),
            data.to_string_lossy().to_string(),
        ));
        if !self.settings.lab.trim().is_empty() {
            env.push((
                "SHEETBRIDGE_LAB".into(),
                self.settings.lab.trim().to_owned(),
            ));
        }
        if let Ok(v) = std::env::var("SHEETBRIDGE_CREDENTIAL_STORE") {
            env.push(("SHEETBRIDGE_CREDENTIAL_STORE".into(), v));
        }
        let exe = std::env::current_exe().ok();
        self.runtime.auto.schedule_busy = true;
        self.spawn_auto(ctx, move || {
            let s = Scheduler::for_user(data);
            let result = if install {
                let Some(exe) = exe else {
                    return Done::Schedule(
                        "找不到本程序的位置，无法安装定时任务。".into(),
                        "The program's own path is unknown: the task cannot be installed.".into(),
                    );
                };
                let _ = std::fs::create_dir_all(&folder);
                let job = Job {
                    exe,
                    folder,
                    target,
                    source: None,
                    every: EVERY,
                    env,
                };
                s.install(&job, schedule::random_start(EVERY)).map(|_| ())
            } else {
                s.remove().map(|_| ())
            };
            match result {
                Ok(()) => schedule_words(&s, None),
                Err(e) => schedule_words(&s, Some(e.pair())),
            }
        });
    }
}

/// The real Downloads folder of this user (never watched).
fn recent_downloads() -> Option<PathBuf> {
    super::recent::downloads_dir()
}

/// The scheduler of this user: Task Scheduler on Windows, a systemd user timer where a user
/// session answers, else cron (as `sheetbridge schedule` chooses).
/// The task's state in words for the clerk (after `failed`, when an install or removal
/// failed); the scheduler's own words go to the log.
fn schedule_words(s: &Scheduler, failed: Option<(String, String)>) -> Done {
    if let Some((zh, en)) = failed {
        sheetbridge::log::event::error(&en);
        let _ = zh;
        return Done::Schedule(
            "定时任务没能改好。请把“关于”里的诊断包发给信息科；窗口开着时自动上报照常进行。".into(),
            "The scheduled task could not be changed. Send the diagnostic bundle (About) to IT; while the window is open, unattended reporting goes on.".into(),
        );
    }
    let status = match s.status(chrono::Local::now().naive_local()) {
        Ok(st) => st,
        Err(e) => {
            sheetbridge::log::event::error(&e.english());
            return Done::Schedule(
                "查不到定时任务的状态（这台电脑的定时任务服务没有回答）。".into(),
                "The scheduled task's state is unknown (the scheduler did not answer).".into(),
            );
        }
    };
    let last = status.last_run.as_ref().map(|r| {
        let what = match r.exit_code {
            0 => ("全部上报完成", "all sent"),
            3 => ("有文件需要处理", "a file needs the clerk"),
            4 => ("有数据等待重试", "batches wait for a retry"),
            5 => ("有批次需要人工确认", "a batch needs a decision"),
            _ => (
                "没能运行：请检查记住的密码和文件夹",
                "did not run: check the remembered password and the folder",
            ),
        };
        (
            format!("上次 {}：{}", r.at, what.0),
            format!("last {}: {}", r.at, what.1),
        )
    });
    let (zh, en) = match (&status.installed, status.registered) {
        (Some(i), true) => (
            format!(
                "已安装（{}，每 {} 分钟一次{}）",
                i.backend.zh(),
                i.every,
                status
                    .next_run
                    .as_ref()
                    .map(|n| format!("，下次 {n}"))
                    .unwrap_or_default()
            ),
            format!(
                "installed (every {} minutes{})",
                i.every,
                status
                    .next_run
                    .as_ref()
                    .map(|n| format!(", next {n}"))
                    .unwrap_or_default()
            ),
        ),
        (Some(_), false) => (
            "记录里装过，但系统的定时任务里已经没有了：请重新安装。".to_owned(),
            "recorded as installed, but the scheduler no longer has it: install it again"
                .to_owned(),
        ),
        (None, _) => (
            "没有安装：窗口关闭后不会自动上报。".to_owned(),
            "not installed: nothing is sent while the window is closed".to_owned(),
        ),
    };
    match last {
        Some((lz, le)) => Done::Schedule(format!("{zh}；{lz}"), format!("{en}; {le}")),
        None => Done::Schedule(zh, en),
    }
}

/// Settings → 自动上报, drawn inside the settings window: on/off, the folder, why it cannot be
/// watched, the target, "记住密码", the scheduled task.
pub(crate) fn section(app: &mut App, ui: &mut egui::Ui) {
    let lang = app.lang();
    ui.add_space(6.0);
    ui.label(egui::RichText::new(lang.pick("自动上报", "Unattended reporting")).strong());
    ui.checkbox(
        &mut app.settings.auto.on,
        lang.pick(
            "自动上报（窗口开着时，放进下面文件夹的导出表自动上报）",
            "Send files put into the folder below by themselves (while the window is open)",
        ),
    );
    let shown = app
        .watch_folder()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let text = app.runtime.auto.folder_text.get_or_insert(shown);
    ui.horizontal(|ui| {
        let label = ui.label(lang.pick("文件夹", "Folder"));
        ui.add(egui::TextEdit::singleline(text).desired_width(360.0))
            .labelled_by(label.id);
        if ui.button(lang.pick("选择文件夹…", "Choose…")).clicked() {
            let ask = app.ui.home.folder_dialog;
            let note = (
                "这台电脑打不开选择文件夹的窗口。请在左边的“文件夹”框里输入或粘贴文件夹的位置，再点“保存设置”。",
                "No folder dialog opened on this computer. Type or paste the folder into the \"Folder\" box and press Save.",
            );
            match super::home::pick_folder(ask, rfd::FileDialog::new(), note, lang) {
                super::home::PickedFolder::Folder(dir) => {
                    *text = dir.to_string_lossy().into_owned();
                    app.runtime.auto.folder_note = None;
                }
                super::home::PickedFolder::Cancelled => {}
                super::home::PickedFolder::NoDialog(said) => {
                    app.runtime.auto.folder_note = Some(said);
                }
            }
        }
    });
    if let Some(note) = app.runtime.auto.folder_note {
        ui.add(
            egui::Label::new(egui::RichText::new(note).color(egui::Color32::from_rgb(176, 0, 32)))
                .wrap(),
        );
    }
    if let Some(problem) = &app.runtime.auto.problem {
        ui.add(
            egui::Label::new(
                egui::RichText::new(problem).color(egui::Color32::from_rgb(176, 0, 32)),
            )
            .wrap(),
        );
    }
    if let Some(warning) = &app.runtime.auto.warning {
        ui.add(
            egui::Label::new(
                egui::RichText::new(warning).color(egui::Color32::from_rgb(150, 90, 0)),
            )
            .wrap(),
        );
    }
    let target = match app.target() {
        Ok(t) => lang.pick(
            format!("上报到：{}（即上面的“上报目标”）", t.name),
            format!("Sent to: {} (the upload target above)", t.name),
        ),
        Err(e) => e,
    };
    ui.label(egui::RichText::new(target).weak());
    ui.checkbox(
        &mut app.settings.remember,
        lang.pick(
            "记住密码（自动上报需要）",
            "Remember the password (needed for unattended reporting)",
        ),
    );
    if let Some((zh, en)) = &app.runtime.auto.remembered_note {
        ui.add(egui::Label::new(egui::RichText::new(lang.pick(zh, en)).weak()).wrap());
    }
    schedule_rows(app, ui, lang);
}

/// Settings → 自动上报: the scheduled task, its buttons and its state (asked once).
fn schedule_rows(app: &mut App, ui: &mut egui::Ui, lang: sheetbridge::issue::Lang) {
    let ctx = ui.ctx().clone();
    ui.horizontal_wrapped(|ui| {
        ui.label(lang.pick(
            "定时任务（窗口关闭时也上报）：",
            "Scheduled task (also while the window is closed):",
        ));
        let busy = app.runtime.auto.schedule_busy;
        if ui
            .add_enabled(
                !busy,
                egui::Button::new(lang.pick("安装定时任务", "Install the task")),
            )
            .clicked()
        {
            app.change_schedule(&ctx, true);
        }
        if ui
            .add_enabled(
                !busy,
                egui::Button::new(lang.pick("删除定时任务", "Remove the task")),
            )
            .clicked()
        {
            app.change_schedule(&ctx, false);
        }
        if busy {
            ui.spinner();
        }
    });
    if app.runtime.auto.schedule.is_none() && !app.runtime.auto.schedule_busy {
        app.ask_schedule(&ctx);
    }
    // A line is always there, so that nothing below moves when the answer comes.
    let line = match &app.runtime.auto.schedule {
        Some((zh, en)) => lang.pick(zh, en).clone(),
        None => lang
            .pick("正在查看定时任务…", "Looking at the task…")
            .to_owned(),
    };
    ui.add(egui::Label::new(egui::RichText::new(line).weak()).wrap());
}

/// Settings were saved or closed: the typed folder is taken, the target read again, the
/// password remembered, and the watcher follows.
pub(crate) fn settings_saved(app: &mut App, ctx: &egui::Context, remember_was: bool) {
    if let Some(text) = app.runtime.auto.folder_text.take() {
        let text = text.trim().trim_matches('"');
        let chosen = PathBuf::from(text);
        app.settings.auto.folder =
            if text.is_empty() || Some(&chosen) == default_watch_folder().as_ref() {
                None
            } else {
                Some(chosen)
            };
    }
    app.refresh_target(true);
    app.remember_credentials(ctx, remember_was);
    app.apply_watch();
    if app.runtime.auto.problem.is_some() {
        // A folder that cannot be watched is not kept switched on.
        app.settings.auto.on = false;
    }
    app.runtime.auto.schedule = None;
}
