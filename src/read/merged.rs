//! Merged ranges that calamine does not give cheaply: those of an `.xlsx` sheet, found fast, and
//! those of an `.ods` sheet, which calamine does not expose at all.
//!
//! For `.xlsx`, calamine finds them by parsing every XML event of the sheet again, which for a
//! 1,000,000-row export takes two thirds as long as reading the cells. Merged ranges sit after
//! the cell data, so here the sheet is only inflated and searched for `mergeCells`, and just
//! that tail is parsed (quick-xml). The pipeline runs this beside the cell reader.
//!
//! For `.ods`, `content.xml` is walked once (quick-xml), counting rows and columns with their
//! repeat attributes, and every cell spanning rows or columns gives a merge.

use super::Merge;
use quick_xml::events::Event;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use zip::ZipArchive;

/// The merged ranges of `sheet`, or `Err` (a short English reason) when the workbook's layout is
/// not the usual one; the caller then falls back to calamine.
pub(super) fn xlsx(path: &Path, sheet: &str) -> Result<Vec<Merge>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| e.to_string())?;
    let workbook = read_entry(&mut zip, "xl/workbook.xml")?;
    let rid = sheet_rel_id(&workbook, sheet).ok_or("sheet not in workbook.xml")?;
    let rels = read_entry(&mut zip, "xl/_rels/workbook.xml.rels")?;
    let target = rel_target(&rels, &rid).ok_or("sheet relationship not found")?;
    let entry = match target.strip_prefix('/') {
        Some(abs) => abs.to_owned(),
        None => format!("xl/{}", target.trim_start_matches("./")),
    };
    let mut reader = zip.by_name(&entry).map_err(|e| e.to_string())?;
    let tail = tail_from(&mut reader, b"mergeCells").map_err(|e| e.to_string())?;
    Ok(parse_merge_cells(&tail))
}

/// The merged ranges of an `.ods` sheet (0-based, as calamine numbers its rows and columns).
pub(super) fn ods(path: &Path, sheet: &str) -> Result<Vec<Merge>, String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut zip = ZipArchive::new(BufReader::new(file)).map_err(|e| e.to_string())?;
    let content = read_entry(&mut zip, "content.xml")?;
    Ok(ods_merges(&String::from_utf8_lossy(&content), sheet))
}

/// Rows and columns past Excel's limits are not counted further (a hostile file could repeat
/// an empty row a billion times).
const MAX_ROWS: u64 = 1_048_576;
const MAX_COLS: u64 = 16_384;

fn ods_merges(content: &str, sheet: &str) -> Vec<Merge> {
    let mut reader = quick_xml::Reader::from_str(content);
    let mut merges = Vec::new();
    let mut in_sheet = false;
    // The row the cells being read are in, and the index the next row element starts at.
    let (mut row, mut next_row, mut col) = (0u64, 0u64, 0u64);
    let count = |e: &quick_xml::events::BytesStart<'_>, name: &str| {
        attr(e, name)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .unwrap_or(1)
            .max(1)
    };
    loop {
        let e = match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => e,
            Ok(Event::End(e)) if in_sheet && e.local_name().into_inner() == "table" => {
                return merges;
            }
            Ok(Event::Eof) | Err(_) => return merges,
            _ => continue,
        };
        match e.local_name().into_inner() {
            "table" => {
                in_sheet = attr(&e, "name").as_deref() == Some(sheet);
                next_row = 0;
            }
            "table-row" if in_sheet => {
                row = next_row;
                next_row = (next_row + count(&e, "number-rows-repeated")).min(MAX_ROWS);
                col = 0;
            }
            "table-cell" | "covered-table-cell" if in_sheet => {
                let rows = count(&e, "number-rows-spanned");
                let cols = count(&e, "number-columns-spanned");
                if (rows > 1 || cols > 1) && row < MAX_ROWS && col < MAX_COLS {
                    merges.push(Merge {
                        first_row: row as u32,
                        last_row: (row + rows - 1).min(MAX_ROWS - 1) as u32,
                        first_col: col as u32,
                        last_col: (col + cols - 1).min(MAX_COLS - 1) as u32,
                    });
                }
                col = (col + count(&e, "number-columns-repeated")).min(MAX_COLS);
            }
            _ => {}
        }
    }
}

