//! A batch's source rows as the checker saw them: the one filler of vertically merged blocks
//! (used for the checked rows by `Batch::apply_merges`, and here), and the re-read of the
//! source rows that the workbook of rejected rows copies, driven by what the batch recorded
//! (`SourceInfo`: path, sheet, header row, merged blocks).

use crate::read::{Cell, Merge, ReadError, Workbook};
use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::path::PathBuf;

/// Where the rows came from.
#[derive(Debug, Clone)]
pub struct SourceInfo {
    pub path: PathBuf,
    pub sheet: String,
    /// The header row as Excel numbers it (1-based).
    pub header_row: u32,
    /// The header cells of the source, by source column.
    pub headers: Vec<String>,
    /// Per template field, the source column feeding it.
    pub columns: Vec<Option<usize>>,
    /// Source headers no template field uses.
    pub unused: Vec<String>,
    /// How the profile was chosen, for the window and the summary.
    pub auto_chosen: bool,
    /// The vertically merged blocks below the header (0-based), filled by [`MergeFiller`].
    pub merges: Vec<Merge>,
}

/// A source row: its Excel row number and its cells.
pub type SourceRow = (u32, Vec<Cell>);

/// The widest block a row is filled for (columns 0..=1023): a merge reaching further is cut.
const MAX_COL: usize = 1023;

/// Gives every row of a vertically merged block below the header the value its top row has in
/// the same column, as Excel shows it: rows are visited in order with [`MergeFiller::row`].
#[derive(Debug, Clone)]
pub struct MergeFiller {
    /// Blocks below the header spanning two rows or more, by first row.
    pending: Vec<Merge>,
    next: usize,
    /// Blocks under way, with the top row's value per column (from `first_col`).
    active: Vec<(Merge, Vec<Cell>)>,
}

impl MergeFiller {
    /// The vertical blocks of `merges` that start below the header (`header_index`, 0-based).
    pub fn new(merges: &[Merge], header_index: u32) -> MergeFiller {
        let mut pending: Vec<Merge> = merges
            .iter()
            .filter(|m| m.last_row > m.first_row && m.first_row > header_index)
            .copied()
            .collect();
        pending.sort_by_key(|m| m.first_row);
        MergeFiller {
            pending,
            next: 0,
            active: Vec::new(),
        }
    }

    /// Whether no block is to be filled.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Visits source row `r` (0-based; rows in increasing order, some may be skipped).
    /// `top(column)` is this row's own value in a column, asked for the blocks that start on
    /// it. Returns the (column, value) pairs this row takes from the top of a block above.
    pub fn row(&mut self, r: u32, top: impl Fn(usize) -> Cell) -> Vec<(usize, Cell)> {
        if self.pending.is_empty() {
            return Vec::new();
        }
        self.active.retain(|(m, _)| m.last_row >= r);
        while let Some(m) = self.pending.get(self.next).filter(|m| m.first_row <= r) {
            let cols = m.first_col as usize..=(m.last_col as usize).min(MAX_COL);
            // A block whose top row was not visited has nothing to give.
            let values = if m.first_row == r {
                cols.map(&top).collect()
            } else {
                Vec::new()
            };
            if m.last_row >= r {
                self.active.push((*m, values));
            }
            self.next += 1;
        }
        let mut fills = Vec::new();
        for (m, values) in &self.active {
            if m.first_row == r {
                continue;
            }
            for (offset, value) in values.iter().enumerate() {
                if !value.is_blank() {
                    fills.push((m.first_col as usize + offset, value.clone()));
                }
            }
        }
        fills
    }

    /// Fills a row of source cells in place (see [`MergeFiller::row`]).
    pub fn fill(&mut self, r: u32, cells: &mut Vec<Cell>) {
        let fills = self.row(r, |c| cells.get(c).cloned().unwrap_or_default());
        for (c, value) in fills {
            if cells.len() <= c {
                cells.resize(c + 1, Cell::Empty);
            }
            cells[c] = value;
        }
    }
}

/// The source rows with these Excel row numbers, as the checker saw them (merged blocks
/// filled), plus the header cells: for the workbook of rejected rows.
pub fn rows(
    source: &SourceInfo,
    lines: &BTreeSet<u32>,
) -> Result<(Vec<Cell>, Vec<SourceRow>), ReadError> {
    let mut wb = Workbook::open(&source.path)?;
    let header_index = source.header_row - 1;
    let mut filler = MergeFiller::new(&source.merges, header_index);
    let mut header = Vec::new();
    let mut rows = Vec::new();
    let last = lines.last().copied().unwrap_or(0);
    wb.for_each_row(&source.sheet, &mut |r, mut cells| {
        if r == header_index {
            header = cells;
            return ControlFlow::Continue(());
        }
        if r > header_index {
            filler.fill(r, &mut cells);
            if lines.contains(&(r + 1)) {
                rows.push((r + 1, cells));
            }
        }
        if r + 1 >= last && r >= header_index {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    Ok((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.into())
    }

    #[test]
    fn merged_block_fills_down() {
        let m = Merge {
            first_row: 2,
            last_row: 4,
            first_col: 1,
            last_col: 1,
        };
        let mut f = MergeFiller::new(&[m], 0);
        let mut r2 = vec![text("a"), text("采样点一")];
        f.fill(2, &mut r2);
        let mut r3 = vec![text("b")];
        f.fill(3, &mut r3);
        assert_eq!(r3[1], text("采样点一"));
        let mut r5 = vec![text("c")];
        f.fill(5, &mut r5);
        assert_eq!(r5.len(), 1);
    }

    #[test]
    fn each_column_takes_its_own_top_and_unvisited_tops_give_nothing() {
        let wide = Merge {
            first_row: 1,
            last_row: 2,
            first_col: 0,
            last_col: 1,
        };
        let skipped_top = Merge {
            first_row: 3,
            last_row: 5,
            first_col: 0,
            last_col: 0,
        };
        let header_block = Merge {
            first_row: 0,
            last_row: 3,
            first_col: 2,
            last_col: 2,
        };
        let mut f = MergeFiller::new(&[skipped_top, wide, header_block], 0);
        assert!(f.row(1, |c| [text("x"), Cell::Empty][c].clone()).is_empty());
        assert_eq!(f.row(2, |_| text("never asked")), vec![(0, text("x"))]);
        // Row 3, the top of `skipped_top`, is not visited.
        assert!(f.row(4, |_| text("y")).is_empty());
        assert!(!f.is_empty());
        assert!(MergeFiller::new(&[header_block], 0).is_empty());
    }
}
