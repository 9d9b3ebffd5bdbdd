//! The start screen: the newest spreadsheets in Downloads (one click opens one), a place to
//! drop or choose a file, a box for a path, and what was handled today (click to open again).

use super::Action;
use super::recent::Recent;
use super::settings::HistoryEntry;
use super::upload::Unattended;
use eframe::egui;
use sheetbridge::issue::Lang;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How 选择文件… ended.
pub enum Picked {
    File(PathBuf),
    Cancelled,
    /// No dialog answered: the words to show.
    NoDialog(&'static str),
}

/// The start screen's own state.
pub struct Home {
    pub recent: Recent,
    /// The path typed or pasted into the box.
    pub path: String,
    /// The system's file dialog (a stand-in in tests).
    pub dialog: FileDialog,
    /// No file dialog answered: the path box is offered in a window over any screen.
    pub asking_path: bool,
    /// Put the keyboard in the path box at the next frame.
    pub focus_path: bool,
    /// The system's folder dialog (a stand-in in tests).
    pub folder_dialog: FileDialog,
}

impl Default for Home {
    fn default() -> Home {
        Home {
            recent: Recent::default(),
            path: String::new(),
            dialog: system_dialog,
            asking_path: false,
            focus_path: false,
            folder_dialog: system_folder_dialog,
        }
    }
}

/// Shows a file dialog and returns the file chosen (`None`: cancelled, or no dialog at all).
pub type FileDialog = fn(rfd::FileDialog) -> Option<PathBuf>;

/// The system's: the desktop portal, else zenity (rfd); `None` also when neither answers.
fn system_dialog(dialog: rfd::FileDialog) -> Option<PathBuf> {
    dialog.pick_file()
}

fn system_folder_dialog(dialog: rfd::FileDialog) -> Option<PathBuf> {
    dialog.pick_folder()
}

/// How a folder dialog ended: a folder, cancelled, or no dialog at all (the words to say,
/// which name the box to type the folder into).
pub enum PickedFolder {
    Folder(PathBuf),
    Cancelled,
    NoDialog(&'static str),
}

/// Every 选择文件夹… / 更换文件夹… goes through here: the system's folder dialog, and when none
/// answered, words that say so (`where_to_type` names the box beside the button).
pub fn pick_folder(
    ask: FileDialog,
    dialog: rfd::FileDialog,
    where_to_type: (&'static str, &'static str),
    lang: Lang,
) -> PickedFolder {
    let asked = Instant::now();
    match ask(dialog) {
        Some(dir) => PickedFolder::Folder(dir),
        None if asked.elapsed() < NO_DIALOG => {
            PickedFolder::NoDialog(lang.pick(where_to_type.0, where_to_type.1))
        }
        None => PickedFolder::Cancelled,
    }
}

/// Faster than a person can close a dialog: a `None` this soon means no dialog was shown
/// (rfd says no more than that).
const NO_DIALOG: Duration = Duration::from_millis(400);

/// What the clerk is told when no file dialog answered.
fn no_dialog_text(lang: Lang) -> &'static str {
    lang.pick(
        "这台电脑打不开选择文件的窗口。请在“或者输入文件路径”框里输入或粘贴文件的位置（例如 /home/user/下载/结果.xlsx），再点“打开”；也可以把文件拖进窗口。",
        "No file dialog opened on this computer. Type or paste the file's path into the \"Or type the file's path\" box and press Open, or drop the file on the window.",
    )
}

impl Home {
    /// 选择文件… and Ctrl+O go through here: the system's dialog, and when none answered, the
    /// path box with the keyboard in it (in a window over any screen but this one) and the
    /// words to say why; never nothing at all.
    pub fn pick(&mut self, dialog: rfd::FileDialog, lang: Lang) -> Picked {
        let asked = Instant::now();
        match (self.dialog)(dialog) {
            Some(path) => Picked::File(path),
            None if asked.elapsed() < NO_DIALOG => {
                self.asking_path = true;
                self.focus_path = true;
                Picked::NoDialog(no_dialog_text(lang))
            }
            None => Picked::Cancelled,
        }
    }

