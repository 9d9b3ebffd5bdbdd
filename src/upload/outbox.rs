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
// Over 600 lines: batches, claims, recovery, migration and the ledger share one SQLite database
// and its transactions; a fifth of the file is tests.

use crate::batch::Batch;
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::upload::keyed::{self, Key};
use crate::upload::target::Target;
use crate::write::WriteError;
use rusqlite::{Connection, OptionalExtension, params};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
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

/// Files of confirmed batches are kept this many days by default.
pub const DEFAULT_RETENTION_DAYS: u32 = 7;

/// The schema version this program writes (`PRAGMA user_version`). 0 with tables: the first
/// outbox, which carried no version (treated as version 1).
pub const SCHEMA_VERSION: u32 = 3;

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

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The stable id of a batch: SHA-256 of the target's identity (name and base_url) and the
/// rows' output values, hex, the first 16 characters. The same rows for the same target always
/// give the same id.
pub fn batch_id(target: &Target, batch: &Batch, rows: &[usize]) -> String {
    rows_id(&target.identity(), batch, rows)
}

/// The id version 1 gave the same batch (from the target's name alone): a batch queued by it
/// and not yet sent is found under this id.
fn legacy_batch_id(target: &Target, batch: &Batch, rows: &[usize]) -> String {
    rows_id(&target.name, batch, rows)
}

fn rows_id(target: &str, batch: &Batch, rows: &[usize]) -> String {
    let nfields = batch.profile().fields.len();
    let mut h = Sha256::new();
    h.update(target.as_bytes());
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

/// The tables of version 2, made in one transaction for a new database.
const SCHEMA: &str = "
CREATE TABLE batches (
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
    retry_from INTEGER NOT NULL,
    target_key TEXT,
    source TEXT,
    claim_pid INTEGER,
    claim_started INTEGER
);
CREATE TABLE batch_rows (
    batch_id TEXT NOT NULL,
    barcode TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_number_hash TEXT
);
CREATE INDEX batch_rows_batch ON batch_rows(batch_id);
CREATE TABLE ledger (
    target TEXT NOT NULL,
    barcode TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_number_hash TEXT,
    batch_id TEXT NOT NULL,
    source TEXT,
    confirmed_at INTEGER,
    PRIMARY KEY (target, barcode, id_hash)
);
CREATE INDEX ledger_barcode ON ledger(barcode);
CREATE INDEX ledger_id_number ON ledger(id_number_hash);
";

/// From version 1 (main before versions) to 2, in the same transaction as the version bump.
/// Batches keep their target reference; the ledger's rows, which carried no target, count for
/// the target their batch was sent to (`ref:<reference>`, see [`ledger_targets`]).
const MIGRATE_1_TO_2: &str = "
ALTER TABLE batches ADD COLUMN target_key TEXT;
ALTER TABLE batches ADD COLUMN source TEXT;
ALTER TABLE batches ADD COLUMN claim_pid INTEGER;
ALTER TABLE batches ADD COLUMN claim_started INTEGER;
ALTER TABLE batch_rows ADD COLUMN id_number_hash TEXT;
CREATE TABLE ledger_v2 (
    target TEXT NOT NULL,
    barcode TEXT NOT NULL,
    id_hash TEXT NOT NULL,
    id_number_hash TEXT,
    batch_id TEXT NOT NULL,
    source TEXT,
    confirmed_at INTEGER,
    PRIMARY KEY (target, barcode, id_hash)
);
INSERT OR IGNORE INTO ledger_v2 (target, barcode, id_hash, batch_id, confirmed_at)
    SELECT 'ref:' || COALESCE(b.target, ''), l.barcode, l.id_hash, l.batch_id, b.confirmed_at
    FROM ledger l LEFT JOIN batches b ON b.id = l.batch_id;
DROP TABLE ledger;
ALTER TABLE ledger_v2 RENAME TO ledger;
CREATE INDEX ledger_barcode ON ledger(barcode);
CREATE INDEX ledger_id_number ON ledger(id_number_hash);
";

/// The ledger keys a target's confirmed rows are stored under: its identity, and (rows from
/// before targets were recorded) `ref:` and its reference.
pub fn ledger_targets(target: &Target) -> [String; 2] {
    [target.identity(), format!("ref:{}", target.reference)]
}

const COLUMNS: &str = "id, target, rows, state, attempts, last_error, created, next_attempt_at, \
                       idempotency_key, confirmed_at, accepted, resend_safe, retry_from, source";

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

/// Why the database could not be opened as it is.
enum OpenFailure {
    /// Written by a newer version (its `user_version`).
    Newer(u32),
    /// Not a database, or not readable.
    Unreadable(String),
    /// Another program kept it busy past the wait (never taken for an unreadable file).
    Busy(String),
}

impl std::fmt::Display for OpenFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenFailure::Newer(v) => write!(f, "schema version {v}"),
            OpenFailure::Unreadable(detail) | OpenFailure::Busy(detail) => f.write_str(detail),
        }
    }
}

