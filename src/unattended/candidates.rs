//! The settled candidates of a watched folder (guarantees.md section 4): the ONE function that
//! says which files `watch` and the window's watcher may take, [`settled_candidates`], and the
//! one way to read such a file, [`Candidate::sha256`].
//!
//! - A candidate is a regular file directly in the folder, with a spreadsheet's name
//!   ([`is_candidate_name`]). Links are never followed: a symbolic link, a Windows junction or
//!   other reparse point, or a `.lnk` shortcut is skipped and named once ([`Found::links`]); a
//!   folder, a pipe or a device is skipped.
//! - Settled means the same look (size, modification time and, where the system has them, the
//!   file's identity and change time) at two looks at least `settle` apart by this process's
//!   own clock ([`Instant`]). A file's modification time is never compared with the time now:
//!   a file server whose clock lags, or a copy that keeps the original's time, cannot make a
//!   half-written file look old. A file that changed between the two looks starts again and
//!   waits for a later pass.
//! - The content is read through a handle opened without following a link (Unix), and the
//!   handle's own look and the name's look after the read must still be the settled one: a file
//!   swapped for a link (or rewritten) after the listing is not read. Between this read and the
//!   conversion (which opens the file by its name) [`Candidate::unchanged`] looks once more.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Extensions of the files the converter reads.
pub const EXTENSIONS: &[&str] = &[
    "xlsx", "xlsm", "xls", "xlsb", "ods", "csv", "et", "xml", "htm", "html",
];

/// Endings of files still being downloaded or written.
const PARTIAL: &[&str] = &["crdownload", "part", "tmp", "download"];

/// Is `name` a possible input by its name alone?
pub fn is_candidate_name(name: &str) -> bool {
    if name.starts_with("~$") || name.starts_with('.') {
        return false;
    }
    let lower = name.to_lowercase();
    let Some((_, ext)) = lower.rsplit_once('.') else {
        return false;
    };
    !PARTIAL.contains(&ext) && EXTENSIONS.contains(&ext)
}

/// What one look at a file showed. Two looks are equal only when nothing about the file's
/// content can have changed in between (as far as the system tells).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Look {
    len: u64,
    modified: Option<SystemTime>,
    /// Device and inode: the same file, not another one put in its place.
    #[cfg(unix)]
    id: (u64, u64),
    /// The change time, which no program can set back: a write followed by a reset of the
    /// modification time still shows.
    #[cfg(unix)]
    changed: (i64, i64),
}

impl Look {
    pub fn of(meta: &std::fs::Metadata) -> Look {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt;
        Look {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            id: (meta.dev(), meta.ino()),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }
}

/// Is this entry (its own metadata, links not followed) a link of any kind: a symbolic link,
/// on Windows also a junction or mount point (the standard library counts every name-surrogate
/// reparse point as a link; OneDrive's cloud files are not one and stay candidates), or a
/// `.lnk` shortcut by its name?
pub fn is_link(name: &str, meta: &std::fs::Metadata) -> bool {
    meta.file_type().is_symlink() || name.to_lowercase().ends_with(".lnk")
}

/// A file seen in the folder: its last look and since when (by our clock) it has looked so.
#[derive(Debug)]
struct Seen {
    look: Look,
    since: Instant,
    /// Decided at this look (our own output, content handled before): not looked into again
    /// until it changes.
    decided: bool,
}

/// What the watcher remembers between passes: each file's last look, and the links it named.
/// One per watcher (a `watch` run, the window's watcher).
#[derive(Debug, Default)]
pub struct Settle {
    seen: HashMap<PathBuf, Seen>,
    links: HashSet<PathBuf>,
}

impl Settle {
    /// Takes `look` of `path` at `now`: is it settled (the same look `settle` ago or more)?
    fn observe(&mut self, path: &Path, look: Look, now: Instant, settle: Duration) -> Verdict {
        match self.seen.get_mut(path) {
            Some(seen) if seen.look == look => {
                if seen.decided {
                    Verdict::Decided
                } else if now.saturating_duration_since(seen.since) >= settle {
                    Verdict::Settled
                } else {
                    Verdict::Settling(settle - now.saturating_duration_since(seen.since))
                }
            }
            // First seen, or changed since the last look: this is the first of two looks.
            _ => {
                self.seen.insert(
                    path.to_owned(),
                    Seen {
                        look,
                        since: now,
                        decided: false,
                    },
                );
                Verdict::Settling(settle)
            }
        }
    }

