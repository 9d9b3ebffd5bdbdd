//! The command line (cli.md): clap parses, the library works, this prints and picks the exit
//! code. One file per subcommand.

mod check;
mod convert;
mod diagnose;
mod fetch;
mod folders;
mod interrupt;
mod login;
mod lookup;
mod mark_uploaded;
mod outbox;
mod output;
mod pack;
mod profiles;
mod reconcile;
mod schedule;
mod upload;
mod watch;
mod window;

pub use folders::{
    config_dir, credentials, data_dir, folders, keep_days, targets_dir, warn_if_downloads,
};
pub use interrupt::will_write;
pub use output::{Failure, Run, answer, columns, console, print_summary, say, write_report};

use clap::{Args, Parser, Subcommand};
use sheetbridge::issue::Lang;
use sheetbridge::pipeline::{LoadError, Options};
use sheetbridge::upload::target::Target;
use sheetbridge::workspace::{self, Folders, Loaded};
use std::path::PathBuf;
use std::process::ExitCode;

/// Every row valid (warnings allowed).
pub const EXIT_OK: u8 = 0;
/// Nothing written: unreadable input, no matching profile, bad arguments, no valid row.
pub const EXIT_NOTHING: u8 = 2;
/// Output written, but some rows were rejected.
pub const EXIT_SOME_REJECTED: u8 = 3;
/// Upload: some batches are still queued for a later retry.
pub const EXIT_QUEUED: u8 = 4;
/// Upload: a batch needs a person (rejected by the platform, or `waiting`).
pub const EXIT_PERSON: u8 = 5;
/// Stopped by Ctrl+C (or SIGTERM, or the console closed).
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Parser)]
#[command(
    name = "sheetbridge",
    version,
    about = "核酸结果上报助手：把城市核酸系统导出的表格转换成省疾控上报模板",
    long_about = None
)]
struct Cli {
    /// 提示语言：zh（中文，默认）或 en（English）
    #[arg(long, global = true, env = "SHEETBRIDGE_LANG", default_value = "zh")]
    lang: String,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// 转换：读取导出表，检查每一行，写出上报表
    Convert(convert::ConvertArgs),
    /// 只检查，不写上报表
    Check(check::CheckArgs),
    /// 列出可用的模板
    Profiles,
    /// 直接上报到省平台：排队并发送（目标见 mappings/targets/）
    Upload(upload::UploadArgs),
    /// 待上报队列：查看、发送、重发或放弃批次
    #[command(subcommand)]
    Outbox(outbox::OutboxCommand),
    /// 导出诊断包（发给技术支持；不含密码和任何人的信息）
    Diagnose(diagnose::DiagnoseArgs),
    /// 模板包：安装、列出、退回上一个版本
    #[command(subcommand)]
    Pack(pack::PackCommand),
    /// 查询上报记录：某人（证件号码或姓名）或某条码的结果在哪里：已确认、排队、有错误……和怎么办
    Lookup(lookup::LookupArgs),
    /// 今日对账：每个样本的结果在哪里（已确认、排队、有错误……），阳性排在最前
    Reconcile(reconcile::ReconcileArgs),
    /// 已在省平台网站手工上报：把上报表的行记为已上报（以后不再发送）
    MarkUploaded(mark_uploaded::MarkUploadedArgs),
    /// 无人值守：监视文件夹，新文件自动转换、上报，需要人处理的放进「需要处理」
    Watch(watch::WatchArgs),
    /// 定时任务：安装、删除或查看（窗口关闭时也自动上报）
    #[command(subcommand)]
    Schedule(schedule::ScheduleCommand),
    /// 从城市系统下载当天的导出表（数据来源见配置文件夹 sources/）
    Fetch(fetch::FetchArgs),
    /// 记住省平台或城市系统的登录信息（自动上报需要）
    Login(login::LoginArgs),
    /// 打开窗口（不带参数运行时也会打开）；可以带一个要打开的文件
    Window {
        /// 打开时直接读取这个文件
        file: Option<PathBuf>,
    },
}

