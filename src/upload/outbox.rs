//! The outbox: batches waiting to be sent, their states, and the ledger of confirmed rows.
//!
//! Kept in the data folder as `outbox.sqlite` plus one `outbox/<batch id>.xlsx` per batch. A
//! batch's file is written whole before its row is inserted, and every state change is one
//! SQLite transaction, so a crash at any moment leaves either no batch (an orphan file, deleted
//! at the next open) or a batch whose file is complete. The ledger holds, per confirmed row, the
//! barcode and a SHA-256 of `"<id type>|<id number>"`, never the ID itself.

use crate::batch::Batch;
use crate::upload::target::Target;
use crate::write::WriteError;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where a batch is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Waiting to be sent (now, or at `next_attempt_at`).
    Queued,
    /// Being sent by a running program.
    Sending,
    /// The platform said yes; its rows are in the ledger.
    Confirmed,
    /// The platform said no (4xx or a failed success check); not retried.
    Rejected,
    /// The answer was lost after the file was sent and a resend could duplicate rows; or the
    /// retries ran out. A person decides (`outbox retry` / `outbox forget`).
    Waiting,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Queued => "queued",
            State::Sending => "sending",
            State::Confirmed => "confirmed",
            State::Rejected => "rejected",
            State::Waiting => "waiting",
        }
    }

    fn parse(s: &str) -> State {
        match s {
            "sending" => State::Sending,
            "confirmed" => State::Confirmed,
            "rejected" => State::Rejected,
            "waiting" => State::Waiting,
            _ => State::Queued,
        }
    }

    /// The state in Chinese, for the clerk.
    pub fn zh(self) -> &'static str {
        match self {
            State::Queued => "排队中",
            State::Sending => "发送中",
            State::Confirmed => "已确认",
            State::Rejected => "被拒绝",
            State::Waiting => "待人工处理",
        }
    }
}

/// One batch as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRecord {
    pub id: String,
    /// The target's reference (file stem or absolute path).
    pub target: String,
    pub rows: usize,
    pub state: State,
    pub attempts: u32,
    pub last_error: Option<String>,
    /// Unix milliseconds.
    pub created: i64,
    /// Unix milliseconds; a queued batch is due from then on.
    pub next_attempt_at: i64,
    /// Sent in the target's idempotency header; equal to the batch id.
    pub idempotency_key: String,
    pub confirmed_at: Option<i64>,
    /// Rows the platform said it accepted, when it says so.
    pub accepted: Option<u64>,
    /// Whether the target allowed resending when the batch was queued.
    pub resend_safe: bool,
    /// Unix milliseconds from which `retry_for_hours` counts (queueing, or a person's retry).
    pub retry_from: i64,
}

/// Why the outbox could not do something.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error(
        "没有找到存放待上报数据的文件夹；请设置环境变量 SHEETBRIDGE_DATA_DIR 指向一个可写的文件夹。"
    )]
    NoDataDir,
    #[error("待上报数据库「{}」出错：{detail}。如果问题持续，请联系技术支持并提供这个文件。", path.display())]
    Db { path: PathBuf, detail: String },
    #[error("无法准备待上报文件：{0}")]
    Write(#[from] WriteError),
    #[error("无法处理文件夹「{}」：{detail}", path.display())]
    Io { path: PathBuf, detail: String },
    #[error("没有编号为 {id} 的批次。用 sheetbridge outbox list 查看所有批次。")]
    NotFound { id: String },
    #[error("批次 {id} 现在是「{}」，这个操作只适用于「待人工处理」或「被拒绝」的批次。", state.zh())]
    WrongState { id: String, state: State },
}

impl OutboxError {
    /// The message in English.
    pub fn english(&self) -> String {
        match self {
            OutboxError::NoDataDir => {
                "no data folder found; set SHEETBRIDGE_DATA_DIR to a writable folder".into()
            }
            OutboxError::Db { path, detail } => {
                format!("outbox database {}: {detail}", path.display())
            }
            OutboxError::Write(e) => format!("cannot write the batch file: {}", e.english()),
            OutboxError::Io { path, detail } => format!("{}: {detail}", path.display()),
            OutboxError::NotFound { id } => format!("no batch {id}; see `sheetbridge outbox list`"),
            OutboxError::WrongState { id, state } => format!(
                "batch {id} is {}; only waiting or rejected batches can be retried or forgotten",
                state.as_str()
            ),
        }
    }
}

