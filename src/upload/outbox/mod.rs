//! The outbox: batches waiting to be sent, their states, and the ledger of confirmed rows.
//!
//! Kept in the data folder as `outbox.sqlite` plus one `outbox/<batch id>.xlsx` per batch,
//! readable by the user alone. A batch's file is written whole before its row is inserted, and
//! every state change is one SQLite transaction, so a crash at any moment leaves either no
//! batch (a file no batch describes, left alone and overwritten if the rows are queued again)
//! or a batch whose file is complete. Several programs may use one outbox at once: a batch is
//! claimed (owner pid and start time) before it is sent, and only claims of processes that
//! have gone are recovered. The ledger holds, per target and confirmed row, the barcode, a
//! SHA-256 of `"<id type>|<id number>"` and one of the number alone, the batch, the source
//! file's name and the time: never the ID itself. The schema is versioned (`user_version`)
//! and migrated in place.
//!
//! Split by concern: [`migrate`] the schema, [`recover`] opening and tidying, [`ledger`] the
//! confirmed rows, [`ids`] ids and hashes; this file the batches and their states.

mod ids;
mod ledger;
mod migrate;
mod recover;
#[cfg(test)]
mod tests;

pub use ids::batch_id;
use ids::legacy_batch_id;
pub use ledger::{
    KnownRows, LedgerEntry, LedgerSnapshot, Lookup, ledger_targets, read_ledger, read_lookup,
};
pub use migrate::SCHEMA_VERSION;

use crate::batch::Batch;
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::upload::keyed::Key;
use crate::upload::target::Target;
use crate::write::WriteError;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

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
    /// The name of the file its rows came from, when known.
    pub source: Option<String>,
}

/// Why the outbox could not do something.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum OutboxError {
    NoDataDir,
    Db { path: PathBuf, detail: String },
    Write(#[from] WriteError),
    Io { path: PathBuf, detail: String },
    Newer { path: PathBuf, version: u32 },
    NotFound { id: String },
    WrongState { id: String, state: State },
}

impl Localized for OutboxError {
    fn message(&self) -> Text {
        match self {
            OutboxError::NoDataDir => Text::new(
                "没有找到存放待上报数据的文件夹；请设置环境变量 SHEETBRIDGE_DATA_DIR 指向一个可写的文件夹。",
                "no data folder found; set SHEETBRIDGE_DATA_DIR to a writable folder",
            ),
            OutboxError::Db { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "待上报数据库「{path}」出错：{detail}。如果问题持续，请联系技术支持并提供这个文件。"
                    ),
                    format!("outbox database {path}: {detail}"),
                )
            }
            OutboxError::Write(e) => {
                let e = e.message();
                Text::new(
                    format!("无法准备待上报文件：{}", e.zh),
                    format!("cannot write the batch file: {}", e.en),
                )
            }
            OutboxError::Io { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法处理文件夹「{path}」：{detail}"),
                    format!("{path}: {detail}"),
                )
            }
            OutboxError::Newer { path, version } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!(
                        "待上报数据库「{path}」是更新版本的本程序写的（版本 {version}），这个版本读不了。请安装最新版本后再打开。"
                    ),
                    format!(
                        "outbox database {path} was written by a newer version (schema {version}); install the latest version"
                    ),
                )
            }
            OutboxError::NotFound { id } => {
                // An id as typed: one line.
                let id = crate::paths::for_line(id);
                Text::new(
                    format!("没有编号为 {id} 的批次。用 sheetbridge outbox list 查看所有批次。"),
                    format!("no batch {id}; see `sheetbridge outbox list`"),
                )
            }
            OutboxError::WrongState { id, state } => Text::new(
                format!(
                    "批次 {id} 现在是「{}」，这个操作只适用于「待人工处理」或「被拒绝」的批次。",
                    state.zh()
                ),
                format!(
                    "batch {id} is {}; only waiting or rejected batches can be retried or forgotten",
                    state.as_str()
                ),
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

/// What opening the outbox found and tidied up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Batches found `sending` by a process that has gone, queued again (their target allows
    /// a resend).
    pub requeued: usize,
    /// Batches found `sending` by a process that has gone, set `waiting` (a resend could
    /// duplicate rows).
    pub to_waiting: usize,
    /// Files in `outbox/` the database does not describe (a crash between writing a batch file
    /// and recording it, or another program's file being written): left alone.
    pub unknown_files: usize,
    /// Files of confirmed batches older than the retention period, deleted.
    pub old_files_deleted: usize,
    /// The database was missing, empty or unreadable while batch files were there: they were
    /// moved to this folder (and an unreadable database with them), with how many files.
    pub quarantined: Option<(PathBuf, usize)>,
    /// The database was written by an older version and migrated: from this schema version.
    pub migrated_from: Option<u32>,
}

