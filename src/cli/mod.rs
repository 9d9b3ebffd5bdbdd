//! The command line (cli.md): clap parses, the library works, this prints and picks the exit
//! code. One file per subcommand.

mod check;
mod convert;
mod diagnose;
mod fetch;
mod login;
mod lookup;
mod outbox;
mod pack;
mod profiles;
mod schedule;
mod upload;
mod watch;

use clap::{Args, Parser, Subcommand};
use sheetbridge::issue::Lang;
use sheetbridge::message::{Localized, Text};
use sheetbridge::paths;
use sheetbridge::pipeline::{LoadError, Options};
use sheetbridge::upload::target::Target;
use sheetbridge::workspace::{self, Folders, Loaded};
use std::fmt::Display;
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
    /// 查询上报记录：某人（证件号码）或某条码是否已经上报、何时、在哪个批次
    Lookup(lookup::LookupArgs),
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

/// A command's failure: said once, by [`main`], in the user's language, and logged.
#[derive(Debug)]
pub struct Failure {
    text: Text,
    code: u8,
}

/// What a command returns: its exit code, or why it stopped.
pub type Run = Result<u8, Failure>;

impl Failure {
    /// Nothing could be done (exit code 2).
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Failure {
        Failure {
            text: Text::new(zh, en),
            code: EXIT_NOTHING,
        }
    }

    /// The same failure with another exit code.
    pub fn with_code(mut self, code: u8) -> Failure {
        self.code = code;
        self
    }

    /// Logs and prints the failure; its exit code.
    fn report(&self, lang: Lang) -> u8 {
        sheetbridge::log::event::error(&self.text.en);
        match lang {
            Lang::Zh => eprintln!("错误：{}", self.text.zh),
            Lang::En => eprintln!("error: {}", self.text.en),
        }
        self.code
    }
}

impl<E: Localized> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure::new(e.to_string(), e.english())
    }
}

/// Prints a line to standard error in the user's language.
pub fn say(lang: Lang, zh: impl Display, en: impl Display) {
    match lang {
        Lang::Zh => eprintln!("{zh}"),
        Lang::En => eprintln!("{en}"),
    }
}

/// Prints a line to standard output (what a command answers) in the user's language.
pub fn answer(lang: Lang, zh: impl Display, en: impl Display) {
    match lang {
        Lang::Zh => println!("{zh}"),
        Lang::En => println!("{en}"),
    }
}

/// The folders to work in: `SHEETBRIDGE_DATA_DIR` / `SHEETBRIDGE_CONFIG_DIR` when set, else
/// the per-user ones.
pub fn folders() -> Result<Folders, Failure> {
    match data_dir() {
        Some(data) => Ok(Folders {
            data,
            config: config_dir(),
        }),
        None => Err(Failure::new(
            "没有找到存放待上报数据的文件夹；请设置环境变量 SHEETBRIDGE_DATA_DIR 指向一个可写的文件夹。",
            "no data folder found; set SHEETBRIDGE_DATA_DIR to a writable folder",
        )),
    }
}

/// Warns when `folder`, to be watched, is the Downloads folder (unattended.md: allowed, with a
/// warning saying why not).
pub fn warn_if_downloads(folder: &std::path::Path, lang: Lang) {
    let downloads = directories::UserDirs::new()
        .and_then(|u| u.download_dir().map(std::path::Path::to_path_buf));
    if let Some(d) = downloads
        && let Some(warning) =
            sheetbridge::unattended::watch::watch_folder_warning(folder, &[d.as_path()], lang)
    {
        eprintln!("{warning}");
    }
}

/// The config folder: `SHEETBRIDGE_CONFIG_DIR`, or the per-user one.
pub fn config_dir() -> Option<PathBuf> {
    paths::chosen(
        std::env::var_os("SHEETBRIDGE_CONFIG_DIR"),
        paths::default_config_dir(),
    )
}