/// How many batch files `outbox/` holds.
fn batch_files(files: &Path) -> std::io::Result<usize> {
    Ok(std::fs::read_dir(files)?
        .flatten()
        .filter(|e| is_batch_file(&e.file_name().to_string_lossy()))
        .count())
}

/// Moves every batch file (and `db`, an unreadable database, with its journal files) to a new
/// `outbox/recovered-<timestamp>/`. Returns the folder and how many files moved.
fn quarantine(files: &Path, db: Option<&Path>) -> std::io::Result<(PathBuf, usize)> {
    let stamp = chrono::Local::now().format("%Y%m%d-%H%M%S");
    let mut folder = files.join(format!("recovered-{stamp}"));
    let mut n = 1;
    while folder.exists() {
        n += 1;
        folder = files.join(format!("recovered-{stamp}-{n}"));
    }
    crate::privacy::create_private_dir(&folder)?;
    let mut moved = 0;
    for entry in std::fs::read_dir(files)?.flatten() {
        let name = entry.file_name();
        if is_batch_file(&name.to_string_lossy()) {
            std::fs::rename(entry.path(), folder.join(&name))?;
            moved += 1;
        }
    }
    if let Some(db) = db {
        for suffix in ["", "-wal", "-shm"] {
            let mut from = db.as_os_str().to_owned();
            from.push(suffix);
            let from = PathBuf::from(from);
            if from.exists() {
                let name = from.file_name().map(|n| n.to_owned()).unwrap_or_default();
                std::fs::rename(&from, folder.join(name))?;
            }
        }
    }
    Ok((folder, moved))
}