    /// The file at `path` changed after it settled: it starts again.
    pub fn changed(&mut self, path: &Path) {
        self.seen.remove(path);
    }

    /// The file at `path`, as it looks now, needs no more looking into (until it changes).
    pub fn decided(&mut self, path: &Path) {
        if let Some(seen) = self.seen.get_mut(path) {
            seen.decided = true;
        }
    }

    /// Forgets the files and links that are no longer there.
    fn keep_only(&mut self, present: &HashSet<PathBuf>) {
        self.seen.retain(|p, _| present.contains(p));
        self.links.retain(|p| present.contains(p));
    }
}

enum Verdict {
    Settled,
    /// Not yet: at least this much longer.
    Settling(Duration),
    Decided,
}

/// A settled file, as it looked when it settled.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    look: Look,
}

impl Candidate {
    /// The SHA-256 of the content, read through a handle that does not follow a link and
    /// whose look is still the settled one. `None` when the file is gone, is now a link or
    /// something else, or changed since it settled (it starts settling again).
    pub fn sha256(&self, tracker: &mut Settle) -> Option<String> {
        let sha = open_no_follow(&self.path)
            .ok()
            .filter(|f| {
                f.metadata()
                    .is_ok_and(|m| m.is_file() && !is_link("", &m) && Look::of(&m) == self.look)
            })
            .and_then(|f| crate::digest::reader_sha256(f).ok());
        // Still the same file by its name (not swapped for a link in the meantime)?
        let still = std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| !m.file_type().is_symlink() && Look::of(&m) == self.look);
        if sha.is_none() || !still {
            tracker.changed(&self.path);
            return None;
        }
        sha
    }

    /// Is the file at the path still the one that settled (not changed, not a link now)?
    pub fn unchanged(&self) -> bool {
        std::fs::symlink_metadata(&self.path)
            .is_ok_and(|m| m.is_file() && !is_link("", &m) && Look::of(&m) == self.look)
    }
}

/// Opens `path` for reading without following a link at its last component (and without
/// waiting on a pipe put in its place). On Windows the file is opened as usual (a reparse
/// point flag would keep OneDrive from giving a cloud file's content); the looks by name before
/// and after the read in [`Candidate::sha256`] stand guard there.
fn open_no_follow(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    o.open(path)
}

/// What one look at the folder found.
#[derive(Debug, Default)]
pub struct Found {
    /// Settled files, oldest first.
    pub files: Vec<Candidate>,
    /// Files still settling (new, or changed since the last look).
    pub settling: usize,
    /// The shortest time after which a settling file may have settled.
    pub wait: Option<Duration>,
    /// Links seen for the first time (each is named once, never followed).
    pub links: Vec<PathBuf>,
}

/// Why the folder could not be looked at.
#[derive(Debug)]
pub enum LookError {
    /// Not there (removed, a network drive gone, a USB stick out) or not a folder.
    NoFolder,
    Io(std::io::Error),
}

