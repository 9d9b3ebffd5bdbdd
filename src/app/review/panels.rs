//! The review's side panel (one row's fields, fixed in place) and the bar at the bottom
//! (export, upload, the export folder, closing the file).

use super::{ERROR_BG, ERROR_FG, OK_FG, Review, WARN_BG, WARN_FG, status_text};
use crate::app::Action;
use crate::app::jobs::Exported;
use crate::issue::{Lang, Severity};
use crate::profile::Field;
use eframe::egui::{self, Color32, RichText};

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
            let (text, color) = status_text(b, index, lang);
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
        egui::ScrollArea::vertical()
            .max_height(ui.available_height() - 60.0)
            .show(ui, |ui| {
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
            let upload = lang.pick(
                format!("上传到省平台（{} 行）", s.ready),
                format!("Upload to the platform ({} rows)", s.ready),
            );
            if big_button(ui, enabled, upload, 220.0) {
                action = Some(Action::Upload);
            }
            let folder = format!(
                "{}{}",
                lang.pick("导出到：", "Into: "),
                crate::paths::shown(&self.export_dir)
            );
            ui.scope(|ui| {
                ui.set_max_width(220.0);
                ui.add(egui::Label::new(folder.as_str()).truncate())
                    .on_hover_text(folder.as_str());
            });
            if ui
                .button(lang.pick("更换文件夹…", "Change folder…"))
                .clicked()
                && let Some(dir) = rfd::FileDialog::new()
                    .set_directory(&self.export_dir)
                    .pick_folder()
            {
                self.export_dir = dir;
            }
            ui.add_space(16.0);
            if ui
                .button(lang.pick("关闭此文件", "Close this file"))
                .clicked()
            {
                action = Some(Action::Close);
            }
        });
        ui.add_space(6.0);
        action
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
                                crate::paths::shown(&done.upload),
                                done.rows
                            ),
                            format!(
                                "Wrote {} ({} rows)",
                                crate::paths::shown(&done.upload),
                                done.rows
                            ),
                        ))
                        .color(OK_FG),
                    );
                    if let Some((path, n)) = &done.rejected {
                        ui.label(lang.pick(
                            format!(
                                "错误行：{}（{n} 行，含错误原因）",
                                crate::paths::shown(path)
                            ),
                            format!(
                                "Rejected rows: {} ({n} rows, with reasons)",
                                crate::paths::shown(path)
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
