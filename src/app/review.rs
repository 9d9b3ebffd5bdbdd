//! Step ②: the summary, the rows (only visible rows are laid out, so 1,000,000 rows scroll
//! smoothly), the problems, and fixing a row in place. Edits re-check the row and the rows
//! sharing its barcode or person at once; the source file is never changed.

mod panels;
mod table;

use super::Action;
use super::jobs::Exported;
use eframe::egui::{self, Color32, RichText};
use sheetbridge::batch::{Batch, RowStatus, Summary};
use sheetbridge::issue::{Lang, Severity};
use sheetbridge::profile::Profiles;
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

/// Rows queued from the review: the outbox batches they went in and what the ledger will know
/// of them once the platform confirms.
pub struct Sent {
    pub ids: Vec<String>,
    pub keys: std::collections::HashSet<(String, String)>,
}

/// Whether a ready row went into an upload the platform has not confirmed yet (it reads 上传中
/// and the upload button does not offer it again).
fn in_upload(sent: &[Sent], b: &Batch, index: usize) -> bool {
    !sent.is_empty()
        && b.ledger_key(index)
            .is_some_and(|k| sent.iter().any(|s| s.keys.contains(&k)))
}

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
    /// Show the panel's fields from the top at the next frame (a row opened anew).
    panel_top: bool,
    /// Focus the search box at the next frame (Ctrl+F).
    focus_search: bool,
    /// The selected row's fields as being edited.
    edits: Vec<String>,
    scroll_to: Option<usize>,
    pub export_dir: PathBuf,
    /// Counts for the summary line, for `generation` (a full pass over a million rows is
    /// too slow to repeat every frame).
    counts: Option<(u64, Summary, usize)>,
    /// [`Review::unsent_ready`] for `generation`.
    unsent: Option<(u64, usize)>,
    /// The clerk's decisions, saved as they are made (app/keep.rs).
    pub keep: super::keep::Keep,
    /// Uploads from this screen the platform has not confirmed yet.
    pub sent: Vec<Sent>,
    /// The folder typed for the export (no folder dialog answered 更换文件夹…).
    pub folder_box: Option<String>,
    /// The positive rows (阳性, 待复核), for `generation`: listed first, in red (daily.md).
    positives: Option<(u64, Vec<u32>)>,
}

