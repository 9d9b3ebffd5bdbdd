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
    allocator::give_back_at_once();
    // A panic the library catches (calamine on a damaged file) goes to the log, not the console.
    sheetbridge::log::install_panic_hook();
    #[cfg(windows)]
    if std::env::args_os().len() > 1 {
        console::attach_parent();
    }
    cli::main()
}

/// How mimalloc gives memory back. By default it keeps freed memory committed for a while and,
/// with its arenas committed eagerly, only marks it free (the system takes it back lazily), so a
/// conversion's resident memory grows with what was freed: the reader's cells, the rows in
/// flight. Purged at once, and from arenas committed on demand (all but the first, made before
/// `main`), a 1,000,000-row `convert` peaks at about 236 MiB instead of 278 MiB, in the same
/// time (measured; README, speed).
mod allocator {
    use libmimalloc_sys as mi;

    /// mimalloc 3's option numbers (`mi_option_e` in the bundled `mimalloc.h` of
    /// libmimalloc-sys 0.1.49; the crate names only some of them). `the_option_numbers_are_
    /// mimallocs` checks them by their defaults, so a renumbering fails the tests.
    const ARENA_EAGER_COMMIT: mi::mi_option_t = 4;
    const PURGE_DELAY: mi::mi_option_t = 15;

    pub fn give_back_at_once() {
        // SAFETY: mi_option_set stores a number in mimalloc's option table; any value is
        // valid for these two options and it has no other precondition.
        unsafe {
            mi::mi_option_set(ARENA_EAGER_COMMIT, 0);
            mi::mi_option_set(PURGE_DELAY, 0);
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_option_numbers_are_mimallocs() {
            // mimalloc 3's defaults (options.c): eager commit on overcommitting systems (2),
            // purging after 1000 ms. (Nothing in the test binary sets them.)
            // SAFETY: mi_option_get reads mimalloc's option table.
            let (commit, delay) = unsafe {
                (
                    mi::mi_option_get(ARENA_EAGER_COMMIT),
                    mi::mi_option_get(PURGE_DELAY),
                )
            };
            assert_eq!((commit, delay), (2, 1000));
        }
    }
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
