//! A checked batch: every data row with its values and problems, the edits a clerk makes, and
//! when the batch-wide rules (`src/batch/rules.rs`: pooled barcodes, conflicts, repeats,
//! earlier uploads) run again.
//!
//! Rows are stored compactly (`src/batch/store.rs`: text pages, repeated values once, no
//! allocation per row) so a 1,000,000-row export fits in well under 200 MiB. Editing a cell re-checks that row and the rows sharing its barcode or person,
//! without touching the source file.
// Over 600 lines: status and editing of the rows share the row layout (values in src/batch/store.rs); the rules themselves are in src/batch/rules.rs; unit tests at the end.

pub mod foresight;
mod rules;
mod store;

use crate::issue::{Code, Issue, Lang, Severity, Stage, full_message};
use crate::profile::Profile;
use crate::read::Cell;
use crate::source::{MergeFiller, SourceInfo};
use crate::validate::Checker;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use store::{Chunked, Store};

/// Earlier uploads: has this person's result under this barcode been sent before?
pub trait Ledger: Send + Sync {
    /// `id_key` is `"<id type code>|<id number>"`; implementations store only a hash of it.
    fn contains(&self, barcode: &str, id_key: &str) -> bool;
}

/// The ledger read at load, and the rows confirmed since ([`Batch::confirmed`]).
struct ConfirmedSince {
    before: Option<Arc<dyn Ledger>>,
    keys: std::collections::HashSet<(String, String)>,
}

impl Ledger for ConfirmedSince {
    fn contains(&self, barcode: &str, id_key: &str) -> bool {
        self.keys.contains(&(barcode.to_owned(), id_key.to_owned()))
            || self
                .before
                .as_ref()
                .is_some_and(|l| l.contains(barcode, id_key))
    }
}

/// What happens to a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowStatus {
    /// Goes into the upload sheet (possibly with warnings).
    Ready,
    /// Has an error: left out, listed in the rejected rows.
    Rejected,
    /// A repeat (same person and barcode in this batch, or already uploaded): left out.
    Duplicate,
    /// Left out by the clerk.
    Excluded,
}

#[derive(Debug, Clone, Default)]
struct Extra {
    derived: Vec<(u16, Box<str>)>,
    issues: Vec<Issue>,
}

/// A row besides its values (those are in the batch's [`Store`]).
#[derive(Debug, Clone, Copy, Default)]
struct Row {
    /// Hashes of the barcode and the person's ID (0: none); rules group rows by these and
    /// then by the values themselves, so two values sharing a hash are told apart.
    barcode_key: u32,
    person_key: u32,
    line: u32,
    /// Its [`Extra`] (`Batch::extras[tag & EXTRA] - 1`; 0: none) and the flags below.
    tag: u32,
}

const EXTRA: u32 = (1 << 29) - 1;
const EXCLUDED: u32 = 1 << 29;
const EDITED: u32 = 1 << 30;
/// Its values were stored again after it was read (a merged block filled, an edit).
const REWRITTEN: u32 = 1 << 31;

/// Counts for the summary line and the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub total: usize,
    pub ready: usize,
    pub rejected: usize,
    pub duplicate: usize,
    pub excluded: usize,
    /// Ready rows that carry a warning.
    pub with_warnings: usize,
}

/// A loaded and checked batch.
pub struct Batch {
    pub source: SourceInfo,
    checker: Checker,
    ledger: Option<Arc<dyn Ledger>>,
    nfields: usize,
    rows: Chunked<Row>,
    values: Store,
    /// The rare rows' derived values and problems ([`Row::tag`]); `free` slots are reused.
    extras: Vec<Extra>,
    free: Vec<u32>,
}

/// A problem of one row, ready to show.
#[derive(Debug, Clone, PartialEq)]
pub struct RowIssue<'a> {
    /// Row index in the batch.
    pub index: usize,
    /// The row number as Excel shows it.
    pub line: u32,
    pub issue: &'a Issue,
}

