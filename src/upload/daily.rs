//! The day's record (daily.md): one record per sample (barcode and person) of every export
//! handled for a target, with where its result is: checked, left out, queued, sent,
//! confirmed, refused, or uploaded by hand on the platform's website.
//!
//! It is a table of the outbox's database (`daily_samples`, made or added in the outbox's one
//! schema transaction: [`SCHEMA`], which the workspace gives `Outbox::open`), so a batch's state and the ledger are read in the same
//! query as the record: a sample in a batch is as far as its batch is, and a sample in the
//! ledger is confirmed, with no second copy of either to keep in step. What the record itself
//! keeps is what only the load knows: the check's verdict and first error, the clerk's
//! exclusion, the file and row, the batch a row went into, and a hand upload.
//!
//! No full ID, phone number or name is stored: the name and ID masked (`王*`,
//! `440106********1234`), SHA-256 of the full ID number and of the full name for lookup, and
//! the file and row where the full row is. Records older than [`KEEP_DAYS`] are removed.
// Over 600 lines: the record's writes (load, queue, hand upload), its one read (the same
// query for the day's account and the lookup) and the states' texts share the table's shape.

use crate::batch::{Batch, RowStatus};
use crate::issue::{Code, Lang};
use crate::upload::keyed::{self, Key};
use crate::upload::outbox::now_ms;
use crate::upload::target::Target;
use rusqlite::{Connection, params};
use std::collections::{BTreeSet, HashSet};

/// An error of the record's queries (the outbox maps it to `OutboxError`, naming the file).
pub(crate) type DbError = rusqlite::Error;

/// Records older than this many days are removed when the outbox opens.
pub const KEEP_DAYS: i64 = 90;

/// The table, added in place to a database of any earlier version (in the outbox's schema
/// transaction; nothing else of the database changes).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS daily_samples (
    target TEXT NOT NULL,
    target_ref TEXT NOT NULL,
    barcode TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_number_hash TEXT NOT NULL,
    name_hash TEXT NOT NULL,
    name_masked TEXT NOT NULL,
    id_masked TEXT NOT NULL,
    day TEXT NOT NULL,
    sampled TEXT NOT NULL,
    positive INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN
        ('ready','error','excluded','duplicate','queued','confirmed','manual')),
    reason TEXT,
    reason_en TEXT,
    file TEXT NOT NULL,
    path TEXT,
    row INTEGER NOT NULL,
    batch_id TEXT,
    since INTEGER NOT NULL,
    seen INTEGER NOT NULL,
    confirmed_at INTEGER,
    logged INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (target, barcode, id_hash)
);
CREATE INDEX IF NOT EXISTS daily_samples_day ON daily_samples(day);
CREATE INDEX IF NOT EXISTS daily_samples_number ON daily_samples(id_number_hash);
CREATE INDEX IF NOT EXISTS daily_samples_name ON daily_samples(name_hash);
CREATE INDEX IF NOT EXISTS daily_samples_barcode ON daily_samples(barcode);
CREATE INDEX IF NOT EXISTS daily_samples_batch ON daily_samples(batch_id);
";

/// Removes the records first made more than [`KEEP_DAYS`] ago (by the time the program first
/// handled the sample: an export of an old day handled today is kept).
pub(crate) fn prune(conn: &Connection) -> rusqlite::Result<usize> {
    let cutoff = now_ms() - KEEP_DAYS * 86_400_000;
    conn.execute("DELETE FROM daily_samples WHERE seen < ?1", params![cutoff])
}

pub use crate::rules::positive::is_positive_result;

/// Whether row `i` of `batch` is a positive result.
pub fn is_positive(batch: &Batch, i: usize) -> bool {
    batch
        .profile()
        .roles
        .result
        .is_some_and(|f| is_positive_result(batch.output_value(i, f)))
}

/// Where a sample is (daily.md's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SampleState {
    /// 有错误未上报: rejected by a check; the file waits for the clerk.
    Error,
    /// 平台拒绝: the platform refused its batch.
    Rejected,
    /// 需要确认: sent, the answer lost; a person decides.
    Waiting,
    /// 排队中: queued (or waiting for a retry).
    Queued,
    /// 发送中: being sent.
    Sending,
    /// 未上传: ready, converted, never queued.
    NotQueued,
    /// 不上报: the clerk left it out.
    Excluded,
    /// 重复: a repeat of a row that was sent.
    Duplicate,
    /// 已手工上报: uploaded by hand on the platform's website.
    Manual,
    /// 已确认: the platform confirmed it.
    Confirmed,
}

impl SampleState {
    /// Every state, in the order the account lists them (those needing a person first).
    pub const ALL: [SampleState; 10] = [
        SampleState::Error,
        SampleState::Rejected,
        SampleState::Waiting,
        SampleState::Queued,
        SampleState::Sending,
        SampleState::NotQueued,
        SampleState::Excluded,
        SampleState::Duplicate,
        SampleState::Manual,
        SampleState::Confirmed,
    ];

