//! A checked batch: every data row with its values and problems, the edits a clerk makes, and
//! when the batch-wide rules (`src/batch/rules.rs`: pooled barcodes, conflicts, repeats,
//! earlier uploads) run again.
//!
//! Rows are stored compactly (one string per row) so a 1,000,000-row export fits in a few
//! hundred MiB. Editing a cell re-checks that row and the rows sharing its barcode or person,
//! without touching the source file.
// Over 600 lines: storage, status and editing of the rows share the compact row layout; the rules themselves are in src/batch/rules.rs.

pub mod foresight;
mod rules;

use crate::issue::{Code, Issue, Lang, Severity, Stage, full_message};
use crate::profile::Profile;
use crate::read::Cell;
use crate::source::{MergeFiller, SourceInfo};
use crate::validate::Checker;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

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

#[derive(Debug, Clone)]
struct Row {
    line: u32,
    /// The stored values of all fields, concatenated; `ends` in the batch slices it.
    text: Box<str>,
    extra: Option<Box<Extra>>,
    barcode_key: u64,
    person_key: u64,
    excluded: bool,
    edited: bool,
    /// Its values were stored again after it was read (a merged block filled, an edit).
    rewritten: bool,
}

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
    rows: Vec<Row>,
    /// `ends[row * nfields + f]`: end of field `f` in the row's text.
    ends: Vec<u32>,
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
            rows: Vec::new(),
            ends: Vec::new(),
        }
    }

    /// Checks a source row (its cells in template field order) and appends it: field and row
    /// stages; the batch checks come later ([`Batch::check_all`]).
    pub(crate) fn push_row(&mut self, line: u32, cells: Vec<Cell>) {
        let index = self.rows.len();
        self.rows.push(Row {
            line,
            text: Box::from(""),
            extra: None,
            barcode_key: 0,
            person_key: 0,
            excluded: false,
            edited: false,
            rewritten: false,
        });
        self.ends.resize(self.ends.len() + self.nfields, 0);
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
        let mut text = String::with_capacity(values.iter().map(String::len).sum());
        let base = index * self.nfields;
        for (fi, v) in values.iter().enumerate() {
            text.push_str(v);
            self.ends[base + fi] = text.len() as u32;
        }
        let row = &mut self.rows[index];
        row.rewritten |= !first;
        row.text = text.into_boxed_str();
        row.extra = (!issues.is_empty() || !outcome.derived.is_empty()).then(|| {
            Box::new(Extra {
                derived: outcome.derived,
                issues,
            })
        });
        self.sort_issues(index);
        self.update_keys(index);
    }

    /// Gives one field of a row a new source value and re-checks the row (not its neighbours).
    fn recheck_field(&mut self, index: usize, field: usize, cell: &Cell) {
        self.recheck_fields(index, &[(field, cell.clone())]);
    }

    /// Gives fields of a row new source values and re-checks the row (not its neighbours).
    fn recheck_fields(&mut self, index: usize, cells: &[(usize, Cell)]) {
        let mut values: Vec<String> = self
            .values_of(&self.rows[index], index)
            .into_iter()
            .map(str::to_owned)
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
            let fills = filler.row(self.rows[i].line - 1, |c| match field_of.get(&c) {
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
        self.rows.binary_search_by_key(&line, |r| r.line).ok()
    }

    fn values_of<'a>(&'a self, row: &'a Row, index: usize) -> Vec<&'a str> {
        let ends = &self.ends[index * self.nfields..(index + 1) * self.nfields];
        let mut start = 0usize;
        ends.iter()
            .map(|&e| {
                let v = &row.text[start..e as usize];
                start = e as usize;
                v
            })
            .collect()
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
        self.rows.is_empty()
    }

    /// The row number as Excel shows it.
    pub fn line(&self, index: usize) -> u32 {
        self.rows[index].line
    }

    /// The stored value of a field (what the clerk sees; the source text when invalid).
    pub fn value(&self, index: usize, field: usize) -> &str {
        let row = &self.rows[index];
        let base = index * self.nfields;
        let start = if field == 0 {
            0
        } else {
            self.ends[base + field - 1] as usize
        };
        &row.text[start..self.ends[base + field] as usize]
    }

    /// The value that goes into the upload sheet: derived values (sex, age, an upgraded ID)
    /// take the place of the stored ones.
    pub fn output_value(&self, index: usize, field: usize) -> &str {
        if let Some(extra) = &self.rows[index].extra
            && let Some((_, v)) = extra.derived.iter().find(|(f, _)| *f as usize == field)
        {
            return v;
        }
        self.value(index, field)
    }

    /// All problems of a row, in template column order.
    pub fn issues(&self, index: usize) -> &[Issue] {
        self.rows[index].extra.as_ref().map_or(&[], |e| &e.issues)
    }

    pub fn is_excluded(&self, index: usize) -> bool {
        self.rows[index].excluded
    }

    pub fn is_edited(&self, index: usize) -> bool {
        self.rows[index].edited
    }

    /// Whether a row's values were stored again after it was read and checked (a merged block
    /// filled it, the clerk's edit): what an early writer (`write::early`) took of it is stale.
    pub fn rewritten(&self, index: usize) -> bool {
        self.rows[index].rewritten
    }

    /// What happens to a row.
    pub fn status(&self, index: usize) -> RowStatus {
        let row = &self.rows[index];
        if row.excluded {
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
        self.rows.iter().enumerate().flat_map(|(index, row)| {
            row.extra.iter().flat_map(move |e| {
                e.issues.iter().map(move |issue| RowIssue {
                    index,
                    line: row.line,
                    issue,
                })
            })
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
            self.rows[index].line,
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
        let old_keys = (self.rows[index].barcode_key, self.rows[index].person_key);
        self.recheck_field(index, field, &Cell::Text(text.to_owned()));
        self.rows[index].edited = true;
        self.recheck_around(index, old_keys);
    }

    /// Leaves a row out of the upload (or takes it back) and re-checks its neighbours.
    pub fn set_excluded(&mut self, index: usize, excluded: bool) {
        let keys = (self.rows[index].barcode_key, self.rows[index].person_key);
        self.rows[index].excluded = excluded;
        self.recheck_around(index, keys);
    }

    fn recheck_around(&mut self, index: usize, old: (u64, u64)) {
        let new = (self.rows[index].barcode_key, self.rows[index].person_key);
        // The row may have left its groups: start it clean, then re-check every group it was
        // or is in (a group check skips excluded rows).
        self.clear_stage(index, Stage::Barcode);
        self.clear_stage(index, Stage::Person);
        for key in distinct_keys(old.0, new.0) {
            let group: Vec<usize> = (0..self.rows.len())
                .filter(|&i| self.rows[i].barcode_key == key)
                .collect();
            self.check_barcode_group(&group);
        }
        for key in distinct_keys(old.1, new.1) {
            let group: Vec<usize> = (0..self.rows.len())
                .filter(|&i| self.rows[i].person_key == key)
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
        let row = &mut self.rows[index];
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
        let mut by_barcode: Vec<(u64, u32)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.barcode_key != 0)
            .map(|(i, r)| (r.barcode_key, i as u32))
            .collect();
        by_barcode.sort_unstable();
        for group in by_barcode.chunk_by(|a, b| a.0 == b.0) {
            let idx: Vec<usize> = group.iter().map(|g| g.1 as usize).collect();
            self.check_barcode_group(&idx);
        }
        drop(by_barcode);
        let mut by_person: Vec<(u64, u32)> = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.person_key != 0)
            .map(|(i, r)| (r.person_key, i as u32))
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
        if let Some(extra) = &mut self.rows[index].extra {
            extra.issues.retain(|i| i.stage != stage);
        }
    }

    fn add_issue(&mut self, index: usize, issue: Issue) {
        let extra = self.rows[index].extra.get_or_insert_with(Default::default);
        extra.issues.push(issue);
        self.sort_issues(index);
    }

    fn sort_issues(&mut self, index: usize) {
        if let Some(extra) = &mut self.rows[index].extra {
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
    fn keys(&self, index: usize) -> (u64, u64) {
        (self.rows[index].barcode_key, self.rows[index].person_key)
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
fn distinct_keys(a: u64, b: u64) -> Vec<u64> {
    let mut keys: Vec<u64> = [a, b].into_iter().filter(|k| *k != 0).collect();
    keys.dedup();
    keys
}

fn hash1(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    // 0 means "no key".
    h.finish().max(1)
}