/// Said when 更换文件夹… found no folder dialog.
pub(super) const FOLDER_BOX_NOTE: (&str, &str) = (
    "这台电脑打不开选择文件夹的窗口。请在下面“导出到文件夹”框里输入或粘贴文件夹的位置，再点“确定”。",
    "No folder dialog opened on this computer. Type or paste the folder into the \"Export into\" box below and press OK.",
);

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
            panel_top: false,
            focus_search: false,
            edits: Vec::new(),
            scroll_to: None,
            export_dir,
            counts: None,
            unsent: None,
            keep: Default::default(),
            sent: Vec::new(),
            folder_box: None,
            positives: None,
        }
    }

    /// The positive rows (阳性, 待复核, as the profile maps the result), in file order.
    pub fn positive_rows(&mut self) -> &[u32] {
        if self
            .positives
            .as_ref()
            .is_none_or(|(g, _)| *g != self.generation)
        {
            let b = &self.batch;
            let rows = (0..b.len())
                .filter(|&i| sheetbridge::upload::daily::is_positive(b, i))
                .map(|i| i as u32)
                .collect();
            self.positives = Some((self.generation, rows));
        }
        self.positives.as_ref().map_or(&[], |(_, rows)| rows)
    }

    /// How many positive rows are ready to send.
    pub fn ready_positives(&mut self) -> usize {
        let rows = self.positive_rows().to_vec();
        rows.iter()
            .filter(|&&i| self.batch.status(i as usize) == RowStatus::Ready)
            .count()
    }

    /// The rows the table shows now (indices into the batch).
    #[cfg(test)]
    pub fn visible_rows(&mut self) -> &[u32] {
        self.refresh_view();
        &self.view
    }

    /// Rebuilds the view when the filter, the search or a row changed. The one place the view
    /// changes, so it is the one place the highlight is kept on the same row: the row open in the
    /// panel stays in the view while only edits changed it (a fix or 不上报此行 does not make it
    /// vanish under the clerk; it goes once the clerk moves on), and closes when the clerk's own
    /// filter or search leaves it out; the cursor follows its row, not its position.
    fn refresh_view(&mut self) {
        let key = (self.filter, self.search.clone(), self.generation);
        if self.view_for.as_ref() == Some(&key) {
            return;
        }
        let same_query = self
            .view_for
            .as_ref()
            .is_some_and(|(f, s, _)| *f == key.0 && *s == key.1);
        let under_cursor = self.selected.or_else(|| {
            self.cursor
                .and_then(|p| self.view.get(p))
                .map(|&i| i as usize)
        });
        // Positive rows first (daily.md), each part in file order: `at` finds a row's place.
        let positive = self.positive_rows().to_vec();
        let order = |i: u32| (positive.binary_search(&i).is_err(), i);
        let at = |view: &[u32], i: u32| view.binary_search_by_key(&order(i), |&j| order(j));
        let b = &self.batch;
        let needle = self.search.trim().to_uppercase();
        let search_fields = b.profile().searched_fields();
        let mut view: Vec<u32> = (0..b.len())
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
        if !positive.is_empty() {
            let (mut first, rest): (Vec<u32>, Vec<u32>) = view
                .into_iter()
                .partition(|i| positive.binary_search(i).is_ok());
            first.extend(rest);
            view = first;
        }
        if let Some(open) = self.selected
            && let Err(at) = at(&view, open as u32)
        {
            if same_query {
                // Only an edit changed the view: the open row stays until the clerk moves on.
                view.insert(at, open as u32);
            } else {
                // The clerk's filter or search left the open row out: close it rather than
                // show one row highlighted and another in the panel.
                self.selected = None;
            }
        }
        self.cursor = match under_cursor.map(|i| at(&view, i as u32)) {
            Some(Ok(at)) => Some(at),
            // Its row left the view: the row that took its place.
            Some(Err(at)) if !view.is_empty() => Some(at.min(view.len() - 1)),
            _ => self.cursor.filter(|&p| p < view.len()),
        };
        if !same_query && self.cursor.is_some() {
            // A new filter or search: the highlighted row is brought into sight.
            self.scroll_to = self.cursor;
        }
        self.view = view;
        self.view_for = Some(key);
    }

    /// Ready rows not in an upload waiting for the platform: what the upload button offers
    /// (counted once per edit generation).
    pub fn unsent_ready(&mut self) -> usize {
        match self.unsent {
            Some((g, n)) if g == self.generation => n,
            _ => {
                let b = &self.batch;
                let n = b
                    .rows_with(RowStatus::Ready)
                    .filter(|&i| !in_upload(&self.sent, b, i))
                    .count();
                self.unsent = Some((self.generation, n));
                n
            }
        }
    }

    /// Rows were queued from this screen: they read 上传中 until the platform confirms.
    pub fn queued(&mut self, sent: Sent) {
        self.sent.push(sent);
        self.generation += 1;
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
        // The view first (it may close the row open before), then the new row.
        self.refresh_view();
        if self.selected != Some(index) {
            self.panel_top = true;
        }
        self.selected = Some(index);
        self.focus_field = self.first_problem_field(index);
        self.edits = self.shown_values(index);
        if let Some(pos) = self.view.iter().position(|&i| i as usize == index) {
            self.scroll_to = Some(pos);
            self.cursor = Some(pos);
        } else {
            // Out of the current filter: show everything so the row can be seen.
            self.filter = Filter::All;
            self.search.clear();
            self.refresh_view();
            // Positive rows come first: the row's place in the view, not its index.
            let pos = self.view.iter().position(|&i| i as usize == index);
            self.scroll_to = pos;
            self.cursor = pos;
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
    fn keys(&mut self, ui: &egui::Ui, covered: bool) {
        use egui::Key;
        let ctx = ui.ctx();
        if ctx.input_mut(|i| i.consume_key(egui::Modifiers::COMMAND, Key::F)) {
            self.focus_search = true;
        }
        // These two work from inside the panel's fields too (neither is a key a field uses),
        // but not from the fields of a window over the review.
        let (leave_out, next) = ctx.input_mut(|i| {
            if covered {
                return (false, false);
            }
            (
                i.consume_key(egui::Modifiers::COMMAND, Key::D),
                i.consume_key(egui::Modifiers::NONE, Key::F3),
            )
        });
        if leave_out {
            self.leave_out_shown();
        }
        if next {
            self.next_problem();
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

    /// Ctrl+D: 不上报此行 (or 恢复上报) for the row in the panel; with the panel closed, for the
    /// highlighted row, which is opened in the panel so the row acted on is the row shown.
    fn leave_out_shown(&mut self) {
        if self.selected.is_none()
            && let Some(i) = self.cursor_row()
        {
            self.select(i);
        }
        self.toggle_excluded();
    }

    /// F3 ("下一个有错误的行"): a fix typed in the panel is saved, then the next row in view with
    /// an error (after the highlighted one, from the top again after the last) opens in the
    /// panel at its first problem; with no error left, the next row with a warning.
    pub fn next_problem(&mut self) {
        if let Some(i) = self.selected
            && self.edits != self.shown_values(i)
        {
            self.apply_edits();
        }
        self.refresh_view();
        let n = self.view.len();
        let start = self.cursor.map_or(0, |c| c + 1);
        let b = &self.batch;
        let find = |want: &dyn Fn(usize) -> bool| {
            (0..n)
                .map(|k| (start + k) % n)
                .map(|p| self.view[p] as usize)
                .find(|&i| want(i))
        };
        let found = find(&|i| b.status(i) == RowStatus::Rejected)
            .or_else(|| find(&|i| !b.issues(i).is_empty()));
        if let Some(i) = found {
            self.select(i);
        }
    }

    /// Enter in the search box: a row number goes to that row (not to IDs containing it);
    /// other words open the first row found. The row opens in the panel at its first problem.
    fn go_to_searched(&mut self) {
        let text = self.search.trim();
        let line = text
            .parse::<u32>()
            .ok()
            .filter(|_| text.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|l| self.batch.index_of_line(l));
        if let Some(i) = line {
            // The whole table, with that row in view.
            self.search.clear();
            self.refresh_view();
            self.select(i);
            return;
        }
        self.refresh_view();
        if let Some(&i) = self.view.first() {
            self.select(i as usize);
        }
    }

    /// Columns that move left and right: 问题 and the fields other than the pinned one.
    fn scrollable_columns(&self) -> usize {
        let p = self.batch.profile();
        table::moving_columns(p.fields.len(), p.pinned_field()).len()
    }

    /// A row's fields as the panel shows them: a code as its words (居民身份证, 男), which
    /// the row's checks turn back into the code when saved.
    fn shown_values(&self, index: usize) -> Vec<String> {
        let b = &self.batch;
        (0..b.profile().fields.len())
            .map(|f| b.profile().shown(f, b.value(index, f)).to_owned())
            .collect()
    }

    /// Applies the changed fields of the selected row and re-checks; a field still showing
    /// what it showed is not an edit.
    pub fn apply_edits(&mut self) {
        let Some(index) = self.selected else { return };
        let before = self.shown_values(index);
        for (f, text) in self.edits.clone().iter().enumerate() {
            if before.get(f) != Some(text) {
                self.keep.edit(&mut self.batch, index, f, text);
            }
        }
        self.edits = self.shown_values(index);
        self.generation += 1;
    }

    /// The platform confirmed uploads from this screen: their rows read 已上报 and leave the
    /// ready count (and so the upload button); `true` when any did.
    pub fn follow_confirmed(&mut self, confirmed: impl Fn(&[String]) -> bool) -> bool {
        let (done, waiting): (Vec<Sent>, Vec<Sent>) = std::mem::take(&mut self.sent)
            .into_iter()
            .partition(|s| confirmed(&s.ids));
        self.sent = waiting;
        if done.is_empty() {
            return false;
        }
        self.batch
            .confirmed(done.into_iter().flat_map(|s| s.keys).collect());
        self.generation += 1;
        true
    }

    pub fn toggle_excluded(&mut self) {
        if let Some(index) = self.selected {
            let now = self.batch.is_excluded(index);
            self.keep.set_excluded(&mut self.batch, index, !now);
            self.generation += 1;
        }
    }

    /// Draws the screen; `covered`: a window with fields is open over it, from which the
    /// review's keys that work inside fields (Ctrl+D, F3) must not act behind it.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        covered: bool,
        lang: Lang,
        profiles: &Profiles,
        exported: Option<&Exported>,
    ) -> Action {
        let mut action = Action::None;
        self.keys(ui, covered);
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

    /// Above the table: the file and the search box, the profile (with "更换模板"), and the
    /// counts that filter. A count that appears (不上报 1, 已上报过 N) comes last on its line,
    /// so nothing else moves under the mouse; the search box is on the file's line.
    fn head(&mut self, ui: &mut egui::Ui, lang: Lang, profiles: &Profiles) -> Option<Action> {
        let src = &self.batch.source;
        let file = sheetbridge::paths::file_name(&src.path);
        let title = lang.pick(
            format!(
                "{file} · 工作表「{}」· 表头在第 {} 行",
                src.sheet, src.header_row
            ),
            format!(
                "{file} · sheet \"{}\" · header on row {}",
                src.sheet, src.header_row
            ),
        );
        ui.horizontal(|ui| {
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                self.search_box(ui, lang);
                ui.with_layout(egui::Layout::left_to_right(egui::Align::Center), |ui| {
                    ui.add(egui::Label::new(RichText::new(title.as_str()).strong()).truncate())
                        .on_hover_text(title.as_str());
                });
            });
        });
        let action = self.profile_line(ui, lang, profiles);
        ui.add_space(4.0);
        ui.horizontal(|ui| {
            self.problems_only(ui, lang);
            ui.separator();
            self.filter_buttons(ui, lang);
        });
        ui.add_space(4.0);
        action
    }

    /// The profile in use, how many columns it found, the choice of another, unused columns.
    fn profile_line(&self, ui: &mut egui::Ui, lang: Lang, profiles: &Profiles) -> Option<Action> {
        let mut action = None;
        let src = &self.batch.source;
        let p = self.batch.profile();
        let matched = src.columns.iter().filter(|c| c.is_some()).count();
        let fields = p.fields.len();
        ui.horizontal(|ui| {
            let how = if src.auto_chosen {
                "自动识别："
            } else {
                ""
            };
            ui.label(lang.pick(
                format!(
                    "模板：{}（{how}{fields} 列中 {matched} 列找到了对应的表头）",
                    p.title
                ),
                format!(
                    "Profile: {} ({matched} of {fields} columns matched)",
                    p.title
                ),
            ));
            let change = lang.pick("更换模板…", "Change profile…");
            let combo = egui::ComboBox::from_id_salt("profile_choice")
                .selected_text(change)
                .show_ui(ui, |ui| {
                    if ui
                        .selectable_label(false, lang.pick("自动识别", "Automatic"))
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
                // Every name when they fit; else how many, with the names on hover.
                let all = format!(
                    "{}{}",
                    lang.pick("未使用的列：", "Unused columns: "),
                    src.unused.join(lang.pick("、", ", "))
                );
                let n = src.unused.len();
                let short = lang.pick(format!("另有 {n} 列未使用"), format!("{n} columns unused"));
                let font = egui::TextStyle::Body.resolve(ui.style());
                let color = ui.visuals().weak_text_color();
                let width = ui
                    .painter()
                    .layout_no_wrap(all.clone(), font, color)
                    .size()
                    .x;
                let text = if width <= ui.available_width() {
                    &all
                } else {
                    &short
                };
                ui.label(RichText::new(text.as_str()).weak())
                    .on_hover_text(all.as_str());
            }
        });
        action
    }

    /// The summary counts, each a button that filters the table; rows uploaded before are
    /// shown apart from repeats within the file.
    fn filter_buttons(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let (s, warnings) = self.counts();
        let before = self.keep.uploaded_before(&self.batch, self.generation);
        let repeated = s.duplicate.saturating_sub(before);
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
        let counts = [
            (
                Filter::All,
                lang.pick(format!("共 {} 行", s.total), format!("{} rows", s.total)),
                None,
            ),
            (
                Filter::Ready,
                lang.pick(
                    format!("✓ 可上报 {}", s.ready),
                    format!("✓ ready {}", s.ready),
                ),
                Some(OK_FG),
            ),
            (
                Filter::Rejected,
                lang.pick(
                    format!("× 有错误 {}", s.rejected),
                    format!("× errors {}", s.rejected),
                ),
                Some(ERROR_FG),
            ),
            (
                Filter::Warnings,
                lang.pick(
                    format!("⚠ 有提醒 {warnings}"),
                    format!("⚠ warnings {warnings}"),
                ),
                Some(WARN_FG),
            ),
            (
                Filter::Duplicate,
                lang.pick(format!("重复 {repeated}"), format!("repeated {repeated}")),
                None,
            ),
        ];
        for (filter, text, color) in counts {
            button(ui, filter, text, color);
        }
        if before > 0 {
            ui.label(
                RichText::new(lang.pick(
                    format!("已上报过 {before}"),
                    format!("uploaded before {before}"),
                ))
                .size(18.0),
            );
        }
        if s.excluded > 0 {
            let text = lang.pick(
                format!("不上报 {}", s.excluded),
                format!("left out {}", s.excluded),
            );
            button(ui, Filter::Excluded, text, None);
        }
    }

    /// "只看有问题的行".
    fn problems_only(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let mut problems_only = self.filter == Filter::Problems;
        if ui
            .checkbox(
                &mut problems_only,
                lang.pick("只看有问题的行", "Only rows with problems"),
            )
            .changed()
        {
            self.filter = if problems_only {
                Filter::Problems
            } else {
                Filter::All
            };
        }
    }

    /// The search box (Ctrl+F focuses it; Enter goes to the row found), drawn right to left.
    fn search_box(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let profile = self.batch.profile();
        let searched: Vec<&str> = profile
            .searched_fields()
            .into_iter()
            .map(|f| profile.fields[f].header.as_str())
            .collect();
        let (hint, all) = search_hint(&searched, lang);
        let r = ui.add(
            egui::TextEdit::singleline(&mut self.search)
                .desired_width(180.0)
                .hint_text(hint),
        );
        let label = ui.label(lang.pick("搜索：", "Search:"));
        let r = r.labelled_by(label.id).on_hover_text(all);
        if std::mem::take(&mut self.focus_search) {
            r.request_focus();
        }
        if r.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter)) {
            self.go_to_searched();
        }
    }
}

