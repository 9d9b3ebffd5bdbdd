//! `sheetbridge convert`: read, check and write the upload sheet (and the rejected rows).

use super::{EXIT_NOTHING, EXIT_OK, EXIT_SOME_REJECTED, InputArgs, Run, say};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::message::Localized;
use sheetbridge::paths::shown;
use sheetbridge::pipeline::Options;
use sheetbridge::write;
use sheetbridge::write::early::EarlyUpload;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Args)]
pub struct ConvertArgs {
    #[command(flatten)]
    pub input: InputArgs,
    /// 上报表写到这里（.xlsx 或 .csv）；默认在原文件旁边，名为「原文件名_上报.xlsx」
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    /// 另外把有错误的行（原样，加一列「错误原因」）写到这个 .xlsx 文件
    #[arg(long = "errors-out")]
    pub errors_out: Option<PathBuf>,
}

pub fn run(args: &ConvertArgs, lang: Lang) -> Run {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| write::default_output(&args.input.input));
    let outputs: Vec<&std::path::Path> = std::iter::once(output.as_path())
        .chain(args.errors_out.as_deref())
        .chain(args.input.report.as_deref())
        .collect();
    super::refuse_source(&args.input.input, &outputs)?;
    for path in &outputs {
        super::will_write(path);
    }
    let folders = super::folders();
    let target = super::ledger_target(&folders, args.input.target.as_deref())?;
    // The upload sheet is written on the second core while the file is read (write::early).
    let early = Arc::new(EarlyUpload::new(&output));
    let options = Options {
        early: Some(Arc::clone(&early) as _),
        ..args.input.load.options()
    };
    let batch = super::load(&folders, &args.input.input, options, target.as_ref(), lang)?;
    // `convert --target`: the rows are in the day's record (未上传 until uploaded).
    if let (Some(_), Some(t), Some(_)) = (&folders.data, &target, &args.input.target) {
        let recorded = sheetbridge::workspace::Workspace::open(folders.clone(), super::keep_days())
            .and_then(|mut ws| ws.record(t, &batch));
        if let Err(e) = recorded {
            say(
                lang,
                format!("提醒：没能记入今日对账（{}）", e.text(Lang::Zh)),
                format!(
                    "warning: not recorded in the day's account ({})",
                    e.text(Lang::En)
                ),
            );
        }
    }
    let s = batch.summary();
    let mut code = if s.rejected + s.excluded > 0 {
        EXIT_SOME_REJECTED
    } else {
        EXIT_OK
    };

    super::print_summary(
        &batch,
        lang,
        if args.input.report.is_some() { 0 } else { 20 },
    );

    // Each file written is recorded at once as the program's own output (never taken as input
    // by a watched folder, under any name).
    let record = |path: &std::path::Path| {
        if let Some(data) = &folders.data {
            record_output(data, path, lang);
        }
    };
    // Every file is written aside first and put in place only when all of them are written: a
    // failure of one leaves none (exit 2: nothing written, cli.md).
    let upload = if s.ready == 0 {
        say(
            lang,
            "没有一行可以上报，所以没有写出上报表。请按上面的提示改正后再试。",
            "not one row is valid, so no upload sheet was written.",
        );
        code = EXIT_NOTHING;
        // The early sheet (no rows, or rows the batch rules took out) is removed.
        drop(early);
        None
    } else {
        Some(early.finish_aside(&batch)?)
    };
    let rejected = match &args.errors_out {
        Some(path) if s.rejected == 0 => {
            say(
                lang,
                format!("没有错误行，未写出「{}」。", shown(path)),
                format!("no rejected rows; {} not written.", shown(path)),
            );
            None
        }
        Some(path) => Some((path, write::rejected_aside(&batch, path, lang)?)),
        None => None,
    };
    let report = match &args.input.report {
        Some(path) => Some(super::output::report_aside(&batch, path, lang)?),
        None => None,
    };

    // In place, in order: the report last, after every file it describes exists (cli.md).
    if let Some(sheet) = upload {
        let n = sheet.commit()?;
        record(&output);
        say(
            lang,
            format!("已写出上报表：{}（{n} 行）", shown(&output)),
            format!("wrote {} ({n} rows)", shown(&output)),
        );
    }
    if let Some((path, sheet)) = rejected {
        let n = sheet.commit()?;
        record(path);
        say(
            lang,
            format!("已写出错误行：{}（{n} 行，改好后可重新转换）", shown(path)),
            format!("wrote the rejected rows to {} ({n} rows)", shown(path)),
        );
    }
    if let Some(report) = report {
        report.commit()?;
    }
    Ok(code)
}

/// Records a file written in the journal of the program's outputs. A failure is said (the file
/// is written and stays); a folder watched later could then take it.
fn record_output(data_dir: &std::path::Path, written: &std::path::Path, lang: Lang) {
    if let Err(e) = sheetbridge::unattended::journal::record_written(data_dir, &[written]) {
        let (zh, en) = (e.text(Lang::Zh), e.text(Lang::En));
        say(
            lang,
            format!(
                "提醒：没能记下本次写出的文件（{zh}），如果把它们放进自动上报的文件夹，可能会被当成导出表上报。"
            ),
            format!("warning: the files written were not recorded as outputs ({en})"),
        );
    }
}
