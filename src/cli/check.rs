//! `sheetbridge check`: like convert, but writes nothing except the report.

use super::{EXIT_NOTHING, EXIT_OK, EXIT_SOME_REJECTED, InputArgs};
use clap::Args;
use sheetbridge::issue::Lang;

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: &CheckArgs, lang: Lang) -> u8 {
    if let Some(report) = &args.input.report
        && super::refuse_source(&args.input.input, &[report.as_path()], lang)
    {
        return EXIT_NOTHING;
    }
    let Some(batch) = super::load(&args.input, lang) else {
        return EXIT_NOTHING;
    };
    match &args.input.report {
        Some(path) => {
            if !super::write_report(&batch, path, lang) {
                return EXIT_NOTHING;
            }
            super::print_summary(&batch, lang, 0);
        }
        None => super::print_summary(&batch, lang, 20),
    }
    let s = batch.summary();
    if s.ready == 0 {
        EXIT_NOTHING
    } else if s.rejected + s.excluded > 0 {
        EXIT_SOME_REJECTED
    } else {
        EXIT_OK
    }
}