impl Batch {
    pub(crate) fn new(
        source: SourceInfo,
        checker: Checker,
        ledger: Option<Arc<dyn Ledger>>,
    ) -> Batch {
        let nfields = checker.profile.fields.len();
        Batch {
            source,
            checker,
            ledger,
            nfields,
            rows: Chunked::new(1),
            values: Store::new(nfields),
            extras: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Checks a source row (its cells in template field order) and appends it: field and row
    /// stages; the batch checks come later ([`Batch::check_all`]).
    pub(crate) fn push_row(&mut self, line: u32, cells: Vec<Cell>) {
        let index = self.rows.len();
        self.rows.push(&[Row {
            line,
            ..Row::default()
        }]);
        let mut values = Vec::with_capacity(self.nfields);
        let mut issues = Vec::new();
        for (fi, cell) in cells.iter().enumerate() {
            let out = self.checker.field(fi, cell);
            values.push(out.value);
            issues.extend(out.issues);
        }
        self.store(index, values, issues, true);
    }

    /// Stores a row's field values and field-stage issues, then runs the row stage.
    ///
    /// `first`: the row's own first store (as read); later ones mark it [`Batch::rewritten`].
    fn store(&mut self, index: usize, values: Vec<String>, mut issues: Vec<Issue>, first: bool) {
        let mut ok = vec![true; self.nfields];
        for i in issues.iter().filter(|i| i.is_error()) {
            if let Some(f) = i.field {
                ok[f as usize] = false;
            }
        }
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let outcome = self.checker.row(&refs, &ok);
        issues.extend(outcome.issues);
        if index == self.values.len() {
            self.values.push(values);
        } else {
            self.values.set(index, &values);
        }
        if !first {
            self.row_mut(index).tag |= REWRITTEN;
        }
        let extra = (!issues.is_empty() || !outcome.derived.is_empty()).then_some(Extra {
            derived: outcome.derived,
            issues,
        });
        self.set_extra(index, extra);
        self.sort_issues(index);
        self.update_keys(index);
    }

    /// Gives one field of a row a new source value and re-checks the row (not its neighbours).
    fn recheck_field(&mut self, index: usize, field: usize, cell: &Cell) {
        self.recheck_fields(index, &[(field, cell.clone())]);
    }

    /// Gives fields of a row new source values and re-checks the row (not its neighbours).
    fn recheck_fields(&mut self, index: usize, cells: &[(usize, Cell)]) {
        let mut values: Vec<String> = (0..self.nfields)
            .map(|f| self.value(index, f).to_owned())
            .collect();
        // Keep the field-stage issues of the other fields (their source cells are not kept).
        let mut issues: Vec<Issue> = self
            .issues(index)
            .iter()
            .filter(|i| {
                i.stage == Stage::Field && !cells.iter().any(|(f, _)| i.field == Some(*f as u16))
            })
            .cloned()
            .collect();
        for (field, cell) in cells {
            let fresh = self.checker.field(*field, cell);
            values[*field] = fresh.value;
            issues.extend(fresh.issues);
        }
        self.store(index, values, issues, false);
    }

    /// Fills the vertically merged blocks of `source.merges` with the one [`MergeFiller`]:
    /// every row of a block takes the value its top row has in the same column, as Excel shows
    /// it. Run before [`Batch::check_all`].
    pub(crate) fn apply_merges(&mut self) {
        let mut filler = MergeFiller::new(&self.source.merges, self.source.header_row - 1);
        if filler.is_empty() {
            return;
        }
        // A source column feeds at most one field.
        let field_of: std::collections::HashMap<usize, usize> = self
            .source
            .columns
            .iter()
            .enumerate()
            .filter_map(|(f, c)| c.map(|c| (c, f)))
            .collect();
        for i in 0..self.rows.len() {
            let fills = filler.row(self.line(i) - 1, |c| match field_of.get(&c) {
                Some(&f) if !self.value(i, f).is_empty() => Cell::Text(self.value(i, f).to_owned()),
                _ => Cell::Empty,
            });
            let cells: Vec<(usize, Cell)> = fills
                .into_iter()
                .filter_map(|(c, v)| field_of.get(&c).map(|&f| (f, v)))
                .collect();
            if !cells.is_empty() {
                self.recheck_fields(i, &cells);
            }
        }
    }

    /// The index of the row with this Excel row number (rows are in source order).
    pub fn index_of_line(&self, line: u32) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.line(mid).cmp(&line) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    fn row(&self, index: usize) -> &Row {
        &self.rows.row(index)[0]
    }

    fn row_mut(&mut self, index: usize) -> &mut Row {
        &mut self.rows.row_mut(index)[0]
    }

    fn extra(&self, index: usize) -> Option<&Extra> {
        match self.row(index).tag & EXTRA {
            0 => None,
            n => Some(&self.extras[n as usize - 1]),
        }
    }

    fn extra_mut(&mut self, index: usize) -> Option<&mut Extra> {
        match self.row(index).tag & EXTRA {
            0 => None,
            n => Some(&mut self.extras[n as usize - 1]),
        }
    }

    /// Gives a row its extra (or none), reusing a free slot.
    fn set_extra(&mut self, index: usize, extra: Option<Extra>) {
        match (self.row(index).tag & EXTRA, extra) {
            (0, None) => {}
            (n, Some(e)) if n != 0 => self.extras[n as usize - 1] = e,
            (n, None) => {
                self.extras[n as usize - 1] = Extra::default();
                self.free.push(n);
                self.row_mut(index).tag &= !EXTRA;
            }
            (_, Some(e)) => {
                let n = match self.free.pop() {
                    Some(n) => {
                        self.extras[n as usize - 1] = e;
                        n
                    }
                    None => {
                        self.extras.push(e);
                        assert!(self.extras.len() <= EXTRA as usize, "too many rows");
                        self.extras.len() as u32
                    }
                };
                self.row_mut(index).tag |= n;
            }
        }
    }

    fn extra_or_insert(&mut self, index: usize) -> &mut Extra {
        if self.row(index).tag & EXTRA == 0 {
            self.set_extra(index, Some(Extra::default()));
        }
        let n = self.row(index).tag & EXTRA;
        &mut self.extras[n as usize - 1]
    }

    /// Takes the rows out (to send them to a worker thread), leaving an empty batch with the
    /// same source and profile; [`Batch::put_back`] returns them.
    pub fn take(&mut self) -> Batch {
        let empty = Batch::new(
            self.source.clone(),
            self.checker.clone(),
            self.ledger.clone(),
        );
        std::mem::replace(self, empty)
    }

    /// Puts rows taken with [`Batch::take`] back.
    pub fn put_back(&mut self, batch: Batch) {
        *self = batch;
    }

    /// The profile the rows were checked against.
    pub fn profile(&self) -> &Profile {
        &self.checker.profile
    }

    /// The checker of the rows (the profile and the context: now, the clerk's lab).
    pub fn checker(&self) -> &Checker {
        &self.checker
    }

    /// Number of data rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.len() == 0
    }

    /// The row number as Excel shows it.
    pub fn line(&self, index: usize) -> u32 {
        self.row(index).line
    }

    /// The stored value of a field (what the clerk sees; the source text when invalid).
    pub fn value(&self, index: usize, field: usize) -> &str {
        self.values.value(index, field)
    }

    /// The value that goes into the upload sheet: derived values (sex, age, an upgraded ID)
    /// take the place of the stored ones.
    pub fn output_value(&self, index: usize, field: usize) -> &str {
        if let Some(extra) = self.extra(index)
            && let Some((_, v)) = extra.derived.iter().find(|(f, _)| *f as usize == field)
        {
            return v;
        }
        self.value(index, field)
    }

    /// All problems of a row, in template column order.
    pub fn issues(&self, index: usize) -> &[Issue] {
        self.extra(index).map_or(&[], |e| &e.issues)
    }

    pub fn is_excluded(&self, index: usize) -> bool {
        self.row(index).tag & EXCLUDED != 0
    }

    pub fn is_edited(&self, index: usize) -> bool {
        self.row(index).tag & EDITED != 0
    }

    /// Whether a row's values were stored again after it was read and checked (a merged block
    /// filled it, the clerk's edit): what an early writer (`write::early`) took of it is stale.
    pub fn rewritten(&self, index: usize) -> bool {
        self.row(index).tag & REWRITTEN != 0
    }

    /// What happens to a row.
    pub fn status(&self, index: usize) -> RowStatus {
        if self.is_excluded(index) {
            return RowStatus::Excluded;
        }
        let issues = self.issues(index);
        if issues.iter().any(Issue::is_error) {
            RowStatus::Rejected
        } else if issues
            .iter()
            .any(|i| matches!(i.code, Code::DuplicateRow | Code::AlreadyUploaded))
        {
            RowStatus::Duplicate
        } else {
            RowStatus::Ready
        }
    }

    /// Counts by status.
    pub fn summary(&self) -> Summary {
        let mut s = Summary {
            total: self.rows.len(),
            ..Summary::default()
        };
        for i in 0..self.rows.len() {
            match self.status(i) {
                RowStatus::Ready => {
                    s.ready += 1;
                    if !self.issues(i).is_empty() {
                        s.with_warnings += 1;
                    }
                }
                RowStatus::Rejected => s.rejected += 1,
                RowStatus::Duplicate => s.duplicate += 1,
                RowStatus::Excluded => s.excluded += 1,
            }
        }
        s
    }

    /// Every problem of every row, sorted by row, then template column.
    pub fn all_issues(&self) -> impl Iterator<Item = RowIssue<'_>> {
        self.rows.iter().enumerate().flat_map(move |(index, row)| {
            let line = row[0].line;
            self.issues(index)
                .iter()
                .map(move |issue| RowIssue { index, line, issue })
        })
    }

