//! A look at an `.xls` before calamine opens it. calamine parses every sheet of an `.xls` when
//! the file is opened and lays each one out as a dense grid from its first to its last cell, so
//! a damaged file that names one cell far away (row 65,535, column 65,535) makes that grid
//! gigabytes (a 76 KB file reached 21 GB). This reads only the container's tables and the BIFF
//! record headers, the way calamine will, and refuses a workbook whose sheets (declared in
//! their DIMENSIONS record or spanned by their cells) add up to more than
//! [`MAX_GRID_CELLS`], whose shared strings are over [`MAX_XLS_STRINGS_BYTES`], or whose
//! compound-file chains loop or claim more than the file holds (calamine would follow them
//! without end).
//!
//! Whatever this cannot make sense of is left to calamine, which gives its own error: the scan
//! only refuses what it has measured.

use super::limits::{Limit, MAX_GRID_CELLS, MAX_MERGES, MAX_XLS_STRINGS_BYTES};

/// Why an `.xls` is refused before calamine reads it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum XlsProblem {
    Limit(Limit),
    /// The workbook is encrypted (a FilePass record).
    Password,
    /// The container is damaged in a way calamine would not survive (a short English reason).
    Corrupt(String),
}

const ENDOFCHAIN: u32 = 0xFFFF_FFFE;
/// Sector ids at or above this are markers, not sectors.
const RESERVED_SECTORS: u32 = 0xFFFF_FFFA;
const DIFSECT: u32 = 0xFFFF_FFFC;
/// calamine reads streams shorter than this from the mini stream.
const MINI_CUTOFF: u64 = 4096;

/// Checks the bytes of a compound file (see the module comment).
pub(super) fn check(bytes: &[u8]) -> Result<(), XlsProblem> {
    let Some(cfb) = Cfb::new(bytes)? else {
        return Ok(());
    };
    for name in ["Workbook", "Book"] {
        if let Some(stream) = cfb.stream(name)? {
            return scan_biff(&stream);
        }
    }
    Ok(())
}

/// The parts of a compound file calamine reads: sectors, the FAT, the directory, the mini stream.
struct Cfb<'a> {
    bytes: &'a [u8],
    sector: usize,
    max_id: u32,
    fat: Vec<u32>,
    /// (name, first sector, length) of each directory entry.
    entries: Vec<(String, u32, u64)>,
    mini_fat: Vec<u32>,
    mini_stream: Vec<u8>,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u32s(b: &[u8]) -> impl Iterator<Item = u32> + '_ {
    b.chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
}

