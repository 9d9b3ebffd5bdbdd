//! CSV and tab-separated text (already decoded), through the `csv` crate.
//!
//! The text is kept and parsed again on each pass rather than held as cells: a 1,000,000-row
//! CSV as cells takes several times its size. Line ends are made `\n` first, so a file saved
//! with CRLF (Windows) or CR (old Mac) gives the same row numbers as one with LF.

use super::limits::{self, Limit, Place};
use super::{Cell, ReadError};
use std::ops::ControlFlow;
use std::path::Path;

/// A CSV sheet: its name and its text (line ends made `\n`, no BOM).
pub(crate) struct CsvSheet {
    pub name: String,
    text: String,
    delimiter: u8,
}

impl CsvSheet {
    /// Takes decoded CSV text. The delimiter (comma, tab or semicolon) is the one most common
    /// on the first lines.
    pub fn new(text: String, path: &Path) -> CsvSheet {
        let text = match text.strip_prefix('\u{feff}') {
            Some(rest) => rest.to_owned(),
            None => text,
        };
        let text = unify_line_ends(text);
        let delimiter = guess_delimiter(&text);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Sheet1".to_owned());
        CsvSheet {
            name,
            text,
            delimiter,
        }
    }

    /// Whether the text looks like a table: at least two lines (or the only line) split into
    /// the same number (two or more) of fields. Prose and logs do not.
    pub fn looks_like_table(&self) -> bool {
        let mut counts = std::collections::HashMap::<usize, usize>::new();
        let mut lines = 0;
        let mut reader = self.reader();
        let mut record = csv::StringRecord::new();
        while lines < 50 {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    if record.iter().all(|f| f.trim().is_empty()) {
                        continue;
                    }
                    lines += 1;
                    if record.len() >= 2 {
                        *counts.entry(record.len()).or_default() += 1;
                    }
                }
                Ok(false) => break,
                Err(_) => return false,
            }
        }
        let best = counts.values().copied().max().unwrap_or(0);
        best >= 2.min(lines).max(1)
    }

    /// The number of lines (for progress).
    pub fn line_count(&self) -> u32 {
        u32::try_from(memchr::memchr_iter(b'\n', self.text.as_bytes()).count() + 1)
            .unwrap_or(u32::MAX)
    }

    fn reader(&self) -> csv::Reader<&[u8]> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .from_reader(self.text.as_bytes())
    }

    /// Streams the rows: `(line - 1, cells)`, the line a text editor shows for the row's start.
    /// A cell over [`limits::MAX_CELL_BYTES`] refuses the file, naming the line.
    pub fn for_each_row(
        &self,
        path: &Path,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<(), ReadError> {
        let mut reader = self.reader();
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {
                    let line = record.position().map_or(1, |p| p.line());
                    if line > limits::MAX_ROWS {
                        return Err(ReadError::Limit {
                            path: path.to_owned(),
                            limit: Limit::Rows { row: line },
                        });
                    }
                    if record.iter().any(|v| v.len() > limits::MAX_CELL_BYTES) {
                        return Err(ReadError::Limit {
                            path: path.to_owned(),
                            limit: Limit::Cell(Place {
                                part: String::new(),
                                row: None,
                                line,
                            }),
                        });
                    }
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
                    let index = u32::try_from(line.saturating_sub(1)).unwrap_or(u32::MAX);
                    if f(index, cells).is_break() {
                        return Ok(());
                    }
                }
                Ok(false) => return Ok(()),
                // Only invalid UTF-8 can fail here, and the text is already decoded: skip the row.
                Err(_) => continue,
            }
        }
    }
}

/// CRLF and lone CR become LF (also inside quoted cells, where a line break is a line break).
fn unify_line_ends(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
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

    fn rows(text: &str) -> Vec<(u32, Vec<Cell>)> {
        let sheet = CsvSheet::new(text.to_owned(), Path::new("x.csv"));
        let mut out = Vec::new();
        sheet
            .for_each_row(Path::new("x.csv"), &mut |r, c| {
                out.push((r, c));
                ControlFlow::Continue(())
            })
            .unwrap();
        out
    }

    #[test]
    fn comma_tab_and_quoted_lines() {
        let s = rows("姓名,备注\n张三,\"a\nb\"\n李四,c\n");
        assert_eq!(s.len(), 3);
        assert_eq!(s[2].0, 3, "李四 starts on line 4 -> index 3");
        let t = rows("a\tb\n1\t2\n");
        assert_eq!(t[1].1, vec![Cell::Text("1".into()), Cell::Text("2".into())]);
    }

    #[test]
    fn crlf_cr_and_lf_give_the_same_rows() {
        let lf = "标题\n姓名,备注\n张三,\"a\nb\"\n李四,c\n";
        let expected = rows(lf);
        assert_eq!(expected[3].0, 4);
        assert_eq!(rows(&lf.replace('\n', "\r\n")), expected);
        assert_eq!(rows(&lf.replace('\n', "\r")), expected);
    }

    #[test]
    fn a_cell_over_the_limit_names_its_line() {
        let text = format!("a,b\n1,2\n3,{}\n", "x".repeat(limits::MAX_CELL_BYTES + 1));
        let sheet = CsvSheet::new(text, Path::new("x.csv"));
        let e = sheet
            .for_each_row(Path::new("x.csv"), &mut |_, _| ControlFlow::Continue(()))
            .unwrap_err();
        assert!(e.to_string().contains("第 3 行"), "{e}");
        assert!(e.to_string().contains("1 MB"), "{e}");
    }

    #[test]
    fn prose_is_not_a_table() {
        let table = |t: &str| CsvSheet::new(t.to_owned(), Path::new("x.csv")).looks_like_table();
        assert!(table("姓名,证件号码\n张三,1\n"));
        assert!(table("标题\n\n姓名,证件号码,电话\n张三,1,2\n"));
        assert!(!table(
            "今天天气很好。我们去检测点采样。\n采样完成后回家。\n"
        ));
        assert!(!table(
            "2026-11-27 10:00:01 INFO started\n2026-11-27 10:00:02 WARN slow disk\n"
        ));
    }
}
