//! The outbox database's schema: opening the file, creating the tables, migrating an older
//! version in place in one transaction, refusing a newer one.

use super::{Outbox, OutboxError};
use rusqlite::Connection;
use std::path::Path;

/// The schema version this program writes (`PRAGMA user_version`). 0 with tables: the first
/// outbox, which carried no version (treated as version 1).
pub const SCHEMA_VERSION: u32 = 3;

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

/// Why the database could not be opened as it is.
pub(super) enum OpenFailure {
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

impl Outbox {
    /// Opens the database file (created private when missing). `Ok((conn, true))` when it holds
    /// an outbox, `Ok((conn, false))` when it holds no table at all.
    pub(super) fn connect(db_path: &Path) -> Result<(Connection, bool), OpenFailure> {
        let unreadable = |e: &dyn std::fmt::Display| OpenFailure::Unreadable(e.to_string());
        // A busy file is another program at work, not a broken database: never quarantined.
        let failed = |e: rusqlite::Error| {
            if crate::upload::db::is_busy(&e) {
                OpenFailure::Busy(e.to_string())
            } else {
                OpenFailure::Unreadable(e.to_string())
            }
        };
        crate::privacy::ensure_private_file(db_path).map_err(|e| unreadable(&e))?;
        let conn =
            crate::upload::db::open(db_path, crate::upload::db::Access::Write).map_err(failed)?;
        let version: u32 = crate::upload::db::retry(|| {
            conn.pragma_query_value(None, "user_version", |r| r.get(0))
        })
        .map_err(failed)?;
        if version > SCHEMA_VERSION {
            return Err(OpenFailure::Newer(version));
        }
        let tables: i64 = crate::upload::db::retry(|| {
            conn.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'batches'",
                [],
                |r| r.get(0),
            )
        })
        .map_err(failed)?;
        Ok((conn, tables > 0))
    }

    /// WAL with full syncs, then the schema: created, or migrated in one transaction. Returns
    /// the version migrated from, if any. `tables`: the SQL of the tables other modules keep in
    /// this database (the day's record), made or added in place in the same transaction.
    pub(super) fn setup(&mut self, tables: &str) -> Result<Option<u32>, OutboxError> {
        let db = |e: rusqlite::Error| OutboxError::Db {
            path: self.db_path.clone(),
            detail: e.to_string(),
        };
        // WAL with full syncs: a committed state change survives a crash or a power cut.
        crate::upload::db::retry(|| self.conn.pragma_update(None, "journal_mode", "WAL"))
            .map_err(db)?;
        self.conn
            .pragma_update(None, "synchronous", "FULL")
            .map_err(db)?;
        // IMMEDIATE (every transaction is): two programs starting at once do not both create
        // or migrate.
        let tx = crate::upload::db::begin(&self.conn).map_err(db)?;
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
}
