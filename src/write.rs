//! Writing results: the upload sheet (.xlsx through rust_xlsxwriter, every cell text; or CSV
//! with a BOM), the workbook of rejected rows with their reasons, and the JSON report. Every
//! file is written aside and renamed into place, so it appears whole or not at all.

use crate::batch::{Batch, RowStatus};
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::read::limits::{MAX_CELL_CHARS, excel_cut};
use crate::read::{Cell, ReadError};

pub mod early;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Why an output file was not written. Nothing half-written is ever left behind.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum WriteError {
    Locked {
        path: PathBuf,
    },
    Io {
        path: PathBuf,
        reason: String,
    },
    Extension {
        path: PathBuf,
    },
    Xlsx {
        path: PathBuf,
        detail: String,
    },
    Source(#[from] ReadError),
    IsSource {
        path: PathBuf,
    },
    /// Two outputs of one run are the same file (the later would replace the earlier).
    Twice {
        path: PathBuf,
    },
    /// An export the program handled (the day's record lists it).
    IsHandled {
        path: PathBuf,
    },
    /// Only a workbook (`.xlsx`) can be written here.
    XlsxOnly {
        path: PathBuf,
    },
}

impl Localized for WriteError {
    fn message(&self) -> Text {
        match self {
            WriteError::Locked { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "无法写入「{path}」：文件正被其他程序（多半是 Excel 或 WPS）打开。请关闭它后重试。"
                    ),
                    format!(
                        "cannot write {path}: it is open in another program (Excel?); close it and retry"
                    ),
                )
            }
            WriteError::Io { path, reason } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法写入「{path}」：{reason}"),
                    format!("cannot write {path}: {reason}"),
                )
            }
            WriteError::Extension { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("不支持输出为「{path}」，请用 .xlsx 或 .csv 结尾的文件名。"),
                    format!("unsupported output {path}: use .xlsx or .csv"),
                )
            }
            WriteError::Xlsx { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("生成表格「{path}」时出错：{detail}"),
                    format!("cannot build {path}: {detail}"),
                )
            }
            WriteError::Source(e) => {
                let e = e.message();
                Text::new(
                    format!("为了写出错误行需要重新读取原文件，但读取失败：{}", e.zh),
                    format!("cannot re-read the source: {}", e.en),
                )
            }
            WriteError::IsHandled { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "不能写到「{path}」：它是本程序处理过的导出表或上报表，写上去原来的数据就没了。请换一个文件名。"
                    ),
                    format!(
                        "will not write {path}: it is an export or upload sheet the program handled; choose another name"
                    ),
                )
            }
            WriteError::XlsxOnly { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("不能写成「{path}」：对账表是 Excel 表格，请用 .xlsx 结尾的文件名。"),
                    format!(
                        "cannot write {path}: the account is a workbook, use a name ending in .xlsx"
                    ),
                )
            }
            WriteError::Twice { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "「{path}」被指定了两次：上报表、错误行和报告要写到不同的文件，后写的会把先写的盖掉。请给它们不同的文件名。"
                    ),
                    format!(
                        "{path} is given twice: the upload sheet, the rejected rows and the report need different files"
                    ),
                )
            }
            WriteError::IsSource { path } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "不能写到「{path}」：它就是正在读取的原文件，写上去原来的数据（包括有错误的行）就没了。请换一个文件名。"
                    ),
                    format!(
                        "refusing to write {path}: it is the input file, which would be destroyed; choose another name"
                    ),
                )
            }
        }
    }
}

/// The file name of the upload sheet made from `input`: `<INPUT stem>_上报.xlsx`.
pub fn upload_name(input: &Path) -> String {
    format!("{}_上报.xlsx", stem(input))
}

/// The file name of the rejected rows of `input`: `<INPUT stem>_错误行.xlsx`.
pub fn rejected_name(input: &Path) -> String {
    format!("{}_错误行.xlsx", stem(input))
}

