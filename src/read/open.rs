//! Opening a file: its format found from its first bytes (a zip, an OLE container, or text
//! that is an Excel 2003 XML workbook, an HTML table or a CSV), each part checked against the
//! limits before a parser sees it.

use super::{
    Format, Inner, ReadError, Workbook, csv_file, decode_text, excel, html, io_message, is_utf16,
    limits, ods_scan, spreadsheetml, xls_scan, xlsx,
};
use std::io::Read;
use std::path::Path;

/// How an OLE (Compound File Binary) container starts: `.xls`, `.et`, an encrypted `.xlsx`.
const CFB_MAGIC: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];

impl Workbook {
    /// Opens a file, finding its format from its content.
    pub fn open(path: &Path) -> Result<Workbook, ReadError> {
        let mut head = [0u8; 8];
        let n = std::fs::File::open(path)
            .and_then(|mut f| read_up_to(&mut f, &mut head))
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => ReadError::NotFound {
                    path: path.to_owned(),
                },
                _ => unreadable(path, &e),
            })?;
        let head = &head[..n];
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        if n == 0 {
            return Err(ReadError::Empty {
                path: path.to_owned(),
            });
        }
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let (format, inner) = if head.starts_with(b"PK\x03\x04") {
            open_zip(path, &ext)?
        } else if head.starts_with(b"PK") {
            return Err(corrupt(path)("zip without a local header".into()));
        } else if head == CFB_MAGIC {
            open_cfb(path, &ext, size)?
        } else {
            open_text(path, size)?
        };
        Ok(Workbook {
            path: path.to_owned(),
            format,
            inner,
        })
    }
}

/// `.xlsx`, `.xlsm`, `.xlsb`, `.ods`: every part is inflated and checked before calamine sees
/// it (see read::limits).
fn open_zip(path: &Path, ext: &str) -> Result<(Format, Inner), ReadError> {
    let refused = |e| match e {
        limits::ZipProblem::Limit(limit) => over(path)(limit),
        limits::ZipProblem::Corrupt(detail) => corrupt(path)(detail),
    };
    // The usual .xlsx: our own reader, which keeps the limits while it reads the sheets.
    if ext != "xlsb"
        && ext != "ods"
        && let Some(x) = xlsx::Xlsx::open(path).map_err(refused)?
    {
        return Ok((Format::Xlsx, Inner::Xlsx(Box::new(x))));
    }
    limits::check_zip(path).map_err(refused)?;
    // An .ods's repeat attributes multiply cells before calamine gives any back.
    ods_scan::check(path).map_err(over(path))?;
    let excel = excel::Excel::open_zip(path, ext).map_err(|e| match e {
        excel::XlsOpenError::Password => password(path),
        excel::XlsOpenError::Other(detail) => corrupt(path)(detail),
    })?;
    Ok((excel.format(), Inner::Excel(Box::new(excel))))
}

/// `.xls` (or a WPS `.et`, or an encrypted Office file). calamine lays out every sheet as a
/// dense grid when it opens the file: measure first (see read::xls_scan).
fn open_cfb(path: &Path, ext: &str, size: u64) -> Result<(Format, Inner), ReadError> {
    if size > limits::MAX_XLS_BYTES {
        return Err(too_big(path, limits::MAX_XLS_BYTES));
    }
    let bytes = std::fs::read(path).map_err(|e| unreadable(path, &e))?;
    let scanned = xls_scan::check(&bytes);
    drop(bytes);
    match scanned {
        Ok(()) => {}
        Err(xls_scan::XlsProblem::Limit(limit)) => return Err(over(path)(limit)),
        Err(xls_scan::XlsProblem::Password) => return Err(password(path)),
        Err(xls_scan::XlsProblem::Corrupt(detail)) => return Err(corrupt(path)(detail)),
    }
    match excel::Excel::open_xls(path) {
        Ok(excel) => Ok((Format::Xls, Inner::Excel(Box::new(excel)))),
        Err(excel::XlsOpenError::Password) => Err(password(path)),
        Err(excel::XlsOpenError::Other(detail)) => Err(if is_encrypted_ooxml(path) {
            password(path)
        } else if ext == "et" || ext == "ett" {
            ReadError::Wps {
                path: path.to_owned(),
            }
        } else {
            corrupt(path)(detail)
        }),
    }
}

/// A text file larger than this is looked at by its beginning, and a CSV streamed from disk
/// (`CsvSheet::streamed`) rather than held.
const STREAM_FROM: u64 = 8 << 20;

