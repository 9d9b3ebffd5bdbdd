//! 今日对账 (daily.md) in the window: the day's account on the start screen (the counts per
//! state as buttons that filter the list, positives on top and in red, each sample a click
//! away from its file at its row or from its batch, the day by hour as a bar chart). What the
//! window does with it is beside it: the positives (`positives.rs`), the upload by hand
//! (`by_hand.rs`).
//!
//! The account is read from the data folder's database off the UI thread
//! (`daily::read_day_account`, a reader beside the sender thread that owns the outbox), again
//! whenever the outbox moves and every [`READ_EVERY`] (a watcher or a scheduled task in
//! another program may have changed it).

use super::Action;
use super::task::{Poll, Task};
use eframe::egui::{self, Color32, RichText};
use sheetbridge::issue::Lang;
use sheetbridge::upload::daily::{DayAccount, Sample, SampleState};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The account is read again at least this often while the window is open.
const READ_EVERY: Duration = Duration::from_secs(20);

/// At most this many samples are listed (the rest are counted; the workbook of `reconcile -o`
/// has them all); the list is part of the start screen's scrolling, not a box of its own.
const LISTED: usize = 40;

pub(super) const RED: Color32 = Color32::from_rgb(176, 0, 32);
pub(super) const RED_BG: Color32 = Color32::from_rgb(255, 228, 228);

/// A reading of the account, or why it failed (Chinese, English).
type Read = Result<DayAccount, (String, String)>;

/// The panel's state: the account as last read, the count chosen, where to go next.
#[derive(Default)]
pub struct Account {
    /// The day's account as last read (`None` before the first reading).
    pub day: Option<DayAccount>,
    /// Why the last reading failed (Chinese, English).
    pub error: Option<(String, String)>,
    /// The count chosen as a filter (`None`: every sample not yet on the platform).
    pub filter: Option<SampleState>,
    /// A file opened from the list and the row (as Excel numbers it) to select once loaded.
    pub goto: Option<(PathBuf, u32)>,
    /// Files whose positives were queued from the window (the offer is not made again).
    pub positives_sent: Vec<PathBuf>,
    /// The upload asked for is "先上报阳性结果" (the positives alone), until its job ends.
    pub positives_asked: bool,
    /// Open the file on screen again at the next frame (its rows were marked uploaded by
    /// hand: they now read 已上报过), and say this once it is loaded.
    pub(super) reload: bool,
    pub after_load: Option<super::Notice>,
    task: Option<Task<Read>>,
    /// The outbox's reading count and the time of the last reading of the account.
    read_for: Option<(u64, Instant)>,
}

impl Account {
    /// Takes in a finished reading, and starts another when the outbox moved (`generation`)
    /// or the last is old; nothing without a data folder.
    pub fn refresh(&mut self, ctx: &egui::Context, data: Option<&Path>, generation: u64) {
        if let Some(task) = &self.task {
            match task.poll() {
                Poll::Done(Ok(day)) => {
                    self.day = Some(day);
                    self.error = None;
                    self.task = None;
                }
                Poll::Done(Err(e)) => {
                    self.error = Some(e);
                    self.task = None;
                }
                Poll::Running => return,
                // The reader ended without an answer: the next reading is due anyway.
                Poll::Died => self.task = None,
            }
        }
        let Some(data) = data else { return };
        let due = match self.read_for {
            Some((g, at)) => g != generation || at.elapsed() >= READ_EVERY,
            None => true,
        };
        if !due {
            return;
        }
        self.read_for = Some((generation, Instant::now()));
        let data = data.to_owned();
        ctx.request_repaint_after(READ_EVERY);
        self.task = Some(Task::spawn("account", ctx, move || {
            let today = chrono::Local::now().format("%Y-%m-%d").to_string();
            sheetbridge::upload::daily::read_day_account(&data, &today, None)
                .map_err(|e| sheetbridge::message::Localized::pair(&e))
        }));
    }

    /// Reads the account again at the next frame (the clerk did something that changes it).
    pub fn stale(&mut self) {
        self.read_for = None;
    }

    /// Whether a reading is under way.
    #[cfg(test)]
    pub fn reading(&self) -> bool {
        self.task.is_some()
    }

    /// Positives of today the platform does not have yet.
    pub fn positives_waiting(&self) -> usize {
        self.day.as_ref().map_or(0, DayAccount::positives_waiting)
    }

    /// The row to select in `path` once it is loaded, if the list asked for it.
    pub fn take_goto(&mut self, path: &Path) -> Option<u32> {
        match &self.goto {
            Some((p, row)) if p == path => {
                let row = *row;
                self.goto = None;
                Some(row)
            }
            _ => None,
        }
    }

