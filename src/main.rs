//! `sheetbridge`: with a subcommand it runs headless (see cli.md); the library does the work.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
