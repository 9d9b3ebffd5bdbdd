//! Positives first in the window (daily.md): "阳性 N 人未上报" above every screen and in the
//! window title while a positive of today is not on the platform, with why and what to do (the
//! VPN when the queue cannot reach the platform), and a checked file's positives offered first:
//! one click queues them alone and sends them at once.

use super::daily::{RED, RED_BG};
use super::{Action, App, Notice, Screen};
use eframe::egui::{self, Color32, RichText};
use sheetbridge::issue::Lang;
use sheetbridge::upload::daily::{Sample, SampleState};

impl App {
    /// The window's title: the program, and "阳性 N 人未上报" while a positive of today is not
    /// on the platform.
    pub fn title(&self) -> String {
        let lang = self.lang();
        let base = lang.pick("核酸结果上报助手", "Nucleic-acid result reporting");
        match self.ui.account.positives_waiting() {
            0 => base.to_owned(),
            n => lang.pick(
                format!("{base} — 阳性 {n} 人未上报"),
                format!("{base} — {n} positive not uploaded"),
            ),
        }
    }

    /// The day's account: read again when the outbox moved, or now and then.
    pub(super) fn refresh_account(&mut self, ctx: &egui::Context) {
        if std::mem::take(&mut self.ui.account.reload)
            && self.runtime.job.is_none()
            && let Some(source) = self.session.source.clone()
        {
            let said = self.ui.account.after_load.take();
            self.open(ctx, source);
            self.ui.account.after_load = said;
        }
        let generation = self.runtime.uploads.generation;
        let data = self.runtime.dirs.data.clone();
        self.ui.account.refresh(ctx, data.as_deref(), generation);
    }