/// The outbox database and its batch files.
pub struct Outbox {
    /// The data folder's key for the hashes of IDs (the ledger, the batches' rows).
    key: Key,
    conn: Connection,
    db_path: PathBuf,
    files: PathBuf,
    /// This process, as it claims batches: (pid, start time).
    me: (u32, i64),
}

/// What [`Outbox::claim`] found.
enum Claim {
    Taken,
    /// No longer queued.
    Lost,
    /// Every row is in the ledger: the batch was removed.
    AllUploaded(i64),
    /// This many of so many rows are in the ledger: the batch waits for a person.
    PartlyUploaded(i64, i64),
}

/// Why a batch with rows already uploaded was not sent (its `last_error`, shown to the clerk).
fn partly_uploaded(known: i64, rows: i64) -> String {
    format!(
        "这一批的 {rows} 行里有 {known} 行已经上报过（例如已在省平台网站手工上报），为免重复没有发送：请在「上传队列」里放弃这一批，再重新上报这个文件，已上报的行会自动跳过。"
    )
}

/// Files of confirmed batches are kept this many days by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 7;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

const COLUMNS: &str = "id, target, rows, state, attempts, last_error, created, next_attempt_at, \
                       idempotency_key, confirmed_at, accepted, resend_safe, retry_from, source";

/// Every batch of an existing outbox database, oldest first, read without changing anything
/// (the diagnostic bundle: another program may be sending). A database of an older version is
/// read as it is (a batch then has no source). `None` when there is no database.
pub fn read_batches(data_dir: &Path) -> Result<Option<Vec<BatchRecord>>, OutboxError> {
    let Some((conn, version)) = open_read_only(data_dir)? else {
        return Ok(None);
    };
    let db = db_error(data_dir);
    let columns = if version < 2 {
        COLUMNS.replace(", source", ", NULL")
    } else {
        COLUMNS.to_owned()
    };
    let mut st = conn
        .prepare(&format!(
            "SELECT {columns} FROM batches ORDER BY created, id"
        ))
        .map_err(&db)?;
    let all = st
        .query_map([], record)
        .map_err(&db)?
        .collect::<Result<_, _>>()
        .map_err(&db)?;
    Ok(Some(all))
}

/// An existing outbox database opened read-only (another program may be writing it), with its
/// schema version; `None` when there is none. For the readers that change nothing: the bundle's
/// batches, the ledger's lookups.
fn open_read_only(data_dir: &Path) -> Result<Option<(Connection, u32)>, OutboxError> {
    let db_path = data_dir.join("outbox.sqlite");
    if !db_path.is_file() {
        return Ok(None);
    }
    let db = db_error(data_dir);
    let conn = crate::upload::db::open(&db_path, crate::upload::db::Access::Read).map_err(&db)?;
    let version: u32 =
        crate::upload::db::retry(|| conn.pragma_query_value(None, "user_version", |r| r.get(0)))
            .map_err(&db)?;
    Ok(Some((conn, version)))
}

