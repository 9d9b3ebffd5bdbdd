//! `sheetbridge outbox list|send|retry|forget`: the batches waiting for the platform, and a
//! person's decisions about them (target.md).

use super::{EXIT_NOTHING, EXIT_OK, EXIT_QUEUED};
use clap::Subcommand;
use sheetbridge::issue::Lang;
use sheetbridge::upload::client::{Credentials, Outcome};
use sheetbridge::upload::outbox::{BatchRecord, Outbox, OutboxError};
use sheetbridge::upload::send::{SendOptions, SendReport, send_due};
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

pub fn run(cmd: &OutboxCommand, lang: Lang) -> u8 {
    let Some(mut outbox) = open(lang) else {
        return EXIT_NOTHING;
    };
    let result = match cmd {
        OutboxCommand::List => list(&outbox),
        OutboxCommand::Send { max_wait } => return send(&mut outbox, *max_wait, lang),
        OutboxCommand::Retry { id } => outbox.retry(id).map(|()| {
            match lang {
                Lang::Zh => eprintln!("批次 {id} 已重新排队，下次发送时会发出。"),
                Lang::En => eprintln!("batch {id} queued again"),
            }
            EXIT_OK
        }),
        OutboxCommand::Forget { id } => outbox.forget(id).map(|()| {
            match lang {
                Lang::Zh => eprintln!("批次 {id} 已放弃并删除。"),
                Lang::En => eprintln!("batch {id} forgotten"),
            }
            EXIT_OK
        }),
    };
    result.unwrap_or_else(|e| {
        print_error(&e, lang);
        EXIT_NOTHING
    })
}

/// Opens the outbox, saying what a crash left behind; prints and gives `None` on failure.
pub fn open(lang: Lang) -> Option<Outbox> {
    match Outbox::open_default() {
        Ok((outbox, rec)) => {
            if rec.requeued + rec.to_waiting > 0 {
                match lang {
                    Lang::Zh => eprintln!(
                        "上次发送时程序中断：{} 个批次将重新发送，{} 个批次需要人工核对。",
                        rec.requeued, rec.to_waiting
                    ),
                    Lang::En => eprintln!(
                        "an earlier run was interrupted while sending: {} batches will be resent, {} wait for a person",
                        rec.requeued, rec.to_waiting
                    ),
                }
            }
            Some(outbox)
        }
        Err(e) => {
            print_error(&e, lang);
            None
        }
    }
}

pub fn print_error(e: &OutboxError, lang: Lang) {
    sheetbridge::log::event::error(&e.english());
    match lang {
        Lang::Zh => eprintln!("错误：{e}"),
        Lang::En => eprintln!("error: {}", e.english()),
    }
}

/// One line per attempt.
pub fn print_attempt(b: &BatchRecord, o: &Outcome, lang: Lang) {
    match lang {
        Lang::Zh => eprintln!("批次 {}（{} 行）：{}", b.id, b.rows, o.zh),
        Lang::En => eprintln!("batch {} ({} rows): {}", b.id, b.rows, o.en),
    }
}

/// Targets that could not be loaded during a send.
pub fn print_broken(report: &SendReport, lang: Lang) {
    for e in &report.broken_targets {
        sheetbridge::log::event::error(&e.english());
        match lang {
            Lang::Zh => eprintln!("错误：{e}（用这个目标的批次仍在队列中）"),
            Lang::En => eprintln!("error: {} (its batches stay queued)", e.english()),
        }
    }
}

fn list(outbox: &Outbox) -> Result<u8, OutboxError> {
    let all = outbox.list()?;
    for b in &all {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            b.id,
            b.target,
            b.rows,
            b.state.as_str(),
            b.attempts,
            b.last_error
                .as_deref()
                .unwrap_or("")
                .replace(['\n', '\t'], " ")
        );
    }
    Ok(EXIT_OK)
}

fn send(outbox: &mut Outbox, max_wait: u64, lang: Lang) -> u8 {
    let opts = SendOptions {
        max_wait: Duration::from_secs(max_wait),
        only: None,
        wake: None,
    };
    let creds = Credentials::from_env();
    let report = match send_due(outbox, &creds, &opts, &mut |b, o| print_attempt(b, o, lang)) {
        Ok(r) => r,
        Err(e) => {
            print_error(&e, lang);
            return EXIT_QUEUED;
        }
    };
    print_broken(&report, lang);
    let left = match outbox.queued() {
        Ok(q) => q.len(),
        Err(e) => {
            print_error(&e, lang);
            return EXIT_QUEUED;
        }
    };
    if left == 0 {
        EXIT_OK
    } else {
        match lang {
            Lang::Zh => eprintln!("还有 {left} 个批次在队列中，稍后会再发送。"),
            Lang::En => eprintln!("{left} batches are still queued"),
        }
        EXIT_QUEUED
    }
}
