//! Excel and OpenDocument workbooks through calamine; `.xlsx` and `.xlsb` are streamed cell by
//! cell, the others read one sheet at a time.

use super::cells::{RowAssembler, RowError, date_cell, iso_cell, keep};
use super::{Cell, Format, Merge};
use calamine::{Data, DataRef, Ods, Reader, Xls, Xlsb, Xlsx};
use std::fs::File;
use std::io::BufReader;
use std::ops::ControlFlow;
use std::path::Path;

type Rs = BufReader<File>;

pub(super) enum Excel {
    Xlsx(Xlsx<Rs>),
    Xlsb(Xlsb<Rs>),
    Xls(Xls<Rs>),
    Ods(Ods<Rs>),
}

pub(super) enum XlsOpenError {
    Password,
    Other(String),
}

impl Excel {
    /// Opens a zip container: `.xlsx`/`.xlsm`, `.xlsb` or `.ods`, trying the format the
    /// extension names first and then the others (a renamed file is common).
    pub fn open_zip(path: &Path, ext: &str) -> Result<Excel, XlsOpenError> {
        let order: &[Format] = match ext {
            "xlsb" => &[Format::Xlsb, Format::Xlsx, Format::Ods],
            "ods" => &[Format::Ods, Format::Xlsx, Format::Xlsb],
            _ => &[Format::Xlsx, Format::Xlsb, Format::Ods],
        };
        let mut last = String::new();
        for f in order {
            let file = File::open(path).map_err(|e| XlsOpenError::Other(e.to_string()))?;
            let rs = BufReader::new(file);
            let r = guarded(|| {
                Ok(match f {
                    Format::Xlsx => Xlsx::new(rs).map(Excel::Xlsx).map_err(|e| match e {
                        calamine::XlsxError::Password => XlsOpenError::Password,
                        e => XlsOpenError::Other(e.to_string()),
                    }),
                    Format::Xlsb => Xlsb::new(rs).map(Excel::Xlsb).map_err(|e| match e {
                        calamine::XlsbError::Password => XlsOpenError::Password,
                        e => XlsOpenError::Other(e.to_string()),
                    }),
                    _ => Ods::new(rs).map(Excel::Ods).map_err(|e| match e {
                        calamine::OdsError::Password => XlsOpenError::Password,
                        e => XlsOpenError::Other(e.to_string()),
                    }),
                })
            })
            .unwrap_or_else(|_| Err(XlsOpenError::Other("calamine failed on this file".into())));
            match r {
                Ok(x) => return Ok(x),
                Err(XlsOpenError::Password) => return Err(XlsOpenError::Password),
                Err(XlsOpenError::Other(e)) => last = e,
            }
        }
        Err(XlsOpenError::Other(last))
    }

    pub fn open_xls(path: &Path) -> Result<Excel, XlsOpenError> {
        let file = File::open(path).map_err(|e| XlsOpenError::Other(e.to_string()))?;
        let opened = guarded(|| Ok(Xls::new(BufReader::new(file))))
            .map_err(|_| XlsOpenError::Other("calamine failed on this file".into()))?;
        match opened {
            Ok(x) => Ok(Excel::Xls(x)),
            Err(calamine::XlsError::Password) => Err(XlsOpenError::Password),
            Err(e) => Err(XlsOpenError::Other(e.to_string())),
        }
    }

    pub fn format(&self) -> Format {
        match self {
            Excel::Xlsx(_) => Format::Xlsx,
            Excel::Xlsb(_) => Format::Xlsb,
            Excel::Xls(_) => Format::Xls,
            Excel::Ods(_) => Format::Ods,
        }
    }

    /// The workbook's date system (calamine reads `date1904` / `DATEMODE` / the BrtWbProp
    /// flag). An .ods has no such flag that calamine exposes; its dates are date cells anyway.
    pub fn date_1904(&self) -> bool {
        match self {
            Excel::Xlsx(x) => x.has_1904_epoch(),
            Excel::Xlsb(x) => x.has_1904_epoch(),
            Excel::Xls(x) => x.has_1904_epoch(),
            Excel::Ods(_) => false,
        }
    }

    pub fn sheet_names(&self) -> Vec<String> {
        let meta = match self {
            Excel::Xlsx(x) => x.sheets_metadata(),
            Excel::Xlsb(x) => x.sheets_metadata(),
            Excel::Xls(x) => x.sheets_metadata(),
            Excel::Ods(x) => x.sheets_metadata(),
        };
        meta.iter()
            .filter(|s| s.typ == calamine::SheetType::WorkSheet)
            .map(|s| s.name.clone())
            .collect()
    }

    pub fn row_count_hint(&mut self, sheet: &str) -> Option<u32> {
        match self {
            Excel::Xlsx(x) => {
                let r = x.worksheet_cells_reader(sheet).ok()?;
                Some(r.dimensions().end.0 + 1)
            }
            Excel::Xlsb(x) => {
                let r = x.worksheet_cells_reader(sheet).ok()?;
                Some(r.dimensions().end.0 + 1)
            }
            _ => None,
        }
    }

