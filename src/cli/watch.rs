//! `sheetbridge watch FOLDER --target TARGET [--once]`: sends every file that lands in FOLDER
//! without a click, and brings the ones that need a decision to `需要处理/` (unattended.md).

use super::{
    EXIT_NOTHING, EXIT_OK, EXIT_PERSON, EXIT_QUEUED, EXIT_SOME_REJECTED, Failure, Run, answer, say,
};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::paths::{for_line, shown, shown_name};
use sheetbridge::unattended::handle::{ConvertOptions, Workflow};
use sheetbridge::unattended::journal::Journal;
use sheetbridge::unattended::watch::{LastRun, Notifier, Pass, WatchError, record_run};
use sheetbridge::unattended::watcher::Watcher;
use sheetbridge::workspace::Folders;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Args)]
pub struct WatchArgs {
    /// 要监视的文件夹（自己单独的文件夹，不要用“下载”文件夹）
    pub folder: PathBuf,
    /// 上报目标：mappings/targets/ 或配置文件夹 targets/ 里的文件名（不带 .toml），或 .toml 文件路径
    #[arg(short = 't', long)]
    pub target: String,
    /// 处理现有文件、发送到期的批次后退出（定时任务用）
    #[arg(long)]
    pub once: bool,
    /// 文件在这么多秒内没有变化才处理（还在下载或写入的文件先不动）
    #[arg(long, default_value_t = 10)]
    pub settle: u64,
    /// 不带 --once 时，至少每隔这么多秒查看一次文件夹
    #[arg(long, default_value_t = 30)]
    pub interval: u64,
    /// 本院名称：检测机构为空时填入
    #[arg(long, env = "SHEETBRIDGE_LAB")]
    pub lab: Option<String>,
    /// 模板名称或 .toml 文件路径；不填则自动识别
    #[arg(short = 'p', long = "profile")]
    pub profile: Option<String>,
    /// 每次先从这个数据来源下载当天的导出表（见 sheetbridge fetch；定时任务用）
    #[arg(long)]
    pub source: Option<String>,
}

pub fn run(args: &WatchArgs, lang: Lang) -> Run {
    if !args.folder.is_dir() {
        let shown = shown(&args.folder);
        return Err(Failure::new(
            format!(
                "找不到要监视的文件夹「{shown}」。请先建好这个文件夹（例如 文档/核酸上报/待上报）。"
            ),
            format!("no folder {shown}"),
        ));
    }
    let folder = std::path::absolute(&args.folder).unwrap_or_else(|_| args.folder.clone());
    super::warn_if_downloads(&folder, lang);
    let folders = super::folders();
    let data_dir = folders.data_dir()?.to_path_buf();
    let mut workflow = open_workflow(folders, args)?;
    let journal = Journal::open(&data_dir)?;
    let mut watcher = Watcher::new(
        folder.clone(),
        data_dir.clone(),
        Duration::from_secs(args.settle),
    );
    let mut notifier = (!args.once).then(|| Notifier::new(&folder));
    if let Some(n) = &notifier {
        say_watching(&folder, &workflow.target().name, n.active(), lang);
    }
    // The folder is gone (a network drive, a USB stick): said once, then waited for.
    let mut gone = false;
    loop {
        let here = args.once || folder.is_dir();
        if here && std::mem::take(&mut gone) {
            say_folder(&folder, true, lang);
            // The notifications watched the folder that went away.
            notifier = Some(Notifier::new(&folder));
        }
        let mut source_refused = false;
        if let (Some(source), true) = (&args.source, here) {
            let day = chrono::Local::now().date_naive();
            // A failed download is said and the files already there are still handled.
            if let Err((failure, login)) = super::fetch::fetch(source, day, &folder, lang) {
                failure.report(lang);
                source_refused = login;
            }
        }
        let pass = if here {
            look(&mut watcher, &journal, &mut workflow, args.once, lang)
        } else {
            Err(WatchError::NoFolder {
                path: folder.clone(),
            })
        };
        let pass = match pass {
            Err(WatchError::NoFolder { .. }) if !args.once => {
                if !std::mem::replace(&mut gone, true) {
                    say_folder(&folder, false, lang);
                }
                Pass::default()
            }
            other => other?,
        };
        let sent = workflow.send(Duration::ZERO, &mut |b, o| {
            super::outbox::print_attempt(b, o, lang)
        })?;
        for t in &sent.broken_targets {
            eprintln!("{}", super::console(&t.to_string()));
        }
        if let Some(o) = &sent.login_refused {
            say(lang, &o.zh, &o.en);
        }
        if args.once {
            // After 16:00 the scheduled run leaves the day's account in FOLDER/对账/.
            match workflow.write_day_account(&folder, chrono::Local::now()) {
                Ok(Some(path)) => {
                    let shown = sheetbridge::paths::shown(&path);
                    say(
                        lang,
                        format!("已写出今日对账：{shown}"),
                        format!("wrote the day's account: {shown}"),
                    );
                }
                Ok(None) => {}
                Err(e) => say(
                    lang,
                    format!(
                        "提醒：没能写出今日对账（{}）",
                        sheetbridge::message::Localized::text(&e, Lang::Zh)
                    ),
                    format!(
                        "warning: the day's account was not written ({})",
                        sheetbridge::message::Localized::text(&e, Lang::En)
                    ),
                ),
            }
            let refused = sent.login_refused.is_some() || source_refused;
            let code = exit_code(&mut workflow, &pass, refused, lang)?;
            note_run(&data_dir, code, pass.files.len(), lang);
            return Ok(code);
        }
        let wait = if pass.settling > 0 {
            Duration::from_secs(args.interval.min(args.settle + 1).max(1))
        } else {
            Duration::from_secs(args.interval.max(1))
        };
        match (&notifier, gone) {
            (Some(n), false) => n.wait(wait),
            _ => std::thread::sleep(wait),
        }
    }
}

