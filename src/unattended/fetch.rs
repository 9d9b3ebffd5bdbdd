//! Downloading a city system's export (`sheetbridge fetch`): log in as the source says, ask for
//! the day's export, and save it into the watched folder whole or not at all, only when its
//! content differs from the previous download of the same source and day.
//!
//! The login is the target's own code ([`crate::upload::client::Client::login`]); a page that
//! is not a spreadsheet (a login page, an error page) is refused with its title.

use super::journal::{Journal, JournalError};
use super::source::{Method, Source};
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::upload::client::{Client, Credentials, Kind};
use crate::upload::target::Auth;
use std::path::{Path, PathBuf};

/// Why nothing was saved.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum FetchError {
    Client {
        source_name: String,
        detail: String,
    },
    Login {
        source_name: String,
        reference: String,
        detail: String,
    },
    Unreachable {
        source_name: String,
        url: String,
        detail: String,
    },
    Status {
        source_name: String,
        status: u16,
        detail: String,
    },
    NotSpreadsheet {
        source_name: String,
        title: String,
    },
    Save {
        path: PathBuf,
        detail: String,
    },
    NoFolder {
        path: PathBuf,
    },
    Journal(#[from] JournalError),
}

impl Localized for FetchError {
    fn message(&self) -> Text {
        match self {
            FetchError::Client {
                source_name,
                detail,
            } => Text::new(
                format!("无法为数据来源「{source_name}」建立连接设置：{detail}"),
                format!("source {source_name}: {detail}"),
            ),
            FetchError::Login {
                source_name,
                reference,
                detail,
            } => Text::new(
                format!(
                    "城市系统「{source_name}」拒绝登录：{detail}。请核对用户名和密码（sheetbridge login --source {reference}）。"
                ),
                format!("the city system {source_name} refused the login: {detail}"),
            ),
            FetchError::Unreachable {
                source_name,
                url,
                detail,
            } => Text::new(
                format!(
                    "连不上城市系统「{source_name}」（{url}）：{detail}。请检查网络后再试，下次定时运行会再下载。"
                ),
                format!("cannot reach {url}: {detail}"),
            ),
            FetchError::Status {
                source_name,
                status,
                detail,
            } => Text::new(
                format!("城市系统「{source_name}」没有给出导出文件（HTTP {status}）：{detail}"),
                format!("HTTP {status}: {detail}"),
            ),
            FetchError::NotSpreadsheet { source_name, title } => Text::new(
                format!(
                    "城市系统「{source_name}」返回的不是表格，而是网页「{title}」（可能是登录页或出错页面），没有保存。请在浏览器里登录城市系统看看，或核对数据来源文件里的导出路径和参数。"
                ),
                format!(
                    "the download is not a spreadsheet but a page titled \"{title}\"; nothing saved"
                ),
            ),
            FetchError::Save { path, detail } => {
                let path = path.display();
                Text::new(
                    format!("无法保存下载的文件「{path}」：{detail}"),
                    format!("cannot save {path}: {detail}"),
                )
            }
            FetchError::NoFolder { path } => {
                let path = path.display();
                Text::new(
                    format!("找不到要保存到的文件夹「{path}」。请先建好这个文件夹。"),
                    format!("no folder {path}"),
                )
            }
            FetchError::Journal(e) => e.message(),
        }
    }
}

impl FetchError {
    /// The login was refused (exit code 2 at the front end, like `upload`).
    pub fn is_login(&self) -> bool {
        matches!(self, FetchError::Login { .. })
    }
}

/// What a fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new version saved here.
    Saved { path: PathBuf, bytes: usize },
    /// The same content as the previous download of this source and day: nothing saved.
    Unchanged,
}

/// One fetch.
pub struct Fetch<'a> {
    pub source: &'a Source,
    pub creds: &'a Credentials,
    /// The day asked for.
    pub day: chrono::NaiveDate,
    /// Local time now (the saved name's HHMM, `{today}`).
    pub now: chrono::NaiveDateTime,
    pub folder: &'a Path,
}

