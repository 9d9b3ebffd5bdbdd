//! What the window does when a job ends: a loaded file goes on screen (or to the mapping
//! screen), a queued or exported batch comes back to the review, and the day's history notes it.

use super::jobs::{Done, Exported, Poll};
use super::settings::{self, HistoryEntry};
use super::upload::QueueResult;
use super::{App, Notice, Screen, keep, mapping, review};
use sheetbridge::batch::Batch;
use sheetbridge::issue::Lang;
use sheetbridge::message::Localized;
use sheetbridge::pipeline::LoadError;
use sheetbridge::unattended::claim::Claim;
use sheetbridge::write::WriteError;
use std::path::{Path, PathBuf};

impl App {
    /// Takes the result of the background job, once there, and acts on it.
    pub(super) fn poll_job(&mut self) {
        let Some(job) = &self.runtime.job else { return };
        let done = match job.poll() {
            Poll::Running => return,
            Poll::Done(done) => done,
            Poll::Died => {
                self.runtime.job = None;
                self.ui.notice = Some(Notice::error(self.lang().pick(
                    "程序内部出错，这次处理没有完成。请重新打开文件；如果反复出现，请联系技术支持。",
                    "Internal error: the job did not finish. Open the file again; if it keeps happening, contact support.",
                )));
                return;
            }
        };
        self.runtime.job = None;
        match done {
            Done::Loaded {
                path,
                result,
                claim,
            } => self.loaded(path, *result, claim),
            Done::Ours { path, kind } => {
                self.session.screen = Screen::Home;
                let lang = self.lang();
                let name = sheetbridge::paths::shown_name(&path);
                self.ui.notice = Some(Notice::error(lang.pick(
                    format!("{}（{name}）", kind.said(lang)),
                    format!("{} ({name})", kind.said(lang)),
                )));
            }
            Done::QueueLost => {
                self.session.screen = Screen::Home;
                self.ui.notice = Some(Notice::error(self.lang().pick(
                    "上传队列意外停止，文件已关闭（修改已保存）。请重新打开程序和文件后再上传。",
                    "The upload queue stopped unexpectedly and the file was closed (edits are saved); restart and open it again.",
                )));
            }
            Done::Queued { batch, result } => self.queued(*batch, result),
            Done::Marked { batch, result } => self.marked(*batch, result),
            Done::Exported { batch, result } => self.exported(*batch, result),
        }
    }

    /// A file was read and checked: its rows go on screen; headers no profile knows go to the
    /// mapping screen.
    fn loaded(
        &mut self,
        path: PathBuf,
        result: Result<sheetbridge::workspace::Loaded, LoadError>,
        claim: Option<Claim>,
    ) {
        match result {
            Ok(loaded) => {
                self.session.claim = claim;
                let sheetbridge::workspace::Loaded {
                    batch,
                    edits,
                    restored,
                    warnings,
                } = loaded;
                self.ui.notice = keep::loaded_notice(restored, &warnings, self.lang());
                let s = batch.summary();
                self.record_history(&path, s, None);
                let export_dir = self
                    .settings
                    .export_dir
                    .clone()
                    .or_else(|| path.parent().map(Path::to_owned))
                    .unwrap_or_default();
                let mut review = review::Review::new(batch, export_dir);
                review.keep = keep::Keep::new(edits);
                // Opened from 今日对账: the sample's row is selected.
                if let Some(row) = self.ui.account.take_goto(&path)
                    && let Some(i) = review.batch.index_of_line(row)
                {
                    review.select(i);
                }
                self.ui.account.stale();
                if let Some(notice) = self.ui.account.after_load.take() {
                    self.ui.notice = Some(notice);
                }
                self.session.screen = Screen::Review(Box::new(review));
            }
            Err(LoadError::Cancelled) => self.session.screen = Screen::Home,
            Err(LoadError::NoMatch(m)) if !m.headers_all.is_empty() => {
                self.session.claim = claim;
                if let Some(base) = self.runtime.profiles.list.first().cloned() {
                    self.session.screen = Screen::Mapping(Box::new(mapping::Mapping::new(
                        path,
                        base,
                        &m,
                        self.settings.lang,
                    )));
                }
            }
            Err(e) => {
                self.session.screen = Screen::Home;
                self.ui.notice = Some(Notice::error(e.text(self.lang())));
            }
        }
    }