/// A database error of the outbox in `data_dir`, as the clerk is told it.
fn db_error(data_dir: &Path) -> impl Fn(rusqlite::Error) -> OutboxError {
    let path = data_dir.join("outbox.sqlite");
    move |e| OutboxError::Db {
        path: path.clone(),
        detail: e.to_string(),
    }
}

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
        source: r.get(13)?,
    })
}
impl Outbox {
    fn db(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |e| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        }
    }

    /// The database, for the day's record (`upload::daily`) in the same file.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    /// An error of the database, naming its file.
    pub(crate) fn db_error(&self, e: rusqlite::Error) -> OutboxError {
        OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        }
    }

    /// The file of a batch.
    pub fn file_path(&self, id: &str) -> PathBuf {
        self.files.join(format!("{id}.xlsx"))
    }

    /// Queues the chosen rows of `batch` for `target`, split into batches of at most
    /// `max_rows_per_file`. Each batch file is written whole (private to the user) before the
    /// batch is recorded. Rows queued before for the same target (same identity, same values)
    /// are refused: see [`Queued::Already`]. `source` is the name of the file the rows came
    /// from, kept for the ledger.
    // Long: file first, then the database row, in one transaction per batch; the order is the safety rule.
    pub fn queue(
        &mut self,
        target: &Target,
        batch: &Batch,
        rows: &[usize],
        source: &str,
    ) -> Result<Vec<Queued>, OutboxError> {
        let roles = &batch.profile().roles;
        let mut out = Vec::new();
        for chunk in rows.chunks(target.max_rows_per_file.max(1)) {
            let id = batch_id(target, batch, chunk);
            if let Some(existing) = self.get(&id)? {
                out.push(Queued::Already {
                    id,
                    state: existing.state,
                });
                continue;
            }
            let legacy = legacy_batch_id(target, batch, chunk);
            if let Some(existing) = self.get(&legacy)?
                && existing.target == target.reference
            {
                out.push(Queued::Already {
                    id: legacy,
                    state: existing.state,
                });
                continue;
            }
            let path = self.file_path(&id);
            // Another program queueing the same rows at this moment writes the same content
            // under the same name: whichever rename lands last, the file is whole.
            crate::write::write_rows(batch, chunk, &path)?;
            let now = now_ms();
            let db = self.db();
            let result = (|| -> rusqlite::Result<bool> {
                let tx = crate::upload::db::begin(&self.conn)?;
                let inserted = tx.execute(
                    &format!(
                        "INSERT OR IGNORE INTO batches ({COLUMNS}, target_key) VALUES
                         (?1, ?2, ?3, 'queued', 0, NULL, ?4, ?4, ?1, NULL, NULL, ?5, ?4, ?6, ?7)"
                    ),
                    params![
                        id,
                        target.reference,
                        chunk.len() as i64,
                        now,
                        target.resend_is_safe() as i64,
                        source,
                        target.identity(),
                    ],
                )?;
                if inserted == 0 {
                    return Ok(false);
                }
                {
                    let mut st = tx.prepare(
                        "INSERT INTO batch_rows (batch_id, barcode, id_hash, id_number_hash)
                         VALUES (?1, ?2, ?3, ?4)",
                    )?;
                    for &i in chunk {
                        let barcode = roles.barcode.map_or("", |b| batch.output_value(i, b));
                        let number = roles.id_number.map_or("", |n| batch.output_value(i, n));
                        st.execute(params![
                            id,
                            barcode,
                            self.key.id_hash(&batch.person_id(i)),
                            self.key.id_number_hash(number)
                        ])?;
                    }
                }
                tx.commit()?;
                Ok(true)
            })();
            match result {
                Ok(true) => out.push(Queued::New {
                    id,
                    rows: chunk.len(),
                }),
                Ok(false) => {
                    // Another program recorded the same batch in the meantime: its file is
                    // ours too (same content), so it stays.
                    let state = self.get(&id)?.map_or(State::Queued, |b| b.state);
                    out.push(Queued::Already { id, state });
                }
                Err(e) => {
                    // Not recorded: the file is removed unless a batch of that id exists.
                    if self.get(&id).ok().flatten().is_none() {
                        let _ = std::fs::remove_file(&path);
                    }
                    return Err(db(e));
                }
            }
        }
        Ok(out)
    }

    /// Makes these queued batches due now (a clerk ran `upload` on their file again).
    pub fn due_now(&mut self, ids: &[String]) -> Result<(), OutboxError> {
        let now = now_ms();
        for id in ids {
            self.conn
                .execute(
                    "UPDATE batches SET next_attempt_at = ?2 WHERE id = ?1 AND state = 'queued'",
                    params![id, now],
                )
                .map_err(self.db())?;
        }
        Ok(())
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

    /// Takes a queued batch for sending (`queued` -> `sending`, one more attempt), recording
    /// this process and its start time as the claim's owner. `false` when it is no longer
    /// queued (another program took it, or a person decided). SQLite serialises the update, so
    /// one program at most wins.
    ///
    /// Every send claims first, so this is where no row already in the target's ledger is
    /// ever sent again, whoever put it there (a confirmed batch, or the clerk's
    /// `mark-uploaded` after the batch was queued): a batch whose rows are all in the ledger is
    /// not sent but removed with its file; one with some rows there is not sent but left to a
    /// person (`waiting`, saying why), since its file cannot be sent without them.
    pub fn claim(&mut self, id: &str) -> Result<bool, OutboxError> {
        let (pid, started) = self.me;
        let db = self.db();
        let run = || -> rusqlite::Result<Claim> {
            let tx = crate::upload::db::begin(&self.conn)?;
            let (rows, known): (i64, i64) = tx.query_row(
                "SELECT count(*), COALESCE(sum(EXISTS (SELECT 1 FROM ledger l
                     WHERE l.target IN (b.target_key, 'ref:' || b.target)
                       AND l.barcode = r.barcode AND l.id_hash = r.id_hash)), 0)
                 FROM batch_rows r JOIN batches b ON b.id = r.batch_id
                 WHERE r.batch_id = ?1 AND b.state = 'queued'",
                params![id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let claim = if rows > 0 && known == rows {
                tx.execute("DELETE FROM batch_rows WHERE batch_id = ?1", params![id])?;
                tx.execute(
                    "DELETE FROM batches WHERE id = ?1 AND state = 'queued'",
                    params![id],
                )?;
                Claim::AllUploaded(rows)
            } else if known > 0 {
                let n = tx.execute(
                    "UPDATE batches SET state = 'waiting', last_error = ?2
                     WHERE id = ?1 AND state = 'queued'",
                    params![id, partly_uploaded(known, rows)],
                )?;
                if n == 1 {
                    Claim::PartlyUploaded(known, rows)
                } else {
                    Claim::Lost
                }
            } else {
                let n = tx.execute(
                    "UPDATE batches SET state = 'sending', attempts = attempts + 1,
                     claim_pid = ?2, claim_started = ?3
                     WHERE id = ?1 AND state = 'queued'",
                    params![id, i64::from(pid), started],
                )?;
                if n == 1 { Claim::Taken } else { Claim::Lost }
            };
            tx.commit()?;
            Ok(claim)
        };
        match run().map_err(db)? {
            Claim::Taken => Ok(true),
            Claim::Lost => Ok(false),
            Claim::AllUploaded(rows) => {
                ::log::info!(
                    target: "sheetbridge",
                    "batch {id} not sent: its {rows} rows are all uploaded already (ledger); removed"
                );
                let path = self.file_path(id);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(OutboxError::Io {
                        path,
                        detail: io_message(&e),
                    }),
                    _ => Ok(false),
                }
            }
            Claim::PartlyUploaded(known, rows) => {
                ::log::info!(
                    target: "sheetbridge",
                    "batch {id} not sent: {known} of its {rows} rows are uploaded already (ledger); waiting for a person"
                );
                Ok(false)
            }
        }
    }

    /// The platform confirmed the batch: marks it confirmed and records its rows in the ledger,
    /// in one transaction.
    pub fn confirm(&mut self, id: &str, accepted: Option<u64>) -> Result<(), OutboxError> {
        let db = self.db();
        let run = || -> rusqlite::Result<()> {
            let tx = crate::upload::db::begin(&self.conn)?;
            let now = now_ms();
            tx.execute(
                "UPDATE batches SET state = 'confirmed', confirmed_at = ?2, accepted = ?3,
                 last_error = NULL, claim_pid = NULL, claim_started = NULL WHERE id = ?1",
                params![id, now, accepted.map(|a| a as i64)],
            )?;
            // The ledger entry names the target by identity (batches from before identities
            // were recorded: by reference).
            tx.execute(
                "INSERT OR IGNORE INTO ledger
                   (target, barcode, id_hash, id_number_hash, batch_id, source, confirmed_at)
                 SELECT COALESCE(b.target_key, 'ref:' || b.target), r.barcode, r.id_hash,
                        r.id_number_hash, r.batch_id, b.source, ?2
                 FROM batch_rows r JOIN batches b ON b.id = r.batch_id
                 WHERE r.batch_id = ?1",
                params![id, now],
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
            "state = 'queued', last_error = ?2, next_attempt_at = ?3, claim_pid = NULL,
             claim_started = NULL",
            params![id, error, next_attempt_at],
        )
    }

    /// The platform said no.
    pub fn reject(&mut self, id: &str, error: &str) -> Result<(), OutboxError> {
        self.set(
            id,
            "state = 'rejected', last_error = ?2, claim_pid = NULL, claim_started = NULL",
            params![id, error],
        )
    }

    /// A person has to decide.
    pub fn wait(&mut self, id: &str, error: &str) -> Result<(), OutboxError> {
        self.set(
            id,
            "state = 'waiting', last_error = ?2, claim_pid = NULL, claim_started = NULL",
            params![id, error],
        )
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
            let tx = crate::upload::db::begin(&self.conn)?;
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
                detail: io_message(&e),
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
}