    /// The source column header of a field (the template header when it had no column).
    pub fn column_header(&self, field: usize) -> &str {
        self.source
            .columns
            .get(field)
            .copied()
            .flatten()
            .and_then(|c| self.source.headers.get(c))
            .map(|h| h.trim())
            .filter(|h| !h.is_empty())
            .unwrap_or(&self.profile().fields[field].header)
    }

    /// The message body of an issue, in a language.
    pub fn message_body(&self, issue: &Issue, lang: Lang) -> String {
        let profile = &self.profile();
        let field = issue.field.map(|f| &profile.fields[f as usize]);
        let header = issue
            .field
            .map(|f| self.column_header(f as usize))
            .unwrap_or("");
        let custom = field.and_then(|f| {
            let zh = f.message.as_deref();
            lang.pick(zh, f.message_en.as_deref().or(zh))
        });
        let template = match custom {
            Some(t) if issue.code == field.map_or(Code::Custom, |f| f.code) => t,
            _ => issue.code.template(lang),
        };
        issue.render(template, header)
    }

    /// The full line: `第 57 行「证件号码」: ...`.
    pub fn message(&self, index: usize, issue: &Issue, lang: Lang) -> String {
        let header = issue.field.map(|f| self.column_header(f as usize));
        full_message(
            lang,
            self.line(index),
            header,
            &self.message_body(issue, lang),
        )
    }