    /// The ready rows went into the outbox (or why not): the batch comes back, sending starts.
    fn queued(&mut self, batch: Batch, result: QueueResult) {
        let positives_only = std::mem::take(&mut self.ui.account.positives_asked);
        if positives_only {
            self.positives_queued(batch, result);
            return;
        }
        let fixed = batch.summary().rejected == 0;
        self.put_back(batch);
        // A file of 需要处理/ fixed and uploaded leaves it (unattended.md).
        if result.is_ok()
            && fixed
            && let Some(source) = self.session.source.clone()
        {
            self.runtime.uploads.resolved(source);
        }
        if let Ok((_, _, ids)) = &result
            && let Some(review) = self.review()
        {
            review.keep.queued();
            // The rows as queued: once the platform confirms these batches they read 已上报.
            let b = &review.batch;
            let keys = b
                .rows_with(sheetbridge::batch::RowStatus::Ready)
                .filter_map(|i| b.ledger_key(i))
                .collect();
            review.queued(review::Sent {
                ids: ids.clone(),
                keys,
            });
        }
        match result {
            Ok((new, before, ids)) => {
                if new > 0 {
                    let ready = self.batch().map_or(0, |b| b.summary().ready);
                    self.record_queued(ready, ids);
                }
                let lang = self.lang();
                let text = if new == 0 {
                    lang.pick(
                        format!("这些数据之前已经放进上传队列（{before} 批），不会重复上传。"),
                        format!("These rows were queued before ({before} batches); they are not sent twice."),
                    )
                } else {
                    let rows = self.batch().map_or(0, |b| b.summary().ready);
                    lang.pick(
                        format!("已放进上传队列：{rows} 行。正在上传，进度见“上传队列”。"),
                        format!("Queued {rows} rows; sending now (see the upload queue)."),
                    )
                };
                self.ui.notice = Some(Notice::info(text));
                self.runtime.uploads.refresh();
                self.start_sending();
                self.runtime.uploads.show_queue = true;
            }
            Err((zh, en)) => {
                self.ui.notice = Some(Notice::error(self.lang().pick(zh, en)));
            }
        }
    }

    /// The upload sheet was written (or why not): the batch comes back to the review.
    fn exported(&mut self, batch: Batch, result: Result<Exported, WriteError>) {
        let written = result.is_ok();
        match result {
            Ok(done) => {
                if let Some(path) = self.session.source.clone() {
                    self.record_history(&path, batch.summary(), Some(done.upload.clone()));
                }
                self.settings.export_dir =
                    Some(done.upload.parent().map(Path::to_owned).unwrap_or_default());
                self.save_settings();
                self.session.exported = Some(done);
                self.ui.notice = None;
            }
            Err(e) => {
                let locked = matches!(e, WriteError::Locked { .. });
                let (text, detail) = export_failure(&e, self.lang());
                self.ui.detail = detail;
                let retry = locked.then(|| self.last_export_dir());
                self.ui.notice = Some(Notice {
                    retry_export: retry,
                    ..Notice::error(text)
                });
            }
        }
        self.put_back(batch);
        if written && let Some(review) = self.review() {
            review.keep.exported();
        }
    }

    /// Takes the review's batch away for a job (export, queue, the upload by hand): the screen
    /// shows it as being worked on until [`App::put_back`] returns it. `None` without a review.
    pub(super) fn take_away(&mut self) -> Option<Batch> {
        let Screen::Review(review) = &mut self.session.screen else {
            return None;
        };
        let batch = review.batch.take();
        if let Screen::Review(review) = std::mem::replace(&mut self.session.screen, Screen::Home) {
            self.session.screen = Screen::Exporting(review);
        }
        Some(batch)
    }