    /// The path box in a window of its own, while asked for over a screen other than this one.
    pub fn path_window(&mut self, ctx: &egui::Context, lang: Lang) -> Option<Action> {
        let mut action = None;
        let mut open = self.asking_path;
        egui::Window::new(lang.pick("打开文件", "Open a file"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .default_width(640.0)
            .show(ctx, |ui| {
                // Why is said in the notice above the screen.
                action = self.path_box(ui, lang);
            });
        self.asking_path = open && action.is_none();
        action
    }

    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        history: &[HistoryEntry],
        unattended: &Unattended,
        problem: Option<&str>,
        account: &mut super::daily::Account,
    ) -> Action {
        self.recent.poll();
        let mut action = Action::None;
        egui::ScrollArea::vertical().show(ui, |ui| {
            ui.add_space(12.0);
            let width = ui.available_width().min(900.0);
            ui.vertical_centered(|ui| {
                ui.set_max_width(width);
                if let Some(a) = unattended_today(ui, lang, unattended, problem) {
                    action = a;
                }
                if let Some(a) = self.downloads(ui, lang) {
                    action = a;
                }
                ui.add_space(12.0);
                if let Some(a) = drop_zone(ui, lang, width) {
                    action = a;
                }
                ui.add_space(8.0);
                if let Some(a) = self.path_box(ui, lang) {
                    action = a;
                }
                ui.add_space(8.0);
                if ui
                    .button(lang.pick("查询上报记录", "Look up an upload"))
                    .clicked()
                {
                    action = Action::ShowLookup;
                }
                ui.add_space(16.0);
                if let Some(a) = account.show(ui, lang) {
                    action = a;
                }
                if let Some(a) = today(ui, lang, history) {
                    action = a;
                }
            });
        });
        action
    }

    /// The newest spreadsheets in Downloads, newest (today's) first: one click opens one.
    fn downloads(&mut self, ui: &mut egui::Ui, lang: Lang) -> Option<Action> {
        let mut action = None;
        let folder = self
            .recent
            .dir
            .as_ref()
            .map(|d| sheetbridge::paths::file_name(d))
            .unwrap_or_default();
        ui.heading(lang.pick(
            format!("“{folder}”文件夹里最新的表格（点一下就打开）"),
            format!("Newest spreadsheets in \"{folder}\" (click to open)"),
        ));
        if self.recent.files.is_empty() {
            let text = if self.recent.reading() {
                lang.pick("正在查看下载文件夹……", "Looking in Downloads…")
            } else {
                lang.pick(
                    "下载文件夹里没有表格文件。可以把文件拖进来，或点“选择文件…”。",
                    "No spreadsheets in Downloads. Drop a file here or press \"Choose a file…\".",
                )
            };
            ui.label(egui::RichText::new(text).weak());
            return None;
        }
        for f in &self.recent.files {
            let text = format!("{}    {} · {}", f.name, f.when(lang), f.size_text());
            let button = egui::Button::new(egui::RichText::new(text).size(17.0))
                .min_size(egui::vec2(ui.available_width().min(640.0), 34.0));
            if ui
                .add(button)
                .on_hover_text(sheetbridge::paths::shown(&f.path))
                .clicked()
            {
                action = Some(Action::Open(f.path.clone()));
            }
        }
        action
    }

    /// A box for a path typed or pasted (what works when no file dialog answers).
    fn path_box(&mut self, ui: &mut egui::Ui, lang: Lang) -> Option<Action> {
        let mut action = None;
        ui.horizontal_wrapped(|ui| {
            let label = ui.label(lang.pick("或者输入文件路径：", "Or type the file's path:"));
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.path)
                        .desired_width((ui.available_width() - 90.0).clamp(200.0, 520.0))
                        .hint_text(lang.pick(
                            "例如 /home/user/下载/结果.xlsx",
                            "e.g. /home/user/Downloads/results.xlsx",
                        )),
                )
                .labelled_by(label.id);
            if std::mem::take(&mut self.focus_path) {
                r.request_focus();
            }
            let enter = r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            let path = self.path.trim().trim_matches('"');
            if (ui
                .add_enabled(
                    !path.is_empty(),
                    egui::Button::new(lang.pick("打开", "Open")),
                )
                .clicked()
                || enter)
                && !path.is_empty()
            {
                action = Some(Action::Open(PathBuf::from(path)));
            }
        });
        action
    }
}