/// Text formats: the file (or, when large, its first [`STREAM_FROM`] bytes) is read and looked
/// at.
// Long: one decision over the text's beginning, each format's branch a few lines.
fn open_text(path: &Path, size: u64) -> Result<(Format, Inner), ReadError> {
    if size > limits::MAX_TEXT_BYTES {
        return Err(too_big(path, limits::MAX_TEXT_BYTES));
    }
    let whole = size <= STREAM_FROM;
    let bytes = if whole {
        std::fs::read(path)
    } else {
        std::fs::File::open(path).and_then(|f| {
            let mut head = Vec::new();
            f.take(STREAM_FROM).read_to_end(&mut head).map(|_| head)
        })
    }
    .map_err(|e| unreadable(path, &e))?;
    let sniff = &bytes[..bytes.len().min(4096)];
    if sniff.contains(&0) && !is_utf16(sniff) {
        return Err(not_spreadsheet(path));
    }
    let mut text = decode_text(&bytes);
    drop(bytes);
    if text.trim_start_matches('\u{feff}').trim().is_empty() && whole {
        return Err(ReadError::Empty {
            path: path.to_owned(),
        });
    }
    let read_whole = |text: &mut String| -> Result<(), ReadError> {
        if !whole {
            *text = decode_text(&std::fs::read(path).map_err(|e| unreadable(path, &e))?);
        }
        Ok(())
    };
    let start = text.trim_start_matches('\u{feff}').trim_start();
    let lower_head: String = start
        .chars()
        .take(2048)
        .collect::<String>()
        .to_ascii_lowercase();
    if lower_head.starts_with('<')
        && (lower_head.contains("urn:schemas-microsoft-com:office:spreadsheet")
            || lower_head.contains("progid=\"excel.sheet\""))
        && lower_head.contains("<workbook")
    {
        read_whole(&mut text)?;
        let mut scan = limits::XmlScan::new("");
        scan.feed(text.as_bytes()).map_err(over(path))?;
        let sheets = spreadsheetml::parse(&text).map_err(corrupt(path))?;
        Ok((Format::SpreadsheetMl, Inner::Memory(sheets)))
    } else if lower_head.starts_with('<')
        && (lower_head.contains("<html")
            || lower_head.contains("<table")
            || lower_head.starts_with("<!doctype"))
    {
        if size > limits::MAX_HTML_BYTES {
            return Err(too_big(path, limits::MAX_HTML_BYTES));
        }
        read_whole(&mut text)?;
        html::check_limits(&text).map_err(over(path))?;
        let sheets = html::parse(&text);
        if sheets.is_empty() {
            return Err(not_spreadsheet(path));
        }
        Ok((Format::Html, Inner::Memory(sheets)))
    } else if lower_head.starts_with("<?xml")
        || lower_head.starts_with("{\\rtf")
        || lower_head.starts_with("%pdf")
    {
        Err(not_spreadsheet(path))
    } else {
        let sheet = if whole {
            csv_file::CsvSheet::new(text, path)
        } else {
            csv_file::CsvSheet::streamed(path, &text).map_err(|e| unreadable(path, &e))?
        };
        if !sheet.looks_like_table() {
            return Err(not_spreadsheet(path));
        }
        Ok((Format::Csv, Inner::Csv(sheet)))
    }
}

fn unreadable(path: &Path, e: &std::io::Error) -> ReadError {
    ReadError::Io {
        path: path.to_owned(),
        reason: io_message(e),
    }
}

fn corrupt(path: &Path) -> impl Fn(String) -> ReadError + '_ {
    move |detail| ReadError::Corrupt {
        path: path.to_owned(),
        detail,
    }
}

fn over(path: &Path) -> impl Fn(limits::Limit) -> ReadError + '_ {
    move |limit| ReadError::Limit {
        path: path.to_owned(),
        limit,
    }
}

fn too_big(path: &Path, limit: u64) -> ReadError {
    over(path)(limits::Limit::Size {
        part: crate::paths::file_name(path),
        limit,
    })
}

fn password(path: &Path) -> ReadError {
    ReadError::Password {
        path: path.to_owned(),
    }
}

fn not_spreadsheet(path: &Path) -> ReadError {
    ReadError::NotSpreadsheet {
        path: path.to_owned(),
    }
}

fn read_up_to(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// An Office file encrypted with a password is a CFB container holding `EncryptedPackage`.
fn is_encrypted_ooxml(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    let needle: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(|u| u.to_le_bytes())
        .collect();
    bytes.windows(needle.len()).any(|w| w == needle.as_slice())
}
