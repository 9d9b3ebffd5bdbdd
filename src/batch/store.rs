//! The compact storage of a batch's row values (`src/batch/mod.rs` keeps the rest of a row).
//!
//! No allocation per row: the values a row does not share with many others are appended to
//! fixed-size text pages (an edited row's new text is appended too; its old text is left as
//! garbage, edits are rare). A field whose values repeat (the lab, the result, the sample
//! type, ...) keeps them once in a dictionary and a row holds the number of its value. Per
//! row and field there is one `u16`: the value's number in the field's dictionary (top bit
//! set), or the end of its text among the row's own texts. A row whose own texts are longer
//! than that can count keeps its ends in a side table. The per-row tables grow by chunks, so
//! a million rows never need a doubled copy of a table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Rows per chunk of a [`Chunked`] table.
const CHUNK_ROWS: usize = 4096;
/// Bytes per text page.
const PAGE: usize = 1 << 20;
/// A row's texts at least this long get a page of their own.
const OWN_PAGE: usize = PAGE / 4;
/// Top bit of a cell: the value is number `cell & !INTERNED` of the field's dictionary.
const INTERNED: u16 = 0x8000;
/// The first cell of a row whose own texts are too long for `u16` ends ([`Store::long`]).
const LONG: u16 = 0xFFFF;
/// Largest end of a row's own texts a cell holds (`LONG` stays free for the marker).
const MAX_END: usize = 0x7FFF;
/// Dictionary numbers are below this (number `0x7FFF` with the top bit would read as `LONG`).
const MAX_WORDS: usize = 0x7FFF;
/// Longer values are never looked up in a dictionary.
const MAX_WORD_LEN: usize = 128;
/// A field stops looking values up once its dictionary has this many values and more than
/// half the rows brought a new one (names, ID numbers, phones: nearly all distinct); below
/// that a value kept once saves more than its dictionary entry costs.
const TRY_WORDS: usize = 256;