    /// The stable code name of an issue (a user profile's own name for custom codes).
    pub fn code_name(&self, issue: &Issue) -> String {
        match issue.field {
            Some(f) => self.profile().fields[f as usize]
                .code_name(issue.code)
                .to_owned(),
            None => issue.code.as_str().to_owned(),
        }
    }

    // ---- Editing --------------------------------------------------------------------------

    /// Replaces a field's value with text typed by the clerk and re-checks the row and the
    /// rows that share its barcode or person. The source file is never changed.
    pub fn edit(&mut self, index: usize, field: usize, text: &str) {
        let old_keys = self.keys(index);
        self.recheck_field(index, field, &Cell::Text(text.to_owned()));
        self.row_mut(index).tag |= EDITED;
        self.recheck_around(index, old_keys);
    }

    /// Leaves a row out of the upload (or takes it back) and re-checks its neighbours.
    pub fn set_excluded(&mut self, index: usize, excluded: bool) {
        let keys = self.keys(index);
        let row = self.row_mut(index);
        row.tag = if excluded {
            row.tag | EXCLUDED
        } else {
            row.tag & !EXCLUDED
        };
        self.recheck_around(index, keys);
    }

    fn recheck_around(&mut self, index: usize, old: (u32, u32)) {
        let new = self.keys(index);
        // The row may have left its groups: start it clean, then re-check every group it was
        // or is in (a group check skips excluded rows).
        self.clear_stage(index, Stage::Barcode);
        self.clear_stage(index, Stage::Person);
        for key in distinct_keys(old.0, new.0) {
            let group: Vec<usize> = (0..self.rows.len())
                .filter(|&i| self.row(i).barcode_key == key)
                .collect();
            self.check_barcode_group(&group);
        }
        for key in distinct_keys(old.1, new.1) {
            let group: Vec<usize> = (0..self.rows.len())
                .filter(|&i| self.row(i).person_key == key)
                .collect();
            self.check_person_group(&group);
        }
        self.check_ledger(index);
    }

    // ---- Batch checks ---------------------------------------------------------------------

