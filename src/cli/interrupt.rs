//! A headless run stopped (Ctrl+C, SIGTERM, the console closed, a closed pipe): our temporary
//! files removed and the exit code cli.md gives.

use super::{EXIT_INTERRUPTED, EXIT_NOTHING};
use sheetbridge::issue::Lang;
use std::path::PathBuf;

/// The folders our temporary files may be in, for the Ctrl+C handler.
static TEMP_FOLDERS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Notes that a file will be written at `path`: if the run is stopped (Ctrl+C, SIGTERM, the
/// console closed), the temporary files of this process in its folder are removed.
pub fn will_write(path: &std::path::Path) {
    if let Ok(mut folders) = TEMP_FOLDERS.lock() {
        let folder = sheetbridge::write::folder_of(path);
        if !folders.contains(&folder) {
            folders.push(folder);
        }
    }
}

/// Removes this process's temporary files in the folders noted by [`will_write`].
fn remove_our_temp_files() {
    let folders = TEMP_FOLDERS.lock().map(|f| f.clone()).unwrap_or_default();
    for folder in &folders {
        sheetbridge::write::remove_temp_files(folder);
    }
}

/// For a headless run: Ctrl+C removes our temporary files and exits 130 (cli.md), and a
/// closed standard output ends the run quietly instead of a panic on the next print.
pub(super) fn headless_signals(lang: Lang) {
    // Failing to install the handler only loses the clean-up on Ctrl+C: not worth stopping for.
    let _ = ctrlc::set_handler(|| {
        remove_our_temp_files();
        std::process::exit(EXIT_INTERRUPTED);
    });
    #[cfg(unix)]
    // SAFETY: restores the default action of SIGPIPE (end the process), as for any command-line
    // tool; no handler runs. Sockets are written with MSG_NOSIGNAL by std, so uploads are not
    // affected.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    failed_output_ends_the_run(lang);
}

/// A print that fails makes `println!` panic. To a closed pipe (`sheetbridge outbox list |
/// more`, the reader quit; Windows has no SIGPIPE) the run ends as Ctrl+C ends it: temporary
/// files removed, exit 130, no message. Any other failure (a full disk under `> file`) is said
/// in one line and exits 2. Any other panic is reported as before.
fn failed_output_ends_the_run(lang: Lang) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let Some(message) = info
            .payload_as_str()
            .filter(|m| m.starts_with("failed printing to std"))
        else {
            return previous(info);
        };
        remove_our_temp_files();
        // EPIPE on Unix; ERROR_BROKEN_PIPE, ERROR_NO_DATA and ERROR_PIPE_NOT_CONNECTED on
        // Windows.
        let closed = message.contains("Broken pipe")
            || ["32", "109", "232", "233"]
                .iter()
                .any(|code| message.contains(&format!("(os error {code})")));
        if closed {
            std::process::exit(EXIT_INTERRUPTED);
        }
        sheetbridge::log::event::error(message);
        let detail = message.split_once(": ").map_or(message, |(_, d)| d);
        let zh_detail = if detail.contains("os error 28") {
            "磁盘已满"
        } else {
            detail
        };
        let line = lang.pick(
            format!("错误：结果没能写出（{zh_detail}）。请检查磁盘空间或输出去向后再试。\n"),
            format!("error: the output could not be written ({detail})\n"),
        );
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line.as_bytes());
        std::process::exit(i32::from(EXIT_NOTHING));
    }));
}
