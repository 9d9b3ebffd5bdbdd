//! The upload queue's window: the batches grouped by file and day, each problem once in plain
//! words, and a person's decisions (retry, forget) for a whole file.

use super::Uploads;
use eframe::egui::{self, Color32, RichText};
use sheetbridge::issue::Lang;
use sheetbridge::upload::outbox::{BatchRecord, State};

impl Uploads {
    /// The queue window. Returns the ids to retry or forget through the caller.
    pub fn queue_window(
        &mut self,
        ctx: &egui::Context,
        lang: Lang,
        can_send: bool,
    ) -> Option<QueueAction> {
        let mut action = None;
        let mut open = self.show_queue;
        egui::Window::new(lang.pick("上传队列", "Upload queue"))
            .open(&mut open)
            .default_width(760.0)
            .show(ctx, |ui| {
                if let Some(a) = self.queue_head(ui, lang, can_send) {
                    action = Some(a);
                }
                ui.separator();
                egui::ScrollArea::vertical()
                    .max_height(380.0)
                    .show(ui, |ui| {
                        if self.records.is_empty() {
                            ui.label(
                                RichText::new(lang.pick("队列是空的。", "The queue is empty."))
                                    .weak(),
                            );
                        }
                        for (i, group) in groups(&self.records).iter().enumerate() {
                            if let Some(a) = group_card(ui, lang, i, group) {
                                action = Some(a);
                            }
                        }
                    });
            });
        self.show_queue = open;
        action
    }

    /// The queue window's top: what was confirmed, the last word, "现在重试" or "继续上传".
    fn queue_head(&mut self, ui: &mut egui::Ui, lang: Lang, can_send: bool) -> Option<QueueAction> {
        let mut action = None;
        // Rows, the clerk's unit: how the rows were cut into batches is for the details.
        let (_, rows) = self.confirmed();
        let waiting = self.pending_rows();
        ui.label(lang.pick(
            format!("省平台已确认 {rows} 行；还有 {waiting} 行没有完成。"),
            format!("The platform confirmed {rows} rows; {waiting} not finished."),
        ));
        if let Some((zh, en)) = &self.last {
            ui.label(
                RichText::new(format!(
                    "{}{}",
                    lang.pick("最近一次：", "Last: "),
                    lang.pick(zh, en)
                ))
                .weak(),
            );
        }
        ui.horizontal(|ui| {
            if self.sending {
                ui.spinner();
                ui.label(lang.pick(
                    "正在上传（失败会自动重试）……",
                    "Sending (failures are retried)…",
                ));
                if self.pending() > 0
                    && ui
                        .button(lang.pick(
                            "现在重试（VPN 已连上时点这里）",
                            "Retry now (after reconnecting)",
                        ))
                        .clicked()
                {
                    self.retry_now();
                }
            } else if self.pending() > 0
                && ui
                    .add_enabled(
                        can_send,
                        egui::Button::new(lang.pick("继续上传", "Send now")),
                    )
                    .clicked()
            {
                action = Some(QueueAction::Send);
            }
            if ui.button(lang.pick("刷新", "Refresh")).clicked() {
                self.refresh();
            }
        });
        action
    }
}

/// What the queue window asks for.
pub enum QueueAction {
    Send,
    /// A person's decision for these batches (one file's waiting or rejected batches).
    Retry(Vec<String>),
    Forget(Vec<String>),
}

/// The batches of one file queued on one day: one card in the queue view.
pub struct Group<'a> {
    /// The file's name (or a word saying it is not known).
    pub file: Option<String>,
    /// `YYYY-MM-DD`, local.
    pub day: String,
    /// The earliest queueing time of the group, `HH:MM`.
    pub time: String,
    pub batches: Vec<&'a BatchRecord>,
}

impl Group<'_> {
    pub fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.rows).sum()
    }

    fn count(&self, state: State) -> usize {
        self.batches.iter().filter(|b| b.state == state).count()
    }

    /// One line for the state of the group: "已确认 10，等待 2".
    pub fn state_line(&self, lang: Lang) -> String {
        [
            State::Confirmed,
            State::Sending,
            State::Queued,
            State::Waiting,
            State::Rejected,
        ]
        .iter()
        .filter_map(|&st| {
            let n = self.count(st);
            (n > 0).then(|| {
                lang.pick(
                    format!("{} {n}", state_text(st, lang).0),
                    format!("{n} {}", state_text(st, lang).0),
                )
            })
        })
        .collect::<Vec<_>>()
        .join(lang.pick("，", ", "))
    }

    /// The group's distinct problems in plain words, each once.
    pub fn problems(&self) -> Vec<String> {
        let mut seen: Vec<String> = Vec::new();
        for b in &self.batches {
            if b.state == State::Confirmed {
                continue;
            }
            if let Some(e) = &b.last_error {
                let (text, _) = plain(e);
                if !seen.contains(&text) {
                    seen.push(text);
                }
            }
        }
        seen
    }

    /// The batches a person must decide on.
    fn undecided(&self) -> Vec<String> {
        self.batches
            .iter()
            .filter(|b| matches!(b.state, State::Waiting | State::Rejected))
            .map(|b| b.id.clone())
            .collect()
    }
}