/// A table of `width` values per row, grown a chunk of rows at a time (no doubled copy).
pub(super) struct Chunked<T> {
    width: usize,
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T: Copy> Chunked<T> {
    pub(super) fn new(width: usize) -> Self {
        Chunked {
            width,
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends one row (`row.len() == width`).
    pub(super) fn push(&mut self, row: &[T]) {
        debug_assert_eq!(row.len(), self.width);
        if self.len.is_multiple_of(CHUNK_ROWS) {
            self.chunks
                .push(Vec::with_capacity(CHUNK_ROWS * self.width.max(1)));
        }
        if let Some(chunk) = self.chunks.last_mut() {
            chunk.extend_from_slice(row);
        }
        self.len += 1;
    }

    pub(super) fn row(&self, index: usize) -> &[T] {
        let at = (index % CHUNK_ROWS) * self.width;
        &self.chunks[index / CHUNK_ROWS][at..at + self.width]
    }

    pub(super) fn row_mut(&mut self, index: usize) -> &mut [T] {
        let at = (index % CHUNK_ROWS) * self.width;
        &mut self.chunks[index / CHUNK_ROWS][at..at + self.width]
    }

    /// Every row in order.
    pub(super) fn iter(&self) -> impl Iterator<Item = &[T]> + '_ {
        self.chunks
            .iter()
            .flat_map(move |c| c.chunks_exact(self.width.max(1)))
    }
}

/// Where a row's own texts start: page and byte in it.
#[derive(Debug, Clone, Copy, Default)]
struct At {
    page: u32,
    start: u32,
}

/// The values of one field that repeat.
#[derive(Default)]
struct Words {
    list: Vec<Arc<str>>,
    number: HashMap<Arc<str>, u16, BuildHasherDefault<Fx>>,
    /// The number of the value found last (most rows repeat their neighbour's).
    last: Option<u16>,
    /// Still looked up (see [`TRY_WORDS`]).
    closed: bool,
}

impl Words {
    /// The value's number, adding it while the dictionary is open.
    fn find(&mut self, value: &str, rows: usize) -> Option<u16> {
        if self.closed || value.is_empty() || value.len() > MAX_WORD_LEN {
            return None;
        }
        if let Some(n) = self.last
            && *self.list[n as usize] == *value
        {
            return Some(n);
        }
        let n = match self.number.get(value) {
            Some(&n) => n,
            None => {
                if self.list.len() >= MAX_WORDS
                    || (self.list.len() >= TRY_WORDS && self.list.len() * 2 > rows)
                {
                    self.closed = true;
                    return None;
                }
                let n = self.list.len() as u16;
                let word: Arc<str> = Arc::from(value);
                self.list.push(Arc::clone(&word));
                self.number.insert(word, n);
                n
            }
        };
        self.last = Some(n);
        Some(n)
    }
}

/// The field values of every row.
pub(super) struct Store {
    nfields: usize,
    at: Chunked<At>,
    cells: Chunked<u16>,
    pages: Vec<String>,
    /// The page new texts go to.
    open: usize,
    words: Vec<Words>,
    /// Ends of the fields of rows marked `LONG` (every value in the row's own texts).
    long: HashMap<u32, Box<[u32]>>,
}

impl Store {
    pub(super) fn new(nfields: usize) -> Store {
        Store {
            nfields,
            at: Chunked::new(1),
            cells: Chunked::new(nfields),
            pages: Vec::new(),
            open: 0,
            words: (0..nfields).map(|_| Words::default()).collect(),
            long: HashMap::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.at.len()
    }

    /// Appends a row's values (one per field); returns its index.
    pub(super) fn push<S: AsRef<str>>(&mut self, values: &[S]) -> usize {
        let index = self.len();
        self.at.push(&[At::default()]);
        let blank = vec![0u16; self.nfields];
        self.cells.push(&blank);
        self.set(index, values);
        index
    }

    /// Stores a row's values again (the old text stays behind, unused).
    pub(super) fn set<S: AsRef<str>>(&mut self, index: usize, values: &[S]) {
        assert_eq!(values.len(), self.nfields, "one value per field");
        let rows = self.len();
        let mut cells = vec![0u16; self.nfields];
        let mut own = 0usize;
        for (f, v) in values.iter().enumerate() {
            let v = v.as_ref();
            match self.words[f].find(v, rows) {
                Some(n) => cells[f] = INTERNED | n,
                None => own += v.len(),
            }
        }
        let long = own > MAX_END;
        if long {
            own = values.iter().map(|v| v.as_ref().len()).sum();
        }
        let at = self.room(own);
        let page = &mut self.pages[at.page as usize];
        if long {
            // Every value in the row's own text, ends in the side table.
            let start = page.len();
            let ends: Box<[u32]> = values
                .iter()
                .map(|v| {
                    page.push_str(v.as_ref());
                    (page.len() - start) as u32
                })
                .collect();
            self.long.insert(index as u32, ends);
            cells[0] = LONG;
        } else {
            self.long.remove(&(index as u32));
            let mut end = 0u16;
            for (f, v) in values.iter().enumerate() {
                if cells[f] & INTERNED == 0 {
                    page.push_str(v.as_ref());
                    end += v.as_ref().len() as u16;
                    cells[f] = end;
                }
            }
        }
        self.at.row_mut(index)[0] = at;
        self.cells.row_mut(index).copy_from_slice(&cells);
    }

    /// A page with room for `len` more bytes (the row's texts never cross pages).
    fn room(&mut self, len: usize) -> At {
        if len >= OWN_PAGE {
            self.pages.push(String::with_capacity(len));
            return At {
                page: (self.pages.len() - 1) as u32,
                start: 0,
            };
        }
        let fits = self
            .pages
            .get(self.open)
            .is_some_and(|p| p.capacity() - p.len() >= len);
        if !fits {
            self.pages.push(String::with_capacity(PAGE));
            self.open = self.pages.len() - 1;
        }
        At {
            page: self.open as u32,
            start: self.pages[self.open].len() as u32,
        }
    }

    /// The value of a field.
    pub(super) fn value(&self, index: usize, field: usize) -> &str {
        let cells = self.cells.row(index);
        let at = self.at.row(index)[0];
        let page = &self.pages[at.page as usize];
        let base = at.start as usize;
        if cells[0] == LONG {
            let ends = &self.long[&(index as u32)];
            let start = if field == 0 { 0 } else { ends[field - 1] };
            return &page[base + start as usize..base + ends[field] as usize];
        }
        let cell = cells[field];
        if cell & INTERNED != 0 {
            return &self.words[field].list[(cell & !INTERNED) as usize];
        }
        // The own text before this one ends where the nearest earlier own text ends.
        let start = cells[..field]
            .iter()
            .rev()
            .find(|&&c| c & INTERNED == 0)
            .map_or(0, |&c| c as usize);
        &page[base + start..base + cell as usize]
    }

    /// Bytes held for the rows (tables, pages, dictionaries), for tests and measurements.
    #[cfg(test)]
    pub(super) fn bytes(&self) -> usize {
        let chunks =
            |n: usize, w: usize, size: usize| n.div_ceil(CHUNK_ROWS) * CHUNK_ROWS * w * size;
        chunks(self.len(), 1, size_of::<At>())
            + chunks(self.len(), self.nfields, 2)
            + self.pages.iter().map(String::capacity).sum::<usize>()
            + self
                .words
                .iter()
                .map(|w| w.list.iter().map(|s| s.len() + 16 + 40).sum::<usize>())
                .sum::<usize>()
    }
}

/// A fast hash for the dictionaries (the keys are the batch's own values, not an attacker's
/// choice of many colliding keys; a field's dictionary holds at most `MAX_WORDS`).
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in chunks.by_ref() {
            let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
            h = (h.rotate_left(5) ^ w).wrapping_mul(K);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ u64::from(b)).wrapping_mul(K);
        }
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(s: &Store, i: usize) -> Vec<String> {
        (0..s.nfields).map(|f| s.value(i, f).to_owned()).collect()
    }

    #[test]
    fn values_read_back_interned_or_not() {
        let mut s = Store::new(4);
        let mut want = Vec::new();
        for i in 0..20_000 {
            let r = vec![
                format!("name{i}"),
                "阴性".to_owned(),
                String::new(),
                format!("lab{}", i % 7),
            ];
            assert_eq!(s.push(&r), i);
            want.push(r);
        }
        for (i, r) in want.iter().enumerate() {
            assert_eq!(&row(&s, i), r);
        }
        assert!(s.words[0].closed, "names are not kept in a dictionary");
        assert!(!s.words[1].closed && s.words[1].list.len() == 1);
        assert_eq!(s.words[3].list.len(), 7);
    }

    #[test]
    fn growing_edits_long_cells_and_many_edits_read_back() {
        let mut s = Store::new(3);
        let mut want: Vec<Vec<String>> = (0..5000)
            .map(|i| vec![format!("a{i}"), "x".to_owned(), format!("c{i}")])
            .collect();
        for r in &want {
            s.push(r);
        }
        // Texts growing past what the row had, past a u16 end, past a page.
        let big = "长".repeat(70_000);
        let huge = "y".repeat(PAGE + 3);
        for round in 0..300 {
            let i = (round * 37) % want.len();
            let v = match round % 5 {
                0 => format!("{}{}", want[i][0], "z".repeat(round)),
                1 => big.clone(),
                2 => huge.clone(),
                3 => String::new(),
                _ => format!("短{round}"),
            };
            want[i][round % 3] = v;
            s.set(i, &want[i]);
            assert_eq!(row(&s, i), want[i], "round {round}");
        }
        for (i, r) in want.iter().enumerate() {
            assert_eq!(&row(&s, i), r, "row {i}");
        }
        // A long row made short again reads its new values.
        want[1] = vec![big.clone(), "x".into(), "c".into()];
        s.set(1, &want[1]);
        assert_eq!(row(&s, 1), want[1]);
        want[1] = vec!["a".into(), "".into(), "c".into()];
        s.set(1, &want[1]);
        assert_eq!(row(&s, 1), want[1]);
        assert!(!s.long.contains_key(&1));
    }

    #[test]
    fn a_full_dictionary_stores_new_values_as_text() {
        let mut s = Store::new(1);
        // Eight rows per value: the dictionary fills to its bound.
        let n = MAX_WORDS * 8 + 100;
        for i in 0..n {
            s.push(&[format!("{}", i / 8)]);
        }
        assert!(s.words[0].closed && s.words[0].list.len() == MAX_WORDS);
        for i in 0..n {
            assert_eq!(s.value(i, 0), format!("{}", i / 8));
        }
    }

    #[test]
    fn chunked_rows() {
        let mut c = Chunked::new(3);
        for i in 0..(CHUNK_ROWS * 2 + 5) as u32 {
            c.push(&[i, i + 1, i + 2]);
        }
        assert_eq!(c.row(CHUNK_ROWS + 1), [4097, 4098, 4099]);
        c.row_mut(3)[1] = 99;
        assert_eq!(c.iter().nth(3).unwrap(), [3, 99, 5]);
        assert_eq!(c.iter().count(), c.len());
    }
}