impl<'a> Cfb<'a> {
    /// `Ok(None)` when the header is not one calamine accepts (it then says why itself).
    // Over 80 lines: header, DIFAT, FAT, directory and mini stream, each read through the last.
    fn new(bytes: &'a [u8]) -> Result<Option<Cfb<'a>>, XlsProblem> {
        let corrupt = |what: &str| XlsProblem::Corrupt(what.to_owned());
        if bytes.len() < 512 {
            return Ok(None);
        }
        let sector: usize = match u16_at(bytes, 30) {
            Some(9) => 512,
            Some(12) => 4096,
            _ => return Ok(None),
        };
        if u16_at(bytes, 32) != Some(6) || bytes.len() < sector {
            return Ok(None);
        }
        let version = u16_at(bytes, 26).unwrap_or(0);
        let max_id = u32::try_from(bytes.len() / sector).unwrap_or(u32::MAX);
        let mut cfb = Cfb {
            bytes,
            sector,
            max_id,
            fat: Vec::new(),
            entries: Vec::new(),
            mini_fat: Vec::new(),
            mini_stream: Vec::new(),
        };
        let header = &bytes[..512];
        let dir_start = u32_at(header, 48).unwrap_or(ENDOFCHAIN);
        let mini_fat_start = u32_at(header, 60).unwrap_or(ENDOFCHAIN);
        let mini_fat_len = u32_at(header, 64).unwrap_or(0);
        let mut difat: Vec<u32> = u32s(&header[76..512]).collect();
        // The DIFAT chain (calamine bounds it by the number of sectors too).
        let mut id = u32_at(header, 68).unwrap_or(ENDOFCHAIN);
        let mut steps = 0u32;
        while id < RESERVED_SECTORS {
            steps += 1;
            if steps > max_id.saturating_add(1) {
                return Ok(None);
            }
            let Some(s) = cfb.sector(id) else {
                return Ok(None);
            };
            difat.extend(u32s(s));
            id = difat.pop().unwrap_or(ENDOFCHAIN);
        }
        // Each FAT sector is loaded once per mention: a DIFAT that names the same sector again
        // and again makes calamine's FAT larger than the file.
        let fat_sectors: Vec<u32> = difat.into_iter().filter(|id| *id < DIFSECT).collect();
        if fat_sectors.len() as u64 > u64::from(max_id) + 1 {
            return Err(corrupt("FAT larger than the file"));
        }
        for id in fat_sectors {
            let Some(s) = cfb.sector(id) else {
                return Ok(None);
            };
            let words: Vec<u32> = u32s(s).collect();
            cfb.fat.extend(words);
        }
        // The directory: calamine follows its chain without a length, so a loop never ends.
        let Some(dir) = cfb.chain(dir_start, u64::MAX)? else {
            return Ok(None);
        };
        for e in dir.chunks_exact(128) {
            let (mut name, _, _) = encoding_rs::UTF_16LE.decode(&e[..64]);
            if let Some(end) = name.find('\0') {
                name.to_mut().truncate(end);
            }
            let start = u32_at(e, 116).unwrap_or(ENDOFCHAIN);
            let len = if sector == 512 {
                u64::from(u32_at(e, 120).unwrap_or(0))
            } else {
                u32_at(e, 120)
                    .zip(u32_at(e, 124))
                    .map(|(lo, hi)| u64::from(lo) | (u64::from(hi) << 32))
                    .unwrap_or(0)
            };
            cfb.entries.push((name.into_owned(), start, len));
        }
        let Some(&(_, root_start, root_len)) = cfb.entries.first() else {
            return Ok(None);
        };
        if version != 3 && root_start == ENDOFCHAIN {
            return Ok(None);
        }
        if mini_fat_len > 0 {
            let file = bytes.len() as u64;
            let mini_fat_bytes = u64::from(mini_fat_len) * sector as u64;
            if root_len > file || mini_fat_bytes > file {
                return Err(corrupt("mini stream larger than the file"));
            }
            let Some(mini) = cfb.chain(root_start, root_len)? else {
                return Ok(None);
            };
            let Some(mini_fat) = cfb.chain(mini_fat_start, mini_fat_bytes)? else {
                return Ok(None);
            };
            cfb.mini_stream = mini;
            cfb.mini_fat = u32s(&mini_fat).collect();
        }
        Ok(Some(cfb))
    }

    /// A sector as calamine reads it: short or empty at the end of the file.
    fn sector(&self, id: u32) -> Option<&'a [u8]> {
        if id > self.max_id {
            return None;
        }
        let start = (id as usize + 1).saturating_mul(self.sector);
        let end = start.saturating_add(self.sector).min(self.bytes.len());
        self.bytes.get(start.min(end)..end)
    }

    /// Follows a chain of sectors up to `len` bytes. A chain longer than the file has sectors
    /// loops: refused. `Ok(None)` where calamine fails on its own (a sector past the end).
    fn chain(&self, start: u32, len: u64) -> Result<Option<Vec<u8>>, XlsProblem> {
        let mut out = Vec::new();
        let mut id = start;
        let mut steps = 0u64;
        while id != ENDOFCHAIN {
            steps += 1;
            if steps > u64::from(self.max_id) + 1 {
                return Err(XlsProblem::Corrupt("a sector chain loops".into()));
            }
            let Some(s) = self.sector(id) else {
                return Ok(None);
            };
            let room = usize::try_from(len.saturating_sub(out.len() as u64)).unwrap_or(usize::MAX);
            out.extend_from_slice(&s[..s.len().min(room)]);
            if out.len() as u64 >= len {
                break;
            }
            let Some(&next) = self.fat.get(id as usize) else {
                return Ok(None);
            };
            id = next;
        }
        Ok(Some(out))
    }

