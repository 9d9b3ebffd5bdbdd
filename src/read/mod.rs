//! Reading exports into rows of typed cells: Excel formats through calamine, CSV in UTF-8 or
//! GBK, and the "Excel" files old web systems write (HTML tables, Excel 2003 XML).
//!
//! The format is found from the file's content, not its name. Rows are streamed to a callback
//! so a 1,000,000-row sheet never has to sit in memory as a whole.

mod cells;
mod csv_file;
mod error;
mod excel;
mod html;
pub mod limits;
mod merged;
mod ods_scan;
mod open;
mod spreadsheetml;
mod xls_scan;
mod xlsx;

use chrono::NaiveDateTime;
use std::fmt;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Kept here for the window, which names it `read::io_message`.
pub use crate::message::io_message;
pub use error::ReadError;

/// One cell, with its type kept: a number cell, a date cell and a text cell stay different.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Cell {
    #[default]
    Empty,
    Text(String),
    Number(f64),
    /// A date cell (1900 and 1904 systems already resolved).
    Date(NaiveDateTime),
    Bool(bool),
    /// An error value such as `#N/A`.
    Error(String),
}

impl Cell {
    /// Empty, or text made only of white space.
    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(s) => s.chars().all(crate::rules::text::is_space),
            _ => false,
        }
    }

    /// The text a person would see in the cell (numbers without a trailing `.0`).
    pub fn display(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(s) => s.clone(),
            Cell::Number(n) => format_number(*n),
            Cell::Date(d) => {
                if d.time() == chrono::NaiveTime::MIN {
                    d.format("%Y-%m-%d").to_string()
                } else {
                    d.format(crate::rules::datetime::OUTPUT_FORMAT).to_string()
                }
            }
            Cell::Bool(b) => if *b { "TRUE" } else { "FALSE" }.to_owned(),
            Cell::Error(e) => e.clone(),
        }
    }
}

/// A number as Excel shows it in a General cell: integers without `.0`, big ones in
/// scientific notation (`4.40106E+17`), as a clerk would see a destroyed ID.
pub fn format_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else if n.abs() >= 1e15 {
        let s = format!("{n:.5E}");
        // 4.40106E17 -> 4.40106E+17, trimming zeros of the mantissa.
        let (mant, exp) = s.split_once('E').unwrap_or((&s, "0"));
        let mant = mant.trim_end_matches('0').trim_end_matches('.');
        format!("{mant}E+{exp}")
    } else {
        format!("{n}")
    }
}

/// A merged block of cells (0-based, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Merge {
    pub first_row: u32,
    pub last_row: u32,
    pub first_col: u32,
    pub last_col: u32,
}

/// The container format, found from the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Xlsb,
    Xls,
    Ods,
    Csv,
    Html,
    SpreadsheetMl,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Xlsx => "xlsx",
            Format::Xlsb => "xlsb",
            Format::Xls => "xls",
            Format::Ods => "ods",
            Format::Csv => "csv",
            Format::Html => "html",
            Format::SpreadsheetMl => "xml",
        })
    }
}

/// An opened workbook.
pub struct Workbook {
    path: PathBuf,
    format: Format,
    inner: Inner,
}

enum Inner {
    /// `.xlsx` through our own one-pass reader (`read::xlsx`).
    Xlsx(Box<xlsx::Xlsx>),
    Excel(Box<excel::Excel>),
    Csv(csv_file::CsvSheet),
    Memory(Vec<MemorySheet>),
}

/// A sheet already parsed into memory (CSV, HTML, Excel 2003 XML).
pub(crate) struct MemorySheet {
    pub name: String,
    /// (0-based row, cells from column 0).
    pub rows: Vec<(u32, Vec<Cell>)>,
    pub merges: Vec<Merge>,
}

impl Workbook {
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Sheet names in workbook order (visible worksheets only).
    pub fn sheet_names(&self) -> Vec<String> {
        match &self.inner {
            Inner::Xlsx(x) => x.sheet_names(),
            Inner::Excel(e) => e.sheet_names(),
            Inner::Csv(s) => vec![s.name.clone()],
            Inner::Memory(sheets) => sheets.iter().map(|s| s.name.clone()).collect(),
        }
    }

