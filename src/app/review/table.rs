//! The review's table: the row number, the pinned field and the status stay; 问题 and the
//! other fields move left and right (buttons, arrow keys, a sideways wheel). Only the visible
//! rows are laid out.

use super::{ERROR_BG, ERROR_FG, Review, WARN_BG, WARN_FG, status_text};
use eframe::egui::{self, RichText};
use egui_extras::{Column, TableBuilder};
use sheetbridge::batch::Batch;
use sheetbridge::issue::{Lang, Severity};
use sheetbridge::profile::Field;

impl Review {
    pub(super) fn table(&mut self, ui: &mut egui::Ui, lang: Lang) {
        self.refresh_view();
        if self.view.is_empty() {
            ui.add_space(20.0);
            ui.label(lang.pick("没有符合条件的行。", "No rows match."));
            return;
        }
        let fields = self.batch.profile().fields.clone();
        // The profile's pinned field (the name, in the built-in one) stays beside the row
        // number; 问题 and the other fields move left and right.
        let pinned = self.batch.profile().pinned_field();
        let moving = moving_columns(fields.len(), pinned);
        let hint = keys_hint(pinned.map(|f| fields[f].header.as_str()), lang);
        self.column_controls(ui, lang, moving.len(), &hint);
        let shown: Vec<Option<usize>> = moving[self.first_column..].to_vec();
        if let Some(i) = self.rows(ui, lang, &fields, pinned, &shown) {
            self.select(i);
        }
    }

