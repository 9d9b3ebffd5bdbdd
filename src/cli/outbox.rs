//! `sheetbridge outbox list|send|retry|forget`: the batches waiting for the platform, and a
//! person's decisions about them (target.md).

use super::{EXIT_NOTHING, EXIT_OK, EXIT_PERSON, EXIT_QUEUED, Failure, Run, say};
use clap::Subcommand;
use sheetbridge::issue::Lang;
use sheetbridge::message::Localized;
use sheetbridge::upload::client::Outcome;
use sheetbridge::upload::outbox::{BatchRecord, OutboxError, State};
use sheetbridge::upload::send::SendReport;
use sheetbridge::workspace::{Folders, Workspace};
use std::time::Duration;

#[derive(Subcommand)]
pub enum OutboxCommand {
    /// 每个批次一行：编号、目标、行数、状态、尝试次数、最后的错误
    List,
    /// 发送所有到期的批次
    Send {
        /// 失败后在本次运行中继续重试的最长秒数（默认 0：每批只试一次）
        #[arg(long, default_value_t = 0)]
        max_wait: u64,
    },
    /// 重发一个「待人工处理」或「被拒绝」的批次
    Retry {
        /// 批次编号（见 outbox list）
        id: String,
    },
    /// 放弃一个「待人工处理」或「被拒绝」的批次（删除它和它的文件）
    Forget {
        /// 批次编号（见 outbox list）
        id: String,
    },
}

pub fn run(cmd: &OutboxCommand, lang: Lang) -> Run {
    let mut ws = open(super::folders(), lang)?;
    match cmd {
        OutboxCommand::List => list(&mut ws),
        OutboxCommand::Send { max_wait } => send(&mut ws, *max_wait, lang),
        OutboxCommand::Retry { id } => {
            ws.batches().retry(id)?;
            say(
                lang,
                format!("批次 {id} 已重新排队，下次发送时会发出。"),
                format!("batch {id} queued again"),
            );
            Ok(EXIT_OK)
        }
        OutboxCommand::Forget { id } => {
            ws.batches().forget(id)?;
            say(
                lang,
                format!("批次 {id} 已放弃并删除。"),
                format!("batch {id} forgotten"),
            );
            Ok(EXIT_OK)
        }
    }
}

/// Opens this process's workspace (once), saying what opening found: batches a program that
/// died left behind, a database migrated, batch files moved aside.
pub fn open(folders: Folders, lang: Lang) -> Result<Workspace, Failure> {
    let ws = Workspace::open(folders, super::keep_days())?;
    let rec = ws.recovery();
    if rec.requeued + rec.to_waiting > 0 {
        say(
            lang,
            format!(
                "上次发送时程序中断：{} 个批次将重新发送，{} 个批次需要人工核对。",
                rec.requeued, rec.to_waiting
            ),
            format!(
                "an earlier run was interrupted while sending: {} batches will be resent, {} wait for a person",
                rec.requeued, rec.to_waiting
            ),
        );
    }
    if let Some((folder, n)) = &rec.quarantined {
        say(
            lang,
            format!(
                "注意：待上报数据库不见了、是空的或读不了，但还有 {n} 个待上报文件。为免丢失，已把它们移到「{}」，没有删除。请对其中每个文件运行 sheetbridge upload 文件 --target 目标 重新排队（省平台已收到的行不会重复上报，如果目标支持幂等键）。",
                sheetbridge::paths::shown(folder)
            ),
            format!(
                "note: the outbox database was missing, empty or unreadable while {n} batch files were there; they were moved to {} (nothing deleted). Queue each again with `sheetbridge upload FILE --target TARGET`.",
                sheetbridge::paths::shown(folder)
            ),
        );
    }
    if let Some(from) = rec.migrated_from {
        say(
            lang,
            format!("待上报数据库已从版本 {from} 升级，队列和已上报记录都保留。"),
            format!("the outbox database was migrated from schema {from}; queue and ledger kept"),
        );
    }
    Ok(ws)
}

/// One line per attempt.
pub fn print_attempt(b: &BatchRecord, o: &Outcome, lang: Lang) {
    let (id, rows) = (&b.id, b.rows);
    say(
        lang,
        format!("批次 {id}（{rows} 行）：{}", o.zh),
        format!("batch {id} ({rows} rows): {}", o.en),
    );
}

/// Targets that could not be loaded during a send.
pub fn print_broken(report: &SendReport, lang: Lang) {
    for e in &report.broken_targets {
        sheetbridge::log::event::error(&e.english());
        say(
            lang,
            format!("错误：{e}（用这个目标的批次仍在队列中）"),
            format!("error: {} (its batches stay queued)", e.english()),
        );
    }
}

fn list(ws: &mut Workspace) -> Run {
    let all = ws.batches().list()?;
    for b in &all {
        println!(
            "{}",
            super::columns(&[
                &b.id,
                &b.target,
                &b.rows.to_string(),
                b.state.as_str(),
                &b.attempts.to_string(),
                &b.last_error
                    .as_deref()
                    .unwrap_or("")
                    .replace(['\n', '\t'], " "),
            ])
        );
    }
    Ok(EXIT_OK)
}

/// The exit code of a whole outbox (target.md, "Exit codes"): `5` when a batch needs a person,
/// `4` when batches are still queued or being sent, else `0`.
pub fn outbox_exit(all: &[BatchRecord]) -> u8 {
    if all
        .iter()
        .any(|b| matches!(b.state, State::Rejected | State::Waiting))
    {
        EXIT_PERSON
    } else if all
        .iter()
        .any(|b| matches!(b.state, State::Queued | State::Sending))
    {
        EXIT_QUEUED
    } else {
        EXIT_OK
    }
}

fn send(ws: &mut Workspace, max_wait: u64, lang: Lang) -> Run {
    // Each batch with its own target's credentials (the environment, else remembered).
    let keys = super::credentials();
    // What stops a send leaves its batches queued (exit 4), not lost.
    let queued = |e: OutboxError| Failure::from(e).with_code(EXIT_QUEUED);
    let report = ws
        .send(
            &keys,
            Duration::from_secs(max_wait),
            None,
            &mut |b: &BatchRecord, o: &Outcome| print_attempt(b, o, lang),
        )
        .map_err(queued)?;
    print_broken(&report, lang);
    if report.login_refused.is_some() {
        return Ok(EXIT_NOTHING);
    }
    let all = ws.batches().list().map_err(queued)?;
    let count = |s: State| all.iter().filter(|b| b.state == s).count();
    let (queued, person) = (
        count(State::Queued) + count(State::Sending),
        count(State::Waiting) + count(State::Rejected),
    );
    if person > 0 {
        say(
            lang,
            format!(
                "有 {person} 个批次需要人工处理（被省平台拒绝，或不知道省平台是否已收到）：用 sheetbridge outbox list 查看，核对后用 outbox retry 或 outbox forget。"
            ),
            format!("{person} batches need a person: see `sheetbridge outbox list`"),
        );
    }
    if queued > 0 {
        say(
            lang,
            format!("还有 {queued} 个批次在队列中，稍后会再发送。"),
            format!("{queued} batches are still queued"),
        );
    }
    Ok(outbox_exit(&all))
}