    fn update_keys(&mut self, index: usize) {
        let r = &self.profile().roles;
        let ok = |this: &Self, f: Option<usize>| f.is_some_and(|f| !this.field_failed(index, f));
        // A malformed barcode still groups its rows: the same person twice under it is a
        // repeat (`rules` decides which tube rules need a well-formed barcode).
        let barcode_key = match r.barcode {
            Some(b) if !self.value(index, b).is_empty() => hash1(self.output_value(index, b)),
            _ => 0,
        };
        let person_key = match r.id_number {
            Some(n) if ok(self, Some(n)) && !self.output_value(index, n).is_empty() => {
                hash1(&self.person_id(index))
            }
            _ => 0,
        };
        let row = self.row_mut(index);
        row.barcode_key = barcode_key;
        row.person_key = person_key;
    }

    /// `"<id type code>|<id number>"`, the person's key.
    pub fn person_id(&self, index: usize) -> String {
        let r = &self.profile().roles;
        let t = r
            .id_type
            .map(|t| self.output_value(index, t))
            .filter(|v| !v.is_empty())
            .unwrap_or("01");
        let n = r
            .id_number
            .map(|n| self.output_value(index, n))
            .unwrap_or("");
        format!("{t}|{n}")
    }

    /// Runs every batch-wide check over all rows (after loading).
    pub fn check_all(&mut self) {
        let mut by_barcode: Vec<(u32, u32)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r[0].barcode_key != 0)
            .map(|(i, r)| (r[0].barcode_key, i as u32))
            .collect();
        by_barcode.sort_unstable();
        for group in by_barcode.chunk_by(|a, b| a.0 == b.0) {
            let idx: Vec<usize> = group.iter().map(|g| g.1 as usize).collect();
            self.check_barcode_group(&idx);
        }
        drop(by_barcode);
        let mut by_person: Vec<(u32, u32)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r[0].person_key != 0)
            .map(|(i, r)| (r[0].person_key, i as u32))
            .collect();
        by_person.sort_unstable();
        for group in by_person.chunk_by(|a, b| a.0 == b.0) {
            if group.len() > 1 {
                let idx: Vec<usize> = group.iter().map(|g| g.1 as usize).collect();
                self.check_person_group(&idx);
            }
        }
        if self.ledger.is_some() {
            for i in 0..self.rows.len() {
                self.check_ledger(i);
            }
        }
    }

    fn clear_stage(&mut self, index: usize, stage: Stage) {
        if let Some(extra) = self.extra_mut(index) {
            extra.issues.retain(|i| i.stage != stage);
        }
    }

    fn add_issue(&mut self, index: usize, issue: Issue) {
        self.extra_or_insert(index).issues.push(issue);
        self.sort_issues(index);
    }

    fn sort_issues(&mut self, index: usize) {
        if let Some(extra) = self.extra_mut(index) {
            extra
                .issues
                .sort_by_key(|i| (i.field.unwrap_or(u16::MAX), std::cmp::Reverse(i.severity)));
        }
    }

    /// Rows sharing one barcode key (hash): the rules of `rules::barcode_group`.
    fn check_barcode_group(&mut self, group: &[usize]) {
        for &i in group {
            self.clear_stage(i, Stage::Barcode);
        }
        for (i, issue) in rules::barcode_group(self, group) {
            self.add_issue(i, issue);
        }
    }

    /// The row's barcode and person keys (hashes; 0 when it has none that is valid).
    fn keys(&self, index: usize) -> (u32, u32) {
        let row = self.row(index);
        (row.barcode_key, row.person_key)
    }

    /// Whether a row has an error found by checking it alone (field or row stage).
    fn has_own_error(&self, index: usize) -> bool {
        self.issues(index)
            .iter()
            .any(|i| i.is_error() && matches!(i.stage, Stage::Field | Stage::Row))
    }

    /// Whether a field of a row has an error of its own (field stage).
    fn field_failed(&self, index: usize, field: usize) -> bool {
        self.issues(index)
            .iter()
            .any(|i| i.is_error() && i.stage == Stage::Field && i.field == Some(field as u16))
    }

    /// Rows of one person: the rules of `rules::person_group`.
    fn check_person_group(&mut self, group: &[usize]) {
        for &i in group {
            self.clear_stage(i, Stage::Person);
        }
        for (i, issue) in rules::person_group(self, group) {
            self.add_issue(i, issue);
        }
    }

    fn check_ledger(&mut self, index: usize) {
        let Some(ledger) = self.ledger.clone() else {
            return;
        };
        self.clear_stage(index, Stage::Ledger);
        if let Some(issue) = rules::already_uploaded(self, index, ledger.as_ref()) {
            self.add_issue(index, issue);
        }
    }

    /// What the ledger would know of a row once the platform confirms it: (barcode as sent, the
    /// person's ID key); `None` for a row that cannot be uploaded.
    pub fn ledger_key(&self, index: usize) -> Option<(String, String)> {
        let bf = self.profile().roles.barcode?;
        (self.status(index) == RowStatus::Ready).then(|| {
            (
                self.output_value(index, bf).to_owned(),
                self.person_id(index),
            )
        })
    }

    /// Rows the platform confirmed after the batch was checked (keys from
    /// [`Batch::ledger_key`]): they join the ledger read at load, and every row is checked
    /// against it again, so those rows read as uploaded (not ready) at once, as they would on
    /// opening the file again.
    pub fn confirmed(&mut self, keys: Vec<(String, String)>) {
        if keys.is_empty() {
            return;
        }
        let ledger = ConfirmedSince {
            before: self.ledger.take(),
            keys: keys.into_iter().collect(),
        };
        self.ledger = Some(Arc::new(ledger));
        for i in 0..self.rows.len() {
            self.check_ledger(i);
        }
    }

    /// Indices of the rows with a status.
    pub fn rows_with(&self, status: RowStatus) -> impl Iterator<Item = usize> + '_ {
        (0..self.rows.len()).filter(move |&i| self.status(i) == status)
    }

    /// The worst severity among a row's problems with one field.
    pub fn field_severity(&self, index: usize, field: usize) -> Option<Severity> {
        self.issues(index)
            .iter()
            .filter(|i| i.field == Some(field as u16))
            .map(|i| i.severity)
            .max()
    }
}