/// Is this a batch file name (`<16 hex digits>.xlsx`)?
fn is_batch_file(name: &str) -> bool {
    name.strip_suffix(".xlsx")
        .is_some_and(|stem| stem.len() == 16 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl Outbox {
    /// Opens (creating if needed) the outbox in `dir`, once per process (the workspace does:
    /// [`crate::workspace::Workspace::open`]). In order:
    /// - when `outbox.sqlite` is missing, empty or unreadable but batch files exist, they (and
    ///   an unreadable database) are moved to `outbox/recovered-<timestamp>/` rather than a new
    ///   database started over them;
    /// - a database of an older schema is migrated in place in one transaction; a newer one is
    ///   refused;
    /// - batches left `sending` by a process that has gone are queued again, or set `waiting`
    ///   when a resend could duplicate rows; batches a live process is sending are left alone;
    /// - files of batches confirmed more than `retention_days` ago are deleted, and no other.
    ///
    /// The folder and files are created readable by the user alone. `tables`: the SQL of the
    /// tables other modules keep in this database (the day's record), made or added in place in
    /// the same schema transaction.
    pub(crate) fn open(
        dir: &Path,
        retention_days: u32,
        tables: &str,
    ) -> Result<(Outbox, Recovery), OutboxError> {
        let files = dir.join("outbox");
        let io = |path: &Path, e: std::io::Error| OutboxError::Io {
            path: path.to_owned(),
            detail: io_message(&e),
        };
        crate::privacy::create_private_dir(&files).map_err(|e| io(&files, e))?;
        let db_path = dir.join("outbox.sqlite");
        let mut rec = Recovery::default();
        let conn = match Outbox::connect(&db_path) {
            Ok((conn, true)) => conn,
            Ok((conn, false)) => {
                // A database without our tables: new, emptied, or replaced.
                if batch_files(&files).map_err(|e| io(&files, e))? > 0 {
                    drop(conn);
                    rec.quarantined = Some(quarantine(&files, None).map_err(|e| io(&files, e))?);
                    Outbox::connect(&db_path)
                        .map_err(|e| OutboxError::Db {
                            path: db_path.clone(),
                            detail: e.to_string(),
                        })?
                        .0
                } else {
                    conn
                }
            }
            Err(OpenFailure::Busy(detail)) => {
                return Err(OutboxError::Db {
                    path: db_path,
                    detail,
                });
            }
            Err(OpenFailure::Newer(version)) => {
                return Err(OutboxError::Newer {
                    path: db_path,
                    version,
                });
            }
            Err(OpenFailure::Unreadable(detail)) => {
                // Not a database we can read: keep it, with the batch files, for a person.
                let moved = quarantine(&files, Some(&db_path)).map_err(|e| io(&files, e))?;
                rec.quarantined = Some(moved);
                Outbox::connect(&db_path)
                    .map_err(|e| OutboxError::Db {
                        path: db_path.clone(),
                        detail: format!("{e}（之前：{detail}）"),
                    })?
                    .0
            }
        };
        let key = crate::upload::keyed::read_or_make(dir, &conn)
            .map_err(|e| io(&dir.join(crate::upload::keyed::KEY_FILE), e))?;
        let mut outbox = Outbox {
            key,
            conn,
            db_path,
            files,
            me: crate::upload::process::current(),
        };
        rec.migrated_from = outbox.setup(tables)?;
        let dead = outbox.recover_dead_claims()?;
        rec.requeued = dead.0;
        rec.to_waiting = dead.1;
        rec.unknown_files = outbox.unknown_files()?;
        rec.old_files_deleted = outbox.delete_expired(retention_days)?;
        Ok((outbox, rec))
    }

    /// Opens the database file (created private when missing). `Ok((conn, true))` when it holds
    /// an outbox, `Ok((conn, false))` when it holds no table at all.
    fn connect(db_path: &Path) -> Result<(Connection, bool), OpenFailure> {
        let unreadable = |e: &dyn std::fmt::Display| OpenFailure::Unreadable(e.to_string());
        // A busy file is another program at work, not a broken database: never quarantined.
        let failed = |e: rusqlite::Error| {
            if crate::db::is_busy(&e) {
                OpenFailure::Busy(e.to_string())
            } else {
                OpenFailure::Unreadable(e.to_string())
            }
        };
        crate::privacy::ensure_private_file(db_path).map_err(|e| unreadable(&e))?;
        let conn = crate::db::open(db_path, crate::db::Access::Write).map_err(failed)?;
        let version: u32 =
            crate::db::retry(|| conn.pragma_query_value(None, "user_version", |r| r.get(0)))
                .map_err(failed)?;
        if version > SCHEMA_VERSION {
            return Err(OpenFailure::Newer(version));
        }
        let tables: i64 = crate::db::retry(|| {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'batches'",
                [],
                |r| r.get(0),
            )
        })
        .map_err(failed)?;
        Ok((conn, tables > 0))
    }

    fn db(&self) -> impl Fn(rusqlite::Error) -> OutboxError + '_ {
        move |e| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        }
    }

    /// WAL with full syncs, then the schema: created, or migrated in one transaction. Returns
    /// the version migrated from, if any.
    fn setup(&mut self, tables: &str) -> Result<Option<u32>, OutboxError> {
        let db = |e: rusqlite::Error| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        };
        // WAL with full syncs: a committed state change survives a crash or a power cut.
        crate::db::retry(|| self.conn.pragma_update(None, "journal_mode", "WAL")).map_err(db)?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        // IMMEDIATE (every transaction is): two programs starting at once do not both create
        // or migrate.
        let tx = crate::db::begin(&self.conn).map_err(db)?;
        let version: u32 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(db)?;
        let has_tables: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'batches'",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        let from = match (version, has_tables > 0) {
            (v, _) if v > SCHEMA_VERSION => {
                return Err(OutboxError::Newer {
                    path: self.db_path.clone(),
                    version: v,
                });
            }
            (v, true) if v == SCHEMA_VERSION => None,
            (_, false) => {
                tx.execute_batch(SCHEMA).map_err(db)?;
                None
            }
            (v, true) => {
                // 0 with tables is the unversioned first outbox: version 1.
                let v = v.max(1);
                if v < 2 {
                    tx.execute_batch(MIGRATE_1_TO_2).map_err(db)?;
                }
                Some(v)
            }
        };
        // Version 3: the day's record (`upload::daily`'s tables, added in place).
        tx.execute_batch(tables).map_err(db)?;
        tx.pragma_update(None, "user_version", SCHEMA_VERSION)
            .map_err(db)?;
        tx.commit().map_err(db)?;
        Ok(from)
    }

    /// Batches `sending` whose claiming process has gone (or that carry no claim, from a
    /// version before claims): queued again with the same idempotency key when a resend is
    /// safe, else `waiting`. A batch a live process is sending is not touched. Returns
    /// (requeued, set waiting). Called at open and before each sending pass.
    pub fn recover_dead_claims(&mut self) -> Result<(usize, usize), OutboxError> {
        let db = self.db();
        let sending: Vec<(String, Option<i64>, Option<i64>, bool)> = {
            let mut st = self
                .conn
                .prepare(
                    "SELECT id, claim_pid, claim_started, resend_safe FROM batches
                     WHERE state = 'sending'",
                )
                .map_err(&db)?;
            st.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, i64>(3)? != 0))
            })
            .map_err(&db)?
            .collect::<Result<_, _>>()
            .map_err(&db)?
        };
        let (mut requeued, mut waiting) = (0, 0);
        for (id, pid, started, safe) in sending {
            if let Some(pid) = pid
                && crate::upload::process::alive(pid as u32, started.unwrap_or(0))
            {
                continue;
            }
            // Only if the claim is still the dead one (another program may take it over at
            // the same moment).
            let n = if safe {
                self.conn.execute(
                    "UPDATE batches SET state = 'queued', next_attempt_at = ?1, claim_pid = NULL,
                     claim_started = NULL,
                     last_error = '程序在发送时中断，将用同一幂等键重新发送'
                     WHERE id = ?2 AND state = 'sending' AND claim_pid IS ?3 AND claim_started IS ?4",
                    params![now_ms(), id, pid, started],
                )
            } else {
                self.conn.execute(
                    "UPDATE batches SET state = 'waiting', claim_pid = NULL, claim_started = NULL,
                     last_error = '程序在发送时中断，不知道省平台是否已收到；请在省平台上核对后选择重发或放弃'
                     WHERE id = ?1 AND state = 'sending' AND claim_pid IS ?2 AND claim_started IS ?3",
                    params![id, pid, started],
                )
            }
            .map_err(&db)?;
            if safe {
                requeued += n;
            } else {
                waiting += n;
            }
        }
        Ok((requeued, waiting))
    }

    /// Files in `outbox/` no batch describes: counted, never deleted (one may be a batch file
    /// another program is writing right now).
    fn unknown_files(&self) -> Result<usize, OutboxError> {
        let db = self.db();
        let known: HashSet<String> = {
            let mut st = self.conn.prepare("SELECT id FROM batches").map_err(&db)?;
            st.query_map([], |r| r.get::<_, String>(0))
                .map_err(&db)?
                .collect::<Result<_, _>>()
                .map_err(&db)?
        };
        let entries = std::fs::read_dir(&self.files).map_err(|e| OutboxError::Io {
            path: self.files.clone(),
            detail: io_message(&e),
        })?;
        Ok(entries
            .flatten()
            .filter(|e| e.path().is_file())
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".xlsx")
                    .is_none_or(|stem| !known.contains(stem))
            })
            .count())
    }

    /// Deletes the files of batches confirmed more than `retention_days` ago: the only files
    /// the outbox ever deletes on its own.
    pub fn delete_expired(&self, retention_days: u32) -> Result<usize, OutboxError> {
        let db = self.db();
        let cutoff = now_ms() - i64::from(retention_days) * 86_400_000;
        let old: Vec<String> = {
            let mut st = self
                .conn
                .prepare("SELECT id FROM batches WHERE state = 'confirmed' AND confirmed_at < ?1")
                .map_err(&db)?;
            st.query_map(params![cutoff], |r| r.get::<_, String>(0))
                .map_err(&db)?
                .collect::<Result<_, _>>()
                .map_err(&db)?
        };
        let mut deleted = 0;
        for id in old {
            let path = self.file_path(&id);
            match std::fs::remove_file(&path) {
                Ok(()) => deleted += 1,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(OutboxError::Io {
                        path,
                        detail: io_message(&e),
                    });
                }
            }
        }
        Ok(deleted)
    }

    /// The database, for the day's record (`upload::daily`) in the same file.
    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
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
                let tx = crate::db::begin(&self.conn)?;
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
            let tx = crate::db::begin(&self.conn)?;
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
            let tx = crate::db::begin(&self.conn)?;
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
            let tx = crate::db::begin(&self.conn)?;
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

    /// The ledger of `target` (every target's when `None`), loaded into memory for the
    /// `already_uploaded` check of a load.
    pub fn ledger(&self, target: Option<&Target>) -> Result<LedgerSnapshot, OutboxError> {
        load_ledger(&self.conn, target, Some(&self.key)).map_err(self.db())
    }

    /// Confirmed rows found by barcode, or by ID number (through its hash: the number itself
    /// is not stored), newest first: for the support helper's `lookup`.
    pub fn lookup(&self, query: &Lookup) -> Result<Vec<LedgerEntry>, OutboxError> {
        lookup(&self.conn, query, Some(&self.key)).map_err(self.db())
    }
}