    /// The state's name for the clerk (daily.md).
    pub fn zh(self) -> &'static str {
        match self {
            SampleState::Error => "有错误未上报",
            SampleState::Rejected => "平台拒绝",
            SampleState::Waiting => "需要确认",
            SampleState::Queued => "排队中",
            SampleState::Sending => "发送中",
            SampleState::NotQueued => "未上传",
            SampleState::Excluded => "不上报",
            SampleState::Duplicate => "重复",
            SampleState::Manual => "已手工上报",
            SampleState::Confirmed => "已确认",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            SampleState::Error => "error, not uploaded",
            SampleState::Rejected => "refused by the platform",
            SampleState::Waiting => "needs confirming",
            SampleState::Queued => "queued",
            SampleState::Sending => "sending",
            SampleState::NotQueued => "not queued",
            SampleState::Excluded => "left out",
            SampleState::Duplicate => "duplicate",
            SampleState::Manual => "uploaded by hand",
            SampleState::Confirmed => "confirmed",
        }
    }

    pub fn name(self, lang: Lang) -> &'static str {
        lang.pick(self.zh(), self.en())
    }

    /// The count this state is shown under: 排队中 and 发送中 are one count (daily.md).
    pub fn group(self) -> SampleState {
        match self {
            SampleState::Sending => SampleState::Queued,
            s => s,
        }
    }

    /// The count's label: `排队中/发送中` for the two queued states.
    pub fn group_label(self, lang: Lang) -> &'static str {
        match self.group() {
            SampleState::Queued => lang.pick("排队中/发送中", "queued/sending"),
            s => s.name(lang),
        }
    }

    /// A person has to act: fix the row, or decide about a refused or unanswered batch.
    pub fn needs_person(self) -> bool {
        matches!(
            self,
            SampleState::Error | SampleState::Rejected | SampleState::Waiting
        )
    }

    /// Nothing more to do for the day's account: confirmed, uploaded by hand, left out, a
    /// duplicate.
    pub fn is_done(self) -> bool {
        matches!(
            self,
            SampleState::Confirmed
                | SampleState::Manual
                | SampleState::Excluded
                | SampleState::Duplicate
        )
    }

    /// Counts as on the platform (a positive so is no longer waiting).
    pub fn is_on_platform(self) -> bool {
        matches!(self, SampleState::Confirmed | SampleState::Manual)
    }

    /// What the clerk does (daily.md's last column).
    pub fn what_to_do(self, lang: Lang) -> &'static str {
        match self {
            SampleState::Confirmed | SampleState::Manual | SampleState::Duplicate => {
                lang.pick("不用处理", "nothing")
            }
            SampleState::Queued | SampleState::Sending => lang.pick(
                "会自动发送；如果很久还在排队，请检查 VPN 是否连上",
                "sent automatically; if it lasts, check the VPN",
            ),
            SampleState::Waiting => lang.pick(
                "请在省平台上核对是否已收到，然后在「上传队列」里选择重发或放弃",
                "check on the platform whether it arrived, then resend or forget the batch",
            ),
            SampleState::Rejected => lang.pick(
                "按省平台的提示改正后重新上报",
                "fix as the platform says and send again",
            ),
            SampleState::Error => lang.pick(
                "在窗口里打开这个文件，改正这一行后上报",
                "open the file in the window, fix the row and upload",
            ),
            SampleState::Excluded => lang.pick(
                "不用处理；如果是误操作，在窗口里取消「不上报」",
                "nothing, or undo the exclusion in the window",
            ),
            SampleState::NotQueued => lang.pick(
                "只转换了，还没有上报：请上报这个文件（窗口里「上传到省平台」或 sheetbridge upload）",
                "converted only: upload the file",
            ),
        }
    }
}

/// One sample as the record knows it, its state read with its batch and the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The target's reference (file stem or path).
    pub target: String,
    /// The target's name (its `name`, for the clerk).
    pub target_name: String,
    /// `YYYY-MM-DD`: the day sampled (or handled, when the sampling time is unusable).
    pub day: String,
    /// The sampling time as the upload sheet has it (empty when unknown).
    pub sampled: String,
    pub barcode: String,
    /// `王*`, `欧阳**`.
    pub name: String,
    /// `440106********1234`.
    pub id: String,
    pub positive: bool,
    pub state: SampleState,
    /// Why, in the words the record has (the first error; the platform's message), Chinese and
    /// English.
    pub detail: Option<(String, String)>,
    /// The name of the file that held it, and its row as Excel shows it.
    pub file: String,
    /// The file's full path when it was handled (for the window to open it).
    pub path: Option<String>,
    pub row: u32,
    pub batch: Option<String>,
    /// Unix ms: when it reached its present state (queued, left out, uploaded by hand...).
    pub since: i64,
    /// Unix ms: when the program first handled it.
    pub seen: i64,
    /// Unix ms: when the platform confirmed it.
    pub confirmed_at: Option<i64>,
}

/// Local `YYYY-MM-DD HH:MM` of unix milliseconds.
pub fn local_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "—".into())
}

impl Sample {
    /// The reason of its state, one line, masked (daily.md's "meaning" with the record's
    /// facts: the first error, the platform's message, since when, which batch).
    pub fn reason(&self, lang: Lang) -> String {
        let since = local_time(self.since);
        let batch = self.batch.as_deref().unwrap_or("—");
        let detail = self
            .detail
            .as_ref()
            .map(|(zh, en)| crate::paths::for_line(lang.pick(zh, en)));
        let d = detail.clone().unwrap_or_default();
        let text = match self.state {
            SampleState::Confirmed => {
                let at = self.confirmed_at.map_or_else(|| "—".into(), local_time);
                lang.pick(
                    format!("批次 {batch}，省平台 {at} 确认"),
                    format!("batch {batch}, confirmed {at}"),
                )
            }
            SampleState::Manual => lang.pick(
                format!("{since} 在省平台网站手工上报"),
                format!("uploaded by hand on the platform's website {since}"),
            ),
            SampleState::Queued | SampleState::Sending => {
                let last = detail.map_or_else(String::new, |d| {
                    lang.pick(format!("；最后一次：{d}"), format!("; last: {d}"))
                });
                lang.pick(
                    format!("{since} 起在上传队列里（批次 {batch}）{last}"),
                    format!("in the upload queue since {since} (batch {batch}){last}"),
                )
            }
            SampleState::Waiting => lang.pick(
                format!("已发送，但没有收到省平台的答复（批次 {batch}）：{d}"),
                format!("sent, the answer was lost (batch {batch}): {d}"),
            ),
            SampleState::Rejected => lang.pick(
                format!("省平台拒绝了批次 {batch}：{d}"),
                format!("the platform refused batch {batch}: {d}"),
            ),
            SampleState::Error => lang.pick(
                format!(
                    "文件「{}」第 {} 行有错误，在「需要处理」里：{}",
                    crate::paths::for_line(&self.file),
                    self.row,
                    d
                ),
                format!(
                    "{} row {} has an error (needs the clerk): {}",
                    crate::paths::for_line(&self.file),
                    self.row,
                    d
                ),
            ),
            SampleState::Excluded => lang.pick(
                format!("{since} 由操作员设为不上报"),
                format!("left out by the clerk ({since})"),
            ),
            SampleState::Duplicate => lang.pick(
                "与已经上报的一行重复".to_owned(),
                "a repeat of a row that was sent".to_owned(),
            ),
            SampleState::NotQueued => detail.unwrap_or_else(|| {
                lang.pick(
                    "已转换，但没有放进上传队列".to_owned(),
                    "converted, never queued".to_owned(),
                )
            }),
        };
        // One sentence without its full stop: callers put their own after it (no "。。").
        let text = text.trim_end_matches(['。', '.', ' ']);
        crate::privacy::mask_text(text)
    }

    /// Whether it is a positive the platform does not have yet.
    pub fn positive_waiting(&self) -> bool {
        self.positive && !self.state.is_on_platform()
    }
}

