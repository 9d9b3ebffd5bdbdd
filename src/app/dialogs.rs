//! The small windows over the main screen: settings, about (with the support kit: the
//! diagnostic bundle and the installed profile packs), and "close with batches pending?".

use super::task::{Poll, Task};
use super::{Action, App, Notice, upload};
use eframe::egui;
use sheetbridge::issue::Lang;
use sheetbridge::message::Localized;
use sheetbridge::support::pack::{self, InstalledPack, PackOptions};
use std::path::{Path, PathBuf};

/// The support kit in the window: a bundle being written or a pack being installed (off the
/// UI thread), the last bundle, and the installed packs (read when 关于 opens).
#[derive(Default)]
pub(crate) struct SupportState {
    task: Option<Task<SupportDone>>,
    packs: Option<Vec<InstalledPack>>,
    /// The last bundle written (its folder is offered), or why it was not.
    pub(crate) bundle: Option<Result<PathBuf, String>>,
}

enum SupportDone {
    Bundle(Result<PathBuf, String>),
    /// A pack installed: (name, version, notes), or the refusal.
    Pack(Result<(String, String, String), String>),
}

impl SupportState {
    /// Whether a bundle or a pack is being worked on.
    pub(crate) fn busy(&self) -> bool {
        self.task.is_some()
    }
}

/// The machine-wide trusted keys: `SHEETBRIDGE_MACHINE_KEYS` when set, else the system's place.
fn machine_keys() -> Option<PathBuf> {
    match std::env::var_os("SHEETBRIDGE_MACHINE_KEYS") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => pack::machine_keys(std::env::current_exe().ok().as_deref()),
    }
}

/// The targets offered in settings as (reference, name shown), read when settings open: the
/// built-in `example` (an address no one reaches) only when it is the one chosen.
fn target_names(user_dir: Option<PathBuf>, chosen: Option<&str>) -> Vec<(String, String)> {
    sheetbridge::upload::target::available(user_dir.as_deref())
        .into_iter()
        .filter(|stem| stem != "example" || chosen == Some("example"))
        .map(|stem| {
            let name = sheetbridge::upload::target::Target::find(&stem, user_dir.as_deref())
                .map_or_else(|_| stem.clone(), |t| t.name);
            (stem, name)
        })
        .collect()
}

/// Whether a file is a profile pack (opened or dropped, it is installed, not read as data).
pub(crate) fn is_pack(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("sbpack"))
}