    /// Moves the columns: a sideways wheel (or Shift+wheel) over the table, and the buttons.
    fn column_controls(&mut self, ui: &mut egui::Ui, lang: Lang, moving: usize, hint: &str) {
        self.first_column = self.first_column.min(moving.saturating_sub(1));
        let over = ui.rect_contains_pointer(ui.max_rect());
        let dx = ui.input(|i| i.smooth_scroll_delta.x);
        if over && dx.abs() > 0.5 {
            self.hscroll += dx;
            if self.hscroll <= -60.0 {
                self.first_column = (self.first_column + 1).min(moving - 1);
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
                    egui::Button::new(lang.pick("◀ 左边的列", "◀ Columns left")),
                )
                .clicked()
            {
                self.first_column -= 1;
            }
            if ui
                .add_enabled(
                    self.first_column + 1 < moving,
                    egui::Button::new(lang.pick("右边的列 ▶", "Columns right ▶")),
                )
                .clicked()
            {
                self.first_column += 1;
            }
            if ui
                .button(lang.pick("下一个有错误的行 F3", "Next row with an error F3"))
                .clicked()
            {
                self.next_problem();
            }
            fitting_hint(ui, hint);
        });
    }

    /// The table itself; returns the row clicked.
    // Long: the header and the body lay out the same columns, side by side, so they cannot drift
    // apart; the cells are drawn by `field_cell` and `problem_cell`.
    fn rows(
        &mut self,
        ui: &mut egui::Ui,
        lang: Lang,
        fields: &[Field],
        pinned: Option<usize>,
        shown: &[Option<usize>],
    ) -> Option<usize> {
        let scroll_to = self.scroll_to.take();
        let mut clicked: Option<usize> = None;
        // Rows close together, so a 768-high screen shows 14 of them: the window's roomy
        // spacing is for the controls, not for the table's lines.
        let row_height = ROW_HEIGHT;
        // The row numbers' column fits the largest (rows are in source order): 300,000 rows
        // need six digits, which 72 points cut to "101…".
        let number_width = {
            let last = self.batch.len().checked_sub(1);
            let widest = last.map_or(0, |i| self.batch.line(i)).to_string();
            let font = egui::TextStyle::Button.resolve(ui.style());
            let text = ui
                .painter()
                .layout_no_wrap(widest, font, egui::Color32::WHITE)
                .size()
                .x;
            (text + 2.0 * ui.spacing().button_padding.x + 8.0).max(72.0)
        };
        ui.spacing_mut().item_spacing.y = ROW_GAP;
        ui.spacing_mut().interact_size.y = row_height - 4.0;
        let mut table = TableBuilder::new(ui)
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .cell_layout(egui::Layout::left_to_right(egui::Align::Center))
            .column(Column::exact(number_width));
        if pinned.is_some() {
            table = table.column(Column::initial(84.0).clip(true));
        }
        // Wider when a row says 阳性 as well (daily.md: positives in red, whatever their state).
        let status = if self.positive_rows().is_empty() {
            84.0
        } else {
            110.0
        };
        table = table.column(Column::exact(status));
        for col in shown {
            let w = col.map_or(320.0, |f| fields[f].show.screen_width);
            table = table.column(Column::initial(w).at_least(40.0).clip(true));
        }
        if let Some(pos) = scroll_to {
            table = table.scroll_to_row(pos, None);
        }
        let b = &self.batch;
        let sent = &self.sent;
        let view = &self.view;
        let selected = self.selected;
        let cursor = self.cursor;
        table
            .header(row_height, |mut header| {
                header.col(|ui| {
                    ui.strong(lang.pick("行号", "Row"));
                });
                if let Some(f) = pinned {
                    header.col(|ui| {
                        ui.strong(&fields[f].header);
                    });
                }
                header.col(|ui| {
                    ui.strong(lang.pick("状态", "Status"));
                });
                for col in shown {
                    header.col(|ui| match col {
                        None => {
                            ui.strong(lang.pick(
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
                        row.col(|ui| field_cell(ui, b, i, f, lang));
                    }
                    row.col(|ui| {
                        let (text, color) = status_text(b, sent, i, lang);
                        ui.colored_label(color, text);
                    });
                    for col in shown {
                        row.col(|ui| match col {
                            None => {
                                if problem_cell(ui, b, i, lang) {
                                    clicked = Some(i);
                                }
                            }
                            Some(fi) => field_cell(ui, b, i, *fi, lang),
                        });
                    }
                    if row.response().clicked() {
                        clicked = Some(i);
                    }
                });
            });
        clicked
    }
}

/// The height of a row of the table, and the gap between two.
const ROW_HEIGHT: f32 = 28.0;
const ROW_GAP: f32 = 2.0;

/// One field of one row: red or amber behind a problem, whose messages show on hover.
fn field_cell(ui: &mut egui::Ui, b: &Batch, i: usize, fi: usize, lang: Lang) {
    let sev = b.field_severity(i, fi);
    let value = if sev.is_some() {
        b.value(i, fi)
    } else {
        b.output_value(i, fi)
    };
    // Words, not codes: 居民身份证 and 男, not 01 and 1.
    let value = b.profile().shown(fi, value);
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
}

/// A row's first problem (and how many there are); `true` when clicked.
fn problem_cell(ui: &mut egui::Ui, b: &Batch, i: usize, lang: Lang) -> bool {
    let Some(first) = b.issues(i).first() else {
        return false;
    };
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
            lang.pick("共", "of"),
            lang.pick("条", "")
        )
    } else {
        b.message_body(first, lang)
    };
    let r = ui.add(
        egui::Label::new(RichText::new(text.as_str()).color(color))
            .truncate()
            .sense(egui::Sense::click()),
    );
    r.on_hover_text(text).clicked()
}

/// A weak hint line in what is left of the row: whole when it fits, else not at all (never cut).
pub(in crate::app) fn fitting_hint(ui: &mut egui::Ui, hint: &str) {
    let galley = ui.painter().layout_no_wrap(
        hint.to_owned(),
        egui::FontId::proportional(14.0),
        ui.visuals().weak_text_color(),
    );
    if galley.size().x <= ui.available_width() {
        ui.label(RichText::new(hint).weak().size(14.0));
    }
}

/// The columns that move left and right, in order: 问题 (`None`), then every field but the
/// pinned one.
pub(super) fn moving_columns(fields: usize, pinned: Option<usize>) -> Vec<Option<usize>> {
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