/// What queueing one batch of rows gave.
#[derive(Debug, Clone, PartialEq)]
pub enum Queued {
    /// A new batch.
    New { id: String, rows: usize },
    /// The same rows were queued before: refused, the earlier batch is in this state.
    Already { id: String, state: State },
}

impl Queued {
    pub fn id(&self) -> &str {
        match self {
            Queued::New { id, .. } | Queued::Already { id, .. } => id,
        }
    }
}

/// What opening the outbox tidied up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Batches found `sending` and queued again (their target allows a resend).
    pub requeued: usize,
    /// Batches found `sending` and set `waiting` (a resend could duplicate rows).
    pub to_waiting: usize,
    /// Batch files without a batch (a crash between writing the file and recording it).
    pub orphans_deleted: usize,
    /// Files of confirmed batches older than the retention period.
    pub old_files_deleted: usize,
}

/// The outbox database and its batch files.
pub struct Outbox {
    conn: Connection,
    db_path: PathBuf,
    files: PathBuf,
}

/// Files of confirmed batches are kept this many days by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 7;

/// Days to keep the files of confirmed batches: `SHEETBRIDGE_KEEP_DAYS`, or 7.
pub fn retention_days_from_env() -> u32 {
    std::env::var("SHEETBRIDGE_KEEP_DAYS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_RETENTION_DAYS)
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// SHA-256 of `"<id type>|<id number>"`, hex: what the ledger stores instead of the ID.
pub fn id_hash(id_key: &str) -> String {
    hex(&Sha256::digest(id_key.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stable id of a batch: SHA-256 of the target name and the rows' output values, hex, the
/// first 16 characters. The same rows for the same target always give the same id.
pub fn batch_id(target_name: &str, batch: &Batch, rows: &[usize]) -> String {
    let nfields = batch.checker.profile.fields.len();
    let mut h = Sha256::new();
    h.update(target_name.as_bytes());
    for &i in rows {
        h.update([0x1e]);
        for f in 0..nfields {
            h.update(batch.output_value(i, f).as_bytes());
            h.update([0x1f]);
        }
    }
    let mut id = hex(&h.finalize());
    id.truncate(16);
    id
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS batches (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    rows INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued','sending','confirmed','rejected','waiting')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL,
    confirmed_at INTEGER,
    accepted INTEGER,
    resend_safe INTEGER NOT NULL,
    retry_from INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS batch_rows (
    batch_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    id_hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_rows_batch ON batch_rows(batch_id);
CREATE TABLE IF NOT EXISTS ledger (
    barcode TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    PRIMARY KEY (barcode, id_hash)
);
";

const COLUMNS: &str = "id, target, rows, state, attempts, last_error, created, next_attempt_at, \
                       idempotency_key, confirmed_at, accepted, resend_safe, retry_from";

fn record(r: &rusqlite::Row<'_>) -> rusqlite::Result<BatchRecord> {
    let state: String = r.get(3)?;
    Ok(BatchRecord {
        id: r.get(0)?,
        target: r.get(1)?,
        rows: r.get::<_, i64>(2)? as usize,
        state: State::parse(&state),
        attempts: r.get::<_, i64>(4)? as u32,
        last_error: r.get(5)?,
        created: r.get(6)?,
        next_attempt_at: r.get(7)?,
        idempotency_key: r.get(8)?,
        confirmed_at: r.get(9)?,
        accepted: r.get::<_, Option<i64>>(10)?.map(|a| a as u64),
        resend_safe: r.get::<_, i64>(11)? != 0,
        retry_from: r.get(12)?,
    })
}

impl Outbox {
    /// Opens (creating if needed) the outbox in the data folder.
    pub fn open_default() -> Result<(Outbox, Recovery), OutboxError> {
        let dir = crate::paths::data_dir().ok_or(OutboxError::NoDataDir)?;
        Outbox::open(&dir, retention_days_from_env())
    }

    /// The database path in the default data folder, if it exists (for the ledger check).
    pub fn existing_db() -> Option<PathBuf> {
        let path = crate::paths::data_dir()?.join("outbox.sqlite");
        path.is_file().then_some(path)
    }

    /// Opens the outbox in `dir`: batches left `sending` by a crash are queued again (or set
    /// `waiting` when a resend could duplicate rows), orphan files are deleted, and files of
    /// batches confirmed more than `retention_days` ago are deleted.
    pub fn open(dir: &Path, retention_days: u32) -> Result<(Outbox, Recovery), OutboxError> {
        let files = dir.join("outbox");
        std::fs::create_dir_all(&files).map_err(|e| OutboxError::Io {
            path: files.clone(),
            detail: crate::read::io_message(&e),
        })?;
        let db_path = dir.join("outbox.sqlite");
        let conn = Connection::open(&db_path).map_err(|e| OutboxError::Db {
            path: db_path.clone(),
            detail: e.to_string(),
        })?;
        let mut outbox = Outbox {
            conn,
            db_path,
            files,
        };
        outbox.setup()?;
        let recovery = outbox.recover(retention_days)?;
        Ok((outbox, recovery))
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |e| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        }
    }

    fn setup(&mut self) -> Result<(), OutboxError> {
        let db = |e: rusqlite::Error| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        };
        self.conn
            .busy_timeout(Duration::from_secs(10))
            .map_err(db)?;
        // WAL with full syncs: a committed state change survives a crash or a power cut.
        self.conn
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        self.conn.execute_batch(SCHEMA).map_err(db)?;
        Ok(())
    }

    fn recover(&mut self, retention_days: u32) -> Result<Recovery, OutboxError> {
        let mut rec = Recovery::default();
        let tx = self.conn.transaction().map_err(|e| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        })?;
        let db = |e: rusqlite::Error| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        };
        rec.requeued = tx
            .execute(
                "UPDATE batches SET state = 'queued', next_attempt_at = ?1,
                 last_error = '程序在发送时中断，将用同一幂等键重新发送'
                 WHERE state = 'sending' AND resend_safe = 1",
                params![now_ms()],
            )
            .map_err(db)?;
        rec.to_waiting = tx
            .execute(
                "UPDATE batches SET state = 'waiting',
                 last_error = '程序在发送时中断，不知道省平台是否已收到；请在省平台上核对后选择重发或放弃'
                 WHERE state = 'sending' AND resend_safe = 0",
                [],
            )
            .map_err(db)?;
        tx.commit().map_err(db)?;

        let known: HashSet<String> = {
            let mut st = self.conn.prepare("SELECT id FROM batches").map_err(db)?;
            st.query_map([], |r| r.get::<_, String>(0))
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        let io = |path: &Path, e: std::io::Error| OutboxError::Io {
            path: path.to_owned(),
            detail: crate::read::io_message(&e),
        };
        let entries = std::fs::read_dir(&self.files).map_err(|e| io(&self.files, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // A temporary file of write_atomically left by a crash, or a file never recorded.
            let orphan = match name.strip_suffix(".xlsx") {
                Some(stem) => !known.contains(stem),
                None => name.starts_with(".sheetbridge-") && name.ends_with(".part"),
            };
            if orphan {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                rec.orphans_deleted += 1;
            }
        }

        let cutoff = now_ms() - i64::from(retention_days) * 86_400_000;
        let old: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT id FROM batches WHERE state = 'confirmed' AND confirmed_at < ?1")
                .map_err(db)?;
            st.query_map(params![cutoff], |r| r.get::<_, String>(0))
                .map_err(db)?
                .collect::<Result<_, _>>()
                .map_err(db)?
        };
        for id in old {
            let path = self.file_path(&id);
            if path.exists() {
                std::fs::remove_file(&path).map_err(|e| io(&path, e))?;
                rec.old_files_deleted += 1;
            }
        }
        Ok(rec)
    }

    /// The file of a batch.
    pub fn file_path(&self, id: &str) -> PathBuf {
        self.files.join(format!("{id}.xlsx"))
    }

    /// Queues the chosen rows of `batch` for `target`, split into batches of at most
    /// `max_rows_per_file`. Each batch file is written whole before the batch is recorded.
    /// Rows queued before (same target name, same values) are refused: see [`Queued::Already`].
    pub fn queue(
        &mut self,
        target: &Target,
        batch: &Batch,
        rows: &[usize],
    ) -> Result<Vec<Queued>, OutboxError> {
        let roles = &batch.checker.profile.roles;
        let mut out = Vec::new();
        for chunk in rows.chunks(target.max_rows_per_file.max(1)) {
            let id = batch_id(&target.name, batch, chunk);
            if let Some(existing) = self.get(&id)? {
                out.push(Queued::Already {
                    id,
                    state: existing.state,
                });
                continue;
            }
            let path = self.file_path(&id);
            crate::write::write_rows(batch, chunk, &path)?;
            let now = now_ms();
            let db = self.db();
            let result = (|| -> rusqlite::Result<()> {
                let tx = self.conn.unchecked_transaction()?;
                tx.execute(
                    &format!(
                        "INSERT INTO batches ({COLUMNS}) VALUES
                         (?1, ?2, ?3, 'queued', 0, NULL, ?4, ?4, ?1, NULL, NULL, ?5, ?4)"
                    ),
                    params![
                        id,
                        target.reference,
                        chunk.len() as i64,
                        now,
                        target.resend_is_safe() as i64
                    ],
                )?;
                {
                    let mut st = tx.prepare(
                        "INSERT INTO batch_rows (batch_id, barcode, id_hash) VALUES (?1, ?2, ?3)",
                    )?;
                    for &i in chunk {
                        let barcode = roles.barcode.map_or("", |b| batch.output_value(i, b));
                        st.execute(params![id, barcode, id_hash(&batch.person_id(i))])?;
                    }
                }
                tx.commit()
            })();
            if let Err(e) = result {
                // Not recorded: the file would be an orphan; remove it now rather than at the
                // next open.
                let _ = std::fs::remove_file(&path);
                return Err(db(e));
            }
            out.push(Queued::New {
                id,
                rows: chunk.len(),
            });
        }
        Ok(out)
    }

    /// One batch.
    pub fn get(&self, id: &str) -> Result<Option<BatchRecord>, OutboxError> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM batches WHERE id = ?1"),
                params![id],
                record,
            )
            .optional()
            .map_err(self.db())
    }

    /// Every batch, oldest first.
    pub fn list(&self) -> Result<Vec<BatchRecord>, OutboxError> {
        self.select("1 = 1", params![])
    }

    /// Queued batches due at `now` (unix ms), oldest first.
    pub fn due(&self, now: i64) -> Result<Vec<BatchRecord>, OutboxError> {
        self.select("state = 'queued' AND next_attempt_at <= ?1", params![now])
    }

    /// All queued batches, due or not.
    pub fn queued(&self) -> Result<Vec<BatchRecord>, OutboxError> {
        self.select("state = 'queued'", params![])
    }

    fn select(
        &self,
        filter: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<BatchRecord>, OutboxError> {
        let db = self.db();
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM batches WHERE {filter} ORDER BY created, id"
            ))
            .map_err(&db)?;
        st.query_map(args, record)
            .map_err(&db)?
            .collect::<Result<_, _>>()
            .map_err(&db)
    }

    /// Takes a queued batch for sending (`queued` -> `sending`, one more attempt). `false` when
    /// it is no longer queued (another program took it, or a person decided).
    pub fn claim(&mut self, id: &str) -> Result<bool, OutboxError> {
        let n = self
            .conn
            .execute(
                "UPDATE batches SET state = 'sending', attempts = attempts + 1
                 WHERE id = ?1 AND state = 'queued'",
                params![id],
            )
            .map_err(self.db())?;
        Ok(n == 1)
    }

    /// The platform confirmed the batch: marks it confirmed and records its rows in the ledger,
    /// in one transaction.
    pub fn confirm(&mut self, id: &str, accepted: Option<u64>) -> Result<(), OutboxError> {
        let db = self.db();
        let run = || -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute(
                "UPDATE batches SET state = 'confirmed', confirmed_at = ?2, accepted = ?3,
                 last_error = NULL WHERE id = ?1",
                params![id, now_ms(), accepted.map(|a| a as i64)],
            )?;
            tx.execute(
                "INSERT OR IGNORE INTO ledger (barcode, id_hash, batch_id)
                 SELECT barcode, id_hash, batch_id FROM batch_rows WHERE batch_id = ?1",
                params![id],
            )?;
            tx.commit()
        };
        run().map_err(db)
    }

    /// Back to `queued`, due at `next_attempt_at`, remembering why.
    pub fn requeue(
        &mut self,
        id: &str,
        error: &str,
        next_attempt_at: i64,
    ) -> Result<(), OutboxError> {
        self.set(
            id,
            "state = 'queued', last_error = ?2, next_attempt_at = ?3",
            params![id, error, next_attempt_at],
        )
    }

    /// The platform said no.
    pub fn reject(&mut self, id: &str, error: &str) -> Result<(), OutboxError> {
        self.set(
            id,
            "state = 'rejected', last_error = ?2",
            params![id, error],
        )
    }

    /// A person has to decide.
    pub fn wait(&mut self, id: &str, error: &str) -> Result<(), OutboxError> {
        self.set(id, "state = 'waiting', last_error = ?2", params![id, error])
    }

    /// Updates batch `id` (which `args` binds as `?1`).
    fn set(
        &mut self,
        id: &str,
        assignments: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<(), OutboxError> {
        let n = self
            .conn
            .execute(
                &format!("UPDATE batches SET {assignments} WHERE id = ?1"),
                args,
            )
            .map_err(self.db())?;
        if n == 1 {
            Ok(())
        } else {
            Err(OutboxError::NotFound { id: id.into() })
        }
    }

    /// "现在重试": every queued batch is due now (the network is back; no need to wait out the
    /// backoff). Returns how many.
    pub fn all_due_now(&mut self) -> Result<usize, OutboxError> {
        let db = self.db();
        self.conn
            .execute(
                "UPDATE batches SET next_attempt_at = ?1 WHERE state = 'queued'",
                params![now_ms()],
            )
            .map_err(db)
    }

    /// A person's decision: send a `waiting` or `rejected` batch again, now, with a fresh retry
    /// period.
    pub fn retry(&mut self, id: &str) -> Result<(), OutboxError> {
        self.decided(id)?;
        let now = now_ms();
        self.set(
            id,
            "state = 'queued', next_attempt_at = ?2, retry_from = ?2, last_error = NULL",
            params![id, now],
        )
    }

    /// A person's decision: drop a `waiting` or `rejected` batch and its file. Its rows are not
    /// added to the ledger.
    pub fn forget(&mut self, id: &str) -> Result<(), OutboxError> {
        self.decided(id)?;
        let db = self.db();
        let run = || -> rusqlite::Result<()> {
            let tx = self.conn.unchecked_transaction()?;
            tx.execute("DELETE FROM batch_rows WHERE batch_id = ?1", params![id])?;
            tx.execute("DELETE FROM batches WHERE id = ?1", params![id])?;
            tx.commit()
        };
        run().map_err(db)?;
        let path = self.file_path(id);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(OutboxError::Io {
                path,
                detail: crate::read::io_message(&e),
            }),
        }
    }

    fn decided(&self, id: &str) -> Result<(), OutboxError> {
        let b = self
            .get(id)?
            .ok_or_else(|| OutboxError::NotFound { id: id.into() })?;
        match b.state {
            State::Waiting | State::Rejected => Ok(()),
            state => Err(OutboxError::WrongState {
                id: id.into(),
                state,
            }),
        }
    }

    /// The ledger, loaded into memory for the `already_uploaded` check of a load.
    pub fn ledger(&self) -> Result<LedgerSnapshot, OutboxError> {
        load_ledger(&self.conn).map_err(self.db())
    }
}

/// Reads the ledger of an existing outbox database without changing anything (convert and
/// check use it while the window may be sending).
pub fn read_ledger(db_path: &Path) -> Result<LedgerSnapshot, OutboxError> {
    let db = |e: rusqlite::Error| OutboxError::Db {
        path: db_path.to_owned(),
        detail: e.to_string(),
    };
    let conn = Connection::open_with_flags(db_path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(db)?;
    conn.busy_timeout(Duration::from_secs(10)).map_err(db)?;
    load_ledger(&conn).map_err(db)
}

fn load_ledger(conn: &Connection) -> rusqlite::Result<LedgerSnapshot> {
    let mut st = conn.prepare("SELECT barcode, id_hash FROM ledger")?;
    let seen = st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(LedgerSnapshot { seen })
}

/// The confirmed rows (barcode, hash of the person's ID) at one moment.
#[derive(Debug, Clone, Default)]
pub struct LedgerSnapshot {
    seen: HashSet<(String, String)>,
}

impl LedgerSnapshot {
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

impl crate::batch::Ledger for LedgerSnapshot {
    fn contains(&self, barcode: &str, id_key: &str) -> bool {
        !self.seen.is_empty() && self.seen.contains(&(barcode.to_owned(), id_hash(id_key)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Ledger;

    pub(crate) fn target(max_rows: usize, safe: bool) -> Target {
        let idem = if safe {
            "idempotency_header = \"Idempotency-Key\"\n"
        } else {
            ""
        };
        let text = format!(
            "name = \"测试\"\nbase_url = \"https://127.0.0.1:1\"\nmax_rows_per_file = {max_rows}\n{idem}[upload]\npath = \"/u\"\n"
        );
        Target::parse("t", "t.toml", &text, None).unwrap()
    }

    /// A checked batch of `n` valid rows, through the real pipeline.
    pub(crate) fn batch(n: usize) -> Batch {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("in.csv");
        let mut text = String::from(
            "姓名,证件类型,身份证号,性别,年龄,手机号,采样时间,检测时间,检测结果,条码号,采样点,检测机构,人群分类,现住址\n",
        );
        for i in 0..n {
            let first17 = format!("110101199406{:02}{:03}", i % 28 + 1, (i * 2 + 1) % 1000);
            let check = crate::rules::idcard::check_char(&first17).unwrap();
            text.push_str(&format!(
                "张{i},居民身份证,{first17}{check},男,29,13800138000,2024-01-02 08:00:00,2024-01-02 12:00:00,阴性,B{i:06},一号点,本院,社区居民,天河路1号\n"
            ));
        }
        std::fs::write(&path, text).unwrap();
        let profiles = crate::profile::Profiles::load(None);
        crate::pipeline::load(&path, &profiles, &Default::default(), &()).unwrap()
    }

    fn ready(b: &Batch) -> Vec<usize> {
        b.rows_with(crate::batch::RowStatus::Ready).collect()
    }

    #[test]
    fn queue_splits_writes_files_and_refuses_the_same_rows() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, rec) = Outbox::open(dir.path(), 7).unwrap();
        assert_eq!(rec, Recovery::default());
        let b = batch(5);
        let rows = ready(&b);
        assert_eq!(rows.len(), 5, "{:?}", b.summary());
        let t = target(2, true);
        let q = ob.queue(&t, &b, &rows).unwrap();
        assert_eq!(q.len(), 3);
        for item in &q {
            let Queued::New { id, .. } = item else {
                panic!("{item:?}")
            };
            assert_eq!(id.len(), 16);
            assert!(ob.file_path(id).is_file());
            let rec = ob.get(id).unwrap().unwrap();
            assert_eq!(
                (rec.state, rec.idempotency_key.as_str()),
                (State::Queued, id.as_str())
            );
        }
        let again = ob.queue(&t, &b, &rows).unwrap();
        assert!(again.iter().all(|q| matches!(
            q,
            Queued::Already {
                state: State::Queued,
                ..
            }
        )));
        assert_eq!(
            again.iter().map(Queued::id).collect::<Vec<_>>(),
            q.iter().map(Queued::id).collect::<Vec<_>>()
        );
        // Another target name gives other ids.
        let mut other = t.clone();
        other.name = "另一个".into();
        let q2 = ob.queue(&other, &b, &rows[..2]).unwrap();
        assert!(matches!(q2[0], Queued::New { .. }));
        assert_ne!(q2[0].id(), q[0].id());
        assert_eq!(ob.list().unwrap().len(), 4);
    }

    #[test]
    fn confirm_fills_the_ledger_with_hashes_only() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, _) = Outbox::open(dir.path(), 7).unwrap();
        let b = batch(3);
        let rows = ready(&b);
        let q = ob.queue(&target(10, true), &b, &rows).unwrap();
        let id = q[0].id().to_owned();
        assert!(ob.ledger().unwrap().is_empty());
        assert!(ob.claim(&id).unwrap());
        assert!(!ob.claim(&id).unwrap(), "a batch is claimed once");
        ob.confirm(&id, Some(3)).unwrap();
        let rec = ob.get(&id).unwrap().unwrap();
        assert_eq!(
            (rec.state, rec.attempts, rec.accepted),
            (State::Confirmed, 1, Some(3))
        );
        let ledger = ob.ledger().unwrap();
        assert_eq!(ledger.len(), 3);
        assert_eq!(
            read_ledger(&dir.path().join("outbox.sqlite"))
                .unwrap()
                .len(),
            3
        );
        let barcode = b.output_value(rows[0], b.checker.profile.roles.barcode.unwrap());
        assert!(ledger.contains(barcode, &b.person_id(rows[0])));
        assert!(!ledger.contains(barcode, &b.person_id(rows[1])));
        // The database never holds an ID number.
        drop(ob);
        let bytes = std::fs::read(dir.path().join("outbox.sqlite")).unwrap();
        let wal = std::fs::read(dir.path().join("outbox.sqlite-wal")).unwrap_or_default();
        let idnum = b.person_id(rows[0]).split('|').nth(1).unwrap().to_owned();
        for data in [bytes, wal] {
            assert!(!String::from_utf8_lossy(&data).contains(&idnum));
        }
    }

    #[test]
    fn open_recovers_sending_batches_and_deletes_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(4);
        let rows = ready(&b);
        let (safe_id, unsafe_id) = {
            let (mut ob, _) = Outbox::open(dir.path(), 7).unwrap();
            let s = ob.queue(&target(10, true), &b, &rows[..2]).unwrap();
            let u = ob.queue(&target(10, false), &b, &rows[2..]).unwrap();
            assert!(ob.claim(s[0].id()).unwrap());
            assert!(ob.claim(u[0].id()).unwrap());
            (s[0].id().to_owned(), u[0].id().to_owned())
        };
        std::fs::write(dir.path().join("outbox/0123456789abcdef.xlsx"), b"x").unwrap();
        std::fs::write(dir.path().join("outbox/.sheetbridge-abc.part"), b"x").unwrap();
        let (ob, rec) = Outbox::open(dir.path(), 7).unwrap();
        assert_eq!(
            rec,
            Recovery {
                requeued: 1,
                to_waiting: 1,
                orphans_deleted: 2,
                old_files_deleted: 0
            }
        );
        assert_eq!(ob.get(&safe_id).unwrap().unwrap().state, State::Queued);
        assert_eq!(ob.get(&unsafe_id).unwrap().unwrap().state, State::Waiting);
        assert!(ob.file_path(&safe_id).is_file());
        assert_eq!(
            std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .count(),
            2
        );
    }

    #[test]
    fn retention_deletes_old_confirmed_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(2);
        let rows = ready(&b);
        let (mut ob, _) = Outbox::open(dir.path(), 7).unwrap();
        let q = ob.queue(&target(1, true), &b, &rows).unwrap();
        let (old, queued) = (q[0].id().to_owned(), q[1].id().to_owned());
        ob.claim(&old).unwrap();
        ob.confirm(&old, None).unwrap();
        ob.conn
            .execute(
                "UPDATE batches SET confirmed_at = ?2 WHERE id = ?1",
                params![old, now_ms() - 8 * 86_400_000],
            )
            .unwrap();
        drop(ob);
        let (ob, rec) = Outbox::open(dir.path(), 7).unwrap();
        assert_eq!(rec.old_files_deleted, 1);
        assert!(!ob.file_path(&old).exists());
        assert!(ob.file_path(&queued).exists());
        assert_eq!(ob.get(&old).unwrap().unwrap().state, State::Confirmed);
    }

    #[test]
    fn retry_and_forget_only_for_a_persons_decision() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(2);
        let rows = ready(&b);
        let (mut ob, _) = Outbox::open(dir.path(), 7).unwrap();
        let q = ob.queue(&target(1, false), &b, &rows).unwrap();
        let (a, c) = (q[0].id().to_owned(), q[1].id().to_owned());
        assert!(matches!(ob.retry(&a), Err(OutboxError::WrongState { .. })));
        assert!(matches!(
            ob.forget("nope"),
            Err(OutboxError::NotFound { .. })
        ));
        ob.claim(&a).unwrap();
        ob.wait(&a, "lost").unwrap();
        ob.retry(&a).unwrap();
        assert_eq!(ob.get(&a).unwrap().unwrap().state, State::Queued);
        ob.claim(&c).unwrap();
        ob.reject(&c, "no").unwrap();
        ob.forget(&c).unwrap();
        assert!(ob.get(&c).unwrap().is_none());
        assert!(!ob.file_path(&c).exists());
        // Forgotten rows can be queued again.
        let again = ob.queue(&target(1, false), &b, &rows).unwrap();
        assert!(matches!(again[1], Queued::New { .. }));
    }
}
