//! Step ②: the summary, the rows (only visible rows are laid out, so 1,000,000 rows scroll
//! smoothly), the problems, and fixing a row in place. Edits re-check the row and the rows
//! sharing its barcode or person at once; the source file is never changed.

use super::jobs::Exported;
use super::{Action, tr};
use crate::batch::{Batch, RowStatus, Summary};
use crate::issue::{Lang, Severity};
use crate::profile::Profiles;
use eframe::egui::{self, Color32, RichText};
use egui_extras::{Column, TableBuilder};
use std::path::PathBuf;

/// Which rows the table shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    All,
    Ready,
    Rejected,
    /// Rows with a warning (whatever their status).
    Warnings,
    Duplicate,
    Excluded,
    /// Errors, warnings and repeats.
    Problems,
}

const ERROR_BG: Color32 = Color32::from_rgb(255, 214, 214);
const WARN_BG: Color32 = Color32::from_rgb(255, 236, 179);
const ERROR_FG: Color32 = Color32::from_rgb(176, 0, 32);
const WARN_FG: Color32 = Color32::from_rgb(150, 90, 0);
const OK_FG: Color32 = Color32::from_rgb(27, 120, 50);

/// The review screen's state.
pub struct Review {
    pub batch: Batch,
    pub filter: Filter,
    pub search: String,
    /// Rows shown, after the filter and the search.
    view: Vec<u32>,
    view_for: Option<(Filter, String, u64)>,
    /// Bumped by every edit, so the view is rebuilt.
    generation: u64,
    /// The row open in the side panel.
    pub selected: Option<usize>,
    /// The highlighted row, as a position in the view (arrow keys move it).
    pub cursor: Option<usize>,
    /// Columns scrolled out on the left (行号, 姓名 and 状态 always stay).
    pub first_column: usize,
    /// The panel field to focus and scroll to at the next frame.
    focus_field: Option<usize>,
    /// Sideways wheel movement not yet turned into a column.
    hscroll: f32,
    /// Focus the search box at the next frame (Ctrl+F).
    focus_search: bool,
    /// The selected row's fields as being edited.
    edits: Vec<String>,
    scroll_to: Option<usize>,
    pub export_dir: PathBuf,
    /// Counts for the summary line, for `generation` (a full pass over a million rows is
    /// too slow to repeat every frame).
    counts: Option<(u64, Summary, usize)>,
    /// The clerk's decisions, saved as they are made (app/keep.rs).
    pub keep: super::keep::Keep,
}

impl Review {
    pub fn new(batch: Batch, export_dir: PathBuf) -> Review {
        Review {
            batch,
            filter: Filter::All,
            search: String::new(),
            view: Vec::new(),
            view_for: None,
            generation: 0,
            selected: None,
            cursor: None,
            first_column: 0,
            focus_field: None,
            hscroll: 0.0,
            focus_search: false,
            edits: Vec::new(),
            scroll_to: None,
            export_dir,
            counts: None,
            keep: Default::default(),
        }
    }

    /// The rows the table shows now (indices into the batch).
    pub fn visible_rows(&mut self) -> &[u32] {
        self.refresh_view();
        &self.view
    }

    fn refresh_view(&mut self) {
        let key = (self.filter, self.search.clone(), self.generation);
        if self.view_for.as_ref() == Some(&key) {
            return;
        }
        let b = &self.batch;
        let needle = self.search.trim().to_uppercase();
        let search_fields = b.profile().searched_fields();
        self.view = (0..b.len())
            .filter(|&i| {
                let st = b.status(i);
                let keep = match self.filter {
                    Filter::All => true,
                    Filter::Ready => st == RowStatus::Ready,
                    Filter::Rejected => st == RowStatus::Rejected,
                    Filter::Warnings => b.issues(i).iter().any(|x| x.severity == Severity::Warning),
                    Filter::Duplicate => st == RowStatus::Duplicate,
                    Filter::Excluded => st == RowStatus::Excluded,
                    Filter::Problems => !b.issues(i).is_empty(),
                };
                keep && (needle.is_empty()
                    || b.line(i).to_string() == needle
                    || search_fields
                        .iter()
                        .any(|&f| b.value(i, f).to_uppercase().contains(&needle)))
            })
            .map(|i| i as u32)
            .collect();
        self.view_for = Some(key);
    }

