//! Unattended reporting (unattended.md): results reach the platform while the clerk is busy.
//!
//! [`watch`] handles the files that land in a folder of their own (convert, queue the ready
//! rows, send, then move each file to `已处理/<date>/` or `需要处理/`); [`fetch`] downloads the
//! city system's export by a [`source::Source`]; [`schedule`] registers `watch --once` with the
//! system's scheduler. [`candidates`] is the one choice of the files a watcher may take (settled
//! by our own clock, links never followed). [`journal`] remembers handled content and the program's own outputs;
//! [`claim`] lets the window hold a file so that no watcher touches it. The one place that
//! calls the conversion and upload workflow is [`handle`]; [`watcher`] is the watcher both
//! front ends run (`watch` and the window's).

pub mod candidates;
pub mod claim;
pub mod fetch;
pub mod handle;
pub mod journal;
pub mod schedule;
pub mod source;
pub mod watch;
pub mod watcher;

use sha2::{Digest, Sha256};
use std::path::Path;

/// SHA-256 of what a spreadsheet holds: every sheet's name and every cell's value, not the
/// file's bytes. A city system that stamps each export with the time it was made gives the same
/// fingerprint for the same rows. `None` when the file cannot be read as a table.
pub fn cells_sha256(path: &Path) -> Option<String> {
    let mut book = crate::read::Workbook::open(path).ok()?;
    let mut h = Sha256::new();
    for sheet in book.sheet_names() {
        h.update(sheet.as_bytes());
        h.update([0x1d]);
        book.for_each_row(&sheet, &mut |r, cells| {
            h.update(r.to_le_bytes());
            for c in &cells {
                h.update(c.display().as_bytes());
                h.update([0x1f]);
            }
            h.update([0x1e]);
            std::ops::ControlFlow::Continue(())
        })
        .ok()?;
    }
    Some(crate::digest::hex(&h.finalize()))
}

/// The folder, under the watched one, for files handled completely.
pub const DONE_DIR: &str = "已处理";
/// The folder, under the watched one, for files that need the clerk.
pub const FIX_DIR: &str = "需要处理";