    /// Whether the workbook is saved with the 1904 date system (`.xlsx`, `.xls`, `.xlsb`): a
    /// plain number meant as a date then counts days from 1904-01-01. Date cells are resolved
    /// already; this is for numbers without a date format.
    pub fn date_1904(&self) -> bool {
        match &self.inner {
            Inner::Xlsx(x) => x.date_1904(),
            Inner::Excel(e) => e.date_1904(),
            Inner::Csv(_) | Inner::Memory(_) => false,
        }
    }

    /// The last row index of a sheet, when the format tells it cheaply (for progress).
    pub fn row_count_hint(&mut self, sheet: &str) -> Option<u32> {
        match &mut self.inner {
            Inner::Xlsx(x) => x.row_count_hint(sheet),
            Inner::Excel(e) => e.row_count_hint(sheet),
            Inner::Csv(s) => Some(s.line_count()),
            Inner::Memory(sheets) => sheets
                .iter()
                .find(|s| s.name == sheet)
                .and_then(|s| s.rows.last().map(|r| r.0 + 1)),
        }
    }

    /// Streams the rows of a sheet: `(0-based row index, cells from column 0)`. Rows with no
    /// cells at all may be skipped. Return `ControlFlow::Break` to stop early.
    pub fn for_each_row(
        &mut self,
        sheet: &str,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        self.check_sheet(sheet)?;
        let path = self.path.clone();
        match &mut self.inner {
            Inner::Xlsx(x) => x.for_each_row(sheet, f).map_err(|e| row_error(path, e)),
            Inner::Excel(e) => e.for_each_row(sheet, f).map_err(|e| row_error(path, e)),
            Inner::Csv(s) => s.for_each_row(&path, f),
            Inner::Memory(sheets) => {
                if let Some(s) = sheets.iter().find(|s| s.name == sheet) {
                    for (r, cells) in &s.rows {
                        if f(*r, cells.clone()).is_break() {
                            break;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// The merged blocks of a sheet. For an `.xlsx` read to the end they were found in the
    /// same pass as its cells.
    pub fn merges(&mut self, sheet: &str) -> Result<Vec<Merge>, ReadError> {
        self.check_sheet(sheet)?;
        if let Inner::Xlsx(x) = &mut self.inner {
            let path = self.path.clone();
            return x.merges(sheet).map_err(|e| row_error(path, e));
        }
        if self.format == Format::Xlsx
            && let Some(m) = fast_xlsx_merges(&self.path, sheet)
        {
            return Ok(m);
        }
        if self.format == Format::Ods {
            // An unreadable content.xml was already refused when the sheet was read.
            return Ok(merged::ods(&self.path, sheet).unwrap_or_default());
        }
        let path = self.path.clone();
        match &mut self.inner {
            Inner::Excel(e) => e
                .merges(sheet)
                .map_err(|detail| ReadError::Corrupt { path, detail }),
            Inner::Csv(_) | Inner::Xlsx(_) => Ok(Vec::new()),
            Inner::Memory(sheets) => Ok(sheets
                .iter()
                .find(|s| s.name == sheet)
                .map(|s| s.merges.clone())
                .unwrap_or_default()),
        }
    }

    fn check_sheet(&self, sheet: &str) -> Result<(), ReadError> {
        let names = self.sheet_names();
        if names.iter().any(|n| n == sheet) {
            Ok(())
        } else {
            Err(ReadError::SheetNotFound {
                path: self.path.clone(),
                sheet: sheet.to_owned(),
                available: names.join("、"),
            })
        }
    }
}

fn row_error(path: PathBuf, e: cells::RowError) -> ReadError {
    match e {
        cells::RowError::Corrupt(detail) => ReadError::Corrupt { path, detail },
        cells::RowError::TooWide { column } => ReadError::TooWide {
            path,
            column,
            max: cells::MAX_COLS,
        },
        cells::RowError::Limit(limit) => ReadError::Limit { path, limit },
    }
}

/// The merged blocks of an `.xlsx` sheet without parsing the whole sheet again; `None` when the
/// workbook's layout is unusual (then [`Workbook::merges`] asks calamine). Needs no open
/// [`Workbook`], so it can run beside the cell reader.
pub fn fast_xlsx_merges(path: &Path, sheet: &str) -> Option<Vec<Merge>> {
    merged::xlsx(path, sheet).ok()
}

fn is_utf16(b: &[u8]) -> bool {
    b.starts_with(&[0xFF, 0xFE]) || b.starts_with(&[0xFE, 0xFF])
}

/// Decodes text: a BOM wins; then a `<meta charset>` (HTML); then UTF-8 if valid; else
/// GB18030 (a superset of GBK and GB2312, what Chinese Excel writes).
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = enc.decode_without_bom_handling(&bytes[bom_len..]);
        return text.into_owned();
    }
    if let Some(enc) = declared_charset(&bytes[..bytes.len().min(2048)]) {
        let (text, _, _) = enc.decode(bytes);
        return text.into_owned();
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) if mostly_utf8(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Err(_) => {
            let (text, _) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            text.into_owned()
        }
    }
}

/// Whether bytes that are not valid UTF-8 are still UTF-8 with a few damaged bytes: far more
/// well-formed multi-byte characters than broken sequences. GBK text makes well-formed UTF-8
/// sequences only by chance.
fn mostly_utf8(bytes: &[u8]) -> bool {
    let (mut good, mut bad) = (0usize, 0usize);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                good += s.chars().filter(|c| !c.is_ascii()).count();
                break;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                good += std::str::from_utf8(valid)
                    .map(|s| s.chars().filter(|c| !c.is_ascii()).count())
                    .unwrap_or(0);
                // A damaged character leaves several bad bytes in a row: count it once.
                if e.valid_up_to() > 0 || bad == 0 {
                    bad += 1;
                }
                let skip = e.error_len().unwrap_or(after.len()).max(1);
                rest = &after[skip.min(after.len())..];
                if rest.is_empty() {
                    break;
                }
            }
        }
    }
    good >= 8 && bad * 10 <= good
}

fn declared_charset(head: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    if !head.trim_start().starts_with('<') {
        return None;
    }
    let pos = head.find("charset=").or_else(|| head.find("encoding="))?;
    let rest = &head[pos..];
    let rest = &rest[rest.find('=')? + 1..];
    let label: String = rest
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    let enc = encoding_rs::Encoding::for_label(label.as_bytes())?;
    // GB2312 and GBK pages often hold GBK-only characters: decode them as GB18030.
    Some(if enc == encoding_rs::GBK {
        encoding_rs::GB18030
    } else {
        enc
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_display_like_excel() {
        assert_eq!(format_number(13800138000.0), "13800138000");
        assert_eq!(format_number(440106199001011234.0), "4.40106E+17");
        assert_eq!(format_number(35.5), "35.5");
    }

    #[test]
    fn decodes_gbk_utf8_and_bom() {
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,证件号码\n张三,1\n");
        assert!(decode_text(&gbk).starts_with("姓名,证件号码"));
        assert_eq!(decode_text("\u{feff}姓名".as_bytes()), "姓名");
        assert_eq!(decode_text("姓名".as_bytes()), "姓名");
        // 喆 is outside GB2312 but inside GBK/GB18030.
        let (bytes, _, _) = encoding_rs::GB18030.encode("<meta charset=\"gb2312\">喆");
        assert!(decode_text(&bytes).ends_with('喆'));
    }

    #[test]
    fn damaged_utf8_stays_utf8() {
        let mut bytes = "姓名,证件号码,现住址\n张三,110101199003070018,北京市朝阳区\n"
            .as_bytes()
            .to_vec();
        // One damaged byte in the middle of 朝.
        let pos = bytes.len() - 10;
        bytes[pos] = 0xFF;
        let text = decode_text(&bytes);
        assert!(text.starts_with("姓名,证件号码,现住址"), "{text}");
        assert!(text.contains('\u{FFFD}'));
        // Real GBK is still read as GBK.
        let (gbk, _, _) = encoding_rs::GBK.encode("姓名,证件号码,现住址\n张三,1,北京市朝阳区\n");
        assert!(decode_text(&gbk).starts_with("姓名,证件号码"));
    }

    #[test]
    fn blank_cells() {
        assert!(Cell::Empty.is_blank());
        assert!(Cell::Text("\u{3000} ".into()).is_blank());
        assert!(!Cell::Number(0.0).is_blank());
    }
}