/// One pass over the folder, its lines printed. With `once`, a file first seen in it is
/// looked at again after the settle time, in a second pass (two looks by our own clock).
fn look(
    watcher: &mut Watcher,
    journal: &Journal,
    workflow: &mut Workflow,
    once: bool,
    lang: Lang,
) -> Result<Pass, WatchError> {
    let folder = watcher.folder().to_owned();
    let mut on_file = |f: &sheetbridge::unattended::watch::FileReport| {
        answer(lang, f.line(&folder), f.line_en(&folder));
    };
    let mut pass = watcher.pass(journal, workflow, &mut on_file)?;
    if once && pass.settling > 0 {
        say_links(&pass, lang);
        std::thread::sleep(pass.wait.unwrap_or(watcher.settle()));
        let later = watcher.pass(journal, workflow, &mut on_file)?;
        pass.links.clear();
        pass.absorb(later);
    }
    say_links(&pass, lang);
    if once && pass.settling > 0 {
        let n = pass.settling;
        answer(
            lang,
            format!("还有 {n} 个文件在写入（两次查看之间有变化），下次再处理。"),
            format!("{n} files still being written, left for the next run"),
        );
    }
    for name in &pass.claimed {
        let name = for_line(name);
        answer(
            lang,
            format!("{name}：正在窗口里打开，这次先不处理。"),
            format!("{name}: open in the window, left for later"),
        );
    }
    Ok(pass)
}

/// Names each link seen for the first time.
fn say_links(pass: &Pass, lang: Lang) {
    for link in &pass.links {
        let name = shown_name(link);
        answer(
            lang,
            format!("{name}：是链接或快捷方式，不会打开它指向的文件，不处理。请把文件本身放进来。"),
            format!("{name}: a link or shortcut, not followed, skipped"),
        );
    }
}

/// The watched folder went away (`back` false) or came back.
fn say_folder(folder: &std::path::Path, back: bool, lang: Lang) {
    let shown = shown(folder);
    let (zh, en) = if back {
        (
            format!("文件夹「{shown}」又能打开了，继续监视。"),
            format!("{shown} is back; watching again"),
        )
    } else {
        (
            format!(
                "文件夹「{shown}」不见了（网络盘断开或U盘拔出？）。程序继续等着，文件夹回来后自动接着处理；不用重新启动。"
            ),
            format!("{shown} is gone; waiting for it to come back"),
        )
    };
    ::log::warn!(target: "sheetbridge", "watch: {en}");
    say(lang, zh, en);
}

