//! Limits that keep a hostile or broken file from using unbounded memory (cli.md: "What it
//! never does"): one cell of at most 1 MB, nesting of at most 1,000 levels, and, for the zip
//! containers (`.xlsx`, `.xlsb`, `.ods`), a scan of every part before calamine sees it.
//!
//! calamine streams the cells of a sheet, but it keeps shared strings whole, and its XML
//! reader holds any one text or tag whole; a few megabytes of zip can inflate to gigabytes of
//! one of those. So the parts are inflated here first, in a fixed buffer, checking the real
//! sizes (not the ones the zip directory claims), the CRC, the nesting, the length of each text
//! and tag, and the number of merged blocks.

use crate::message::Text;
use std::io::Read;
use std::path::Path;

/// Excel's limit for the text of one cell, in characters as Excel counts them ([`excel_len`]):
/// a longer value is refused by the check (`src/validate.rs`) and cut in the workbook of
/// rejected rows (`src/write.rs`), both through [`excel_cut`].
pub const MAX_CELL_CHARS: usize = 32_767;

/// A text's length as Excel (and rust_xlsxwriter) counts it: UTF-16 code units, so a character
/// outside the Basic Multilingual Plane (an emoji, a rare CJK ideograph) counts two.
pub fn excel_len(s: &str) -> usize {
    s.chars().map(char::len_utf16).sum()
}

/// Where `s` must be cut to fit one cell ([`MAX_CELL_CHARS`] as Excel counts): the byte index
/// of the first character that does not fit, `None` when it all fits.
pub fn excel_cut(s: &str) -> Option<usize> {
    // Fewer bytes than the limit: fewer UTF-16 units too.
    if s.len() <= MAX_CELL_CHARS {
        return None;
    }
    let mut units = 0;
    for (i, c) in s.char_indices() {
        units += c.len_utf16();
        if units > MAX_CELL_CHARS {
            return Some(i);
        }
    }
    None
}
/// The most UTF-8 bytes one cell may hold.
pub const MAX_CELL_BYTES: usize = 1 << 20;
/// The deepest nesting of elements in an HTML or XML file.
pub const MAX_DEPTH: usize = 1_000;
/// The most bytes one part of a zip container may inflate to (a 1,000,000-row sheet is about
/// 600 MB).
pub const MAX_PART_BYTES: u64 = 4 << 30;
/// The most bytes of shared strings (kept whole in memory by calamine).
pub const MAX_SHARED_STRINGS_BYTES: u64 = 300 << 20;
/// The most merged blocks in one sheet (each is kept in memory).
pub const MAX_MERGES: u64 = 1_000_000;
/// Excel's row count: an upload sheet cannot hold more, and each row read is kept.
pub const MAX_ROWS: u64 = 1_048_576;
/// The largest text file (CSV, HTML, Excel 2003 XML) read; it is held in memory whole.
pub const MAX_TEXT_BYTES: u64 = 400 << 20;
/// The largest HTML file: its parsed tree takes several times the size of the text.
pub const MAX_HTML_BYTES: u64 = 48 << 20;
/// The largest `.xls` (read whole by calamine; the format holds at most 65,536 rows).
pub const MAX_XLS_BYTES: u64 = 256 << 20;
/// The most cells of the grids calamine lays out for a whole `.xls` or `.ods` (every sheet at
/// once, from its first to its last cell, empty ones included; 32 bytes each, and the sheet
/// being read is copied once more). 65,536 rows of 64 columns; a real export is far smaller.
pub const MAX_GRID_CELLS: u64 = 1 << 22;
/// The most bytes of an `.xls`'s shared-string table (calamine keeps each string with a
/// 24-byte header, so tiny strings take up to ten times their size in memory).
pub const MAX_XLS_STRINGS_BYTES: u64 = 32 << 20;