/// The day's account for one day (and one target, or all).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DayAccount {
    /// `YYYY-MM-DD`.
    pub date: String,
    /// The name of the target asked for, if one was (its samples are those of its identity).
    pub target: Option<String>,
    /// Every sample of the day: positives first, then those needing a person, then the rest;
    /// by file and row within each.
    pub samples: Vec<Sample>,
    /// By hour of the day (local): samples in the exports (by sampling time, else when
    /// handled), and samples confirmed (by confirmation time).
    pub hours: [(usize, usize); 24],
}

/// How the day stands, for an exit code (daily.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Every sample confirmed, uploaded by hand, left out or a duplicate.
    Done,
    /// Some still queued, sending or 未上传; none needs a person.
    Pending,
    /// Some need a person, or a positive is not confirmed.
    NeedsPerson,
}

impl DayAccount {
    /// How many samples are in `state` (排队中 and 发送中 counted together under
    /// `SampleState::Queued`).
    pub fn count(&self, state: SampleState) -> usize {
        let group = state.group();
        self.samples
            .iter()
            .filter(|s| s.state.group() == group)
            .count()
    }

    /// The counts per state in the account's order, 排队中 and 发送中 as one.
    pub fn counts(&self) -> Vec<(SampleState, usize)> {
        SampleState::ALL
            .iter()
            .filter(|s| **s != SampleState::Sending)
            .map(|&s| (s, self.count(s)))
            .collect()
    }

    /// The samples not confirmed nor uploaded by hand, in the account's order (positives
    /// first).
    pub fn open(&self) -> impl Iterator<Item = &Sample> {
        self.samples.iter().filter(|s| !s.state.is_on_platform())
    }

    /// Positives the platform does not have yet.
    pub fn positives_waiting(&self) -> usize {
        self.samples.iter().filter(|s| s.positive_waiting()).count()
    }

    pub fn verdict(&self) -> Verdict {
        if self.positives_waiting() > 0 || self.samples.iter().any(|s| s.state.needs_person()) {
            Verdict::NeedsPerson
        } else if self.samples.iter().all(|s| s.state.is_done()) {
            Verdict::Done
        } else {
            Verdict::Pending
        }
    }
}

/// What a lookup searched and found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LookupAnswer {
    /// Every sample of the ID, barcode or name, newest day first; people of one name each
    /// with their own masked ID.
    pub matches: Vec<Sample>,
    /// The targets the record holds (references).
    pub targets: Vec<String>,
    /// The first and last day the record covers, when it holds any.
    pub days: Option<(String, String)>,
}

impl LookupAnswer {
    /// How many different people the matches are (by masked ID and name).
    pub fn people(&self) -> usize {
        self.matches
            .iter()
            .map(|s| (&s.id, &s.name))
            .collect::<HashSet<_>>()
            .len()
    }
}

/// What one row of a load records.
struct RowFacts {
    barcode: String,
    id_hash: String,
    id_number_hash: String,
    name_hash: String,
    name_masked: String,
    id_masked: String,
    day: String,
    sampled: String,
    positive: bool,
}

fn field_index(batch: &Batch, key: &str) -> Option<usize> {
    batch.profile().fields.iter().position(|f| f.key == key)
}

/// The day of a sampling time (`YYYY-MM-DD...` or `YYYY/MM/DD...`), if it is one.
fn day_of(sampled: &str) -> Option<String> {
    let head: String = sampled.trim().chars().take(10).collect();
    let head = head.replace('/', "-");
    chrono::NaiveDate::parse_from_str(&head, "%Y-%m-%d")
        .ok()
        .map(|d| d.format("%Y-%m-%d").to_string())
}

fn facts(
    key: &Key,
    batch: &Batch,
    i: usize,
    name: Option<usize>,
    today: &str,
    file: &str,
) -> RowFacts {
    let roles = &batch.profile().roles;
    let number = roles
        .id_number
        .map_or("", |n| batch.output_value(i, n))
        .trim();
    let mut barcode = roles
        .barcode
        .map_or("", |b| batch.output_value(i, b))
        .to_owned();
    if barcode.is_empty() && number.is_empty() {
        // Neither key: the row is its own sample (its file and row).
        barcode = format!("{file}#{}", batch.line(i));
    }
    let full_name = name.map_or("", |n| batch.value(i, n)).trim();
    let sampled = roles
        .sampled_at
        .map_or("", |s| batch.output_value(i, s))
        .trim()
        .to_owned();
    RowFacts {
        barcode,
        id_hash: key.id_hash(&batch.person_id(i)),
        id_number_hash: key.id_number_hash(number),
        name_hash: key.name_hash(full_name),
        name_masked: crate::privacy::mask_name(full_name),
        id_masked: crate::privacy::mask_id(number),
        day: day_of(&sampled).unwrap_or_else(|| today.to_owned()),
        sampled: if day_of(&sampled).is_some() {
            sampled
        } else {
            String::new()
        },
        positive: is_positive(batch, i),
    }
}

/// The first error of a row, masked (no name, ID or phone in full), in both languages.
fn first_error(batch: &Batch, i: usize, full_name: &str) -> Option<(String, String)> {
    let issue = batch.issues(i).iter().find(|x| x.is_error())?;
    let hide = |text: String| {
        let text = crate::privacy::mask_numbers(&text);
        if full_name.chars().count() >= 2 {
            text.replace(full_name, &crate::privacy::mask_name(full_name))
        } else {
            text
        }
    };
    Some((
        hide(batch.message(i, issue, Lang::Zh)),
        hide(batch.message(i, issue, Lang::En)),
    ))
}

/// The rejected records of one target, read once per load (few, next to the rows of a file),
/// found by barcode, ID number and place, for closing those a row of the load fixes.
/// A rejected record: (barcode, id_hash, id_number_hash, path, row, day).
type StaleRecord = (String, String, String, String, i64, String);

struct Stale {
    /// `None` once closed.
    records: Vec<Option<StaleRecord>>,
    by_barcode: std::collections::HashMap<String, Vec<usize>>,
    by_number: std::collections::HashMap<String, Vec<usize>>,
    by_place: std::collections::HashMap<(String, i64), Vec<usize>>,
}

