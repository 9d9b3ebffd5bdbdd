//! The command line (cli.md): clap parses, the library works, this prints and picks the exit
//! code. One file per subcommand.

mod check;
mod convert;
mod fetch;
mod login;
mod outbox;
mod profiles;
mod schedule;
mod upload;
mod watch;

use clap::{Args, Parser, Subcommand};
use sheetbridge::issue::Lang;
use sheetbridge::pipeline::{self, LoadError, Options};
use sheetbridge::profile::Profiles;
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

/// What `convert` and `check` share.
#[derive(Args)]
pub struct InputArgs {
    /// 导出的表格文件（.xlsx .xlsm .xls .xlsb .ods .csv）
    pub input: PathBuf,
    /// 模板名称或 .toml 文件路径；不填则自动识别
    #[arg(short = 'p', long = "profile")]
    pub profile: Option<String>,
    /// 写出 JSON 报告到这个文件
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// 读取哪个工作表；不填则自动选择
    #[arg(long)]
    pub sheet: Option<String>,
    /// 本院名称：检测机构为空时填入
    #[arg(long, env = "SHEETBRIDGE_LAB")]
    pub lab: Option<String>,
}

impl InputArgs {
    /// The load options; rows already confirmed by a platform (the outbox's ledger, when there
    /// is one) get the `already_uploaded` warning.
    pub fn options(&self, lang: Lang) -> Options {
        Options {
            sheet: self.sheet.clone(),
            profile: self.profile.clone(),
            lab: self.lab.clone(),
            ledger: existing_ledger(lang),
            ..Options::default()
        }
    }
}

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
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
    let code = match cli.command {
        Some(Command::Convert(args)) => convert::run(&args, lang),
        Some(Command::Check(args)) => check::run(&args, lang),
        Some(Command::Profiles) => profiles::run(lang),
        Some(Command::Upload(args)) => upload::run(&args, lang),
        Some(Command::Outbox(cmd)) => outbox::run(&cmd, lang),
        Some(Command::Watch(args)) => watch::run(&args, lang),
        Some(Command::Schedule(cmd)) => schedule::run(&cmd, lang),
        Some(Command::Fetch(args)) => fetch::run(&args, lang),
        Some(Command::Login(args)) => login::run(&args, lang),
        Some(Command::Window { file }) => window(file),
        None => window(None),
    };
    ExitCode::from(code)
}

/// Opens the window. If the graphics driver cannot start it, tries once more with Mesa's
/// software renderer (Linux), and otherwise says so in a dialog as well as on the terminal, so
/// a double-clicked program never just vanishes.
fn window(file: Option<PathBuf>) -> u8 {
    let err = match sheetbridge::app::run(file) {
        Ok(()) => return EXIT_OK,
        Err(e) => e,
    };
    // The event loop could not start: no display to open a window on (a server, a broken
    // remote session). Anything later is the graphics driver.
    let no_display = matches!(err, eframe::Error::WinitEventLoop(_));
    if cfg!(target_os = "linux")
        && !no_display
        && std::env::var_os("LIBGL_ALWAYS_SOFTWARE").is_none()
    {
        // One event loop per process: restart ourselves with Mesa's software renderer.
        let retried = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env("LIBGL_ALWAYS_SOFTWARE", "1")
                .status()
        });
        if let Ok(status) = retried {
            return status
                .code()
                .and_then(|c| u8::try_from(c).ok())
                .unwrap_or(EXIT_NOTHING);
        }
    }
    if no_display {
        eprintln!(
            "错误：无法打开窗口：找不到图形界面（没有显示器，或远程桌面已断开）。请在有桌面的电脑上打开，或用命令行：sheetbridge convert 文件.xlsx（技术信息：{err}）"
        );
        return EXIT_NOTHING;
    }
    let message = format!(
        "无法打开窗口：这台电脑的显卡驱动不支持 OpenGL 2.0。请让信息科更新显卡驱动后再试。\n\n在此之前可以用命令行转换：sheetbridge convert 文件.xlsx\n\n（技术信息：{err}）"
    );
    eprintln!("错误：{message}");
    // A double-clicked program has no terminal: say it in a dialog too.
    rfd::MessageDialog::new()
        .set_level(rfd::MessageLevel::Error)
        .set_title("核酸结果上报助手")
        .set_description(&message)
        .set_buttons(rfd::MessageButtons::Ok)
        .show();
    EXIT_NOTHING
}

