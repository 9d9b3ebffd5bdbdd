//! Foreseeing, while a file is still being read, which rows will be ready once the batch is
//! whole: for an upload sheet written on the second core during the read (`write::early`).
//!
//! A row is decided [`LAG`] rows after it was read, by the batch's own rules
//! (`src/batch/rules.rs`) run over the rows of its barcode and of its person among the rows
//! around it (the `LAG` before and the `LAG` after), and the ledger. A pooled tube's rows and a
//! person's repeats stand together in an export, so the foresight is nearly always right; when
//! it is not (a barcode's rows far apart), the early sheet does not match the batch at the end
//! and is written again from it: the foresight decides speed, never what is written.

use super::{Batch, RowStatus, rules};
use crate::issue::{Code, Issue};
use crate::profile::Profile;
use std::collections::{HashMap, VecDeque};
use std::path::Path;

/// Takes the rows foreseen ready while a file is read (an upload sheet written early,
/// `write::early`), through `pipeline::Options::early`.
pub trait Early: Send + Sync {
    /// The batch's profile is known: whether rows are wanted.
    fn begin(&self, profile: &Profile, source: &Path) -> bool;
    /// Rows foreseen ready, in order.
    fn rows(&self, rows: Rows);
}

/// Rows foreseen ready, handed over together: their batch indices and their output values
/// (template field order), all in one string.
#[derive(Default)]
pub struct Rows {
    index: Vec<u32>,
    text: String,
    /// End of each value in `text`, `fields` per row.
    ends: Vec<u32>,
    fields: usize,
}