/// The queue grouped by file and day, newest first.
pub fn groups(records: &[BatchRecord]) -> Vec<Group<'_>> {
    let mut out: Vec<Group<'_>> = Vec::new();
    let local = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.with_timezone(&chrono::Local))
            .unwrap_or_default()
    };
    let mut sorted: Vec<&BatchRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.created);
    for r in sorted {
        let when = local(r.created);
        let day = when.format("%Y-%m-%d").to_string();
        match out.iter_mut().find(|g| g.file == r.source && g.day == day) {
            Some(g) => g.batches.push(r),
            None => out.push(Group {
                file: r.source.clone(),
                day,
                time: when.format("%H:%M").to_string(),
                batches: vec![r],
            }),
        }
    }
    out.reverse();
    out
}

/// One file's card: name, day, batches and rows, one state line, each problem once, the
/// decisions for the whole file; batch ids only under "详情" (for support).
fn group_card(ui: &mut egui::Ui, lang: Lang, index: usize, g: &Group<'_>) -> Option<QueueAction> {
    let mut action = None;
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let day = if g.day == today {
        lang.pick("今天", "today").to_owned()
    } else {
        g.day.clone()
    };
    let file = g.file.clone().unwrap_or_else(|| {
        lang.pick("（文件名未记录）", "(file not recorded)")
            .to_owned()
    });
    let (time, rows) = (&g.time, g.rows());
    egui::Frame::group(ui.style()).show(ui, |ui| {
        ui.set_width(ui.available_width());
        ui.label(
            RichText::new(lang.pick(
                format!("{file} · {day} {time} · {rows} 行"),
                format!("{file} · {day} {time} · {rows} rows"),
            ))
            .strong(),
        );
        let worst = [
            State::Rejected,
            State::Waiting,
            State::Queued,
            State::Sending,
            State::Confirmed,
        ]
        .into_iter()
        .find(|&st| g.count(st) > 0)
        .unwrap_or(State::Confirmed);
        ui.label(RichText::new(g.state_line(lang)).color(state_text(worst, lang).1));
        for p in g.problems() {
            ui.add(egui::Label::new(RichText::new(p).weak()).wrap());
        }
        let undecided = g.undecided();
        if !undecided.is_empty() {
            ui.horizontal(|ui| {
                let n = undecided.len();
                let again = lang.pick(format!("重新上传（{n} 批）"), format!("Retry ({n})"));
                if ui.button(again).clicked() {
                    action = Some(QueueAction::Retry(undecided.clone()));
                }
                let forget = lang.pick(format!("放弃（{n} 批）"), format!("Forget ({n})"));
                if ui.button(forget).clicked() {
                    action = Some(QueueAction::Forget(undecided.clone()));
                }
            });
        }
        batch_details(ui, lang, index, g);
    });
    action
}

/// A group's batches one per line, under "详情" (for support): id, rows, state, attempts, error.
fn batch_details(ui: &mut egui::Ui, lang: Lang, index: usize, g: &Group<'_>) {
    egui::CollapsingHeader::new(lang.pick("详情（给技术支持看）", "Details (for support)"))
        .id_salt(("queue-group", index))
        .show(ui, |ui| {
            for (k, b) in g.batches.iter().enumerate() {
                let (k, rows, tries) = (k + 1, b.rows, b.attempts);
                let state = state_text(b.state, lang).0;
                let error = b
                    .last_error
                    .as_ref()
                    .map(|e| format!(" · {e}"))
                    .unwrap_or_default();
                // Which part of the file, in words; the outbox's id last, for support.
                let id = &b.id;
                let line = lang.pick(
                    format!(
                        "第 {k} 部分：{rows} 行 · {state} · 已尝试 {tries} 次{error} · 编号 {id}"
                    ),
                    format!("part {k}: {rows} rows · {state} · {tries} attempts{error} · id {id}"),
                );
                ui.add(egui::Label::new(RichText::new(line).small().weak()).wrap());
            }
        });
}