/// The settled candidates of `folder` (see the module's text): every watcher calls this, and
/// only this, to choose the files it takes.
pub fn settled_candidates(
    folder: &Path,
    settle: Duration,
    tracker: &mut Settle,
) -> Result<Found, LookError> {
    if !std::fs::metadata(folder).is_ok_and(|m| m.is_dir()) {
        return Err(LookError::NoFolder);
    }
    let entries = std::fs::read_dir(folder).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => LookError::NoFolder,
        _ => LookError::Io(e),
    })?;
    let now = Instant::now();
    let mut found = Found::default();
    let mut present = HashSet::new();
    let mut files = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        // The entry itself, never what a link points at.
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        present.insert(path.clone());
        if is_link(&name, &meta) {
            if tracker.links.insert(path.clone()) {
                found.links.push(path);
            }
            continue;
        }
        if !meta.is_file() || !is_candidate_name(&name) {
            continue;
        }
        let look = Look::of(&meta);
        match tracker.observe(&path, look, now, settle) {
            Verdict::Settled => files.push((look.modified, name, Candidate { path, look })),
            Verdict::Settling(left) => {
                found.settling += 1;
                found.wait = Some(found.wait.map_or(left, |w| w.min(left)));
            }
            Verdict::Decided => {}
        }
    }
    tracker.keep_only(&present);
    files.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    found.files = files.into_iter().map(|(_, _, c)| c).collect();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_names() {
        for ok in ["核酸结果.xlsx", "a.XLS", "b.csv", "c.ods", "d.xlsb"] {
            assert!(is_candidate_name(ok), "{ok}");
        }
        for no in [
            "~$核酸结果.xlsx",
            ".hidden.xlsx",
            "a.xlsx.crdownload",
            "a.xlsx.part",
            "a.tmp",
            "b.download",
            "说明.txt",
            "noext",
            "a.pdf",
        ] {
            assert!(!is_candidate_name(no), "{no}");
        }
    }

    #[test]
    fn settled_takes_two_looks_by_our_clock_and_an_old_mtime_does_not_help() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.xlsx");
        std::fs::write(&file, "x").unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let mut t = Settle::default();
        // First look: settling, however old its modification time.
        let f = settled_candidates(dir.path(), Duration::ZERO, &mut t).unwrap();
        assert!(f.files.is_empty());
        assert_eq!(f.settling, 1);
        // It grows, its time set back again: still the first look.
        std::fs::write(&file, "xy").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        let f = settled_candidates(dir.path(), Duration::ZERO, &mut t).unwrap();
        assert!(f.files.is_empty());
        // Unchanged at the next look: settled.
        let f = settled_candidates(dir.path(), Duration::ZERO, &mut t).unwrap();
        assert_eq!(f.files.len(), 1);
        assert_eq!(f.files[0].sha256(&mut t).unwrap().len(), 64);
        // A long settle time is not over after two quick looks.
        let mut t = Settle::default();
        let long = Duration::from_secs(3600);
        settled_candidates(dir.path(), long, &mut t).unwrap();
        let f = settled_candidates(dir.path(), long, &mut t).unwrap();
        assert!(f.files.is_empty());
        assert!(f.wait.is_some_and(|w| w > Duration::from_secs(3500)));
    }

    #[test]
    fn subfolders_partials_and_missing_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("dl.xlsx.crdownload"), "x").unwrap();
        std::fs::create_dir(dir.path().join("已处理")).unwrap();
        std::fs::write(dir.path().join("已处理/old.xlsx"), "x").unwrap();
        std::fs::create_dir(dir.path().join("dir.xlsx")).unwrap();
        let mut t = Settle::default();
        for _ in 0..2 {
            let f = settled_candidates(dir.path(), Duration::ZERO, &mut t).unwrap();
            assert!(f.files.is_empty() && f.settling == 0);
        }
        let missing = settled_candidates(&dir.path().join("nope"), Duration::ZERO, &mut t);
        assert!(matches!(missing, Err(LookError::NoFolder)));
    }

    #[cfg(unix)]
    #[test]
    fn links_are_named_once_and_never_read() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("secret.xlsx");
        std::fs::write(&target, "rows").unwrap();
        let folder = dir.path();
        std::os::unix::fs::symlink(&target, folder.join("link.xlsx")).unwrap();
        std::os::unix::fs::symlink(outside.path(), folder.join("dir.xlsx")).unwrap();
        std::os::unix::fs::symlink(folder.join("gone"), folder.join("dangling.xlsx")).unwrap();
        std::fs::write(folder.join("快捷方式.lnk"), "x").unwrap();
        let mut t = Settle::default();
        let f = settled_candidates(folder, Duration::ZERO, &mut t).unwrap();
        assert_eq!(f.links.len(), 4, "{:?}", f.links);
        for _ in 0..2 {
            let f = settled_candidates(folder, Duration::ZERO, &mut t).unwrap();
            assert!(f.links.is_empty() && f.files.is_empty());
        }
        // A file swapped for a link after it settled is not read.
        let swapped = folder.join("swap.xlsx");
        std::fs::write(&swapped, "mine").unwrap();
        settled_candidates(folder, Duration::ZERO, &mut t).unwrap();
        let f = settled_candidates(folder, Duration::ZERO, &mut t).unwrap();
        assert_eq!(f.files.len(), 1);
        std::fs::remove_file(&swapped).unwrap();
        std::os::unix::fs::symlink(&target, &swapped).unwrap();
        assert_eq!(f.files[0].sha256(&mut t), None);
        assert!(!f.files[0].unchanged());
    }
}