    /// The summary counts and the number of rows with a warning.
    pub fn counts(&mut self) -> (Summary, usize) {
        match self.counts {
            Some((g, s, w)) if g == self.generation => (s, w),
            _ => {
                let b = &self.batch;
                let s = b.summary();
                let w = (0..b.len())
                    .filter(|&i| b.issues(i).iter().any(|x| x.severity == Severity::Warning))
                    .count();
                self.counts = Some((self.generation, s, w));
                (s, w)
            }
        }
    }

    /// The field the side panel focuses when it opens a row: the first with an error, else
    /// the first with a warning.
    pub fn first_problem_field(&self, index: usize) -> Option<usize> {
        let n = self.batch.profile().fields.len();
        let sev = |want| (0..n).find(|&f| self.batch.field_severity(index, f) == Some(want));
        sev(Severity::Error).or_else(|| sev(Severity::Warning))
    }

    /// Selects a row, opens it in the side panel with its first problem field focused, and
    /// scrolls the table to it.
    pub fn select(&mut self, index: usize) {
        self.selected = Some(index);
        self.focus_field = self.first_problem_field(index);
        self.edits = (0..self.batch.profile().fields.len())
            .map(|f| self.batch.value(index, f).to_owned())
            .collect();
        self.refresh_view();
        if let Some(pos) = self.view.iter().position(|&i| i as usize == index) {
            self.scroll_to = Some(pos);
            self.cursor = Some(pos);
        } else {
            // Out of the current filter: show everything so the row can be seen.
            self.filter = Filter::All;
            self.search.clear();
            self.refresh_view();
            self.scroll_to = Some(index);
            self.cursor = Some(index);
        }
    }

    /// The row under the cursor (an index into the batch).
    pub fn cursor_row(&mut self) -> Option<usize> {
        self.refresh_view();
        self.cursor
            .and_then(|p| self.view.get(p))
            .map(|&i| i as usize)
    }

