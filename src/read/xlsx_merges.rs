//! The merged ranges of one `.xlsx` sheet, found fast.
//!
//! calamine finds them by parsing every XML event of the sheet again, which for a 1,000,000-row
//! export takes two thirds as long as reading the cells. Merged ranges sit after the cell data,
//! so here the sheet is only inflated and searched for `mergeCells`, and just that tail is
//! parsed (quick-xml). The pipeline runs this beside the cell reader.

use super::Merge;
use quick_xml::events::Event;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use zip::ZipArchive;

/// The merged ranges of `sheet`, or `Err` (a short English reason) when the workbook's layout is
/// not the usual one; the caller then falls back to calamine.
pub(super) fn merges(path: &Path, sheet: &str) -> Result<Vec<Merge>, String> {
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

fn read_entry<R: Read + std::io::Seek>(
    zip: &mut ZipArchive<R>,
    name: &str,
) -> Result<Vec<u8>, String> {
    let mut entry = zip.by_name(name).map_err(|e| format!("{name}: {e}"))?;
    let mut buf = Vec::new();
    entry.read_to_end(&mut buf).map_err(|e| e.to_string())?;
    Ok(buf)
}

fn attr(e: &quick_xml::events::BytesStart<'_>, local: &str) -> Option<String> {
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

/// Streams `reader` and returns everything from the first `<needle` (or `<prefix:needle`) on;
/// empty when it never occurs. Only a window is kept while searching.
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
                reader.read_to_end(&mut tail)?;
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
fn parse_range(s: &str) -> Option<Merge> {
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