    /// Returns a batch that was away with a job to the review screen.
    pub(super) fn put_back(&mut self, batch: Batch) {
        self.session.screen = match std::mem::replace(&mut self.session.screen, Screen::Home) {
            Screen::Exporting(mut review) => {
                review.batch.put_back(batch);
                Screen::Review(review)
            }
            _ => Screen::Review(Box::new(review::Review::new(batch, self.last_export_dir()))),
        };
    }

    pub(super) fn last_export_dir(&self) -> PathBuf {
        self.settings
            .export_dir
            .clone()
            .or_else(|| {
                self.session
                    .source
                    .as_ref()
                    .and_then(|p| p.parent().map(Path::to_owned))
            })
            .unwrap_or_default()
    }

    pub(super) fn record_history(
        &mut self,
        path: &Path,
        s: sheetbridge::batch::Summary,
        exported: Option<PathBuf>,
    ) {
        let now = chrono::Local::now();
        let file = sheetbridge::paths::file_name(path);
        let mut entry = HistoryEntry {
            date: now.format("%Y-%m-%d").to_string(),
            time: now.format("%H:%M").to_string(),
            file,
            rows: s.total,
            ready: s.ready,
            rejected: s.rejected,
            exported,
            source: Some(path.to_owned()),
            queued: 0,
            batches: Vec::new(),
            confirmed: 0,
        };
        // Exporting the file just opened updates its entry.
        match self.runtime.history.last_mut() {
            Some(last)
                if entry.exported.is_some()
                    && last.file == entry.file
                    && last.date == entry.date =>
            {
                entry.queued = last.queued;
                entry.batches = std::mem::take(&mut last.batches);
                entry.confirmed = last.confirmed;
                *last = entry
            }
            _ => self.runtime.history.push(entry),
        }
        self.save_history();
    }

    /// Notes in today's entry of the file on screen that `rows` rows went into the queue.
    pub(super) fn record_queued(&mut self, rows: usize, ids: Vec<String>) {
        let Some(file) = self
            .session
            .source
            .as_deref()
            .map(sheetbridge::paths::file_name)
        else {
            return;
        };
        if let Some(last) = self
            .runtime
            .history
            .iter_mut()
            .rev()
            .find(|e| e.file == file)
        {
            last.queued += rows;
            last.batches.extend(ids);
            self.save_history();
        }
    }

    pub(super) fn save_history(&self) {
        if let Some(dir) = &self.runtime.dirs.data {
            // The history is a convenience: failing to save it must not stop the clerk.
            let _ = settings::save_history(dir, &self.runtime.history);
        }
    }
}

/// What the clerk reads when an export fails, and the technical detail (for the log) when the
/// error carries any: an operating-system or spreadsheet-library message is not shown.
pub fn export_failure(e: &WriteError, lang: Lang) -> (String, Option<String>) {
    let technical = match e {
        WriteError::Io { reason, .. } => reason.contains('(') || reason.contains('（'),
        WriteError::Xlsx { .. } | WriteError::Source(_) => true,
        WriteError::Locked { .. }
        | WriteError::Extension { .. }
        | WriteError::IsSource { .. }
        | WriteError::Twice { .. }
        | WriteError::IsHandled { .. }
        | WriteError::XlsxOnly { .. } => false,
    };
    if !technical {
        let text = e.text(lang);
        return (text, None);
    }
    let path = match e {
        WriteError::Io { path, .. } | WriteError::Xlsx { path, .. } => {
            sheetbridge::paths::file_name(path)
        }
        _ => String::new(),
    };
    let text = match e {
        WriteError::Source(_) => lang
            .pick(
                "写出错误行时没能重新读取原文件。请确认原文件还在、没有被移动，然后再导出一次。",
                "The source file could not be read again for the rejected rows. Check it is still there, then export again.",
            )
            .to_owned(),
        _ => lang.pick(
            format!("没能写出「{path}」。请点“更换文件夹…”换一个文件夹（例如桌面），再导出一次。"),
            format!("{path} could not be written. Press \"Change folder…\", choose another folder (the desktop, say) and export again."),
        ),
    };
    (text, Some(e.english()))
}
