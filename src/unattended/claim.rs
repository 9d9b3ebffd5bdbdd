//! Claims on files: a file open in the window (or being handled by a watcher) is claimed, and
//! no watcher touches a claimed file.
//!
//! A claim is `claims/<sha256>.json` in the data folder, created with `create_new` (so two
//! processes cannot both take it), holding `{"pid", "started", "path", "since_ms"}`: the
//! claiming process, its start time (so a reused process id does not keep a claim alive), the
//! file's path when claimed, and when. A claim whose process is gone is stale: it is removed
//! and the file can be claimed again. [`Claim`] releases itself when dropped.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What a claim file holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimInfo {
    pub pid: u32,
    /// The process's start time as the system counts it (Linux: clock ticks since boot;
    /// Windows: FILETIME); `None` where it cannot be read.
    pub started: Option<u64>,
    pub path: String,
    pub since_ms: i64,
}

/// A claim held by this process; removed when dropped.
#[derive(Debug)]
pub struct Claim {
    file: PathBuf,
}

impl Claim {
    /// Ends the claim now.
    pub fn release(self) {
        drop(self);
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The claims folder in a data folder.
pub fn dir_in(data_dir: &Path) -> PathBuf {
    data_dir.join("claims")
}

fn claim_file(data_dir: &Path, sha256: &str) -> PathBuf {
    dir_in(data_dir).join(format!("{sha256}.json"))
}

/// Claims the content `sha256` (of the file at `path`) for this process. `Ok(None)` when a live
/// process holds it already (this one included: a claim is not taken twice).
pub fn claim(data_dir: &Path, sha256: &str, path: &Path) -> std::io::Result<Option<Claim>> {
    let file = claim_file(data_dir, sha256);
    crate::privacy::create_private_dir(&dir_in(data_dir))?;
    let me = std::process::id();
    let info = ClaimInfo {
        pid: me,
        started: process_started(me),
        path: path.to_string_lossy().into_owned(),
        since_ms: crate::upload::outbox::now_ms(),
    };
    let json = serde_json::to_vec(&info).map_err(std::io::Error::other)?;
    for _ in 0..2 {
        match crate::privacy::create_private_file(&file) {
            Ok(mut f) => {
                use std::io::Write;
                if let Err(e) = f.write_all(&json).and_then(|()| f.sync_all()) {
                    let _ = std::fs::remove_file(&file);
                    return Err(e);
                }
                return Ok(Some(Claim { file }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if holder(data_dir, sha256).is_some() {
                    return Ok(None);
                }
                // Stale: removed by `holder`; try once more.
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The live holder of a claim on `sha256`, if any. A stale claim (its process gone) is removed.
/// A claim file being written (empty or cut short) counts as held.
pub fn holder(data_dir: &Path, sha256: &str) -> Option<ClaimInfo> {
    let file = claim_file(data_dir, sha256);
    let text = std::fs::read(&file).ok()?;
    let Ok(info) = serde_json::from_slice::<ClaimInfo>(&text) else {
        // Being written right now, or broken: broken ones older than a minute are removed.
        let old = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|e| e.as_secs() > 60);
        if old {
            let _ = std::fs::remove_file(&file);
            return None;
        }
        return Some(ClaimInfo {
            pid: 0,
            started: None,
            path: String::new(),
            since_ms: 0,
        });
    };
    if process_alive(info.pid, info.started) {
        Some(info)
    } else {
        let _ = std::fs::remove_file(&file);
        None
    }
}

/// Is the process `pid` (started at `started`, when known) still running?
fn process_alive(pid: u32, started: Option<u64>) -> bool {
    match process_started(pid) {
        Some(now) => started.is_none_or(|s| s == now),
        None => !cfg!(any(target_os = "linux", windows)) && pid != 0,
    }
}

/// The start time of a running process; `None` when it is not running (or, on other systems,
/// cannot be known).
#[cfg(target_os = "linux")]
fn process_started(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 on; the start time is field 22.
    rest.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(windows)]
fn process_started(pid: u32) -> Option<u64> {
    use windows_sys::Win32::Foundation::{CloseHandle, FILETIME};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    const STILL_ACTIVE: u32 = 259;
    // SAFETY: OpenProcess takes plain values; the handle is checked and closed below.
    let handle = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if handle.is_null() {
        return None;
    }
    let zero = FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
    let mut code = 0u32;
    // SAFETY: the handle is valid; the out-pointers point at local values.
    let ok = unsafe {
        GetProcessTimes(handle, &mut created, &mut exited, &mut kernel, &mut user) != 0
            && GetExitCodeProcess(handle, &mut code) != 0
    };
    // SAFETY: the handle came from OpenProcess and is closed once.
    unsafe {
        CloseHandle(handle);
    }
    (ok && code == STILL_ACTIVE)
        .then(|| (u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime))
}

#[cfg(not(any(target_os = "linux", windows)))]
fn process_started(_pid: u32) -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_at_a_time_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let c = claim(dir.path(), "abc", Path::new("/x/a.xlsx"))
            .unwrap()
            .unwrap();
        let h = holder(dir.path(), "abc").unwrap();
        assert_eq!(h.pid, std::process::id());
        assert_eq!(h.path, "/x/a.xlsx");
        assert!(claim(dir.path(), "abc", Path::new("a")).unwrap().is_none());
        c.release();
        assert!(holder(dir.path(), "abc").is_none());
        assert!(claim(dir.path(), "abc", Path::new("a")).unwrap().is_some());
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_claim_of_a_dead_process_is_stale() {
        let dir = tempfile::tempdir().unwrap();
        // A process that has ended.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        std::fs::create_dir_all(dir_in(dir.path())).unwrap();
        let info = ClaimInfo {
            pid,
            started: Some(1),
            path: "a".into(),
            since_ms: 0,
        };
        std::fs::write(
            claim_file(dir.path(), "dead"),
            serde_json::to_vec(&info).unwrap(),
        )
        .unwrap();
        assert!(holder(dir.path(), "dead").is_none());
        assert!(!claim_file(dir.path(), "dead").exists());
        // Our own pid with another start time: a reused id, stale too.
        let reused = ClaimInfo {
            pid: std::process::id(),
            started: Some(1),
            ..info
        };
        std::fs::write(
            claim_file(dir.path(), "reused"),
            serde_json::to_vec(&reused).unwrap(),
        )
        .unwrap();
        assert!(holder(dir.path(), "reused").is_none());
    }
}
