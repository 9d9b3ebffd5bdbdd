//! `sheetbridge upload FILE --target TARGET`: queue the file's ready rows as batches in the
//! outbox, then send what is due (target.md).

use super::{EXIT_NOTHING, EXIT_OK, EXIT_QUEUED};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::pipeline::{self, Options};
use sheetbridge::profile::Profiles;
use sheetbridge::upload::client::Credentials;
use sheetbridge::upload::outbox::{Queued, State};
use sheetbridge::upload::send::{SendOptions, send_due};
use sheetbridge::upload::target::{self, Target};
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Args)]
pub struct UploadArgs {
    /// 上报表（convert 写出的）或城市系统的导出表（会先像 convert 一样转换）
    pub file: PathBuf,
    /// 上报目标：mappings/targets/ 或配置文件夹 targets/ 里的文件名（不带 .toml），或 .toml 文件路径
    #[arg(short = 't', long)]
    pub target: String,
    /// 模板名称或 .toml 文件路径；不填则自动识别
    #[arg(short = 'p', long = "profile")]
    pub profile: Option<String>,
    /// 读取哪个工作表；不填则自动选择
    #[arg(long)]
    pub sheet: Option<String>,
    /// 本院名称：检测机构为空时填入
    #[arg(long, env = "SHEETBRIDGE_LAB")]
    pub lab: Option<String>,
    /// 失败后在本次运行中继续重试的最长秒数（默认 0：每批只试一次）
    #[arg(long, default_value_t = 0)]
    pub max_wait: u64,
}

pub fn run(args: &UploadArgs, lang: Lang) -> u8 {
    let zh = lang == Lang::Zh;
    let target = match Target::find(&args.target, target::user_dir().as_deref()) {
        Ok(t) => t,
        Err(e) => {
            sheetbridge::log::event::error(&e.english());
            match lang {
                Lang::Zh => eprintln!("错误：{e}"),
                Lang::En => eprintln!("error: {}", e.english()),
            }
            return EXIT_NOTHING;
        }
    };
    let Some(mut outbox) = super::outbox::open(lang) else {
        return EXIT_NOTHING;
    };
    let ledger = match outbox.ledger() {
        Ok(l) => l,
        Err(e) => {
            super::outbox::print_error(&e, lang);
            return EXIT_NOTHING;
        }
    };
    let profiles = Profiles::load(sheetbridge::paths::profiles_dir().as_deref());
    let opts = Options {
        sheet: args.sheet.clone(),
        profile: args.profile.clone(),
        lab: args.lab.clone(),
        ledger: Some(Arc::new(ledger)),
        ..Options::default()
    };
    let batch = match pipeline::load(&args.file, &profiles, &opts, &()) {
        Ok(b) => b,
        Err(e) => {
            match lang {
                Lang::Zh => eprintln!("错误：{e}"),
                Lang::En => eprintln!("error: {}", e.english()),
            }
            return EXIT_NOTHING;
        }
    };
    super::print_summary(&batch, lang, 5);
    let rows: Vec<usize> = batch
        .rows_with(sheetbridge::batch::RowStatus::Ready)
        .collect();
    if rows.is_empty() {
        if zh {
            eprintln!(
                "没有可以上报的行（有错误的行、重复的行和已经上报过的行都不会上报）。没有排队任何批次。"
            );
        } else {
            eprintln!(
                "no row to upload (rows with errors, repeats and rows already uploaded are left out); nothing queued"
            );
        }
        return EXIT_NOTHING;
    }
    let queued = match outbox.queue(&target, &batch, &rows) {
        Ok(q) => q,
        Err(e) => {
            super::outbox::print_error(&e, lang);
            return EXIT_NOTHING;
        }
    };
    let mut new = HashSet::new();
    for q in &queued {
        let (rows, is_new) = match q {
            Queued::New { rows, .. } => (*rows, true),
            Queued::Already { .. } => (0, false),
        };
        sheetbridge::log::event::queued(q.id(), &args.target, rows, is_new);
        match q {
            Queued::New { id, rows } => {
                new.insert(id.clone());
                if zh {
                    eprintln!("批次 {id}：{rows} 行，已放入待上报队列。");
                } else {
                    eprintln!("batch {id}: {rows} rows queued");
                }
            }
            Queued::Already { id, state } => {
                if zh {
                    eprintln!(
                        "批次 {id}：同样的数据之前已放入队列（现在「{}」），不再重复排队。",
                        state.zh()
                    );
                } else {
                    eprintln!(
                        "batch {id}: the same rows were queued before ({}), not queued again",
                        state.as_str()
                    );
                }
            }
        }
    }
    if new.is_empty() {
        if zh {
            eprintln!("没有新的批次：这些数据已经排队或上报过。用 sheetbridge outbox list 查看。");
        } else {
            eprintln!("nothing new to queue: these rows were queued or sent before");
        }
        return EXIT_NOTHING;
    }
    let send = SendOptions {
        max_wait: Duration::from_secs(args.max_wait),
        only: None,
        wake: None,
    };
    let creds = Credentials::from_env();
    let report = match send_due(&mut outbox, &creds, &send, &mut |b, o| {
        super::outbox::print_attempt(b, o, lang)
    }) {
        Ok(r) => r,
        Err(e) => {
            super::outbox::print_error(&e, lang);
            return EXIT_NOTHING;
        }
    };
    super::outbox::print_broken(&report, lang);
    let mut states = Vec::new();
    for id in &new {
        match outbox.get(id) {
            Ok(Some(b)) => states.push(b.state),
            Ok(None) => {}
            Err(e) => {
                super::outbox::print_error(&e, lang);
                return EXIT_NOTHING;
            }
        }
    }
    let confirmed = states.iter().filter(|s| **s == State::Confirmed).count();
    let rejected = states.iter().filter(|s| **s == State::Rejected).count();
    let open = states.len() - confirmed - rejected;
    if zh {
        eprintln!(
            "本次共 {} 批：已确认 {confirmed}，被拒绝 {rejected}，未完成 {open}。",
            states.len()
        );
    } else {
        eprintln!(
            "{} batches: {confirmed} confirmed, {rejected} rejected, {open} not done",
            states.len()
        );
    }
    if report.login_refused.is_some() || rejected > 0 {
        EXIT_NOTHING
    } else if open > 0 {
        if zh {
            eprintln!("未完成的批次已保存，稍后可用 sheetbridge outbox send 或在窗口里继续发送。");
        } else {
            eprintln!(
                "unfinished batches are kept; send them later with `sheetbridge outbox send`"
            );
        }
        EXIT_QUEUED
    } else {
        EXIT_OK
    }
}