    /// The stream of that name (ASCII case ignored), as calamine reads it.
    fn stream(&self, name: &str) -> Result<Option<Vec<u8>>, XlsProblem> {
        let Some(&(_, start, len)) = self
            .entries
            .iter()
            .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
        else {
            return Ok(None);
        };
        if len < MINI_CUTOFF {
            // Inside the mini stream (already in memory, at most 4 KB taken).
            let mut out = Vec::new();
            let mut id = start;
            let mut steps = 0usize;
            while id != ENDOFCHAIN && (out.len() as u64) < len {
                steps += 1;
                let from = (id as usize).saturating_mul(64);
                let Some(s) = self.mini_stream.get(from..from.saturating_add(64)) else {
                    return Ok(None);
                };
                if steps > self.mini_stream.len() / 64 + 1 {
                    return Ok(None);
                }
                let room = (len as usize).saturating_sub(out.len());
                out.extend_from_slice(&s[..s.len().min(room)]);
                let Some(&next) = self.mini_fat.get(id as usize) else {
                    return Ok(None);
                };
                id = next;
            }
            return Ok(Some(out));
        }
        if len > self.bytes.len() as u64 {
            return Err(XlsProblem::Corrupt(format!(
                "{name} stream longer than the file"
            )));
        }
        self.chain(start, len)
    }
}

/// One BIFF record: its type, its data and the CONTINUE records after it (as calamine groups
/// them). `None` at the end or where calamine stops with an error.
fn next_record<'s>(stream: &mut &'s [u8]) -> Option<(u16, &'s [u8], usize)> {
    let typ = u16_at(stream, 0)?;
    let len = usize::from(u16_at(stream, 2)?);
    let data = stream.get(4..4 + len)?;
    *stream = &stream[4 + len..];
    let mut continued = 0;
    while stream.len() > 4 && u16_at(stream, 0) == Some(0x003C) {
        let len = usize::from(u16_at(stream, 2)?);
        stream.get(4..4 + len)?;
        continued += len;
        *stream = &stream[4 + len..];
    }
    Some((typ, data, continued))
}

/// The extent of the cells of one grid calamine builds.
#[derive(Default)]
struct Extent(Option<(u32, u32, u32, u32)>);

impl Extent {
    fn add(&mut self, row: u32, col: u32) {
        self.0 = Some(match self.0 {
            None => (row, row, col, col),
            Some((r0, r1, c0, c1)) => (r0.min(row), r1.max(row), c0.min(col), c1.max(col)),
        });
    }

    /// (rows, columns) of the grid.
    fn size(&self) -> (u64, u64) {
        match self.0 {
            None => (0, 0),
            Some((r0, r1, c0, c1)) => (u64::from(r1 - r0) + 1, u64::from(c1 - c0) + 1),
        }
    }
}