/// Reads the ledger of an existing outbox database without changing anything (convert, check
/// and the window's load use it while another program may be sending). `None` when there is
/// no database yet.
pub fn read_ledger(
    data_dir: &Path,
    target: Option<&Target>,
) -> Result<Option<LedgerSnapshot>, OutboxError> {
    let Some((conn, key)) = read_only(data_dir)? else {
        return Ok(None);
    };
    let db_path = data_dir.join("outbox.sqlite");
    load_ledger(&conn, target, key.as_ref())
        .map(Some)
        .map_err(|e| OutboxError::Db {
            path: db_path,
            detail: e.to_string(),
        })
}

/// [`Outbox::lookup`] on an existing database, read-only (empty when there is none).
pub fn read_lookup(data_dir: &Path, query: &Lookup) -> Result<Vec<LedgerEntry>, OutboxError> {
    let Some((conn, key)) = read_only(data_dir)? else {
        return Ok(Vec::new());
    };
    lookup(&conn, query, key.as_ref()).map_err(|e| OutboxError::Db {
        path: data_dir.join("outbox.sqlite"),
        detail: e.to_string(),
    })
}

/// The database opened read-only, if it exists and holds this version's tables, with the
/// folder's key (none yet: every hash is of the plain form).
fn read_only(data_dir: &Path) -> Result<Option<(Connection, Option<Key>)>, OutboxError> {
    let db_path = data_dir.join("outbox.sqlite");
    if !db_path.is_file() {
        return Ok(None);
    }
    let db = |e: rusqlite::Error| OutboxError::Db {
        path: db_path.clone(),
        detail: e.to_string(),
    };
    let conn = crate::db::open(&db_path, crate::db::Access::Read).map_err(db)?;
    let version: u32 =
        crate::db::retry(|| conn.pragma_query_value(None, "user_version", |r| r.get(0)))
            .map_err(db)?;
    // An older database is read after the next program that writes migrates it.
    if version != SCHEMA_VERSION {
        return Ok(None);
    }
    let key = crate::upload::keyed::read(data_dir).map_err(|e| OutboxError::Io {
        path: data_dir.join(crate::upload::keyed::KEY_FILE),
        detail: io_message(&e),
    })?;
    Ok(Some((conn, key)))
}