/// A limit a file went over, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Limit {
    /// A cell (or a run of text) over [`MAX_CELL_BYTES`].
    Cell(Place),
    /// Nesting deeper than [`MAX_DEPTH`].
    Depth(Place),
    /// A part or a whole file bigger than its limit (bytes).
    Size { part: String, limit: u64 },
    /// More merged blocks than [`MAX_MERGES`].
    Merges { part: String },
    /// A row past [`MAX_ROWS`] (its 1-based number).
    Rows { row: u64 },
    /// A sheet of an `.xls` or `.ods` whose grid (declared, or spanned by its cells) takes the
    /// workbook past [`MAX_GRID_CELLS`].
    Grid { sheet: String, rows: u64, cols: u64 },
}

/// Where in a file: the sheet row when known, else the line of the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub part: String,
    /// The row number as Excel shows it (1-based).
    pub row: Option<u64>,
    /// The line in the part or text file (1-based).
    pub line: u64,
}

impl Place {
    /// Where, in both languages.
    pub fn message(&self) -> Text {
        let (part, line) = (&self.part, self.line);
        match self.row {
            Some(r) => Text::new(format!("第 {r} 行"), format!("row {r}")),
            None if part.is_empty() => Text::new(format!("第 {line} 行"), format!("line {line}")),
            None => Text::new(
                format!("文件内部「{part}」第 {line} 行"),
                format!("line {line} of part {part}"),
            ),
        }
    }
}

impl Limit {
    /// The limit and where it was hit, in both languages.
    pub fn message(&self) -> Text {
        match self {
            Limit::Cell(p) => {
                let p = p.message();
                Text::new(
                    format!(
                        "{}有一格内容超过 1 MB（{MAX_CELL_BYTES} 字节）的上限，不像是正常的导出",
                        p.zh
                    ),
                    format!(
                        "{} has a cell over the limit of 1 MB ({MAX_CELL_BYTES} bytes)",
                        p.en
                    ),
                )
            }
            Limit::Depth(p) => {
                let p = p.message();
                Text::new(
                    format!(
                        "{}的标签嵌套超过 {MAX_DEPTH} 层的上限，不像是正常的导出",
                        p.zh
                    ),
                    format!("{} nests deeper than the limit of {MAX_DEPTH} levels", p.en),
                )
            }
            Limit::Size { part, limit } => {
                let mb = limit >> 20;
                Text::new(
                    format!(
                        "「{part}」解压后超过 {mb} MB 的上限，不像是正常的导出（可能是“压缩炸弹”）"
                    ),
                    format!("{part} inflates to more than the limit of {mb} MB (a zip bomb?)"),
                )
            }
            Limit::Merges { part } => Text::new(
                format!("「{part}」的合并单元格超过 {MAX_MERGES} 个的上限，不像是正常的导出"),
                format!("{part} has more than the limit of {MAX_MERGES} merged blocks"),
            ),
            Limit::Rows { row } => Text::new(
                format!(
                    "在第 {row} 行还有数据，超过了 Excel 最多 {MAX_ROWS} 行的上限。请分成几个文件导出"
                ),
                format!("has data on row {row}, past Excel's limit of {MAX_ROWS} rows"),
            ),
            Limit::Grid { sheet, rows, cols } => Text::new(
                format!(
                    "的工作表「{sheet}」范围达 {rows} 行 × {cols} 列，超过了能读取的 {MAX_GRID_CELLS} 个单元格（文件已损坏，或对这种旧格式来说太大；请在原系统改为导出 .xlsx，或用 Excel/WPS 打开后另存为 .xlsx）"
                ),
                format!(
                    "sheet {sheet} spans {rows} rows x {cols} columns, past the limit of \
                     {MAX_GRID_CELLS} cells (damaged, or too large for this old format: export it \
                     as .xlsx)"
                ),
            ),
        }
    }
}

/// Why a zip container was refused before calamine read it.
pub(super) enum ZipProblem {
    Limit(Limit),
    /// Damaged: a bad CRC, a truncated entry (a short English reason).
    Corrupt(String),
}

/// Scans every part of a zip container (see the module comment).
pub(super) fn check_zip(path: &Path) -> Result<(), ZipProblem> {
    let file = std::fs::File::open(path).map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
    let zip = zip::ZipArchive::new(std::io::BufReader::new(file))
        .map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
    check_zip_except(zip, &|_| false)
}

