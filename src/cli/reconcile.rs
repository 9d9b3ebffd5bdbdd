//! `sheetbridge reconcile [--date YYYY-MM-DD] [--target T] [-o FILE.xlsx]`: the day's account
//! (daily.md): the counts per state, then every sample not confirmed nor uploaded by hand,
//! positives first, each with its state, reason and what to do; `-o` the same as a workbook.
//! Exit `0` all done, `4` some still on their way, `3` some need a person or a positive is not
//! confirmed, `2` it could not run.

use super::{EXIT_OK, EXIT_QUEUED, EXIT_SOME_REJECTED, Failure, Run, answer, say};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::upload::daily::{self, DayAccount, Sample, Verdict};
use std::path::PathBuf;

#[derive(Args)]
pub struct ReconcileArgs {
    /// 哪一天（YYYY-MM-DD，按采样时间）；不填则今天
    #[arg(long)]
    pub date: Option<String>,
    /// 只看这个上报目标（目标文件名，不带 .toml，或目标文件的路径）；不填则所有目标
    #[arg(short = 't', long)]
    pub target: Option<String>,
    /// 同时写出对账表（.xlsx：一张统计表、一张明细表）
    #[arg(short = 'o', long)]
    pub output: Option<PathBuf>,
}

/// The day asked for, as `YYYY-MM-DD`: refused with exit 2 when it is not a date.
fn day(args: &ReconcileArgs) -> Result<String, Failure> {
    match &args.date {
        None => Ok(chrono::Local::now().format("%Y-%m-%d").to_string()),
        Some(d) => chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .map_err(|_| {
                let d = sheetbridge::paths::for_line(d);
                Failure::new(
                    format!("日期「{d}」看不懂：请写成 2026-12-06 这样（年-月-日）。"),
                    format!("cannot read the date {d}: write it as YYYY-MM-DD"),
                )
            }),
    }
}

pub fn run(args: &ReconcileArgs, lang: Lang) -> Run {
    let date = day(args)?;
    let folders = super::folders();
    // A target named (a stem or a path) is loaded: its identity is what the record keeps.
    let target = match &args.target {
        Some(t) => Some(folders.target(t)?),
        None => None,
    };
    let ws = super::outbox::open(folders, lang)?;
    let account = ws.day_account(&date, target.as_ref())?;
    // Refused (not .xlsx, or a file the program handled) before anything is printed.
    let handled = ws.handled_files()?;
    if let Some(out) = &args.output {
        daily::refuse_account_path(out, &handled)?;
        super::will_write(out);
    }
    print(&account, lang);
    if let Some(out) = &args.output {
        daily::write_account(&account, out, lang, &handled)?;
        let shown = sheetbridge::paths::shown(out);
        say(
            lang,
            format!("已写出对账表：{shown}"),
            format!("wrote the account to {shown}"),
        );
    }
    Ok(exit_code(&account))
}

/// daily.md's exit codes.
pub fn exit_code(account: &DayAccount) -> u8 {
    match account.verdict() {
        Verdict::Done => EXIT_OK,
        Verdict::Pending => EXIT_QUEUED,
        Verdict::NeedsPerson => EXIT_SOME_REJECTED,
    }
}

fn print(account: &DayAccount, lang: Lang) {
    let target = account
        .target
        .as_deref()
        .map(sheetbridge::paths::for_line)
        .unwrap_or_else(|| lang.pick("全部目标", "every target").to_owned());
    let total = account.samples.len();
    answer(
        lang,
        format!("{} 对账（{target}）：共 {total} 个样本", account.date),
        format!("{} account ({target}): {total} samples", account.date),
    );
    let counts: Vec<String> = account
        .counts()
        .iter()
        .map(|(s, n)| format!("{} {n}", s.group_label(lang)))
        .collect();
    answer(lang, counts.join("，"), counts.join(", "));
    let positives = account.positives_waiting();
    if positives > 0 {
        answer(
            lang,
            format!("阳性 {positives} 人未上报：请先处理下面标「阳性」的样本。"),
            format!("{positives} positive not confirmed: deal with those marked positive first."),
        );
    }
    let open: Vec<&Sample> = account.open().collect();
    if open.is_empty() && total > 0 {
        answer(
            lang,
            "这一天的样本都已上报确认（或不需要上报）。",
            "every sample of the day is confirmed (or needs no upload).",
        );
    }
    if total == 0 {
        answer(
            lang,
            "这一天没有处理过的样本记录。",
            "no sample of this day was handled.",
        );
    }
    for s in open {
        println!("{}", super::console(&line(s, lang)));
    }
}

/// One sample, one line: positive mark, state, masked person, barcode, file and row, reason,
/// what to do.
pub fn line(s: &Sample, lang: Lang) -> String {
    let mark = if s.positive {
        lang.pick("【阳性】", "[POSITIVE] ")
    } else {
        ""
    };
    let file = sheetbridge::paths::for_line(&s.file);
    lang.pick(
        format!(
            "{mark}{}：{} {}，条码 {}，{}，文件「{file}」第 {} 行。{}。请：{}",
            s.state.zh(),
            s.name,
            s.id,
            sheetbridge::paths::for_line(&s.barcode),
            sheetbridge::paths::for_line(&s.target_name),
            s.row,
            s.reason(Lang::Zh),
            s.state.what_to_do(Lang::Zh)
        ),
        format!(
            "{mark}{}: {} {}, barcode {}, {}, {file} row {}. {}. To do: {}",
            s.state.en(),
            s.name,
            s.id,
            sheetbridge::paths::for_line(&s.barcode),
            sheetbridge::paths::for_line(&s.target_name),
            s.row,
            s.reason(Lang::En),
            s.state.what_to_do(Lang::En)
        ),
    )
}
