//! The JSON report of a run (the contract in cli.md) and the short summary for a terminal.
//!
//! Its texts are masked like every text the program writes (guarantees.md §6): the messages in
//! `Issue::render`, the file, sheet and column names here.

use crate::batch::Batch;
use crate::issue::{Lang, Severity};
use serde::Serialize;

/// The report of `convert` and `check`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub input: String,
    pub sheet: String,
    pub header_row: u32,
    pub profile: String,
    pub rows_total: usize,
    pub rows_written: usize,
    pub rows_rejected: usize,
    pub rows_duplicate: usize,
    pub unused_columns: Vec<String>,
    pub issues: Vec<ReportIssue>,
}

/// One problem in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportIssue {
    pub row: u32,
    pub column: String,
    pub field: String,
    pub code: String,
    pub severity: Severity,
    pub message: String,
}

impl Report {
    /// Builds the report of a batch. Excluded rows count as rejected (they are not written).
    pub fn new(batch: &Batch, lang: Lang) -> Report {
        let s = batch.summary();
        let fields = &batch.profile().fields;
        let issues = batch
            .all_issues()
            .map(|ri| {
                let f = ri.issue.field.map(usize::from);
                ReportIssue {
                    row: ri.line,
                    column: f
                        .map(|f| batch.column_header(f).to_owned())
                        .unwrap_or_default(),
                    field: f.map(|f| fields[f].key.clone()).unwrap_or_default(),
                    code: batch.code_name(ri.issue),
                    severity: ri.issue.severity,
                    message: batch.message(ri.index, ri.issue, lang),
                }
            })
            .collect();
        let mask = crate::privacy::mask_text;
        Report {
            input: mask(&crate::paths::file_name(&batch.source.path)),
            sheet: mask(&batch.source.sheet),
            header_row: batch.source.header_row,
            profile: batch.profile().name.clone(),
            rows_total: s.total,
            rows_written: s.ready,
            rows_rejected: s.rejected + s.excluded,
            rows_duplicate: s.duplicate,
            unused_columns: batch.source.unused.iter().map(|c| mask(c)).collect(),
            issues,
        }
    }
}
