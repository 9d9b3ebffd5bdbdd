//! CSV and tab-separated text, through the `csv` crate.
//!
//! The rows are parsed again on each pass rather than held as cells: a 1,000,000-row CSV as
//! cells takes several times its size. A file is streamed from disk on each pass (decoded and
//! its line ends made `\n` as it goes), so not even its text is held: a 1,000,000-row CSV is
//! read in the memory of its batch. Line ends are made `\n` so a file saved with CRLF (Windows)
//! or CR (old Mac) gives the same row numbers as one with LF.

use super::limits::{self, Limit, Place};
use super::{Cell, ReadError};
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// A CSV sheet: its name, where its text comes from, and its delimiter.
pub(crate) struct CsvSheet {
    pub name: String,
    source: Source,
    delimiter: u8,
}

enum Source {
    /// Decoded text (line ends made `\n`, no BOM): small texts and tests.
    Text(String),
    /// A file read anew on each pass in `encoding` (a BOM is taken off).
    File {
        path: PathBuf,
        encoding: &'static encoding_rs::Encoding,
    },
}

/// Bytes read from the file at a time.
const CHUNK: usize = 256 * 1024;

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
        CsvSheet {
            name: sheet_name(path),
            source: Source::Text(text),
            delimiter,
        }
    }

    /// A CSV file streamed from disk on each pass; `head` is its decoded beginning, for the
    /// delimiter. The encoding is found as `read::decode_text` finds it, in one pass over the
    /// bytes that keeps none of them.
    pub fn streamed(path: &Path, head: &str) -> std::io::Result<CsvSheet> {
        let encoding = detect_encoding(path)?;
        let head = unify_line_ends(head.trim_start_matches('\u{feff}').to_owned());
        Ok(CsvSheet {
            name: sheet_name(path),
            source: Source::File {
                path: path.to_owned(),
                encoding,
            },
            delimiter: guess_delimiter(&head),
        })
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

    /// The number of lines (for progress; of a file, counted in its bytes).
    pub fn line_count(&self) -> u32 {
        let lines = match &self.source {
            Source::Text(text) => memchr::memchr_iter(b'\n', text.as_bytes()).count(),
            Source::File { path, .. } => count_line_ends(path).unwrap_or(0),
        };
        u32::try_from(lines + 1).unwrap_or(u32::MAX)
    }

    fn reader(&self) -> csv::Reader<Box<dyn Read + '_>> {
        let input: Box<dyn Read + '_> = match &self.source {
            Source::Text(text) => Box::new(text.as_bytes()),
            Source::File { path, encoding } => match std::fs::File::open(path) {
                Ok(file) => Box::new(Decoded::new(file, encoding)),
                Err(e) => Box::new(Failing(Some(e))),
            },
        };
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(self.delimiter)
            .from_reader(input)
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
                Err(e) if e.is_io_error() => {
                    return Err(ReadError::Io {
                        path: path.to_owned(),
                        reason: match e.into_kind() {
                            csv::ErrorKind::Io(e) => super::io_message(&e),
                            _ => String::new(),
                        },
                    });
                }
                // Only invalid UTF-8 can fail here, and the text is already decoded: skip the row.
                Err(_) => continue,
            }
        }
    }
}

fn sheet_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Sheet1".to_owned())
}

/// A file that could not be opened again: the error on the first read.
struct Failing(Option<std::io::Error>);

impl Read for Failing {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(self
            .0
            .take()
            .unwrap_or_else(|| std::io::Error::other("unreadable")))
    }
}