/// Scans the BIFF records of the workbook stream (see the module comment).
// Over 80 lines: one pass over the records, one arm per record kind, sharing the sheet's state.
fn scan_biff(stream: &[u8]) -> Result<(), XlsProblem> {
    let too_big = |sheet: &str, (rows, cols): (u64, u64)| {
        XlsProblem::Limit(Limit::Grid {
            sheet: sheet.to_owned(),
            rows,
            cols,
        })
    };
    // The workbook globals: where each sheet starts, the shared strings, a password.
    let mut sheets = Vec::new();
    let mut strings = 0u64;
    let mut rest = stream;
    while let Some((typ, data, continued)) = next_record(&mut rest) {
        match typ {
            0x002F if u16_at(data, 0).is_some_and(|v| v != 0) => return Err(XlsProblem::Password),
            0x0085 => {
                if let Some(pos) = u32_at(data, 0) {
                    let name = sheet_name(data).unwrap_or_else(|| format!("#{}", sheets.len() + 1));
                    sheets.push((pos as usize, name));
                }
            }
            0x00FC => {
                strings += (data.len() + continued) as u64;
                if strings > MAX_XLS_STRINGS_BYTES {
                    return Err(XlsProblem::Limit(Limit::Size {
                        part: "SST".into(),
                        limit: MAX_XLS_STRINGS_BYTES,
                    }));
                }
            }
            0x000A => break,
            _ => {}
        }
    }
    // Each sheet: the cells calamine keeps (values and formulas are two grids) and the room
    // its DIMENSIONS record makes it reserve.
    let mut total = 0u64;
    let mut merges = 0u64;
    for (pos, name) in sheets {
        let Some(mut rest) = stream.get(pos..) else {
            break;
        };
        let (mut values, mut formulas) = (Extent::default(), Extent::default());
        let mut formula_at = (0u32, 0u32);
        let (mut seen_bof, mut depth) = (false, 0usize);
        while let Some((typ, data, _)) = next_record(&mut rest) {
            if depth > 0 {
                match typ {
                    0x0809 => depth += 1,
                    0x000A => depth -= 1,
                    _ => {}
                }
                continue;
            }
            let at = u16_at(data, 0)
                .zip(u16_at(data, 2))
                .map(|(r, c)| (u32::from(r), u32::from(c)));
            match typ {
                0x0809 if seen_bof => depth += 1,
                0x0809 => seen_bof = true,
                0x0200 => {
                    let declared = declared_size(data);
                    if declared.0.saturating_mul(declared.1) > MAX_GRID_CELLS {
                        return Err(too_big(&name, declared));
                    }
                }
                0x0203 | 0x0204 | 0x00D6 | 0x0205 | 0x027E | 0x00FD => {
                    if let Some((r, c)) = at {
                        values.add(r, c);
                    }
                }
                0x0207 => values.add(formula_at.0, formula_at.1),
                0x00BD => {
                    if let (Some((r, first)), Some(last)) =
                        (at, data.len().checked_sub(2).and_then(|p| u16_at(data, p)))
                    {
                        values.add(r, first);
                        values.add(r, u32::from(last).max(first));
                    }
                }
                0x0006 if data.len() >= 20 => {
                    if let Some((r, c)) = at {
                        formula_at = (r, c);
                        values.add(r, c);
                        formulas.add(r, c);
                    }
                }
                0x00E5 => {
                    merges += u64::from(u16_at(data, 0).unwrap_or(0));
                    if merges > MAX_MERGES {
                        return Err(XlsProblem::Limit(Limit::Merges { part: name }));
                    }
                }
                0x000A => break,
                _ => {}
            }
        }
        for grid in [&values, &formulas] {
            let (rows, cols) = grid.size();
            total = total.saturating_add(rows.saturating_mul(cols));
            if total > MAX_GRID_CELLS {
                return Err(too_big(&name, (rows, cols)));
            }
        }
    }
    Ok(())
}

/// The name in a BIFF8 BoundSheet8 record (`None` for other versions or a damaged record).
fn sheet_name(data: &[u8]) -> Option<String> {
    let len = usize::from(*data.get(6)?);
    let text = data.get(8..)?;
    match data.get(7)? {
        0 => Some(text.get(..len)?.iter().map(|&b| char::from(b)).collect()),
        1 => {
            let units: Vec<u16> = text
                .get(..len * 2)?
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            Some(String::from_utf16_lossy(&units))
        }
        _ => None,
    }
}

