//! The program's log (support.md): `logs/` in the data folder, rotated by size (at most
//! [`KEEP_FILES`] files of [`MAX_BYTES`]), masked, and safe with several processes writing.
//!
//! The library writes through the `log` facade (`log::info!`, `log::warn!`, `log::error!` with
//! a target under `sheetbridge`); a front end calls [`install`] once with the log folder. Each
//! record is one line, its control characters escaped and its personal numbers masked
//! ([`LogFile::write_line`]), so no full ID or phone number reaches the disk. Every write takes an exclusive lock on `logs/.lock` (a file lock, so it holds across
//! processes), lets `file-rotate` rotate when the line would take the file past the limit, and
//! appends the whole line with one `write` on a file opened for appending: lines of the window,
//! a scheduled run and a terminal never interleave, and no process rotates a file another one
//! is half-way through.

use file_rotate::compression::Compression;
use file_rotate::suffix::AppendCount;
use file_rotate::{ContentLimit, FileRotate};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A log file is rotated before a line would take it past this size.
pub const MAX_BYTES: u64 = 1024 * 1024;
/// The current file and the rotated ones together.
pub const KEEP_FILES: usize = 5;
/// The current file's name; rotated ones get `.1` (newest) to `.4` (oldest).
pub const FILE_NAME: &str = "sheetbridge.log";
const LOCK_NAME: &str = ".lock";

/// The log files in one folder.
#[derive(Debug, Clone)]
pub struct LogFile {
    dir: PathBuf,
    max_bytes: u64,
}

impl LogFile {
    /// The log in `dir` (the data folder's `logs/`), created at the first line.
    pub fn new(dir: &Path) -> LogFile {
        LogFile::with_limit(dir, MAX_BYTES)
    }

    /// The same with another size limit (tests use a small one).
    pub fn with_limit(dir: &Path, max_bytes: u64) -> LogFile {
        LogFile {
            dir: dir.to_owned(),
            max_bytes: max_bytes.max(1),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one record as one line, rotating first when it would take the current file past
    /// the limit. The sink of every log record: control characters (a line break, an escape
    /// from a file name or a platform's answer) are escaped ([`crate::paths::for_line`]), then
    /// every personal number is masked ([`crate::privacy::mask_numbers`]).
    pub fn write_line(&self, text: &str) -> std::io::Result<()> {
        let mut line = crate::privacy::mask_numbers(&crate::paths::for_line(text));
        line.push('\n');
        private_dir(&self.dir)?;
        let lock = private_options().open(self.dir.join(LOCK_NAME))?;
        lock.lock()?;
        let result = self.append_locked(line.as_bytes());
        // Dropping the file releases the lock too; unlocking first says so plainly.
        let _ = lock.unlock();
        result
    }

    fn append_locked(&self, line: &[u8]) -> std::io::Result<()> {
        let path = self.dir.join(FILE_NAME);
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        let mut options = private_options();
        options.read(true);
        // file-rotate scans the rotated files when made: made under the lock, it sees what
        // every other process has done.
        let mut file = FileRotate::new(
            &path,
            AppendCount::new(KEEP_FILES - 1),
            ContentLimit::None,
            Compression::None,
            Some(options),
        );
        if size > 0 && size + line.len() as u64 > self.max_bytes {
            file.rotate()?;
        }
        file.write_all(line)?;
        file.flush()
    }

    /// The log files, oldest first (the current one last); only those that exist.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = (1..KEEP_FILES)
            .rev()
            .map(|n| self.dir.join(format!("{FILE_NAME}.{n}")))
            .collect();
        out.push(self.dir.join(FILE_NAME));
        out.retain(|p| p.is_file());
        out
    }

    /// The last `n` lines over all files, oldest first. Unreadable files are skipped.
    pub fn tail(&self, n: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for path in self.files().iter().rev() {
            let Ok(bytes) = std::fs::read(path) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            let mut these: Vec<String> = text.lines().map(str::to_owned).collect();
            let need = n.saturating_sub(lines.len());
            if these.len() > need {
                these.drain(..these.len() - need);
            }
            these.append(&mut lines);
            lines = these;
            if lines.len() >= n {
                break;
            }
        }
        lines
    }
}

/// Creates `dir` and its missing parents readable by the user alone (0700 on Linux): the log
/// may be the first to make the data folder.
fn private_dir(dir: &Path) -> std::io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        b.mode(0o700);
    }
    b.create(dir)
}

