//! A look at an `.ods` before calamine opens it. calamine reads every sheet when the file is
//! opened, copies a cell once per `table:number-columns-repeated` (up to 16,384 per row) and
//! lays each sheet out as a dense grid with `table:number-rows-repeated` expanded: a few
//! kilobytes of XML can ask for 100 million cells (gigabytes). This streams `content.xml`
//! counting what calamine will build, the way it counts (empty cells repeated at the end of a
//! row are not built), and refuses a workbook over [`MAX_GRID_CELLS`].

use super::limits::{Limit, MAX_GRID_CELLS};
use quick_xml::events::{BytesStart, Event};
use std::io::BufReader;
use std::path::Path;

/// calamine's own caps on an `.ods` sheet.
const MAX_ROWS: u64 = 1_048_576;
const MAX_COLS: u64 = 16_384;

/// Counts the cells calamine will build for the `.ods` at `path`; a file that is not an `.ods`
/// or that calamine will refuse anyway passes.
pub(super) fn check(path: &Path) -> Result<(), Limit> {
    let Ok(file) = std::fs::File::open(path) else {
        return Ok(());
    };
    let Ok(mut zip) = zip::ZipArchive::new(BufReader::new(file)) else {
        return Ok(());
    };
    let Ok(content) = zip.by_name("content.xml") else {
        return Ok(());
    };
    check_content(BufReader::new(content))
}

/// One sheet being counted.
#[derive(Default)]
struct Sheet {
    name: String,
    /// Cells calamine keeps before expanding repeated rows.
    built: u64,
    /// Rows so far (repeats included, capped as calamine caps them).
    rows: u64,
    /// First and last row, first and last column holding a value.
    extent: Option<(u64, u64, u64, u64)>,
}

impl Sheet {
    fn grid(&self) -> (u64, u64) {
        match self.extent {
            None => (0, 0),
            Some((r0, r1, c0, c1)) => (r1 - r0 + 1, c1 - c0 + 1),
        }
    }
}

/// The row being read: its first index, its repeat count, the columns built so far, the empty
/// columns waiting for a later cell, and its first and last column with a value.
type Row = (u64, u64, u64, u64, Option<(u64, u64)>);

fn attr(e: &BytesStart<'_>, name: &str) -> Option<u64> {
    let a = e.try_get_attribute(name).ok()??;
    a.value.trim().parse().ok()
}