    /// The positives bar above every screen: a checked file's positives offered first (one
    /// click sends them at once), and while a positive of today is not on the platform,
    /// "阳性 N 人未上报" with why and what to do (the VPN when the queue cannot reach the
    /// platform).
    pub(super) fn positives_bar(&mut self, ui: &mut egui::Ui) -> Option<Action> {
        let lang = self.lang();
        let offer = self.positives_offer();
        let waiting = self.ui.account.positives_waiting();
        if offer == 0 && waiting == 0 {
            return None;
        }
        let mut action = None;
        egui::Frame::new()
            .fill(RED_BG)
            .stroke(egui::Stroke::new(2.0, RED))
            .inner_margin(10.0)
            .corner_radius(6.0)
            .show(ui, |ui| {
                ui.set_width(ui.available_width());
                if offer > 0 {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(lang.pick(
                                format!("这个文件有阳性结果 {offer} 人：请先上报，其余的行改好后再传。"),
                                format!("This file has {offer} positive results: send them first, the rest once fixed."),
                            ))
                            .color(RED)
                            .strong()
                            .size(18.0),
                        );
                        let text = lang.pick(
                            format!("先上报阳性结果（{offer} 人）"),
                            format!("Send the positives first ({offer})"),
                        );
                        if ui
                            .add(egui::Button::new(
                                RichText::new(text).size(18.0).color(Color32::WHITE),
                            )
                            .fill(RED))
                            .clicked()
                        {
                            action = Some(Action::UploadPositives);
                        }
                    });
                }
                if waiting > 0 {
                    ui.horizontal_wrapped(|ui| {
                        ui.label(
                            RichText::new(lang.pick(
                                format!("阳性 {waiting} 人未上报"),
                                format!("{waiting} positive not uploaded"),
                            ))
                            .color(RED)
                            .strong()
                            .size(18.0),
                        );
                        ui.add(
                            egui::Label::new(RichText::new(self.positives_why(lang)).color(RED))
                                .wrap(),
                        );
                        if matches!(self.session.screen, Screen::Home) {
                            return;
                        }
                        if ui
                            .button(lang.pick("查看上传队列", "Show the upload queue"))
                            .clicked()
                        {
                            action = Some(Action::ShowQueue);
                        }
                    });
                }
            });
        ui.add_space(6.0);
        action
    }

    /// The file's positives went into the upload queue (or why not): they are sent at once.
    pub(super) fn positives_queued(
        &mut self,
        batch: sheetbridge::batch::Batch,
        result: super::upload::QueueResult,
    ) {
        self.put_back(batch);
        let lang = self.lang();
        match result {
            Ok((new, before, ids)) => {
                if let Some(source) = self.session.source.clone() {
                    self.ui.account.positives_sent.push(source);
                }
                // The positive rows as queued read 阳性 上传中 until the platform confirms
                // them, and the upload button offers only the rest.
                let mut queued = 0;
                if let Some(review) = self.review() {
                    let b = &review.batch;
                    let keys: std::collections::HashSet<_> = b
                        .rows_with(sheetbridge::batch::RowStatus::Ready)
                        .filter(|&i| sheetbridge::upload::daily::is_positive(b, i))
                        .filter_map(|i| b.ledger_key(i))
                        .collect();
                    queued = keys.len();
                    review.queued(super::review::Sent {
                        ids: ids.clone(),
                        keys,
                    });
                }
                if new > 0 {
                    self.record_queued(queued, ids);
                }
                let text = if new == 0 {
                    lang.pick(
                        format!("阳性结果之前已经放进上传队列（{before} 批），不会重复上传。"),
                        format!(
                            "The positives were queued before ({before} batches); not sent twice."
                        ),
                    )
                } else {
                    lang.pick(
                        "阳性结果已放进上传队列，正在优先发送到省平台。其余的行改好后点「上传到省平台」。".to_owned(),
                        "The positives are queued and being sent first. Upload the other rows once fixed.".to_owned(),
                    )
                };
                self.ui.notice = Some(Notice::info(text));
                self.runtime.uploads.refresh();
                self.start_sending();
                self.ui.account.stale();
            }
            Err((zh, en)) => self.ui.notice = Some(Notice::error(lang.pick(zh, en))),
        }
    }

    /// How many of the checked file's positives are ready and not yet sent from the window.
    fn positives_offer(&mut self) -> usize {
        let source = self.session.source.clone();
        if source
            .as_ref()
            .is_some_and(|s| self.ui.account.positives_sent.contains(s))
        {
            return 0;
        }
        let Screen::Review(review) = &mut self.session.screen else {
            return 0;
        };
        review.ready_positives()
    }

    /// Why today's positives are not on the platform, and what to do, in one line.
    fn positives_why(&self, lang: Lang) -> String {
        let Some(day) = &self.ui.account.day else {
            return String::new();
        };
        let waiting: Vec<&Sample> = day
            .samples
            .iter()
            .filter(|s| s.positive_waiting())
            .collect();
        let has = |f: fn(SampleState) -> bool| waiting.iter().any(|s| f(s.state));
        if has(|s| matches!(s, SampleState::Queued | SampleState::Sending)) {
            if let Some((zh, en)) = &self.runtime.uploads.last {
                return lang.pick(
                    format!("还在上传队列里，没有送到省平台（{zh}）。请检查 VPN 是否连上；连上后会自动发送，也可以在「上传队列」里点「现在重试」。"),
                    format!("still queued, not on the platform ({en}). Check the VPN; it is sent once connected, or press Retry now in the upload queue."),
                );
            }
            return lang
                .pick(
                    "正在发送到省平台；如果一直没有确认，请检查 VPN 是否连上。",
                    "being sent; if it is not confirmed soon, check the VPN.",
                )
                .to_owned();
        }
        if has(SampleState::needs_person) {
            return lang
                .pick(
                    "有阳性结果需要您处理：在下方「今日对账」里点它，打开文件改正或处理后上报。",
                    "a positive needs you: click it in Today's account below to fix and send it.",
                )
                .to_owned();
        }
        lang.pick(
            "还没有放进上传队列：打开文件后点「先上报阳性结果」或「上传到省平台」。",
            "not queued yet: open the file and press Send the positives first, or Upload.",
        )
        .to_owned()
    }
}
