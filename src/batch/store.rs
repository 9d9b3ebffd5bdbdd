//! The compact storage of a batch's row values (`src/batch/mod.rs` keeps the rest of a row).
//!
//! No allocation per row: the values a row does not share with many others are appended to
//! fixed-size text pages (an edited row's new text is appended too; its old text is left as
//! garbage, edits are rare). A field whose values repeat (the lab, the result, the sample
//! type, ...) keeps them once in a dictionary. Per row and field there is one `u16`: for the
//! rows before the field's dictionary closed ([`Words::from`]), the value's number in it; from
//! then on, the end of the value among the row's own texts, or ([`BACK`]) how many rows back
//! the row is that holds the same value (the rows of one tube share a barcode and often the
//! sampling time; a row only ever points at a row holding its value as text, so a read is one
//! step). A row whose own texts are longer than [`MAX_END`] (or, edited, with a value its
//! field's full dictionary cannot take) keeps its ends in a side table. The per-row tables grow
//! by chunks, so a million rows never need a doubled copy of a table.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

/// Rows per chunk of a [`Chunked`] table.
const CHUNK_ROWS: usize = 4096;
/// Bytes per text page.
const PAGE: usize = 1 << 20;
/// A row's texts at least this long get a page of their own.
const OWN_PAGE: usize = PAGE / 4;
/// In [`At::page`]: the row's ends are in [`Store::long`] (all its values in its own text).
const LONG: u32 = 1 << 31;
/// In a cell after the field's dictionary closed: the value is the one of the row that many
/// rows back (`cell & !BACK`), which holds it as text.
const BACK: u16 = 0x8000;
/// Largest end of a row's own texts a cell holds.
const MAX_END: usize = 0x7FFF;
/// Largest distance of a [`BACK`]: a longer run of one value holds it as text again, so an
/// edit (or a merged block filled, row after row) detaches a short run at most.
const MAX_BACK: usize = 32;
/// Values a dictionary holds at most (numbered by a `u16`).
const MAX_WORDS: usize = 1 << 16;
/// A longer value closes its field's dictionary (a 1 MB cell is not kept for repeats).
const MAX_WORD_LEN: usize = 1024;
/// A field's dictionary may close once it has this many values: when keeping the values as
/// text, each once per run of equal values ([`BACK`]), would cost less than the dictionary
/// (names, ID numbers, phones; barcodes, a tube's rows being together).
const TRY_WORDS: usize = 1024;
/// About what a value costs in a dictionary besides its text (its allocation, list, map).
const WORD_COST: usize = 100;

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
struct Words {
    list: Vec<Arc<str>>,
    number: HashMap<Arc<str>, u16, BuildHasherDefault<Fx>>,
    /// The number of the value found last (most rows repeat their neighbour's).
    last: Option<u16>,
    /// Of the rows appended while the dictionary was open: the number of the last one's value,
    /// how many had the value of the row above, the bytes of their values.
    prev: Option<u16>,
    pushed: usize,
    repeats: usize,
    bytes: usize,
    /// The first row whose value is not in the dictionary (and no later row's is):
    /// `usize::MAX` while it is open.
    from: usize,
}

impl Default for Words {
    fn default() -> Self {
        Words {
            list: Vec::new(),
            number: HashMap::default(),
            last: None,
            prev: None,
            pushed: 0,
            repeats: 0,
            bytes: 0,
            from: usize::MAX,
        }
    }
}