/// How a file is read and checked: what `convert`, `check` and `upload` share.
#[derive(Args)]
pub struct LoadArgs {
    /// 模板名称或 .toml 文件路径；不填则自动识别
    #[arg(short = 'p', long = "profile")]
    pub profile: Option<String>,
    /// 读取哪个工作表；不填则自动选择
    #[arg(long)]
    pub sheet: Option<String>,
    /// 本院名称：检测机构为空时填入
    #[arg(long, env = "SHEETBRIDGE_LAB")]
    pub lab: Option<String>,
}

impl LoadArgs {
    pub fn options(&self) -> Options {
        Options {
            sheet: self.sheet.clone(),
            profile: self.profile.clone(),
            lab: self.lab.clone(),
            ..Options::default()
        }
    }
}

/// What `convert` and `check` share.
#[derive(Args)]
pub struct InputArgs {
    /// 导出的表格文件（.xlsx .xlsm .xls .xlsb .ods .csv）
    pub input: PathBuf,
    #[command(flatten)]
    pub load: LoadArgs,
    /// 写出 JSON 报告到这个文件
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// 查重用的上报目标：已在这个省平台上报过的行标为「已上报过」；不填则用窗口里设置的目标，都没有则查所有目标
    #[arg(short = 't', long)]
    pub target: Option<String>,
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // clap quotes what was typed: each argument escaped where it is quoted, then
            // through the console like any other line.
            let mut text = e.render().to_string();
            for arg in std::env::args_os()
                .skip(1)
                .filter_map(|a| a.into_string().ok())
            {
                let escaped = sheetbridge::paths::for_line(&arg);
                if escaped != arg {
                    text = text.replace(&arg, &escaped);
                }
            }
            eprint!("{}", console(&text));
            return ExitCode::from(EXIT_NOTHING);
        }
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_NOTHING
            } else {
                EXIT_OK
            });
        }
    };
    let lang = Lang::parse(&cli.lang);
    let what = start_log(cli.command.as_ref());
    if cli
        .command
        .as_ref()
        .is_some_and(|c| !matches!(c, Command::Window { .. }))
    {
        interrupt::headless_signals(lang);
    }
    let run = match cli.command {
        Some(Command::Convert(args)) => convert::run(&args, lang),
        Some(Command::Check(args)) => check::run(&args, lang),
        Some(Command::Profiles) => profiles::run(lang),
        Some(Command::Upload(args)) => upload::run(&args, lang),
        Some(Command::Outbox(cmd)) => outbox::run(&cmd, lang),
        Some(Command::Diagnose(args)) => diagnose::run(&args, lang),
        Some(Command::Pack(cmd)) => pack::run(&cmd, lang),
        Some(Command::Lookup(args)) => lookup::run(&args, lang),
        Some(Command::Reconcile(args)) => reconcile::run(&args, lang),
        Some(Command::MarkUploaded(args)) => mark_uploaded::run(&args, lang),
        Some(Command::Watch(args)) => watch::run(&args, lang),
        Some(Command::Schedule(cmd)) => schedule::run(&cmd, lang),
        Some(Command::Fetch(args)) => fetch::run(&args, lang),
        Some(Command::Login(args)) => login::run(&args, lang),
        Some(Command::Window { file }) => Ok(window::open(file)),
        None => Ok(window::open(None)),
    };
    let code = run.unwrap_or_else(|failure| failure.report(lang));
    sheetbridge::log::event::finished(&what, code);
    ExitCode::from(code)
}

/// The system and processor, for the log and the diagnostic bundle.
pub fn system() -> String {
    format!("{} {}", std::env::consts::OS, std::env::consts::ARCH)
}

