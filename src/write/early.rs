//! The upload sheet written while the export is still being read: `convert` starts an
//! [`EarlyUpload`], the pipeline hands it each row that is ready when checked on its own, and a
//! thread of its own builds the sheet on the second core while the reader and the checker work.
//!
//! Whether a row is ready is final only when the whole file is read (a later row can repeat or
//! contradict it, the ledger can know it, a merged block or a saved edit can change it). So
//! [`EarlyUpload::finish`] keeps the early sheet only when it holds exactly the batch's ready
//! rows, in order, none of them stored again since it was taken ([`Batch::rewritten`]);
//! otherwise the sheet is written again from the batch by [`super::write_rows`]. Either way the
//! file is the one [`super::write_upload`] writes, written aside and renamed into place.

use super::{Aside, SheetKind, UploadSheet, WriteError, building, refuse_source};
use crate::batch::{Batch, RowStatus};
use crate::profile::Profile;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Chunks of rows waiting for the writer: enough to ride over a slow moment of either side,
/// few enough that rows in flight stay a few MB.
const IN_FLIGHT: usize = 16;

/// Rows ready when checked on their own, handed to the writer together: their batch indices and
/// their output values (template field order), all in one string.
#[derive(Default)]
pub struct Rows {
    index: Vec<u32>,
    text: String,
    /// End of each value in `text`, `fields` per row.
    ends: Vec<u32>,
    fields: usize,
}

impl Rows {
    /// Adds the row at batch index `index` with its output values.
    pub fn push<'a>(&mut self, index: usize, values: impl Iterator<Item = &'a str>) {
        let mut n = 0;
        for v in values {
            self.text.push_str(v);
            self.ends.push(self.text.len() as u32);
            n += 1;
        }
        self.fields = n;
        self.index.push(index as u32);
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn row(&self, k: usize) -> impl Iterator<Item = &str> {
        let ends = &self.ends[k * self.fields..(k + 1) * self.fields];
        let mut start = if k == 0 {
            0
        } else {
            self.ends[k * self.fields - 1] as usize
        };
        ends.iter().map(move |&end| {
            let v = &self.text[start..end as usize];
            start = end as usize;
            v
        })
    }
}

/// The sheet written so far, waiting for the verdict.
struct Written {
    aside: Aside,
    sheet: UploadSheet,
    /// Batch indices of the rows in it, in order.
    rows: Vec<u32>,
}

enum State {
    /// No profile yet (the header is not found).
    Waiting,
    Writing {
        tx: SyncSender<Rows>,
        worker: JoinHandle<Option<Written>>,
    },
    /// Not started (the output cannot be written early) or given up: written at the end.
    Off,
}

/// An upload sheet written while the export is read. See the module documentation.
pub struct EarlyUpload {
    path: PathBuf,
    state: Mutex<State>,
}

impl EarlyUpload {
    /// An early writer of the upload sheet `path`; nothing happens until [`EarlyUpload::begin`].
    pub fn new(path: &Path) -> EarlyUpload {
        EarlyUpload {
            path: path.to_owned(),
            state: Mutex::new(State::Waiting),
        }
    }

    /// The profile is known: start the sheet and its writer. When that is not possible, the
    /// sheet is written at the end, where the error (if any) reaches the clerk.
    pub fn begin(&self, profile: &Profile, source: &Path) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !matches!(*state, State::Waiting) {
            return;
        }
        *state = self.start(profile, source).unwrap_or(State::Off);
    }

    fn start(&self, profile: &Profile, source: &Path) -> Option<State> {
        let path = &self.path;
        refuse_source(source, path).ok()?;
        let kind = SheetKind::of(path).ok()?;
        let mut aside = Aside::new(path).ok()?;
        let sheet = building(path, || UploadSheet::begin(kind, profile, path, aside.file())).ok()?;
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let path = path.clone();
        let worker = std::thread::Builder::new()
            .name("early-upload".into())
            .spawn(move || write_rows(rx, aside, sheet, &path))
            .ok()?;
        Some(State::Writing { tx, worker })
    }

    /// Hands rows over (see [`Rows`]); waits while the writer is [`IN_FLIGHT`] chunks behind.
    pub fn rows(&self, rows: Rows) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let State::Writing { tx, .. } = &*state
            && tx.send(rows).is_err()
        {
            // The writer gave up (a full disk, ...): the end writes the sheet and says why.
            *state = State::Off;
        }
    }

    /// Whether rows are being taken (a profile was found and the sheet started).
    pub fn is_writing(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Writing { .. }
        )
    }

    /// The batch is final: keeps the early sheet if it holds exactly the batch's ready rows as
    /// they are now, else writes the sheet from the batch. Returns the rows written.
    pub fn finish(&self, batch: &Batch) -> Result<usize, WriteError> {
        let ready: Vec<usize> = batch.rows_with(RowStatus::Ready).collect();
        let Some(written) = self.stop() else {
            return super::write_upload(batch, &self.path);
        };
        let same = written.rows.len() == ready.len()
            && written
                .rows
                .iter()
                .zip(&ready)
                .all(|(&w, &r)| w as usize == r && !batch.rewritten(r));
        if same {
            let Written {
                mut aside, sheet, ..
            } = written;
            let path = &self.path;
            building(path, || sheet.end(aside.file()))?;
            aside.commit()?;
            crate::log::event::exported("upload sheet", path, ready.len());
            return Ok(ready.len());
        }
        drop(written);
        ::log::info!(
            target: crate::log::event::TARGET,
            "the upload sheet written during the read did not match the batch: written again"
        );
        super::write_upload(batch, &self.path)
    }

    /// Stops taking rows and waits for the writer: the sheet so far, unless it gave up.
    fn stop(&self) -> Option<Written> {
        let state = std::mem::replace(
            &mut *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Off,
        );
        match state {
            State::Writing { tx, worker } => {
                drop(tx);
                worker.join().ok().flatten()
            }
            State::Waiting | State::Off => None,
        }
    }
}

impl Drop for EarlyUpload {
    /// Not finished (the file could not be read, nothing was ready): the writer is stopped and
    /// its temporary file removed before the program goes on or ends.
    fn drop(&mut self) {
        drop(self.stop());
    }
}

/// The writer's thread: every row handed over, in order, until the pipeline is done.
fn write_rows(
    rx: Receiver<Rows>,
    aside: Aside,
    mut sheet: UploadSheet,
    path: &Path,
) -> Option<Written> {
    let mut rows = Vec::new();
    let ok = building(path, || {
        for chunk in rx.iter() {
            for k in 0..chunk.len() {
                sheet.row(chunk.row(k))?;
            }
            rows.extend_from_slice(&chunk.index);
        }
        Ok(())
    });
    // On an error the receiver is dropped here, so the pipeline stops handing rows over.
    ok.ok().map(|()| Written { aside, sheet, rows })
}
