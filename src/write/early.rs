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

use super::{Aside, Sheet, SheetKind, UploadSheet, WriteError, building, refuse_source};
use crate::batch::foresight::{Early, Rows};
use crate::batch::{Batch, RowStatus};
use crate::profile::Profile;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Chunks of rows waiting for the writer: enough to ride over a slow moment of either side,
/// few enough that rows in flight stay a few MB.
const IN_FLIGHT: usize = 16;

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

    fn start(&self, profile: &Profile, source: &Path) -> Option<State> {
        let path = &self.path;
        refuse_source(source, path).ok()?;
        let kind = SheetKind::of(path).ok()?;
        let mut aside = Aside::new(path).ok()?;
        let sheet = building(path, || {
            UploadSheet::begin(kind, profile, path, aside.file())
        })
        .ok()?;
        let (tx, rx) = sync_channel(IN_FLIGHT);
        let path = path.clone();
        let worker = std::thread::Builder::new()
            .name("early-upload".into())
            .spawn(move || write_rows(rx, aside, sheet, &path))
            .ok()?;
        Some(State::Writing { tx, worker })
    }

    /// Whether rows are being taken (a profile was found and the sheet started).
    #[cfg(test)]
    fn is_writing(&self) -> bool {
        matches!(
            *self.state.lock().unwrap_or_else(|p| p.into_inner()),
            State::Writing { .. }
        )
    }

    /// The batch is final: keeps the early sheet if it holds exactly the batch's ready rows as
    /// they are now, else writes the sheet from the batch. Returns the rows written.
    pub fn finish(&self, batch: &Batch) -> Result<usize, WriteError> {
        self.finish_aside(batch)?.commit()
    }

    /// [`EarlyUpload::finish`] without putting the sheet in place ([`Sheet::commit`] does).
    pub fn finish_aside(&self, batch: &Batch) -> Result<Sheet, WriteError> {
        self.finish_kept(batch).map(|(sheet, _)| sheet)
    }

    /// [`EarlyUpload::finish_aside`], and whether the early sheet was kept.
    fn finish_kept(&self, batch: &Batch) -> Result<(Sheet, bool), WriteError> {
        let ready: Vec<usize> = batch.rows_with(RowStatus::Ready).collect();
        let Some(written) = self.stop() else {
            return super::upload_aside(batch, &self.path).map(|s| (s, false));
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
            building(&self.path, || sheet.end(aside.file()))?;
            return Ok((Sheet::new(aside, "upload sheet", ready.len()), true));
        }
        drop(written);
        ::log::info!(
            target: crate::log::event::TARGET,
            "the upload sheet written during the read did not match the batch: written again"
        );
        super::upload_aside(batch, &self.path).map(|s| (s, false))
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

impl Early for EarlyUpload {
    /// The profile is known: start the sheet and its writer. When that is not possible, the
    /// sheet is written at the end, where the error (if any) reaches the clerk.
    fn begin(&self, profile: &Profile, source: &Path) -> bool {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if matches!(*state, State::Waiting) {
            *state = self.start(profile, source).unwrap_or(State::Off);
        }
        matches!(*state, State::Writing { .. })
    }

    /// Hands rows over; waits while the writer is [`IN_FLIGHT`] chunks behind.
    fn rows(&self, rows: Rows) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let State::Writing { tx, .. } = &*state
            && tx.send(rows).is_err()
        {
            // The writer gave up (a full disk, ...): the end writes the sheet and says why.
            *state = State::Off;
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
            rows.extend_from_slice(chunk.indices());
        }
        Ok(())
    });
    // On an error the receiver is dropped here, so the pipeline stops handing rows over.
    ok.ok().map(|()| Written { aside, sheet, rows })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::foresight::LAG;
    use crate::pipeline::{self, Options};
    use crate::profile::Profiles;
    use crate::read::Workbook;
    use std::ops::ControlFlow;
    use std::sync::Arc;

    const HEADER: &str = "姓名,证件类型,证件号码,联系电话,采样时间,检测时间,检测结果,样本编号,采样点,检测机构,人群分类";

    /// A CSV export of rows (ID number, barcode, result).
    fn export(dir: &Path, rows: &[(String, String, &str)]) -> PathBuf {
        let mut text = format!("{HEADER}\n");
        for (id, barcode, result) in rows {
            text.push_str(&format!(
                "张三,居民身份证,{id},13800138000,2026-12-05 08:00:00,2026-12-05 12:00:00,{result},{barcode},一号采样点,市第一人民医院,社区人员\n"
            ));
        }
        let path = dir.join("export.csv");
        std::fs::write(&path, text).unwrap();
        path
    }

    fn id(n: u32) -> String {
        let body = format!("1101011990{:07}", 1010000 + n % 1000);
        let check = crate::rules::idcard::check_char(&body).unwrap();
        format!("{body}{check}")
    }

    /// Pooled tubes of 10, the tube `conflict` given a positive `apart` rows after its first row.
    fn rows(n: usize, conflict_apart: Option<usize>) -> Vec<(String, String, &'static str)> {
        let mut rows: Vec<(String, String, &str)> = (0..n)
            .map(|k| (id(k as u32), format!("44011200{:08}", k / 10), "阴性"))
            .collect();
        if let Some(apart) = conflict_apart {
            // Born in 1985: no other row's person.
            let body = "11010119850101123";
            let check = crate::rules::idcard::check_char(body).unwrap();
            rows.insert(apart, (format!("{body}{check}"), rows[0].1.clone(), "阳性"));
        }
        rows
    }

    /// Every row of the first sheet of an upload sheet, as text.
    fn cells(path: &Path) -> Vec<Vec<String>> {
        let mut wb = Workbook::open(path).unwrap();
        let sheet = wb.sheet_names()[0].clone();
        let mut out = Vec::new();
        wb.for_each_row(&sheet, &mut |_, cells| {
            out.push(cells.iter().map(|c| c.display()).collect());
            ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    /// Loads `input` with an early upload sheet to `early.xlsx`, lets `change` touch the batch,
    /// finishes it, and writes the same batch by `write_upload` to `whole.xlsx`.
    /// Returns the two sheets and whether the early one was kept.
    fn both(dir: &Path, input: &Path, change: impl FnOnce(&mut Batch)) -> (PathBuf, PathBuf, bool) {
        let profiles = Profiles::load(None);
        let early_path = dir.join("early.xlsx");
        let early = Arc::new(EarlyUpload::new(&early_path));
        let opts = Options {
            early: Some(Arc::clone(&early) as Arc<dyn Early>),
            ..Options::default()
        };
        let mut batch = pipeline::load(input, &profiles, &opts, &()).unwrap();
        assert!(early.is_writing());
        change(&mut batch);
        let (sheet, kept) = early.finish_kept(&batch).unwrap();
        let n = sheet.commit().unwrap();
        let whole = dir.join("whole.xlsx");
        assert_eq!(super::super::write_upload(&batch, &whole).unwrap(), n);
        (early_path, whole, kept)
    }

    #[test]
    fn the_early_sheet_is_the_sheet_written_at_the_end_whatever_the_foresight_missed() {
        // (rows, where the conflicting row goes, whether the foresight sees it)
        for (n, apart, seen) in [
            (2_000, None, true),
            (2_000, Some(5), true),
            (LAG + 600, Some(LAG + 300), false),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let input = export(dir.path(), &rows(n, apart));
            let (early, whole, kept) = both(dir.path(), &input, |_| {});
            assert_eq!(kept, seen, "{n} rows, conflict {apart:?}");
            let (early, whole) = (cells(&early), cells(&whole));
            assert_eq!(early, whole, "{n} rows, conflict {apart:?}");
            // The tube with the conflict is out, the others are in.
            let out = if apart.is_some() { 11 } else { 0 };
            assert_eq!(early.len(), 1 + n + usize::from(apart.is_some()) - out);
        }
    }

    #[test]
    fn a_row_changed_after_the_read_is_written_as_it_is_now() {
        let dir = tempfile::tempdir().unwrap();
        let input = export(dir.path(), &rows(500, None));
        let (early, whole, kept) = both(dir.path(), &input, |b| {
            let site = b
                .profile()
                .fields
                .iter()
                .position(|f| f.header == "采样点")
                .unwrap();
            // The whole tube, so it still agrees.
            for i in 10..20 {
                b.edit(i, site, "二号采样点");
            }
            b.set_excluded(3, true);
        });
        assert!(!kept);
        let (early, whole) = (cells(&early), cells(&whole));
        assert_eq!(early, whole);
        assert_eq!(early.len(), 500);
        assert!(early[11].iter().any(|c| c == "二号采样点"));
    }

    #[test]
    fn an_early_sheet_not_finished_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let input = export(dir.path(), &rows(3_000, None));
        let profiles = Profiles::load(None);
        let early = Arc::new(EarlyUpload::new(&dir.path().join("early.xlsx")));
        let opts = Options {
            early: Some(Arc::clone(&early) as Arc<dyn Early>),
            ..Options::default()
        };
        let batch = pipeline::load(&input, &profiles, &opts, &()).unwrap();
        assert!(early.is_writing());
        drop(opts);
        drop(early);
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, vec![std::ffi::OsString::from("export.csv")]);
        drop(batch);
    }
}
