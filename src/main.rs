//! `sheetbridge`: with a subcommand it runs headless (see cli.md); with none it opens the window.
//! The library does the work.

// On Windows a double-click opens the window without a console; `sheetbridge convert ...` typed
// in a terminal attaches to that terminal so its output is still printed (see `console`).
#![cfg_attr(windows, windows_subsystem = "windows")]

use std::process::ExitCode;

mod app;
mod cli;

/// mimalloc rather than the system allocator: faster on the many small strings a conversion
/// makes and frees across the reader and checker threads (see Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // A panic the library catches (calamine on a damaged file) goes to the log, not the console.
    sheetbridge::log::install_panic_hook();
    #[cfg(windows)]
    if std::env::args_os().len() > 1 {
        console::attach_parent();
    }
    cli::main()
}

#[cfg(windows)]
mod console {
    /// Attaches to the console of the terminal that started us, if any, so that standard
    /// output and error reach it although the program is built as a window program.
    pub fn attach_parent() {
        use windows_sys::Win32::System::Console::{ATTACH_PARENT_PROCESS, AttachConsole};
        // SAFETY: AttachConsole takes a process id and has no memory-safety preconditions; when
        // there is no parent console it fails and nothing changes.
        unsafe {
            AttachConsole(ATTACH_PARENT_PROCESS);
        }
    }
}