fn load_ledger(
    conn: &Connection,
    target: Option<&Target>,
    key: Option<&Key>,
) -> rusqlite::Result<LedgerSnapshot> {
    let seen = match target {
        Some(t) => {
            let [identity, reference] = ledger_targets(t);
            let mut st =
                conn.prepare("SELECT barcode, id_hash FROM ledger WHERE target IN (?1, ?2)")?;
            st.query_map(params![identity, reference], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })?
            .collect::<Result<_, _>>()?
        }
        None => {
            let mut st = conn.prepare("SELECT barcode, id_hash FROM ledger")?;
            st.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
                .collect::<Result<_, _>>()?
        }
    };
    Ok(LedgerSnapshot {
        seen,
        key: key.cloned(),
    })
}

/// What to look a confirmed row up by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The tube's barcode, exactly.
    Barcode(String),
    /// A person's ID number (any type); only its hash is compared.
    IdNumber(String),
}

/// One confirmed row, as the ledger knows it: no ID number, no name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    /// The target's identity (`name` U+001F `base_url`), or `ref:<reference>` for rows confirmed
    /// before identities were recorded.
    pub target: String,
    pub barcode: String,
    pub batch_id: String,
    /// The name of the file the row came from (unknown for rows from before it was recorded).
    pub source: Option<String>,
    /// Unix milliseconds.
    pub confirmed_at: Option<i64>,
}