/// The data folder: `SHEETBRIDGE_DATA_DIR`, or the per-user one.
pub fn data_dir() -> Option<PathBuf> {
    paths::chosen(
        std::env::var_os("SHEETBRIDGE_DATA_DIR"),
        paths::default_data_dir(),
    )
}

/// The user's targets (`<config>/targets`).
pub fn targets_dir() -> Option<PathBuf> {
    config_dir().map(|c| c.join("targets"))
}

/// Days to keep the files of confirmed batches: `SHEETBRIDGE_KEEP_DAYS`, or 7.
pub fn keep_days() -> u32 {
    std::env::var("SHEETBRIDGE_KEEP_DAYS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(sheetbridge::upload::outbox::DEFAULT_RETENTION_DAYS)
}

/// `SHEETBRIDGE_USER`, `SHEETBRIDGE_PASSWORD`, `SHEETBRIDGE_TOKEN`.
pub fn credentials() -> sheetbridge::upload::client::Credentials {
    sheetbridge::upload::client::Credentials::from_vars(|k| std::env::var(k).ok())
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
    let what = start_log();
    if cli
        .command
        .as_ref()
        .is_some_and(|c| !matches!(c, Command::Window { .. }))
    {
        headless_signals(lang);
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
        Some(Command::Watch(args)) => watch::run(&args, lang),
        Some(Command::Schedule(cmd)) => schedule::run(&cmd, lang),
        Some(Command::Fetch(args)) => fetch::run(&args, lang),
        Some(Command::Login(args)) => login::run(&args, lang),
        Some(Command::Window { file }) => Ok(window(file)),
        None => Ok(window(None)),
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
fn start_log() -> String {
    if let Some(data) = data_dir() {
        sheetbridge::log::install(&sheetbridge::log::dir_in(&data));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = if args.is_empty() {
        "window".to_owned()
    } else {
        args.join(" ")
    };
    sheetbridge::log::event::started(&system(), &what);
    what
}

/// The folders our temporary files may be in, for the Ctrl+C handler.
static TEMP_FOLDERS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

/// Notes that a file will be written at `path`: if the run is stopped (Ctrl+C, SIGTERM, the
/// console closed), the temporary files of this process in its folder are removed.
pub fn will_write(path: &std::path::Path) {
    if let Ok(mut folders) = TEMP_FOLDERS.lock() {
        let folder = sheetbridge::write::folder_of(path);
        if !folders.contains(&folder) {
            folders.push(folder);
        }
    }
}

/// Removes this process's temporary files in the folders noted by [`will_write`].
fn remove_our_temp_files() {
    let folders = TEMP_FOLDERS.lock().map(|f| f.clone()).unwrap_or_default();
    for folder in &folders {
        sheetbridge::write::remove_temp_files(folder);
    }
}

/// For a headless run: Ctrl+C removes our temporary files and exits 130 (cli.md), and a
/// closed standard output ends the run quietly instead of a panic on the next print.
fn headless_signals(lang: Lang) {
    // Failing to install the handler only loses the clean-up on Ctrl+C: not worth stopping for.
    let _ = ctrlc::set_handler(|| {
        remove_our_temp_files();
        std::process::exit(EXIT_INTERRUPTED);
    });
    #[cfg(unix)]
    // SAFETY: restores the default action of SIGPIPE (end the process), as for any command-line
    // tool; no handler runs. Sockets are written with MSG_NOSIGNAL by std, so uploads are not
    // affected.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    failed_output_ends_the_run(lang);
}

/// A print that fails makes `println!` panic. To a closed pipe (`sheetbridge outbox list |
/// more`, the reader quit; Windows has no SIGPIPE) the run ends as Ctrl+C ends it: temporary
/// files removed, exit 130, no message. Any other failure (a full disk under `> file`) is said
/// in one line and exits 2. Any other panic is reported as before.
fn failed_output_ends_the_run(lang: Lang) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let Some(message) = info
            .payload_as_str()
            .filter(|m| m.starts_with("failed printing to std"))
        else {
            return previous(info);
        };
        remove_our_temp_files();
        // EPIPE on Unix; ERROR_BROKEN_PIPE, ERROR_NO_DATA and ERROR_PIPE_NOT_CONNECTED on
        // Windows.
        let closed = message.contains("Broken pipe")
            || ["32", "109", "232", "233"]
                .iter()
                .any(|code| message.contains(&format!("(os error {code})")));
        if closed {
            std::process::exit(EXIT_INTERRUPTED);
        }
        sheetbridge::log::event::error(message);
        let detail = message.split_once(": ").map_or(message, |(_, d)| d);
        let detail = match lang {
            Lang::Zh if detail.contains("os error 28") => "磁盘已满",
            _ => detail,
        };
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            match lang {
                Lang::Zh => {
                    format!("错误：结果没能写出（{detail}）。请检查磁盘空间或输出去向后再试。\n")
                }
                Lang::En => format!("error: the output could not be written ({detail})\n"),
            }
            .as_bytes(),
        );
        std::process::exit(i32::from(EXIT_NOTHING));
    }));
}