impl Fetch<'_> {
    /// Downloads and, when new, saves. The journal records the saved version.
    pub fn run(&self, journal: &Journal) -> Result<Fetched, FetchError> {
        if !self.folder.is_dir() {
            return Err(FetchError::NoFolder {
                path: self.folder.to_owned(),
            });
        }
        let data = self.download()?;
        check_spreadsheet(&data, &self.source.file_name).map_err(|title| {
            FetchError::NotSpreadsheet {
                source_name: self.source.name.clone(),
                title,
            }
        })?;
        let sha = super::bytes_sha256(&data);
        let day = self.day.format("%Y-%m-%d").to_string();
        let last = journal.last_fetched(&self.source.reference, &day)?;
        if last.as_ref().is_some_and(|(bytes, _)| *bytes == sha) {
            return Ok(Fetched::Unchanged);
        }
        // Written beside its final place under a temporary name the watcher skips, compared by
        // its cells (a city system may stamp every export with the time it was made), then
        // renamed: whole or not at all.
        let save_err = |path: &Path, e: std::io::Error| FetchError::Save {
            path: path.to_owned(),
            detail: io_message(&e),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(&crate::write::temp_prefix())
            .suffix(crate::write::TEMP_SUFFIX)
            .tempfile_in(self.folder)
            .map_err(|e| save_err(self.folder, e))?;
        std::io::Write::write_all(temp.as_file_mut(), &data)
            .and_then(|()| temp.as_file().sync_all())
            .map_err(|e| save_err(temp.path(), e))?;
        let cells = super::cells_sha256(temp.path());
        if cells.is_some() && last.as_ref().and_then(|(_, c)| c.as_ref()) == cells.as_ref() {
            return Ok(Fetched::Unchanged);
        }
        let today = self.now.date();
        let name = |time: &str| {
            self.folder
                .join(self.source.saved_name(self.day, today, time))
        };
        let mut path = name(&self.now.format("%H%M").to_string());
        if path.exists() {
            path = name(&self.now.format("%H%M%S").to_string());
        }
        temp.persist_noclobber(&path)
            .map_err(|e| save_err(&path, e.error))?;
        // Saved first, recorded after: a kill in between saves the same version again next
        // time (the watcher handles one content once), never loses one.
        journal.record_fetched(
            &self.source.reference,
            &day,
            &sha,
            cells.as_deref(),
            &crate::paths::file_name(&path),
        )?;
        Ok(Fetched::Saved {
            path,
            bytes: data.len(),
        })
    }

    fn download(&self) -> Result<Vec<u8>, FetchError> {
        let s = self.source;
        let mut client = Client::new(&s.connection).map_err(|e| FetchError::Client {
            source_name: s.name.clone(),
            detail: e.detail,
        })?;
        if let Err(o) = client.login(self.creds) {
            return Err(match o.kind {
                Kind::LoginRefused => FetchError::Login {
                    source_name: s.name.clone(),
                    reference: s.reference.clone(),
                    detail: login_detail(&o.en),
                },
                _ => FetchError::Unreachable {
                    source_name: s.name.clone(),
                    url: s.connection.base_url.to_string(),
                    detail: o.en,
                },
            });
        }
        let params = self.source.filled_params(self.day, self.now.date());
        let http = client.http();
        let mut req = match s.method {
            Method::Get => {
                let mut url = s.export_url.clone();
                url.query_pairs_mut().extend_pairs(&params);
                http.get(url)
            }
            Method::Post => http.post(s.export_url.clone()).form(&params),
        };
        match &s.connection.auth {
            Auth::Basic => {
                let (Some(u), Some(p)) = (&self.creds.user, &self.creds.password) else {
                    return Err(self.no_credentials());
                };
                req = req.basic_auth(u, Some(p));
            }
            Auth::Bearer => {
                let Some(t) = &self.creds.token else {
                    return Err(self.no_credentials());
                };
                req = req.bearer_auth(t);
            }
            Auth::None | Auth::Form { .. } => {}
        }
        let unreachable = |e: reqwest::Error| FetchError::Unreachable {
            source_name: s.name.clone(),
            url: s.export_url.to_string(),
            detail: e.to_string(),
        };
        let resp = req.send().map_err(unreachable)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().map_err(unreachable)?;
        if status == 401 || status == 403 {
            return Err(FetchError::Login {
                source_name: s.name.clone(),
                reference: s.reference.clone(),
                detail: format!("HTTP {status}"),
            });
        }
        if !(200..300).contains(&status) {
            let title = page_title(&body).unwrap_or_default();
            return Err(FetchError::Status {
                source_name: s.name.clone(),
                status,
                detail: title,
            });
        }
        Ok(body.to_vec())
    }

    fn no_credentials(&self) -> FetchError {
        FetchError::Login {
            source_name: self.source.name.clone(),
            reference: self.source.reference.clone(),
            detail: "没有城市系统的登录信息".into(),
        }
    }
}