/// Options to create or append to a file only the user can read (0600 on Linux).
fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

/// The logger behind the `log` facade: lines of targets under `sheetbridge` at `Info` or
/// above go to a [`LogFile`].
struct Logger {
    file: LogFile,
    pid: u32,
}

impl ::log::Log for Logger {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        metadata.level() <= ::log::Level::Info && metadata.target().starts_with("sheetbridge")
    }

    fn log(&self, record: &::log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = format!(
            "{} {:<5} v{} [{}] {}",
            chrono::Local::now().format("%Y-%m-%dT%H:%M:%S%.3f%:z"),
            record.level(),
            env!("CARGO_PKG_VERSION"),
            self.pid,
            record.args()
        );
        // Failing to write the log must never stop the clerk's work.
        let _ = self.file.write_line(&line);
    }

    fn flush(&self) {}
}

/// Installs the log for this process, writing to `dir` (the data folder's `logs/`). The
/// front end calls it once; a second call is refused (`false`) and changes nothing.
pub fn install(dir: &Path) -> bool {
    let logger = Logger {
        file: LogFile::new(dir),
        pid: std::process::id(),
    };
    if ::log::set_boxed_logger(Box::new(logger)).is_err() {
        return false;
    }
    ::log::set_max_level(::log::LevelFilter::Info);
    true
}

thread_local! {
    /// How many [`catch_panic`] scopes this thread is inside.
    static CATCHING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Runs `f` and catches a panic in it (a dependency's bug on a damaged file, rust_xlsxwriter's
/// `expect` when its temporary file cannot be written on a full disk): `Err` holds the panic's
/// text. With [`install_panic_hook`] that text goes to the log only, never to the clerk's
/// console; the caller turns the `Err` into its own plain message.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    CATCHING.with(|c| c.set(c.get() + 1));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CATCHING.with(|c| c.set(c.get().saturating_sub(1)));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic".to_owned())
    })
}

/// For front ends, once at start: a panic inside [`catch_panic`] is written to the log (target
/// `sheetbridge::panic`) instead of standard error; any other panic still goes to the hook
/// that was there before (Rust's message: a bug should be seen).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CATCHING.with(|c| c.get()) > 0 {
            ::log::error!(target: "sheetbridge::panic", "caught: {info}");
        } else {
            previous(info);
        }
    }));
}

/// The log folder inside a data folder.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("logs")
}

/// The events every front end logs the same way (support.md): written here once so that the
/// lines of the window, a command and a scheduled run read alike.
pub mod event {
    use crate::batch::Batch;
    use crate::message::Localized;
    use crate::pipeline::LoadError;
    use std::path::Path;

    const TARGET: &str = "sheetbridge";

    /// A process started: version, system (the front end says which) and what it was asked
    /// to do.
    pub fn started(system: &str, what: &str) {
        ::log::info!(
            target: TARGET,
            "start: sheetbridge {} on {system}; {what}",
            env!("CARGO_PKG_VERSION")
        );
    }

