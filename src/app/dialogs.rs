//! The small windows over the main screen: settings, about, and "close with batches pending?".

use super::{Action, App, tr, upload};
use crate::issue::Lang;
use eframe::egui;

impl App {
    pub(super) fn settings_window(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let mut open = true;
        let mut save = false;
        egui::Window::new(tr(lang, "设置", "Settings"))
            .max_width(640.0)
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                egui::Grid::new("settings")
                    .num_columns(2)
                    .spacing([16.0, 12.0])
                    .show(ui, |ui| {
                        let label =
                            ui.label(tr(lang, "本院名称（检测机构）", "Your lab (检测机构)"));
                        ui.add(
                            egui::TextEdit::singleline(&mut self.settings.lab)
                                .desired_width(320.0)
                                .hint_text(tr(
                                    lang,
                                    "例如：天河区人民医院检验科",
                                    "e.g. 天河区人民医院检验科",
                                )),
                        )
                        .labelled_by(label.id);
                        ui.end_row();
                        ui.label(tr(lang, "语言", "Language"));
                        ui.horizontal(|ui| {
                            ui.radio_value(&mut self.settings.lang, Lang::Zh, "中文");
                            ui.radio_value(&mut self.settings.lang, Lang::En, "English");
                        });
                        ui.end_row();
                        ui.label(tr(lang, "上报目标（省平台）", "Upload target"));
                        let targets = crate::upload::target::available(
                            self.dirs
                                .config
                                .as_ref()
                                .map(|c| c.join("targets"))
                                .as_deref(),
                        );
                        let current = self
                            .settings
                            .target
                            .clone()
                            .unwrap_or_else(|| tr(lang, "（未选择）", "(none)").to_owned());
                        let combo = egui::ComboBox::from_id_salt("target")
                            .selected_text(current)
                            .show_ui(ui, |ui| {
                                for t in targets {
                                    let selected =
                                        self.settings.target.as_deref() == Some(t.as_str());
                                    if ui.selectable_label(selected, &t).clicked() {
                                        self.settings.target = Some(t);
                                    }
                                }
                            });
                        combo.response.widget_info(|| {
                            egui::WidgetInfo::labeled(egui::Role::ComboBox, true, "上报目标")
                        });
                        ui.end_row();
                        let label = ui.label(tr(lang, "省平台用户名", "Platform user name"));
                        ui.add(
                            egui::TextEdit::singleline(&mut self.settings.user)
                                .desired_width(240.0),
                        )
                        .labelled_by(label.id);
                        ui.end_row();
                        let label = ui.label(tr(
                            lang,
                            "密码（只在这次打开期间记住）",
                            "Password (this session only)",
                        ));
                        ui.horizontal(|ui| {
                            ui.add(
                                egui::TextEdit::singleline(&mut self.uploads.password)
                                    .password(true)
                                    .desired_width(240.0),
                            )
                            .labelled_by(label.id);
                            let testing = self.uploads.testing;
                            if ui
                                .add_enabled(
                                    !testing,
                                    egui::Button::new(tr(lang, "测试连接", "Test connection")),
                                )
                                .clicked()
                            {
                                match self.target() {
                                    Ok(target) => {
                                        let creds = upload::credentials(
                                            &target,
                                            &self.settings.user,
                                            &self.uploads.password,
                                        )
                                        .unwrap_or_default();
                                        self.uploads.test(target, creds);
                                    }
                                    Err(e) => self.uploads.test_result = Some(Err(e)),
                                }
                            }
                            if testing {
                                ui.spinner();
                            }
                        });
                        ui.end_row();
                        if let Some(result) = &self.uploads.test_result {
                            ui.label("");
                            match result {
                                Ok(_) => ui.colored_label(
                                    egui::Color32::from_rgb(27, 120, 50),
                                    tr(lang, "连接成功，可以上传。", "Connected: ready to upload."),
                                ),
                                Err(e) => ui.add(
                                    egui::Label::new(
                                        egui::RichText::new(e)
                                            .color(egui::Color32::from_rgb(176, 0, 32)),
                                    )
                                    .wrap(),
                                ),
                            };
                            ui.end_row();
                        }
                        ui.label(tr(lang, "已上报文件保留天数", "Keep uploaded files (days)"));
                        let mut days = self.settings.keep_days();
                        let r = ui.add(
                            egui::DragValue::new(&mut days)
                                .range(1..=365)
                                .suffix(tr(lang, " 天", " days")),
                        );
                        r.widget_info(|| {
                            egui::WidgetInfo::labeled(
                                egui::Role::SpinButton,
                                true,
                                "已上报文件保留天数",
                            )
                        });
                        if days != self.settings.keep_days() {
                            self.settings.keep_days = Some(days);
                            self.uploads.set_keep_days(days);
                        }
                        ui.end_row();
                        ui.label(tr(lang, "导出到", "Export to"));
                        let shown = self
                            .settings
                            .export_dir
                            .as_ref()
                            .map(|d| d.display().to_string())
                            .unwrap_or_else(|| {
                                tr(lang, "原文件所在的文件夹", "the source file's folder")
                                    .to_owned()
                            });
                        ui.label(shown);
                        ui.end_row();
                    });
                ui.add_space(8.0);
                ui.label(
                    egui::RichText::new(tr(
                        lang,
                        "本院名称用于“检测机构”一栏为空的行。",
                        "Your lab fills 检测机构 where the export has none.",
                    ))
                    .weak(),
                );
                if ui.button(tr(lang, "保存设置", "Save settings")).clicked() {
                    save = true;
                }
            });
        // Closing the window keeps what was typed, like the button does.
        if save || !open {
            self.save_settings();
            self.show_settings = false;
            self.uploads.credentials_changed(self.credentials());
        }
    }

    pub(super) fn about_window(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let mut open = true;
        let mut folder = None;
        egui::Window::new(tr(lang, "关于", "About"))
            .open(&mut open)
            .collapsible(false)
            .show(ctx, |ui| {
                ui.label(format!(
                    "{} {}",
                    tr(lang, "核酸结果上报助手 版本", "SheetBridge version"),
                    env!("CARGO_PKG_VERSION")
                ));
                ui.add_space(6.0);
                ui.label(egui::RichText::new(tr(lang, "使用的模板", "Profiles in use")).strong());
                for p in &self.profiles.list {
                    ui.label(format!("{}（{}）— {}", p.title, p.name, p.origin));
                }
                for e in &self.profiles.broken {
                    ui.colored_label(egui::Color32::from_rgb(180, 0, 0), e.to_string());
                }
                ui.add_space(6.0);
                ui.label(
                    egui::RichText::new(tr(
                        lang,
                        "数据和设置保存在",
                        "Your data and settings are in",
                    ))
                    .strong(),
                );
                let kinds = [
                    (
                        &self.dirs.config,
                        tr(lang, "模板和设置：", "Profiles and settings: "),
                    ),
                    (
                        &self.dirs.data,
                        tr(lang, "处理记录和上报队列：", "History and outbox: "),
                    ),
                ];
                for (dir, what) in kinds {
                    let Some(dir) = dir else { continue };
                    ui.horizontal(|ui| {
                        ui.label(format!("{what}{}", dir.display()));
                        if ui.button(tr(lang, "打开文件夹", "Open folder")).clicked() {
                            folder = Some(dir.clone());
                        }
                    });
                }
            });
        if !open {
            self.show_about = false;
        }
        if let Some(dir) = folder {
            // The folder may not exist yet on a new install.
            let _ = std::fs::create_dir_all(&dir);
            self.apply(ctx, Action::OpenFolder(dir));
        }
    }

    pub(super) fn close_dialog(&mut self, ctx: &egui::Context) {
        let lang = self.lang();
        let pending = self.uploads.pending();
        egui::Modal::new(egui::Id::unique("confirm_close")).show(ctx, |ui| {
            ui.heading(tr(lang, "还有数据没有上传完", "Some batches are not uploaded yet"));
            ui.label(match lang {
                Lang::Zh => format!("还有 {pending} 批没有上传完成。关闭后数据不会丢失，下次打开程序会继续上传。确定现在关闭吗？"),
                Lang::En => format!("{pending} batches are not finished. Nothing is lost: they are sent when the program starts next time. Close now?"),
            });
            ui.horizontal(|ui| {
                if ui.button(tr(lang, "关闭程序", "Close")).clicked() {
                    self.allow_close = true;
                    self.confirm_close = false;
                    ctx.send_viewport_cmd(egui::ViewportCommand::Close);
                }
                if ui.button(tr(lang, "不关闭，继续上传", "Keep it open")).clicked() {
                    self.confirm_close = false;
                }
            });
        });
    }
}
