//! `sheetbridge mark-uploaded SHEET.xlsx --target T`: the clerk uploaded the sheet on the
//! platform's website by hand (a captcha at login): its rows become 已手工上报 in the day's
//! account and are `already_uploaded` for that target from then on, like confirmed rows, so
//! they are never sent again (daily.md).

use super::{EXIT_NOTHING, EXIT_OK, Failure, LoadArgs, Run, answer};
use clap::Args;
use sheetbridge::issue::Lang;
use std::path::PathBuf;

#[derive(Args)]
pub struct MarkUploadedArgs {
    /// 已在省平台网站上手工上传的上报表（convert 写出的）
    #[arg(value_name = "SHEET")]
    pub file: PathBuf,
    /// 上传到的上报目标（目标文件名，不带 .toml，或 .toml 文件路径）
    #[arg(short = 't', long)]
    pub target: String,
    #[command(flatten)]
    pub load: LoadArgs,
}

pub fn run(args: &MarkUploadedArgs, lang: Lang) -> Run {
    let folders = super::folders();
    let target = folders.target(&args.target)?;
    let mut ws = super::outbox::open(folders.clone(), lang)?;
    let batch = super::load(
        &folders,
        &args.file,
        args.load.options(),
        Some(&target),
        lang,
    )?;
    let s = batch.summary();
    let before = sheetbridge::workspace::already_uploaded(&batch);
    if s.ready == 0 && before > 0 {
        // Said before (or sent since): nothing to change, and that is fine.
        answer(
            lang,
            format!("这个表的 {before} 行已经是已上报（或已手工上报）的，不用再记。"),
            format!("the {before} rows of this sheet are already uploaded; nothing to mark"),
        );
        return Ok(EXIT_OK);
    }
    if s.ready == 0 {
        return Err(Failure::new(
            "这个表里没有可以记为已上报的行（有错误的行、重复的行和已上报过的行不算）。什么也没有记。",
            "no row of this sheet can be marked uploaded (rows with errors, repeats and rows uploaded before do not count); nothing marked",
        )
        .with_code(EXIT_NOTHING));
    }
    let n = ws.mark_uploaded(&target, &batch)?;
    let name = sheetbridge::paths::shown_name(&args.file);
    let t = sheetbridge::paths::for_line(&target.name);
    answer(
        lang,
        format!(
            "已记下：「{name}」的 {n} 行已在「{t}」网站上手工上报。今天的对账里它们算已上报，以后不会再发送。"
        ),
        format!(
            "marked: {n} rows of {name} were uploaded by hand to {t}; they count as done and will not be sent again"
        ),
    );
    Ok(EXIT_OK)
}