/// Scans every part of a zip container but those `skip` names: the parts a reader of our own
/// reads with the same limits kept while it reads (`read::xlsx`).
pub(super) fn check_zip_except<R: Read + std::io::Seek>(
    mut zip: zip::ZipArchive<R>,
    skip: &dyn Fn(&str) -> bool,
) -> Result<(), ZipProblem> {
    for i in 0..zip.len() {
        let entry = zip
            .by_index(i)
            .map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
        if skip(&name) {
            continue;
        }
        let lower = name.to_ascii_lowercase();
        let limit = if lower.contains("sharedstrings") {
            MAX_SHARED_STRINGS_BYTES
        } else {
            MAX_PART_BYTES
        };
        scan_entry(entry, &name, limit, None)?;
    }
    Ok(())
}

/// Inflates part `name` whole, checked as [`check_zip`] checks it, and no bigger than `limit`.
pub(super) fn read_part<R: Read + std::io::Seek>(
    zip: &mut zip::ZipArchive<R>,
    name: &str,
    limit: u64,
) -> Result<Vec<u8>, ZipProblem> {
    let entry = zip
        .by_name(name)
        .map_err(|e| ZipProblem::Corrupt(format!("{name}: {e}")))?;
    let mut out = Vec::new();
    scan_entry(entry, name, limit, Some(&mut out))?;
    Ok(out)
}

/// Inflates one entry in a fixed buffer, checking its real size, its CRC and its XML (or
/// `.xlsb` records); keeps the bytes in `keep` when given.
fn scan_entry(
    mut entry: impl Read + ZipEntry,
    name: &str,
    limit: u64,
    mut keep: Option<&mut Vec<u8>>,
) -> Result<(), ZipProblem> {
    let lower = name.to_ascii_lowercase();
    if entry.declared_size() > limit {
        return Err(ZipProblem::Limit(Limit::Size {
            part: name.to_owned(),
            limit,
        }));
    }
    let expected_crc = entry.declared_crc();
    let mut scan = if lower.ends_with(".bin") {
        Scanner::Binary(BinScan::new(name))
    } else if lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".vml") {
        Scanner::Xml(Box::new(XmlScan::new(name)))
    } else {
        Scanner::None
    };
    let mut hasher = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match entry.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => return Err(ZipProblem::Corrupt(format!("{name}: {e}"))),
        };
        total += n as u64;
        if total > limit {
            return Err(ZipProblem::Limit(Limit::Size {
                part: name.to_owned(),
                limit,
            }));
        }
        hasher.update(&buf[..n]);
        match &mut scan {
            Scanner::Xml(s) => s.feed(&buf[..n]).map_err(ZipProblem::Limit)?,
            Scanner::Binary(s) => s.feed(&buf[..n]).map_err(ZipProblem::Limit)?,
            Scanner::None => {}
        }
        if let Some(out) = keep.as_deref_mut() {
            out.extend_from_slice(&buf[..n]);
        }
    }
    if hasher.finalize() != expected_crc {
        return Err(ZipProblem::Corrupt(format!("{name}: CRC mismatch")));
    }
    Ok(())
}

/// What [`scan_entry`] needs of a zip entry besides its bytes.
trait ZipEntry {
    fn declared_size(&self) -> u64;
    fn declared_crc(&self) -> u32;
}

impl<R: Read> ZipEntry for zip::read::ZipFile<'_, R> {
    fn declared_size(&self) -> u64 {
        self.size()
    }
    fn declared_crc(&self) -> u32 {
        self.crc32()
    }
}

enum Scanner {
    Xml(Box<XmlScan>),
    Binary(BinScan),
    None,
}