impl LedgerEntry {
    /// The target's name for a person (the identity's name part, or the reference).
    pub fn target_name(&self) -> &str {
        match self.target.strip_prefix("ref:") {
            Some(reference) => reference,
            None => self.target.split('\u{1f}').next().unwrap_or(""),
        }
    }
}

fn lookup(
    conn: &Connection,
    query: &Lookup,
    key: Option<&Key>,
) -> rusqlite::Result<Vec<LedgerEntry>> {
    let entry = |r: &rusqlite::Row<'_>| {
        Ok(LedgerEntry {
            target: r.get(0)?,
            barcode: r.get(1)?,
            batch_id: r.get(2)?,
            source: r.get(3)?,
            confirmed_at: r.get(4)?,
        })
    };
    const SELECT: &str = "SELECT l.target, l.barcode, l.batch_id,
        COALESCE(l.source, b.source), COALESCE(l.confirmed_at, b.confirmed_at)
        FROM ledger l LEFT JOIN batches b ON b.id = l.batch_id";
    let mut out: Vec<LedgerEntry> = match query {
        Lookup::Barcode(code) => {
            let mut st = conn.prepare(&format!("{SELECT} WHERE l.barcode = ?1"))?;
            st.query_map(params![code.trim()], entry)?
                .collect::<Result<_, _>>()?
        }
        Lookup::IdNumber(number) => {
            // Rows from before the number's own hash was kept: the hash of "<type>|<number>"
            // for the ID types in use. Each hash in both forms (keyed, and plain from before
            // the key).
            let number = number.trim().to_uppercase();
            let numbers = keyed::id_number_hashes(key, &number);
            let typed: Vec<String> = ["01", "居民身份证", "1"]
                .iter()
                .flat_map(|t| keyed::id_hashes(key, &format!("{t}|{number}")))
                .collect();
            let list = |v: &[String]| {
                v.iter()
                    .map(|h| format!("'{h}'"))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            // Hex digests only: safe to spell in the statement.
            let mut st = conn.prepare(&format!(
                "{SELECT} WHERE l.id_number_hash IN ({}) OR l.id_hash IN ({})",
                list(&numbers),
                list(&typed)
            ))?;
            st.query_map([], entry)?.collect::<Result<_, _>>()?
        }
    };
    out.sort_by_key(|e| std::cmp::Reverse(e.confirmed_at));
    Ok(out)
}

