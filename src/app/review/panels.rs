//! The review's side panel (one row's fields, fixed in place) and the bar at the bottom
//! (export, upload, the export folder, closing the file).

use super::{ERROR_BG, ERROR_FG, OK_FG, Review, WARN_BG, WARN_FG, status_text};
use crate::app::Action;
use crate::app::jobs::Exported;
use eframe::egui::{self, Color32, RichText};
use sheetbridge::issue::{Lang, Severity};
use sheetbridge::profile::Field;

impl Review {
    pub(super) fn editor(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let Some(index) = self.selected else { return };
        let b = &self.batch;
        let fields = b.profile().fields.clone();
        ui.horizontal(|ui| {
            ui.heading(lang.pick(
                format!("第 {} 行", b.line(index)),
                format!("Row {}", b.line(index)),
            ));
            let (text, color) = status_text(b, &self.sent, index, lang);
            ui.label(RichText::new(text).color(color).size(18.0));
        });
        ui.label(
            RichText::new(lang.pick(
                "在这里改正后点“保存修改”，会立即重新检查。原文件不会被改动。",
                "Fix the values and press Save: the row is checked again at once. The source file is not changed.",
            ))
            .weak(),
        );
        let row_issues: Vec<_> = b
            .issues(index)
            .iter()
            .filter(|x| x.field.is_none())
            .map(|x| b.message_body(x, lang))
            .collect();
        for m in row_issues {
            ui.colored_label(ERROR_FG, m);
        }
        let mut save = false;
        let mut fields_area = egui::ScrollArea::vertical().max_height(ui.available_height() - 90.0);
        if std::mem::take(&mut self.panel_top) {
            // A row opened anew starts at its first field (its problem, if any, is scrolled
            // to below), not where the last row's fields were.
            fields_area = fields_area.vertical_scroll_offset(0.0);
        }
        fields_area.show(ui, |ui| {
            for (fi, f) in fields.iter().enumerate() {
                if self.field_editor(ui, lang, index, fi, f) {
                    save = true;
                }
            }
        });
        ui.separator();
        let excluded = self.batch.is_excluded(index);
        ui.horizontal(|ui| {
            if ui.button(lang.pick("保存修改", "Save changes")).clicked() {
                save = true;
            }
            let text = if excluded {
                lang.pick("恢复上报此行", "Report this row again")
            } else {
                lang.pick("不上报此行", "Leave this row out")
            };
            if ui.button(text).clicked() {
                self.toggle_excluded();
            }
            if ui.button(lang.pick("关闭", "Close")).clicked() {
                self.selected = None;
            }
        });
        super::table::fitting_hint(
            ui,
            lang.pick(
                "回车 保存 · Ctrl+D 不上报 · F3 下一个错误",
                "Enter saves · Ctrl+D leave out · F3 next error",
            ),
        );
        if save {
            self.apply_edits();
        }
    }

    pub(super) fn export_bar(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        exported: Option<&Exported>,
    ) -> Option<Action> {
        let mut action = None;
        ui.add_space(6.0);
        if let Some(done) = exported
            && let Some(a) = self.exported_panel(ui, lang, done)
        {
            action = Some(a);
        }
        // Wraps on a narrow screen rather than pushing buttons out of the window.
        ui.horizontal_wrapped(|ui| {
            let (s, _) = self.counts();
            let text = lang.pick(
                format!("导出上报表（{} 行） Ctrl+S", s.ready),
                format!("Export the upload sheet ({} rows) Ctrl+S", s.ready),
            );
            let enabled = s.ready > 0;
            if big_button(ui, enabled, text, 260.0) {
                action = Some(Action::Export(self.export_dir.clone()));
            }
            // Rows already on their way are not offered again.
            let n = self.unsent_ready();
            let upload = lang.pick(
                format!("上传到省平台（{n} 行）"),
                format!("Upload to the platform ({n} rows)"),
            );
            if big_button(ui, n > 0, upload, 220.0) {
                action = Some(Action::Upload);
            }
            let folder = format!(
                "{}{}",
                lang.pick("导出到：", "Into: "),
                sheetbridge::paths::shown(&self.export_dir)
            );
            ui.scope(|ui| {
                // What is left after the buttons that follow, so they stay on this line.
                ui.set_max_width((ui.available_width() - 270.0).clamp(60.0, 220.0));
                ui.add(egui::Label::new(folder.as_str()).truncate())
                    .on_hover_text(folder.as_str());
            });
            if ui
                .button(lang.pick("更换文件夹…", "Change folder…"))
                .clicked()
            {
                action = Some(Action::PickExportFolder);
            }
            ui.add_space(16.0);
            if ui
                .button(lang.pick("关闭此文件", "Close this file"))
                .clicked()
            {
                action = Some(Action::Close);
            }
        });
        self.folder_box(ui, lang);
        ui.add_space(6.0);
        action
    }