/// A byte-level XML scanner: no allocation per element, so it is safe on any input. It counts
/// nesting (start tags minus end tags), the length of each text and tag, the text of the
/// current cell, the line, the last `<row r="…">`, and the merged blocks.
pub(crate) struct XmlScan {
    part: String,
    state: XState,
    depth: usize,
    line: u64,
    row: Option<u64>,
    /// Bytes of the current text run, tag, comment or CDATA section.
    run: usize,
    /// Text bytes since the last cell (`c`, `si`, `is`, `table-cell`, `Cell`) started.
    cell: usize,
    merges: u64,
    /// The first bytes of the current tag (its name and a little more), for the checks above.
    head: Vec<u8>,
    /// The last byte of the tag before `>` (`/` for an empty element).
    last: u8,
    /// Digits of `r="…"` being read on a `<row` tag.
    row_attr: Option<u64>,
    /// Progress through `r="` inside a `<row` tag.
    attr_state: u8,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum XState {
    Text,
    Tag,
    /// Inside `<!-- … -->` or `<![CDATA[ … ]]>` or `<? … ?>`; the byte that ends it.
    Special(u8),
}

const HEAD_LEN: usize = 24;

impl XmlScan {
    pub(crate) fn new(part: &str) -> XmlScan {
        XmlScan {
            part: part.to_owned(),
            state: XState::Text,
            depth: 0,
            line: 1,
            row: None,
            run: 0,
            cell: 0,
            merges: 0,
            head: Vec::with_capacity(HEAD_LEN),
            last: 0,
            row_attr: None,
            attr_state: 0,
        }
    }

    fn place(&self) -> Place {
        Place {
            part: self.part.clone(),
            row: self.row,
            line: self.line,
        }
    }

    pub(crate) fn feed(&mut self, bytes: &[u8]) -> Result<(), Limit> {
        for &b in bytes {
            if b == b'\n' {
                self.line += 1;
            }
            self.run += 1;
            if self.run > MAX_CELL_BYTES {
                return Err(Limit::Cell(self.place()));
            }
            match self.state {
                XState::Text => {
                    if b == b'<' {
                        self.state = XState::Tag;
                        self.run = 0;
                        self.head.clear();
                        self.row_attr = None;
                        self.attr_state = 0;
                    } else {
                        self.cell += 1;
                        if self.cell > MAX_CELL_BYTES {
                            return Err(Limit::Cell(self.place()));
                        }
                    }
                }
                XState::Tag => {
                    if self.head.len() < HEAD_LEN {
                        self.head.push(b);
                        if self.head == b"!--" {
                            self.state = XState::Special(b'>');
                            continue;
                        }
                        if self.head == b"![CDATA[" {
                            // CDATA is text of the current cell.
                            self.state = XState::Special(b']');
                            continue;
                        }
                    }
                    if b == b'>' {
                        self.end_tag()?;
                        self.state = XState::Text;
                        self.run = 0;
                    } else {
                        self.row_attribute(b);
                        if !b.is_ascii_whitespace() {
                            self.last = b;
                        }
                    }
                }
                XState::Special(end) => {
                    if end == b']' {
                        self.cell += 1;
                        if self.cell > MAX_CELL_BYTES {
                            return Err(Limit::Cell(self.place()));
                        }
                    }
                    // `-->`, `]]>`, `?>`: a `>` after the closing mark ends it; a stray `>`
                    // in a comment only ends it early, which can only make us stricter.
                    if b == b'>' && (end == b'>' || self.last == b']') {
                        self.state = XState::Text;
                        self.run = 0;
                    }
                    self.last = b;
                }
            }
        }
        Ok(())
    }

    /// Reads `r="123"` of a `<row …>` tag as it goes by.
    fn row_attribute(&mut self, b: u8) {
        if !self.head_is(b"row") {
            return;
        }
        match (self.attr_state, b) {
            (0, b' ' | b'\t' | b'\n' | b'\r') => self.attr_state = 1,
            (1, b'r') => self.attr_state = 2,
            (2, b'=') => self.attr_state = 3,
            (3, b'"' | b'\'') => {
                self.attr_state = 4;
                self.row_attr = Some(0);
            }
            (4, b'0'..=b'9') => {
                self.row_attr = self
                    .row_attr
                    .map(|r| r.saturating_mul(10).saturating_add(u64::from(b - b'0')));
            }
            (4, _) => self.attr_state = 5,
            (1..=3, b' ' | b'\t' | b'\n' | b'\r') => self.attr_state = 1,
            (5, _) => {}
            _ => self.attr_state = 0,
        }
    }

