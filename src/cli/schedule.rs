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
    let s = Scheduler::for_user(super::folders().data_dir()?.to_path_buf());
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

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use clap::Parser;
    use sheetbridge::unattended::schedule::Job;
    use std::path::PathBuf;

    /// Values that look like options, then every character after `-` and `--`, then random
    /// strings made mostly of `-`, `=` and letters.
    fn values() -> Vec<String> {
        let mut v: Vec<String> = [
            "-ok",
            "--profile=x",
            "--once",
            "--",
            "-",
            "-t",
            "-tx",
            "--target",
            "--target=y",
            "--help",
            "-h",
            "--version",
            "--lang=en",
            "--settle=0",
            "--x=y",
            "=",
            "a=b",
            "",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for b in 0u32..=0xff {
            let c = char::from_u32(b).unwrap_or('?');
            v.push(format!("-{c}"));
            v.push(format!("--{c}"));
            v.push(format!("--{c}=y"));
        }
        let mut rng = fastrand::Rng::with_seed(11);
        const PARTS: &[&str] = &["-", "--", "=", "a", "t", "h", " ", "核", "--once", "-p"];
        for _ in 0..500 {
            let n = rng.usize(1..6);
            v.push((0..n).map(|_| PARTS[rng.usize(0..PARTS.len())]).collect());
        }
        v
    }

    /// guarantees.md §3: the scheduled task's arguments, read by this program's own parser,
    /// give back exactly the folder, target and source, whatever they start with.
    #[test]
    fn a_scheduled_tasks_arguments_give_back_exactly_its_values() {
        let values = values();
        for (i, value) in values.iter().enumerate() {
            let other = &values[(i * 7 + 3) % values.len()];
            for (folder, target, source) in [
                (value.as_str(), "platform", Some("city")),
                ("a", value.as_str(), Some(other.as_str())),
                (other.as_str(), "platform", Some(value.as_str())),
                (value.as_str(), value.as_str(), None),
            ] {
                if folder.is_empty() {
                    continue; // the folder is made absolute before a task is built
                }
                let job = Job {
                    exe: PathBuf::from("/opt/sb/sheetbridge"),
                    folder: PathBuf::from(folder),
                    target: target.to_owned(),
                    source: source.map(str::to_owned),
                    every: 15,
                    env: Vec::new(),
                };
                let mut argv = vec!["sheetbridge".to_owned()];
                argv.extend(job.args());
                let parsed = Cli::try_parse_from(&argv);
                let Ok(Cli {
                    command: Some(Command::Watch(w)),
                    ..
                }) = parsed
                else {
                    panic!("{argv:?} not parsed as watch: {:?}", parsed.err());
                };
                assert_eq!(
                    (
                        w.folder.as_path(),
                        w.target.as_str(),
                        w.source.as_deref(),
                        w.once
                    ),
                    (job.folder.as_path(), target, source, true),
                    "{argv:?}"
                );
                assert_eq!((w.profile, w.settle), (None, 10), "{argv:?}");
            }
        }
    }
}