/// Installs the program's log in the data folder's `logs/` and writes the start line (the
/// arguments: file names and options; no secret is ever passed on the command line). Returns
/// the arguments, for the end line.
fn start_log(command: Option<&Command>) -> String {
    if let Some(data) = data_dir() {
        sheetbridge::log::install(&sheetbridge::log::dir_in(&data));
    }
    let what = logged_args(std::env::args_os().skip(1), command);
    sheetbridge::log::event::started(&system(), &what);
    what
}

/// The arguments as the log shows them (guarantees.md §6): each through the privacy scanner,
/// and `lookup`'s VALUE masked whole as a document number, whatever its shape (a 台胞证's 8
/// digits look like any number). The log's sink scans the line once more. An argument that is
/// not Unicode is shown with its bad bytes replaced.
fn logged_args(
    args: impl Iterator<Item = std::ffi::OsString>,
    command: Option<&Command>,
) -> String {
    use sheetbridge::privacy::{mask_numbers, mask_query};
    let personal: Option<&str> = match command {
        Some(Command::Lookup(a)) => Some(a.value.as_str()),
        _ => None,
    };
    let args: Vec<String> = args
        .map(|a| {
            let a = a.to_string_lossy();
            if personal == Some(a.as_ref()) {
                mask_query(&a)
            } else {
                mask_numbers(&a)
            }
        })
        .collect();
    if args.is_empty() {
        "window".to_owned()
    } else {
        args.join(" ")
    }
}

/// Refuses output paths that are the input file (cli.md: never write over INPUT), before
/// anything is read.
pub fn refuse_source(input: &std::path::Path, outputs: &[&std::path::Path]) -> Result<(), Failure> {
    for out in outputs {
        sheetbridge::write::refuse_source(input, out)?;
    }
    sheetbridge::write::refuse_twice(outputs)?;
    Ok(())
}

/// Loads and checks the input through the workflow (the clerk's saved edits and exclusions
/// for this content applied; rows already confirmed on `target` marked), printing what did not
/// stop the load. Without a data folder there is nothing saved to apply: the file is only read
/// and checked.
pub fn load(
    folders: &Folders,
    input: &std::path::Path,
    options: Options,
    target: Option<&Target>,
    lang: Lang,
) -> Result<sheetbridge::batch::Batch, Failure> {
    let profiles = folders.profiles();
    // Choosing among the profiles while one of the user's is broken could pick the built-in
    // one it was meant to replace: say so rather than guess.
    if options.profile.is_none()
        && let Some(e) = profiles.broken.iter().find(|e| match e {
            sheetbridge::profile::ProfileError::Invalid { path, .. }
            | sheetbridge::profile::ProfileError::Io { path, .. } => {
                std::path::Path::new(path).file_stem().is_some_and(|stem| {
                    profiles.list.iter().any(|p| {
                        p.origin == sheetbridge::profile::Origin::Builtin && stem == p.name.as_str()
                    })
                })
            }
            sheetbridge::profile::ProfileError::NotFound { .. } => false,
        })
    {
        return Err(LoadError::Profile(e.clone()).into());
    }
    let loaded: Loaded = workspace::load(folders, &profiles, input, options, target, &())?;
    for (zh, en) in &loaded.warnings {
        say(lang, format!("提醒：{zh}"), format!("warning: {en}"));
    }
    if let Some(line) = loaded.restored.message(lang) {
        eprintln!("{}", console(&line));
    }
    Ok(loaded.batch)
}

/// The target whose ledger `convert` and `check` look in: the one named, else the window's,
/// else none (every target's). Without a data folder there is no ledger to look in: none.
pub fn ledger_target(folders: &Folders, named: Option<&str>) -> Result<Option<Target>, Failure> {
    if folders.data.is_none() {
        return Ok(None);
    }
    if let Some(name) = named {
        return Ok(Some(folders.target(name)?));
    }
    let settings = crate::app::settings::Settings::load(folders.config.as_deref());
    // The window's target is only a default: one that cannot be read is left out.
    Ok(settings.target.and_then(|t| folders.target(&t).ok()))
}