/// Refuses output paths that are the input file (cli.md: never write over INPUT), before
/// anything is read.
pub fn refuse_source(input: &std::path::Path, outputs: &[&std::path::Path]) -> Result<(), Failure> {
    for out in outputs {
        sheetbridge::write::refuse_source(input, out)?;
    }
    Ok(())
}

/// Set by the restart after glow failed on Windows, or by hand to start with one renderer:
/// `glow` (OpenGL 2.0) or `wgpu` (Direct3D 12, with Microsoft's WARP software renderer).
const RENDERER_VAR: &str = "SHEETBRIDGE_RENDERER";

/// Opens the window. If the graphics driver cannot start it, tries once more in a new process
/// (one event loop per process): with Mesa's software renderer on Linux, with wgpu on Direct3D 12
/// on Windows. Otherwise says so in a dialog as well as on the terminal, so a double-clicked
/// program never just vanishes.
fn window(file: Option<PathBuf>) -> u8 {
    let renderer = first_renderer();
    let started = if forced_to_fail(renderer) {
        Err(eframe::Error::AppCreation(
            format!("{renderer} failed on purpose ({FAIL_VAR})").into(),
        ))
    } else {
        sheetbridge::app::run(file, renderer)
    };
    let err = match started {
        Ok(()) => return EXIT_OK,
        Err(e) => e,
    };
    // The event loop could not start: no display to open a window on (a server, a broken
    // remote session). Anything later is the graphics driver.
    let no_display = matches!(err, eframe::Error::WinitEventLoop(_));
    if let Some((var, value)) = fallback().filter(|_| !no_display) {
        eprintln!("提醒：窗口没能打开，换一种绘图方式再试（技术信息：{err}）");
        let retried = std::env::current_exe().and_then(|exe| {
            std::process::Command::new(exe)
                .args(std::env::args_os().skip(1))
                .env(var, value)
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
    let driver = if cfg!(windows) {
        "这台电脑的显卡驱动既不支持 OpenGL 2.0，也不支持 Direct3D 12"
    } else {
        "这台电脑的显卡驱动不支持 OpenGL 2.0"
    };
    let message = format!(
        "无法打开窗口：{driver}。请让信息科更新显卡驱动后再试。\n\n在此之前可以用命令行转换：sheetbridge convert 文件.xlsx\n\n（技术信息：{err}）"
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

/// Tests only: the renderers named here (`glow`, `wgpu`, comma-separated) fail at once, to try
/// the fallback and the message box on a machine whose graphics work.
const FAIL_VAR: &str = "SHEETBRIDGE_FAIL_RENDERER";

fn forced_to_fail(renderer: eframe::Renderer) -> bool {
    std::env::var(FAIL_VAR).is_ok_and(|v| v.split(',').any(|r| r.trim() == renderer.to_string()))
}

/// The renderer this process starts the window with: glow, unless `SHEETBRIDGE_RENDERER` asks
/// for wgpu (Windows only; Linux builds glow alone).
fn first_renderer() -> eframe::Renderer {
    #[cfg(windows)]
    if std::env::var_os(RENDERER_VAR).is_some_and(|v| v == "wgpu") {
        return eframe::Renderer::Wgpu;
    }
    eframe::Renderer::Glow
}

/// The variable the one restart after a failed start sets, unless this process is that restart
/// (or was told its renderer): Mesa's software OpenGL on Linux, wgpu on Windows.
fn fallback() -> Option<(&'static str, &'static str)> {
    let (var, value) = if cfg!(windows) {
        (RENDERER_VAR, "wgpu")
    } else if cfg!(target_os = "linux") {
        ("LIBGL_ALWAYS_SOFTWARE", "1")
    } else {
        return None;
    };
    if std::env::var_os(var).is_some() {
        return None;
    }
    Some((var, value))
}

/// Loads and checks the input through the workflow (the clerk's saved edits and exclusions
/// for this content applied; rows already confirmed on `target` marked), printing what did not
/// stop the load. Without a data folder there is nothing saved to apply: the file is only read
/// and checked.
pub fn load(
    folders: Option<&Folders>,
    input: &std::path::Path,
    args: &LoadArgs,
    target: Option<&Target>,
    lang: Lang,
) -> Result<sheetbridge::batch::Batch, Failure> {
    let profiles = match folders {
        Some(f) => f.profiles(),
        None => sheetbridge::profile::Profiles::load(
            config_dir().map(|c| c.join("profiles")).as_deref(),
        ),
    };
    // Choosing among the profiles while one of the user's is broken could pick the built-in
    // one it was meant to replace: say so rather than guess.
    if args.profile.is_none()
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
    let Some(folders) = folders else {
        return Ok(sheetbridge::pipeline::load(
            input,
            &profiles,
            &args.options(),
            &(),
        )?);
    };
    let loaded: Loaded = workspace::load(folders, &profiles, input, args.options(), target, &())?;
    for (zh, en) in &loaded.warnings {
        say(lang, format!("提醒：{zh}"), format!("warning: {en}"));
    }
    if let Some(line) = loaded.restored.message(lang) {
        eprintln!("{line}");
    }
    Ok(loaded.batch)
}

/// The target whose ledger `convert` and `check` look in: the one named, else the window's,
/// else none (every target's).
pub fn ledger_target(folders: &Folders, named: Option<&str>) -> Result<Option<Target>, Failure> {
    if let Some(name) = named {
        return Ok(Some(folders.target(name)?));
    }
    let settings = sheetbridge::app::settings::Settings::load(folders.config.as_deref());
    // The window's target is only a default: one that cannot be read is left out.
    Ok(settings.target.and_then(|t| folders.target(&t).ok()))
}

/// Prints the chosen profile, the counts and the first problems to standard error.
pub fn print_summary(batch: &sheetbridge::batch::Batch, lang: Lang, limit: usize) {
    let s = batch.summary();
    let p = &batch.profile();
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

/// Writes the JSON report.
pub fn write_report(
    batch: &sheetbridge::batch::Batch,
    path: &std::path::Path,
    lang: Lang,
) -> Result<(), Failure> {
    let report = sheetbridge::report::Report::new(batch, lang);
    will_write(path);
    sheetbridge::write::write_atomically(path, |file| {
        let mut out = std::io::BufWriter::new(file);
        serde_json::to_writer_pretty(&mut out, &report)
            .map_err(|e| sheetbridge::write::json_error(path, e))?;
        std::io::Write::flush(&mut out)
            .map_err(|e| sheetbridge::write::json_error(path, serde_json::Error::io(e)))
    })?;
    Ok(())
}