    /// Whether the tag's local name (after any `prefix:`) is `name`.
    fn head_is(&self, name: &[u8]) -> bool {
        let h = &self.head;
        let h = h.strip_prefix(b"/").unwrap_or(h);
        let end = h
            .iter()
            .position(|c| c.is_ascii_whitespace() || *c == b'>' || *c == b'/')
            .unwrap_or(h.len());
        let tag = &h[..end];
        let local = match tag.iter().position(|c| *c == b':') {
            Some(i) => &tag[i + 1..],
            None => tag,
        };
        local == name
    }

    fn end_tag(&mut self) -> Result<(), Limit> {
        // `<?xml …?>`, `<!DOCTYPE …>`: no element.
        if matches!(self.head.first(), Some(b'?' | b'!')) {
            self.last = 0;
            return Ok(());
        }
        let closing = self.head.first() == Some(&b'/');
        let empty = self.last == b'/';
        if self.head_is(b"row")
            && !closing
            && let Some(r) = self.row_attr
        {
            self.row = Some(r);
        }
        if !closing
            && (self.head_is(b"c")
                || self.head_is(b"si")
                || self.head_is(b"is")
                || self.head_is(b"table-cell")
                || self.head_is(b"Cell")
                || self.head_is(b"row")
                || self.head_is(b"table-row"))
        {
            self.cell = 0;
        }
        if !closing && self.head_is(b"mergeCell") {
            self.merges += 1;
            if self.merges > MAX_MERGES {
                return Err(Limit::Merges {
                    part: self.part.clone(),
                });
            }
        }
        if closing {
            self.depth = self.depth.saturating_sub(1);
        } else if !empty {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err(Limit::Depth(self.place()));
            }
        }
        self.last = 0;
        Ok(())
    }
}

/// The records of a `.xlsb` part: a type (1-2 bytes) and a length (1-4 bytes, 7 bits each),
/// then the body. A record longer than a cell may be is refused before calamine allocates it.
struct BinScan {
    part: String,
    /// Bytes of the body still to skip.
    skip: u64,
    state: BState,
    len: u64,
    shift: u32,
    records: u64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BState {
    Type0,
    Type1,
    Len(u8),
}

/// A record may hold one cell's text as UTF-16 (2 bytes a character) with some room.
const MAX_RECORD: u64 = (2 * MAX_CELL_BYTES as u64) + 1024;

impl BinScan {
    fn new(part: &str) -> BinScan {
        BinScan {
            part: part.to_owned(),
            skip: 0,
            state: BState::Type0,
            len: 0,
            shift: 0,
            records: 0,
        }
    }

