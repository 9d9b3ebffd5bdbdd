//! The ledger: per target, the confirmed rows (barcode and hashes, never the ID itself), loaded
//! for a load's `already_uploaded` check and searched by barcode or ID number.

use super::migrate::SCHEMA_VERSION;
use super::{Outbox, OutboxError};
use crate::batch::Ledger;
use crate::upload::keyed::{self, Key};
use crate::upload::target::Target;
use rusqlite::{Connection, params};
use std::collections::HashSet;
use std::path::Path;

/// The ledger keys a target's confirmed rows are stored under: its identity, and (rows from
/// before targets were recorded) `ref:` and its reference.
pub fn ledger_targets(target: &Target) -> [String; 2] {
    [target.identity(), format!("ref:{}", target.reference)]
}

impl Outbox {
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

    /// The rows a new load for `target` must not queue again: its ledger, and the rows of every
    /// batch not yet decided (queued, sending or waiting), read on this connection.
    pub fn known_rows(&self, target: &Target) -> Result<KnownRows, OutboxError> {
        let ledger = self.ledger(Some(target))?;
        let db = self.db();
        let mut st = self
            .conn
            .prepare(
                "SELECT r.barcode, r.id_hash FROM batch_rows r JOIN batches b ON b.id = r.batch_id
                 WHERE b.state IN ('queued', 'sending', 'waiting')",
            )
            .map_err(&db)?;
        let pending = st
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(&db)?
            .collect::<Result<_, _>>()
            .map_err(&db)?;
        Ok(KnownRows {
            ledger,
            pending,
            key: self.key.clone(),
        })
    }
}

/// Rows confirmed (the ledger) or in a batch not yet decided (queued, sending, waiting): what
/// the watcher's load counts as duplicates, so a growing export never queues a row twice.
pub struct KnownRows {
    ledger: LedgerSnapshot,
    pending: HashSet<(String, String)>,
    key: Key,
}

impl Ledger for KnownRows {
    fn contains(&self, barcode: &str, id_key: &str) -> bool {
        self.ledger.contains(barcode, id_key)
            || (!self.pending.is_empty()
                && keyed::id_hashes(Some(&self.key), id_key)
                    .into_iter()
                    .any(|h| self.pending.contains(&(barcode.to_owned(), h))))
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
    let Some((conn, version)) = super::open_read_only(data_dir)? else {
        return Ok(None);
    };
    // An older database is read after the next program that writes migrates it.
    if version != SCHEMA_VERSION {
        return Ok(None);
    }
    let key = crate::upload::keyed::read(data_dir).map_err(|e| OutboxError::Io {
        path: data_dir.join(crate::upload::keyed::KEY_FILE),
        detail: crate::message::io_message(&e),
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

impl Ledger for LedgerSnapshot {
    fn contains(&self, barcode: &str, id_key: &str) -> bool {
        !self.seen.is_empty()
            && keyed::id_hashes(self.key.as_ref(), id_key)
                .into_iter()
                .any(|h| self.seen.contains(&(barcode.to_owned(), h)))
    }
}
