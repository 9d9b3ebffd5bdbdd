//! Batch-wide rules, run after every row was checked alone (`src/validate.rs`): the rows of
//! one barcode (a pooled tube: its size, the same person twice, values that must agree), the
//! rows of one person (conflicting results), and earlier uploads. Each rule reads the batch and
//! returns the problems it finds; `Batch` stores them and re-runs a rule for the rows an edit
//! touches.

use super::{Batch, Ledger};
use crate::issue::{Code, Issue, Stage};

/// The rows (batch indices) among `group` that have a barcode, well-formed or not, grouped by
/// the barcode itself (two barcodes may share a key), excluded rows left out.
fn by_barcode(b: &Batch, group: &[usize], field: usize) -> Vec<(String, Vec<usize>)> {
    let mut by_code: Vec<(String, Vec<usize>)> = Vec::new();
    for &i in group {
        if b.is_excluded(i) || b.keys(i).0 == 0 {
            continue;
        }
        let code = b.output_value(i, field).to_owned();
        match by_code.iter_mut().find(|(c, _)| *c == code) {
            Some((_, v)) => v.push(i),
            None => by_code.push((code, vec![i])),
        }
    }
    by_code
}

/// Rows sharing one barcode key: repeats of a person, the pool size, values that disagree.
/// Under a barcode that fails its own check (`barcode_format`: the same text, so every row of
/// it) only repeats are looked for: the pool size and the values that must agree are
/// cross-row checks of the barcode, not run on a value that already has its own error.
pub(super) fn barcode_group(b: &Batch, group: &[usize]) -> Vec<(usize, Issue)> {
    let p = b.profile();
    let mut found = Vec::new();
    let Some(bf) = p.roles.barcode else {
        return found;
    };
    let bf16 = bf as u16;
    for (code, mut rows) in by_barcode(b, group, bf) {
        rows.sort_by_key(|&i| b.line(i));
        let counted = repeats(b, &rows, bf16, &mut found);
        if rows.iter().any(|&i| b.field_failed(i, bf)) {
            continue;
        }
        // Pool size.
        let pool = p.batch.pool_size;
        for &i in counted.iter().skip(pool) {
            found.push((
                i,
                Issue::new(
                    Code::PoolOverflow,
                    Some(bf16),
                    Stage::Barcode,
                    &[&code, &pool.to_string()],
                ),
            ));
        }
        must_agree(b, &code, &rows, &mut found);
    }
    found
}

/// Repeats: the same person again under one barcode. The row kept is the first without an
/// error of its own (field or row stage), or the first when all have one. Returns the rows
/// that count towards the pool, in row order.
fn repeats(b: &Batch, rows: &[usize], bf16: u16, found: &mut Vec<(usize, Issue)>) -> Vec<usize> {
    let mut persons: Vec<(String, Vec<usize>)> = Vec::new();
    let mut counted: Vec<usize> = Vec::new();
    for &i in rows {
        if b.keys(i).1 == 0 {
            counted.push(i);
            continue;
        }
        let person = b.person_id(i);
        match persons.iter_mut().find(|(p, _)| *p == person) {
            Some((_, v)) => v.push(i),
            None => persons.push((person, vec![i])),
        }
    }
    for (_, same) in &persons {
        let keep = same
            .iter()
            .copied()
            .find(|&i| !b.has_own_error(i))
            .unwrap_or(same[0]);
        counted.push(keep);
        let keep_line = b.line(keep).to_string();
        for &i in same.iter().filter(|&&i| i != keep) {
            found.push((
                i,
                Issue::new(
                    Code::DuplicateRow,
                    Some(bf16),
                    Stage::Barcode,
                    &[&keep_line],
                ),
            ));
        }
    }
    counted.sort_by_key(|&i| b.line(i));
    counted
}

/// Values that must agree (result, site, lab): an error on every row of the barcode, repeats
/// and rows whose own value is unreadable included. A value that failed its own check is
/// already an error of its row: it does not make the tube disagree.
fn must_agree(b: &Batch, code: &str, rows: &[usize], found: &mut Vec<(usize, Issue)>) {
    for &f in &b.profile().batch.barcode_must_agree {
        let vals: Vec<(usize, &str)> = rows
            .iter()
            .filter(|&&i| !b.field_failed(i, f))
            .map(|&i| (i, b.output_value(i, f)))
            .collect();
        let first = vals.first().map_or("", |v| v.1);
        if vals.iter().all(|(_, v)| *v == first) {
            continue;
        }
        let header = b.column_header(f);
        for &i in rows {
            let mine = b.output_value(i, f);
            let other = vals
                .iter()
                .find(|(_, w)| *w != mine)
                .map(|(j, _)| b.line(*j))
                .unwrap_or(0);
            found.push((
                i,
                Issue::new(
                    Code::BarcodeConflict,
                    Some(f as u16),
                    Stage::Barcode,
                    &[code, &other.to_string(), header],
                ),
            ));
        }
    }
}

/// Rows of one person: results that may not be together (a negative and a positive) in one
/// batch.
pub(super) fn person_group(b: &Batch, group: &[usize]) -> Vec<(usize, Issue)> {
    let p = b.profile();
    let mut found = Vec::new();
    let (Some(rf), conflicting) = (p.roles.result, &p.batch.conflicting_results) else {
        return found;
    };
    if conflicting.len() < 2 {
        return found;
    }
    let mut by_person: Vec<(String, Vec<usize>)> = Vec::new();
    for &i in group {
        if b.is_excluded(i) || b.keys(i).1 == 0 {
            continue;
        }
        let person = b.person_id(i);
        match by_person.iter_mut().find(|(c, _)| *c == person) {
            Some((_, v)) => v.push(i),
            None => by_person.push((person, vec![i])),
        }
    }
    for (_, rows) in by_person {
        let results: Vec<(usize, &str)> = rows
            .iter()
            .map(|&i| (i, b.output_value(i, rf)))
            .filter(|(_, r)| conflicting.iter().any(|c| c == r))
            .collect();
        let distinct = conflicting
            .iter()
            .filter(|c| results.iter().any(|(_, r)| r == c))
            .count();
        if distinct < 2 {
            continue;
        }
        for (i, r) in &results {
            let other = results
                .iter()
                .find(|(_, s)| s != r)
                .map_or(0, |(j, _)| b.line(*j));
            found.push((
                *i,
                Issue::new(
                    Code::PersonConflict,
                    Some(rf as u16),
                    Stage::Person,
                    &[&other.to_string()],
                ),
            ));
        }
    }
    found
}

/// A row whose person and barcode were uploaded before.
pub(super) fn already_uploaded(b: &Batch, index: usize, ledger: &dyn Ledger) -> Option<Issue> {
    let (barcode_key, person_key) = b.keys(index);
    if b.is_excluded(index) || barcode_key == 0 || person_key == 0 {
        return None;
    }
    let bf = b.profile().roles.barcode?;
    if b.field_failed(index, bf) {
        return None;
    }
    let barcode = b.output_value(index, bf);
    ledger.contains(barcode, &b.person_id(index)).then(|| {
        Issue::new(
            Code::AlreadyUploaded,
            Some(bf as u16),
            Stage::Ledger,
            &[barcode],
        )
    })
}