impl Rows {
    /// Adds the row at batch index `index` with its output values.
    pub fn push<'a>(&mut self, index: usize, values: impl Iterator<Item = &'a str>) {
        let mut n = 0;
        for v in values {
            self.text.push_str(v);
            self.ends.push(self.text.len() as u32);
            n += 1;
        }
        self.fields = n;
        self.index.push(index as u32);
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// The rows' batch indices, in order.
    pub fn indices(&self) -> &[u32] {
        &self.index
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The output values of the `k`th row.
    pub fn row(&self, k: usize) -> impl Iterator<Item = &str> {
        let ends = &self.ends[k * self.fields..(k + 1) * self.fields];
        let mut start = if k == 0 {
            0
        } else {
            self.ends[k * self.fields - 1] as usize
        };
        ends.iter().map(move |&end| {
            let v = &self.text[start..end as usize];
            start = end as usize;
            v
        })
    }
}

/// Rows read after a row before it is decided, and rows kept behind it for its groups.
pub const LAG: usize = 16_384;

/// A group larger than this among the rows around a row (one barcode on hundreds of rows): its
/// rows are foreseen as not ready, and the batch's rules decide at the end.
const MAX_GROUP: usize = 64;

/// The rows around the next undecided one, by barcode and by person. See the module.
#[derive(Default)]
pub struct Foresight {
    /// The next row to decide.
    next: usize,
    /// Rows read so far (entered in the groups).
    seen: usize,
    by_barcode: Groups,
    by_person: Groups,
}

/// Rows (batch indices, ascending) by key, for the rows in the window.
#[derive(Default)]
struct Groups {
    rows: HashMap<u32, VecDeque<u32>>,
    /// A group's rows that its rules found not ready, and the group's size when they ran: a
    /// pooled tube is judged once for all its rows.
    judged: HashMap<u32, (usize, Vec<u32>)>,
}

impl Groups {
    fn enter(&mut self, key: u32, index: usize) {
        if key != 0 {
            self.rows.entry(key).or_default().push_back(index as u32);
        }
    }

    /// Forgets row `index` (the oldest of its group in the window).
    fn leave(&mut self, key: u32, index: usize) {
        if key == 0 {
            return;
        }
        if let Some(rows) = self.rows.get_mut(&key) {
            if rows.front() == Some(&(index as u32)) {
                rows.pop_front();
            }
            if rows.is_empty() {
                self.rows.remove(&key);
                self.judged.remove(&key);
            }
        }
    }

    /// Whether row `index` comes out of its group's rules ready (`rules` gives the problems
    /// of the group's rows).
    fn ready(
        &mut self,
        key: u32,
        index: usize,
        rules: impl FnOnce(&[usize]) -> Vec<(usize, Issue)>,
    ) -> bool {
        let Some(rows) = self.rows.get(&key).filter(|_| key != 0) else {
            return true;
        };
        if rows.len() < 2 {
            return true;
        }
        if rows.len() > MAX_GROUP {
            return false;
        }
        let size = rows.len();
        let fresh = !matches!(self.judged.get(&key), Some((n, _)) if *n == size);
        if fresh {
            let group: Vec<usize> = rows.iter().map(|&r| r as usize).collect();
            let mut out: Vec<u32> = rules(&group)
                .into_iter()
                .filter(|(_, issue)| leaves_out(issue))
                .map(|(i, _)| i as u32)
                .collect();
            out.sort_unstable();
            out.dedup();
            self.judged.insert(key, (size, out));
        }
        let (_, out) = &self.judged[&key];
        out.binary_search(&(index as u32)).is_err()
    }
}

/// Whether an issue takes its row out of the upload sheet.
fn leaves_out(issue: &Issue) -> bool {
    issue.is_error() || matches!(issue.code, Code::DuplicateRow | Code::AlreadyUploaded)
}

impl Foresight {
    /// The batch has grown: decides the rows now `LAG` behind the newest and appends those
    /// foreseen ready to `ready`, in order.
    pub fn pushed(&mut self, batch: &Batch, ready: &mut Vec<usize>) {
        self.enter_new(batch);
        while self.next + LAG < self.seen {
            self.decide(batch, ready);
        }
    }

    /// The whole file is read: decides every row left.
    pub fn finish(&mut self, batch: &Batch, ready: &mut Vec<usize>) {
        self.enter_new(batch);
        while self.next < self.seen {
            self.decide(batch, ready);
        }
    }

    fn enter_new(&mut self, batch: &Batch) {
        while self.seen < batch.len() {
            let (b, p) = batch.keys(self.seen);
            self.by_barcode.enter(b, self.seen);
            self.by_person.enter(p, self.seen);
            self.seen += 1;
        }
    }

    fn decide(&mut self, batch: &Batch, ready: &mut Vec<usize>) {
        let i = self.next;
        let (b, p) = batch.keys(i);
        // A row has only its own problems until the batch rules run.
        let ok = batch.status(i) == RowStatus::Ready
            && self
                .by_barcode
                .ready(b, i, |g| rules::barcode_group(batch, g))
            && self
                .by_person
                .ready(p, i, |g| rules::person_group(batch, g))
            && batch
                .ledger
                .as_deref()
                .is_none_or(|l| rules::already_uploaded(batch, i, l).is_none());
        if ok {
            ready.push(i);
        }
        self.next += 1;
        // The row `LAG` behind this one leaves the window.
        if let Some(old) = i.checked_sub(LAG) {
            let (ob, op) = batch.keys(old);
            self.by_barcode.leave(ob, old);
            self.by_person.leave(op, old);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;
    use crate::read::Cell;
    use crate::source::SourceInfo;
    use crate::validate::{Checker, Context};
    use std::sync::Arc;

    /// The batch of these rows (ID, barcode, result), and the rows foreseen ready as they came.
    fn batch(rows: &[[&str; 3]]) -> (Batch, Vec<usize>) {
        let profile = Arc::new(Profiles::load(None).find("cdc-nat").unwrap());
        let ctx = Context {
            now: chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
                .unwrap()
                .and_hms_opt(12, 0, 0)
                .unwrap(),
            ..Context::default()
        };
        let mut b = Batch::new(
            SourceInfo {
                path: "export.xlsx".into(),
                sheet: "Sheet1".into(),
                header_row: 1,
                headers: Vec::new(),
                columns: (0..profile.fields.len()).map(Some).collect(),
                unused: Vec::new(),
                auto_chosen: true,
                merges: Vec::new(),
            },
            Checker::new(Arc::clone(&profile), ctx),
            None,
        );
        let field = |header: &str| {
            profile
                .fields
                .iter()
                .position(|f| f.header == header)
                .unwrap()
        };
        let mut foresight = Foresight::default();
        let mut foreseen = Vec::new();
        for (n, [id, barcode, result]) in rows.iter().enumerate() {
            let mut cells = vec![Cell::Empty; profile.fields.len()];
            for (h, v) in [
                ("姓名", "张三"),
                ("证件类型", "居民身份证"),
                ("证件号码", id),
                ("联系电话", "13800138000"),
                ("采样时间", "2026-12-05 08:00:00"),
                ("检测时间", "2026-12-05 12:00:00"),
                ("检测结果", result),
                ("样本编号", barcode),
                ("采样点", "一号采样点"),
                ("检测机构", "市第一人民医院"),
                ("人群分类", "社区人员"),
            ] {
                cells[field(h)] = Cell::Text(v.to_string());
            }
            b.push_row(n as u32 + 2, cells);
            foresight.pushed(&b, &mut foreseen);
        }
        foresight.finish(&b, &mut foreseen);
        (b, foreseen)
    }

    /// An ID with a right check digit, from a number.
    fn id(n: u32) -> String {
        let body = format!("11010119900101{:03}", n % 1000);
        let check = crate::rules::idcard::check_char(&body).unwrap();
        format!("{body}{check}")
    }

    fn ready_at_the_end(b: &mut Batch) -> Vec<usize> {
        b.check_all();
        b.rows_with(RowStatus::Ready).collect()
    }

    #[test]
    fn pooled_tubes_repeats_and_conflicts_are_foreseen_as_the_rules_decide() {
        let ids: Vec<String> = (0..40).map(id).collect();
        let mut rows: Vec<[&str; 3]> = Vec::new();
        // A pooled tube of 10 that agrees, one where one result differs, a person twice under
        // one barcode, a broken ID, a positive alone.
        for id in &ids[..10] {
            rows.push([id, "4401120000000001", "阴性"]);
        }
        for (k, id) in ids.iter().enumerate().take(20).skip(10) {
            let result = if k == 15 { "阳性" } else { "阴性" };
            rows.push([id, "4401120000000002", result]);
        }
        rows.push([&ids[20], "4401120000000003", "阴性"]);
        rows.push([&ids[20], "4401120000000003", "阴性"]);
        rows.push(["110101199001010000", "4401120000000004", "阴性"]);
        rows.push([&ids[21], "4401120000000005", "阳性"]);
        let (mut b, foreseen) = batch(&rows);
        assert_eq!(foreseen, ready_at_the_end(&mut b));
        assert_eq!(foreseen.len(), 10 + 1 + 1, "{foreseen:?}");
    }

    #[test]
    fn a_barcode_far_apart_is_missed_and_the_end_tells() {
        // The foresight sees LAG rows on each side: a conflict further apart is not foreseen,
        // and the early sheet's check at the end (write::early) catches it.
        let ids: Vec<String> = (0..3).map(id).collect();
        let mut rows: Vec<[&str; 3]> = vec![[&ids[0], "4401120000000001", "阴性"]];
        let filler: Vec<String> = (0..LAG as u32 + 5)
            .map(|n| format!("44011299{n:08}"))
            .collect();
        let filler_ids: Vec<String> = (0..LAG as u32 + 5).map(|n| id(100 + n % 800)).collect();
        for (code, pid) in filler.iter().zip(&filler_ids) {
            rows.push([pid, code, "阴性"]);
        }
        rows.push([&ids[1], "4401120000000001", "阳性"]);
        let (mut b, foreseen) = batch(&rows);
        let end = ready_at_the_end(&mut b);
        assert_ne!(foreseen, end);
        assert_eq!(foreseen[0], 0);
        assert!(!end.contains(&0));
    }
}
