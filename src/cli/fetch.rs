//! `sheetbridge fetch --source SOURCE [--date YYYY-MM-DD] -o FOLDER`: downloads the city
//! system's export into the watched folder (unattended.md).

use super::{EXIT_OK, Failure, Run, answer};
use clap::Args;
use sheetbridge::issue::Lang;
use sheetbridge::unattended::fetch::{Fetch, Fetched};
use sheetbridge::unattended::journal::Journal;
use sheetbridge::unattended::source::Source;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct FetchArgs {
    /// 数据来源：配置文件夹 sources/ 里的文件名（不带 .toml），或 .toml 文件路径
    #[arg(long)]
    pub source: String,
    /// 下载哪一天的结果（YYYY-MM-DD）；不填则是今天
    #[arg(long)]
    pub date: Option<String>,
    /// 保存到这个文件夹（自动上报监视的文件夹）
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

pub fn run(args: &FetchArgs, lang: Lang) -> Run {
    let day = match &args.date {
        None => chrono::Local::now().date_naive(),
        Some(d) => chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d").map_err(|_| {
            Failure::new(
                format!("日期「{d}」应写成 YYYY-MM-DD，例如 2022-01-10。"),
                format!("the date {d} should be YYYY-MM-DD"),
            )
        })?,
    };
    fetch(&args.source, day, &args.output, lang)
        .map(|()| EXIT_OK)
        .map_err(|(failure, _)| failure)
}

/// Fetches once and prints one line. `Err` says why nothing was saved, and whether it was
/// because the city system refused the login.
pub fn fetch(
    source: &str,
    day: chrono::NaiveDate,
    folder: &Path,
    lang: Lang,
) -> Result<(), (Failure, bool)> {
    let other = |f: Failure| (f, false);
    let source = Source::find(source, super::login::sources_dir().as_deref())
        .map_err(|e| other(e.into()))?;
    let folders = super::folders();
    let data = folders.data_dir().map_err(|e| other(e.into()))?;
    let journal = Journal::open(data).map_err(|e| other(e.into()))?;
    let profiles = folders.profiles();
    let creds = super::login::source_credentials(&source, lang);
    let fetch = Fetch {
        source: &source,
        creds: &creds,
        profiles: &profiles,
        day,
        now: chrono::Local::now().naive_local(),
        folder,
    };
    let fetched = fetch.run(&journal).map_err(|e| {
        let login = e.is_login();
        (Failure::from(e), login)
    })?;
    match fetched {
        Fetched::Saved { path, bytes } => answer(
            lang,
            format!(
                "已从「{}」下载 {} 的结果：{}（{} KB）",
                source.name,
                day,
                sheetbridge::paths::shown(&path),
                bytes.div_ceil(1024)
            ),
            format!(
                "downloaded {} from {}: {} ({bytes} bytes)",
                day,
                source.name,
                sheetbridge::paths::shown(&path)
            ),
        ),
        Fetched::Unchanged => answer(
            lang,
            format!(
                "「{}」{} 的结果和上次下载的一样，没有新内容，不再保存。",
                source.name, day
            ),
            format!(
                "{} for {}: same as the previous download; nothing new saved",
                source.name, day
            ),
        ),
    }
    Ok(())
}