/// The (rows, columns) a DIMENSIONS record makes calamine reserve, computed as calamine does
/// (including its wrap-around when the last row is before the first).
fn declared_size(r: &[u8]) -> (u64, u64) {
    let fields = match r.len() {
        10 => u16_at(r, 0)
            .zip(u16_at(r, 2))
            .zip(u16_at(r, 4).zip(u16_at(r, 6)))
            .map(|((rf, rl), (cf, cl))| {
                (u32::from(rf), u32::from(rl), u32::from(cf), u32::from(cl))
            }),
        14 | 16 => u32_at(r, 0)
            .zip(u32_at(r, 4))
            .zip(u16_at(r, 8).zip(u16_at(r, 10)))
            .map(|((rf, rl), (cf, cl))| (rf, rl, u32::from(cf), u32::from(cl))),
        _ => None,
    };
    let Some((rf, rl, mut cf, cl)) = fields else {
        return (0, 0);
    };
    if cf > 0xFF || cl < cf {
        cf = 0;
    }
    let (end_r, end_c) = if rl >= 1 && cl >= 1 {
        (rl - 1, cl - 1)
    } else {
        (rf, cf)
    };
    (
        u64::from(end_r.wrapping_sub(rf).wrapping_add(1)),
        u64::from(end_c.wrapping_sub(cf).wrapping_add(1)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(typ: u16, data: &[u8]) -> Vec<u8> {
        let mut r = typ.to_le_bytes().to_vec();
        r.extend((data.len() as u16).to_le_bytes());
        r.extend(data);
        r
    }

    fn number(row: u16, col: u16) -> Vec<u8> {
        let mut d = row.to_le_bytes().to_vec();
        d.extend(col.to_le_bytes());
        d.extend(0u16.to_le_bytes());
        d.extend(1.0f64.to_le_bytes());
        record(0x0203, &d)
    }

    /// A workbook stream: globals naming one sheet, then the sheet's records.
    fn workbook(sheet: &[Vec<u8>]) -> Vec<u8> {
        let bof = |dt: u16| {
            let mut d = 0x0600u16.to_le_bytes().to_vec();
            d.extend(dt.to_le_bytes());
            d.extend([0u8; 12]);
            record(0x0809, &d)
        };
        let name = b"Sheet1";
        let bound = |pos: u32| {
            let mut d = pos.to_le_bytes().to_vec();
            d.extend([0, 0, name.len() as u8, 0]);
            d.extend(name);
            record(0x0085, &d)
        };
        let globals_len = bof(5).len() + bound(0).len() + record(0x000A, &[]).len();
        let mut s = bof(5);
        s.extend(bound(globals_len as u32));
        s.extend(record(0x000A, &[]));
        s.extend(bof(0x10));
        for r in sheet {
            s.extend(r);
        }
        s.extend(record(0x000A, &[]));
        s
    }

    #[test]
    fn an_ordinary_sheet_passes() {
        let cells: Vec<Vec<u8>> = (0..100)
            .flat_map(|r| (0..15).map(move |c| number(r, c)))
            .collect();
        assert_eq!(scan_biff(&workbook(&cells)), Ok(()));
    }

    #[test]
    fn a_cell_far_away_refuses_the_workbook() {
        let far = workbook(&[number(0, 0), number(65_535, 65_535)]);
        match scan_biff(&far) {
            Err(XlsProblem::Limit(Limit::Grid { rows, cols, .. })) => {
                assert_eq!((rows, cols), (65_536, 65_536));
            }
            other => panic!("{other:?}"),
        }
        // Within Excel's own 256 columns but still too many cells for one grid.
        assert!(scan_biff(&workbook(&[number(0, 0), number(65_535, 255)])).is_err());
        assert_eq!(
            scan_biff(&workbook(&[number(0, 0), number(65_535, 20)])),
            Ok(())
        );
    }

    #[test]
    fn a_declared_size_too_large_or_reversed_is_refused() {
        let dims = |rf: u32, rl: u32, cf: u16, cl: u16| {
            let mut d = rf.to_le_bytes().to_vec();
            d.extend(rl.to_le_bytes());
            d.extend(cf.to_le_bytes());
            d.extend(cl.to_le_bytes());
            d.extend([0, 0]);
            record(0x0200, &d)
        };
        assert_eq!(scan_biff(&workbook(&[dims(0, 100, 0, 15)])), Ok(()));
        assert!(scan_biff(&workbook(&[dims(0, 1_000_000, 0, 200)])).is_err());
        // Last row before the first: calamine's subtraction wraps to four billion rows.
        assert!(scan_biff(&workbook(&[dims(10, 5, 0, 15)])).is_err());
    }

    #[test]
    fn an_encrypted_workbook_is_a_password_case() {
        let mut s = record(0x002F, &[1, 0, 0, 0]);
        s.extend(record(0x000A, &[]));
        assert_eq!(scan_biff(&s), Err(XlsProblem::Password));
    }

    #[test]
    fn not_a_compound_file_is_left_to_calamine() {
        assert_eq!(check(b"short"), Ok(()));
        assert_eq!(check(&[0u8; 2048]), Ok(()));
    }
}