impl Words {
    /// The value's number, added when new. `None` when the dictionary is full or the value too
    /// long; for the newest row (`index + 1 == rows`) the dictionary then closes, and it closes
    /// too when it costs more than it saves ([`TRY_WORDS`]).
    fn find(&mut self, value: &str, index: usize, rows: usize) -> Option<u16> {
        debug_assert!(index < self.from);
        let newest = index + 1 == rows;
        let found = match self.last {
            Some(n) if *self.list[n as usize] == *value => Some(n),
            _ => self.number.get(value).copied(),
        };
        let n = match found {
            Some(n) => n,
            None => {
                let full = self.list.len() >= MAX_WORDS || value.len() > MAX_WORD_LEN;
                if full || (newest && self.list.len() >= TRY_WORDS && self.as_text_is_cheaper()) {
                    if newest {
                        self.from = index;
                    }
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
        if newest {
            self.pushed += 1;
            self.repeats += usize::from(self.prev == Some(n));
            self.prev = Some(n);
            self.bytes += value.len();
        }
        Some(n)
    }

    /// Whether the rows so far would have taken less room with their values as text, once per
    /// run of equal values, than in the dictionary.
    fn as_text_is_cheaper(&self) -> bool {
        let avg = self.bytes / self.pushed.max(1);
        (self.pushed - self.repeats) * avg <= self.list.len() * (avg + WORD_COST)
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
    /// The values of the last row appended, until a row is stored again.
    above: Option<Vec<String>>,
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
            above: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.at.len()
    }

    /// Appends a row's values (one per field); returns its index.
    pub(super) fn push(&mut self, values: Vec<String>) -> usize {
        assert_eq!(values.len(), self.nfields, "one value per field");
        let index = self.len();
        // A value the row above has (a field whose dictionary closed before it): point at the
        // row that holds it as text.
        let mut cells = vec![0u16; self.nfields];
        if index > 0 {
            for (f, v) in values.iter().enumerate() {
                if index <= self.words[f].from {
                    continue;
                }
                let same = match &self.above {
                    Some(above) => above[f] == *v,
                    None => self.value(index - 1, f) == v,
                };
                if same {
                    let back = index - self.head(index - 1, f);
                    if back <= MAX_BACK {
                        cells[f] = BACK | back as u16;
                    }
                }
            }
        }
        self.at.push(&[At::default()]);
        self.cells.push(&cells);
        self.store(index, &values, cells);
        self.above = Some(values);
        index
    }

    /// Stores a row's values again (the old text stays behind, unused).
    pub(super) fn set<S: AsRef<str>>(&mut self, index: usize, values: &[S]) {
        assert_eq!(values.len(), self.nfields, "one value per field");
        self.above = None;
        self.detach(index);
        self.store(index, values, vec![0; self.nfields]);
    }

    /// Before a row is stored again (as text, pointing nowhere): the rows after it that point
    /// at it, or at the row it points at, get their own. Those rows are always the ones right
    /// after it: the next row takes its values as text and the others point at that one.
    fn detach(&mut self, index: usize) {
        let next = index + 1;
        if next >= self.len() || self.at.row(next)[0].page & LONG != 0 {
            return;
        }
        let runs: Vec<(usize, usize)> = (0..self.nfields)
            .filter_map(|f| {
                let head = self.head(next, f);
                (head != next).then(|| {
                    let end = (next + 1..self.len())
                        .find(|&j| self.head(j, f) != head)
                        .unwrap_or(self.len());
                    (f, end)
                })
            })
            .collect();
        if runs.is_empty() {
            return;
        }
        let values: Vec<String> = (0..self.nfields)
            .map(|f| self.value(next, f).to_owned())
            .collect();
        self.store(next, &values, vec![0; self.nfields]);
        for (f, end) in runs {
            for j in next + 1..end {
                self.cells.row_mut(j)[f] = BACK | (j - next) as u16;
            }
        }
    }

    /// The row holding a row's value of a field as text (itself unless it points back).
    fn head(&self, index: usize, field: usize) -> usize {
        let cell = self.cells.row(index)[field];
        if self.at.row(index)[0].page & LONG == 0
            && index >= self.words[field].from
            && cell & BACK != 0
        {
            index - (cell & !BACK) as usize
        } else {
            index
        }
    }

    /// Stores a row's values, `cells` holding the fields that point back ([`BACK`]).
    fn store<S: AsRef<str>>(&mut self, index: usize, values: &[S], mut cells: Vec<u16>) {
        let rows = self.len();
        let mut own = 0usize;
        let mut long = false;
        for (f, v) in values.iter().enumerate() {
            let v = v.as_ref();
            let words = &mut self.words[f];
            if index >= words.from {
                if cells[f] & BACK == 0 {
                    own += v.len();
                }
                continue;
            }
            match words.find(v, index, rows) {
                Some(n) => cells[f] = n,
                // The dictionary closed at this row: its value is text.
                None if index >= words.from => own += v.len(),
                // Before that row every value is in the dictionary: this one cannot be.
                None => long = true,
            }
        }
        let long = long || own > MAX_END;
        if long {
            own = values.iter().map(|v| v.as_ref().len()).sum();
        }
        let mut at = self.room(own);
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
            at.page |= LONG;
        } else {
            self.long.remove(&(index as u32));
            let mut end = 0usize;
            for (f, v) in values.iter().enumerate() {
                if index >= self.words[f].from && cells[f] & BACK == 0 {
                    page.push_str(v.as_ref());
                    end += v.as_ref().len();
                    cells[f] = end as u16;
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
        if self.at.row(index)[0].page & LONG != 0 {
            return self.text(index, field);
        }
        if index < self.words[field].from {
            return &self.words[field].list[self.cells.row(index)[field] as usize];
        }
        self.text(self.head(index, field), field)
    }

    /// The value of a field a row holds as text.
    fn text(&self, index: usize, field: usize) -> &str {
        let at = self.at.row(index)[0];
        let page = &self.pages[(at.page & !LONG) as usize];
        let base = at.start as usize;
        if at.page & LONG != 0 {
            let ends = &self.long[&(index as u32)];
            let start = if field == 0 { 0 } else { ends[field - 1] };
            return &page[base + start as usize..base + ends[field] as usize];
        }
        let cells = self.cells.row(index);
        // The own text before this one ends where the nearest earlier own text ends.
        let start = (0..field)
            .rev()
            .find(|&g| index >= self.words[g].from && cells[g] & BACK == 0)
            .map_or(0, |g| cells[g] as usize);
        &page[base + start..base + cells[field] as usize]
    }

    #[cfg(test)]
    pub(super) fn stats(&self) {
        let n = self.len();
        eprintln!("rows {n} bytes/row {}", self.bytes() / n.max(1));
        let text: usize = self.pages.iter().map(String::len).sum();
        eprintln!("pages {} text/row {}", self.pages.len(), text / n.max(1));
        for (f, w) in self.words.iter().enumerate() {
            let own: usize = (w.from.min(n)..n)
                .filter(|&i| self.head(i, f) == i)
                .map(|i| self.value(i, f).len())
                .sum();
            eprintln!(
                "field {f}: words {} from {} own bytes/row {:.1}",
                w.list.len(),
                w.from,
                own as f64 / n as f64
            );
        }
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
            assert_eq!(s.push(r.clone()), i);
            want.push(r);
        }
        for (i, r) in want.iter().enumerate() {
            assert_eq!(&row(&s, i), r);
        }
        assert!(
            s.words[0].from <= TRY_WORDS,
            "names are not kept in a dictionary"
        );
        assert_eq!(s.words[1].from, usize::MAX);
        assert_eq!(s.words[1].list.len(), 1);
        assert_eq!(s.words[2].list.len(), 1);
        assert_eq!(s.words[3].list.len(), 7);
    }

    #[test]
    fn growing_edits_long_cells_and_many_edits_read_back() {
        let mut s = Store::new(3);
        let mut want: Vec<Vec<String>> = (0..5000)
            .map(|i| vec![format!("a{i}"), "x".to_owned(), format!("c{i}")])
            .collect();
        for r in &want {
            s.push(r.clone());
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
            assert!(row(&s, i) == want[i], "round {round}");
        }
        for (i, r) in want.iter().enumerate() {
            assert!(&row(&s, i) == r, "row {i}");
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
        // Values repeating, not in a row: the dictionary pays and fills to its bound.
        let n = MAX_WORDS * 5 + 5000;
        let v = |i: usize| format!("{:040}", i % (i / 5 + 1));
        for i in 0..n {
            s.push(vec![v(i)]);
        }
        assert_eq!(s.words[0].list.len(), MAX_WORDS);
        assert!(s.words[0].from < n);
        // An early row edited to a value the full dictionary cannot take keeps it as text.
        s.set(5, &["新的值"]);
        assert!(s.long.contains_key(&5));
        s.set(6, &[v(0)]);
        assert!(!s.long.contains_key(&6));
        for i in 0..n {
            let want = match i {
                5 => "新的值".to_owned(),
                6 => v(0),
                _ => v(i),
            };
            assert_eq!(s.value(i, 0), want);
        }
    }

    #[test]
    fn rows_pointing_back_survive_edits_of_any_row() {
        let mut s = Store::new(3);
        // Runs of one barcode-like value (mostly 1 to 6 rows), times repeating in pairs, names
        // unique.
        let mut want: Vec<Vec<String>> = Vec::new();
        let mut k = 0usize;
        while want.len() < 10_000 {
            // Now and then a run longer than a row may point back.
            let run = if k % 100 == 7 {
                3 * MAX_BACK
            } else {
                1 + k % 6
            };
            for _ in 0..run {
                let i = want.len();
                want.push(vec![
                    format!("T{k:08}"),
                    format!("07:{:05}", i / 2),
                    format!("n{i}"),
                ]);
            }
            k += 1;
        }
        for r in &want {
            s.push(r.clone());
        }
        assert!(s.words[0].from < 8000 && s.words[1].from < 4000);
        let backs = (0..want.len()).filter(|&i| s.head(i, 0) != i).count();
        assert!(backs > 1000, "{backs} rows point back");
        let mut x = 12345u64;
        for round in 0..3000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let i = (x >> 33) as usize % want.len();
            let f = (x >> 20) as usize % 3;
            // The neighbour's value, a new one, or a long one.
            want[i][f] = match round % 4 {
                0 if i > 0 => want[i - 1][f].clone(),
                1 if i + 1 < want.len() => want[i + 1][f].clone(),
                2 if round % 40 == 2 => "长".repeat(12_000),
                _ => format!("e{round}"),
            };
            s.set(i, &want[i]);
            if round % 100 == 0 || round > 2950 {
                for (j, r) in want.iter().enumerate() {
                    assert!(row(&s, j) == *r, "round {round} row {j}");
                }
            }
        }
        // The newest row after edits still points back where it can.
        let last = want.last().unwrap().clone();
        s.push(last.clone());
        want.push(last);
        let n = want.len() - 1;
        assert_ne!(s.head(n, 0), n);
        for (j, r) in want.iter().enumerate() {
            assert!(row(&s, j) == *r, "row {j}");
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