    /// A file was opened and checked, or could not be.
    pub fn opened(path: &Path, result: &Result<Batch, LoadError>) {
        let file = crate::paths::file_name(path);
        match result {
            Ok(b) => {
                let s = b.summary();
                ::log::info!(
                    target: TARGET,
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
                ::log::info!(target: TARGET, "open cancelled: {file}")
            }
            // The headers found may be a row of data (names): only the profile and the
            // columns it missed are logged.
            Err(LoadError::NoMatch(m)) => ::log::error!(
                target: TARGET,
                "open failed: {file}: header not recognised, profile {} misses {}",
                m.profile,
                m.missing.join(", ")
            ),
            Err(e) => ::log::error!(target: TARGET, "open failed: {file}: {}", e.english()),
        }
    }

    /// An upload sheet or a workbook of rejected rows was written.
    pub fn exported(what: &str, path: &Path, rows: usize) {
        ::log::info!(
            target: TARGET,
            "exported {what}: {} ({rows} rows)",
            crate::paths::file_name(path)
        );
    }

    /// A batch was put in the outbox (`new`), or was there already.
    pub fn queued(id: &str, target: &str, rows: usize, new: bool) {
        if new {
            ::log::info!(target: TARGET, "queued: batch {id} for {target}, {rows} rows");
        } else {
            ::log::info!(target: TARGET, "not queued again: batch {id} for {target} was queued before");
        }
    }

    /// One send attempt and the platform's answer.
    pub fn attempt(
        batch: &crate::upload::outbox::BatchRecord,
        outcome: &crate::upload::client::Outcome,
    ) {
        let level = match outcome.kind {
            crate::upload::client::Kind::Confirmed => ::log::Level::Info,
            _ => ::log::Level::Warn,
        };
        ::log::log!(
            target: TARGET,
            level,
            "send: batch {} to {} ({} rows), attempt {}: {:?}{}: {}{}",
            batch.id,
            batch.target,
            batch.rows,
            batch.attempts + 1,
            outcome.kind,
            outcome
                .accepted
                .map(|n| format!(", {n} accepted"))
                .unwrap_or_default(),
            outcome.zh,
            outcome
                .detail
                .as_deref()
                .map(|d| format!(" ({d})"))
                .unwrap_or_default()
        );
    }

    /// An error shown to the person (a command's message, a notice in the window).
    pub fn error(message: &str) {
        ::log::error!(target: TARGET, "error: {message}");
    }

    /// A command ended with this exit code.
    pub fn finished(what: &str, code: u8) {
        ::log::info!(target: TARGET, "end: {what}, exit code {code}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_masked_and_rotation_keeps_five_files() {
        let home = tempfile::tempdir().unwrap();
        let logs = home.path().join("data/logs");
        let log = LogFile::with_limit(&logs, 200);
        for i in 0..100 {
            log.write_line(&format!("line {i:03} 13812345678\nsecond part"))
                .unwrap();
        }
        let files = log.files();
        assert_eq!(files.len(), KEEP_FILES);
        for f in &files {
            let len = std::fs::metadata(f).unwrap().len();
            assert!(len <= 200, "{} is {len} bytes", crate::paths::shown(f));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&home.path().join("data")), 0o700);
            assert_eq!(mode(&logs), 0o700);
            assert_eq!(mode(&files[0]), 0o600);
        }
        let tail = log.tail(3);
        assert_eq!(tail.len(), 3);
        assert!(
            tail[2].starts_with("line 099 138****5678\\nsecond part"),
            "{tail:?}"
        );
        assert!(tail[0].starts_with("line 097"), "{tail:?}");
        for f in files {
            assert!(!std::fs::read_to_string(f).unwrap().contains("13812345678"));
        }
    }

    /// Several writers with their own handles (as several processes have), rotating often:
    /// every line arrives whole, exactly once, and at most five files remain.
    #[test]
    fn concurrent_writers_never_interleave_or_lose_lines() {
        let dir = tempfile::tempdir().unwrap();
        let limit = 32 * 1024;
        let writers: Vec<_> = (0..4)
            .map(|w| {
                let log = LogFile::with_limit(dir.path(), limit);
                std::thread::spawn(move || {
                    for i in 0..300 {
                        let line = format!("writer {w} line {i:04} {}", "x".repeat(40 + w * 7));
                        log.write_line(&line).unwrap();
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        let log = LogFile::with_limit(dir.path(), limit);
        assert!(log.files().len() <= KEEP_FILES);
        let lines = log.tail(usize::MAX);
        assert_eq!(lines.len(), 1200, "everything fits in five files of 32 KB");
        let mut seen = std::collections::HashSet::new();
        for l in &lines {
            let parts: Vec<&str> = l.split(' ').collect();
            assert_eq!(parts.len(), 5, "{l}");
            let w: usize = parts[1].parse().unwrap();
            assert_eq!(parts[4], "x".repeat(40 + w * 7), "{l}");
            assert!(seen.insert((w, parts[3].to_owned())), "twice: {l}");
        }
    }
}
