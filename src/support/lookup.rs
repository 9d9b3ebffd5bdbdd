//! "Was this person's result uploaded?" (`sheetbridge lookup VALUE`, "查询上报记录"): answers
//! from the outbox and its ledger by ID number (any type) or barcode, without storing any ID
//! number: the value typed is hashed the way the ledger hashes, once per document type.

use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::upload::outbox;
use rusqlite::params_from_iter;
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

/// One batch that holds the person or the barcode.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub batch: String,
    /// The target's reference (file stem or path); empty when only the ledger knows the row.
    pub target: String,
    /// `queued`, `sending`, `confirmed`, `rejected`, `waiting`; `confirmed` for a ledger row
    /// whose batch is gone.
    pub state: String,
    /// Unix milliseconds.
    pub queued_at: Option<i64>,
    pub confirmed_at: Option<i64>,
    /// The file the rows came from, when the outbox recorded it.
    pub source_file: Option<String>,
    pub last_error: Option<String>,
}

impl Record {
    pub fn confirmed(&self) -> bool {
        self.state == "confirmed"
    }
}

/// Finds `value` as a barcode or as an ID number (any type) in the data folder `data`: the
/// confirmed rows from the ledger ([`outbox::read_lookup`]), and the batches still in the
/// outbox that hold it (their state). A missing database holds nothing. Confirmed first,
/// newest first.
pub fn find(data: &Path, value: &str) -> Result<Vec<Record>, LookupError> {
    let typed = value.trim();
    let norm = normalize(value);
    if norm.is_empty() {
        return Ok(Vec::new());
    }
    let mut barcodes = vec![norm.clone()];
    if typed != norm {
        barcodes.push(typed.to_owned());
    }
    let mut queries: Vec<outbox::Lookup> = barcodes
        .iter()
        .map(|b| outbox::Lookup::Barcode(b.clone()))
        .collect();
    queries.push(outbox::Lookup::IdNumber(norm.clone()));
    let mut out: Vec<Record> = Vec::new();
    for q in &queries {
        let entries = outbox::read_lookup(data, q).map_err(|e| LookupError::Db {
            path: data.join("outbox.sqlite"),
            detail: e.english(),
        })?;
        for e in entries {
            if out.iter().any(|r| r.batch == e.batch_id) {
                continue;
            }
            out.push(Record {
                target: e.target_name().to_owned(),
                batch: e.batch_id,
                state: "confirmed".into(),
                queued_at: None,
                confirmed_at: e.confirmed_at,
                source_file: e.source,
                last_error: None,
            });
        }
    }
    for r in in_outbox(data, &barcodes, &norm)? {
        if !out.iter().any(|o| o.batch == r.batch) {
            out.push(r);
        }
    }
    out.sort_by_key(|r| {
        (
            !r.confirmed(),
            std::cmp::Reverse(r.confirmed_at.or(r.queued_at)),
        )
    });
    Ok(out)
}

/// Batches not confirmed yet that hold one of `barcodes` or the ID number `number` (through
/// its hash), read without changing anything. Outboxes of an older schema (migrated by the
/// next program that writes) answer nothing here.
fn in_outbox(data: &Path, barcodes: &[String], number: &str) -> Result<Vec<Record>, LookupError> {
    let db = data.join("outbox.sqlite");
    if !db.is_file() {
        return Ok(Vec::new());
    }
    let err = |e: rusqlite::Error| LookupError::Db {
        path: db.clone(),
        detail: e.to_string(),
    };
    let conn = crate::upload::db::open(&db, crate::upload::db::Access::Read).map_err(err)?;
    let version: u32 =
        crate::upload::db::retry(|| conn.pragma_query_value(None, "user_version", |r| r.get(0)))
            .map_err(err)?;
    if version != outbox::SCHEMA_VERSION {
        return Ok(Vec::new());
    }
    let mut keys: Vec<String> = barcodes.to_vec();
    keys.push(outbox::id_number_hash(number));
    let marks = (1..=barcodes.len())
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(",");
    let sql = format!(
        "SELECT b.id, b.target, b.state, b.created, b.source, b.last_error FROM batches b
         WHERE b.state != 'confirmed' AND b.id IN (
             SELECT batch_id FROM batch_rows
             WHERE barcode IN ({marks}) OR id_number_hash = ?{})",
        barcodes.len() + 1
    );
    let mut st = conn.prepare(&sql).map_err(err)?;
    st.query_map(params_from_iter(keys.iter()), |r| {
        Ok(Record {
            batch: r.get(0)?,
            target: r.get(1)?,
            state: r.get(2)?,
            queued_at: r.get(3)?,
            confirmed_at: None,
            source_file: r.get(4)?,
            last_error: r.get(5)?,
        })
    })
    .map_err(err)?
    .collect::<Result<_, _>>()
    .map_err(err)
}

fn when(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "—".into())
}

/// What to say for `value` and its records, one line per batch; "没有上报记录" when none.
///
/// The value is shown masked as a document number whatever its shape (it may be a 台胞证's 8
/// digits or a passport of any shape: only the clerk knows), and each line is scanned for any
/// other personal number (a file name, the platform's last message).
pub fn describe(value: &str, records: &[Record], lang: Lang) -> Vec<String> {
    use crate::privacy::{mask_query, mask_text};
    let shown = crate::paths::for_line(&mask_query(&normalize(value)));
    if records.is_empty() {
        return vec![mask_text(&lang.pick(
            format!("{shown}：没有上报记录。这个人（或条码）没有通过本程序上报过。"),
            format!("{shown}: no upload record."),
        ))];
    }
    records
        .iter()
        .map(|r| {
            let source = r.source_file.as_deref().map_or_else(
                || lang.pick("（未记录）", "(not recorded)").into(),
                crate::paths::for_line,
            );
            let target = if r.target.is_empty() {
                "—".to_owned()
            } else {
                crate::paths::for_line(&r.target)
            };
            let batch = &r.batch;
            match r.state.as_str() {
                "confirmed" => {
                    let at = when(r.confirmed_at);
                    lang.pick(
                        format!(
                            "{shown}：已上报。{at} 由省平台确认，目标「{target}」，批次 {batch}，来自文件「{source}」。"
                        ),
                        format!(
                            "{shown}: uploaded, confirmed {at} by {target}, batch {batch}, from {source}."
                        ),
                    )
                }
                state => {
                    let at = when(r.queued_at);
                    let last = r.last_error.as_deref().map(crate::paths::for_line);
                    lang.pick(
                        format!(
                            "{shown}：还没有上报完成，在上传队列里，现在「{}」（批次 {batch}，目标「{target}」，{at} 放入队列，来自文件「{source}」）。{}",
                            state_zh(state),
                            last.map(|e| format!("最后一次：{e}")).unwrap_or_default()
                        ),
                        format!(
                            "{shown}: not uploaded yet, {state} in the upload queue (batch {batch}, {target}, queued {at}, from {source})."
                        ),
                    )
                }
            }
        })
        .map(|line| mask_text(&line))
        .collect()
}

fn state_zh(state: &str) -> &'static str {
    match state {
        "sending" => "发送中",
        "rejected" => "被拒绝",
        "waiting" => "待人工处理",
        "confirmed" => "已确认",
        _ => "排队中",
    }
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
        assert!(found.is_empty());
        let text = describe("13812345678", &found, Lang::Zh);
        assert_eq!(
            text,
            vec!["138****5678：没有上报记录。这个人（或条码）没有通过本程序上报过。"]
        );
    }
}