    /// The box for the export folder, offered when no folder dialog answered.
    fn folder_box(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let Some(text) = &mut self.folder_box else {
            return;
        };
        let mut done = None;
        ui.horizontal(|ui| {
            let label = ui.label(lang.pick("导出到文件夹：", "Export into:"));
            let r = ui
                .add(egui::TextEdit::singleline(text).desired_width(420.0))
                .labelled_by(label.id);
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let typed = text.trim().trim_matches('"');
            if (ui.button(lang.pick("确定", "OK")).clicked() || enter) && !typed.is_empty() {
                done = Some(Some(std::path::PathBuf::from(typed)));
            }
            if ui.button(lang.pick("取消", "Cancel")).clicked() {
                done = Some(None);
            }
        });
        if let Some(dir) = done {
            if let Some(dir) = dir {
                self.export_dir = dir;
            }
            self.folder_box = None;
        }
    }

    /// One field of the row in the panel: its header (and the source's, when another), the
    /// value to fix, and its problems; `true` when Enter asks to save.
    fn field_editor(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        index: usize,
        fi: usize,
        f: &Field,
    ) -> bool {
        let b = &self.batch;
        let source = b.column_header(fi);
        let caption = if source == f.header {
            f.header.clone()
        } else {
            format!("{}（{}）", f.header, source)
        };
        let label = ui.label(RichText::new(caption).strong());
        let sev = b.field_severity(index, fi);
        let mut edit = egui::TextEdit::singleline(&mut self.edits[fi]).desired_width(f32::INFINITY);
        if let Some(sev) = sev {
            edit = edit.background_color(if sev == Severity::Error {
                ERROR_BG
            } else {
                WARN_BG
            });
        }
        let hint = match b.output_value(index, fi) {
            v if v != b.value(index, fi) && b.value(index, fi).is_empty() => {
                let v = b.profile().shown(fi, v);
                format!("{}{v}", lang.pick("将自动填写：", "filled in: "))
            }
            _ => String::new(),
        };
        let r = ui.add(edit.hint_text(hint)).labelled_by(label.id);
        if self.focus_field == Some(fi) {
            self.focus_field = None;
            r.request_focus();
            r.scroll_to_me(Some(egui::Align::Center));
        }
        let save = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
        for x in b
            .issues(index)
            .iter()
            .filter(|x| x.field == Some(fi as u16))
        {
            let color = if x.severity == Severity::Error {
                ERROR_FG
            } else {
                WARN_FG
            };
            ui.label(RichText::new(b.message_body(x, lang)).color(color));
        }
        ui.add_space(4.0);
        save
    }

    /// What the last export wrote, with "打开所在文件夹"; says when later changes made it stale.
    fn exported_panel(&self, ui: &mut egui::Ui, lang: Lang, done: &Exported) -> Option<Action> {
        let mut action = None;
        egui::Frame::new()
            .fill(Color32::from_rgb(232, 245, 233))
            .inner_margin(8.0)
            .corner_radius(6.0)
            .show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label(
                        RichText::new(lang.pick(
                            format!(
                                "已导出上报表：{}（{} 行）",
                                sheetbridge::paths::shown(&done.upload),
                                done.rows
                            ),
                            format!(
                                "Wrote {} ({} rows)",
                                sheetbridge::paths::shown(&done.upload),
                                done.rows
                            ),
                        ))
                        .color(OK_FG),
                    );
                    if let Some((path, n)) = &done.rejected {
                        ui.label(lang.pick(
                            format!(
                                "错误行：{}（{n} 行，含错误原因）",
                                sheetbridge::paths::shown(path)
                            ),
                            format!(
                                "Rejected rows: {} ({n} rows, with reasons)",
                                sheetbridge::paths::shown(path)
                            ),
                        ));
                    }
                    if self.keep.export_stale {
                        ui.colored_label(WARN_FG, crate::app::keep::STALE.text(lang));
                    }
                    if let Some(dir) = done.upload.parent()
                        && ui
                            .button(lang.pick("打开所在文件夹", "Open the folder"))
                            .clicked()
                    {
                        action = Some(Action::OpenFolder(dir.to_owned()));
                    }
                    // Platforms used through their website (daily.md): the sheet as exported.
                    if !self.keep.export_stale
                        && ui
                            .button(lang.pick("已在省平台网站手工上报", "Uploaded by hand on the platform's website"))
                            .on_hover_text(lang.pick(
                                "在省平台网站上传了这个上报表后点这里：这些行记为已上报，不会再上传。",
                                "Press once this sheet is uploaded on the platform's website: its rows count as uploaded and are not sent again.",
                            ))
                            .clicked()
                    {
                        action = Some(Action::MarkUploaded);
                    }
                });
            });
        action
    }
}

/// One of the bar's two large buttons (export, upload); `true` when clicked.
fn big_button(ui: &mut egui::Ui, enabled: bool, text: String, width: f32) -> bool {
    let button =
        egui::Button::new(RichText::new(text).size(19.0)).min_size(egui::vec2(width, 40.0));
    ui.add_enabled(enabled, button).clicked()
}