/// The default output path: the [`upload_name`] next to the input.
pub fn default_output(input: &Path) -> PathBuf {
    input.with_file_name(upload_name(input))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Refuses an output path that is the input file itself, however it is named (another spelling,
/// a link to it): writing there would destroy the export, rejected rows included.
pub fn refuse_source(input: &Path, output: &Path) -> Result<(), WriteError> {
    if same_file(input, output) {
        Err(WriteError::IsSource {
            path: output.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Refuses outputs of one run of which two are the same file, however named (`a.xlsx`,
/// `./o/../a.xlsx`, a link), whether or not it exists yet.
pub fn refuse_twice(outputs: &[&Path]) -> Result<(), WriteError> {
    // Where a path lands: its folder as the system resolves it, and its name.
    let landing = |p: &Path| {
        let dir = folder_of(p).canonicalize().ok()?;
        let name = p.file_name()?.to_string_lossy();
        // Windows and macOS compare names without case.
        let name = if cfg!(any(windows, target_os = "macos")) {
            name.to_lowercase()
        } else {
            name.into_owned()
        };
        Some((dir, name))
    };
    for (k, a) in outputs.iter().enumerate() {
        for b in &outputs[..k] {
            let same_place = matches!((landing(a), landing(b)), (Some(x), Some(y)) if x == y);
            if same_place || same_file(a, b) {
                return Err(WriteError::Twice {
                    path: a.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

/// Refuses an output path that is one of `inputs` (the exports and sheets the program handled),
/// however it is named: `reconcile -o` and every writer of a file that is not the input's own
/// output.
pub fn refuse_handled<'a>(
    inputs: impl IntoIterator<Item = &'a Path>,
    output: &Path,
) -> Result<(), WriteError> {
    if inputs.into_iter().any(|input| same_file(input, output)) {
        Err(WriteError::IsHandled {
            path: output.to_owned(),
        })
    } else {
        Ok(())
    }
}

/// Whether two paths name one existing file.
pub fn same_file(a: &Path, b: &Path) -> bool {
    let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return false;
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        ma.dev() == mb.dev() && ma.ino() == mb.ino()
    }
    #[cfg(not(unix))]
    {
        let _ = (ma, mb);
        match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
            (Ok(x), Ok(y)) => x == y,
            _ => false,
        }
    }
}

/// The start of every temporary file this process writes: `.sheetbridge-<process id>-`. A
/// front end that is stopped (Ctrl+C) removes the files with this prefix in its output folders.
pub fn temp_prefix() -> String {
    format!(".sheetbridge-{}-", std::process::id())
}

/// The suffix of every temporary file (see [`temp_prefix`]).
pub const TEMP_SUFFIX: &str = ".part";

/// Removes this process's temporary files (see [`temp_prefix`]) in `dir`; returns how many.
pub fn remove_temp_files(dir: &Path) -> usize {
    let prefix = temp_prefix();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.starts_with(&prefix) && name.ends_with(TEMP_SUFFIX)
        })
        .filter(|e| std::fs::remove_file(e.path()).is_ok())
        .count()
}

/// The folder a path is written in (`.` for a bare file name).
pub fn folder_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Writes to a temporary file beside `target`, then renames it into place.
pub fn write_atomically(
    target: &Path,
    write: impl FnOnce(&mut File) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    written_aside(target, write)?.commit()
}

/// Writes to a temporary file beside `target` and leaves it there: [`Aside::commit`] puts it in
/// place. A run with several outputs writes them all aside first, so a failure of one leaves
/// none (cli.md: exit 2, nothing written).
pub fn written_aside(
    target: &Path,
    write: impl FnOnce(&mut File) -> Result<(), WriteError>,
) -> Result<Aside, WriteError> {
    let mut aside = Aside::new(target)?;
    write(aside.file())?;
    Ok(aside)
}

/// A file being written aside: a temporary file beside its target, renamed into place by
/// [`Aside::commit`]; dropped before that, it is removed and the target is untouched.
pub struct Aside {
    tmp: tempfile::NamedTempFile,
    target: PathBuf,
}

impl Aside {
    pub(crate) fn new(target: &Path) -> Result<Aside, WriteError> {
        let dir = folder_of(target);
        let prefix = temp_prefix();
        let mut builder = tempfile::Builder::new();
        builder.prefix(&prefix).suffix(TEMP_SUFFIX);
        // A temporary file is private (0600); the result is an ordinary file the clerk can share,
        // unless it goes into a private folder (the data folder): then it stays private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let private =
                std::fs::metadata(&dir).is_ok_and(|m| m.permissions().mode() & 0o077 == 0);
            builder.permissions(std::fs::Permissions::from_mode(if private {
                0o600
            } else {
                0o644
            }));
        }
        let tmp = builder.tempfile_in(&dir).map_err(|e| io_error(target, e))?;
        Ok(Aside {
            tmp,
            target: target.to_owned(),
        })
    }

    pub(crate) fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    /// The path it will have.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Makes the file durable and puts it in place of its target.
    pub fn commit(self) -> Result<(), WriteError> {
        let target = self.target;
        self.tmp
            .as_file()
            .sync_all()
            .map_err(|e| io_error(&target, e))?;
        self.tmp
            .persist(&target)
            .map_err(|e| io_error(&target, e.error))?;
        Ok(())
    }
}

fn io_error(path: &Path, e: std::io::Error) -> WriteError {
    if e.kind() == std::io::ErrorKind::PermissionDenied && path.exists() {
        WriteError::Locked {
            path: path.to_owned(),
        }
    } else {
        WriteError::Io {
            path: path.to_owned(),
            reason: io_message(&e),
        }
    }
}

/// A writer that passes its first error on and then takes everything silently.
///
/// rust_xlsxwriter's zip writer, dropped after a failed write (a full disk), tries to finish
/// the archive once more and prints `ZipWriter::drop: failed to finalize archive` on standard
/// error when that fails too. Behind this writer that last attempt "succeeds" into nothing, so
/// nothing reaches the clerk's console; the file is a temporary one that is then removed, and
/// [`StopOnError::finish`] returns the first error even if the writer above ignored it.
pub struct StopOnError<W: Write> {
    inner: W,
    error: Option<std::io::Error>,
}

impl<W: Write> StopOnError<W> {
    pub fn new(inner: W) -> StopOnError<W> {
        StopOnError { inner, error: None }
    }

    /// Flushes what is buffered and returns the first error seen, if any.
    pub fn finish(mut self) -> std::io::Result<()> {
        let _ = self.flush();
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl<W: Write> Write for StopOnError<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.error.is_some() {
            return Ok(buf.len());
        }
        self.inner.write(buf).inspect_err(|e| {
            self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.error.is_some() {
            return Ok(());
        }
        self.inner.flush().inspect_err(|e| {
            self.error = Some(std::io::Error::new(e.kind(), e.to_string()));
        })
    }
}

/// A new workbook whose constant-memory temporary files go into the folder of `path`, not the
/// system's temporary folder: that may be a small RAM disk, or full, or gone, while the output's
/// folder was just written to. The files have no name there and vanish with the workbook.
fn workbook_beside(path: &Path) -> Result<Workbook, XlsxError> {
    let mut wb = Workbook::new();
    wb.set_tempdir(folder_of(path))?;
    Ok(wb)
}

/// Saves a workbook into `file` (see [`StopOnError`]): the first I/O error wins over whatever
/// rust_xlsxwriter made of it, and the buffer is flushed with its error checked.
fn save_xlsx(wb: &mut Workbook, file: &mut File, path: &Path) -> Result<(), WriteError> {
    let mut out = StopOnError::new(BufWriter::new(file));
    let saved = wb.save_to_writer(&mut out);
    out.finish().map_err(|e| io_error(path, e))?;
    saved.map_err(xlsx_error(path))
}

/// Builds and saves a workbook, where rust_xlsxwriter panics when it cannot write its own
/// temporary file (its constant-memory mode `expect`s those writes, and they fail on a full
/// disk): that is this file's write error, in plain words; the panic's text goes to the log.
fn building<T>(path: &Path, f: impl FnOnce() -> Result<T, WriteError>) -> Result<T, WriteError> {
    crate::log::catch_panic(f).unwrap_or_else(|text| {
        use std::io::ErrorKind;
        let kind = [ErrorKind::StorageFull, ErrorKind::FileTooLarge]
            .into_iter()
            .find(|k| text.contains(&format!("{k:?}")));
        Err(WriteError::Io {
            path: path.to_owned(),
            reason: match kind {
                Some(k) => io_message(&k.into()),
                None => "生成表格时写临时文件出错（多半是磁盘空间已满），请清理磁盘后重试".into(),
            },
        })
    })
}

fn xlsx_error(path: &Path) -> impl Fn(XlsxError) -> WriteError + '_ {
    move |e| match e {
        XlsxError::IoError(io) => io_error(path, io),
        other => WriteError::Xlsx {
            path: path.to_owned(),
            detail: other.to_string(),
        },
    }
}

/// Writes the upload sheet: the template's header, then every ready row, every cell as text.
/// `.xlsx` or `.csv` (UTF-8 with BOM) by the extension. Returns the number of rows written.
pub fn write_upload(batch: &Batch, path: &Path) -> Result<usize, WriteError> {
    upload_aside(batch, path)?.commit()
}

/// [`write_upload`], written aside: [`Sheet::commit`] puts it in place.
pub fn upload_aside(batch: &Batch, path: &Path) -> Result<Sheet, WriteError> {
    let ready: Vec<usize> = batch.rows_with(RowStatus::Ready).collect();
    let aside = rows_aside(batch, &ready, path)?;
    Ok(Sheet::new(aside, "upload sheet", ready.len()))
}

/// A sheet written aside (an upload sheet, the rejected rows) and how many rows it holds.
pub struct Sheet {
    aside: Aside,
    what: &'static str,
    rows: usize,
}

impl Sheet {
    pub(crate) fn new(aside: Aside, what: &'static str, rows: usize) -> Sheet {
        Sheet { aside, what, rows }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Puts it in place (and logs it); returns its rows.
    pub fn commit(self) -> Result<usize, WriteError> {
        let path = self.aside.target().to_owned();
        self.aside.commit()?;
        crate::log::event::exported(self.what, &path, self.rows);
        Ok(self.rows)
    }
}

/// Writes an upload sheet holding only the chosen rows (batch indices, in that order), exactly
/// as [`write_upload`] writes all ready rows. The outbox uses it for one batch of an upload.
pub fn write_rows(batch: &Batch, ready: &[usize], path: &Path) -> Result<usize, WriteError> {
    rows_aside(batch, ready, path)?.commit()?;
    Ok(ready.len())
}

/// [`write_rows`] without putting the file in place.
fn rows_aside(batch: &Batch, ready: &[usize], path: &Path) -> Result<Aside, WriteError> {
    refuse_source(&batch.source.path, path)?;
    let kind = SheetKind::of(path)?;
    let fields = batch.profile().fields.len();
    written_aside(path, |file| {
        building(path, || {
            let mut sheet = UploadSheet::begin(kind, batch.profile(), path, file)?;
            for &i in ready {
                sheet.row((0..fields).map(|c| batch.output_value(i, c)))?;
            }
            sheet.end(file)
        })
    })
}

/// The two kinds of upload sheet, by the output's extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SheetKind {
    Xlsx,
    Csv,
}

impl SheetKind {
    pub(crate) fn of(path: &Path) -> Result<SheetKind, WriteError> {
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_lowercase())
            .unwrap_or_default();
        match ext.as_str() {
            "xlsx" => Ok(SheetKind::Xlsx),
            "csv" => Ok(SheetKind::Csv),
            _ => Err(WriteError::Extension {
                path: path.to_owned(),
            }),
        }
    }
}

/// An upload sheet being written row by row: the one place its layout is decided (the
/// template's header, every cell text), for [`write_rows`] and the early writer
/// ([`early`]). xlsx cells go to rust_xlsxwriter's constant-memory sheet (its own temporary
/// file beside the output), CSV straight into the file.
pub(crate) struct UploadSheet {
    out: SheetOut,
    path: PathBuf,
    next_row: u32,
}

enum SheetOut {
    Xlsx(Box<Workbook>),
    Csv(Box<csv::Writer<BufWriter<File>>>),
}

impl UploadSheet {
    /// Starts the sheet with its header row. `file` is the output (written aside); a CSV is
    /// written into it from here on, an xlsx only by [`UploadSheet::end`].
    pub(crate) fn begin(
        kind: SheetKind,
        profile: &crate::profile::Profile,
        path: &Path,
        file: &File,
    ) -> Result<UploadSheet, WriteError> {
        let fields = &profile.fields;
        let out = match kind {
            SheetKind::Xlsx => {
                let err = xlsx_error(path);
                let mut wb = workbook_beside(path).map_err(&err)?;
                // Deflate level 2 (zlib-rs's fast strategy) instead of 6: the sheet of 1,000,000
                // rows is deflated in about a third of the time for a file about 15% larger
                // (measured; see the README's benchmark).
                wb.set_zip_compression_level(2);
                let text = Format::new().set_num_format("@");
                let bold = Format::new().set_bold().set_num_format("@");
                let ws = wb.add_worksheet_with_constant_memory().map_err(&err)?;
                ws.set_name(&profile.output_sheet).map_err(&err)?;
                for (c, f) in fields.iter().enumerate() {
                    ws.set_column_width(c as u16, f.show.sheet_width)
                        .map_err(&err)?;
                    ws.set_column_format(c as u16, &text).map_err(&err)?;
                    ws.write_string_with_format(0, c as u16, &f.header, &bold)
                        .map_err(&err)?;
                }
                SheetOut::Xlsx(Box::new(wb))
            }
            SheetKind::Csv => {
                let handle = file.try_clone().map_err(|e| io_error(path, e))?;
                let mut out = BufWriter::new(handle);
                out.write_all("\u{feff}".as_bytes())
                    .map_err(|e| io_error(path, e))?;
                let mut w = csv::Writer::from_writer(out);
                w.write_record(fields.iter().map(|f| defused_bytes(&f.header)))
                    .map_err(|e| csv_error(path, e))?;
                SheetOut::Csv(Box::new(w))
            }
        };
        Ok(UploadSheet {
            out,
            path: path.to_owned(),
            next_row: 1,
        })
    }

    /// Appends one row: its output values in template field order.
    pub(crate) fn row<'a>(
        &mut self,
        values: impl Iterator<Item = &'a str>,
    ) -> Result<(), WriteError> {
        let path = &self.path;
        match &mut self.out {
            SheetOut::Xlsx(wb) => {
                let err = xlsx_error(path);
                let ws = wb.worksheet_from_index(0).map_err(&err)?;
                for (c, v) in values.enumerate() {
                    // A string cell stays text in Excel, and the column's text format keeps
                    // what a clerk types there later as text too. (A format per cell would
                    // cost a hash lookup for each of millions of cells.)
                    if !v.is_empty() {
                        ws.write_string(self.next_row, c as u16, v).map_err(&err)?;
                    }
                }
            }
            SheetOut::Csv(w) => w
                .write_record(values.map(defused_bytes))
                .map_err(|e| csv_error(path, e))?,
        }
        self.next_row += 1;
        Ok(())
    }

    /// Finishes the sheet into `file` (the same file [`UploadSheet::begin`] was given).
    pub(crate) fn end(self, file: &mut File) -> Result<(), WriteError> {
        let path = &self.path;
        match self.out {
            SheetOut::Xlsx(mut wb) => save_xlsx(&mut wb, file, path),
            SheetOut::Csv(mut w) => w.flush().map_err(|e| io_error(path, e)),
        }
    }
}

/// A CSV cell a spreadsheet would run as a formula (OWASP's CSV injection rule: it starts with
/// `=`, `+`, `-`, `@`, tab or carriage return) gets a leading apostrophe, so it stays text.
pub fn defused(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

fn defused_bytes(value: &str) -> std::borrow::Cow<'_, [u8]> {
    match defused(value) {
        std::borrow::Cow::Borrowed(s) => std::borrow::Cow::Borrowed(s.as_bytes()),
        std::borrow::Cow::Owned(s) => std::borrow::Cow::Owned(s.into_bytes()),
    }
}

/// A CSV writer's error: its I/O cause in plain words (a full disk), else its own text.
fn csv_error(path: &Path, e: csv::Error) -> WriteError {
    match e.into_kind() {
        csv::ErrorKind::Io(io) => io_error(path, io),
        other => WriteError::Io {
            path: path.to_owned(),
            reason: format!("{other:?}"),
        },
    }
}

/// A JSON writer's error (the report): its I/O cause in plain words, else its own text.
pub fn json_error(path: &Path, e: serde_json::Error) -> WriteError {
    match e.io_error_kind() {
        Some(kind) => io_error(path, std::io::Error::from(kind)),
        None => WriteError::Io {
            path: path.to_owned(),
            reason: e.to_string(),
        },
    }
}

/// Writes the rejected rows as they were in the source, with a last column `错误原因` holding
/// every message of the row. Re-reads the source for the original cells. Returns the count.
pub fn write_rejected(batch: &Batch, path: &Path, lang: Lang) -> Result<usize, WriteError> {
    rejected_aside(batch, path, lang)?.commit()
}

/// [`write_rejected`], written aside: [`Sheet::commit`] puts it in place.
// Long: the workbook's layout, row by row, with the reasons and the cells cut to fit.
pub fn rejected_aside(batch: &Batch, path: &Path, lang: Lang) -> Result<Sheet, WriteError> {
    refuse_source(&batch.source.path, path)?;
    let rejected: Vec<usize> = batch.rows_with(RowStatus::Rejected).collect();
    let lines: BTreeSet<u32> = rejected.iter().map(|&i| batch.line(i)).collect();
    let (header, rows) = crate::source::rows(&batch.source, &lines)?;
    let by_line: std::collections::HashMap<u32, usize> =
        rejected.iter().map(|&i| (batch.line(i), i)).collect();
    let width = header
        .len()
        .max(rows.iter().map(|r| r.1.len()).max().unwrap_or(0));
    // Positive results first (daily.md): they need a person soonest.
    let result = batch.profile().roles.result;
    let is_positive = |i: usize| {
        result.is_some_and(|f| crate::rules::positive::is_positive_result(batch.output_value(i, f)))
    };
    let positive = |line: &u32| by_line.get(line).is_some_and(|&i| is_positive(i));
    let mut rows = rows;
    rows.sort_by_key(|(line, _)| !positive(line));
    let aside = written_aside(path, |file| {
        building(path, || {
            let err = xlsx_error(path);
            let mut wb = workbook_beside(path).map_err(&err)?;
            let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
            let bold = Format::new().set_bold();
            let red = Format::new().set_font_color("#C00000").set_text_wrap();
            let ws = wb.add_worksheet_with_constant_memory().map_err(&err)?;
            ws.set_name("错误行").map_err(&err)?;
            for (c, cell) in header.iter().enumerate() {
                ws.write_string_with_format(0, c as u16, cell.display(), &bold)
                    .map_err(&err)?;
            }
            ws.write_string_with_format(0, width as u16, "错误原因", &bold)
                .map_err(&err)?;
            ws.set_column_width(width as u16, 80.0).map_err(&err)?;
            for (r, (line, cells)) in rows.iter().enumerate() {
                let row = r as u32 + 1;
                let mut cut = Vec::new();
                for (ci, cell) in cells.iter().enumerate() {
                    let c = ci as u16;
                    match cell {
                        Cell::Empty => continue,
                        Cell::Number(n) => ws.write_number(row, c, *n).map(|_| ()),
                        Cell::Date(d) => {
                            ws.write_datetime_with_format(row, c, d, &date).map(|_| ())
                        }
                        Cell::Bool(b) => ws.write_boolean(row, c, *b).map(|_| ()),
                        other => {
                            let text = other.display();
                            let text = match excel_cut(&text) {
                                Some(end) => {
                                    cut.push(header.get(ci).map(Cell::display).unwrap_or_default());
                                    text[..end].to_owned()
                                }
                                None => text,
                            };
                            ws.write_string(row, c, text).map(|_| ())
                        }
                    }
                    .map_err(&err)?;
                }
                if let Some(&i) = by_line.get(line) {
                    let mut reasons: Vec<String> = batch
                        .issues(i)
                        .iter()
                        .map(|issue| batch.message(i, issue, lang))
                        .collect();
                    if is_positive(i) {
                        reasons.insert(
                            0,
                            lang.pick(
                                "阳性结果，请优先处理。",
                                "Positive result: deal with it first.",
                            )
                            .to_owned(),
                        );
                    }
                    for column in cut {
                        reasons.push(lang.pick(
                            format!(
                                "「{column}」的内容超过 Excel 一格能放的 {MAX_CELL_CHARS} 个字符，这里只保留了前 {MAX_CELL_CHARS} 个字符。"
                            ),
                            format!(
                                "\"{column}\" is longer than Excel's {MAX_CELL_CHARS} characters per cell; only the first {MAX_CELL_CHARS} are kept here."
                            ),
                        ));
                    }
                    ws.write_string_with_format(row, width as u16, reasons.join("\n"), &red)
                        .map_err(&err)?;
                }
            }
            save_xlsx(&mut wb, file, path)
        })
    })?;
    Ok(Sheet::new(aside, "rejected rows", rows.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `room` bytes, then fails as a full disk does.
    struct Full {
        room: usize,
        taken: Vec<u8>,
    }

    impl Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.room == 0 {
                return Err(std::io::ErrorKind::StorageFull.into());
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.taken.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_first_write_error_is_kept_and_later_writes_are_quiet() {
        let mut full = Full {
            room: 4,
            taken: Vec::new(),
        };
        let mut w = StopOnError::new(&mut full);
        assert!(w.write_all(b"abcdef").is_err());
        // What a dropped zip writer does next: more writes and a flush, which now succeed.
        assert!(w.write_all(b"central directory").is_ok());
        assert!(w.flush().is_ok());
        let e = w.finish().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(full.taken, b"abcd");
        assert!(StopOnError::new(Vec::new()).finish().is_ok());
    }
}