    fn feed(&mut self, mut bytes: &[u8]) -> Result<(), Limit> {
        while !bytes.is_empty() {
            if self.skip > 0 {
                let n = (self.skip.min(bytes.len() as u64)) as usize;
                self.skip -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let b = bytes[0];
            bytes = &bytes[1..];
            match self.state {
                BState::Type0 => {
                    self.state = if b & 0x80 != 0 {
                        BState::Type1
                    } else {
                        BState::Len(0)
                    };
                    self.len = 0;
                    self.shift = 0;
                }
                BState::Type1 => self.state = BState::Len(0),
                BState::Len(i) => {
                    self.len |= u64::from(b & 0x7F) << self.shift;
                    self.shift += 7;
                    if b & 0x80 != 0 && i < 3 {
                        self.state = BState::Len(i + 1);
                    } else {
                        self.records += 1;
                        if self.len > MAX_RECORD {
                            return Err(Limit::Cell(Place {
                                part: self.part.clone(),
                                row: None,
                                line: self.records,
                            }));
                        }
                        self.skip = self.len;
                        self.state = BState::Type0;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cell_is_cut_where_excel_counts_its_limit() {
        assert_eq!(excel_len("a址😀"), 4);
        assert_eq!(excel_cut(&"a".repeat(MAX_CELL_CHARS)), None);
        assert_eq!(
            excel_cut(&"a".repeat(MAX_CELL_CHARS + 1)),
            Some(MAX_CELL_CHARS)
        );
        assert_eq!(excel_cut(&"址".repeat(MAX_CELL_CHARS)), None);
        assert_eq!(
            excel_cut(&"址".repeat(MAX_CELL_CHARS + 1)),
            Some(3 * MAX_CELL_CHARS)
        );
        // 16,383 emoji are 32,766 units; the next one would be 32,768.
        assert_eq!(excel_cut(&"😀".repeat(16_383)), None);
        assert_eq!(excel_cut(&"😀".repeat(16_384)), Some(4 * 16_383));
        let mixed = format!("{}😀", "a".repeat(MAX_CELL_CHARS - 1));
        assert_eq!(excel_cut(&mixed), Some(MAX_CELL_CHARS - 1));
    }

    fn scan(text: &str) -> Result<(), Limit> {
        let mut s = XmlScan::new("xl/worksheets/sheet1.xml");
        // Feed in odd pieces: limits must not depend on where the buffer splits.
        for chunk in text.as_bytes().chunks(7) {
            s.feed(chunk)?;
        }
        Ok(())
    }

    #[test]
    fn ordinary_xml_passes() {
        let x = r#"<?xml version="1.0"?><!-- a > b --><worksheet><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row><row r="2"/></sheetData><mergeCells count="1"><mergeCell ref="A1:B1"/></mergeCells></worksheet>"#;
        assert_eq!(scan(x), Ok(()));
        assert_eq!(scan("<a><![CDATA[<b><c><d>]]></a>"), Ok(()));
    }

    #[test]
    fn deep_nesting_is_refused_at_the_limit() {
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert_eq!(scan(&ok), Ok(()));
        let deep = format!("<x>\n{}", "<a>".repeat(MAX_DEPTH));
        assert!(matches!(
            scan(&deep),
            Err(Limit::Depth(Place { line: 2, .. }))
        ));
    }

    #[test]
    fn a_huge_cell_names_its_row() {
        let big = "x".repeat(MAX_CELL_BYTES + 1);
        let x = format!(
            r#"<sheetData><row r="7" spans="1:2"><c r="A7" t="inlineStr"><is><t>{big}</t></is></c></row></sheetData>"#
        );
        let e = scan(&x).unwrap_err();
        assert!(
            matches!(&e, Limit::Cell(Place { row: Some(7), .. })),
            "{e:?}"
        );
        let zh = e.message().zh;
        assert!(zh.contains("第 7 行") && zh.contains("1 MB"), "{zh}");
        // Many runs of one shared string add up.
        let runs = format!(
            "<sst><si>{}</si></sst>",
            "<r><t>yyyy</t></r>".repeat(MAX_CELL_BYTES / 4 + 1)
        );
        assert!(matches!(scan(&runs), Err(Limit::Cell(_))));
        // White space between elements counts as a run too.
        let ws = format!("<a>{}</a>", " ".repeat(MAX_CELL_BYTES + 1));
        assert!(scan(&ws).is_err());
        // A huge tag (attribute) as well.
        let tag = format!("<a b=\"{}\"/>", "q".repeat(MAX_CELL_BYTES + 1));
        assert!(scan(&tag).is_err());
    }

    #[test]
    fn merged_blocks_are_counted() {
        let mut s = XmlScan::new("sheet");
        s.feed(b"<mergeCells>").unwrap();
        let one = b"<mergeCell ref=\"A1:B2\"/>";
        for _ in 0..MAX_MERGES {
            s.feed(one).unwrap();
        }
        assert!(matches!(s.feed(one), Err(Limit::Merges { .. })));
    }

    #[test]
    fn long_binary_records_are_refused() {
        let mut s = BinScan::new("xl/sharedStrings.bin");
        // Type 0x13 (BrtSSTItem), length 3, body.
        s.feed(&[0x13, 0x03, 1, 2, 3]).unwrap();
        // Length 0x7F_FFFF_FF (4 bytes of 7 bits).
        assert!(s.feed(&[0x13, 0xFF, 0xFF, 0xFF, 0x7F]).is_err());
    }
}
