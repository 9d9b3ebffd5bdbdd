//! Opening the program's SQLite databases (`outbox.sqlite`, `unattended.sqlite`): the one
//! place that says how a connection waits for the other programs using the same data folder
//! (guarantees.md §8). The window, a scheduled `watch --once`, a terminal's `upload` and a
//! `lookup` may all hold the same file at once: each connection made by [`open`] waits for the
//! others (a busy handler that sleeps up to [`BUSY_TIMEOUT`] in all, and logs once when the
//! wait passes [`SAY_AFTER`]), begins every transaction `IMMEDIATE` (the write lock is taken,
//! waiting, at `BEGIN`, so a transaction never finds at its first write that another program
//! wrote meanwhile: SQLite answers that with "database is locked" at once, without waiting),
//! and [`retry`] runs again what could not start because the file was busy.

use rusqlite::{Connection, OpenFlags, TransactionBehavior};
use std::path::Path;
use std::time::{Duration, Instant};

/// How long a connection waits for the others before it gives up (at least 30 s, guarantees.md).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(60);
/// A wait longer than this is logged (once per wait).
pub const SAY_AFTER: Duration = Duration::from_secs(3);

/// What a connection may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Read and write; the file is created when missing.
    Write,
    /// Read only; the file must exist. For the readers that never change a database (lookup,
    /// the diagnostic bundle, the rows already queued).
    Read,
}

/// Opens the database at `path` for `access`, waiting for other programs as the module says.
pub fn open(path: &Path, access: Access) -> rusqlite::Result<Connection> {
    let flags = match access {
        Access::Write => {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        }
        Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    };
    if access == Access::Write {
        // A new database is created private (0600) before SQLite opens it: SQLite gives its
        // -wal, -shm and -journal files the main file's mode (target.md "Safety rules").
        crate::privacy::ensure_private_file(path).map_err(|e| {
            rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                Some(e.to_string()),
            )
        })?;
    }
    let mut conn = retry(|| Connection::open_with_flags(path, flags))?;
    conn.busy_handler(Some(wait))?;
    conn.set_transaction_behavior(TransactionBehavior::Immediate);
    Ok(conn)
}

/// SQLite's own schedule of sleeps (ms), then 100 ms each time.
const DELAYS_MS: [u64; 12] = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100];

/// How long the handler has slept before its `count`-th call, and how long it sleeps now.
fn schedule(count: i32) -> (Duration, Duration) {
    let n = usize::try_from(count).unwrap_or(0);
    let before: u64 = if n < DELAYS_MS.len() {
        DELAYS_MS[..n].iter().sum()
    } else {
        DELAYS_MS.iter().sum::<u64>() + (n - DELAYS_MS.len()) as u64 * 100
    };
    let now = DELAYS_MS.get(n).copied().unwrap_or(100);
    (Duration::from_millis(before), Duration::from_millis(now))
}

/// The busy handler: `count` is how many times it was called for this wait.
fn wait(count: i32) -> bool {
    let (waited, next) = schedule(count);
    if waited >= BUSY_TIMEOUT {
        log::warn!(
            target: "sheetbridge::db",
            "gave up after waiting {} s for another program using the database",
            waited.as_secs()
        );
        return false;
    }
    if waited < SAY_AFTER && waited + next >= SAY_AFTER {
        say_waiting(SAY_AFTER);
    }
    std::thread::sleep(next);
    true
}

fn say_waiting(waited: Duration) {
    log::warn!(
        target: "sheetbridge::db",
        "另一个程序正在使用数据库，已等待 {} 秒，继续等待（最多 {} 秒） / another program is using the database: waited {} s, waiting up to {} s",
        waited.as_secs(),
        BUSY_TIMEOUT.as_secs(),
        waited.as_secs(),
        BUSY_TIMEOUT.as_secs()
    );
}

/// Is this SQLite's "busy" or "locked": another program has the file?
pub fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Runs `step` (opening, changing the journal mode, beginning a transaction) again while it
/// fails because another program has the file, for up to [`BUSY_TIMEOUT`] in all: the cases
/// SQLite answers "busy" at once, without its busy handler. A longer wait is logged once.
pub fn retry<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let start = Instant::now();
    let mut said = false;
    let mut count = 0i32;
    loop {
        match step() {
            Err(e) if is_busy(&e) && start.elapsed() < BUSY_TIMEOUT => {
                if !said && start.elapsed() >= SAY_AFTER {
                    say_waiting(start.elapsed());
                    said = true;
                }
                let (_, next) = schedule(count);
                count = count.saturating_add(1);
                std::thread::sleep(next.max(Duration::from_millis(5)));
            }
            other => return other,
        }
    }
}

/// Begins a transaction (`IMMEDIATE`, as every connection of [`open`] does), retried while
/// the file is busy.
pub fn begin(conn: &Connection) -> rusqlite::Result<rusqlite::Transaction<'_>> {
    retry(|| conn.unchecked_transaction())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_schedule_reaches_the_timeout_and_stops() {
        assert_eq!(schedule(0), (Duration::ZERO, Duration::from_millis(1)));
        assert_eq!(schedule(12).0, Duration::from_millis(328));
        let last = (0..).find(|&c| !wait_would_go_on(c)).unwrap();
        assert_eq!(schedule(last).0, BUSY_TIMEOUT + Duration::from_millis(28));
    }

    fn wait_would_go_on(count: i32) -> bool {
        schedule(count).0 < BUSY_TIMEOUT
    }

    #[test]
    fn a_writer_waits_for_another_writer_and_then_writes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.sqlite");
        let a = open(&path, Access::Write).unwrap();
        a.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (x)")
            .unwrap();
        let b = open(&path, Access::Write).unwrap();
        // b reads first, then a writes, then b writes in the same transaction: with a deferred
        // transaction that is "database is locked" at once; IMMEDIATE waits instead.
        let held = begin(&a).unwrap();
        held.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let writer = std::thread::spawn(move || {
            let tx = begin(&b).unwrap();
            let n: i64 = tx
                .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .unwrap();
            tx.execute("INSERT INTO t VALUES (?1)", [n + 10]).unwrap();
            tx.commit().unwrap();
        });
        std::thread::sleep(Duration::from_millis(300));
        held.commit().unwrap();
        writer.join().unwrap();
        let sum: i64 = a
            .query_row("SELECT sum(x) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sum, 1 + 11);
    }
}