    /// The keys of the table, when no text field has the keyboard: arrows, Page Up/Down,
    /// Home/End move the highlighted row; Enter and F2 open it in the panel; left and right
    /// move the columns; Ctrl+F goes to the search box; Esc closes the panel.
    fn keys(&mut self, ui: &egui::Ui) {
        use egui::Key;
        let ctx = ui.ctx();
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, Key::F)) {
            self.focus_search = true;
        }
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        self.refresh_view();
        let rows = self.view.len();
        if rows == 0 {
            return;
        }
        let page = 12;
        let (moves, open, edit, close, left, right) = ctx.input_mut(|i| {
            let mut step: Option<isize> = None;
            for (key, d) in [
                (Key::ArrowDown, 1),
                (Key::ArrowUp, -1),
                (Key::PageDown, page),
                (Key::PageUp, -page),
                (Key::End, isize::MAX / 2),
                (Key::Home, -(isize::MAX / 2)),
            ] {
                if i.consume_key(egui::Modifiers::NONE, key) {
                    step = Some(step.unwrap_or(0) + d);
                }
            }
            (
                step,
                i.consume_key(egui::Modifiers::NONE, Key::Enter),
                i.consume_key(egui::Modifiers::NONE, Key::F2),
                i.consume_key(egui::Modifiers::NONE, Key::Escape),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowLeft),
                i.consume_key(egui::Modifiers::NONE, Key::ArrowRight),
            )
        });
        if let Some(d) = moves {
            let now = self.cursor.map_or(-1, |c| c as isize);
            let to = now.saturating_add(d).clamp(0, rows as isize - 1) as usize;
            self.cursor = Some(to);
            self.scroll_to = Some(to);
            // With the panel open, it follows the highlighted row.
            if self.selected.is_some() {
                let i = self.view[to] as usize;
                self.select(i);
            }
        }
        if (open || edit)
            && let Some(i) = self.cursor_row()
        {
            self.select(i);
            if edit {
                // F2: straight into the first field, problem or not.
                self.focus_field = Some(self.focus_field.unwrap_or(0));
            }
        }
        if close {
            self.selected = None;
        }
        let scrollable = self.scrollable_columns();
        if left {
            self.first_column = self.first_column.saturating_sub(1);
        }
        if right {
            self.first_column = (self.first_column + 1).min(scrollable.saturating_sub(1));
        }
    }

    /// Columns that move left and right: 问题 and the fields other than the pinned one.
    fn scrollable_columns(&self) -> usize {
        let p = self.batch.profile();
        moving_columns(p.fields.len(), p.pinned_field()).len()
    }

    /// Applies the changed fields of the selected row and re-checks.
    pub fn apply_edits(&mut self) {
        let Some(index) = self.selected else { return };
        for (f, text) in self.edits.clone().iter().enumerate() {
            if text != self.batch.value(index, f) {
                self.keep.edit(&mut self.batch, index, f, text);
            }
        }
        self.edits = (0..self.edits.len())
            .map(|f| self.batch.value(index, f).to_owned())
            .collect();
        self.generation += 1;
    }

    pub fn toggle_excluded(&mut self) {
        if let Some(index) = self.selected {
            let now = self.batch.is_excluded(index);
            self.keep.set_excluded(&mut self.batch, index, !now);
            self.generation += 1;
        }
    }

    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        profiles: &Profiles,
        exported: Option<&Exported>,
    ) -> Action {
        let mut action = Action::None;
        self.keys(ui);
        egui::Panel::top("review_head")
            .show_separator_line(false)
            .show(ui, |ui| {
                if let Some(a) = self.head(ui, lang, profiles) {
                    action = a;
                }
            });
        egui::Panel::bottom("review_export").show(ui, |ui| {
            if let Some(a) = self.export_bar(ui, lang, exported) {
                action = a;
            }
        });
        if self.selected.is_some() {
            // Narrower on a small screen, so the table keeps most of the width.
            let width = (ui.available_width() * 0.34).clamp(300.0, 420.0);
            egui::Panel::right("row_editor")
                .default_size(width)
                .min_size(260.0)
                .resizable(true)
                .show(ui, |ui| {
                    self.editor(ui, lang);
                });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.table(ui, lang);
        });
        action
    }

    fn head(&mut self, ui: &mut egui::Ui, lang: Lang, profiles: &Profiles) -> Option<Action> {
        let mut action = None;
        let b = &self.batch;
        let src = &b.source;
        let file = crate::paths::file_name(&src.path);
        ui.label(
            RichText::new(match lang {
                Lang::Zh => format!(
                    "{file} · 工作表「{}」· 表头在第 {} 行",
                    src.sheet, src.header_row
                ),
                Lang::En => format!(
                    "{file} · sheet \"{}\" · header on row {}",
                    src.sheet, src.header_row
                ),
            })
            .strong(),
        );
        let p = &b.profile();
        let matched = src.columns.iter().filter(|c| c.is_some()).count();
        ui.horizontal(|ui| {
            ui.label(match (lang, src.auto_chosen) {
                (Lang::Zh, true) => format!(
                    "模板：{}（自动识别：{} 列中 {} 列找到了对应的表头）",
                    p.title,
                    p.fields.len(),
                    matched
                ),
                (Lang::Zh, false) => format!(
                    "模板：{}（{} 列中 {} 列找到了对应的表头）",
                    p.title,
                    p.fields.len(),
                    matched
                ),
                (Lang::En, _) => format!(
                    "Profile: {} ({} of {} columns matched)",
                    p.title,
                    matched,
                    p.fields.len()
                ),
            });
            let change = tr(lang, "更换模板…", "Change profile…");
            let combo = egui::ComboBox::from_id_salt("profile_choice")
                .selected_text(change)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(false, tr(lang, "自动识别", "Automatic"))
                        .clicked()
                    {
                        action = Some(Action::Reload(None));
                    }
                    for other in &profiles.list {
                        if ui
                            .selectable_label(
                                other.name == p.name,
                                format!("{}（{}）", other.title, other.name),
                            )
                            .clicked()
                        {
                            action = Some(Action::Reload(Some(other.name.clone())));
                        }
                    }
                });
            combo
                .response
                .widget_info(|| egui::WidgetInfo::labeled(egui::Role::ComboBox, true, change));
            if !src.unused.is_empty() {
                ui.label(
                    RichText::new(format!(
                        "{}{}",
                        tr(lang, "未使用的列：", "Unused columns: "),
                        src.unused.join("、")
                    ))
                    .weak(),
                );
            }
        });
        ui.add_space(4.0);
        let (s, warnings) = self.counts();
        // Rows uploaded before are shown apart from repeats within the file.
        let before = self.keep.uploaded_before(&self.batch, self.generation);
        ui.horizontal_wrapped(|ui| {
            let mut button =
                |ui: &mut egui::Ui, filter: Filter, text: String, color: Option<Color32>| {
                    let mut rt = RichText::new(text).size(18.0);
                    if let Some(c) = color {
                        rt = rt.color(c);
                    }
                    if ui
                        .add(egui::Button::selectable(self.filter == filter, rt))
                        .clicked()
                    {
                        self.filter = filter;
                    }
                };
            match lang {
                Lang::Zh => {
                    button(ui, Filter::All, format!("共 {} 行", s.total), None);
                    button(
                        ui,
                        Filter::Ready,
                        format!("✓ 可上报 {}", s.ready),
                        Some(OK_FG),
                    );
                    button(
                        ui,
                        Filter::Rejected,
                        format!("× 有错误 {}", s.rejected),
                        Some(ERROR_FG),
                    );
                    button(
                        ui,
                        Filter::Warnings,
                        format!("⚠ 有提醒 {warnings}"),
                        Some(WARN_FG),
                    );
                    button(
                        ui,
                        Filter::Duplicate,
                        format!("重复 {}", s.duplicate.saturating_sub(before)),
                        None,
                    );
                    if before > 0 {
                        ui.label(RichText::new(format!("已上报过 {before}")).size(18.0));
                    }
                    if s.excluded > 0 {
                        button(ui, Filter::Excluded, format!("不上报 {}", s.excluded), None);
                    }
                }
                Lang::En => {
                    button(ui, Filter::All, format!("{} rows", s.total), None);
                    button(
                        ui,
                        Filter::Ready,
                        format!("✓ ready {}", s.ready),
                        Some(OK_FG),
                    );
                    button(
                        ui,
                        Filter::Rejected,
                        format!("× errors {}", s.rejected),
                        Some(ERROR_FG),
                    );
                    button(
                        ui,
                        Filter::Warnings,
                        format!("⚠ warnings {warnings}"),
                        Some(WARN_FG),
                    );
                    button(
                        ui,
                        Filter::Duplicate,
                        format!("repeated {}", s.duplicate.saturating_sub(before)),
                        None,
                    );
                    if before > 0 {
                        ui.label(RichText::new(format!("uploaded before {before}")).size(18.0));
                    }
                    if s.excluded > 0 {
                        button(
                            ui,
                            Filter::Excluded,
                            format!("left out {}", s.excluded),
                            None,
                        );
                    }
                }
            }
            ui.separator();
            let mut problems_only = self.filter == Filter::Problems;
            if ui
                .checkbox(
                    &mut problems_only,
                    tr(lang, "只看有问题的行", "Only rows with problems"),
                )
                .changed()
            {
                self.filter = if problems_only {
                    Filter::Problems
                } else {
                    Filter::All
                };
            }
            let label = ui.label(tr(lang, "搜索：", "Search:"));
            let r = ui
                .add(
                    egui::TextEdit::singleline(&mut self.search)
                        .desired_width(180.0)
                        .hint_text(tr(
                            lang,
                            "姓名 / 证件号 / 条码 / 行号",
                            "name / ID / barcode / row",
                        )),
                )
                .labelled_by(label.id);
            if std::mem::take(&mut self.focus_search) {
                r.request_focus();
            }
        });
        ui.add_space(4.0);
        action
    }

    fn table(&mut self, ui: &mut egui::Ui, lang: Lang) {
        self.refresh_view();
        if self.view.is_empty() {
            ui.add_space(20.0);
            ui.label(tr(lang, "没有符合条件的行。", "No rows match."));
            return;
        }
        let fields = self.batch.profile().fields.clone();
        // The profile's pinned field (the name, in the built-in one) stays beside the row
        // number; 问题 and the other fields move left and right.
        let pinned = self.batch.profile().pinned_field();
        let moving = moving_columns(fields.len(), pinned);
        self.first_column = self.first_column.min(moving.len().saturating_sub(1));
        // Horizontal wheel (or Shift+wheel) over the table moves the columns.
        let over = ui.rect_contains_pointer(ui.max_rect());
        let dx = ui.input(|i| i.smooth_scroll_delta.x);
        if over && dx.abs() > 0.5 {
            self.hscroll += dx;
            if self.hscroll <= -60.0 {
                self.first_column = (self.first_column + 1).min(moving.len() - 1);
                self.hscroll = 0.0;
            } else if self.hscroll >= 60.0 {
                self.first_column = self.first_column.saturating_sub(1);
                self.hscroll = 0.0;
            }
        }
        ui.horizontal(|ui| {
            if ui
                .add_enabled(
                    self.first_column > 0,
                    egui::Button::new(tr(lang, "◀ 左边的列", "◀ Columns left")),
                )
                .clicked()
            {
                self.first_column -= 1;
            }
            if ui
                .add_enabled(
                    self.first_column + 1 < moving.len(),
                    egui::Button::new(tr(lang, "右边的列 ▶", "Columns right ▶")),
                )
                .clicked()
            {
                self.first_column += 1;
            }
            ui.label(
                RichText::new(keys_hint(pinned.map(|f| fields[f].header.as_str()), lang))
                    .weak()
                    .size(14.0),
            );
        });
        let shown: Vec<Option<usize>> = moving[self.first_column..].to_vec();
        let scroll_to = self.scroll_to.take();
        let mut clicked: Option<usize> = None;
        let row_height = 30.0;
        let mut table = TableBuilder::new(ui)
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::exact(72.0));
        if pinned.is_some() {
            table = table.column(Column::initial(84.0).clip(true));
        }
        table = table.column(Column::exact(84.0));
        for col in &shown {
            let w = col.map_or(320.0, |f| fields[f].show.screen_width);
            table = table.column(Column::initial(w).at_least(40.0).clip(true));
        }
        if let Some(pos) = scroll_to {
            table = table.scroll_to_row(pos, None);
        }
        let b = &self.batch;
        let view = &self.view;
        let selected = self.selected;
        let cursor = self.cursor;
        let field_cell = |ui: &mut egui::Ui, i: usize, fi: usize| {
            let sev = b.field_severity(i, fi);
            let value = if sev.is_some() {
                b.value(i, fi)
            } else {
                b.output_value(i, fi)
            };
            if let Some(sev) = sev {
                let bg = if sev == Severity::Error {
                    ERROR_BG
                } else {
                    WARN_BG
                };
                ui.painter().rect_filled(ui.max_rect(), 0.0, bg);
            }
            let r = ui.add(egui::Label::new(value).truncate());
            if sev.is_some() {
                let msgs: Vec<String> = b
                    .issues(i)
                    .iter()
                    .filter(|x| x.field == Some(fi as u16))
                    .map(|x| b.message_body(x, lang))
                    .collect();
                r.on_hover_text(msgs.join("\n"));
            }
        };
        table
            .header(row_height, |mut header| {
                header.col(|ui| {
                    ui.strong(tr(lang, "行号", "Row"));
                });
                if let Some(f) = pinned {
                    header.col(|ui| {
                        ui.strong(&fields[f].header);
                    });
                }
                header.col(|ui| {
                    ui.strong(tr(lang, "状态", "Status"));
                });
                for col in &shown {
                    header.col(|ui| match col {
                        None => {
                            ui.strong(tr(
                                lang,
                                "问题（点击查看和修改，可拖宽）",
                                "Problems (click to fix; drag to widen)",
                            ));
                        }
                        Some(fi) => {
                            ui.strong(&fields[*fi].header)
                                .on_hover_text(b.column_header(*fi));
                        }
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, view.len(), |mut row| {
                    let pos = row.index();
                    let i = view[pos] as usize;
                    row.set_selected(selected == Some(i) || cursor == Some(pos));
                    row.col(|ui| {
                        if ui
                            .selectable_label(selected == Some(i), b.line(i).to_string())
                            .clicked()
                        {
                            clicked = Some(i);
                        }
                    });
                    if let Some(f) = pinned {
                        row.col(|ui| field_cell(ui, i, f));
                    }
                    row.col(|ui| {
                        let (text, color) = status_text(b, i, lang);
                        ui.colored_label(color, text);
                    });
                    for col in &shown {
                        row.col(|ui| match col {
                            None => {
                                if let Some(first) = b.issues(i).first() {
                                    let color = if first.severity == Severity::Error {
                                        ERROR_FG
                                    } else {
                                        WARN_FG
                                    };
                                    let n = b.issues(i).len();
                                    let text = if n > 1 {
                                        format!(
                                            "{}（{} {n} {}）",
                                            b.message_body(first, lang),
                                            tr(lang, "共", "of"),
                                            tr(lang, "条", "")
                                        )
                                    } else {
                                        b.message_body(first, lang)
                                    };
                                    let r = ui.add(
                                        egui::Label::new(RichText::new(text.as_str()).color(color))
                                            .truncate()
                                            .sense(egui::Sense::click()),
                                    );
                                    if r.on_hover_text(text).clicked() {
                                        clicked = Some(i);
                                    }
                                }
                            }
                            Some(fi) => field_cell(ui, i, *fi),
                        });
                    }
                    if row.response().clicked() {
                        clicked = Some(i);
                    }
                });
            });
        if let Some(i) = clicked {
            self.select(i);
        }
    }

    fn editor(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let Some(index) = self.selected else { return };
        let b = &self.batch;
        let fields = b.profile().fields.clone();
        ui.horizontal(|ui| {
            ui.heading(match lang {
                Lang::Zh => format!("第 {} 行", b.line(index)),
                Lang::En => format!("Row {}", b.line(index)),
            });
            let (text, color) = status_text(b, index, lang);
            ui.label(RichText::new(text).color(color).size(18.0));
        });
        ui.label(RichText::new(tr(lang, "在这里改正后点“保存修改”，会立即重新检查。原文件不会被改动。", "Fix the values and press Save: the row is checked again at once. The source file is not changed.")).weak());
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
                    let source = b.column_header(fi);
                    let caption = if source == f.header {
                        f.header.clone()
                    } else {
                        format!("{}（{}）", f.header, source)
                    };
                    let label = ui.label(RichText::new(caption).strong());
                    let sev = b.field_severity(index, fi);
                    let mut edit = egui::TextEdit::singleline(&mut self.edits[fi])
                        .desired_width(f32::INFINITY);
                    if let Some(sev) = sev {
                        edit = edit.background_color(if sev == Severity::Error {
                            ERROR_BG
                        } else {
                            WARN_BG
                        });
                    }
                    let hint = match b.output_value(index, fi) {
                        v if v != b.value(index, fi) && b.value(index, fi).is_empty() => {
                            format!("{}{v}", tr(lang, "将自动填写：", "filled in: "))
                        }
                        _ => String::new(),
                    };
                    let r = ui.add(edit.hint_text(hint)).labelled_by(label.id);
                    if self.focus_field == Some(fi) {
                        self.focus_field = None;
                        r.request_focus();
                        r.scroll_to_me(Some(egui::Align::Center));
                    }
                    if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
                        save = true;
                    }
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
                }
            });
        ui.separator();
        let excluded = b.is_excluded(index);
        ui.horizontal(|ui| {
            if ui.button(tr(lang, "保存修改", "Save changes")).clicked() {
                save = true;
            }
            let text = if excluded {
                tr(lang, "恢复上报此行", "Report this row again")
            } else {
                tr(lang, "不上报此行", "Leave this row out")
            };
            if ui.button(text).clicked() {
                self.toggle_excluded();
            }
            if ui.button(tr(lang, "关闭", "Close")).clicked() {
                self.selected = None;
            }
        });
        if save {
            self.apply_edits();
        }
    }

    fn export_bar(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        exported: Option<&Exported>,
    ) -> Option<Action> {
        let mut action = None;
        ui.add_space(6.0);
        if let Some(done) = exported {
            egui::Frame::new()
                .fill(Color32::from_rgb(232, 245, 233))
                .inner_margin(8.0)
                .corner_radius(6.0)
                .show(ui, |ui| {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(match lang {
                                Lang::Zh => format!(
                                    "已导出上报表：{}（{} 行）",
                                    done.upload.display(),
                                    done.rows
                                ),
                                Lang::En => {
                                    format!("Wrote {} ({} rows)", done.upload.display(), done.rows)
                                }
                            })
                            .color(OK_FG),
                        );
                        if let Some((path, n)) = &done.rejected {
                            ui.label(match lang {
                                Lang::Zh => {
                                    format!("错误行：{}（{n} 行，含错误原因）", path.display())
                                }
                                Lang::En => format!(
                                    "Rejected rows: {} ({n} rows, with reasons)",
                                    path.display()
                                ),
                            });
                        }
                        if self.keep.export_stale {
                            ui.colored_label(WARN_FG, super::keep::STALE.text(lang));
                        }
                        if let Some(dir) = done.upload.parent()
                            && ui
                                .button(tr(lang, "打开所在文件夹", "Open the folder"))
                                .clicked()
                        {
                            action = Some(Action::OpenFolder(dir.to_owned()));
                        }
                    });
                });
        }
        // Wraps on a narrow screen rather than pushing buttons out of the window.
        ui.horizontal_wrapped(|ui| {
            let (s, _) = self.counts();
            let text = match lang {
                Lang::Zh => format!("导出上报表（{} 行） Ctrl+S", s.ready),
                Lang::En => format!("Export the upload sheet ({} rows) Ctrl+S", s.ready),
            };
            let enabled = s.ready > 0;
            if ui
                .add_enabled(
                    enabled,
                    egui::Button::new(RichText::new(text).size(19.0))
                        .min_size(egui::vec2(260.0, 40.0)),
                )
                .clicked()
            {
                action = Some(Action::Export(self.export_dir.clone()));
            }
            let upload = match lang {
                Lang::Zh => format!("上传到省平台（{} 行）", s.ready),
                Lang::En => format!("Upload to the platform ({} rows)", s.ready),
            };
            if ui
                .add_enabled(
                    enabled,
                    egui::Button::new(RichText::new(upload).size(19.0))
                        .min_size(egui::vec2(220.0, 40.0)),
                )
                .clicked()
            {
                action = Some(Action::Upload);
            }
            let folder = format!(
                "{}{}",
                tr(lang, "导出到：", "Into: "),
                self.export_dir.display()
            );
            ui.scope(|ui| {
                ui.set_max_width(220.0);
                ui.add(egui::Label::new(folder.as_str()).truncate())
                    .on_hover_text(folder.as_str());
            });
            if ui
                .button(tr(lang, "更换文件夹…", "Change folder…"))
                .clicked()
                && let Some(dir) = rfd::FileDialog::new()
                    .set_directory(&self.export_dir)
                    .pick_folder()
            {
                self.export_dir = dir;
            }
            ui.add_space(16.0);
            if ui
                .button(tr(lang, "关闭此文件", "Close this file"))
                .clicked()
            {
                action = Some(Action::Close);
            }
        });
        ui.add_space(6.0);
        action
    }
}

