//! CSV and tab-separated text (already decoded), through the `csv` crate.

use super::{Cell, MemorySheet};
use std::path::Path;

/// Parses CSV text. The delimiter (comma, tab or semicolon) is the one most common on the first
/// lines. Row numbers are line numbers (the first line is row 1), as a text editor shows them.
pub(super) fn parse(text: &str, path: &Path) -> MemorySheet {
    let text = text.trim_start_matches('\u{feff}');
    let delimiter = guess_delimiter(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .delimiter(delimiter)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {
                let line = record.position().map_or(1, |p| p.line()) as u32;
                let cells: Vec<Cell> = record
                    .iter()
                    .map(|v| {
                        if v.is_empty() {
                            Cell::Empty
                        } else {
                            Cell::Text(v.to_owned())
                        }
                    })
                    .collect();
                rows.push((line.saturating_sub(1), cells));
            }
            Ok(false) => break,
            // Only invalid UTF-8 can fail here, and the text is already decoded: skip the row.
            Err(_) => continue,
        }
    }
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Sheet1".to_owned());
    MemorySheet {
        name,
        rows,
        merges: Vec::new(),
    }
}

fn guess_delimiter(text: &str) -> u8 {
    let sample: Vec<&str> = text.lines().take(20).collect();
    [b',', b'\t', b';']
        .into_iter()
        .max_by_key(|d| {
            sample
                .iter()
                .map(|l| l.bytes().filter(|b| b == d).count())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(b',')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comma_tab_and_quoted_lines() {
        let s = parse("姓名,备注\n张三,\"a\nb\"\n李四,c\n", Path::new("x.csv"));
        assert_eq!(s.rows.len(), 3);
        assert_eq!(s.rows[2].0, 3, "李四 starts on line 4 -> index 3");
        let t = parse("a\tb\n1\t2\n", Path::new("x.csv"));
        assert_eq!(
            t.rows[1].1,
            vec![Cell::Text("1".into()), Cell::Text("2".into())]
        );
    }
}