/// The target's workflow, with the one lookup of every target's credentials and the options of
/// the command line.
fn open_workflow(folders: Folders, args: &WatchArgs) -> Result<Workflow, Failure> {
    let target = folders.target(&args.target)?;
    let profiles = folders.profiles();
    let convert = ConvertOptions {
        profile: args.profile.clone(),
        lab: args.lab.clone(),
    };
    Ok(Workflow::open(
        folders,
        super::keep_days(),
        target,
        profiles,
        convert,
        super::credentials(),
    )?)
}

fn say_watching(folder: &std::path::Path, target: &str, notified: bool, lang: Lang) {
    let folder = shown(folder);
    let target = for_line(target);
    say(
        lang,
        format!(
            "正在监视文件夹「{folder}」，上报到「{target}」。按 Ctrl+C 停止。{}",
            if notified {
                ""
            } else {
                "（收不到文件通知，改为定时查看）"
            }
        ),
        format!("watching {folder}; Ctrl+C stops"),
    );
}

/// Records a `--once` run for `schedule status`; a failure to is only said.
fn note_run(data_dir: &std::path::Path, code: u8, files: usize, lang: Lang) {
    let run = LastRun {
        at: chrono::Local::now().format("%Y-%m-%d %H:%M:%S").to_string(),
        exit_code: code,
        files,
    };
    if let Err(e) = record_run(data_dir, &run) {
        let e = sheetbridge::message::io_message(&e);
        say(
            lang,
            format!("提醒：没能记下本次运行（{e}）"),
            format!("warning: run not recorded ({e})"),
        );
    }
}

/// target.md's order: 2, then 5 (any batch of the outbox), then 3 (a file of this run went to
/// 需要处理/, or a positive is not confirmed: daily.md), then 4, then 0. Prints the summary.
fn exit_code(
    workflow: &mut Workflow,
    pass: &Pass,
    refused: bool,
    lang: Lang,
) -> Result<u8, sheetbridge::unattended::handle::WorkflowError> {
    let state = workflow.state()?;
    let to_fix = pass.files.iter().filter(|f| f.needs_clerk()).count();
    say(
        lang,
        format!(
            "本次处理 {} 个文件，其中 {to_fix} 个需要处理；待上报队列：{} 批需要人工处理，{} 批等待重试。",
            pass.files.len(),
            state.needs_person,
            state.queued
        ),
        format!(
            "{} files handled, {to_fix} need the clerk; outbox: {} batches need a person, {} queued",
            pass.files.len(),
            state.needs_person,
            state.queued
        ),
    );
    let days = workflow.positives_waiting()?;
    let positives: usize = days.iter().map(|(_, n)| n).sum();
    if positives > 0 {
        // Each day's own command: the account of today does not list yesterday's samples.
        let today = chrono::Local::now().format("%Y-%m-%d").to_string();
        let commands: Vec<String> = days
            .iter()
            .map(|(day, n)| {
                let day = sheetbridge::paths::for_line(day);
                if day == today {
                    format!("sheetbridge reconcile（今天 {n} 人）")
                } else {
                    format!("sheetbridge reconcile --date {day}（{day} 采样 {n} 人）")
                }
            })
            .collect();
        let commands_en: Vec<String> = days
            .iter()
            .map(|(day, n)| {
                format!(
                    "sheetbridge reconcile --date {} ({n})",
                    sheetbridge::paths::for_line(day)
                )
            })
            .collect();
        say(
            lang,
            format!(
                "阳性 {positives} 人未上报：请先处理，这样列出他们：{}",
                commands.join("；")
            ),
            format!(
                "{positives} positive not confirmed by the platform yet: see {}",
                commands_en.join("; ")
            ),
        );
    }
    Ok(if refused {
        EXIT_NOTHING
    } else if state.needs_person > 0 {
        EXIT_PERSON
    } else if to_fix > 0 || positives > 0 {
        EXIT_SOME_REJECTED
    } else if state.queued > 0 {
        EXIT_QUEUED
    } else {
        EXIT_OK
    })
}