/// What unattended mode did today, and the files waiting in 需要处理 (one click opens each in
/// the review screen). Nothing when it is off and did nothing.
fn unattended_today(
    ui: &mut egui::Ui,
    lang: Lang,
    u: &Unattended,
    problem: Option<&str>,
) -> Option<Action> {
    if u.watching.is_none() && u.today.is_empty() && u.to_fix.is_empty() && problem.is_none() {
        return None;
    }
    ui.heading(lang.pick("自动上报", "Unattended reporting"));
    let state = match &u.watching {
        Some(f) => lang.pick(
            format!(
                "正在自动上报文件夹「{}」里的新文件。",
                sheetbridge::paths::shown(f)
            ),
            format!(
                "Files put into {} are sent by themselves.",
                sheetbridge::paths::shown(f)
            ),
        ),
        None => lang
            .pick(
                "自动上报没有开（在“设置”里打开）。",
                "Unattended reporting is off (turn it on in Settings).",
            )
            .to_owned(),
    };
    ui.label(egui::RichText::new(state).weak());
    let red = egui::Color32::from_rgb(176, 0, 32);
    if let Some(p) = problem {
        ui.add(egui::Label::new(egui::RichText::new(p).color(red)).wrap());
    }
    if let Some((zh, en)) = &u.error {
        let text = lang.pick(zh, en);
        ui.add(egui::Label::new(egui::RichText::new(text).color(red)).wrap());
    }
    if !u.claimed.is_empty() {
        ui.label(lang.pick(
            format!("正在窗口里核对，关闭后再自动上报：{}", u.claimed.join("、")),
            format!("Open here; sent once closed: {}", u.claimed.join(", ")),
        ));
    }
    ui.label(lang.pick(
        format!("今天自动处理了 {} 个文件：", u.today.len()),
        format!("{} files handled by themselves today:", u.today.len()),
    ));
    const SHOWN: usize = 6;
    for h in u.today.iter().take(SHOWN) {
        let time = chrono::DateTime::from_timestamp_millis(h.at)
            .map(|t| t.with_timezone(&chrono::Local).format("%H:%M").to_string())
            .unwrap_or_default();
        ui.add(egui::Label::new(format!("{time}  {}", h.line)).wrap());
    }
    if u.today.len() > SHOWN {
        ui.label(
            egui::RichText::new(lang.pick(
                format!("……还有 {} 个", u.today.len() - SHOWN),
                format!("… and {} more", u.today.len() - SHOWN),
            ))
            .weak(),
        );
    }
    let action = to_fix(ui, lang, u);
    ui.add_space(12.0);
    ui.separator();
    action
}

/// The files waiting in 需要处理, each a button that opens it in the review screen.
fn to_fix(ui: &mut egui::Ui, lang: Lang, u: &Unattended) -> Option<Action> {
    if u.to_fix.is_empty() {
        return None;
    }
    let mut action = None;
    let n = u.to_fix.len();
    ui.add_space(4.0);
    ui.label(
        egui::RichText::new(lang.pick(
            format!("需要处理（{n} 个文件）：没有上报，点一下打开核对，改好后上传"),
            format!("To fix ({n} files): not sent; click to review, fix and upload"),
        ))
        .strong(),
    );
    for h in &u.to_fix {
        let text = lang.pick(
            format!("核对并上报：{}", h.name),
            format!("Review and upload: {}", h.name),
        );
        if ui
            .add(egui::Button::new(egui::RichText::new(text).size(17.0)))
            .on_hover_text(sheetbridge::paths::shown(&h.dest))
            .clicked()
        {
            action = Some(Action::Open(h.dest.clone()));
        }
        if let Some(w) = h.waiting {
            ui.label(egui::RichText::new(format!("    {}", w.said(lang))).weak());
        }
    }
    action
}