    /// The samples listed under the chosen count, in the account's order (positives first).
    pub fn listed(&self) -> Vec<&Sample> {
        let Some(day) = &self.day else {
            return Vec::new();
        };
        match self.filter {
            None => day.open().collect(),
            Some(state) => day
                .samples
                .iter()
                .filter(|s| s.state.group() == state.group())
                .collect(),
        }
    }

    /// 今日对账 on the start screen.
    pub fn show(&mut self, ui: &mut egui::Ui, lang: Lang) -> Option<Action> {
        ui.heading(lang.pick("今日对账", "Today's account"));
        // The heading is centred like the screen's others; the account reads from the left.
        ui.with_layout(egui::Layout::top_down(egui::Align::Min), |ui| {
            self.body(ui, lang)
        })
        .inner
    }

    fn body(&mut self, ui: &mut egui::Ui, lang: Lang) -> Option<Action> {
        let mut action = None;
        if let Some((zh, en)) = &self.error {
            let text = lang.pick(
                format!("今日对账没能读出：{zh}"),
                format!("Today's account could not be read: {en}"),
            );
            ui.add(egui::Label::new(RichText::new(text).color(RED)).wrap());
        }
        let Some(day) = &self.day else {
            ui.label(RichText::new(lang.pick("正在读取……", "Reading…")).weak());
            return None;
        };
        if day.samples.is_empty() {
            ui.label(
                RichText::new(lang.pick(
                    "今天还没有要上报的样本。打开导出的文件后，每个人的结果在哪里都会记在这里。",
                    "No samples today yet. Once an export is opened, where each result is shows here.",
                ))
                .weak(),
            );
            ui.add_space(12.0);
            return None;
        }
        self.counts(ui, lang);
        ui.add_space(4.0);
        hours_chart(ui, lang, self.day.as_ref());
        ui.add_space(4.0);
        if let Some(a) = self.list(ui, lang) {
            action = Some(a);
        }
        ui.add_space(12.0);
        ui.separator();
        action
    }

    /// The counts per state, each a button that filters the list (a second click: back to
    /// every sample not yet on the platform).
    fn counts(&mut self, ui: &mut egui::Ui, lang: Lang) {
        let Some(day) = &self.day else { return };
        let open = day.open().count();
        let mut buttons: Vec<(Option<SampleState>, String, Option<Color32>)> = vec![(
            None,
            lang.pick(
                format!("未完成 {open} / 共 {}", day.samples.len()),
                format!("open {open} / {} in all", day.samples.len()),
            ),
            None,
        )];
        for (state, n) in day.counts() {
            if n == 0 {
                continue;
            }
            let color = if state.needs_person() {
                Some(RED)
            } else if state.is_on_platform() {
                Some(Color32::from_rgb(27, 120, 50))
            } else {
                None
            };
            buttons.push((
                Some(state),
                format!("{} {n}", state.group_label(lang)),
                color,
            ));
        }
        let mut chosen = None;
        ui.horizontal_wrapped(|ui| {
            for (state, text, color) in buttons {
                let mut rt = RichText::new(text).size(17.0);
                if let Some(c) = color {
                    rt = rt.color(c);
                }
                if ui
                    .add(egui::Button::selectable(self.filter == state, rt))
                    .clicked()
                {
                    chosen = Some(state);
                }
            }
        });
        if let Some(state) = chosen {
            self.filter = if self.filter == state { None } else { state };
        }
    }

    /// The samples under the chosen count: positives on top and in red, each with its state,
    /// its reason and what to do, and a button to its file's row or its batch.
    fn list(&self, ui: &mut egui::Ui, lang: Lang) -> Option<Action> {
        let listed = self.listed();
        if listed.is_empty() {
            let text = match self.filter {
                None => lang.pick(
                    "今天的样本都已上报完成（省平台已确认、手工上报、不上报或重复）。",
                    "Every sample of today is done (confirmed, uploaded by hand, left out or repeated).",
                ),
                Some(_) => lang.pick("没有这种状态的样本。", "No sample in this state."),
            };
            ui.label(RichText::new(text).color(Color32::from_rgb(27, 120, 50)));
            return None;
        }
        let mut action = None;
        for (n, s) in listed.iter().take(LISTED).enumerate() {
            if let Some(a) = sample_line(ui, lang, s, n) {
                action = Some(a);
            }
        }
        if listed.len() > LISTED {
            ui.label(
                RichText::new(lang.pick(
                    format!(
                        "……还有 {} 个（sheetbridge reconcile -o 可导出全部）",
                        listed.len() - LISTED
                    ),
                    format!(
                        "… and {} more (sheetbridge reconcile -o writes them all)",
                        listed.len() - LISTED
                    ),
                ))
                .weak(),
            );
        }
        action
    }
}