/// The reason of a refused login, without the platform's wording.
fn login_detail(en: &str) -> String {
    if en.starts_with("no credentials") {
        return "没有城市系统的登录信息（请运行 sheetbridge login --source，或设置 SHEETBRIDGE_SOURCE_USER 和 SHEETBRIDGE_SOURCE_PASSWORD）".into();
    }
    en.trim_start_matches("the platform refused the login: ")
        .to_owned()
}

/// `Ok` when `data` is a spreadsheet the converter may read (an Excel or OpenDocument file, an
/// HTML table exported as `.xls`, or CSV text); `Err(title)` for any other page.
pub fn check_spreadsheet(data: &[u8], file_name: &str) -> Result<(), String> {
    const CFB: [u8; 8] = [0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    if data.starts_with(b"PK\x03\x04") || data.starts_with(&CFB) {
        return Ok(());
    }
    let head: String = crate::read::decode_text(&data[..data.len().min(64 * 1024)]);
    let lower = head.to_lowercase();
    let html = lower.contains("<html") || lower.contains("<!doctype") || lower.contains("<body");
    let ext = Path::new(file_name)
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if html {
        // Some city systems export an HTML table saved as .xls; a page without a table is not
        // an export.
        if lower.contains("<table") && matches!(ext.as_str(), "xls" | "htm" | "html") {
            return Ok(());
        }
        return Err(page_title(data).unwrap_or_else(|| "（无标题）".into()));
    }
    if ext == "csv" && !head.trim().is_empty() {
        return Ok(());
    }
    let first: String = head.lines().next().unwrap_or("").chars().take(60).collect();
    Err(if first.trim().is_empty() {
        "（空白内容）".into()
    } else {
        first.trim().to_owned()
    })
}

/// The `<title>` of an HTML page.
pub fn page_title(data: &[u8]) -> Option<String> {
    let text = crate::read::decode_text(&data[..data.len().min(64 * 1024)]);
    let lower = text.to_lowercase();
    let start = lower.find("<title")?;
    let open_end = start + lower[start..].find('>')? + 1;
    let close = open_end + lower[open_end..].find("</title")?;
    let title = text.get(open_end..close)?.trim();
    (!title.is_empty()).then(|| title.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spreadsheets_pass_pages_are_refused_with_their_title() {
        assert!(check_spreadsheet(b"PK\x03\x04rest", "a.xlsx").is_ok());
        assert!(
            check_spreadsheet(
                &[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1, 0],
                "a.xls"
            )
            .is_ok()
        );
        assert!(check_spreadsheet("姓名,证件号\n张三,1\n".as_bytes(), "a.csv").is_ok());
        let login = "<!DOCTYPE html><html><head><title> 登录 - 市核酸检测系统 </title></head><body><form></form></body></html>";
        assert_eq!(
            check_spreadsheet(login.as_bytes(), "a.xlsx"),
            Err("登录 - 市核酸检测系统".into())
        );
        let table = "<html><body><table><tr><td>姓名</td></tr></table></body></html>";
        assert!(check_spreadsheet(table.as_bytes(), "a.xls").is_ok());
        assert!(check_spreadsheet(table.as_bytes(), "a.xlsx").is_err());
        assert!(check_spreadsheet(b"", "a.xlsx").is_err());
    }
}