impl Stale {
    fn read(conn: &Connection, identity: &str) -> rusqlite::Result<Stale> {
        let mut st = conn.prepare(
            "SELECT barcode, id_hash, id_number_hash, COALESCE(path, ''), row, day
             FROM daily_samples WHERE target = ?1 AND state = 'error'",
        )?;
        let records: Vec<Option<StaleRecord>> = st
            .query_map(params![identity], |r| {
                Ok(Some((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                )))
            })?
            .collect::<Result<_, _>>()?;
        let mut stale = Stale {
            by_barcode: Default::default(),
            by_number: Default::default(),
            by_place: Default::default(),
            records: Vec::new(),
        };
        for (i, r) in records.iter().enumerate() {
            if let Some((barcode, _, number, path, row, _)) = r {
                stale.by_barcode.entry(barcode.clone()).or_default().push(i);
                stale.by_number.entry(number.clone()).or_default().push(i);
                stale
                    .by_place
                    .entry((path.clone(), *row))
                    .or_default()
                    .push(i);
            }
        }
        stale.records = records;
        Ok(stale)
    }

    fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The rejected records row `f` (at `path`, `row`) is the fixed version of, taken out:
    /// the one at this very row of this file, or one of another file of the same day sharing
    /// its barcode or (when the row has one) its ID number. Never the row's own record.
    fn fixed_by(
        &mut self,
        f: &RowFacts,
        path: &str,
        row: u32,
        has_number: bool,
    ) -> Vec<(String, String)> {
        let mut found: Vec<usize> = Vec::new();
        let place = (path.to_owned(), i64::from(row));
        found.extend(self.by_place.get(&place).into_iter().flatten());
        for i in self.by_barcode.get(&f.barcode).into_iter().flatten().chain(
            has_number
                .then(|| self.by_number.get(&f.id_number_hash))
                .flatten()
                .into_iter()
                .flatten(),
        ) {
            if let Some((_, _, _, p, _, day)) = &self.records[*i]
                && p != path
                && *day == f.day
            {
                found.push(*i);
            }
        }
        let mut out = Vec::new();
        for i in found {
            let own =
                matches!(&self.records[i], Some((b, h, ..)) if *b == f.barcode && *h == f.id_hash);
            if own {
                continue;
            }
            if let Some((barcode, id_hash, ..)) = self.records[i].take() {
                out.push((barcode, id_hash));
            }
        }
        out
    }
}

/// Records every row of `batch` (handled for `target`, from the file named `file`): a new
/// sample gets its state from the check; a known one moves on (a row fixed since, or newly
/// left out) unless it is in a batch, confirmed or uploaded by hand, whose state carries on.
/// A row repeated within the file is the same sample as its first row. One transaction.
pub(crate) fn record(conn: &Connection, target: &Target, batch: &Batch) -> rusqlite::Result<()> {
    let now = now_ms();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let file = crate::paths::file_name(&batch.source.path);
    let path = batch.source.path.to_string_lossy().into_owned();
    let name = field_index(batch, "name");
    let identity = target.identity();
    let key = keyed::of_writer(conn)?;
    let tx = crate::upload::db::begin(conn)?;
    {
        let mut upsert = tx.prepare(
            "INSERT INTO daily_samples (target, target_ref, barcode, id_hash, id_number_hash,
                 name_hash, name_masked, id_masked, day, sampled, positive, state, reason,
                 reason_en, file, path, row, since, seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
                 ?18, ?18)
             ON CONFLICT (target, barcode, id_hash) DO UPDATE SET
                 target_ref = excluded.target_ref, name_hash = excluded.name_hash,
                 name_masked = excluded.name_masked, id_masked = excluded.id_masked,
                 positive = excluded.positive, state = excluded.state,
                 reason = excluded.reason, reason_en = excluded.reason_en,
                 file = excluded.file, path = excluded.path, row = excluded.row,
                 since = CASE WHEN daily_samples.state = excluded.state
                     THEN daily_samples.since ELSE excluded.since END
             WHERE daily_samples.state NOT IN ('queued', 'confirmed', 'manual')
               AND excluded.state != 'duplicate'",
        )?;
        // A row fixed since it was rejected (in the window, or in the city system's next
        // export) is a new key (barcode and person): the record of its wrong version is
        // closed, so the day can come to 0. Its wrong version is a rejected record of the
        // same target that was at this very row of this file, or, from another file of the
        // same day, shared its barcode or its ID number. Only rejected records (never sent).
        let mut stale = Stale::read(&tx, &identity)?;
        let mut close = tx.prepare(
            "DELETE FROM daily_samples
             WHERE target = ?1 AND barcode = ?2 AND id_hash = ?3 AND state = 'error'",
        )?;
        let number = batch.profile().roles.id_number;
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for i in 0..batch.len() {
            let f = facts(&key, batch, i, name, &today, &file);
            if !seen.insert((f.barcode.clone(), f.id_hash.clone())) {
                continue;
            }
            if !stale.is_empty() {
                let has_number =
                    number.is_some_and(|n| !batch.output_value(i, n).trim().is_empty());
                for (barcode, id_hash) in stale.fixed_by(&f, &path, batch.line(i), has_number) {
                    close.execute(params![identity, barcode, id_hash])?;
                }
            }
            let full_name = name.map_or("", |n| batch.value(i, n)).trim();
            let (state, reason) = match batch.status(i) {
                RowStatus::Ready => ("ready", None),
                RowStatus::Rejected => ("error", first_error(batch, i, full_name)),
                RowStatus::Excluded => ("excluded", None),
                RowStatus::Duplicate => {
                    let before = batch
                        .issues(i)
                        .iter()
                        .any(|x| x.code == Code::AlreadyUploaded);
                    // Uploaded before: the batch or the ledger says where it is.
                    (
                        "duplicate",
                        before.then(|| ("已经上报过".into(), "uploaded before".into())),
                    )
                }
            };
            let (zh, en) = reason.unzip();
            upsert.execute(params![
                identity,
                target.reference,
                f.barcode,
                f.id_hash,
                f.id_number_hash,
                f.name_hash,
                f.name_masked,
                f.id_masked,
                f.day,
                f.sampled,
                f.positive as i64,
                state,
                zh,
                en,
                file,
                path,
                i64::from(batch.line(i)),
                now,
            ])?;
        }
    }
    tx.commit()
}

