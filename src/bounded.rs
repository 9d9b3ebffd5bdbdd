//! Reading a file from outside against a size limit (guarantees.md §7): a pack, its signature,
//! every entry in it, a profile, a target, a source, trusted keys, settings, credentials.
//! Every such read goes through [`read`] (or [`read_entry`] for what a zip entry decompresses
//! to), which never holds more than the limit plus one byte: a 2 GiB signature file, an
//! endless FIFO or a zip entry that inflates without end is refused, naming the file and the
//! limit, after reading at most that much.

use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use std::io::Read;
use std::path::Path;

/// A pack (`.sbpack`): a zip of small text files.
pub const PACK: u64 = 64 * 1024 * 1024;
/// A pack's signature file (`.minisig`): a few hundred bytes.
pub const SIGNATURE: u64 = 4 * 1024;
/// One entry of a pack, decompressed.
pub const PACK_ENTRY: u64 = 1024 * 1024;
/// A TOML or text file of ours: a profile, a target, a source, trusted keys, settings,
/// credentials.
pub const TEXT_FILE: u64 = 1024 * 1024;

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum BoundedError {
    /// Larger than the limit (`size`: what the file system says, when it says).
    TooLarge {
        name: String,
        size: Option<u64>,
        limit: u64,
    },
    Io {
        name: String,
        detail: String,
        not_found: bool,
    },
    /// Asked for text, and it is not UTF-8.
    NotText { name: String },
}

/// A size in the unit a clerk reads: `4 KB`, `1 MB`, `2.0 GB`.
fn size_text(bytes: u64) -> String {
    const K: u64 = 1024;
    match bytes {
        b if b >= K * K * K => format!("{:.1} GB", b as f64 / (K * K * K) as f64),
        b if b >= K * K && b.is_multiple_of(K * K) => format!("{} MB", b / K / K),
        b if b >= K * K => format!("{:.1} MB", b as f64 / (K * K) as f64),
        b if b >= K => format!("{} KB", b.div_ceil(K)),
        b => format!("{b} 字节"),
    }
}

impl BoundedError {
    /// The file is not there (callers that treat a missing file as empty ask this).
    pub fn is_not_found(&self) -> bool {
        matches!(
            self,
            BoundedError::Io {
                not_found: true,
                ..
            }
        )
    }

    /// The reason alone, in plain Chinese (like [`io_message`]), for a message that names the
    /// file itself.
    pub fn reason(&self) -> String {
        match self {
            BoundedError::TooLarge { size, limit, .. } => {
                let size = size
                    .map(|s| format!("有 {}，", size_text(s)))
                    .unwrap_or_default();
                format!(
                    "文件{size}超过了 {} 的上限，没有读取（这类文件不会这么大，请确认是不是选错了文件）",
                    size_text(*limit)
                )
            }
            BoundedError::Io { detail, .. } => detail.clone(),
            BoundedError::NotText { .. } => "不是 UTF-8 文本文件".into(),
        }
    }
}

impl Localized for BoundedError {
    fn message(&self) -> Text {
        match self {
            BoundedError::TooLarge { name, size, limit } => {
                let en_size = size.map(|s| format!(" ({s} bytes)")).unwrap_or_default();
                Text::new(
                    format!("文件「{name}」{}", self.reason()),
                    format!(
                        "{name}{en_size} is over the limit of {} ({limit} bytes); not read",
                        size_text(*limit).replace("字节", "bytes")
                    ),
                )
            }
            BoundedError::Io { name, detail, .. } => Text::new(
                format!("读不了文件「{name}」：{detail}"),
                format!("cannot read {name}: {detail}"),
            ),
            BoundedError::NotText { name } => Text::new(
                format!("文件「{name}」不是 UTF-8 文本文件，请用记事本另存为 UTF-8 后再试"),
                format!("{name} is not UTF-8 text"),
            ),
        }
    }
}

/// Reads the file at `path` whole, refusing it when it is over `limit` bytes: by its size
/// before anything is read, and by what is read (a file that grows, a FIFO, a device).
pub fn read(path: &Path, limit: u64) -> Result<Vec<u8>, BoundedError> {
    let name = crate::paths::shown(path);
    let io = |e: std::io::Error| BoundedError::Io {
        name: name.clone(),
        detail: io_message(&e),
        not_found: e.kind() == std::io::ErrorKind::NotFound,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let size = file.metadata().map_err(io)?.len();
    if size > limit {
        return Err(BoundedError::TooLarge {
            name,
            size: Some(size),
            limit,
        });
    }
    // The size said is a hint (a FIFO says 0): the read itself stops one byte past the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit {
        return Err(BoundedError::TooLarge {
            name,
            size: None,
            limit,
        });
    }
    Ok(bytes)
}

/// [`read`], as UTF-8 text.
pub fn read_to_string(path: &Path, limit: u64) -> Result<String, BoundedError> {
    String::from_utf8(read(path, limit)?).map_err(|_| BoundedError::NotText {
        name: crate::paths::shown(path),
    })
}

/// Reads what `reader` gives (a zip entry decompressing) against `limit`; `name` says what it
/// is in the message (`pack.sbpack: profiles/a.toml`).
pub fn read_entry(reader: impl Read, name: &str, limit: u64) -> Result<Vec<u8>, BoundedError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| BoundedError::Io {
            name: crate::paths::for_line(name),
            detail: io_message(&e),
            not_found: false,
        })?;
    if bytes.len() as u64 > limit {
        return Err(BoundedError::TooLarge {
            name: crate::paths::for_line(name),
            size: None,
            limit,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_its_limit_is_refused_naming_it_and_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big\n.minisig");
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(SIGNATURE + 1).unwrap();
        let e = read(&p, SIGNATURE).unwrap_err();
        let m = e.to_string();
        assert!(m.contains("big\\n.minisig") && m.contains("4 KB"), "{m}");
        assert!(e.english().contains("4096 bytes"), "{}", e.english());
        f.set_len(SIGNATURE).unwrap();
        assert_eq!(read(&p, SIGNATURE).unwrap().len() as u64, SIGNATURE);
        assert!(
            read(&dir.path().join("none"), 1)
                .unwrap_err()
                .is_not_found()
        );
        let e = read_entry(std::io::repeat(b'a'), "x.sbpack: a.toml", 10).unwrap_err();
        assert!(e.to_string().contains("x.sbpack: a.toml"), "{e}");
        assert_eq!(read_entry(&b"abc"[..], "a", 3).unwrap(), b"abc");
    }

    #[test]
    fn sizes_read_plainly() {
        assert_eq!(size_text(PACK), "64 MB");
        assert_eq!(size_text(SIGNATURE), "4 KB");
        assert_eq!(size_text(2 * 1024 * 1024 * 1024), "2.0 GB");
        assert_eq!(size_text(12), "12 字节");
    }
}
