//! The data folder's secret key, and the keyed hashes (HMAC-SHA256) the outbox's database keeps
//! instead of a person's ID number or name: the ledger, the batches' rows and the day's record.
//!
//! A plain SHA-256 of an ID number is no protection: next to a masked ID (`440106********0013`)
//! only the birth date is hidden, and trying every date finds the ID in a second. Keyed with a
//! secret that only this data folder holds (32 random bytes, readable by the user alone, never
//! in the diagnostic bundle), the hashes cannot be tried without that file.
//!
//! Rows hashed before the key existed (a plain SHA-256) are still matched: every reader
//! compares both forms ([`Key::id_hashes`]); every writer writes the keyed one only.

use rusqlite::Connection;
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The key file's name, in the data folder next to `outbox.sqlite`.
pub const KEY_FILE: &str = "record.key";

/// The data folder's secret (never printed: its `Debug` shows nothing of it).
#[derive(Clone, PartialEq, Eq)]
pub struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let text = text.trim();
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// HMAC-SHA256 (RFC 2104) of `message` under `key` (32 bytes: shorter than the block).
fn hmac(key: &[u8; 32], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

/// The ID number as both hashes spell it: trimmed, upper case.
fn number(id_number: &str) -> String {
    id_number.trim().to_uppercase()
}

impl Key {
    /// The keyed hash of `"<id type>|<id number>"` (a row's person).
    pub fn id_hash(&self, id_key: &str) -> String {
        hex(&hmac(&self.0, id_key.as_bytes()))
    }

    /// The keyed hash of the ID number alone (trimmed, upper case): found without its type.
    pub fn id_number_hash(&self, id_number: &str) -> String {
        hex(&hmac(
            &self.0,
            format!("id|{}", number(id_number)).as_bytes(),
        ))
    }

    /// The keyed hash of a name with its spaces removed and any middle dot (`·`, `•`, `・`,
    /// `.`...) spelled `·`: one name however the export or the clerk wrote it.
    pub fn name_hash(&self, name: &str) -> String {
        let name: String = name
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| match c {
                '.' | '•' | '‧' | '・' | '･' | '∙' | '⋅' | '●' | '．' | '。' | '\u{B7}' => {
                    '·'
                }
                c => c,
            })
            .collect();
        hex(&hmac(&self.0, format!("name|{name}").as_bytes()))
    }
}

/// Both forms of a person's hash a reader compares: the keyed one (`key`, when the folder has
/// one) and the plain SHA-256 of rows written before the key.
pub fn id_hashes(key: Option<&Key>, id_key: &str) -> Vec<String> {
    let mut out = vec![legacy_id_hash(id_key)];
    out.extend(key.map(|k| k.id_hash(id_key)));
    out
}

/// Both forms of an ID number's hash (see [`id_hashes`]).
pub fn id_number_hashes(key: Option<&Key>, id_number: &str) -> Vec<String> {
    let mut out = vec![legacy_id_number_hash(id_number)];
    out.extend(key.map(|k| k.id_number_hash(id_number)));
    out
}

/// The plain SHA-256 of `"<id type>|<id number>"` that rows written before the key hold.
pub fn legacy_id_hash(id_key: &str) -> String {
    hex(&Sha256::digest(id_key.as_bytes()))
}

/// The plain SHA-256 of an ID number that rows written before the key hold.
pub fn legacy_id_number_hash(id_number: &str) -> String {
    hex(&Sha256::digest(
        format!("id|{}", number(id_number)).as_bytes(),
    ))
}

fn key_path(data_dir: &Path) -> PathBuf {
    data_dir.join(KEY_FILE)
}

/// The data folder's key, if it has one.
pub fn read(data_dir: &Path) -> io::Result<Option<Key>> {
    let mut text = String::new();
    match std::fs::File::open(key_path(data_dir)) {
        Ok(f) => {
            f.take(256).read_to_string(&mut text)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    }
    unhex(&text).map(|k| Some(Key(k))).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{KEY_FILE} is not a key of 64 hex digits"),
        )
    })
}

/// The data folder's key, made the first time (32 random bytes from SQLite's generator, seeded
/// by the system; the file private to the user, whole or not at all: a second program making
/// it at the same moment keeps the first one's).
pub fn read_or_make(data_dir: &Path, conn: &Connection) -> io::Result<Key> {
    if let Some(key) = read(data_dir)? {
        return Ok(key);
    }
    let bytes: Vec<u8> = conn
        .query_row("SELECT randomblob(32)", [], |r| r.get(0))
        .map_err(io::Error::other)?;
    let key: [u8; 32] = bytes
        .try_into()
        .map_err(|_| io::Error::other("randomblob(32) gave another length"))?;
    // A name of this attempt alone (threads of one process make it at the same moment too).
    static ATTEMPT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = ATTEMPT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // The start of every temporary name this process writes (write::temp_prefix), spelled
    // here: this module depends on nothing of the load.
    let tmp = data_dir.join(format!(
        ".sheetbridge-{}-{KEY_FILE}.{n}.tmp",
        std::process::id()
    ));
    let written = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&tmp)?;
        f.write_all(hex(&key).as_bytes())?;
        f.sync_all()?;
        // A link fails when the key exists: the one made first stays.
        std::fs::hard_link(&tmp, key_path(data_dir))
    })();
    let _ = std::fs::remove_file(&tmp);
    match written {
        Ok(()) => Ok(Key(key)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            read(data_dir)?.ok_or_else(|| io::Error::other(format!("{KEY_FILE} vanished")))
        }
        Err(e) => Err(e),
    }
}

/// The folder of the database `conn` has open (the key lives next to it).
fn folder(conn: &Connection) -> Option<PathBuf> {
    let path = conn.path().filter(|p| !p.is_empty())?;
    Path::new(path).parent().map(Path::to_owned)
}

fn sql_error(e: io::Error) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(io::Error::new(
        e.kind(),
        format!("{KEY_FILE}: {e}"),
    )))
}

/// The key of the database `conn` has open, made when missing (for a writer).
pub(crate) fn of_writer(conn: &Connection) -> rusqlite::Result<Key> {
    let dir = folder(conn).ok_or_else(|| sql_error(io::Error::other("no folder")))?;
    read_or_make(&dir, conn).map_err(sql_error)
}

/// The key of the database `conn` has open, if the folder has one (for a reader).
pub(crate) fn of_reader(conn: &Connection) -> rusqlite::Result<Option<Key>> {
    match folder(conn) {
        Some(dir) => read(&dir).map_err(sql_error),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // RFC 4231's case 1 message under a 32-byte key, as Python's hmac module gives it.
        let key = [0x0bu8; 32];
        assert_eq!(
            hex(&hmac(&key, b"Hi There")),
            "198a607eb44bfbc69903a0f1cf2bbdc5ba0aa3f3d9ae3c1c7a3b1696a0b68cf7"
        );
    }

    #[test]
    fn the_key_is_made_once_private_and_keys_differ_per_folder() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let conn = Connection::open_in_memory().unwrap();
        let ka = read_or_make(a.path(), &conn).unwrap();
        assert_eq!(read_or_make(a.path(), &conn).unwrap(), ka);
        let kb = read_or_make(b.path(), &conn).unwrap();
        assert_ne!(ka, kb);
        assert_ne!(ka.id_hash("01|X"), kb.id_hash("01|X"));
        assert_ne!(ka.id_hash("01|X"), legacy_id_hash("01|X"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(a.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(a.path().join(KEY_FILE), "short").unwrap();
        assert!(read(a.path()).is_err());
    }
}