/// One sample of the list, one line: `阳性` first when positive, the masked person, the state,
/// the button to its file's row (a row to fix or check) or to its batch, then the reason and
/// what to do (cut to the line; the whole on hover).
fn sample_line(ui: &mut egui::Ui, lang: Lang, s: &Sample, n: usize) -> Option<Action> {
    let mut action = None;
    let positive = s.positive && !s.state.is_on_platform();
    let frame = if positive {
        egui::Frame::new().fill(RED_BG).inner_margin(3.0)
    } else {
        egui::Frame::new().inner_margin(3.0)
    };
    frame.show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.horizontal(|ui| {
            if s.positive {
                ui.label(
                    RichText::new(lang.pick("阳性", "POSITIVE"))
                        .color(RED)
                        .strong(),
                );
            }
            let who = format!(
                "{} {} · {} {}",
                s.name,
                s.id,
                lang.pick("条码", "barcode"),
                sheetbridge::paths::for_line(&s.barcode)
            );
            let who = RichText::new(sheetbridge::privacy::mask_text(&who));
            ui.label(if positive { who.color(RED) } else { who });
            let state = RichText::new(s.state.name(lang)).strong();
            ui.label(if s.state.needs_person() || positive {
                state.color(RED)
            } else {
                state
            });
            let to_row = s.path.as_ref().filter(|_| opens_file(s.state));
            let button = match (to_row, &s.batch) {
                (Some(_), _) => Some(lang.pick(
                    format!("打开文件到第 {} 行", s.row),
                    format!("Open the file at row {}", s.row),
                )),
                (None, Some(_)) => Some(lang.pick("查看上传队列", "Show the upload queue").into()),
                (None, None) => None,
            };
            if let Some(text) = button {
                let clicked = ui
                    .push_id(("daily_go", n), |ui| ui.button(text))
                    .inner
                    .on_hover_text(sheetbridge::paths::for_line(&s.file))
                    .clicked();
                if clicked {
                    action = Some(match to_row {
                        Some(path) => Action::OpenAt(PathBuf::from(path), s.row),
                        None => Action::ShowQueue,
                    });
                }
            }
            let why = format!("{} → {}", s.reason(lang), s.state.what_to_do(lang));
            ui.add(egui::Label::new(RichText::new(&why).weak()).truncate())
                .on_hover_text(why);
        });
    });
    action
}

/// Whether a sample in this state is a click away from its file's row (rather than its
/// batch): the row is the clerk's to fix, undo or send.
fn opens_file(state: SampleState) -> bool {
    matches!(
        state,
        SampleState::Error
            | SampleState::Excluded
            | SampleState::NotQueued
            | SampleState::Duplicate
    )
}

/// The day by hour: samples in the exports beside samples confirmed (or uploaded by hand), so
/// a gap is seen at a glance.
fn hours_chart(ui: &mut egui::Ui, lang: Lang, day: Option<&DayAccount>) {
    use egui_plot::{Bar, BarChart, Legend, Plot};
    let Some(day) = day else { return };
    let first = day
        .hours
        .iter()
        .position(|&(a, b)| a + b > 0)
        .unwrap_or(8)
        .min(8);
    let last = day
        .hours
        .iter()
        .rposition(|&(a, b)| a + b > 0)
        .unwrap_or(17)
        .max(17);
    const BLUE: Color32 = Color32::from_rgb(90, 130, 200);
    const GREEN: Color32 = Color32::from_rgb(27, 140, 60);
    let bars = |which: usize, offset: f64, color: Color32| -> Vec<Bar> {
        (first..=last)
            .map(|h| {
                let (sampled, confirmed) = day.hours[h];
                let n = if which == 0 { sampled } else { confirmed };
                Bar::new(h as f64 + offset, n as f64)
                    .width(0.4)
                    .fill(color)
                    .name(format!("{h}时"))
            })
            .collect()
    };
    let sampled = BarChart::new(
        lang.pick("采样（导出表里的样本）", "sampled (in the exports)"),
        bars(0, -0.2, BLUE),
    )
    .color(BLUE);
    let confirmed = BarChart::new(
        lang.pick("省平台已确认", "confirmed by the platform"),
        bars(1, 0.2, GREEN),
    )
    .color(GREEN);
    Plot::new("daily_hours")
        .height(150.0)
        .legend(Legend::default().position(egui_plot::Corner::LeftTop))
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
        .show_x(false)
        .include_y(0.0)
        .include_x(first as f64 - 0.6)
        .include_x(last as f64 + 0.6)
        .x_axis_formatter(|mark, range| {
            let h = mark.value;
            // A label too near the right edge would be cut there: it is dropped instead.
            let fits = h <= *range.end() - 0.4;
            if fits && h.fract().abs() < 1e-6 && (0.0..24.0).contains(&h) {
                format!("{h:.0}时")
            } else {
                String::new()
            }
        })
        .show(ui, |plot| {
            plot.add(sampled);
            plot.add(confirmed);
        });
}
