//! `sheetbridge schedule install | remove | status`: the scheduled `watch --once` for the
//! current user (unattended.md).

use super::{EXIT_OK, Failure, Run, answer, say};
use clap::Subcommand;
use sheetbridge::issue::Lang;
use sheetbridge::unattended::schedule::{self, Job, Scheduler};
use sheetbridge::upload::target::Target;
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ScheduleCommand {
    /// 安装定时任务：每隔几分钟上报文件夹里的新文件（窗口关闭时也上报）
    Install {
        /// 要监视的文件夹
        #[arg(long)]
        folder: PathBuf,
        /// 上报目标
        #[arg(short = 't', long)]
        target: String,
        /// 每隔多少分钟运行一次
        #[arg(long, default_value_t = 15)]
        every: u32,
        /// 每次先从这个数据来源（城市系统）下载当天的导出表
        #[arg(long)]
        source: Option<String>,
    },
    /// 删除定时任务
    Remove,
    /// 定时任务是否已安装，上次运行的时间和结果，下次运行的时间
    Status,
}

/// Variables passed on to the scheduled run: folders, language, lab, the credential store's
/// choice. Never credentials.
const PASSED_ON: &[&str] = &[
    "SHEETBRIDGE_CONFIG_DIR",
    "SHEETBRIDGE_DATA_DIR",
    "SHEETBRIDGE_LANG",
    "SHEETBRIDGE_LAB",
    "SHEETBRIDGE_CREDENTIAL_STORE",
];

pub fn run(cmd: &ScheduleCommand, lang: Lang) -> Run {
    let s = Scheduler::for_user(super::folders()?.data);
    match cmd {
        ScheduleCommand::Install {
            folder,
            target,
            every,
            source,
        } => install(&s, folder, target, *every, source.as_deref(), lang)?,
        ScheduleCommand::Remove => {
            if s.remove()? {
                answer(lang, "已删除定时任务。", "removed");
            } else {
                answer(lang, "没有安装定时任务，无需删除。", "nothing installed");
            }
        }
        ScheduleCommand::Status => status(&s, lang)?,
    }
    Ok(EXIT_OK)
}

fn install(
    s: &Scheduler,
    folder: &std::path::Path,
    target: &str,
    every: u32,
    source: Option<&str>,
    lang: Lang,
) -> Result<(), Failure> {
    schedule::check_every(every)?;
    let t = Target::find(target, super::targets_dir().as_deref())?;
    if let Some(src) = source {
        sheetbridge::unattended::source::Source::find(src, super::login::sources_dir().as_deref())?;
    }
    let exe = std::env::current_exe().map_err(|e| {
        let e = sheetbridge::message::io_message(&e);
        Failure::new(
            format!("找不到本程序的位置：{e}"),
            format!("no program path: {e}"),
        )
    })?;
    let job = Job {
        exe,
        folder: std::path::absolute(folder).unwrap_or_else(|_| folder.to_owned()),
        target: target.to_owned(),
        source: source.map(str::to_owned),
        every,
        env: passed_on(),
    };
    // Refused before the folder is made: a name the scheduler cannot carry leaves nothing.
    s.check(&job)?;
    std::fs::create_dir_all(folder).map_err(|e| {
        let e = sheetbridge::message::io_message(&e);
        Failure::new(
            format!(
                "无法建立文件夹「{}」：{e}",
                sheetbridge::paths::shown(folder)
            ),
            format!("cannot create {}: {e}", sheetbridge::paths::shown(folder)),
        )
    })?;
    let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.to_owned());
    super::warn_if_downloads(&folder, lang);
    let creds = super::login::target_credentials(&t, lang);
    let has_creds = creds.token.is_some() || (creds.user.is_some() && creds.password.is_some());
    if !has_creds && t.auth != sheetbridge::upload::target::Auth::None {
        say(
            lang,
            format!(
                "提醒：还没有记住「{}」的登录信息，定时任务将无法登录。请先运行：sheetbridge login --target {target}",
                t.name
            ),
            format!(
                "warning: no credentials remembered for {}; the scheduled run cannot log in. Run first: sheetbridge login --target {target}",
                t.name
            ),
        );
    }
    let job = Job {
        folder: folder.clone(),
        ..job
    };
    let i = s.install(&job, schedule::random_start(every))?;
    answer(
        lang,
        format!(
            "已安装定时任务（{}）：每 {} 分钟上报文件夹「{}」里的新文件，从每天 {:02}:{:02} 起。",
            i.backend.zh(),
            i.every,
            sheetbridge::paths::shown(&folder),
            i.start / 60,
            i.start % 60
        ),
        format!(
            "installed ({:?}): every {} minutes from {:02}:{:02}",
            i.backend,
            i.every,
            i.start / 60,
            i.start % 60
        ),
    );
    Ok(())
}

/// The variables of [`PASSED_ON`] set here, for the scheduled run.
fn passed_on() -> Vec<(String, String)> {
    PASSED_ON
        .iter()
        .filter_map(|k| {
            std::env::var(k)
                .ok()
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).to_owned(), v))
        })
        .collect()
}

fn status(s: &Scheduler, lang: Lang) -> Result<(), Failure> {
    let st = s.status(chrono::Local::now().naive_local())?;
    match (&st.installed, st.registered) {
        (Some(i), true) => answer(
            lang,
            format!(
                "定时任务：已安装（{}），每 {} 分钟一次",
                i.backend.zh(),
                i.every
            ),
            format!("installed ({:?}), every {} minutes", i.backend, i.every),
        ),
        (Some(_), false) => answer(
            lang,
            "定时任务：记录里装过，但系统的定时器里已经没有了。请重新运行 sheetbridge schedule install。",
            "recorded as installed, but the scheduler no longer has it",
        ),
        (None, true) => answer(
            lang,
            "定时任务：已安装（安装记录缺失）",
            "installed (no record)",
        ),
        (None, false) => answer(lang, "定时任务：没有安装", "not installed"),
    }
    match &st.last_run {
        Some(r) => answer(
            lang,
            format!(
                "上次运行：{}，退出码 {}（处理 {} 个文件）",
                r.at, r.exit_code, r.files
            ),
            format!(
                "last run: {}, exit code {} ({} files)",
                r.at, r.exit_code, r.files
            ),
        ),
        None => answer(lang, "上次运行：还没有运行过", "last run: never"),
    }
    if let Some(n) = &st.next_run {
        answer(lang, format!("下次运行：{n}"), format!("next run: {n}"));
    }
    Ok(())
}