/// Loads the input through the shared pipeline, printing a failure.
pub fn load(args: &InputArgs, lang: Lang) -> Option<sheetbridge::batch::Batch> {
    let profiles = Profiles::load(sheetbridge::paths::profiles_dir().as_deref());
    match pipeline::load(&args.input, &profiles, &args.options(lang), &()) {
        Ok(batch) => Some(batch),
        Err(e) => {
            eprintln!("{}", load_error(&e, lang));
            None
        }
    }
}

/// The ledger of the outbox in the data folder, if there is one; a broken one is reported and
/// skipped (the check is a warning, not a reason to stop).
fn existing_ledger(lang: Lang) -> Option<std::sync::Arc<dyn sheetbridge::batch::Ledger>> {
    let db = sheetbridge::upload::outbox::Outbox::existing_db()?;
    match sheetbridge::upload::outbox::read_ledger(&db) {
        Ok(ledger) => Some(std::sync::Arc::new(ledger)),
        Err(e) => {
            match lang {
                Lang::Zh => eprintln!("提醒：读不了已上报记录，本次不检查重复上报：{e}"),
                Lang::En => eprintln!(
                    "warning: ledger not read, no already_uploaded check: {}",
                    e.english()
                ),
            }
            None
        }
    }
}

fn load_error(e: &LoadError, lang: Lang) -> String {
    match lang {
        Lang::Zh => format!("错误：{e}"),
        Lang::En => format!("error: {}", e.english()),
    }
}

/// Prints the chosen profile, the counts and the first problems to standard error.
pub fn print_summary(batch: &sheetbridge::batch::Batch, lang: Lang, limit: usize) {
    let s = batch.summary();
    let p = &batch.checker.profile;
    let how = match (batch.source.auto_chosen, lang) {
        (true, Lang::Zh) => "自动识别",
        (false, Lang::Zh) => "指定",
        (true, Lang::En) => "chosen automatically",
        (false, Lang::En) => "given",
    };
    let rejected = s.rejected + s.excluded;
    match lang {
        Lang::Zh => {
            eprintln!("模板：{}（{}，{how}）", p.name, p.title);
            eprintln!(
                "工作表「{}」，表头在第 {} 行；共 {} 行：可上报 {}，有错误 {}，重复 {}，其中带提醒 {}",
                batch.source.sheet,
                batch.source.header_row,
                s.total,
                s.ready,
                rejected,
                s.duplicate,
                s.with_warnings
            );
        }
        Lang::En => {
            eprintln!("profile: {} ({}, {how})", p.name, p.title);
            eprintln!(
                "sheet {}, header on row {}; {} rows: {} ready, {} rejected, {} duplicate, {} with warnings",
                batch.source.sheet,
                batch.source.header_row,
                s.total,
                s.ready,
                rejected,
                s.duplicate,
                s.with_warnings
            );
        }
    }
    let total = batch.all_issues().count();
    if total == 0 {
        return;
    }
    match (lang, limit) {
        (Lang::Zh, 0) => eprintln!("问题共 {total} 条，详见报告。"),
        (Lang::En, 0) => eprintln!("{total} problems, listed in the report."),
        (Lang::Zh, _) => eprintln!("问题（共 {total} 条，下面是前 {} 条）：", total.min(limit)),
        (Lang::En, _) => eprintln!("problems ({total}, the first {} below):", total.min(limit)),
    }
    for ri in batch.all_issues().take(limit) {
        eprintln!("  {}", batch.message(ri.index, ri.issue, lang));
    }
}

/// Writes the JSON report; prints and returns `false` on failure.
pub fn write_report(batch: &sheetbridge::batch::Batch, path: &std::path::Path, lang: Lang) -> bool {
    let report = sheetbridge::report::Report::new(batch, lang);
    let r = sheetbridge::write::write_atomically(path, |file| {
        serde_json::to_writer_pretty(std::io::BufWriter::new(file), &report).map_err(|e| {
            sheetbridge::write::WriteError::Io {
                path: path.to_owned(),
                reason: e.to_string(),
            }
        })
    });
    match r {
        Ok(()) => true,
        Err(e) => {
            print_write_error(&e, lang);
            false
        }
    }
}

pub fn print_write_error(e: &sheetbridge::write::WriteError, lang: Lang) {
    match lang {
        Lang::Zh => eprintln!("错误：{e}"),
        Lang::En => eprintln!("error: {}", e.english()),
    }
}