/// The rows of `batch` that went into batch `id` (queued now, or found queued before): their
/// samples follow that batch from now on.
pub(crate) fn queued(
    conn: &Connection,
    target: &Target,
    batch: &Batch,
    chunks: &[(String, Vec<usize>)],
) -> rusqlite::Result<()> {
    let now = now_ms();
    let file = crate::paths::file_name(&batch.source.path);
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let identity = target.identity();
    let key = keyed::of_writer(conn)?;
    let tx = crate::upload::db::begin(conn)?;
    {
        let mut st = tx.prepare(
            "UPDATE daily_samples SET state = 'queued', batch_id = ?4,
                 since = CASE WHEN batch_id IS ?4 THEN since ELSE ?5 END,
                 reason = NULL, reason_en = NULL
             WHERE target = ?1 AND barcode = ?2 AND id_hash = ?3
               AND state NOT IN ('confirmed', 'manual')",
        )?;
        for (id, rows) in chunks {
            for &i in rows {
                let f = facts(&key, batch, i, None, &today, &file);
                st.execute(params![identity, f.barcode, f.id_hash, id, now])?;
            }
        }
    }
    tx.commit()
}

/// The rows of an upload sheet the clerk uploaded by hand on the platform's website: their
/// samples become 已手工上报 (recorded first when new), and they go into the target's ledger
/// (batch `manual`), so they are `already_uploaded` from now on. Returns how many rows.
pub(crate) fn mark_manual(
    conn: &Connection,
    target: &Target,
    batch: &Batch,
    rows: &[usize],
) -> rusqlite::Result<usize> {
    let now = now_ms();
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    let file = crate::paths::file_name(&batch.source.path);
    let path = batch.source.path.to_string_lossy().into_owned();
    let name = field_index(batch, "name");
    let identity = target.identity();
    let key = keyed::of_writer(conn)?;
    let tx = crate::upload::db::begin(conn)?;
    {
        let mut sample = tx.prepare(
            "INSERT INTO daily_samples (target, target_ref, barcode, id_hash, id_number_hash,
                 name_hash, name_masked, id_masked, day, sampled, positive, state, file, path,
                 row, since, seen)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'manual', ?12, ?13, ?14, ?15,
                 ?15)
             ON CONFLICT (target, barcode, id_hash) DO UPDATE SET state = 'manual',
                 since = excluded.since, reason = NULL, reason_en = NULL
             WHERE daily_samples.state NOT IN ('confirmed', 'manual')",
        )?;
        let mut ledger = tx.prepare(
            "INSERT OR IGNORE INTO ledger
                 (target, barcode, id_hash, id_number_hash, batch_id, source, confirmed_at)
             VALUES (?1, ?2, ?3, ?4, 'manual', ?5, ?6)",
        )?;
        for &i in rows {
            let f = facts(&key, batch, i, name, &today, &file);
            sample.execute(params![
                identity,
                target.reference,
                f.barcode,
                f.id_hash,
                f.id_number_hash,
                f.name_hash,
                f.name_masked,
                f.id_masked,
                f.day,
                f.sampled,
                f.positive as i64,
                file,
                path,
                i64::from(batch.line(i)),
                now,
            ])?;
            ledger.execute(params![
                identity,
                f.barcode,
                f.id_hash,
                f.id_number_hash,
                file,
                now
            ])?;
        }
    }
    tx.commit()?;
    Ok(rows.len())
}

/// A positive the platform has confirmed since the last look (for the log and the history:
/// how long it took).
#[derive(Debug, Clone, PartialEq)]
pub struct PositiveConfirmed {
    pub target: String,
    pub barcode: String,
    /// Masked.
    pub name: String,
    pub batch: String,
    /// Unix ms: when first handled, and when confirmed.
    pub seen: i64,
    pub confirmed_at: i64,
}

