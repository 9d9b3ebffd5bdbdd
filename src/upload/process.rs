//! Which process holds a claim: its id and its start time, so that a claim of a process that
//! has died (or whose id a new process reuses) is recognised as dead and taken over.

/// This process: (pid, start time in the system's own unit).
pub fn current() -> (u32, i64) {
    let pid = std::process::id();
    (pid, start_time(pid).unwrap_or(0))
}

/// Whether the process that claimed something as (`pid`, `started`) still runs. When the start
/// time cannot be read, a running process with that id counts as alive (a claim is never taken
/// from a live sender on a guess).
pub fn alive(pid: u32, started: i64) -> bool {
    if pid == std::process::id() {
        return start_time(pid).unwrap_or(0) == started;
    }
    match start_time(pid) {
        Some(t) => started == 0 || t == started,
        None => exists_without_start_time(pid),
    }
}

#[cfg(target_os = "linux")]
fn start_time(pid: u32) -> Option<i64> {
    // /proc/<pid>/stat: "pid (comm) state ppid ...", starttime is field 22; comm may hold
    // spaces and parentheses, so count from the last ')'.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // A zombie (killed, not yet reaped by its parent) has stopped for good.
    if matches!(fields.next(), Some("Z" | "X")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(target_os = "linux")]
fn exists_without_start_time(_pid: u32) -> bool {
    // No /proc entry: the process is gone.
    false
}

#[cfg(windows)]
fn start_time(pid: u32) -> Option<i64> {
    use windows_sys::Win32::Foundation::{CloseHandle, FILETIME, STILL_ACTIVE};
    use windows_sys::Win32::System::Threading::{
        GetExitCodeProcess, GetProcessTimes, OpenProcess, PROCESS_QUERY_LIMITED_INFORMATION,
    };
    // SAFETY: plain Win32 calls on a handle this function opens and closes; the out-pointers
    // point at live locals.
    unsafe {
        let handle = OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid);
        if handle.is_null() {
            return None;
        }
        let mut code = 0u32;
        let running = GetExitCodeProcess(handle, &mut code) != 0 && code == STILL_ACTIVE as u32;
        let zero = FILETIME {
            dwLowDateTime: 0,
            dwHighDateTime: 0,
        };
        let (mut created, mut exited, mut kernel, mut user) = (zero, zero, zero, zero);
        let ok = GetProcessTimes(handle, &mut created, &mut exited, &mut kernel, &mut user) != 0;
        CloseHandle(handle);
        (running && ok).then(|| {
            ((u64::from(created.dwHighDateTime) << 32) | u64::from(created.dwLowDateTime)) as i64
        })
    }
}

#[cfg(windows)]
fn exists_without_start_time(_pid: u32) -> bool {
    false
}

#[cfg(not(any(target_os = "linux", windows)))]
fn start_time(_pid: u32) -> Option<i64> {
    None
}

#[cfg(not(any(target_os = "linux", windows)))]
fn exists_without_start_time(pid: u32) -> bool {
    // No start time to compare: ask `kill -0` whether the id is in use.
    std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_a_finished_one_is_not() {
        let (pid, started) = current();
        assert!(alive(pid, started));
        // A program that ends at once.
        let mut child = if cfg!(windows) {
            std::process::Command::new("cmd")
                .args(["/C", "exit"])
                .spawn()
                .unwrap()
        } else {
            std::process::Command::new("true").spawn().unwrap()
        };
        let child_pid = child.id();
        child.wait().unwrap();
        assert!(!alive(child_pid, 12345));
        // The same id with another start time is another process.
        if cfg!(any(target_os = "linux", windows)) {
            assert!(!alive(pid, started + 1));
        }
    }
}