/// The confirmed rows (barcode, hash of the person's ID) at one moment.
#[derive(Debug, Clone, Default)]
pub struct LedgerSnapshot {
    seen: HashSet<(String, String)>,
    key: Option<Key>,
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
        !self.seen.is_empty()
            && keyed::id_hashes(self.key.as_ref(), id_key)
                .into_iter()
                .any(|h| self.seen.contains(&(barcode.to_owned(), h)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch::Ledger;

    /// Opens the outbox as a program does: through its workspace.
    fn open_in(dir: &Path) -> Result<(Outbox, Recovery), OutboxError> {
        crate::workspace::Workspace::open(
            crate::workspace::Folders {
                data: dir.to_owned(),
                config: None,
            },
            7,
        )
        .map(crate::workspace::Workspace::into_parts)
    }

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
        let (mut ob, rec) = open_in(dir.path()).unwrap();
        assert_eq!(rec, Recovery::default());
        let b = batch(5);
        let rows = ready(&b);
        assert_eq!(rows.len(), 5, "{:?}", b.summary());
        let t = target(2, true);
        let q = ob.queue(&t, &b, &rows, "in.csv").unwrap();
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
        let again = ob.queue(&t, &b, &rows, "in.csv").unwrap();
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
        let q2 = ob.queue(&other, &b, &rows[..2], "in.csv").unwrap();
        assert!(matches!(q2[0], Queued::New { .. }));
        assert_ne!(q2[0].id(), q[0].id());
        assert_eq!(ob.list().unwrap().len(), 4);
    }

    #[test]
    fn confirm_fills_the_ledger_with_hashes_only() {
        let dir = tempfile::tempdir().unwrap();
        let (mut ob, _) = open_in(dir.path()).unwrap();
        let b = batch(3);
        let rows = ready(&b);
        let q = ob.queue(&target(10, true), &b, &rows, "in.csv").unwrap();
        let id = q[0].id().to_owned();
        assert!(ob.ledger(None).unwrap().is_empty());
        assert!(ob.claim(&id).unwrap());
        assert!(!ob.claim(&id).unwrap(), "a batch is claimed once");
        ob.confirm(&id, Some(3)).unwrap();
        let rec = ob.get(&id).unwrap().unwrap();
        assert_eq!(
            (rec.state, rec.attempts, rec.accepted),
            (State::Confirmed, 1, Some(3))
        );
        let ledger = ob.ledger(None).unwrap();
        assert_eq!(ledger.len(), 3);
        assert_eq!(read_ledger(dir.path(), None).unwrap().unwrap().len(), 3);
        let barcode = b.output_value(rows[0], b.profile().roles.barcode.unwrap());
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
    fn open_recovers_dead_claims_only_and_deletes_no_unknown_file() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(6);
        let rows = ready(&b);
        let (safe_id, unsafe_id, live_id) = {
            let (mut ob, _) = open_in(dir.path()).unwrap();
            let s = ob
                .queue(&target(10, true), &b, &rows[..2], "in.csv")
                .unwrap();
            let u = ob
                .queue(&target(10, false), &b, &rows[2..4], "in.csv")
                .unwrap();
            let l = ob
                .queue(&target(10, false), &b, &rows[4..], "in.csv")
                .unwrap();
            for q in [&s, &u, &l] {
                assert!(ob.claim(q[0].id()).unwrap());
            }
            // The first two were claimed by "another process" that has gone: the same pid
            // with another start time (a reused pid).
            for q in [&s, &u] {
                ob.conn
                    .execute(
                        "UPDATE batches SET claim_started = claim_started + 1 WHERE id = ?1",
                        params![q[0].id()],
                    )
                    .unwrap();
            }
            (
                s[0].id().to_owned(),
                u[0].id().to_owned(),
                l[0].id().to_owned(),
            )
        };
        std::fs::write(dir.path().join("outbox/0123456789abcdef.xlsx"), b"x").unwrap();
        std::fs::write(dir.path().join("outbox/.sheetbridge-abc.part"), b"x").unwrap();
        let (ob, rec) = open_in(dir.path()).unwrap();
        assert_eq!(
            rec,
            Recovery {
                requeued: 1,
                to_waiting: 1,
                unknown_files: 2,
                ..Recovery::default()
            }
        );
        assert_eq!(ob.get(&safe_id).unwrap().unwrap().state, State::Queued);
        assert_eq!(ob.get(&unsafe_id).unwrap().unwrap().state, State::Waiting);
        // A batch this (live) process is sending is left alone.
        assert_eq!(ob.get(&live_id).unwrap().unwrap().state, State::Sending);
        assert!(ob.file_path(&safe_id).is_file());
        // Nothing deleted: 3 batch files, the unknown one and the temporary one.
        assert_eq!(
            std::fs::read_dir(dir.path().join("outbox"))
                .unwrap()
                .count(),
            5
        );
    }

    #[test]
    fn a_missing_or_unreadable_database_quarantines_the_batch_files() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(2);
        let rows = ready(&b);
        let id = {
            let (mut ob, _) = open_in(dir.path()).unwrap();
            ob.queue(&target(10, true), &b, &rows, "in.csv").unwrap()[0]
                .id()
                .to_owned()
        };
        // Deleted (a clean-up): a new database, the file moved aside, not deleted.
        for f in ["outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        let (ob, rec) = open_in(dir.path()).unwrap();
        let (folder, n) = rec.quarantined.clone().unwrap();
        assert_eq!(n, 1);
        assert!(folder.join(format!("{id}.xlsx")).is_file());
        assert!(
            folder
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("recovered-")
        );
        assert!(ob.list().unwrap().is_empty());
        drop(ob);
        // Opening again finds nothing more to move.
        let (_, rec) = open_in(dir.path()).unwrap();
        assert_eq!(rec.quarantined, None);

        // Unreadable (overwritten with junk) while a batch file is there.
        std::fs::copy(
            folder.join(format!("{id}.xlsx")),
            dir.path().join(format!("outbox/{id}.xlsx")),
        )
        .unwrap();
        for f in ["outbox.sqlite-wal", "outbox.sqlite-shm"] {
            let _ = std::fs::remove_file(dir.path().join(f));
        }
        std::fs::write(dir.path().join("outbox.sqlite"), vec![7u8; 4096]).unwrap();
        let (ob, rec) = open_in(dir.path()).unwrap();
        let (folder2, n) = rec.quarantined.unwrap();
        assert_eq!(n, 1);
        assert_ne!(folder2, folder);
        assert!(folder2.join("outbox.sqlite").is_file(), "the junk is kept");
        assert!(ob.list().unwrap().is_empty());
    }

    #[test]
    fn a_newer_database_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_in(dir.path()).unwrap());
        let conn = Connection::open(dir.path().join("outbox.sqlite")).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        drop(conn);
        assert!(matches!(
            open_in(dir.path()),
            Err(OutboxError::Newer { .. })
        ));
        let conn = Connection::open(dir.path().join("outbox.sqlite")).unwrap();
        let v: u32 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION + 1);
    }

    #[test]
    fn the_ledger_is_per_target_and_found_by_barcode_or_id_number() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(2);
        let rows = ready(&b);
        let (mut ob, _) = open_in(dir.path()).unwrap();
        let t = target(10, true);
        let id = ob.queue(&t, &b, &rows, "样例.xlsx").unwrap()[0]
            .id()
            .to_owned();
        assert!(ob.claim(&id).unwrap());
        ob.confirm(&id, None).unwrap();
        let barcode = b
            .output_value(rows[0], b.profile().roles.barcode.unwrap())
            .to_owned();
        let person = b.person_id(rows[0]);
        assert!(ob.ledger(Some(&t)).unwrap().contains(&barcode, &person));
        // The same name at another address is another target.
        let mut moved = t.clone();
        moved.base_url = "https://10.0.0.9/".parse().unwrap();
        assert!(!ob.ledger(Some(&moved)).unwrap().contains(&barcode, &person));
        assert!(ob.ledger(None).unwrap().contains(&barcode, &person));
        // Found by barcode alone and by ID number alone, with file name and time.
        let by_code = ob.lookup(&Lookup::Barcode(barcode.clone())).unwrap();
        assert_eq!(by_code.len(), 1);
        assert_eq!(by_code[0].source.as_deref(), Some("样例.xlsx"));
        assert_eq!(by_code[0].batch_id, id);
        assert!(by_code[0].confirmed_at.is_some());
        assert_eq!(by_code[0].target_name(), "测试");
        let number = person.split('|').nth(1).unwrap().to_owned();
        let by_id = ob.lookup(&Lookup::IdNumber(number.to_lowercase())).unwrap();
        assert_eq!(by_id, by_code);
        assert!(
            ob.lookup(&Lookup::IdNumber("110101199001010000".into()))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn retention_deletes_old_confirmed_files_only() {
        let dir = tempfile::tempdir().unwrap();
        let b = batch(2);
        let rows = ready(&b);
        let (mut ob, _) = open_in(dir.path()).unwrap();
        let q = ob.queue(&target(1, true), &b, &rows, "in.csv").unwrap();
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
        let (ob, rec) = open_in(dir.path()).unwrap();
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
        let (mut ob, _) = open_in(dir.path()).unwrap();
        let q = ob.queue(&target(1, false), &b, &rows, "in.csv").unwrap();
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
        let again = ob.queue(&target(1, false), &b, &rows, "in.csv").unwrap();
        assert!(matches!(again[1], Queued::New { .. }));
    }
}
