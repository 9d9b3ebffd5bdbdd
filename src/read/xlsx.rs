//! `.xlsx` (and `.xlsm`) read in one pass: our own streaming reader of the sheet XML, with the
//! limits of `read::limits` enforced while it reads, so the 600 MB sheet of a 1,000,000-row
//! export is inflated and tokenized once (not scanned first and parsed again by calamine, nor
//! inflated a third time for its merged blocks, which are taken from the same pass).
//!
//! The small parts (workbook, relationships, styles, shared strings) are inflated here through
//! [`limits::read_part`] (real size, CRC, nesting, text and tag lengths). A workbook whose layout
//! is not the usual one (no `xl/workbook.xml`, a sheet whose part is missing) is left to calamine
//! behind the full scan of `limits::check_zip`, as before.
//!
//! Cells are read as calamine reads them (its `XlsxCellReader`): the same types (`s`, `str`,
//! `inlineStr`, `b`, `e`, `d`, numbers), dates by the cell's number format, rich text joined,
//! phonetic runs left out, `_xHHHH_` escapes, and `<c>` and `<row>` elements without content
//! passed over.
// Over 600 lines: the tokenizer, the workbook's small parts and the cell reader are one reader.

use super::cells::{RowAssembler, RowError, date_cell, iso_cell};
use super::limits::{self, Limit, Place, ZipProblem};
use super::{Cell, Merge};
use std::fs::File;
use std::io::{BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use zip::ZipArchive;

type Zip = ZipArchive<BufReader<File>>;

/// The largest workbook, relationships or styles part read whole (a real one is a few KB).
const MAX_META_BYTES: u64 = 64 << 20;
/// Bytes inflated at a time.
const CHUNK: usize = 256 * 1024;

/// An opened `.xlsx`: its worksheets, shared strings and which styles are dates.
pub(super) struct Xlsx {
    path: PathBuf,
    /// (name, zip entry) of each worksheet, in workbook order.
    sheets: Vec<(String, String)>,
    strings: Strings,
    /// Per cell style (`s`), the kind of its number format.
    formats: Vec<NumFormat>,
    date_1904: bool,
    /// The merged blocks of the sheets read to the end, found in the same pass.
    merges: Vec<(String, Vec<Merge>)>,
}

/// Shared strings in one buffer: a million strings in one allocation, not a million.
#[derive(Default)]
struct Strings {
    text: String,
    ends: Vec<u32>,
}

impl Strings {
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum NumFormat {
    Other,
    Date,
    /// `[h]:mm:ss`: a duration, kept as a number.
    Duration,
}

impl Xlsx {
    /// Opens `path` when it has the usual layout; `Ok(None)` otherwise (then calamine reads it).
    /// Every part this reader does not stream itself is checked by `limits::check_zip` here.
    pub fn open(path: &Path) -> Result<Option<Xlsx>, ZipProblem> {
        let mut zip = open_zip(path)?;
        if zip.index_for_name("xl/workbook.xml").is_none()
            || zip.index_for_name("xl/_rels/workbook.xml.rels").is_none()
        {
            return Ok(None);
        }
        let workbook = limits::read_part(&mut zip, "xl/workbook.xml", MAX_META_BYTES)?;
        let rels = limits::read_part(&mut zip, "xl/_rels/workbook.xml.rels", MAX_META_BYTES)?;
        let Some((sheets, date_1904)) = sheet_list(&workbook, &rels) else {
            return Ok(None);
        };
        if sheets.iter().any(|(_, e)| zip.index_for_name(e).is_none()) {
            return Ok(None);
        }
        let formats = match zip.index_for_name("xl/styles.xml") {
            Some(_) => styles(&limits::read_part(
                &mut zip,
                "xl/styles.xml",
                MAX_META_BYTES,
            )?),
            None => Vec::new(),
        };
        let strings = match find_entry(&zip, "xl/sharedstrings.xml") {
            Some(name) => shared_strings(&mut zip, &name)?,
            None => Strings::default(),
        };
        // The rest (themes, drawings, other parts): scanned as before, but not the sheets, which
        // are streamed below with the same limits, nor the parts just read.
        let ours = |name: &str| {
            let lower = name.to_ascii_lowercase();
            sheets.iter().any(|(_, e)| e == name)
                || matches!(
                    lower.as_str(),
                    "xl/workbook.xml"
                        | "xl/_rels/workbook.xml.rels"
                        | "xl/styles.xml"
                        | "xl/sharedstrings.xml"
                )
        };
        limits::check_zip_except(zip, &ours)?;
        Ok(Some(Xlsx {
            path: path.to_owned(),
            sheets,
            strings,
            formats,
            date_1904,
            merges: Vec::new(),
        }))
    }

    pub fn sheet_names(&self) -> Vec<String> {
        self.sheets.iter().map(|(n, _)| n.clone()).collect()
    }

    pub fn date_1904(&self) -> bool {
        self.date_1904
    }

    fn entry(&self, sheet: &str) -> Result<&str, RowError> {
        self.sheets
            .iter()
            .find(|(n, _)| n == sheet)
            .map(|(_, e)| e.as_str())
            .ok_or_else(|| RowError::Corrupt(format!("no sheet {sheet}")))
    }

    /// The last row the sheet declares (`<dimension>`), read from its first bytes only.
    pub fn row_count_hint(&self, sheet: &str) -> Option<u32> {
        let entry = self.entry(sheet).ok()?.to_owned();
        let mut zip = open_zip(&self.path).ok()?;
        let file = zip.by_name(&entry).ok()?;
        let mut tok = Tokenizer::new(Counted::new(file, &entry), &entry);
        // `<dimension>` comes near the start; a sheet that holds it back gets no hint.
        for _ in 0..10_000 {
            match tok.next().ok()?? {
                Token::Start { name, attrs, .. } if name == b"dimension" => {
                    let dim = attr(attrs, b"ref")?;
                    let last = dim.rsplit(|b| *b == b':').next()?;
                    let last = std::str::from_utf8(last).ok()?;
                    return cell_ref(last).map(|(r, _)| r + 1);
                }
                Token::Start { name, .. } if name == b"sheetData" => return None,
                _ => {}
            }
        }
        None
    }

    /// Streams the rows of `sheet` (see `Workbook::for_each_row`); its merged blocks are kept
    /// when the sheet is read to the end.
    pub fn for_each_row(
        &mut self,
        sheet: &str,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<(), RowError> {
        let entry = self.entry(sheet)?.to_owned();
        let mut zip = open_zip(&self.path).map_err(problem)?;
        let file = zip
            .by_name(&entry)
            .map_err(|e| RowError::Corrupt(format!("{entry}: {e}")))?;
        let mut reader = SheetReader {
            tok: Tokenizer::new(Counted::new(file, &entry), &entry),
            strings: &self.strings,
            formats: &self.formats,
            date_1904: self.date_1904,
            row: 0,
            col: 0,
            text: String::new(),
        };
        let mut rows = RowAssembler::default();
        let mut merges = Merges::new(&entry);
        if reader.rows(&mut rows, &mut merges, f)?.is_break() {
            return Ok(());
        }
        rows.finish(f);
        merge_cells(&mut reader.tok, &mut merges)?;
        self.merges.retain(|(n, _)| n != sheet);
        self.merges.push((sheet.to_owned(), merges.list));
        Ok(())
    }

    /// The merged blocks of `sheet`: from the last full read, else from a pass over the sheet.
    pub fn merges(&mut self, sheet: &str) -> Result<Vec<Merge>, RowError> {
        if let Some((_, m)) = self.merges.iter().find(|(n, _)| n == sheet) {
            return Ok(m.clone());
        }
        let entry = self.entry(sheet)?.to_owned();
        let mut zip = open_zip(&self.path).map_err(problem)?;
        let file = zip
            .by_name(&entry)
            .map_err(|e| RowError::Corrupt(format!("{entry}: {e}")))?;
        let mut tok = Tokenizer::new(Counted::new(file, &entry), &entry);
        let mut merges = Merges::new(&entry);
        merge_cells(&mut tok, &mut merges)?;
        self.merges.push((sheet.to_owned(), merges.list.clone()));
        Ok(merges.list)
    }
}

fn open_zip(path: &Path) -> Result<Zip, ZipProblem> {
    let file = File::open(path).map_err(|e| ZipProblem::Corrupt(e.to_string()))?;
    ZipArchive::new(BufReader::with_capacity(CHUNK, file))
        .map_err(|e| ZipProblem::Corrupt(e.to_string()))
}

fn problem(p: ZipProblem) -> RowError {
    match p {
        ZipProblem::Limit(l) => RowError::Limit(l),
        ZipProblem::Corrupt(d) => RowError::Corrupt(d),
    }
}

/// The entry named `lower` in any letter case.
fn find_entry(zip: &Zip, lower: &str) -> Option<String> {
    zip.file_names()
        .find_map(|n| n.ok().filter(|n| n.eq_ignore_ascii_case(lower)))
        .map(|n| n.into_owned())
}

/// The worksheets (name, entry) in workbook order, and the 1904 flag; `None` when a sheet's
/// relationship cannot be followed.
fn sheet_list(workbook: &[u8], rels: &[u8]) -> Option<(Vec<(String, String)>, bool)> {
    use quick_xml::events::Event;
    let text = String::from_utf8_lossy(workbook);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut listed = Vec::new();
    let mut date_1904 = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().into_inner() {
                "sheet" => {
                    let name = super::merged::attr(&e, "name")?;
                    let id = super::merged::attr(&e, "id")?;
                    listed.push((name, id));
                }
                "workbookPr" => {
                    date_1904 = super::merged::attr(&e, "date1904")
                        .is_some_and(|v| v == "1" || v.eq_ignore_ascii_case("true"));
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Err(_) => return None,
            _ => {}
        }
    }
    let mut sheets = Vec::new();
    for (name, id) in listed {
        let (target, kind) = super::merged::rel_target_and_type(rels, &id)?;
        // Chart sheets, dialog sheets and macro sheets hold no cells to read.
        if !kind.ends_with("/worksheet") {
            continue;
        }
        let entry = match target.strip_prefix('/') {
            Some(abs) => abs.to_owned(),
            None => format!("xl/{}", target.trim_start_matches("./")),
        };
        sheets.push((name, entry));
    }
    Some((sheets, date_1904))
}

/// Per cell style (`cellXfs`), whether its number format shows a date.
fn styles(xml: &[u8]) -> Vec<NumFormat> {
    use quick_xml::events::Event;
    let text = String::from_utf8_lossy(xml);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut custom: Vec<(String, NumFormat)> = Vec::new();
    let mut formats = Vec::new();
    let mut in_xfs = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().into_inner() {
                "numFmt" => {
                    if let (Some(id), Some(code)) = (
                        super::merged::attr(&e, "numFmtId"),
                        super::merged::attr(&e, "formatCode"),
                    ) {
                        custom.push((id, custom_format(&code)));
                    }
                }
                "cellXfs" => in_xfs = true,
                "xf" if in_xfs => {
                    let f = match super::merged::attr(&e, "numFmtId") {
                        None => NumFormat::Other,
                        Some(id) => custom
                            .iter()
                            .find(|(i, _)| *i == id)
                            .map_or_else(|| builtin_format(&id), |(_, f)| *f),
                    };
                    formats.push(f);
                }
                _ => {}
            },
            Ok(Event::End(e)) if e.local_name().into_inner() == "cellXfs" => in_xfs = false,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    formats
}

/// Excel's built-in number formats that show a date or a time (ECMA-376 18.8.30, and the East
/// Asian ones), as calamine takes them.
fn builtin_format(id: &str) -> NumFormat {
    match id {
        "14" | "15" | "16" | "17" | "18" | "19" | "20" | "21" | "22" | "45" | "47" | "27"
        | "28" | "29" | "30" | "31" | "32" | "33" | "34" | "35" | "36" | "50" | "51" | "52"
        | "53" | "54" | "55" | "56" | "57" | "58" => NumFormat::Date,
        "46" => NumFormat::Duration,
        _ => NumFormat::Other,
    }
}

/// Whether a format code shows a date: a `d`, `m`, `h`, `y` or `s` outside quotes, escapes and
/// brackets in its first section (`[h]` alone is a duration), or `AM/PM`. The rule calamine
/// uses, so a cell reads the same either way.
fn custom_format(code: &str) -> NumFormat {
    let (mut escaped, mut quoted, mut ampm, mut hms) = (false, false, false, false);
    let mut brackets = 0u8;
    let mut prev = ' ';
    for c in code.chars() {
        if escaped {
            escaped = false;
        } else if matches!(c, '_' | '\\' | '*') {
            // The next character is a literal (even inside quotes, as calamine reads it).
            escaped = true;
        } else if quoted {
            quoted = c != '"';
        } else {
            match c {
                '"' => quoted = true,
                ';' => return NumFormat::Other,
                '[' => brackets = brackets.saturating_add(1),
                ']' if brackets == 1 && hms => return NumFormat::Duration,
                ']' => brackets = brackets.saturating_sub(1),
                'a' | 'A' if !ampm && brackets == 0 => ampm = true,
                'p' | 'm' | '/' | 'P' | 'M' if ampm && brackets == 0 => return NumFormat::Date,
                'd' | 'm' | 'h' | 'y' | 's' | 'D' | 'M' | 'H' | 'Y' | 'S'
                    if !ampm && brackets == 0 =>
                {
                    return NumFormat::Date;
                }
                _ => {
                    if !(hms && c.eq_ignore_ascii_case(&prev)) {
                        hms = prev == '[' && matches!(c, 'm' | 'h' | 's' | 'M' | 'H' | 'S');
                    }
                }
            }
        }
        prev = c;
    }
    NumFormat::Other
}

/// The shared strings, streamed (they may be up to [`limits::MAX_SHARED_STRINGS_BYTES`]).
fn shared_strings(zip: &mut Zip, name: &str) -> Result<Strings, ZipProblem> {
    let file = zip
        .by_name(name)
        .map_err(|e| ZipProblem::Corrupt(format!("{name}: {e}")))?;
    let mut counted = Counted::new(file, name);
    counted.limit = limits::MAX_SHARED_STRINGS_BYTES;
    let mut tok = Tokenizer::new(counted, name);
    let mut strings = Strings::default();
    let mut buf = String::new();
    let fail = |e: RowError| match e {
        RowError::Limit(l) => ZipProblem::Limit(l),
        RowError::Corrupt(d) => ZipProblem::Corrupt(format!("{name}: {d}")),
        RowError::TooWide { .. } => ZipProblem::Corrupt(name.to_owned()),
    };
    while let Some(t) = tok.next().map_err(fail)? {
        match t {
            Token::Start {
                name: b"si",
                empty: false,
                ..
            } => {
                buf.clear();
                read_string(&mut tok, b"si", &mut buf).map_err(fail)?;
                strings.text.push_str(&buf);
                let end = u32::try_from(strings.text.len()).map_err(|_| {
                    ZipProblem::Limit(Limit::Size {
                        part: name.to_owned(),
                        limit: limits::MAX_SHARED_STRINGS_BYTES,
                    })
                })?;
                strings.ends.push(end);
            }
            Token::Start {
                name: b"si",
                empty: true,
                ..
            } => {
                let end = strings.ends.last().copied().unwrap_or(0);
                strings.ends.push(end);
            }
            _ => {}
        }
    }
    Ok(strings)
}

/// A zip entry read with its real size counted against its limit and its CRC checked at the
/// end (the sizes and CRC the zip directory claims are not trusted).
struct Counted<R> {
    inner: R,
    part: String,
    total: u64,
    limit: u64,
    crc: crc32fast::Hasher,
    expected: u32,
}

impl<'a> Counted<zip::read::ZipFile<'a, BufReader<File>>> {
    fn new(inner: zip::read::ZipFile<'a, BufReader<File>>, part: &str) -> Self {
        let expected = inner.crc32();
        Counted {
            inner,
            part: part.to_owned(),
            total: 0,
            limit: limits::MAX_PART_BYTES,
            crc: crc32fast::Hasher::new(),
            expected,
        }
    }
}

impl<R: Read> Counted<R> {
    /// Fills `buf` with what comes next; 0 at the end, where the CRC is checked.
    fn read_chunk(&mut self, buf: &mut [u8]) -> Result<usize, RowError> {
        let n = self
            .inner
            .read(buf)
            .map_err(|e| RowError::Corrupt(format!("{}: {e}", self.part)))?;
        if n == 0 {
            if self.crc.clone().finalize() != self.expected {
                return Err(RowError::Corrupt(format!("{}: CRC mismatch", self.part)));
            }
            return Ok(0);
        }
        self.total += n as u64;
        if self.total > self.limit {
            return Err(RowError::Limit(Limit::Size {
                part: self.part.clone(),
                limit: self.limit,
            }));
        }
        self.crc.update(&buf[..n]);
        Ok(n)
    }
}

/// One piece of XML. Names are local (any `prefix:` left off).
#[derive(Debug)]
enum Token<'a> {
    Start {
        name: &'a [u8],
        attrs: &'a [u8],
        empty: bool,
    },
    End {
        name: &'a [u8],
    },
    /// Text as written (entities not yet decoded).
    Text(&'a [u8]),
    /// The inside of `<![CDATA[ … ]]>`.
    CData(&'a [u8]),
}

/// A streaming XML tokenizer that holds at most one token (at most [`limits::MAX_CELL_BYTES`]
/// plus a chunk) and refuses nesting past [`limits::MAX_DEPTH`]: the limits of `read::limits`,
/// kept while reading rather than in a pass of their own.
struct Tokenizer<R> {
    src: Counted<R>,
    part: String,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    depth: usize,
    /// Lines before `buf[0]` (for a message).
    line: u64,
    /// The sheet row being read (1-based), for a message.
    row: Option<u64>,
}

enum Kind {
    Tag,
    Special,
    Text,
}

impl<R: Read> Tokenizer<R> {
    fn new(src: Counted<R>, part: &str) -> Self {
        Tokenizer {
            src,
            part: part.to_owned(),
            buf: vec![0; CHUNK * 2],
            start: 0,
            end: 0,
            eof: false,
            depth: 0,
            line: 1,
            row: None,
        }
    }

    fn place(&self, at: usize) -> Place {
        let lines = memchr::memchr_iter(b'\n', &self.buf[..at.min(self.end)]).count();
        Place {
            part: self.part.clone(),
            row: self.row,
            line: self.line + lines as u64,
        }
    }

    fn too_long(&self) -> RowError {
        RowError::Limit(Limit::Cell(self.place(self.start)))
    }

    /// Reads more, keeping the unread bytes; `false` at the end of the part.
    fn fill(&mut self) -> Result<bool, RowError> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.line += memchr::memchr_iter(b'\n', &self.buf[..self.start]).count() as u64;
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < CHUNK {
            // A token longer than a cell may be is refused before the buffer grows past it.
            if self.end > limits::MAX_CELL_BYTES {
                return Err(self.too_long());
            }
            self.buf.resize(self.end + CHUNK, 0);
        }
        let n = self.src.read_chunk(&mut self.buf[self.end..])?;
        if n == 0 {
            self.eof = true;
            return Ok(false);
        }
        self.end += n;
        Ok(true)
    }

    /// Where the token starting at `self.start` ends (exclusive), and its kind; `None` when the
    /// buffer does not hold all of it yet.
    fn find_end(&self) -> Option<(usize, Kind)> {
        let b = &self.buf[self.start..self.end];
        if b[0] != b'<' {
            return match memchr::memchr(b'<', b) {
                Some(i) => Some((self.start + i, Kind::Text)),
                None if self.eof => Some((self.end, Kind::Text)),
                None => None,
            };
        }
        let special = |open: &[u8], close: &[u8]| -> Option<Option<(usize, Kind)>> {
            if b.len() < open.len() {
                return if open.starts_with(b) && !self.eof {
                    Some(None)
                } else {
                    None
                };
            }
            if !b.starts_with(open) {
                return None;
            }
            Some(
                memchr::memmem::find(&b[open.len()..], close)
                    .map(|i| (self.start + open.len() + i + close.len(), Kind::Special)),
            )
        };
        for (open, close) in [
            (&b"<!--"[..], &b"-->"[..]),
            (b"<![CDATA[", b"]]>"),
            (b"<?", b"?>"),
        ] {
            if let Some(found) = special(open, close) {
                return found;
            }
        }
        // A tag: up to the first `>` outside quotes.
        let mut i = 1;
        let mut quote = 0u8;
        while i < b.len() {
            if quote != 0 {
                match memchr::memchr(quote, &b[i..]) {
                    Some(j) => {
                        i += j + 1;
                        quote = 0;
                    }
                    None => return None,
                }
            } else {
                match memchr::memchr3(b'>', b'"', b'\'', &b[i..]) {
                    Some(j) if b[i + j] == b'>' => {
                        return Some((self.start + i + j + 1, Kind::Tag));
                    }
                    Some(j) => {
                        quote = b[i + j];
                        i += j + 1;
                    }
                    None => return None,
                }
            }
        }
        None
    }

    fn next(&mut self) -> Result<Option<Token<'_>>, RowError> {
        let (stop, kind) = loop {
            if self.start == self.end {
                if !self.fill()? {
                    return Ok(None);
                }
                continue;
            }
            if let Some(found) = self.find_end() {
                break found;
            }
            if self.end - self.start > limits::MAX_CELL_BYTES {
                return Err(self.too_long());
            }
            if self.eof {
                return Err(RowError::Corrupt(format!(
                    "{}: the XML ends inside a tag",
                    self.part
                )));
            }
            // Reads more, or finds the end (then text at the end is whole).
            self.fill()?;
        };
        if stop - self.start > limits::MAX_CELL_BYTES {
            return Err(self.too_long());
        }
        let at = self.start;
        self.start = stop;
        let raw = &self.buf[at..stop];
        Ok(Some(match kind {
            Kind::Text => Token::Text(raw),
            Kind::Special => {
                if let Some(inner) = raw.strip_prefix(b"<![CDATA[") {
                    Token::CData(&inner[..inner.len() - 3])
                } else {
                    // A comment or a processing instruction: nothing to read. An empty text
                    // keeps the caller's loop simple.
                    Token::Text(&[])
                }
            }
            Kind::Tag => {
                let inner = &raw[1..raw.len() - 1];
                if let Some(rest) = inner.strip_prefix(b"/") {
                    self.depth = self.depth.saturating_sub(1);
                    Token::End {
                        name: local(name_of(rest)),
                    }
                } else if inner.starts_with(b"!") {
                    // <!DOCTYPE …>
                    Token::Text(&[])
                } else {
                    let empty = inner.ends_with(b"/");
                    let inner = if empty {
                        &inner[..inner.len() - 1]
                    } else {
                        inner
                    };
                    if !empty {
                        self.depth += 1;
                        if self.depth > limits::MAX_DEPTH {
                            let place = self.place(at);
                            return Err(RowError::Limit(Limit::Depth(place)));
                        }
                    }
                    let name = name_of(inner);
                    Token::Start {
                        name: local(name),
                        attrs: &inner[name.len()..],
                        empty,
                    }
                }
            }
        }))
    }
}

fn name_of(tag: &[u8]) -> &[u8] {
    let end = tag
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b'/')
        .unwrap_or(tag.len());
    &tag[..end]
}

fn local(name: &[u8]) -> &[u8] {
    match memchr::memrchr(b':', name) {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

/// The raw value of attribute `key` (exact name) in the attribute text of a tag.
fn attr<'a>(mut attrs: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    loop {
        let eq = memchr::memchr(b'=', attrs)?;
        let name = attrs[..eq].trim_ascii();
        let rest = attrs[eq + 1..].trim_ascii_start();
        let quote = *rest.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let close = memchr::memchr(quote, &rest[1..])?;
        if name == key {
            return Some(&rest[1..1 + close]);
        }
        attrs = &rest[close + 2..];
    }
}

/// `AB12` to (0-based row, 0-based column).
fn cell_ref(s: &str) -> Option<(u32, u32)> {
    let split = s.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = s.split_at(split);
    let col = letters.bytes().try_fold(0u32, |acc, b| {
        b.is_ascii_alphabetic()
            .then(|| {
                acc.checked_mul(26)?
                    .checked_add(u32::from(b.to_ascii_uppercase() - b'A') + 1)
            })
            .flatten()
    })?;
    let row: u32 = digits.parse().ok()?;
    Some((row.checked_sub(1)?, col.checked_sub(1).unwrap_or(u32::MAX)))
}

/// Appends XML text to `out`: entities decoded, line ends made `\n` (as an XML parser does).
fn push_text(raw: &[u8], out: &mut String) {
    // Most cells: valid UTF-8 with nothing to decode (`from_utf8` checks ASCII a word at a time).
    let text = match std::str::from_utf8(raw) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(raw),
    };
    if memchr::memchr2(b'&', b'\r', raw).is_none() {
        out.push_str(&text);
        return;
    }
    let mut rest = &text[..];
    while let Some(i) = rest.find(['&', '\r']) {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        if let Some(after) = rest.strip_prefix('\r') {
            out.push('\n');
            rest = after.strip_prefix('\n').unwrap_or(after);
            continue;
        }
        let Some(semi) = rest.find(';').filter(|s| *s <= 12) else {
            out.push('&');
            rest = &rest[1..];
            continue;
        };
        let entity = &rest[1..semi];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .map(|h| u32::from_str_radix(h, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => {
                out.push(c);
                rest = &rest[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
}

/// Excel's `_xHHHH_` escapes (a character XML cannot hold, such as a control character).
fn unescape_x(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.contains("_x") {
        return s.into();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    let mut pending_high: Option<u32> = None;
    while let Some(i) = rest.find("_x") {
        let hex = rest
            .get(i + 2..i + 6)
            .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
        let code = match (hex, rest.get(i + 6..i + 7)) {
            (Some(h), Some("_")) => u32::from_str_radix(h, 16).ok(),
            _ => None,
        };
        let Some(code) = code else {
            if let Some(h) = pending_high.take() {
                let _ = h;
                out.push(char::REPLACEMENT_CHARACTER);
            }
            out.push_str(&rest[..i + 2]);
            rest = &rest[i + 2..];
            continue;
        };
        if i > 0 && pending_high.take().is_some() {
            out.push(char::REPLACEMENT_CHARACTER);
        }
        out.push_str(&rest[..i]);
        match (pending_high.take(), code) {
            (Some(high), 0xDC00..=0xDFFF) => out.push(
                char::from_u32(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00))
                    .unwrap_or(char::REPLACEMENT_CHARACTER),
            ),
            (Some(_), _) => {
                out.push(char::REPLACEMENT_CHARACTER);
                if (0xD800..=0xDBFF).contains(&code) {
                    pending_high = Some(code);
                } else {
                    out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER));
                }
            }
            (None, 0xD800..=0xDBFF) => pending_high = Some(code),
            (None, _) => out.push(char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER)),
        }
        rest = &rest[i + 7..];
    }
    if pending_high.is_some() {
        out.push(char::REPLACEMENT_CHARACTER);
    }
    out.push_str(rest);
    out.into()
}

/// Reads a string element (`<si>`, `<is>`) to its end: the `<t>` texts joined, phonetic runs
/// (`<rPh>`) left out, each `<t>` trimmed of ASCII white space unless `xml:space="preserve"`.
/// The whole is held to [`limits::MAX_CELL_BYTES`].
fn read_string<R: Read>(
    tok: &mut Tokenizer<R>,
    closing: &[u8],
    out: &mut String,
) -> Result<(), RowError> {
    let mut phonetic = false;
    let mut t = String::new();
    loop {
        let token = tok
            .next()?
            .ok_or_else(|| RowError::Corrupt("the XML ends inside a string".into()))?;
        match token {
            Token::End { name } if name == closing => return Ok(()),
            Token::Start {
                name: b"rPh",
                empty: false,
                ..
            } => phonetic = true,
            Token::End { name: b"rPh" } => phonetic = false,
            Token::Start {
                name: b"t",
                attrs,
                empty: false,
            } if !phonetic => {
                let preserve = attr(attrs, b"xml:space") == Some(b"preserve");
                t.clear();
                loop {
                    match tok.next()? {
                        Some(Token::Text(raw)) => push_text(raw, &mut t),
                        Some(Token::CData(raw)) => t.push_str(&String::from_utf8_lossy(raw)),
                        Some(Token::End { name: b"t" }) => break,
                        Some(_) => {}
                        None => return Err(RowError::Corrupt("the XML ends inside <t>".into())),
                    }
                    if t.len() > limits::MAX_CELL_BYTES {
                        return Err(tok.too_long());
                    }
                }
                let value = if preserve {
                    &t[..]
                } else {
                    t.trim_matches([' ', '\t', '\r', '\n'])
                };
                out.push_str(&unescape_x(value));
                if out.len() > limits::MAX_CELL_BYTES {
                    return Err(tok.too_long());
                }
            }
            _ => {}
        }
    }
}

/// The `<mergeCell ref="…">` of a sheet, wherever they stand, held to [`limits::MAX_MERGES`].
struct Merges {
    list: Vec<Merge>,
    count: u64,
    part: String,
}

impl Merges {
    fn new(part: &str) -> Merges {
        Merges {
            list: Vec::new(),
            count: 0,
            part: part.to_owned(),
        }
    }

    fn see(&mut self, attrs: &[u8]) -> Result<(), RowError> {
        self.count += 1;
        if self.count > limits::MAX_MERGES {
            return Err(RowError::Limit(Limit::Merges {
                part: self.part.clone(),
            }));
        }
        let range = attr(attrs, b"ref").map(|r| {
            let mut s = String::new();
            push_text(r, &mut s);
            s
        });
        if let Some(m) = range.as_deref().and_then(super::merged::parse_range) {
            self.list.push(m);
        }
        Ok(())
    }
}

/// Reads on to the end of the part, collecting its merged blocks.
fn merge_cells<R: Read>(tok: &mut Tokenizer<R>, merges: &mut Merges) -> Result<(), RowError> {
    while let Some(t) = tok.next()? {
        if let Token::Start {
            name: b"mergeCell",
            attrs,
            ..
        } = t
        {
            merges.see(attrs)?;
        }
    }
    Ok(())
}

/// The cells of one sheet.
struct SheetReader<'a, R> {
    tok: Tokenizer<R>,
    strings: &'a Strings,
    formats: &'a [NumFormat],
    date_1904: bool,
    /// Where a cell without `r` goes (0-based).
    row: u32,
    col: u32,
    text: String,
}

impl<R: Read> SheetReader<'_, R> {
    /// Feeds every cell of `<sheetData>` to `rows`; stops after `</sheetData>`.
    fn rows(
        &mut self,
        rows: &mut RowAssembler,
        merges: &mut Merges,
        f: &mut dyn FnMut(u32, Vec<Cell>) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, RowError> {
        let mut in_data = false;
        loop {
            let Some(token) = self.tok.next()? else {
                return Err(RowError::Corrupt(
                    "the sheet ends before </sheetData>".into(),
                ));
            };
            match token {
                Token::Start {
                    name: b"sheetData",
                    empty,
                    ..
                } => {
                    if empty {
                        return Ok(ControlFlow::Continue(()));
                    }
                    in_data = true;
                }
                Token::End { name: b"sheetData" } => return Ok(ControlFlow::Continue(())),
                // Before the cells (unusual, or hostile): counted against the limit here too.
                Token::Start {
                    name: b"mergeCell",
                    attrs,
                    ..
                } => {
                    merges.see(attrs)?;
                }
                // Empty `<row/>` and `<c/>` count as a start and an end, as calamine reads them
                // (its XML reader expands empty elements).
                Token::Start {
                    name: b"row",
                    attrs,
                    empty,
                } if in_data => {
                    if let Some(r) = attr(attrs, b"r") {
                        let r = std::str::from_utf8(r)
                            .ok()
                            .and_then(|r| r.trim().parse::<u32>().ok())
                            .and_then(|r| r.checked_sub(1))
                            .ok_or_else(|| {
                                RowError::Corrupt("a row number that is not one".into())
                            })?;
                        self.row = r;
                    }
                    self.tok.row = Some(u64::from(self.row) + 1);
                    if empty {
                        self.row = self.row.saturating_add(1);
                        self.col = 0;
                    }
                }
                Token::End { name: b"row" } if in_data => {
                    self.row = self.row.saturating_add(1);
                    self.col = 0;
                }
                Token::Start {
                    name: b"c",
                    attrs,
                    empty,
                } if in_data => {
                    let (r, c) = match attr(attrs, b"r") {
                        Some(at) => {
                            let (r, c) =
                                std::str::from_utf8(at).ok().and_then(cell_ref).ok_or_else(
                                    || RowError::Corrupt("a cell reference that is not one".into()),
                                )?;
                            self.col = c;
                            (r, c)
                        }
                        None => (self.row, self.col),
                    };
                    let style = attr(attrs, b"s").map(|s| {
                        std::str::from_utf8(s)
                            .ok()
                            .and_then(|s| s.parse::<usize>().ok())
                            .unwrap_or(0)
                    });
                    let typ = CellType::of(attr(attrs, b"t"))?;
                    let value = if empty {
                        Cell::Empty
                    } else {
                        self.cell(style, typ)?
                    };
                    self.col = self.col.saturating_add(1);
                    if rows.push(r, c, value, f)?.is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                _ => {}
            }
        }
    }

    /// Reads the inside of a `<c>` to its end tag.
    fn cell(&mut self, style: Option<usize>, typ: CellType) -> Result<Cell, RowError> {
        let mut value = Cell::Empty;
        loop {
            let token = self
                .tok
                .next()?
                .ok_or_else(|| RowError::Corrupt("the sheet ends inside a cell".into()))?;
            match token {
                Token::End { name: b"c" } => return Ok(value),
                Token::Start {
                    name: b"is", empty, ..
                } => {
                    let mut s = String::new();
                    if !empty {
                        read_string(&mut self.tok, b"is", &mut s)?;
                    }
                    value = Cell::Text(s);
                }
                Token::Start {
                    name: b"v", empty, ..
                } => {
                    self.text.clear();
                    if !empty {
                        loop {
                            match self.tok.next()? {
                                Some(Token::Text(raw)) => push_text(raw, &mut self.text),
                                Some(Token::CData(raw)) => {
                                    self.text.push_str(&String::from_utf8_lossy(raw));
                                }
                                Some(Token::End { name: b"v" }) => break,
                                Some(_) => {}
                                None => {
                                    return Err(RowError::Corrupt(
                                        "the sheet ends inside <v>".into(),
                                    ));
                                }
                            }
                            if self.text.len() > limits::MAX_CELL_BYTES {
                                return Err(self.tok.too_long());
                            }
                        }
                    }
                    if typ != CellType::Inline {
                        value = self.value(style, typ)?;
                    }
                }
                Token::Start {
                    name, empty: false, ..
                } => {
                    // <f> and anything else: passed over to its end.
                    let name = name.to_vec();
                    skip_to_end(&mut self.tok, &name)?;
                }
                _ => {}
            }
        }
    }

    /// The value of `<v>` (in `self.text`) by the cell's type and style.
    fn value(&self, style: Option<usize>, typ: CellType) -> Result<Cell, RowError> {
        let v = self.text.as_str();
        Ok(match typ {
            CellType::Shared => {
                if v.is_empty() {
                    return Ok(Cell::Empty);
                }
                let i = v.trim().parse::<usize>().unwrap_or(0);
                let s = self.strings.get(i).ok_or_else(|| {
                    RowError::Corrupt("Cell string index not found in shared strings table".into())
                })?;
                Cell::Text(s.to_owned())
            }
            CellType::Bool => {
                let t = v.trim();
                if t.is_empty() {
                    Cell::Empty
                } else if t == "0" || t.eq_ignore_ascii_case("false") {
                    Cell::Bool(false)
                } else if t == "1" || t.eq_ignore_ascii_case("true") {
                    Cell::Bool(true)
                } else {
                    return Err(RowError::Corrupt(format!("boolean cell value {t}")));
                }
            }
            CellType::Date => iso_cell(v),
            CellType::Error => Cell::Error(v.to_owned()),
            CellType::Str => Cell::Text(unescape_x(v).into_owned()),
            CellType::Inline => Cell::Empty,
            CellType::Number | CellType::Plain => {
                if v.is_empty() {
                    return Ok(Cell::Empty);
                }
                match v.parse::<f64>() {
                    Ok(n) => {
                        let format = match style {
                            None => Some(NumFormat::Other),
                            Some(i) => self.formats.get(i).copied(),
                        };
                        match format {
                            Some(NumFormat::Date) => date_cell(&calamine::ExcelDateTime::new(
                                n,
                                calamine::ExcelDateTimeType::DateTime,
                                self.date_1904,
                            )),
                            _ => Cell::Number(n),
                        }
                    }
                    Err(_) if typ == CellType::Plain => Cell::Text(v.to_owned()),
                    Err(e) => return Err(RowError::Corrupt(format!("number cell {e}"))),
                }
            }
        })
    }
}

fn skip_to_end<R: Read>(tok: &mut Tokenizer<R>, name: &[u8]) -> Result<(), RowError> {
    let mut depth = 0usize;
    loop {
        match tok.next()? {
            Some(Token::Start {
                name: n,
                empty: false,
                ..
            }) if n == name => depth += 1,
            Some(Token::End { name: n }) if n == name => {
                if depth == 0 {
                    return Ok(());
                }
                depth -= 1;
            }
            Some(_) => {}
            None => return Err(RowError::Corrupt("the sheet ends inside a cell".into())),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CellType {
    /// No `t`: a number, or text when it does not parse.
    Plain,
    Number,
    Shared,
    Bool,
    Date,
    Error,
    Str,
    Inline,
}

impl CellType {
    fn of(t: Option<&[u8]>) -> Result<CellType, RowError> {
        Ok(match t {
            None => CellType::Plain,
            Some(b"n") => CellType::Number,
            Some(b"s") => CellType::Shared,
            Some(b"b") => CellType::Bool,
            Some(b"d") => CellType::Date,
            Some(b"e") => CellType::Error,
            Some(b"str") => CellType::Str,
            Some(b"inlineStr" | b"is") => CellType::Inline,
            Some(other) => {
                return Err(RowError::Corrupt(format!(
                    "cell type {}",
                    String::from_utf8_lossy(other)
                )));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(xml: &[u8], chunk: usize) -> Result<Vec<String>, RowError> {
        struct Slow<'a>(&'a [u8], usize);
        impl Read for Slow<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(buf.len()).min(self.1);
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let src = Counted {
            inner: Slow(xml, chunk),
            part: "p".into(),
            total: 0,
            limit: u64::MAX,
            crc: crc32fast::Hasher::new(),
            expected: crc32fast::hash(xml),
        };
        let mut tok = Tokenizer::new(src, "p");
        let mut out = Vec::new();
        while let Some(t) = tok.next()? {
            out.push(match t {
                Token::Start { name, empty, .. } => {
                    format!(
                        "<{}{}>",
                        String::from_utf8_lossy(name),
                        if empty { "/" } else { "" }
                    )
                }
                Token::End { name } => format!("</{}>", String::from_utf8_lossy(name)),
                Token::Text(t) => String::from_utf8_lossy(t).into_owned(),
                Token::CData(t) => format!("[{}]", String::from_utf8_lossy(t)),
            });
        }
        Ok(out.into_iter().filter(|t| !t.is_empty()).collect())
    }

    #[test]
    fn tokens_do_not_depend_on_where_reads_split() {
        let xml = br#"<?xml version="1.0"?><!-- a > b --><x:a q='1>2' r="x"><b/>t&amp;<![CDATA[<c>]]></x:a>"#;
        let whole = tokens(xml, 1 << 20).unwrap();
        assert_eq!(tokens(b"<a/>\n", 1).unwrap(), ["<a/>", "\n"]);
        assert!(tokens(b"<a/><b", 1).is_err());
        assert_eq!(
            whole,
            ["<a>", "<b/>", "t&amp;", "[<c>]", "</a>"],
            "{whole:?}"
        );
        for chunk in [1, 2, 3, 7] {
            assert_eq!(tokens(xml, chunk).unwrap(), whole, "chunk {chunk}");
        }
    }

    #[test]
    fn limits_hold_while_reading() {
        let deep = "<a>".repeat(limits::MAX_DEPTH + 1);
        assert!(matches!(
            tokens(deep.as_bytes(), 4096),
            Err(RowError::Limit(Limit::Depth(_)))
        ));
        let text = format!("<a>{}</a>", " ".repeat(limits::MAX_CELL_BYTES + 1));
        assert!(matches!(
            tokens(text.as_bytes(), 4096),
            Err(RowError::Limit(Limit::Cell(_)))
        ));
        let tag = format!("<a b=\"{}\"/>", "q".repeat(limits::MAX_CELL_BYTES + 1));
        assert!(matches!(
            tokens(tag.as_bytes(), 4096),
            Err(RowError::Limit(Limit::Cell(_)))
        ));
    }

    #[test]
    fn text_entities_and_escapes() {
        let mut s = String::new();
        push_text(b"a&lt;b&#x4E2D;&#25991;\r\nc&bogus;", &mut s);
        assert_eq!(s, "a<b中文\nc&bogus;");
        assert_eq!(unescape_x("a_x000D_b_x0009_"), "a\rb\t");
        assert_eq!(unescape_x("_xD83D__xDE00_"), "😀");
        assert_eq!(unescape_x("_x12"), "_x12");
    }

    #[test]
    fn date_formats_as_calamine_reads_them() {
        assert_eq!(custom_format("yyyy-mm-dd hh:mm:ss"), NumFormat::Date);
        assert_eq!(custom_format("[h]:mm:ss"), NumFormat::Duration);
        assert_eq!(custom_format("0.00"), NumFormat::Other);
        assert_eq!(custom_format("\"d\"0"), NumFormat::Other);
        assert_eq!(custom_format("[Red]0"), NumFormat::Other);
        assert_eq!(custom_format("@"), NumFormat::Other);
        assert_eq!(builtin_format("14"), NumFormat::Date);
        assert_eq!(builtin_format("49"), NumFormat::Other);
    }

    #[test]
    fn attributes_and_references() {
        assert_eq!(attr(br#" r="A1" s='3' t="s""#, b"s"), Some(&b"3"[..]));
        assert_eq!(attr(br#" r="A1""#, b"t"), None);
        assert_eq!(cell_ref("AB12"), Some((11, 27)));
        assert_eq!(cell_ref("A0"), None);
    }

    /// Random workbooks (text of any character, entities, control characters, numbers, dates,
    /// times, booleans, blanks, shared strings and rich text as rust_xlsxwriter writes them):
    /// our reader gives exactly the rows calamine gives.
    #[test]
    fn random_workbooks_read_as_calamine_reads_them() {
        use rust_xlsxwriter::{Format, Workbook};
        let dir = tempfile::tempdir().unwrap();
        let mut rng = fastrand::Rng::with_seed(22);
        let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
        let time = Format::new().set_num_format("hh:mm");
        let money = Format::new().set_num_format("0.00");
        for round in 0..12 {
            let path = dir.path().join(format!("r{round}.xlsx"));
            let mut wb = Workbook::new();
            let ws = wb.add_worksheet();
            for r in 0..40u32 {
                for c in 0..6u16 {
                    match rng.u8(0..8) {
                        0 => {
                            let len = rng.usize(0..12);
                            let text: String = (0..len)
                                .map(|_| match rng.u8(0..4) {
                                    0 => char::from(rng.u8(0..32)),
                                    1 => ['&', '<', '>', '"', '\'', '_', 'x'][rng.usize(0..7)],
                                    2 => rng.char('\u{4e00}'..'\u{9fff}'),
                                    _ => rng.alphanumeric(),
                                })
                                .collect();
                            ws.write_string(r, c, &text).unwrap();
                        }
                        1 => {
                            ws.write_number(r, c, rng.f64() * 1e6 - 5e5).unwrap();
                        }
                        2 => {
                            ws.write_number_with_format(r, c, 45000.0 + rng.f64() * 900.0, &date)
                                .unwrap();
                        }
                        3 => {
                            ws.write_number_with_format(r, c, rng.f64(), &time).unwrap();
                        }
                        4 => {
                            ws.write_number_with_format(r, c, rng.f64() * 100.0, &money)
                                .unwrap();
                        }
                        5 => {
                            ws.write_boolean(r, c, rng.bool()).unwrap();
                        }
                        6 => {
                            ws.write_blank(r, c, &money).unwrap();
                        }
                        _ => {}
                    }
                }
            }
            if round % 3 == 0 {
                ws.merge_range(41, 0, 43, 1, "merged", &Format::new())
                    .unwrap();
            }
            wb.save(&path).unwrap();

            let mut ours = Xlsx::open(&path).ok().flatten().unwrap();
            let mut theirs = super::super::excel::Excel::open_zip(&path, "xlsx")
                .ok()
                .unwrap();
            let sheet = ours.sheet_names()[0].clone();
            assert_eq!(theirs.sheet_names(), ours.sheet_names());
            let (mut a, mut b) = (Vec::new(), Vec::new());
            ours.for_each_row(&sheet, &mut |r, c| {
                a.push((r, c));
                ControlFlow::Continue(())
            })
            .unwrap();
            theirs
                .for_each_row(&sheet, &mut |r, c| {
                    b.push((r, c));
                    ControlFlow::Continue(())
                })
                .ok()
                .unwrap();
            assert_eq!(a, b, "round {round}");
            let m = ours.merges(&sheet).unwrap();
            assert_eq!(m, theirs.merges(&sheet).ok().unwrap(), "round {round}");
        }
    }
}
