//! The one way from a file to a checked batch: read -> find the sheet and header -> choose the
//! profile -> map -> check. The command line and the window both call [`load`], so they can
//! never disagree about a row.
//!
//! ```no_run
//! use sheetbridge::pipeline::{self, Options};
//! use sheetbridge::profile::Profiles;
//! let profiles = Profiles::load(None);
//! let batch = pipeline::load("export.xlsx".as_ref(), &profiles, &Options::default(), &()).unwrap();
//! println!("{} rows, {} ready", batch.len(), batch.summary().ready);
//! sheetbridge::write::write_upload(&batch, "export_上报.xlsx".as_ref()).unwrap();
//! ```

use crate::batch::foresight::{Early, Foresight, Rows};
use crate::batch::{Batch, Ledger};
use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::profile::{
    HEAD_ROWS, HeaderChoice, Profile, ProfileError, Profiles, choose_sheet, find_header, is_footer,
};
use crate::read::{Cell, ReadError, Workbook};
use crate::source::SourceInfo;
use crate::validate::{Checker, Context};
use chrono::NaiveDateTime;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::sync_channel;

/// Rows sent from the reading thread to the checking thread at a time.
const CHUNK: usize = 1024;

/// Choices for [`load`]; the defaults pick everything automatically.
#[derive(Clone, Default)]
pub struct Options {
    /// The sheet to read; `None` picks the one whose header matches best.
    pub sheet: Option<String>,
    /// A profile name or a `.toml` path; `None` picks automatically.
    pub profile: Option<String>,
    /// The clerk's own lab, the default of 检测机构.
    pub lab: Option<String>,
    /// "Now" for future-date checks; `None` is the real time.
    pub now: Option<NaiveDateTime>,
    /// Earlier uploads, for the `already_uploaded` warning.
    pub ledger: Option<Arc<dyn Ledger>>,
    /// The file's content hash ([`crate::digest::file_sha256`]) when the front end already has
    /// it (it hashed the file to claim it): the workflow (`workspace::load`) keys the clerk's
    /// saved edits by it instead of reading the file again. `None`: hashed there.
    pub hash: Option<String>,
    /// Takes the rows foreseen ready while the file is read (`convert`'s upload sheet,
    /// `write::early`, which decides at the end whether what it wrote stands).
    pub early: Option<Arc<dyn Early>>,
}

/// Progress reports and cancellation, from a long load.
pub trait Progress: Sync {
    /// `rows` source rows read so far, of about `of` in all when known.
    fn rows_read(&self, _rows: u64, _of: Option<u64>) {}
    /// Polled while loading; `true` stops with [`LoadError::Cancelled`].
    fn cancelled(&self) -> bool {
        false
    }
}

impl Progress for () {}

/// No profile recognises the header: what was found, for the message and the mapping screen.
#[derive(Debug, Clone)]
pub struct HeaderMismatch {
    pub path: PathBuf,
    pub sheet: String,
    /// The title of the profile that came closest.
    pub profile: String,
    /// Template headers of the required fields that have no column.
    pub missing: Vec<String>,
    /// The header cells found (of the best candidate row).
    pub headers: Vec<String>,
    /// The same row, every source column (empty ones too), for the mapping screen.
    pub headers_all: Vec<String>,
    /// Up to three rows below it, as shown, for the mapping screen's examples.
    pub samples: Vec<Vec<String>>,
    /// The sheet's top rows that are not blank, as shown, with their row numbers (1-based):
    /// the mapping screen's preview, where the clerk can choose another header row.
    pub head: Vec<(u32, Vec<String>)>,
    /// Which of `head` was taken as the header.
    pub header_at: usize,
}

impl std::fmt::Display for HeaderMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text(Lang::Zh))
    }
}

impl Localized for HeaderMismatch {
    fn message(&self) -> Text {
        let path = crate::paths::shown(&self.path);
        let found = if self.headers.is_empty() {
            "（没有找到表头）".to_owned()
        } else {
            self.headers.join("、")
        };
        Text::new(
            format!(
                "认不出文件「{path}」的表头，不知道哪一列是什么。模板「{}」需要的这些列没有找到：{}。文件里的表头是：{found}。请把这几列的表头改成模板认识的名字，或在窗口里手动对应列后另存为新模板。",
                self.profile,
                self.missing.join("、"),
            ),
            // The log keeps the English: the cells taken for headers may be a row of data (a
            // name, an address), so only how many there were.
            format!(
                "cannot recognise the header of {path}: profile {} needs columns {} that were not found; {} cells taken for the header row",
                self.profile,
                self.missing.join(", "),
                self.headers.len()
            ),
        )
    }
}

