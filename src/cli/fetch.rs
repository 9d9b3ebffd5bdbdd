//! `sheetbridge fetch --source SOURCE [--date YYYY-MM-DD] -o FOLDER`: downloads the city
//! system's export into the watched folder (unattended.md).

use super::{EXIT_NOTHING, EXIT_OK};
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

pub fn run(args: &FetchArgs, lang: Lang) -> u8 {
    let day = match &args.date {
        None => chrono::Local::now().date_naive(),
        Some(d) => match chrono::NaiveDate::parse_from_str(d.trim(), "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => {
                match lang {
                    Lang::Zh => eprintln!("错误：日期「{d}」应写成 YYYY-MM-DD，例如 2022-01-10。"),
                    Lang::En => eprintln!("error: the date {d} should be YYYY-MM-DD"),
                }
                return EXIT_NOTHING;
            }
        },
    };
    fetch(&args.source, day, &args.output, lang).0
}

/// Fetches once and prints one line; the exit code of `fetch` (0 saved or unchanged, 2
/// nothing could be done), and whether the city system refused the login.
pub fn fetch(source: &str, day: chrono::NaiveDate, folder: &Path, lang: Lang) -> (u8, bool) {
    let error = |zh: String, en: String| {
        match lang {
            Lang::Zh => eprintln!("错误：{zh}"),
            Lang::En => eprintln!("error: {en}"),
        }
        (EXIT_NOTHING, false)
    };
    let source = match Source::find(source, super::login::sources_dir().as_deref()) {
        Ok(s) => s,
        Err(e) => return error(e.to_string(), e.english()),
    };
    let Some(data_dir) = super::data_dir() else {
        return error(
            "没有找到数据文件夹；请设置环境变量 SHEETBRIDGE_DATA_DIR。".into(),
            "no data folder; set SHEETBRIDGE_DATA_DIR".into(),
        );
    };
    let journal = match Journal::open(&data_dir) {
        Ok(j) => j,
        Err(e) => return error(e.to_string(), e.english()),
    };
    let creds = super::login::source_credentials(&source, lang);
    let fetch = Fetch {
        source: &source,
        creds: &creds,
        day,
        now: chrono::Local::now().naive_local(),
        folder,
    };
    match fetch.run(&journal) {
        Ok(Fetched::Saved { path, bytes }) => {
            match lang {
                Lang::Zh => println!(
                    "已从「{}」下载 {} 的结果：{}（{} KB）",
                    source.name,
                    day,
                    path.display(),
                    bytes.div_ceil(1024)
                ),
                Lang::En => println!(
                    "downloaded {} from {}: {} ({bytes} bytes)",
                    day,
                    source.name,
                    path.display()
                ),
            }
            (EXIT_OK, false)
        }
        Ok(Fetched::Unchanged) => {
            match lang {
                Lang::Zh => println!(
                    "「{}」{} 的结果和上次下载的一样，没有新内容，不再保存。",
                    source.name, day
                ),
                Lang::En => println!(
                    "{} for {}: same as the previous download; nothing new saved",
                    source.name, day
                ),
            }
            (EXIT_OK, false)
        }
        Err(e) => (error(e.to_string(), e.english()).0, e.is_login()),
    }
}