/// The columns that move left and right, in order: 问题 (`None`), then every field but the
/// pinned one.
fn moving_columns(fields: usize, pinned: Option<usize>) -> Vec<Option<usize>> {
    std::iter::once(None)
        .chain((0..fields).filter(|&f| Some(f) != pinned).map(Some))
        .collect()
}

/// The line over the table: what stays in view, and the keys.
fn keys_hint(pinned: Option<&str>, lang: Lang) -> String {
    let keys = lang.pick(
        "键盘：↑↓ 翻行，PgUp/PgDn 翻页，←→ 移动列，回车打开，Esc 关闭。",
        "Keys: ↑↓ rows, PgUp/PgDn pages, ←→ columns, Enter opens, Esc closes.",
    );
    match pinned {
        Some(header) => lang.pick(
            format!("行号和{header}始终显示。{keys}"),
            format!("Row and {header} always show. {keys}"),
        ),
        None => lang.pick(
            format!("行号始终显示。{keys}"),
            format!("The row number always shows. {keys}"),
        ),
    }
}

fn status_text(b: &Batch, index: usize, lang: Lang) -> (&'static str, Color32) {
    let uploaded = || {
        b.issues(index)
            .iter()
            .any(|x| x.code == crate::issue::Code::AlreadyUploaded)
    };
    match b.status(index) {
        RowStatus::Duplicate if uploaded() => (tr(lang, "已上报过", "uploaded"), OK_FG),
        RowStatus::Ready => (tr(lang, "✓ 可上报", "✓ ready"), OK_FG),
        RowStatus::Rejected => (tr(lang, "× 有错误", "× error"), ERROR_FG),
        RowStatus::Duplicate => (tr(lang, "重复", "repeat"), WARN_FG),
        RowStatus::Excluded => (tr(lang, "不上报", "left out"), Color32::GRAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_field_stays_and_the_others_move() {
        // The pinned field (the profile's choice) is not among the moving columns.
        assert_eq!(
            moving_columns(4, Some(1)),
            [None, Some(0), Some(2), Some(3)]
        );
        // Nothing pinned: every field moves.
        assert_eq!(moving_columns(3, None), [None, Some(0), Some(1), Some(2)]);
        // The hint names the pinned column by its header.
        assert!(keys_hint(Some("受检者"), Lang::Zh).starts_with("行号和受检者始终显示。"));
        assert!(keys_hint(None, Lang::En).starts_with("The row number always shows."));
    }
}