/// Samples of a batch the platform has confirmed become 已确认 in the record (with the time);
/// the positives among them not told before are returned, once each.
pub(crate) fn settle_confirmed(conn: &Connection) -> rusqlite::Result<Vec<PositiveConfirmed>> {
    let tx = crate::upload::db::begin(conn)?;
    tx.execute(
        "UPDATE daily_samples SET state = 'confirmed',
             confirmed_at = (SELECT b.confirmed_at FROM batches b WHERE b.id = batch_id)
         WHERE state = 'queued' AND batch_id IN (SELECT id FROM batches WHERE state = 'confirmed')",
        [],
    )?;
    let found: Vec<PositiveConfirmed> = {
        let mut st = tx.prepare(
            "SELECT target_ref, barcode, name_masked, COALESCE(batch_id, ''), seen,
                    COALESCE(confirmed_at, 0)
             FROM daily_samples WHERE positive = 1 AND state = 'confirmed' AND logged = 0",
        )?;
        st.query_map([], |r| {
            Ok(PositiveConfirmed {
                target: r.get(0)?,
                barcode: r.get(1)?,
                name: r.get(2)?,
                batch: r.get(3)?,
                seen: r.get(4)?,
                confirmed_at: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?
    };
    tx.execute(
        "UPDATE daily_samples SET logged = 1
         WHERE positive = 1 AND state = 'confirmed' AND logged = 0",
        [],
    )?;
    tx.commit()?;
    Ok(found)
}

/// The outbox's positive batches among `ids` (those holding a positive sample).
pub(crate) fn positive_batches(conn: &Connection) -> rusqlite::Result<HashSet<String>> {
    let mut st = conn.prepare(
        "SELECT DISTINCT d.batch_id FROM daily_samples d JOIN batches b ON b.id = d.batch_id
         WHERE d.positive = 1 AND b.state = 'queued'",
    )?;
    st.query_map([], |r| r.get::<_, String>(0))?.collect()
}

/// The record's one read: samples, with their batch's state and the ledger's word.
const SELECT: &str = "
SELECT d.target_ref, d.day, d.sampled, d.barcode, d.name_masked, d.id_masked, d.positive,
       d.state, d.reason, d.reason_en, d.file, d.path, d.row, d.batch_id, d.since, d.seen,
       d.confirmed_at, b.state, b.last_error, b.created, b.confirmed_at,
       EXISTS (SELECT 1 FROM ledger l WHERE l.target IN (d.target, 'ref:' || d.target_ref)
               AND l.barcode = d.barcode AND l.id_hash = d.id_hash),
       (SELECT min(l.confirmed_at) FROM ledger l
        WHERE l.target IN (d.target, 'ref:' || d.target_ref)
          AND l.barcode = d.barcode AND l.id_hash = d.id_hash),
       d.target
FROM daily_samples d LEFT JOIN batches b ON b.id = d.batch_id";

fn sample(r: &rusqlite::Row<'_>) -> rusqlite::Result<Sample> {
    let stored: String = r.get(7)?;
    let reason: Option<String> = r.get(8)?;
    let reason_en: Option<String> = r.get(9)?;
    let batch: Option<String> = r.get(13)?;
    let since: i64 = r.get(14)?;
    let batch_state: Option<String> = r.get(17)?;
    let last_error: Option<String> = r.get(18)?;
    let batch_created: Option<i64> = r.get(19)?;
    let batch_confirmed: Option<i64> = r.get(20)?;
    let in_ledger: bool = r.get(21)?;
    let ledger_at: Option<i64> = r.get(22)?;
    let mut confirmed_at: Option<i64> = r.get(16)?;
    let both = |e: Option<String>| e.map(|e| (e.clone(), e));
    let (state, detail, since) = match (stored.as_str(), batch_state.as_deref()) {
        ("manual", _) => (SampleState::Manual, None, since),
        // A repeat of a row sent before the record knew it (uploaded by an earlier version).
        ("duplicate", None) if in_ledger => (SampleState::Duplicate, None, since),
        (_, Some("confirmed")) => {
            confirmed_at = confirmed_at.or(batch_confirmed).or(ledger_at);
            (SampleState::Confirmed, None, since)
        }
        _ if in_ledger || stored == "confirmed" => {
            confirmed_at = confirmed_at.or(ledger_at);
            (SampleState::Confirmed, None, since)
        }
        (_, Some(s)) => {
            let state = match s {
                "sending" => SampleState::Sending,
                "waiting" => SampleState::Waiting,
                "rejected" => SampleState::Rejected,
                _ => SampleState::Queued,
            };
            (state, both(last_error), batch_created.unwrap_or(since))
        }
        ("queued", None) => (
            // Its batch was given up (`outbox forget`): the rows were never confirmed.
            SampleState::NotQueued,
            Some((
                "它所在的批次已被放弃，没有上报：如果在省平台网站上已经看到这些数据，请用「已在省平台网站手工上报」（sheetbridge mark-uploaded）标记，不要再上报".into(),
                "its batch was given up, not uploaded: if the platform's website shows the rows, mark them uploaded (sheetbridge mark-uploaded) rather than upload again".into(),
            )),
            since,
        ),
        ("error", None) => (
            SampleState::Error,
            reason
                .zip(reason_en)
                .or_else(|| Some((String::new(), String::new()))),
            since,
        ),
        ("excluded", None) => (SampleState::Excluded, None, since),
        ("duplicate", None) => (SampleState::Duplicate, None, since),
        _ => (SampleState::NotQueued, None, since),
    };
    let identity: String = r.get(23)?;
    Ok(Sample {
        target: r.get(0)?,
        target_name: identity.split('\u{1f}').next().unwrap_or("").to_owned(),
        day: r.get(1)?,
        sampled: r.get(2)?,
        barcode: r.get(3)?,
        name: r.get(4)?,
        id: r.get(5)?,
        positive: r.get::<_, i64>(6)? != 0,
        state,
        detail,
        file: r.get(10)?,
        path: r.get(11)?,
        row: r.get::<_, i64>(12)? as u32,
        batch,
        since,
        seen: r.get(15)?,
        confirmed_at,
    })
}

/// The account's order: positives first, then those needing a person, then by state, file
/// and row.
fn order(samples: &mut [Sample]) {
    samples.sort_by(|a, b| {
        (
            !a.positive_waiting(),
            !a.state.needs_person(),
            a.state,
            &a.file,
            a.row,
        )
            .cmp(&(
                !b.positive_waiting(),
                !b.state.needs_person(),
                b.state,
                &b.file,
                b.row,
            ))
    });
}

/// The hour (0-23, local) of a sampling time `YYYY-MM-DD HH:MM...`.
fn hour_of(text: &str) -> Option<usize> {
    let t = text.trim();
    let h: usize = t.get(11..13)?.parse().ok()?;
    (h < 24).then_some(h)
}

fn hour_of_ms(ms: i64) -> Option<usize> {
    use chrono::Timelike;
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.with_timezone(&chrono::Local).hour() as usize)
}

/// The day's account of `date` (`YYYY-MM-DD`), of the target whose reference is `target`
/// (every target when `None`).
pub(crate) fn day_account(
    conn: &Connection,
    date: &str,
    target: Option<&Target>,
) -> rusqlite::Result<DayAccount> {
    // One target is its identity (target.md: name and base_url), however it was named when
    // its rows were handled (a file stem, a path, a copy of the file).
    let mut st = conn.prepare(&format!(
        "{SELECT} WHERE d.day = ?1 AND (?2 IS NULL OR d.target = ?2)"
    ))?;
    let mut samples: Vec<Sample> = st
        .query_map(params![date, target.map(Target::identity)], sample)?
        .collect::<Result<_, _>>()?;
    order(&mut samples);
    let mut hours = [(0usize, 0usize); 24];
    for s in &samples {
        if let Some(h) = hour_of(&s.sampled).or_else(|| hour_of_ms(s.seen)) {
            hours[h].0 += 1;
        }
        if s.state.is_on_platform()
            && let Some(h) = s.confirmed_at.or(Some(s.since)).and_then(hour_of_ms)
        {
            hours[h].1 += 1;
        }
    }
    Ok(DayAccount {
        date: date.to_owned(),
        target: target.map(|t| t.name.clone()),
        samples,
        hours,
    })
}

/// Positives first handled since `since` (unix ms), of any sampling day, that the platform
/// does not have yet: how many of each sampling day (the day `reconcile --date` lists them
/// under), oldest first.
pub(crate) fn positives_waiting_since(
    conn: &Connection,
    since: i64,
) -> rusqlite::Result<Vec<(String, usize)>> {
    let mut st = conn.prepare(&format!("{SELECT} WHERE d.positive = 1 AND d.seen >= ?1"))?;
    let samples: Vec<Sample> = st
        .query_map(params![since], sample)?
        .collect::<Result<_, _>>()?;
    let mut days: std::collections::BTreeMap<String, usize> = Default::default();
    for s in samples.iter().filter(|s| s.positive_waiting()) {
        *days.entry(s.day.clone()).or_default() += 1;
    }
    Ok(days.into_iter().collect())
}

/// What a lookup is given, made comparable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// As typed, trimmed; and with spaces and dashes removed, full-width made ASCII, upper case.
    pub typed: String,
    pub normalized: String,
}

impl Query {
    pub fn new(value: &str) -> Query {
        let normalized = value
            .chars()
            .filter_map(|c| {
                let c = match c {
                    '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                    c => c,
                };
                (!c.is_whitespace() && !matches!(c, '\u{3000}' | '-' | '‐' | '–' | '—' | '－'))
                    .then(|| c.to_ascii_uppercase())
            })
            .collect();
        Query {
            typed: value.trim().to_owned(),
            normalized,
        }
    }

    /// The ID numbers it may be, as the record keeps them: as typed, and a 15-digit legacy ID
    /// as the check upgraded it to 18 digits.
    pub fn numbers(&self) -> Vec<String> {
        let mut out = vec![self.normalized.clone()];
        out.extend(crate::rules::idcard::upgrade_15(&self.normalized));
        out
    }

    /// What the ledger is asked (its rows from before the record): barcode as typed and
    /// normalized, and each of [`Query::numbers`]. Nothing for an empty query.
    pub fn ledger_queries(&self) -> Vec<crate::upload::outbox::Lookup> {
        use crate::upload::outbox::Lookup;
        if self.normalized.is_empty() {
            return Vec::new();
        }
        let mut out = vec![
            Lookup::Barcode(self.typed.clone()),
            Lookup::Barcode(self.normalized.clone()),
        ];
        out.extend(self.numbers().into_iter().map(Lookup::IdNumber));
        out
    }
}

/// Every sample whose ID number (any spelling), barcode or name is `query`, newest day first,
/// with what the record covers (for "没有记录").
pub(crate) fn lookup(conn: &Connection, query: &Query) -> rusqlite::Result<LookupAnswer> {
    let key = keyed::of_reader(conn)?;
    let mut matches: Vec<Sample> = match (&key, query.normalized.is_empty()) {
        (Some(key), false) => {
            let numbers = query.numbers();
            let mut st = conn.prepare(&format!(
                "{SELECT} WHERE d.barcode IN (?1, ?2) OR d.id_number_hash IN (?3, ?5)
                     OR d.name_hash = ?4"
            ))?;
            st.query_map(
                params![
                    query.typed,
                    query.normalized,
                    key.id_number_hash(&numbers[0]),
                    key.name_hash(&query.typed),
                    key.id_number_hash(numbers.last().unwrap_or(&numbers[0])),
                ],
                sample,
            )?
            .collect::<Result<_, _>>()?
        }
        // No key: no record was ever written in this folder.
        _ => Vec::new(),
    };
    matches.sort_by(|a, b| {
        (std::cmp::Reverse(&a.day), &a.id, &a.target, a.since).cmp(&(
            std::cmp::Reverse(&b.day),
            &b.id,
            &b.target,
            b.since,
        ))
    });
    let targets: BTreeSet<String> = {
        let mut st = conn.prepare("SELECT DISTINCT target_ref FROM daily_samples")?;
        st.query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<_, _>>()?
    };
    let days: (Option<String>, Option<String>) =
        conn.query_row("SELECT min(day), max(day) FROM daily_samples", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok(LookupAnswer {
        matches,
        targets: targets.into_iter().collect(),
        days: days.0.zip(days.1),
    })
}

/// A row the ledger holds (confirmed, or uploaded by hand) that no record of `answer` covers:
/// confirmed before the record existed. Added as a confirmed sample with what the ledger knows
/// (no name or ID: the ledger keeps neither).
pub(crate) fn add_ledger_entry(answer: &mut LookupAnswer, e: crate::upload::outbox::LedgerEntry) {
    let target = e.target_name().to_owned();
    if answer.matches.iter().any(|s| {
        s.barcode == e.barcode && (s.target == target || s.batch.as_deref() == Some(&e.batch_id))
    }) {
        return;
    }
    let at = e.confirmed_at.unwrap_or(0);
    let day = chrono::DateTime::from_timestamp_millis(at)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d")
                .to_string()
        })
        .unwrap_or_default();
    answer.matches.push(Sample {
        target_name: target.clone(),
        target,
        day,
        sampled: String::new(),
        barcode: e.barcode,
        name: "—".into(),
        id: "—".into(),
        positive: false,
        state: if e.batch_id == "manual" {
            SampleState::Manual
        } else {
            SampleState::Confirmed
        },
        detail: None,
        file: e.source.unwrap_or_default(),
        path: None,
        row: 0,
        batch: (e.batch_id != "manual").then_some(e.batch_id),
        since: at,
        seen: at,
        confirmed_at: e.confirmed_at,
    });
}

/// The day's account read from the database in `data_dir` without changing it (the window's
/// start screen, while its sender thread owns the outbox); empty when there is no database or
/// it has no record yet.
pub fn read_day_account(
    data_dir: &std::path::Path,
    date: &str,
    target: Option<&Target>,
) -> Result<DayAccount, crate::upload::outbox::OutboxError> {
    read(data_dir, |conn| day_account(conn, date, target)).map(|a| {
        a.unwrap_or_else(|| DayAccount {
            date: date.to_owned(),
            target: target.map(|t| t.name.clone()),
            ..DayAccount::default()
        })
    })
}

/// A lookup on the database in `data_dir` without changing it (the window's lookup box);
/// the ledger's rows from before the record are added as [`add_ledger_entry`] says.
pub fn read_lookup(
    data_dir: &std::path::Path,
    value: &str,
) -> Result<LookupAnswer, crate::upload::outbox::OutboxError> {
    use crate::upload::outbox::read_lookup as ledger;
    let query = Query::new(value);
    let mut answer = read(data_dir, |conn| lookup(conn, &query))?.unwrap_or_default();
    for q in query.ledger_queries() {
        for e in ledger(data_dir, &q)? {
            add_ledger_entry(&mut answer, e);
        }
    }
    Ok(answer)
}

fn read<T>(
    data_dir: &std::path::Path,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> Result<Option<T>, crate::upload::outbox::OutboxError> {
    let db_path = data_dir.join("outbox.sqlite");
    if !db_path.is_file() {
        return Ok(None);
    }
    let err = |e: rusqlite::Error| crate::upload::outbox::OutboxError::Db {
        path: db_path.clone(),
        detail: e.to_string(),
    };
    let conn = crate::upload::db::open(&db_path, crate::upload::db::Access::Read).map_err(err)?;
    if !has_table(&conn).map_err(err)? {
        return Ok(None);
    }
    f(&conn).map(Some).map_err(err)
}

/// Refuses a path the account cannot be written to: a name not ending in `.xlsx`, or one of the
/// files the record lists (`handled`). [`write_account`] checks it; a front end may check it
/// before it prints anything.
pub fn refuse_account_path(
    path: &std::path::Path,
    handled: &[std::path::PathBuf],
) -> Result<(), crate::write::WriteError> {
    let xlsx = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("xlsx"));
    if !xlsx {
        return Err(crate::write::WriteError::XlsxOnly {
            path: path.to_owned(),
        });
    }
    crate::write::refuse_handled(handled.iter().map(|p| p.as_path()), path)
}

/// Writes the day's account as a workbook (`reconcile -o`, the scheduled run's
/// `对账/YYYY-MM-DD.xlsx`): a sheet of counts and a sheet of every sample (positives first), each
/// with its state, reason, what to do, and its file and row. Masked like the account; written
/// whole or not at all.
///
/// `handled`: the files the record lists ([`handled_files`]); the account is never written
/// over one of them, nor under a name that is not `.xlsx`.
pub fn write_account(
    account: &DayAccount,
    path: &std::path::Path,
    lang: Lang,
    handled: &[std::path::PathBuf],
) -> Result<(), crate::write::WriteError> {
    use crate::write::WriteError;
    use rust_xlsxwriter::{Format, Workbook};
    refuse_account_path(path, handled)?;
    crate::write::write_atomically(path, |file| {
        let err = |e: rust_xlsxwriter::XlsxError| WriteError::Xlsx {
            path: path.to_owned(),
            detail: e.to_string(),
        };
        let mut wb = Workbook::new();
        let bold = Format::new().set_bold();
        let red = Format::new().set_font_color("#C00000");
        let counts = wb.add_worksheet();
        counts.set_name(lang.pick("统计", "counts")).map_err(err)?;
        let head = [
            lang.pick("日期", "date"),
            &account.date,
            lang.pick("目标", "target"),
        ];
        for (c, h) in head.iter().enumerate() {
            counts.write_string(0, c as u16, *h).map_err(err)?;
        }
        counts
            .write_string(
                0,
                3,
                account
                    .target
                    .as_deref()
                    .unwrap_or(lang.pick("全部", "all")),
            )
            .map_err(err)?;
        counts
            .write_string_with_format(1, 0, lang.pick("状态", "state"), &bold)
            .map_err(err)?;
        counts
            .write_string_with_format(1, 1, lang.pick("样本数", "samples"), &bold)
            .map_err(err)?;
        let mut r = 2;
        for (state, n) in account.counts() {
            counts
                .write_string(r, 0, state.group_label(lang))
                .map_err(err)?;
            counts.write_number(r, 1, n as f64).map_err(err)?;
            r += 1;
        }
        counts
            .write_string(r, 0, lang.pick("合计", "total"))
            .map_err(err)?;
        counts
            .write_number(r, 1, account.samples.len() as f64)
            .map_err(err)?;
        counts
            .write_string(r + 1, 0, lang.pick("阳性未上报", "positives not confirmed"))
            .map_err(err)?;
        counts
            .write_number(r + 1, 1, account.positives_waiting() as f64)
            .map_err(err)?;
        counts.set_column_width(0, 18.0).map_err(err)?;
        let rows = wb.add_worksheet();
        rows.set_name(lang.pick("明细", "samples")).map_err(err)?;
        let header = [
            lang.pick("阳性", "positive"),
            lang.pick("状态", "state"),
            lang.pick("原因", "reason"),
            lang.pick("怎么办", "what to do"),
            lang.pick("姓名", "name"),
            lang.pick("证件号码", "ID"),
            lang.pick("条码", "barcode"),
            lang.pick("采样时间", "sampled"),
            lang.pick("目标", "target"),
            lang.pick("文件", "file"),
            lang.pick("行", "row"),
            lang.pick("批次", "batch"),
        ];
        for (c, h) in header.iter().enumerate() {
            rows.write_string_with_format(0, c as u16, *h, &bold)
                .map_err(err)?;
        }
        for (i, s) in account.samples.iter().enumerate() {
            let r = i as u32 + 1;
            let cells = [
                if s.positive {
                    lang.pick("阳性", "positive")
                } else {
                    ""
                }
                .to_owned(),
                s.state.name(lang).to_owned(),
                s.reason(lang),
                s.state.what_to_do(lang).to_owned(),
                s.name.clone(),
                s.id.clone(),
                s.barcode.clone(),
                s.sampled.clone(),
                s.target.clone(),
                s.file.clone(),
            ];
            for (c, v) in cells.iter().enumerate() {
                let v = crate::privacy::mask_text(v);
                if s.positive_waiting() {
                    rows.write_string_with_format(r, c as u16, v, &red)
                } else {
                    rows.write_string(r, c as u16, v)
                }
                .map_err(err)?;
            }
            rows.write_number(r, 10, f64::from(s.row)).map_err(err)?;
            rows.write_string(r, 11, s.batch.as_deref().unwrap_or(""))
                .map_err(err)?;
        }
        rows.set_column_width(2, 60.0).map_err(err)?;
        rows.set_column_width(3, 40.0).map_err(err)?;
        rows.set_column_width(9, 30.0).map_err(err)?;
        wb.save_to_writer(std::io::BufWriter::new(file))
            .map_err(err)?;
        Ok(())
    })
}

/// Every file the record lists (exports handled, sheets marked uploaded): no output is
/// written over one.
pub(crate) fn handled_files(conn: &Connection) -> rusqlite::Result<Vec<std::path::PathBuf>> {
    let mut st = conn.prepare("SELECT DISTINCT path FROM daily_samples WHERE path IS NOT NULL")?;
    st.query_map([], |r| r.get::<_, String>(0).map(std::path::PathBuf::from))?
        .collect()
}

/// Whether the database holds the record's table (an older one opened read-only does not).
pub(crate) fn has_table(conn: &Connection) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'daily_samples'",
        [],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_spelled_one_way() {
        let a = Query::new(" 4401 0619-9001 01123x ");
        let b = Query::new("４４０１０６１９９００１０１１２３Ｘ");
        assert_eq!(a.normalized, "44010619900101123X");
        assert_eq!(a.normalized, b.normalized);
    }

    #[test]
    fn the_day_of_a_sampling_time() {
        assert_eq!(day_of("2026-12-06 08:30:00").as_deref(), Some("2026-12-06"));
        assert_eq!(day_of("2026/12/06 08:30").as_deref(), Some("2026-12-06"));
        assert_eq!(day_of("昨天"), None);
        assert_eq!(hour_of("2026-12-06 08:30:00"), Some(8));
    }
}
