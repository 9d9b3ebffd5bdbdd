//! "查询上报记录": the clerk types an ID number, a barcode or a name and sees where each
//! sample is (the day's record: confirmed, queued, waiting in 需要处理 with its row and error...)
//! and what to do. The records are read off the UI thread; the search box has the cursor
//! when the window opens.

use crate::issue::Lang;
use crate::message::Localized;
use eframe::egui;
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};

/// The lookup window's state.
#[derive(Default)]
pub struct Lookup {
    pub open: bool,
    /// What was typed.
    pub value: String,
    /// The answer to the last query, one line per batch (or one saying there is none).
    pub answer: Vec<String>,
    /// Whether the last answer is an error.
    pub failed: bool,
    task: Option<Receiver<Result<Vec<String>, String>>>,
    /// Whether the window was open last frame: the search box takes the cursor when it opens.
    was_open: bool,
}

impl Lookup {
    /// Whether a query is running.
    pub fn busy(&self) -> bool {
        self.task.is_some()
    }

    /// Starts a query of the outbox in `data` (the data folder).
    fn start(&mut self, ctx: &egui::Context, lang: Lang, data: Option<PathBuf>) {
        let value = self.value.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let answer = match data {
                Some(d) => crate::support::lookup::find(&d, &value),
                None => Ok(Default::default()),
            }
            .map(|records| crate::support::lookup::describe(&value, &records, lang))
            .map_err(|e| e.text(lang));
            let _ = tx.send(answer);
            ctx.request_repaint();
        });
        self.task = Some(rx);
    }

    fn poll(&mut self) {
        let Some(rx) = &self.task else { return };
        let answer = match rx.try_recv() {
            Ok(a) => a,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err(String::new()),
        };
        self.task = None;
        self.failed = answer.is_err();
        self.answer = answer.unwrap_or_else(|e| vec![e]);
    }

    /// Draws the window while it is open.
    pub fn window(&mut self, ctx: &egui::Context, lang: Lang, data: Option<PathBuf>) {
        self.poll();
        let mut open = self.open;
        let mut query = false;
        egui::Window::new(lang.pick("查询上报记录", "Look up an upload"))
            .open(&mut open)
            .collapsible(false)
            .default_width(560.0)
            .show(ctx, |ui| {
                ui.label(lang.pick(
                    "输入证件号码（空格、横线、小写 x、全角数字都可以）、条码号或姓名，看这个人的结果在哪里。",
                    "Type an ID number, a barcode or a name to see where the result is.",
                ));
                ui.horizontal(|ui| {
                    let label = ui.label(lang.pick(
                        "证件号码、条码号或姓名",
                        "ID number, barcode or name",
                    ));
                    let edit = ui
                        .add(egui::TextEdit::singleline(&mut self.value).desired_width(300.0))
                        .labelled_by(label.id);
                    if !self.was_open {
                        edit.request_focus();
                    }
                    let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                    let can = !self.busy() && !self.value.trim().is_empty();
                    if ui
                        .add_enabled(can, egui::Button::new(lang.pick("查询", "Look up")))
                        .clicked()
                        || (enter && can)
                    {
                        query = true;
                    }
                    if self.busy() {
                        ui.spinner();
                    }
                });
                ui.add_space(6.0);
                for line in &self.answer {
                    let text = egui::RichText::new(line);
                    let text = if self.failed {
                        text.color(egui::Color32::from_rgb(176, 0, 32))
                    } else {
                        text
                    };
                    ui.add(egui::Label::new(text).wrap());
                }
            });
        if query {
            self.start(ctx, lang, data);
        }
        self.was_open = self.open && open;
        self.open = open;
    }
}
