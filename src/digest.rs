//! The one content hash of the program: SHA-256, as lowercase hex. A file is known by it to the
//! clerk's saved edits (`src/edits.rs`), the journal of handled files and of our own outputs,
//! the claims a window holds (`src/unattended/`), and downloads (`fetch`). A front end that has
//! hashed a file (to claim it) passes the hash on (`pipeline::Options::hash`), so an opened file
//! is read for its hash once.

use sha2::{Digest, Sha256};
use std::path::Path;

/// SHA-256 of a file's content, hex.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    reader_sha256(std::fs::File::open(path)?)
}

/// SHA-256 of everything `from` gives, hex.
pub fn reader_sha256(mut from: impl std::io::Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    std::io::copy(&mut from, &mut h)?;
    Ok(hex(&h.finalize()))
}

/// SHA-256 of bytes, hex.
pub fn bytes_sha256(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

/// Lowercase hex of a digest.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_a_reader_and_its_bytes_hash_alike() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.csv");
        // Longer than one copy buffer, so the streaming read is exercised.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let want = bytes_sha256(&data);
        assert_eq!(file_sha256(&path).unwrap(), want);
        assert_eq!(reader_sha256(&data[..]).unwrap(), want);
        assert_eq!(
            bytes_sha256(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