fn read_entry<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let mut entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
    let mut buf = Vec::new();
    entry.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

pub(super) fn attr(e: &quick_xml::events::BytesStart<'_>, local: &str) -> Option<String> {
    let a = e
        .attributes()
        .flatten()
        .find(|a| a.key.local_name().into_inner() == local)?;
    let value = a
        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
        .unwrap_or_else(|_| a.value.clone());
    Some(value.into_owned())
}

/// Walks the elements of an XML document (start and empty tags).
fn for_each_element(xml: &[u8], mut f: impl FnMut(&quick_xml::events::BytesStart<'_>) -> bool) {
    let text = String::from_utf8_lossy(xml);
    let mut reader = quick_xml::Reader::from_str(&text);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if f(&e) => return,
            Ok(Event::Eof) | Err(_) => return,
            _ => {}
        }
    }
}

fn sheet_rel_id(workbook: &[u8], sheet: &str) -> Option<String> {
    let mut found = None;
    for_each_element(workbook, |e| {
        if e.local_name().into_inner() == "sheet" && attr(e, "name").as_deref() == Some(sheet) {
            found = attr(e, "id");
            return true;
        }
        false
    });
    found
}

fn rel_target(rels: &[u8], id: &str) -> Option<String> {
    let mut found = None;
    for_each_element(rels, |e| {
        if e.local_name().into_inner() == "Relationship" && attr(e, "Id").as_deref() == Some(id) {
            found = attr(e, "Target");
            return true;
        }
        false
    });
    found
}

/// The target and the type of relationship `id`.
pub(super) fn rel_target_and_type(rels: &[u8], id: &str) -> Option<(String, String)> {
    let mut found = None;
    for_each_element(rels, |e| {
        if e.local_name().into_inner() == "Relationship" && attr(e, "Id").as_deref() == Some(id) {
            found = attr(e, "Target").map(|t| (t, attr(e, "Type").unwrap_or_default()));
            return true;
        }
        false
    });
    found
}

/// Streams `reader` and returns everything from the first `<needle` (or `<prefix:needle`) on;
/// empty when it never occurs. Only a window is kept while searching.
/// The most bytes kept from `mergeCells` to the end of a sheet (1,000,000 merged blocks
/// take about 30 MB).
const MAX_TAIL: u64 = 64 << 20;

fn tail_from(reader: &mut impl Read, needle: &[u8]) -> std::io::Result<Vec<u8>> {
    let finder = memchr::memmem::Finder::new(needle);
    let mut window: Vec<u8> = Vec::with_capacity(1 << 18);
    let mut chunk = vec![0u8; 1 << 18];
    loop {
        let n = reader.read(&mut chunk)?;
        if n == 0 {
            return Ok(Vec::new());
        }
        window.extend_from_slice(&chunk[..n]);
        let mut from = 0;
        while let Some(pos) = finder.find(&window[from..]).map(|p| p + from) {
            // In a tag, the name follows '<' or a namespace prefix's ':'. In text it cannot
            // follow '<', which is escaped there.
            if pos > 0 && matches!(window[pos - 1], b'<' | b':') {
                let start = window[..pos].iter().rposition(|&b| b == b'<').unwrap_or(0);
                let mut tail = window.split_off(start);
                // `mergeCells` before the cell data (unusual, or hostile) would make the
                // "tail" the whole sheet: past this size calamine is asked instead.
                reader.take(MAX_TAIL).read_to_end(&mut tail)?;
                if tail.len() as u64 >= MAX_TAIL {
                    return Err(std::io::Error::other("mergeCells is not at the end"));
                }
                return Ok(tail);
            }
            from = pos + 1;
        }
        // Keep a little in case the needle spans two chunks.
        let keep = needle.len() + 64;
        if window.len() > keep {
            window.drain(..window.len() - keep);
        }
    }
}

