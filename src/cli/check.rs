//! `sheetbridge check`: like convert, but writes nothing except the report.

use super::{EXIT_NOTHING, EXIT_OK, EXIT_SOME_REJECTED, InputArgs, Run};
use clap::Args;
use sheetbridge::issue::Lang;

#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub input: InputArgs,
}

pub fn run(args: &CheckArgs, lang: Lang) -> Run {
    let args = &args.input;
    if let Some(report) = &args.report {
        super::refuse_source(&args.input, &[report.as_path()])?;
    }
    let folders = super::folders();
    let target = super::ledger_target(&folders, args.target.as_deref())?;
    let batch = super::load(
        &folders,
        &args.input,
        args.load.options(),
        target.as_ref(),
        lang,
    )?;
    match &args.report {
        Some(path) => {
            super::write_report(&batch, path, lang)?;
            super::print_summary(&batch, lang, 0);
        }
        None => super::print_summary(&batch, lang, 20),
    }
    let s = batch.summary();
    Ok(if s.ready == 0 {
        EXIT_NOTHING
    } else if s.rejected + s.excluded > 0 {
        EXIT_SOME_REJECTED
    } else {
        EXIT_OK
    })
}