/// The non-zero keys among `a` and `b`, each once.
fn distinct_keys(a: u32, b: u32) -> Vec<u32> {
    let mut keys: Vec<u32> = [a, b].into_iter().filter(|k| *k != 0).collect();
    keys.dedup();
    keys
}

fn hash1(s: &str) -> u32 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    let h = h.finish();
    // 0 means "no key".
    ((h ^ (h >> 32)) as u32).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::Context;

    fn resident_id(i: usize) -> String {
        let body = format!(
            "44010619{:02}0{}{:02}{:03}",
            50 + i % 40,
            1 + i % 9,
            10 + i % 18,
            i % 1000
        );
        const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
        let sum: u32 = body
            .bytes()
            .zip(W)
            .map(|(b, w)| u32::from(b - b'0') * w)
            .sum();
        format!("{body}{}", &"10X98765432"[(sum % 11) as usize..][..1])
    }

    /// A row like the city's export: 14 fields, about 220 bytes.
    fn cells(i: usize) -> Vec<Cell> {
        let id = resident_id(i);
        let male = (id.as_bytes()[16] - b'0') % 2 == 1;
        let t = |s: String| Cell::Text(s);
        vec![
            t(format!(
                "张{}",
                ["洁", "嘉", "锋", "茜露"][i % 4].repeat(1 + i % 2)
            )),
            t("居民身份证".into()),
            t(id),
            t(if male { "男" } else { "女" }.into()),
            t(format!("{}", 72 - i % 40)),
            t(format!("13{:09}", i * 7919 % 1_000_000_000)),
            t(format!("2022-01-10 07:{:02}:{:02}", i / 60 % 60, i % 60)),
            t(format!("2022-01-10 14:{:02}:{:02}", i / 60 % 60, i % 60)),
            t("阴性".into()),
            t(format!("44010500{:08}", i / 10)),
            t(format!(
                "{}街道社区核酸采样点",
                ["小谷围", "大沙", "嘉禾"][i / 10 % 3]
            )),
            t(["广州金域医学检验中心有限公司", "南方医科大学南方医院"][i / 10 % 2].into()),
            t("社区居民".into()),
            t(format!(
                "广东省广州市花都区秀全街道体育西路{}号侨林新村{}栋{}房",
                i % 97,
                i % 31,
                i
            )),
        ]
    }

    fn batch(rows: usize) -> Batch {
        let profile = Arc::new(Profile::builtin("cdc-nat").unwrap());
        let n = profile.fields.len();
        let source = SourceInfo {
            path: "test.xlsx".into(),
            sheet: "Sheet1".into(),
            header_row: 1,
            headers: profile.fields.iter().map(|f| f.header.clone()).collect(),
            columns: (0..n).map(Some).collect(),
            unused: Vec::new(),
            auto_chosen: false,
            merges: Vec::new(),
        };
        let ctx = Context {
            now: chrono::NaiveDate::from_ymd_opt(2022, 1, 11)
                .unwrap()
                .and_hms_opt(8, 0, 0)
                .unwrap(),
            lab: None,
            date_1904: false,
        };
        let mut b = Batch::new(source, Checker::new(profile, ctx), None);
        assert_eq!(b.nfields, 14);
        for i in 0..rows {
            b.push_row(i as u32 + 2, cells(i));
        }
        b.check_all();
        b
    }

    fn all_values(b: &Batch) -> Vec<Vec<String>> {
        (0..b.len())
            .map(|i| (0..b.nfields).map(|f| b.value(i, f).to_owned()).collect())
            .collect()
    }

    #[test]
    fn edits_that_grow_long_cells_and_many_edits_read_back() {
        let mut b = batch(3000);
        assert_eq!(b.summary().ready, 3000, "{:?}", b.all_issues().next());
        let mut want = all_values(&b);
        assert!(!(0..b.len()).any(|i| b.rewritten(i) || b.is_edited(i)));
        let address = b.profile().field_index("address").unwrap();
        let name = b.profile().field_index("name").unwrap();
        // Longer than the row had, then a cell over 64 KiB, then short again.
        let grown = "广州市天河区".repeat(40);
        let long = "长".repeat(30_000);
        for (i, text) in [(5, &grown), (6, &long), (7, &long), (7, &grown)] {
            b.edit(i, address, text);
            want[i][address] = text.clone();
        }
        // Many edits, every field of a few rows and one field of many.
        for k in 0..2000usize {
            let i = (k * 7919) % b.len();
            let f = if k % 3 == 0 { name } else { address };
            let text = format!("改{k}{}", "号".repeat(k % 50));
            b.edit(i, f, &text);
            want[i][f] = text;
        }
        b.set_excluded(9, true);
        for (i, (got, want)) in all_values(&b).iter().zip(&want).enumerate() {
            for f in 0..b.nfields {
                let short = |s: &str| s.chars().take(40).collect::<String>();
                assert!(
                    got[f] == want[f],
                    "row {i} field {f}: {} != {}",
                    short(&got[f]),
                    short(&want[f])
                );
            }
        }
        for i in 0..b.len() {
            let touched = [5, 6, 7].contains(&i) || (0..2000).any(|k| (k * 7919) % 3000 == i);
            assert_eq!(b.rewritten(i), touched, "row {i}");
            assert_eq!(b.is_edited(i), touched, "row {i}");
            assert_eq!(b.line(i), i as u32 + 2);
            assert_eq!(b.index_of_line(i as u32 + 2), Some(i));
        }
        assert_eq!(b.status(9), RowStatus::Excluded);
        b.set_excluded(9, false);
        assert_ne!(b.status(9), RowStatus::Excluded);
        assert_eq!(b.value(6, address), long);
        assert_eq!(b.index_of_line(1), None);
        assert_eq!(b.index_of_line(3002), None);
    }

    #[test]
    fn a_row_stays_small() {
        let rows = 100_000;
        let b = batch(rows);
        let extras = b.extras.len() * (size_of::<Extra>() + 64);
        let bytes = b.values.bytes() + rows * size_of::<Row>() + extras;
        let per_row = bytes / rows;
        eprintln!(
            "{} values, {} rows, {} extras: {per_row} bytes per row",
            b.values.bytes() / rows,
            size_of::<Row>(),
            b.extras.len()
        );
        assert!(per_row < 225, "{per_row} bytes per row");
    }

    /// How a real export is stored, field by field (`STORE_FILE=<xlsx> cargo test --lib
    /// store_stats -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn store_stats_of_the_file_in_store_file() {
        let path = std::env::var("STORE_FILE").unwrap();
        let b = crate::pipeline::load(
            std::path::Path::new(&path),
            &crate::profile::Profiles::load(None),
            &crate::pipeline::Options::default(),
            &(),
        )
        .unwrap();
        b.values.stats();
        eprintln!("extras {} rows {}", b.extras.len(), b.len());
    }
}