/// The encoding `read::decode_text` would choose for the whole file (a BOM wins; then UTF-8
/// if valid or only slightly damaged; else GB18030), found chunk by chunk.
fn detect_encoding(path: &Path) -> std::io::Result<&'static encoding_rs::Encoding> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; CHUNK + 4];
    let mut carry = 0usize;
    let (mut good, mut bad) = (0usize, 0usize);
    let mut first = true;
    loop {
        let n = file.read(&mut buf[carry..])?;
        let len = carry + n;
        if first {
            first = false;
            if let Some((enc, _)) = encoding_rs::Encoding::for_bom(&buf[..len]) {
                return Ok(enc);
            }
        }
        let end = n == 0;
        let mut rest = &buf[..len];
        loop {
            match std::str::from_utf8(rest) {
                Ok(s) => {
                    good += count_multibyte(s.as_bytes());
                    rest = &[];
                    break;
                }
                Err(e) => {
                    good += count_multibyte(&rest[..e.valid_up_to()]);
                    match e.error_len() {
                        // Cut at the end of the chunk: finish it with the next one.
                        None if !end => {
                            rest = &rest[e.valid_up_to()..];
                            break;
                        }
                        skip => {
                            if e.valid_up_to() > 0 || bad == 0 {
                                bad += 1;
                            }
                            let at = e.valid_up_to() + skip.unwrap_or(rest.len()).max(1);
                            rest = &rest[at.min(rest.len())..];
                        }
                    }
                }
            }
        }
        carry = rest.len();
        let keep = len - carry;
        buf.copy_within(keep..len, 0);
        if end {
            break;
        }
    }
    Ok(if bad == 0 || (good >= 8 && bad * 10 <= good) {
        encoding_rs::UTF_8
    } else {
        encoding_rs::GB18030
    })
}

/// Characters of two bytes or more in valid UTF-8 (their lead bytes).
fn count_multibyte(b: &[u8]) -> usize {
    b.iter().filter(|&&c| c >= 0xC0).count()
}

fn count_line_ends(path: &Path) -> std::io::Result<usize> {
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; CHUNK];
    let (mut lf, mut cr) = (0, 0);
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(lf.max(cr));
        }
        lf += memchr::memchr_iter(b'\n', &buf[..n]).count();
        cr += memchr::memchr_iter(b'\r', &buf[..n]).count();
    }
}

/// A file decoded to UTF-8 as it is read (malformed bytes become U+FFFD, a BOM is taken
/// off), CRLF and lone CR made LF.
struct Decoded<R> {
    inner: R,
    decoder: encoding_rs::Decoder,
    raw: Vec<u8>,
    out: Vec<u8>,
    pos: usize,
    end: bool,
    /// The last byte given out was a CR made LF: an LF right after it is dropped.
    after_cr: bool,
}

impl<R: Read> Decoded<R> {
    fn new(inner: R, encoding: &'static encoding_rs::Encoding) -> Self {
        Decoded {
            inner,
            decoder: encoding.new_decoder_with_bom_removal(),
            raw: vec![0; CHUNK],
            out: Vec::new(),
            pos: 0,
            end: false,
            after_cr: false,
        }
    }

    fn refill(&mut self) -> std::io::Result<()> {
        let n = self.inner.read(&mut self.raw)?;
        let last = n == 0;
        let room = self.decoder.max_utf8_buffer_length(n).unwrap_or(n * 3 + 16);
        let mut decoded = vec![0u8; room];
        let (_, _, written, _) = self
            .decoder
            .decode_to_utf8(&self.raw[..n], &mut decoded, last);
        decoded.truncate(written);
        self.out.clear();
        self.pos = 0;
        for b in decoded {
            match b {
                b'\r' => {
                    self.out.push(b'\n');
                    self.after_cr = true;
                }
                b'\n' if self.after_cr => self.after_cr = false,
                _ => {
                    self.out.push(b);
                    self.after_cr = false;
                }
            }
        }
        self.end = last;
        Ok(())
    }
}

impl<R: Read> Read for Decoded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.pos == self.out.len() {
            if self.end {
                return Ok(0);
            }
            self.refill()?;
        }
        let n = buf.len().min(self.out.len() - self.pos);
        buf[..n].copy_from_slice(&self.out[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
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
    fn a_streamed_file_gives_the_rows_of_its_text() {
        let dir = tempfile::tempdir().unwrap();
        let text = "标题\r\n姓名,备注\r\n张三,\"a\r\nb\"\r\n李四,c\r";
        let expected = rows(text);
        let (gbk, _, _) = encoding_rs::GB18030.encode(text);
        let bom = [&[0xEF, 0xBB, 0xBF][..], text.as_bytes()].concat();
        for bytes in [text.as_bytes().to_vec(), gbk.into_owned(), bom] {
            let path = dir.path().join("x.csv");
            std::fs::write(&path, &bytes).unwrap();
            let sheet = CsvSheet::streamed(&path, &super::super::decode_text(&bytes)).unwrap();
            let mut got = Vec::new();
            sheet
                .for_each_row(&path, &mut |r, c| {
                    got.push((r, c));
                    ControlFlow::Continue(())
                })
                .unwrap();
            assert_eq!(got, expected);
            assert!(sheet.looks_like_table());
        }
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
