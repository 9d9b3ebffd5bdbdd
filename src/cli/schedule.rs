//! `sheetbridge schedule install | remove | status`: the scheduled `watch --once` for the
//! current user (unattended.md).

use super::{EXIT_NOTHING, EXIT_OK};
use clap::Subcommand;
use sheetbridge::issue::Lang;
use sheetbridge::unattended::schedule::{self, Backend, Job, Scheduler};
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

fn scheduler(lang: Lang) -> Option<Scheduler> {
    let data_dir = super::data_dir()?;
    let backend = if cfg!(windows) {
        Backend::Schtasks
    } else if schedule::systemd_user_session() {
        Backend::Systemd
    } else {
        Backend::Cron
    };
    let unit_dir = directories::BaseDirs::new()
        .map(|b| b.config_dir().join("systemd").join("user"))
        .unwrap_or_else(|| data_dir.join("systemd"));
    let _ = lang;
    Some(Scheduler {
        backend,
        unit_dir,
        data_dir,
    })
}

pub fn run(cmd: &ScheduleCommand, lang: Lang) -> u8 {
    let zh = lang == Lang::Zh;
    let fail = |zh_text: String, en: String| {
        if zh {
            eprintln!("错误：{zh_text}");
        } else {
            eprintln!("error: {en}");
        }
        EXIT_NOTHING
    };
    let Some(s) = scheduler(lang) else {
        return fail(
            "没有找到数据文件夹；请设置环境变量 SHEETBRIDGE_DATA_DIR。".into(),
            "no data folder; set SHEETBRIDGE_DATA_DIR".into(),
        );
    };
    match cmd {
        ScheduleCommand::Install {
            folder,
            target,
            every,
            source,
        } => {
            if let Err(e) = schedule::check_every(*every) {
                return fail(e.to_string(), e.english());
            }
            let t = match Target::find(target, super::targets_dir().as_deref()) {
                Ok(t) => t,
                Err(e) => return fail(e.to_string(), e.english()),
            };
            if let Some(src) = source
                && let Err(e) = sheetbridge::unattended::source::Source::find(
                    src,
                    super::login::sources_dir().as_deref(),
                )
            {
                return fail(e.to_string(), e.english());
            }
            if let Err(e) = std::fs::create_dir_all(folder) {
                return fail(
                    format!("无法建立文件夹「{}」：{e}", folder.display()),
                    format!("cannot create {}: {e}", folder.display()),
                );
            }
            let folder = std::path::absolute(folder).unwrap_or_else(|_| folder.clone());
            let downloads = directories::UserDirs::new()
                .and_then(|u| u.download_dir().map(std::path::Path::to_path_buf));
            if downloads.is_some_and(|d| d == folder) && zh {
                eprintln!(
                    "提醒：监视的是“下载”文件夹。护士从这里打开文件核对时，文件可能已被自动上报；建议用单独的文件夹（例如 文档/核酸上报/待上报）。"
                );
            }
            let creds = super::login::target_credentials(&t, lang);
            let has_creds =
                creds.token.is_some() || (creds.user.is_some() && creds.password.is_some());
            if !has_creds && t.auth != sheetbridge::upload::target::Auth::None && zh {
                eprintln!(
                    "提醒：还没有记住「{}」的登录信息，定时任务将无法登录。请先运行：sheetbridge login --target {target}",
                    t.name
                );
            }
            let exe = match std::env::current_exe() {
                Ok(e) => e,
                Err(e) => {
                    return fail(
                        format!("找不到本程序的位置：{e}"),
                        format!("no program path: {e}"),
                    );
                }
            };
            let env: Vec<(String, String)> = PASSED_ON
                .iter()
                .filter_map(|k| {
                    std::env::var(k)
                        .ok()
                        .filter(|v| !v.is_empty())
                        .map(|v| ((*k).to_owned(), v))
                })
                .collect();
            let job = Job {
                exe,
                folder: folder.clone(),
                target: target.clone(),
                source: source.clone(),
                every: *every,
                env,
            };
            match s.install(&job, schedule::random_start(*every)) {
                Ok(i) => {
                    if zh {
                        println!(
                            "已安装定时任务（{}）：每 {} 分钟上报文件夹「{}」里的新文件，从每天 {:02}:{:02} 起。",
                            i.backend.zh(),
                            i.every,
                            folder.display(),
                            i.start / 60,
                            i.start % 60
                        );
                    } else {
                        println!(
                            "installed ({:?}): every {} minutes from {:02}:{:02}",
                            i.backend,
                            i.every,
                            i.start / 60,
                            i.start % 60
                        );
                    }
                    EXIT_OK
                }
                Err(e) => fail(e.to_string(), e.english()),
            }
        }
        ScheduleCommand::Remove => match s.remove() {
            Ok(true) => {
                println!(
                    "{}",
                    if zh {
                        "已删除定时任务。"
                    } else {
                        "removed"
                    }
                );
                EXIT_OK
            }
            Ok(false) => {
                println!(
                    "{}",
                    if zh {
                        "没有安装定时任务，无需删除。"
                    } else {
                        "nothing installed"
                    }
                );
                EXIT_OK
            }
            Err(e) => fail(e.to_string(), e.english()),
        },
        ScheduleCommand::Status => {
            let st = match s.status(chrono::Local::now().naive_local()) {
                Ok(st) => st,
                Err(e) => return fail(e.to_string(), e.english()),
            };
            match (&st.installed, st.registered) {
                (Some(i), true) => println!(
                    "{}",
                    if zh {
                        format!(
                            "定时任务：已安装（{}），每 {} 分钟一次",
                            i.backend.zh(),
                            i.every
                        )
                    } else {
                        format!("installed ({:?}), every {} minutes", i.backend, i.every)
                    }
                ),
                (Some(_), false) => println!(
                    "{}",
                    if zh {
                        "定时任务：记录里装过，但系统的定时器里已经没有了。请重新运行 sheetbridge schedule install。"
                    } else {
                        "recorded as installed, but the scheduler no longer has it"
                    }
                ),
                (None, true) => println!(
                    "{}",
                    if zh {
                        "定时任务：已安装（安装记录缺失）"
                    } else {
                        "installed (no record)"
                    }
                ),
                (None, false) => println!(
                    "{}",
                    if zh {
                        "定时任务：没有安装"
                    } else {
                        "not installed"
                    }
                ),
            }
            match &st.last_run {
                Some(r) => println!(
                    "{}",
                    if zh {
                        format!(
                            "上次运行：{}，退出码 {}（处理 {} 个文件）",
                            r.at, r.exit_code, r.files
                        )
                    } else {
                        format!(
                            "last run: {}, exit code {} ({} files)",
                            r.at, r.exit_code, r.files
                        )
                    }
                ),
                None => println!(
                    "{}",
                    if zh {
                        "上次运行：还没有运行过"
                    } else {
                        "last run: never"
                    }
                ),
            }
            if let Some(n) = &st.next_run {
                println!(
                    "{}",
                    if zh {
                        format!("下次运行：{n}")
                    } else {
                        format!("next run: {n}")
                    }
                );
            }
            EXIT_OK
        }
    }
}