/// What the search box looks in: the headers of the profile's searched fields (`show = { search
/// = true }`) and the row number. A hint short enough for the box (the first two and "…"), and the
/// whole list for its tooltip.
fn search_hint(searched: &[&str], lang: Lang) -> (String, String) {
    let mut names = searched.to_vec();
    names.push(lang.pick("行号", "row"));
    let sep = lang.pick("、", ", ");
    let hint = if names.len() > 3 {
        format!("{}{sep}{}…", names[0], names[1])
    } else {
        names.join(sep)
    };
    let all = lang.pick("可以搜：", "Searches: ").to_owned() + &names.join(sep);
    (hint, all)
}

fn status_text(b: &Batch, sent: &[Sent], index: usize, lang: Lang) -> (&'static str, Color32) {
    let uploaded = || {
        b.issues(index)
            .iter()
            .any(|x| x.code == sheetbridge::issue::Code::AlreadyUploaded)
    };
    if sheetbridge::upload::daily::is_positive(b, index) {
        // Positive results are red whatever their state (daily.md).
        let text = match b.status(index) {
            RowStatus::Duplicate if uploaded() => lang.pick("阳性 已上报", "POS uploaded"),
            RowStatus::Ready if in_upload(sent, b, index) => {
                lang.pick("阳性 上传中", "POS sending")
            }
            RowStatus::Ready => lang.pick("阳性 可上报", "POS ready"),
            RowStatus::Rejected => lang.pick("阳性 有错误", "POS error"),
            RowStatus::Duplicate => lang.pick("阳性 重复", "POS repeat"),
            RowStatus::Excluded => lang.pick("阳性 不上报", "POS left out"),
        };
        return (text, ERROR_FG);
    }
    match b.status(index) {
        RowStatus::Duplicate if uploaded() => (lang.pick("已上报", "uploaded"), OK_FG),
        RowStatus::Ready if in_upload(sent, b, index) => (lang.pick("上传中", "sending"), WARN_FG),
        RowStatus::Ready => (lang.pick("✓ 可上报", "✓ ready"), OK_FG),
        RowStatus::Rejected => (lang.pick("× 有错误", "× error"), ERROR_FG),
        RowStatus::Duplicate => (lang.pick("重复", "repeat"), WARN_FG),
        RowStatus::Excluded => (lang.pick("不上报", "left out"), Color32::GRAY),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_search_hint_names_what_the_profile_searches() {
        let (hint, all) = search_hint(&["姓名", "证件号码", "联系电话", "样本编号"], Lang::Zh);
        assert_eq!(hint, "姓名、证件号码…");
        assert_eq!(all, "可以搜：姓名、证件号码、联系电话、样本编号、行号");
        let (hint, all) = search_hint(&["受检者"], Lang::En);
        assert_eq!(hint, "受检者, row");
        assert_eq!(all, "Searches: 受检者, row");
        assert_eq!(search_hint(&[], Lang::Zh).0, "行号");
    }
}