// Over 80 lines: one event loop over content.xml, its arms sharing the sheet and row counted.
fn check_content(input: impl std::io::BufRead) -> Result<(), Limit> {
    let mut reader = quick_xml::Reader::from_reader(input);
    // As lenient as calamine's reader, so a mismatched tag does not end the count early.
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut total = 0u64;
    let mut sheet: Option<Sheet> = None;
    let mut row: Option<Row> = None;
    loop {
        buf.clear();
        let (e, empty) = match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => (e, false),
            Ok(Event::Empty(e)) => (e, true),
            Ok(Event::End(e)) => {
                match e.name().as_ref() {
                    "table:table-row" => {
                        if let (Some(s), Some((first, reps, built, _, cols))) =
                            (sheet.as_mut(), row.take())
                        {
                            s.built = s.built.saturating_add(built);
                            if let Some((c0, c1)) = cols {
                                let last = first + reps.max(1) - 1;
                                s.extent = Some(match s.extent {
                                    None => (first, last, c0, c1),
                                    Some((r0, _, a, b)) => (r0, last, a.min(c0), b.max(c1)),
                                });
                            }
                        }
                    }
                    "table:table" => {
                        if let Some(s) = sheet.take() {
                            let (rows, cols) = s.grid();
                            total = total
                                .saturating_add(s.built)
                                .saturating_add(rows.saturating_mul(cols));
                            if total > MAX_GRID_CELLS {
                                return Err(Limit::Grid {
                                    sheet: s.name,
                                    rows,
                                    cols,
                                });
                            }
                        }
                    }
                    _ => {}
                }
                continue;
            }
            Ok(Event::Eof) | Err(_) => return Ok(()),
            Ok(_) => continue,
        };
        match e.name().as_ref() {
            "table:table" if !empty => {
                let name = e
                    .try_get_attribute("table:name")
                    .ok()
                    .flatten()
                    .map(|a| a.value.into_owned())
                    .unwrap_or_default();
                sheet = Some(Sheet {
                    name,
                    ..Sheet::default()
                });
            }
            "table:table-row" if !empty => {
                if let Some(s) = sheet.as_mut() {
                    let asked = attr(&e, "table:number-rows-repeated").unwrap_or(1);
                    let reps = asked.min(MAX_ROWS.saturating_sub(s.rows));
                    row = Some((s.rows, reps, 0, 0, None));
                    s.rows += reps;
                }
            }
            "table:table-cell" | "table:covered-table-cell" => {
                if let Some((_, _, built, pending, cols)) = row.as_mut() {
                    *built += (*pending).min(MAX_COLS - *built);
                    *pending = 0;
                    let reps = attr(&e, "table:number-columns-repeated")
                        .unwrap_or(1)
                        .min(MAX_COLS - *built);
                    let has_value = !empty
                        || e.try_get_attribute("office:value-type")
                            .ok()
                            .flatten()
                            .is_some()
                        || e.try_get_attribute("table:formula")
                            .ok()
                            .flatten()
                            .is_some();
                    if !has_value {
                        *pending = reps;
                    } else if reps > 0 {
                        let (a, b) = (*built, *built + reps - 1);
                        *cols = Some(cols.map_or((a, b), |(c0, c1)| (c0.min(a), c1.max(b))));
                        *built += reps;
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content(table: &str) -> String {
        format!(
            r#"<?xml version="1.0"?><office:document-content><office:body><office:spreadsheet><table:table table:name="S">{table}</table:table></office:spreadsheet></office:body></office:document-content>"#
        )
    }

    fn check_str(s: &str) -> Result<(), Limit> {
        check_content(s.as_bytes())
    }

    const CELL: &str =
        r#"<table:table-cell office:value-type="string"><text:p>x</text:p></table:table-cell>"#;

    #[test]
    fn an_ordinary_sheet_with_trailing_empty_repeats_passes() {
        // What LibreOffice writes: a few cells, the rest of the row and sheet as empty repeats.
        let row = format!(
            r#"<table:table-row>{}<table:table-cell table:number-columns-repeated="16370"/></table:table-row>"#,
            CELL.repeat(14)
        );
        let tail = r#"<table:table-row table:number-rows-repeated="1048000"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#;
        assert_eq!(check_str(&content(&(row.repeat(2000) + tail))), Ok(()));
    }

    #[test]
    fn repeated_rows_of_values_are_refused() {
        let bomb = format!(
            r#"<table:table-row table:number-rows-repeated="1000000">{CELL}<table:table-cell table:number-columns-repeated="99" office:value-type="float" office:value="1"/></table:table-row>"#
        );
        match check_str(&content(&bomb)) {
            Err(Limit::Grid { sheet, rows, cols }) => {
                assert_eq!((sheet.as_str(), rows, cols), ("S", 1_000_000, 100));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn repeated_columns_in_many_rows_are_refused() {
        let row = r#"<table:table-row><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="16384"/></table:table-row>"#;
        assert!(check_str(&content(&row.repeat(300))).is_err());
        assert_eq!(check_str(&content(&row.repeat(100))), Ok(()));
    }

    #[test]
    fn two_values_far_apart_are_refused() {
        let rows = format!(
            r#"<table:table-row>{CELL}</table:table-row><table:table-row table:number-rows-repeated="1000000"><table:table-cell/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="100"/>{CELL}</table:table-row>"#
        );
        assert!(check_str(&content(&rows)).is_err());
    }
}