    pub fn for_each_row(
        &mut self,
        sheet: &str,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<(), RowError> {
        guarded(|| self.rows_unguarded(sheet, f))
    }

    fn rows_unguarded(
        &mut self,
        sheet: &str,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<(), RowError> {
        let corrupt = |e: &dyn std::fmt::Display| RowError::Corrupt(e.to_string());
        match self {
            Excel::Xlsx(x) => {
                let mut reader = x.worksheet_cells_reader(sheet).map_err(|e| corrupt(&e))?;
                stream_cells(|| reader.next_cell().map_err(|e| corrupt(&e)), f)
            }
            Excel::Xlsb(x) => {
                let mut reader = x.worksheet_cells_reader(sheet).map_err(|e| corrupt(&e))?;
                stream_cells(|| reader.next_cell().map_err(|e| corrupt(&e)), f)
            }
            Excel::Xls(x) => {
                let range = x.worksheet_range(sheet).map_err(|e| corrupt(&e))?;
                range_rows(&range, f)
            }
            Excel::Ods(x) => {
                let range = x.worksheet_range(sheet).map_err(|e| corrupt(&e))?;
                range_rows(&range, f)
            }
        }
    }

    pub fn merges(&mut self, sheet: &str) -> Result<Vec<Merge>, String> {
        guarded(|| self.merges_unguarded(sheet).map_err(RowError::Corrupt)).map_err(|e| match e {
            RowError::Corrupt(e) => e,
            _ => "calamine failed on this file".into(),
        })
    }

    fn merges_unguarded(&mut self, sheet: &str) -> Result<Vec<Merge>, String> {
        let dims = match self {
            Excel::Xlsx(x) => x
                .merge_cells_by_sheet_name(sheet)
                .map_err(|e| e.to_string())?,
            Excel::Xls(x) => x
                .merge_cells_by_sheet_name(sheet)
                .map_err(|e| e.to_string())?,
            // calamine does not expose merged cells of .xlsb and .ods (ods: see read::merged).
            Excel::Xlsb(_) | Excel::Ods(_) => Vec::new(),
        };
        Ok(dims
            .into_iter()
            .map(|d| Merge {
                first_row: d.start.0,
                last_row: d.end.0,
                first_col: d.start.1,
                last_col: d.end.1,
            })
            .collect())
    }
}

/// Runs calamine on a damaged file, where it can panic (an index past the end of a sector in
/// its CFB reader was found by tests/fuzz.rs): a panic there means a damaged file, not a crash.
/// The panic's text goes to the log (crate::log::catch_panic), not to the console.
fn guarded<T>(f: impl FnOnce() -> Result<T, RowError>) -> Result<T, RowError> {
    crate::log::catch_panic(f).unwrap_or_else(|_| {
        Err(RowError::Corrupt(
            "calamine failed on this file (a panic)".into(),
        ))
    })
}

/// Feeds the cells of a streaming reader (`.xlsx`, `.xlsb`) to `f` row by row.
fn stream_cells<'a>(
    mut next: impl FnMut() -> Result<Option<calamine::Cell<DataRef<'a>>>, RowError>,
    f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
) -> Result<(), RowError> {
    let mut rows = RowAssembler::default();
    while let Some(cell) = next()? {
        let (r, c) = cell.get_position();
        if rows.push(r, c, from_ref(cell.get_value()), f)?.is_break() {
            return Ok(());
        }
    }
    rows.finish(f);
    Ok(())
}

fn range_rows(
    range: &calamine::Range<Data>,
    f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
) -> Result<(), RowError> {
    let Some((r0, c0)) = range.start() else {
        return Ok(());
    };
    for (i, row) in range.rows().enumerate() {
        let r = r0 + i as u32;
        let mut cells = Vec::new();
        for (j, d) in row.iter().enumerate() {
            let value = from_data(d);
            let c = c0 + j as u32;
            if keep(r, c, &value)? {
                cells.resize(c as usize, Cell::Empty);
                cells.push(value);
            }
        }
        if cells.is_empty() {
            continue;
        }
        if f(r, cells).is_break() {
            break;
        }
    }
    Ok(())
}

fn from_ref(d: &DataRef<'_>) -> Cell {
    match d {
        DataRef::Int(i) => Cell::Number(*i as f64),
        DataRef::Float(x) => Cell::Number(*x),
        DataRef::String(s) => Cell::Text(s.clone()),
        DataRef::SharedString(s) => Cell::Text((*s).to_owned()),
        DataRef::Bool(b) => Cell::Bool(*b),
        DataRef::DateTime(dt) => date_cell(dt),
        DataRef::DateTimeIso(s) => iso_cell(s),
        DataRef::DurationIso(s) => Cell::Text(s.clone()),
        DataRef::Error(e) => Cell::Error(e.to_string()),
        DataRef::Empty => Cell::Empty,
    }
}

fn from_data(d: &Data) -> Cell {
    match d {
        Data::Int(i) => Cell::Number(*i as f64),
        Data::Float(x) => Cell::Number(*x),
        Data::String(s) => Cell::Text(s.clone()),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) => date_cell(dt),
        Data::DateTimeIso(s) => iso_cell(s),
        Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Error(e.to_string()),
        Data::Empty => Cell::Empty,
    }
}