fn parse_merge_cells(tail: &[u8]) -> Vec<Merge> {
    let mut out = Vec::new();
    for_each_element(tail, |e| {
        if e.local_name().into_inner() == "mergeCell"
            && let Some(m) = attr(e, "ref").as_deref().and_then(parse_range)
        {
            out.push(m);
        }
        false
    });
    out
}

/// `B3:C10` to a 0-based merge.
pub(super) fn parse_range(s: &str) -> Option<Merge> {
    let (a, b) = s.split_once(':')?;
    let (r1, c1) = parse_cell(a)?;
    let (r2, c2) = parse_cell(b)?;
    Some(Merge {
        first_row: r1.min(r2),
        last_row: r1.max(r2),
        first_col: c1.min(c2),
        last_col: c1.max(c2),
    })
}

/// `AB12` to (row 11, column 27).
fn parse_cell(s: &str) -> Option<(u32, u32)> {
    let s = s.trim().trim_start_matches('$');
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    let digits = digits.trim_start_matches('$');
    let letters = letters.trim_end_matches('$');
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let col = letters.bytes().try_fold(0u32, |acc, b| {
        b.is_ascii_alphabetic()
            .then(|| acc * 26 + u32::from(b.to_ascii_uppercase() - b'A') + 1)
    })?;
    let row: u32 = digits.parse().ok()?;
    (row >= 1 && col >= 1).then_some((row - 1, col - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ods_spans_with_repeated_rows_and_columns() {
        let xml = r#"<office:document-content><office:body><office:spreadsheet>
<table:table table:name="其他"><table:table-row><table:table-cell table:number-rows-spanned="9"/></table:table-row></table:table>
<table:table table:name="结果">
<table:table-row><table:table-cell table:number-columns-spanned="3"/><table:covered-table-cell table:number-columns-repeated="2"/></table:table-row>
<table:table-row table:number-rows-repeated="2"/>
<table:table-row><table:table-cell table:number-columns-repeated="4"/><table:table-cell table:number-rows-spanned="3"/></table:table-row>
<table:table-row><table:covered-table-cell table:number-columns-repeated="4"/></table:table-row>
</table:table></office:spreadsheet></office:body></office:document-content>"#;
        assert_eq!(
            ods_merges(xml, "结果"),
            [
                Merge {
                    first_row: 0,
                    last_row: 0,
                    first_col: 0,
                    last_col: 2
                },
                Merge {
                    first_row: 3,
                    last_row: 5,
                    first_col: 4,
                    last_col: 4
                },
            ]
        );
    }

    #[test]
    fn cell_and_range_references() {
        assert_eq!(parse_cell("A1"), Some((0, 0)));
        assert_eq!(parse_cell("AB12"), Some((11, 27)));
        assert_eq!(parse_cell("$C$3"), Some((2, 2)));
        assert_eq!(parse_cell("12"), None);
        assert_eq!(
            parse_range("L4:L6"),
            Some(Merge {
                first_row: 3,
                last_row: 5,
                first_col: 11,
                last_col: 11
            })
        );
    }

    #[test]
    fn finds_the_tail_across_chunk_borders_and_ignores_text() {
        let mut xml = b"<worksheet><sheetData><row><c t=\"inlineStr\"><is><t>mergeCells &lt;mergeCells</t></is></c></row>".to_vec();
        xml.extend(std::iter::repeat_n(b' ', (1 << 18) - 5));
        xml.extend_from_slice(b"</sheetData><x:mergeCells count=\"1\"><x:mergeCell ref=\"A2:A4\"/></x:mergeCells></worksheet>");
        let tail = tail_from(&mut xml.as_slice(), b"mergeCells").unwrap();
        assert!(tail.starts_with(b"<x:mergeCells"));
        assert_eq!(
            parse_merge_cells(&tail),
            [Merge {
                first_row: 1,
                last_row: 3,
                first_col: 0,
                last_col: 0
            }]
        );
        assert!(
            tail_from(&mut &b"<a>no merges</a>"[..], b"mergeCells")
                .unwrap()
                .is_empty()
        );
    }
}
