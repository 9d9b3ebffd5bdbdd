//! "某某查不到结果" (`sheetbridge lookup VALUE`, "查询上报记录"): answers from the day's record
//! (`upload::daily`, through which every query goes: no SQL here) by ID number in any
//! spelling, barcode or name, for every state a sample can be in, with its reason and what to
//! do; "没有记录" only when no export the program handled held it, naming what was searched.

use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::upload::daily::{LookupAnswer, Sample, SampleState};
use std::path::{Path, PathBuf};

/// Why the records could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum LookupError {
    Db { path: PathBuf, detail: String },
}

impl Localized for LookupError {
    fn message(&self) -> Text {
        match self {
            LookupError::Db { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "读不了上报记录「{path}」：{detail}。请稍后再试；如果问题持续，请导出诊断包发给技术支持。"
                    ),
                    format!("cannot read the upload records {path}: {detail}"),
                )
            }
        }
    }
}

/// What was typed, made comparable: full-width digits and letters become ASCII, spaces go, and
/// letters are upper-cased (`44010619900101123x` -> `44010619900101123X`).
pub fn normalize(value: &str) -> String {
    value
        .chars()
        .filter_map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                c => c,
            };
            (!c.is_whitespace() && c != '\u{3000}').then(|| c.to_ascii_uppercase())
        })
        .collect()
}

/// Whether a normalized value is shaped like a resident ID (18 characters: 17 digits and a
/// digit or X; or the old 15 digits).
pub fn looks_like_id(value: &str) -> bool {
    let b = value.as_bytes();
    (b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X'))
        || (b.len() == 15 && b.iter().all(u8::is_ascii_digit))
}

/// Every sample of `value` (an ID number in any spelling, a barcode or a name) in the day's
/// record of the data folder `data`, read without changing anything (the window's lookup box;
/// the command line asks its workspace, [`crate::workspace::Workspace::lookup`], which also
/// migrates an older database first). A missing database holds nothing.
pub fn find(data: &Path, value: &str) -> Result<LookupAnswer, LookupError> {
    crate::upload::daily::read_lookup(data, value).map_err(|e| LookupError::Db {
        path: data.join("outbox.sqlite"),
        detail: e.english(),
    })
}

/// What to say for `value` and its answer (daily.md, "Lookup answers every case"): one line
/// per sample (positives first), each with the person masked, the day sampled, the target, the
/// state, its reason and what to do; a line first saying how many people share a name; or
/// "没有记录" saying which targets and days were searched.
///
/// The value is shown masked whole (as a document number when it holds a digit, else as a
/// name), and each line is scanned for any other personal number.
pub fn describe(value: &str, answer: &LookupAnswer, lang: Lang) -> Vec<String> {
    use crate::privacy::{mask_query, mask_text};
    let shown = crate::paths::for_line(&mask_query(&normalize(value)));
    if answer.matches.is_empty() {
        let targets = if answer.targets.is_empty() {
            lang.pick("（还没有）", "(none yet)").to_owned()
        } else {
            answer
                .targets
                .iter()
                .map(|t| format!("「{}」", crate::paths::for_line(t)))
                .collect::<Vec<_>>()
                .join("")
        };
        let line = match &answer.days {
            Some((first, last)) => lang.pick(
                format!(
                    "{shown}：没有记录。按证件号码、条码和姓名查了本程序处理过的所有导出表：目标{targets}，{first} 到 {last}。请确认城市系统的导出表里有这个人（或条码），导出后再上报。"
                ),
                format!(
                    "{shown}: no record. Searched every export this program handled by ID, barcode and name: targets {targets}, {first} to {last}. Check that the city system's export holds it."
                ),
            ),
            None => lang.pick(
                format!(
                    "{shown}：没有记录。本程序还没有为任何上报目标处理过导出表，所以查不到任何人。"
                ),
                format!("{shown}: no record. This program has not handled any export for a target yet."),
            ),
        };
        return vec![mask_text(&line)];
    }
    let mut lines = Vec::new();
    let people = answer.people();
    if people > 1 {
        lines.push(lang.pick(
            format!("{shown}：找到 {people} 个人，请按证件号码区分："),
            format!("{shown}: {people} people found, told apart by their ID:"),
        ));
    }
    let mut matches: Vec<&Sample> = answer.matches.iter().collect();
    matches.sort_by_key(|s| !s.positive_waiting());
    for s in matches {
        let mark = if s.positive {
            lang.pick("【阳性】", "[POSITIVE] ")
        } else {
            ""
        };
        let target = crate::paths::for_line(if s.target_name.is_empty() {
            &s.target
        } else {
            &s.target_name
        });
        let barcode = crate::paths::for_line(&s.barcode);
        let file = if s.file.is_empty() {
            lang.pick("（未记录）", "(not recorded)").to_owned()
        } else if s.row > 0 {
            lang.pick(
                format!("文件「{}」第 {} 行", crate::paths::for_line(&s.file), s.row),
                format!("{} row {}", crate::paths::for_line(&s.file), s.row),
            )
        } else {
            lang.pick(
                format!("文件「{}」", crate::paths::for_line(&s.file)),
                crate::paths::for_line(&s.file),
            )
        };
        let done = if s.state.is_on_platform() {
            "已上报"
        } else {
            "还没有上报完成"
        };
        lines.push(lang.pick(
            format!(
                "{mark}{} {}，{} 采样，条码 {barcode}，目标「{target}」，来自{file}：{done}，{}。{}。{}",
                s.name,
                s.id,
                s.day,
                s.state.zh(),
                s.reason(Lang::Zh),
                match s.state {
                    SampleState::Confirmed => "已上报，问题不在上报这一步：请让对方在省平台上查询。",
                    other => other.what_to_do(Lang::Zh),
                }
            ),
            format!(
                "{mark}{} {}, sampled {}, barcode {barcode}, target {target}, from {file}: {}. {}. {}",
                s.name,
                s.id,
                s.day,
                s.state.en(),
                s.reason(Lang::En),
                s.state.what_to_do(Lang::En)
            ),
        ));
    }
    lines.into_iter().map(|l| mask_text(&l)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_values_are_normalized() {
        assert_eq!(normalize(" 44010619900101123x "), "44010619900101123X");
        assert_eq!(
            normalize("４４０１０６１９９００１０１１２３Ｘ"),
            "44010619900101123X"
        );
        assert_eq!(normalize("t000 001"), "T000001");
        assert!(looks_like_id("44010619900101123X"));
        assert!(!looks_like_id("T0000000001"));
    }

    #[test]
    fn nothing_is_found_without_an_outbox() {
        let dir = tempfile::tempdir().unwrap();
        let found = find(dir.path(), "T1").unwrap();
        assert!(found.matches.is_empty());
        let text = describe("13812345678", &found, Lang::Zh);
        assert_eq!(text.len(), 1);
        assert!(
            text[0].starts_with("138****5678：没有记录。本程序还没有"),
            "{text:?}"
        );
    }
}
