//! Opening the outbox once per process and tidying what a crash or another program left: dead
//! claims, unknown files, an unreadable database (quarantined with its files), expired files.

use super::migrate::OpenFailure;
use super::{Outbox, OutboxError, Recovery, now_ms};
use crate::message::io_message;
use rusqlite::params;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

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
    /// The folder and files are created readable by the user alone.
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
}
