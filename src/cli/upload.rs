//! `sheetbridge upload FILE --target TARGET`: queue the file's ready rows (with the clerk's
//! saved edits and exclusions applied) as batches in the outbox, send what is due, and exit by
//! the state of the file's batches (target.md).

use super::{EXIT_NOTHING, EXIT_OK, EXIT_PERSON, EXIT_QUEUED, Failure, LoadArgs, Run, say};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::upload::client::Outcome;
use sheetbridge::upload::outbox::{BatchRecord, Lookup, Queued, State};
use sheetbridge::workspace::{self, FileState};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct UploadArgs {
    /// 上报表（convert 写出的）或城市系统的导出表（会先像 convert 一样转换）
    pub file: PathBuf,
    /// 上报目标：mappings/targets/ 或配置文件夹 targets/ 里的文件名（不带 .toml），或 .toml 文件路径
    #[arg(short = 't', long)]
    pub target: String,
    #[command(flatten)]
    pub load: LoadArgs,
    /// 失败后在本次运行中继续重试的最长秒数（默认 0：每批只试一次）
    #[arg(long, default_value_t = 0)]
    pub max_wait: u64,
}

fn date(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| {
            d.with_timezone(&chrono::Local)
                .format("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_default()
}

pub fn run(args: &UploadArgs, lang: Lang) -> Run {
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
    let batch = &batch;
    super::print_summary(batch, lang, 5);
    let ready = batch
        .rows_with(sheetbridge::batch::RowStatus::Ready)
        .count();
    let before = workspace::already_uploaded(batch);
    if ready == 0 && before == 0 {
        return Err(Failure::new(
            "没有可以上报的行（有错误的行、重复的行和不上报的行都不会上报）。没有排队任何批次。",
            "no row to upload (rows with errors, repeats and rows left out are not sent); nothing queued",
        ));
    }
    if before > 0 {
        let (zh, en) = match first_upload_date(&ws, batch) {
            Some(d) => (format!("（{d} 起）"), format!(" ({d})")),
            None => (String::new(), String::new()),
        };
        say(
            lang,
            format!("{before} 行已经上报过{zh}，不再重复上报。"),
            format!("{before} rows were uploaded before{en}, not sent again"),
        );
    }
    // Each batch with its own target's credentials (the environment, else remembered).
    let keys = super::credentials();
    let result = ws.upload(
        &target,
        batch,
        &keys,
        Duration::from_secs(args.max_wait),
        &mut |b: &BatchRecord, o: &Outcome| super::outbox::print_attempt(b, o, lang),
    )?;
    for q in &result.queued {
        say_queued(q, &result.batches, lang);
    }
    super::outbox::print_broken(&result.report, lang);
    let count = |s: State| result.batches.iter().filter(|b| b.state == s).count();
    let (confirmed, rejected, waiting) = (
        count(State::Confirmed),
        count(State::Rejected),
        count(State::Waiting),
    );
    let open = result.batches.len() - confirmed - rejected - waiting;
    let n = result.batches.len();
    say(
        lang,
        format!(
            "这个文件共 {n} 批：已确认 {confirmed}，被拒绝 {rejected}，待人工处理 {waiting}，未完成 {open}。"
        ),
        format!(
            "{n} batches of this file: {confirmed} confirmed, {rejected} rejected, {waiting} waiting for a person, {open} not done"
        ),
    );
    Ok(match result.state() {
        FileState::Nothing => EXIT_NOTHING,
        FileState::NeedsPerson => {
            say(
                lang,
                "有批次需要人工处理：用 sheetbridge outbox list 查看原因，核对后用 outbox retry 或 outbox forget。",
                "a batch needs a person: see `sheetbridge outbox list`",
            );
            EXIT_PERSON
        }
        FileState::Queued => {
            say(
                lang,
                "未完成的批次已保存，稍后可用 sheetbridge outbox send、再次运行这条命令或在窗口里继续发送。",
                "unfinished batches are kept; send them later with `sheetbridge outbox send` or by running this again",
            );
            EXIT_QUEUED
        }
        FileState::Done => EXIT_OK,
    })
}

/// What queueing one batch gave; a batch queued before is said as it was found, before this
/// run sent anything.
fn say_queued(q: &Queued, batches: &[BatchRecord], lang: Lang) {
    match q {
        Queued::New { id, rows } => say(
            lang,
            format!("批次 {id}：{rows} 行，已放入待上报队列。"),
            format!("batch {id}: {rows} rows queued"),
        ),
        Queued::Already { id, state } => {
            let Some(b) = batches.iter().find(|b| &b.id == id) else {
                return;
            };
            if *state == State::Confirmed {
                let at = b.confirmed_at.map(date).unwrap_or_default();
                say(
                    lang,
                    format!("批次 {id}：这些行 {at} 已经上报过，省平台已确认。"),
                    format!("batch {id}: uploaded before ({at}), confirmed"),
                );
            } else {
                say(
                    lang,
                    format!(
                        "批次 {id}：之前已放入队列（「{}」），不重复排队，现在「{}」。",
                        state.zh(),
                        b.state.zh()
                    ),
                    format!(
                        "batch {id}: queued before ({}), not queued again; now {}",
                        state.as_str(),
                        b.state.as_str()
                    ),
                );
            }
        }
    }
}

/// When the first of the batch's rows already uploaded was confirmed (from the ledger).
fn first_upload_date(
    ws: &sheetbridge::workspace::Workspace,
    batch: &sheetbridge::batch::Batch,
) -> Option<String> {
    let barcode = batch.profile().roles.barcode?;
    let row = (0..batch.len()).find(|&i| {
        batch
            .issues(i)
            .iter()
            .any(|x| x.code == sheetbridge::issue::Code::AlreadyUploaded)
    })?;
    let entries = ws
        .ledger_lookup(&Lookup::Barcode(
            batch.output_value(row, barcode).to_owned(),
        ))
        .ok()?;
    entries
        .iter()
        .filter_map(|e| e.confirmed_at)
        .min()
        .map(date)
}