/// The place to drop a file, with the button for the file dialog.
fn drop_zone(ui: &mut egui::Ui, lang: Lang, width: f32) -> Option<Action> {
    let mut action = None;
    let hovering = ui.ctx().input(|i| !i.raw.hovered_files.is_empty());
    let stroke = if hovering {
        egui::Stroke::new(3.0, ui.visuals().selection.bg_fill)
    } else {
        egui::Stroke::new(2.0, ui.visuals().widgets.noninteractive.bg_stroke.color)
    };
    let frame = egui::Frame::new()
        .stroke(stroke)
        .corner_radius(12.0)
        .inner_margin(20.0);
    let response = frame
        .show(ui, |ui| {
            ui.set_width(width - 40.0);
            ui.vertical_centered(|ui| {
                ui.label(
                    egui::RichText::new(lang.pick(
                        "把导出的 Excel 拖到这里，或点击选择文件",
                        "Drop the exported Excel file here, or click to choose it",
                    ))
                    .size(22.0),
                );
                ui.label(
                    egui::RichText::new(lang.pick(
                        "支持 .xlsx .xls .xlsb .ods .csv，以及网页系统导出的 .xls",
                        "Reads .xlsx .xls .xlsb .ods .csv and the .xls files web systems export",
                    ))
                    .weak(),
                );
                ui.add_space(8.0);
                if ui
                    .add(
                        egui::Button::new(
                            egui::RichText::new(lang.pick("选择文件…", "Choose a file…"))
                                .size(20.0),
                        )
                        .min_size(egui::vec2(200.0, 40.0)),
                    )
                    .clicked()
                {
                    action = Some(Action::PickFile);
                }
            });
        })
        .response
        .interact(egui::Sense::click());
    if response.clicked() {
        action = Some(Action::PickFile);
    }
    action
}

/// What was handled today; an entry opens its file again.
fn today(ui: &mut egui::Ui, lang: Lang, history: &[HistoryEntry]) -> Option<Action> {
    let mut action = None;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let todays: Vec<&HistoryEntry> = history.iter().filter(|e| e.date == today).collect();
    ui.heading(lang.pick("今天处理过的文件", "Handled today"));
    if todays.is_empty() {
        ui.label(
            egui::RichText::new(lang.pick("今天还没有处理文件。", "Nothing yet today.")).weak(),
        );
        return None;
    }
    egui::Grid::new("today")
        .striped(true)
        .num_columns(4)
        .spacing([20.0, 6.0])
        .show(ui, |ui| {
            for e in todays.iter().rev().take(12) {
                ui.label(&e.time);
                match &e.source {
                    Some(p) if p.exists() => {
                        if ui
                            .link(&e.file)
                            .on_hover_text(lang.pick("点击再次打开", "Click to open again"))
                            .clicked()
                        {
                            action = Some(Action::Open(p.clone()));
                        }
                    }
                    _ => {
                        ui.label(&e.file);
                    }
                }
                ui.label(lang.pick(
                    format!(
                        "共 {} 行，可上报 {}，有错误 {}",
                        e.rows, e.ready, e.rejected
                    ),
                    format!(
                        "{} rows, {} ready, {} with errors",
                        e.rows, e.ready, e.rejected
                    ),
                ));
                ui.horizontal(|ui| {
                    if e.confirmed > 0 {
                        ui.label(
                            egui::RichText::new(lang.pick(
                                format!("省平台已确认 {} 行", e.confirmed),
                                format!("the platform confirmed {} rows", e.confirmed),
                            ))
                            .color(egui::Color32::from_rgb(27, 120, 50)),
                        );
                    } else if e.queued > 0 {
                        ui.label(lang.pick(
                            format!("已放进上传队列 {} 行，等省平台确认", e.queued),
                            format!("{} rows queued, waiting for the platform", e.queued),
                        ));
                    }
                    match &e.exported {
                        Some(p) => {
                            if ui
                                .link(lang.pick("已导出，打开文件夹", "exported, open folder"))
                                .clicked()
                                && let Some(dir) = p.parent()
                            {
                                action = Some(Action::OpenFolder(dir.to_owned()));
                            }
                        }
                        None if e.queued == 0 => {
                            ui.label(
                                egui::RichText::new(
                                    lang.pick("未导出，未上传", "not exported, not uploaded"),
                                )
                                .weak(),
                            );
                        }
                        None => {}
                    }
                });
                ui.end_row();
            }
        });
    action
}