/// Why a file gave no batch.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum LoadError {
    Read(#[from] ReadError),
    Profile(#[from] ProfileError),
    Empty { path: PathBuf },
    NoMatch(Box<HeaderMismatch>),
    Cancelled,
}

impl Localized for LoadError {
    fn message(&self) -> Text {
        match self {
            LoadError::Read(e) => e.message(),
            LoadError::Profile(e) => e.message(),
            LoadError::Empty { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "文件「{path}」里没有数据（工作表都是空的）。请确认导出时选了正确的日期和范围。"
                    ),
                    format!("{path} holds no data"),
                )
            }
            LoadError::NoMatch(m) => m.message(),
            LoadError::Cancelled => Text::new("已取消读取。", "cancelled"),
        }
    }
}

/// Reads, maps and checks a file. See the module example. The program's log gets a line.
pub fn load(
    path: &Path,
    profiles: &Profiles,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Batch, LoadError> {
    let result = load_unlogged(path, profiles, opts, progress);
    log_opened(path, &result);
    result
}

/// A file was opened and checked, or could not be.
fn log_opened(path: &Path, result: &Result<Batch, LoadError>) {
    let file = crate::paths::file_name(path);
    match result {
        Ok(b) => {
            let s = b.summary();
            ::log::info!(
                target: crate::log::event::TARGET,
                "opened: {file}, sheet {}, header row {}, profile {}{}: {} rows, {} ready, {} rejected, {} excluded, {} duplicate, {} with warnings",
                b.source.sheet,
                b.source.header_row,
                b.profile().name,
                if b.source.auto_chosen { " (auto)" } else { "" },
                s.total,
                s.ready,
                s.rejected,
                s.excluded,
                s.duplicate,
                s.with_warnings
            );
        }
        Err(LoadError::Cancelled) => {
            ::log::info!(target: crate::log::event::TARGET, "open cancelled: {file}")
        }
        // The headers found may be a row of data (names): only the profile and the
        // columns it missed are logged.
        Err(LoadError::NoMatch(m)) => ::log::error!(
            target: crate::log::event::TARGET,
            "open failed: {file}: header not recognised, profile {} misses {}",
            m.profile,
            m.missing.join(", ")
        ),
        Err(e) => {
            ::log::error!(target: crate::log::event::TARGET, "open failed: {file}: {}", e.english())
        }
    }
}

// Long: the reader thread and the checker run in one scope; their results are joined here.
fn load_unlogged(
    path: &Path,
    profiles: &Profiles,
    opts: &Options,
    progress: &dyn Progress,
) -> Result<Batch, LoadError> {
    let mut wb = Workbook::open(path)?;
    let candidates: Vec<Arc<Profile>> = match &opts.profile {
        Some(name) => vec![Arc::new(profiles.find(name)?)],
        None => profiles.list.iter().cloned().map(Arc::new).collect(),
    };
    let names = wb.sheet_names();
    let sheet = match &opts.sheet {
        Some(s) => s.clone(),
        None => choose_sheet(&mut wb, &names, &candidates)?.ok_or_else(|| LoadError::Empty {
            path: path.to_owned(),
        })?,
    };
    let hint = wb.row_count_hint(&sheet).map(u64::from);
    let date_1904 = wb.date_1904();
    // The merged blocks are asked for after the rows: an .xlsx finds them in the same pass as
    // its cells (read::xlsx); the other formats have them at hand already.
    let batch = std::thread::scope(|scope| {
        let (tx, rx) = sync_channel::<Vec<(u32, Vec<Cell>)>>(8);
        let sheet_name = sheet.clone();
        let wb_ref = &mut wb;
        let reader = scope.spawn(move || {
            let mut chunk = Vec::with_capacity(CHUNK);
            let r = wb_ref.for_each_row(&sheet_name, &mut |r, cells| {
                chunk.push((r, cells));
                if chunk.len() >= CHUNK
                    && tx
                        .send(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                        .is_err()
                {
                    return ControlFlow::Break(());
                }
                ControlFlow::Continue(())
            });
            if !chunk.is_empty() {
                let _ = tx.send(chunk);
            }
            r
        });
        let result = check_rows(
            path,
            &sheet,
            rx,
            &candidates,
            opts,
            progress,
            (hint, date_1904),
        );
        let read = reader.join().unwrap_or_else(|_| {
            Err(ReadError::Corrupt {
                path: path.to_owned(),
                detail: "reader thread panicked".into(),
            })
        });
        // A read error wins: a batch built from part of a file would lose rows silently.
        match (read, result) {
            (Err(e), Ok(_)) | (Err(e), Err(LoadError::Empty { .. } | LoadError::NoMatch(_))) => {
                Err(e.into())
            }
            (_, r) => r,
        }
    });
    let mut batch = batch?;
    let merges = wb.merges(&sheet)?;
    let header_index = batch.source.header_row - 1;
    batch.source.merges = merges
        .into_iter()
        .filter(|m| m.last_row > m.first_row && m.first_row > header_index)
        .collect();
    batch.apply_merges();
    batch.check_all();
    Ok(batch)
}

#[allow(clippy::too_many_arguments)]
// Long: gathers the head, finds the header and streams the rest through one iterator, so no row is read or copied twice.
fn check_rows(
    path: &Path,
    sheet: &str,
    rx: std::sync::mpsc::Receiver<Vec<(u32, Vec<Cell>)>>,
    candidates: &[Arc<Profile>],
    opts: &Options,
    progress: &dyn Progress,
    (hint, date_1904): (Option<u64>, bool),
) -> Result<Batch, LoadError> {
    let mut chunks = rx.into_iter();
    // Gather the head of the sheet.
    let mut head: Vec<(u32, Vec<Cell>)> = Vec::new();
    let mut rest: std::vec::IntoIter<(u32, Vec<Cell>)> = Vec::new().into_iter();
    while head
        .iter()
        .filter(|(_, c)| !c.iter().all(Cell::is_blank))
        .count()
        < HEAD_ROWS
    {
        match chunks.next() {
            Some(chunk) => {
                let mut it = chunk.into_iter();
                for row in it.by_ref() {
                    let blank = row.1.iter().all(Cell::is_blank);
                    head.push(row);
                    if !blank
                        && head
                            .iter()
                            .filter(|(_, c)| !c.iter().all(Cell::is_blank))
                            .count()
                            >= HEAD_ROWS
                    {
                        break;
                    }
                }
                rest = it.collect::<Vec<_>>().into_iter();
            }
            None => break,
        }
    }
    if head.iter().all(|(_, c)| c.iter().all(Cell::is_blank)) {
        return Err(LoadError::Empty {
            path: path.to_owned(),
        });
    }
    let choice = match find_header(&head, candidates) {
        Some(c) if c.m.missing_required(&candidates[c.profile]).is_empty() => c,
        other => return Err(no_match(path, sheet, &head, candidates, other.as_ref())),
    };

    let profile = Arc::clone(&candidates[choice.profile]);
    let (header_index, header_cells) = (head[choice.pos].0, &head[choice.pos].1);
    let headers: Vec<String> = header_cells.iter().map(Cell::display).collect();
    let unused = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| !h.trim().is_empty() && !choice.m.columns.contains(&Some(*i)))
        .map(|(_, h)| h.trim().to_owned())
        .collect();
    let source = SourceInfo {
        path: path.to_owned(),
        sheet: sheet.to_owned(),
        header_row: header_index + 1,
        headers,
        columns: choice.m.columns.clone(),
        unused,
        auto_chosen: opts.profile.is_none(),
        merges: Vec::new(),
    };
    let ctx = Context {
        now: opts
            .now
            .unwrap_or_else(|| chrono::Local::now().naive_local()),
        lab: opts.lab.clone(),
        date_1904,
    };
    let mut batch = Batch::new(
        source,
        Checker::new(Arc::clone(&profile), ctx),
        opts.ledger.clone(),
    );
    let columns = choice.m.columns;
    let mut seen: u64 = 0;
    let early = opts.early.as_deref().filter(|e| e.begin(&profile, path));
    let mut ready = Rows::default();
    let mut foresight = Foresight::default();
    let mut decided = Vec::new();

    let head_rest = head.into_iter().skip(choice.pos + 1);
    let all = head_rest.chain(rest).chain(chunks.flatten());
    for (r, mut cells) in all {
        seen += 1;
        if seen.is_multiple_of(4096) {
            progress.rows_read(u64::from(r) + 1, hint);
            if progress.cancelled() {
                return Err(LoadError::Cancelled);
            }
        }
        if columns
            .iter()
            .all(|c| c.and_then(|c| cells.get(c)).is_none_or(Cell::is_blank))
        {
            continue;
        }
        if is_footer(&cells, &profile.footer_markers) {
            break;
        }
        // Each source column feeds at most one field, so its cell can be moved, not copied.
        let fields: Vec<Cell> = columns
            .iter()
            .map(|c| {
                c.and_then(|c| cells.get_mut(c))
                    .map(std::mem::take)
                    .unwrap_or_default()
            })
            .collect();
        batch.push_row(r + 1, fields);
        if let Some(early) = early {
            foresight.pushed(&batch, &mut decided);
            hand_over(early, &batch, &mut decided, &mut ready, CHUNK);
        }
    }
    if let Some(early) = early {
        foresight.finish(&batch, &mut decided);
        hand_over(early, &batch, &mut decided, &mut ready, 1);
    }
    progress.rows_read(hint.unwrap_or(seen), hint);
    Ok(batch)
}

/// Rows foreseen ready go to the early upload sheet, `at_least` of them at a time.
fn hand_over(
    early: &dyn Early,
    batch: &Batch,
    decided: &mut Vec<usize>,
    ready: &mut Rows,
    at_least: usize,
) {
    let fields = batch.profile().fields.len();
    for i in decided.drain(..) {
        ready.push(i, (0..fields).map(|f| batch.output_value(i, f)));
    }
    if ready.len() >= at_least {
        early.rows(std::mem::take(ready));
    }
}

fn no_match(
    path: &Path,
    sheet: &str,
    head: &[(u32, Vec<Cell>)],
    candidates: &[Arc<Profile>],
    best: Option<&HeaderChoice>,
) -> LoadError {
    let shown: Vec<(u32, Vec<String>)> = head
        .iter()
        .filter(|(_, c)| !c.iter().all(Cell::is_blank))
        .map(|(r, c)| {
            (
                r + 1,
                c.iter()
                    .map(|c| c.display().trim().replace('\n', " "))
                    .collect(),
            )
        })
        .collect();
    // No row matched two names: guess the header from the rows' shapes (titles passed over).
    let pos = match best {
        Some(c) => c.pos,
        None => {
            let rows: Vec<Vec<String>> = shown.iter().map(|r| r.1.clone()).collect();
            let at = crate::guess::header_row(&rows);
            shown
                .get(at)
                .and_then(|(n, _)| head.iter().position(|(r, _)| r + 1 == *n))
                .unwrap_or(0)
        }
    };
    let header_at = shown
        .iter()
        .position(|(n, _)| head.get(pos).is_some_and(|(r, _)| r + 1 == *n))
        .unwrap_or(0);
    let p = &candidates[best.map_or(0, |c| c.profile)];
    let missing = match best {
        Some(c) => {
            c.m.missing_required(p)
                .iter()
                .map(|f| f.header.clone())
                .collect()
        }
        None => p
            .fields
            .iter()
            .filter(|f| f.required && f.default.is_none())
            .map(|f| f.header.clone())
            .collect(),
    };
    let row = head.get(pos).map(|r| r.1.as_slice()).unwrap_or_default();
    let samples = head
        .iter()
        .skip(pos + 1)
        .filter(|(_, c)| !c.iter().all(Cell::is_blank))
        .take(3)
        .map(|(_, c)| c.iter().map(Cell::display).collect())
        .collect();
    LoadError::NoMatch(Box::new(HeaderMismatch {
        path: path.to_owned(),
        sheet: sheet.to_owned(),
        profile: p.title.clone(),
        missing,
        headers: header_texts(row),
        headers_all: row
            .iter()
            .map(|c| c.display().trim().replace('\n', " "))
            .collect(),
        samples,
        head: shown,
        header_at,
    }))
}

fn header_texts(cells: &[Cell]) -> Vec<String> {
    cells
        .iter()
        .map(|c| c.display().trim().replace('\n', " "))
        .filter(|h| !h.is_empty())
        .collect()
}