impl App {
    pub(super) fn settings_window(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let mut open = true;
        let mut save = false;
        let tall = (ctx.content_rect().height() - 60.0).clamp(200.0, 700.0);
        egui::Window::new(lang.pick("设置", "Settings"))
            .max_width(640.0)
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                // On a small screen the settings scroll rather than hiding their lower part;
                // 保存设置 stays below them, always in view.
                egui::ScrollArea::vertical()
                    .min_scrolled_height(tall - 60.0)
                    .max_height(tall - 60.0)
                    .show(ui, |ui| {
                        egui::Grid::new("settings")
                            .num_columns(2)
                            .spacing([16.0, 12.0])
                            .show(ui, |ui| {
                                self.lab_and_target_rows(ui, lang);
                                if self.login_rows(ui, lang) {
                                    save = true;
                                }
                                self.file_rows(ui, lang);
                            });
                        super::auto::section(self, ui);
                        ui.add_space(8.0);
                        ui.label(
                            egui::RichText::new(lang.pick(
                                "本院名称用于“检测机构”一栏为空的行。",
                                "Your lab fills 检测机构 where the export has none.",
                            ))
                            .weak(),
                        );
                    });
                ui.separator();
                if ui.button(lang.pick("保存设置", "Save settings")).clicked() {
                    save = true;
                }
            });
        // Closing the window keeps what was typed, like the button does.
        if save || !open {
            super::auto::settings_saved(self, ctx, self.ui.remember_saved);
            self.ui.remember_saved = self.settings.remember;
            if let Some(problem) = self.runtime.auto.problem.clone() {
                self.ui.notice = Some(Notice::error(problem));
            } else if let Some(warning) = self.runtime.auto.warning.clone() {
                self.ui.notice = Some(Notice::info(warning));
            }
            self.save_settings();
            self.ui.show_settings = false;
            self.ui.settings_targets = None;
            self.runtime.uploads.credentials_changed(self.credentials());
            // The upload that asked for these settings goes on (start_queue says again what
            // is still missing, if anything).
            if std::mem::take(&mut self.ui.upload_after_settings) && self.credentials().is_some() {
                self.start_queue(ctx);
            }
        }
    }

    /// Settings: the clerk's lab, the language and the upload target.
    fn lab_and_target_rows(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let label = ui.label(lang.pick("本院名称（检测机构）", "Your lab (检测机构)"));
        ui.add(
            egui::TextEdit::singleline(&mut self.settings.lab)
                .desired_width(320.0)
                .hint_text(lang.pick("例如：天河区人民医院检验科", "e.g. 天河区人民医院检验科")),
        )
        .labelled_by(label.id);
        ui.end_row();
        ui.label(lang.pick("语言", "Language"));
        ui.horizontal(|ui| {
            ui.radio_value(&mut self.settings.lang, Lang::Zh, "中文");
            ui.radio_value(&mut self.settings.lang, Lang::En, "English");
        });
        ui.end_row();
        ui.label(lang.pick("上报目标（省平台）", "Upload target"));
        if self.ui.settings_targets.is_none() {
            self.ui.settings_targets = Some(target_names(
                self.runtime.dirs.config.as_ref().map(|c| c.join("targets")),
                self.settings.target.as_deref(),
            ));
        }
        let targets = self.ui.settings_targets.clone().unwrap_or_default();
        let current = match &self.settings.target {
            None => lang.pick("（未选择）", "(none)").to_owned(),
            Some(r) => targets
                .iter()
                .find(|(reference, _)| reference == r)
                .map(|(_, name)| name.clone())
                .or_else(|| self.target().ok().map(|t| t.name))
                .unwrap_or_else(|| r.clone()),
        };
        let combo = egui::ComboBox::from_id_salt("target")
            .selected_text(current)
            .width(320.0)
            .show_ui(ui, |ui| {
                for (reference, name) in targets {
                    let selected = self.settings.target.as_deref() == Some(reference.as_str());
                    if ui.selectable_label(selected, &name).clicked() {
                        self.settings.target = Some(reference);
                    }
                }
            });
        combo
            .response
            .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "上报目标"));
        ui.end_row();
    }

    /// Settings: the user name, the session's password, "测试连接" and its answer.
    /// The user name and the password (Enter in it saves: `true`), and 测试连接.
    fn login_rows(&mut self, ui: &mut egui::Ui, lang: Lang) -> bool {
        let mut enter = false;
        let label = ui.label(lang.pick("省平台用户名", "Platform user name"));
        ui.add(egui::TextEdit::singleline(&mut self.settings.user).desired_width(240.0))
            .labelled_by(label.id);
        ui.end_row();
        // What happens to the password is what the tick under 自动上报 says.
        let label = ui.label(password_caption(self.settings.remember, lang));
        ui.horizontal(|ui| {
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.runtime.uploads.password)
                        .password(true)
                        .desired_width(240.0),
                )
                .labelled_by(label.id);
            enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let testing = self.runtime.uploads.testing;
            if ui
                .add_enabled(
                    !testing,
                    egui::Button::new(lang.pick("测试连接", "Test connection")),
                )
                .clicked()
            {
                match self.target() {
                    Ok(target) => {
                        let creds = upload::credentials(
                            &target,
                            &self.settings.user,
                            &self.runtime.uploads.password,
                            self.runtime.remembered.as_ref(),
                        )
                        .unwrap_or_default();
                        self.runtime.uploads.test(target, creds);
                    }
                    Err(e) => self.runtime.uploads.test_result = Some(Err(e)),
                }
            }
            if testing {
                ui.spinner();
            }
        });
        ui.end_row();
        if let Some(result) = &self.runtime.uploads.test_result {
            ui.label("");
            match result {
                Ok(_) => ui.colored_label(
                    egui::Color32::from_rgb(27, 120, 50),
                    lang.pick("连接成功，可以上传。", "Connected: ready to upload."),
                ),
                Err(e) => ui.add(
                    egui::Label::new(
                        egui::RichText::new(e).color(egui::Color32::from_rgb(176, 0, 32)),
                    )
                    .wrap(),
                ),
            };
            ui.end_row();
        }
        enter
    }

    /// Settings: how long uploaded files are kept, and where exports go.
    fn file_rows(&mut self, ui: &mut egui::Ui, lang: Lang) {
        ui.label(lang.pick("已上报文件保留天数", "Keep uploaded files (days)"));
        let mut days = self.settings.keep_days();
        let r = ui.add(
            egui::DragValue::new(&mut days)
                .range(1..=365)
                .suffix(lang.pick(" 天", " days")),
        );
        r.widget_info(|| {
            egui::WidgetInfo::labeled(egui::Role::SpinButton, true, "已上报文件保留天数")
        });
        if days != self.settings.keep_days() {
            self.settings.keep_days = Some(days);
            self.runtime.uploads.set_keep_days(days);
        }
        ui.end_row();
        ui.label(lang.pick("导出到", "Export to"));
        let shown = self
            .settings
            .export_dir
            .as_ref()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_else(|| {
                lang.pick("原文件所在的文件夹", "the source file's folder")
                    .to_owned()
            });
        ui.label(shown);
        ui.end_row();
    }

    /// Installs a profile pack in the background (a drop, or the program opened with one).
    pub(crate) fn install_pack(&mut self, ctx: &egui::Context, path: PathBuf) {
        let Some(config) = self.runtime.dirs.config.clone() else {
            return;
        };
        if self.ui.support.busy() {
            return;
        }
        let lang = self.lang();
        self.ui.support.task = Some(Task::spawn("pack", ctx, move || {
            let opts = PackOptions::new(&config, machine_keys());
            let done = pack::install(&path, &opts)
                .map(|p| (p.name, p.version, p.notes))
                .map_err(|e| e.text(lang));
            SupportDone::Pack(done)
        }));
    }

    /// Writes the diagnostic bundle in the background, onto the desktop (else the data folder).
    fn start_bundle(&mut self, ctx: &egui::Context) {
        if self.ui.support.busy() {
            return;
        }
        let folders = self.runtime.dirs.clone();
        let dir = directories::UserDirs::new()
            .and_then(|u| u.desktop_dir().map(Path::to_owned))
            .filter(|d| d.is_dir())
            .or_else(|| self.runtime.dirs.data.clone())
            .unwrap_or_default();
        let lang = self.lang();
        self.ui.support.task = Some(Task::spawn("bundle", ctx, move || {
            let out = dir.join(sheetbridge::support::diagnose::default_name(
                chrono::Local::now().date_naive(),
            ));
            let context = sheetbridge::support::diagnose::Context {
                renderer: None,
                system: format!("{} {}", std::env::consts::OS, std::env::consts::ARCH),
            };
            let done = sheetbridge::support::diagnose::write_bundle(&out, &folders, &context)
                .map(|_| out)
                .map_err(|e| {
                    sheetbridge::log::event::error(&e.english());
                    e.text(lang)
                });
            SupportDone::Bundle(done)
        }));
    }

    /// Takes the result of a bundle or a pack install, once there.
    pub(super) fn poll_support(&mut self) {
        let Some(task) = &self.ui.support.task else {
            return;
        };
        let done = match task.poll() {
            Poll::Done(done) => done,
            Poll::Running => return,
            Poll::Died => {
                self.ui.support.task = None;
                return;
            }
        };
        self.ui.support.task = None;
        let lang = self.lang();
        match done {
            SupportDone::Bundle(result) => self.ui.support.bundle = Some(result),
            SupportDone::Pack(Ok((name, version, notes))) => {
                self.runtime.profiles = self.runtime.dirs.profiles();
                self.ui.support.packs = None;
                self.ui.notice = Some(Notice::info(lang.pick(
                    format!("已安装模板包「{name}」版本 {version}。{notes}"),
                    format!("Installed the profile pack {name} {version}. {notes}"),
                )));
            }
            SupportDone::Pack(Err(text)) => {
                self.ui.notice = Some(Notice::error(text));
            }
        }
    }

    pub(super) fn about_window(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let mut open = true;
        let mut folder = None;
        let mut bundle = false;
        if self.ui.support.packs.is_none() {
            // Read once when 关于 opens (a small folder listing), not at every frame.
            self.ui.support.packs = Some(
                self.runtime
                    .dirs
                    .config
                    .as_deref()
                    .map(pack::installed)
                    .unwrap_or_default(),
            );
        }
        egui::Window::new(lang.pick("关于", "About"))
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(format!(
                    "{} {}",
                    lang.pick("核酸结果上报助手 版本", "SheetBridge version"),
                    env!("CARGO_PKG_VERSION")
                ));
                ui.add_space(6.0);
                self.about_profiles(ui, lang);
                ui.add_space(6.0);
                folder = self.about_folders(ui, lang);
                ui.add_space(6.0);
                let (asked, open_folder) = self.about_support(ui, lang);
                bundle = asked;
                folder = folder.take().or(open_folder);
            });
        if bundle {
            self.start_bundle(ctx);
        }
        if !open {
            self.ui.show_about = false;
            self.ui.support.packs = None;
        }
        if let Some(dir) = folder {
            // The folder may not exist yet on a new install.
            let _ = std::fs::create_dir_all(&dir);
            self.apply(ctx, Action::OpenFolder(dir));
        }
    }

    /// 关于: the profiles in use and where they came from, and the installed packs.
    fn about_profiles(&self, ui: &mut egui::Ui, lang: Lang) {
        ui.label(egui::RichText::new(lang.pick("使用的模板", "Profiles in use")).strong());
        for p in &self.runtime.profiles.list {
            let origin = match &p.origin {
                sheetbridge::profile::Origin::Builtin => lang.pick("内置", "built in").to_owned(),
                sheetbridge::profile::Origin::File(path) => sheetbridge::paths::shown(path),
            };
            ui.label(lang.pick(
                format!("{}（{}）— {origin}", p.title, p.name),
                format!("{} ({}) — {origin}", p.title, p.name),
            ));
        }
        for e in &self.runtime.profiles.broken {
            ui.colored_label(egui::Color32::from_rgb(180, 0, 0), e.to_string());
        }
        ui.add_space(6.0);
        ui.label(
            egui::RichText::new(lang.pick("已安装的模板包", "Installed profile packs")).strong(),
        );
        let packs = self.ui.support.packs.as_deref().unwrap_or_default();
        if packs.is_empty() {
            ui.label(egui::RichText::new(lang.pick("（无）", "(none)")).weak());
        }
        for p in packs {
            let (name, version, date, at) = (&p.name, &p.version, &p.date, &p.installed);
            ui.label(lang.pick(
                format!("{name} 版本 {version}（{date}，安装于 {at}）"),
                format!("{name} {version} ({date}, installed {at})"),
            ));
        }
    }

    /// 关于: where the data and settings are, each with "打开文件夹" (the folder asked for).
    fn about_folders(&self, ui: &mut egui::Ui, lang: Lang) -> Option<PathBuf> {
        let mut folder = None;
        ui.label(
            egui::RichText::new(lang.pick("数据和设置保存在", "Your data and settings are in"))
                .strong(),
        );
        let kinds = [
            (
                &self.runtime.dirs.config,
                lang.pick("模板和设置：", "Profiles and settings: "),
            ),
            (
                &self.runtime.dirs.data,
                lang.pick("处理记录和上报队列：", "History and outbox: "),
            ),
        ];
        for (dir, what) in kinds {
            let Some(dir) = dir else { continue };
            ui.horizontal(|ui| {
                ui.label(format!("{what}{}", sheetbridge::paths::shown(dir)));
                if ui.button(lang.pick("打开文件夹", "Open folder")).clicked() {
                    folder = Some(dir.clone());
                }
            });
        }
        folder
    }

    /// 关于: "导出诊断包" and where the last bundle went; (a bundle asked for, a folder to open).
    fn about_support(&self, ui: &mut egui::Ui, lang: Lang) -> (bool, Option<PathBuf>) {
        let (mut bundle, mut folder) = (false, None);
        ui.label(
            egui::RichText::new(lang.pick("遇到问题时", "When something goes wrong")).strong(),
        );
        ui.label(lang.pick(
            "导出诊断包发给技术支持：里面有版本、设置、模板、上报队列和运行记录，没有密码，也没有任何人的证件号、电话、姓名或检测数据。",
            "Export a diagnostic bundle for support: version, settings, profiles, the upload queue and the log; no password and no one's ID, phone, name or results.",
        ));
        ui.horizontal(|ui| {
            let busy = self.ui.support.busy();
            let button = egui::Button::new(lang.pick("导出诊断包", "Export diagnostic bundle"));
            if ui.add_enabled(!busy, button).clicked() {
                bundle = true;
            }
            if busy {
                ui.spinner();
            }
        });
        match &self.ui.support.bundle {
            Some(Ok(path)) => {
                ui.horizontal_wrapped(|ui| {
                    ui.label(lang.pick(
                        format!(
                            "诊断包已保存：{}。请把它发给技术支持。",
                            sheetbridge::paths::shown(path)
                        ),
                        format!(
                            "Saved: {}. Send it to support.",
                            sheetbridge::paths::shown(path)
                        ),
                    ));
                    if ui
                        .button(lang.pick("打开所在文件夹", "Open its folder"))
                        .clicked()
                        && let Some(dir) = path.parent()
                    {
                        folder = Some(dir.to_owned());
                    }
                });
            }
            Some(Err(e)) => {
                ui.colored_label(egui::Color32::from_rgb(176, 0, 32), e);
            }
            None => {}
        }
        (bundle, folder)
    }

    /// Closing with batches not uploaded asks first (they are sent at the next start).
    pub(super) fn guard_close(&mut self, ctx: &egui::Context) {
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

    pub(super) fn close_dialog(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let pending = self.runtime.uploads.pending();
        egui::Modal::new(egui::Id::unique("confirm_close")).show(ctx, |ui| {
            ui.heading(lang.pick("还有数据没有上传完", "Some batches are not uploaded yet"));
            ui.label(lang.pick(
                format!(
                    "还有 {pending} 批没有上传完成。关闭后数据不会丢失，下次打开程序会继续上传。确定现在关闭吗？"
                ),
                format!(
                    "{pending} batches are not finished. Nothing is lost: they are sent when the program starts next time. Close now?"
                ),
            ));
            ui.horizontal(|ui| {
                if ui.button(lang.pick("关闭程序", "Close")).clicked() {
                    self.ui.allow_close = true;
                    self.ui.confirm_close = false;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
                if ui.button(lang.pick("不关闭，继续上传", "Keep it open")).clicked() {
                    self.ui.confirm_close = false;
                }
            });
        });
    }
}

/// The password's caption, as "记住密码" is ticked or not.
pub(super) fn password_caption(remember: bool, lang: Lang) -> &'static str {
    if remember {
        lang.pick(
            "密码（保存后记在这台电脑上，下次不用再填）",
            "Password (kept on this computer once saved)",
        )
    } else {
        lang.pick(
            "密码（只在这次打开期间记住）",
            "Password (this session only)",
        )
    }
}
