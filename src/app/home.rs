//! The start screen: one large place to drop the day's export, and what was handled today.

use super::settings::HistoryEntry;
use super::{Action, tr};
use crate::issue::Lang;
use eframe::egui;

pub fn show(ui: &mut egui::Ui, lang: Lang, history: &[HistoryEntry]) -> Action {
    let mut action = Action::None;
    let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    ui.add_space(24.0);
    let width = ui.available_width().min(820.0);
    ui.vertical_centered(|ui| {
        let stroke = if hovering {
            egui::Stroke::new(3.0, ui.visuals().selection.bg_fill)
        } else {
            egui::Stroke::new(2.0, ui.visuals().widgets.noninteractive.bg_stroke.color)
        };
        let frame = egui::Frame::new().stroke(stroke).corner_radius(12.0).inner_margin(40.0);
        let response = frame
            .show(ui, |ui| {
                ui.set_width(width - 80.0);
                ui.vertical_centered(|ui| {
                    ui.label(egui::RichText::new(tr(lang, "把导出的 Excel 拖到这里，或点击选择文件", "Drop the exported Excel file here, or click to choose it")).size(24.0));
                    ui.add_space(8.0);
                    ui.label(
                        egui::RichText::new(tr(
                            lang,
                            "支持 .xlsx .xls .xlsb .ods .csv，以及网页系统导出的 .xls",
                            "Reads .xlsx .xls .xlsb .ods .csv and the .xls files web systems export",
                        ))
                        .weak(),
                    );
                    ui.add_space(16.0);
                    if ui.add(egui::Button::new(egui::RichText::new(tr(lang, "选择文件…", "Choose a file…")).size(20.0)).min_size(egui::vec2(200.0, 44.0))).clicked() {
                        action = Action::PickFile;
                    }
                });
            })
            .response
            .interact(egui::Sense::click());
        if response.clicked() {
            action = Action::PickFile;
        }
    });
    ui.add_space(12.0);
    ui.vertical_centered(|ui| {
        if ui
            .button(tr(lang, "查询上报记录", "Look up an upload"))
            .clicked()
        {
            action = Action::ShowLookup;
        }
    });
    ui.add_space(12.0);
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let todays: Vec<&HistoryEntry> = history.iter().filter(|e| e.date == today).collect();
    ui.vertical_centered(|ui| {
        ui.set_max_width(width);
        ui.heading(tr(lang, "今天处理过的文件", "Handled today"));
        if todays.is_empty() {
            ui.label(
                egui::RichText::new(tr(lang, "今天还没有处理文件。", "Nothing yet today.")).weak(),
            );
        }
        egui::Grid::new("today")
            .striped(true)
            .num_columns(4)
            .spacing([24.0, 6.0])
            .show(ui, |ui| {
                for e in todays.iter().rev().take(12) {
                    ui.label(&e.time);
                    ui.label(&e.file);
                    ui.label(match lang {
                        Lang::Zh => format!(
                            "共 {} 行，可上报 {}，有错误 {}",
                            e.rows, e.ready, e.rejected
                        ),
                        Lang::En => format!(
                            "{} rows, {} ready, {} with errors",
                            e.rows, e.ready, e.rejected
                        ),
                    });
                    match &e.exported {
                        Some(p) => {
                            if ui
                                .link(tr(lang, "已导出，打开文件夹", "exported, open folder"))
                                .clicked()
                                && let Some(dir) = p.parent()
                            {
                                action = Action::OpenFolder(dir.to_owned());
                            }
                        }
                        None => {
                            ui.label(
                                egui::RichText::new(tr(lang, "未导出", "not exported")).weak(),
                            );
                        }
                    }
                    ui.end_row();
                }
            });
    });
    action
}
