//! The bars around the screens: the steps and the buttons at the top, the notice above the
//! content, and the progress of a job in place of the screen.

use super::jobs::{Job, JobKind};
use super::{Action, App, Screen};
use eframe::egui;
use sheetbridge::issue::Lang;

impl App {
    /// Writes an error notice to the program's log once, when it appears.
    pub(super) fn log_notice(&mut self) {
        let error = self.ui.notice.as_ref().filter(|n| n.error).map(|n| &n.text);
        if error.is_some() && error != self.ui.logged_notice.as_ref() {
            sheetbridge::log::event::error(error.map_or("", String::as_str));
        }
        self.ui.logged_notice = error.cloned();
    }

    /// Once the screen's size is known: on a small screen (1366×768, 1024×768) the window
    /// fills the work area (maximised, so the taskbar stays visible); the title follows the
    /// language.
    pub(super) fn fit_to_screen(&mut self, ctx: &egui::Context) {
        // The title says "阳性 N 人未上报" while a positive waits (app/daily.rs).
        let title = self.title();
        if self.ui.titled.as_ref() != Some(&title) {
            self.ui.titled = Some(title.clone());
            ctx.send_viewport_cmd(egui::ViewportCommand::Title(title));
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

    pub(super) fn top_bar(&mut self, ui: &mut egui::Ui) -> Option<Action> {
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
                ui.heading(lang.pick("核酸结果上报助手", "Nucleic-acid result reporting"));
                ui.add_space(20.0);
            }
            for (n, zh, en) in [
                (1, "① 打开文件", "1 Open"),
                (2, "② 核对", "2 Review"),
                (3, "③ 导出", "3 Export"),
            ] {
                let text = egui::RichText::new(lang.pick(zh, en)).size(18.0);
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
                if ui.button(lang.pick("关于", "About")).clicked() {
                    self.ui.show_about = true;
                }
                if ui.button(lang.pick("设置", "Settings")).clicked() {
                    self.ui.show_settings = true;
                }
                let pending = self.runtime.uploads.pending_rows();
                let queue = match (pending, self.runtime.uploads.sending) {
                    (0, _) => lang.pick("上传队列", "Upload queue").to_owned(),
                    (n, true) => lang.pick(
                        format!("上传队列：{n} 行上传中"),
                        format!("Upload queue: {n} rows sending"),
                    ),
                    (n, false) => lang.pick(
                        format!("上传队列：{n} 行等待"),
                        format!("Upload queue: {n} rows waiting"),
                    ),
                };
                if ui.button(queue).clicked() {
                    action = Some(Action::ShowQueue);
                }
                if self.runtime.job.is_none()
                    && ui
                        .button(lang.pick("打开文件 (Ctrl+O)", "Open file (Ctrl+O)"))
                        .clicked()
                {
                    action = Some(Action::PickFile);
                }
            });
        });
        action
    }

    pub(super) fn notice_bar(&mut self, ui: &mut egui::Ui) -> Option<Action> {
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
                        && ui.button(lang.pick("重试", "Retry")).clicked()
                    {
                        action = Some(Action::Export(dir.clone()));
                    }
                    if ui.button(lang.pick("知道了", "Dismiss")).clicked() {
                        self.ui.notice = None;
                    }
                });
            });
        ui.add_space(6.0);
        action
    }
}

pub(super) fn progress_view(ui: &mut egui::Ui, job: &Job, lang: Lang) -> Action {
    let mut action = Action::None;
    ui.add_space(60.0);
    ui.vertical_centered(|ui| {
        let (rows, of) = job.progress();
        let title = match &job.what {
            JobKind::Load(path) => format!(
                "{}{}",
                lang.pick("正在读取并检查：", "Reading and checking: "),
                sheetbridge::paths::file_name(path)
            ),
            JobKind::Export => lang
                .pick("正在写出上报表……", "Writing the upload sheet…")
                .to_owned(),
            JobKind::Queue => lang
                .pick("正在放进上传队列……", "Queueing for upload…")
                .to_owned(),
            JobKind::Mark => lang
                .pick("正在记下手工上报……", "Noting the upload by hand…")
                .to_owned(),
        };
        ui.heading(title);
        ui.add_space(16.0);
        let bar = if !matches!(job.what, JobKind::Load(_)) {
            // Writing and queueing report no rows: a moving bar says it is working.
            egui::ProgressBar::new(0.0).animate(true)
        } else if of > 0 {
            egui::ProgressBar::new((rows as f32 / of as f32).min(1.0)).text(lang.pick(
                format!("已读 {rows} / 约 {of} 行"),
                format!("{rows} of about {of} rows"),
            ))
        } else {
            egui::ProgressBar::new(0.0)
                .animate(true)
                .text(lang.pick(format!("已读 {rows} 行"), format!("{rows} rows read")))
        };
        ui.add(bar.desired_width(520.0));
        ui.add_space(16.0);
        if matches!(job.what, JobKind::Load(_)) && ui.button(lang.pick("取消", "Cancel")).clicked()
        {
            action = Action::CancelJob;
        }
    });
    ui.ctx()
        .request_repaint_after(std::time::Duration::from_millis(100));
    action
}