/// A message for the clerk in plain words, and the technical detail taken out of it: a
/// bracketed part with no Chinese in it and several words of English (a network library's
/// error chain, an operating-system message) goes to the log, not to the screen. A short part
/// such as an address or "HTTP 503" stays.
pub fn plain(text: &str) -> (String, Option<String>) {
    let mut shown = String::new();
    let mut detail: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '（' && c != '(' {
            shown.push(c);
            i += 1;
            continue;
        }
        // The matching bracket, counting both kinds.
        let mut depth = 0usize;
        let mut end = None;
        for (j, &d) in chars.iter().enumerate().skip(i) {
            match d {
                '（' | '(' => depth += 1,
                '）' | ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(j);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            shown.extend(&chars[i..]);
            break;
        };
        let inner: String = chars[i + 1..end].iter().collect();
        let cjk = inner
            .chars()
            .any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
        let words = inner
            .split_whitespace()
            .filter(|w| w.chars().filter(char::is_ascii_alphabetic).count() >= 2)
            .count();
        if !cjk && words >= 3 {
            detail.push(inner);
            while shown.ends_with(' ') {
                shown.pop();
            }
        } else {
            shown.extend(&chars[i..=end]);
        }
        i = end + 1;
    }
    let shown = shown.replace("，。", "。").replace("；。", "。");
    (shown, (!detail.is_empty()).then(|| detail.join("; ")))
}

fn state_text(state: State, lang: Lang) -> (&'static str, Color32) {
    match state {
        State::Queued => (lang.pick("等待", "queued"), Color32::from_rgb(90, 90, 90)),
        State::Sending => (
            lang.pick("发送中", "sending"),
            Color32::from_rgb(21, 101, 192),
        ),
        State::Confirmed => (
            lang.pick("已确认", "confirmed"),
            Color32::from_rgb(27, 120, 50),
        ),
        State::Rejected => (
            lang.pick("被平台拒绝", "rejected"),
            Color32::from_rgb(176, 0, 32),
        ),
        State::Waiting => (
            lang.pick("需要确认", "needs a decision"),
            Color32::from_rgb(150, 90, 0),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn technical_text_is_taken_out_of_messages() {
        let zh = "连不上省平台（http://10.1.2.3:8443），请检查 VPN 是否已连接、网络是否正常；数据已保存，连上后会自动重发。（error sending request for url (http://10.1.2.3:8443/login): client error (Connect): tcp connect error: Connection refused (os error 111)）";
        let (shown, detail) = plain(zh);
        assert_eq!(
            shown,
            "连不上省平台（http://10.1.2.3:8443），请检查 VPN 是否已连接、网络是否正常；数据已保存，连上后会自动重发。"
        );
        assert!(detail.unwrap().contains("Connection refused"));
        let en = "cannot reach the platform at http://x: check the VPN; the batch stays queued (error sending request for url (http://x/): operation timed out)";
        let (shown, detail) = plain(en);
        assert_eq!(
            shown,
            "cannot reach the platform at http://x: check the VPN; the batch stays queued"
        );
        assert!(detail.is_some());
        // Short or Chinese brackets stay.
        for kept in [
            "省平台暂时无法处理（HTTP 503），稍后会自动重试。",
            "省平台拒绝登录：用户名或密码错误（第 2 次）。",
        ] {
            assert_eq!(plain(kept), (kept.to_owned(), None));
        }
    }

    fn record(
        id: &str,
        source: Option<&str>,
        created: i64,
        state: State,
        err: Option<&str>,
    ) -> BatchRecord {
        BatchRecord {
            id: id.into(),
            target: "t".into(),
            rows: 10,
            state,
            attempts: 1,
            last_error: err.map(str::to_owned),
            created,
            next_attempt_at: 0,
            idempotency_key: id.into(),
            confirmed_at: None,
            accepted: None,
            resend_safe: true,
            retry_from: created,
            source: source.map(str::to_owned),
        }
    }

    #[test]
    fn the_queue_is_grouped_by_file_and_day_with_each_problem_once() {
        let day = 86_400_000;
        let t0 = chrono::Local::now().timestamp_millis();
        let busy = "省平台暂时无法处理（HTTP 503），稍后会自动重试。";
        let records = vec![
            record("a1", Some("a.xlsx"), t0 - day, State::Confirmed, None),
            record("b1", Some("b.xlsx"), t0, State::Confirmed, None),
            record("b2", Some("b.xlsx"), t0 + 1, State::Queued, Some(busy)),
            record("b3", Some("b.xlsx"), t0 + 2, State::Queued, Some(busy)),
            record(
                "a2",
                Some("a.xlsx"),
                t0 + 3,
                State::Rejected,
                Some("平台说：格式不对"),
            ),
        ];
        let g = groups(&records);
        let names: Vec<(Option<&str>, usize)> = g
            .iter()
            .map(|g| (g.file.as_deref(), g.batches.len()))
            .collect();
        // Newest first; a.xlsx of yesterday is a group of its own.
        assert_eq!(
            names,
            vec![
                (Some("a.xlsx"), 1),
                (Some("b.xlsx"), 3),
                (Some("a.xlsx"), 1)
            ]
        );
        let b = &g[1];
        assert_eq!(b.rows(), 30);
        assert_eq!(b.state_line(Lang::Zh), "已确认 1，等待 2");
        assert_eq!(b.problems(), vec![busy.to_owned()]);
        assert_eq!(g[0].undecided(), vec!["a2".to_owned()]);
    }
}
