//! Cells gathered into rows, as every streaming reader of a sheet gives them (calamine's for
//! `.xlsb`, ours for `.xlsx`): the limits on a row and a column, and date cells as Excel shows
//! them.

use super::{Cell, limits};
use std::ops::ControlFlow;

/// Why the rows of a sheet could not all be read.
#[derive(Debug)]
pub(super) enum RowError {
    /// Damaged (a short English reason from calamine).
    Corrupt(String),
    /// Data in a column past [`MAX_COLS`] (1-based column).
    TooWide { column: u32 },
    /// A cell over the size limit.
    Limit(limits::Limit),
}

/// Refuses a cell past the last column read or over the size limit; `Ok(false)` for a blank
/// cell, which is not kept.
pub(super) fn keep(r: u32, c: u32, value: &Cell) -> Result<bool, RowError> {
    if matches!(value, Cell::Empty) {
        return Ok(false);
    }
    if u64::from(r) >= limits::MAX_ROWS {
        return Err(RowError::Limit(limits::Limit::Rows {
            row: u64::from(r) + 1,
        }));
    }
    if c >= MAX_COLS {
        return if value.is_blank() {
            Ok(false)
        } else {
            Err(RowError::TooWide { column: c + 1 })
        };
    }
    if let Cell::Text(t) | Cell::Error(t) = value
        && t.len() > limits::MAX_CELL_BYTES
    {
        return Err(RowError::Limit(limits::Limit::Cell(limits::Place {
            part: String::new(),
            row: Some(u64::from(r) + 1),
            line: u64::from(r) + 1,
        })));
    }
    Ok(true)
}

/// Groups a stream of `(row, col, cell)` into rows.
#[derive(Default)]
pub(super) struct RowAssembler {
    row: Option<u32>,
    cells: Vec<Cell>,
}

/// Data past this column refuses the file with a message saying so (never dropped silently):
/// no real export is that wide, and each row is kept with all its columns.
pub(super) const MAX_COLS: u32 = 1024;

impl RowAssembler {
    pub(super) fn push(
        &mut self,
        r: u32,
        c: u32,
        value: Cell,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, RowError> {
        if self.row != Some(r) {
            if let Some(prev) = self.row.take()
                && f(prev, std::mem::take(&mut self.cells)).is_break()
            {
                return Ok(ControlFlow::Break(()));
            }
            self.row = Some(r);
        }
        if !keep(r, c, &value)? {
            return Ok(ControlFlow::Continue(()));
        }
        let c = c as usize;
        if self.cells.len() <= c {
            self.cells.resize(c + 1, Cell::Empty);
        }
        self.cells[c] = value;
        Ok(ControlFlow::Continue(()))
    }

    pub(super) fn finish(mut self, f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>) {
        if let Some(r) = self.row.take() {
            let _ = f(r, self.cells);
        }
    }
}

pub(super) fn date_cell(dt: &calamine::ExcelDateTime) -> Cell {
    if dt.is_datetime() && dt.as_f64() < 1.0 {
        // A time of day without a date (`hh:mm`): as Excel shows it, not a day in 1899/1904.
        let secs = ((dt.as_f64() * 86_400.0).round() as u32).min(86_399);
        Cell::Text(format!(
            "{:02}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ))
    } else if dt.is_datetime() {
        // calamine resolves the 1900 and 1904 systems (and Excel's 1900-02-29).
        match dt.as_datetime() {
            Some(d) => Cell::Date(round_to_second(d)),
            None => Cell::Number(dt.as_f64()),
        }
    } else {
        Cell::Number(dt.as_f64())
    }
}

fn round_to_second(d: chrono::NaiveDateTime) -> chrono::NaiveDateTime {
    use chrono::Timelike;
    let ms = d.and_utc().timestamp_subsec_millis();
    let base = d.with_nanosecond(0).unwrap_or(d);
    if ms >= 500 {
        base + chrono::Duration::seconds(1)
    } else {
        base
    }
}

pub(super) fn iso_cell(s: &str) -> Cell {
    match crate::rules::datetime::parse_text(s) {
        Some(p) => Cell::Date(p.at),
        None => Cell::Text(s.to_owned()),
    }
}
