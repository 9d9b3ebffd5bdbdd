//! Downloading a city system's export (`sheetbridge fetch`): log in as the source says, ask for
//! the day's export, and save it into the watched folder whole or not at all, only when its
//! content differs from the previous download of the same source and day.
//!
//! The login is the target's own code ([`crate::upload::client::Client::login`]), on the one
//! client builder ([`crate::upload::client::net::http_client`]: no redirect to another origin);
//! the export streams through the one body reader ([`net::read_body`]) into a temporary file
//! beside its destination, at most [`net::EXPORT_LIMIT`] bytes, within the source's
//! `timeout_s`. What is saved is an export (guarantees.md, section 5): [`check_spreadsheet`]
//! opens it with the reader and finds a header row a profile recognises; a login page, an error
//! page, a JSON answer or an HTML table that is not an export is refused, nothing saved.

use super::journal::{Journal, JournalError};
use super::source::{Method, Source};
use crate::issue::Lang;
use crate::message::{Localized, Text, io_message};
use crate::profile::Profiles;
use crate::upload::client::{Client, Credentials, Kind, NetError, net};
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
    /// A refused redirect, a body over its limit or past the deadline, a broken connection.
    Net {
        source_name: String,
        error: NetError,
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
                    "城市系统「{source_name}」返回的不是导出表，而是「{title}」（可能是登录页、出错页面或别的答复），没有保存。请在浏览器里登录城市系统看看，或核对数据来源文件里的导出路径和参数。"
                ),
                format!(
                    "{source_name}: the download is not an export but \"{title}\"; nothing saved"
                ),
            ),
            FetchError::Net { source_name, error } => Text::new(
                format!(
                    "从城市系统「{source_name}」下载失败，没有保存：{}",
                    error.text(Lang::Zh)
                ),
                format!(
                    "download from {source_name} failed, nothing saved: {}",
                    error.text(Lang::En)
                ),
            ),
            FetchError::Save { path, detail } => {
                let path = crate::paths::shown(path);
                Text::new(
                    format!("无法保存下载的文件「{path}」：{detail}"),
                    format!("cannot save {path}: {detail}"),
                )
            }
            FetchError::NoFolder { path } => {
                let path = crate::paths::shown(path);
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
    /// The profiles a saved export must be recognised by (its header row).
    pub profiles: &'a Profiles,
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
        // Streamed beside its final place under a temporary name the watcher skips, checked,
        // compared by its cells (a city system may stamp every export with the time it was
        // made), then renamed: whole or not at all. Any error drops (deletes) it.
        let save_err = |path: &Path, e: std::io::Error| FetchError::Save {
            path: path.to_owned(),
            detail: io_message(&e),
        };
        let mut temp = tempfile::Builder::new()
            .prefix(&crate::write::temp_prefix())
            .suffix(crate::write::TEMP_SUFFIX)
            .tempfile_in(self.folder)
            .map_err(|e| save_err(self.folder, e))?;
        let bytes = self.download(temp.as_file_mut())?;
        temp.as_file()
            .sync_all()
            .map_err(|e| save_err(temp.path(), e))?;
        check_spreadsheet(temp.path(), self.profiles).map_err(|title| {
            FetchError::NotSpreadsheet {
                source_name: self.source.name.clone(),
                title,
            }
        })?;
        let sha = crate::digest::file_sha256(temp.path()).map_err(|e| save_err(temp.path(), e))?;
        let day = self.day.format("%Y-%m-%d").to_string();
        let last = journal.last_fetched(&self.source.reference, &day)?;
        if last.as_ref().is_some_and(|(bytes, _)| *bytes == sha) {
            return Ok(Fetched::Unchanged);
        }
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
            bytes: usize::try_from(bytes).unwrap_or(usize::MAX),
        })
    }

    /// Logs in and streams the export into `into`; the bytes written.
    fn download(&self, into: &mut std::fs::File) -> Result<u64, FetchError> {
        let s = self.source;
        let net_err = |error: NetError| FetchError::Net {
            source_name: s.name.clone(),
            error,
        };
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
        let deadline = client.deadline();
        let seconds = s.connection.timeout_s;
        let resp = req.send().map_err(|e| match net::net_error(&e) {
            Some(n) => net_err(n),
            None => FetchError::Unreachable {
                source_name: s.name.clone(),
                url: net::shown_url(&s.export_url),
                detail: crate::upload::client::error_chain(&e),
            },
        })?;
        let status = resp.status().as_u16();
        if status == 401 || status == 403 {
            return Err(FetchError::Login {
                source_name: s.name.clone(),
                reference: s.reference.clone(),
                detail: format!("HTTP {status}"),
            });
        }
        if !(200..300).contains(&status) {
            let page = net::read_page(resp, deadline, seconds).map_err(net_err)?;
            let title = page_title(page.as_bytes()).unwrap_or_default();
            return Err(FetchError::Status {
                source_name: s.name.clone(),
                status,
                detail: title,
            });
        }
        let mut sink = std::io::BufWriter::new(into);
        let bytes = net::read_body(resp, net::EXPORT_LIMIT, deadline, seconds, &mut sink)
            .map_err(net_err)?;
        std::io::Write::flush(&mut sink).map_err(|e| FetchError::Save {
            path: self.folder.to_owned(),
            detail: io_message(&e),
        })?;
        Ok(bytes)
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

/// `Ok` when the file at `path` is an export: the reader opens it as a spreadsheet and one of
/// its sheets has a header row a profile of `profiles` recognises (every required field found).
/// `Err` says what it is instead, for the message: an HTML page's title, or the first words of
/// what came, or the header cells found. Only the head of each sheet is read.
pub fn check_spreadsheet(path: &Path, profiles: &Profiles) -> Result<(), String> {
    use crate::profile::{HEAD_ROWS, find_header};
    use std::ops::ControlFlow;
    let Ok(mut book) = crate::read::Workbook::open(path) else {
        return Err(describe(path, None));
    };
    let candidates: Vec<std::sync::Arc<crate::profile::Profile>> = profiles
        .list
        .iter()
        .cloned()
        .map(std::sync::Arc::new)
        .collect();
    let mut first_row: Option<Vec<String>> = None;
    for sheet in book.sheet_names() {
        let mut head = Vec::new();
        let read = book.for_each_row(&sheet, &mut |r, cells| {
            if !cells.iter().all(crate::read::Cell::is_blank) {
                head.push((r, cells));
            }
            if head.len() >= HEAD_ROWS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        if read.is_err() {
            continue;
        }
        if first_row.is_none()
            && let Some((_, cells)) = head.first()
        {
            first_row = Some(cells.iter().map(crate::read::Cell::display).collect());
        }
        if let Some(choice) = find_header(&head, &candidates)
            && choice
                .m
                .missing_required(&candidates[choice.profile])
                .is_empty()
        {
            return Ok(());
        }
    }
    Err(describe(path, first_row))
}

/// What a download that is not an export is, in a few words: an HTML page's title, else the
/// first words of its text (tags left out), else the first row the reader found.
fn describe(path: &Path, first_row: Option<Vec<String>>) -> String {
    let mut head = Vec::with_capacity(64 * 1024);
    let _ = std::fs::File::open(path).and_then(|f| {
        std::io::Read::read_to_end(&mut std::io::Read::take(f, 64 * 1024), &mut head)
    });
    if let Some(title) = page_title(&head) {
        return crate::paths::for_line(&title);
    }
    let binary = head.iter().take(512).any(|&b| b == 0) || head.starts_with(b"PK");
    if !binary {
        let text = crate::read::decode_text(&head);
        let mut words = String::new();
        let mut in_tag = false;
        for c in text.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    words.push(' ');
                }
                c if !in_tag => words.push(c),
                _ => {}
            }
        }
        let words: Vec<&str> = words.split_whitespace().collect();
        let first: String = words.join(" ").chars().take(60).collect();
        if !first.is_empty() {
            return crate::paths::for_line(&first);
        }
    }
    match first_row {
        Some(cells) => {
            let cells: String = cells.join("、").chars().take(60).collect();
            crate::paths::for_line(&format!("表格，但认不出表头：{cells}"))
        }
        None if head.is_empty() => "（空白内容）".into(),
        None => "（认不出的二进制内容）".into(),
    }
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

    fn check(data: &[u8], name: &str) -> Result<(), String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        check_spreadsheet(&path, &Profiles::load(None))
    }

    #[test]
    fn exports_pass_pages_are_refused_with_their_title() {
        let export = "姓名,证件类型,证件号码,联系电话,采样时间,检测时间,检测结果,条码号,检测机构\n张三,身份证,110101199003077777,13800138000,2022-01-10 08:00,2022-01-10 12:00,阴性,A1,某医院\n";
        assert_eq!(check(export.as_bytes(), "a.part"), Ok(()));
        let login = "<!DOCTYPE html><html><head><title> 登录 - 市核酸检测系统 </title></head><body><form></form></body></html>";
        assert_eq!(
            check(login.as_bytes(), "a.part"),
            Err("登录 - 市核酸检测系统".into())
        );
        let table =
            "<html><body><table><tr><td>用户名</td><td>密码</td></tr></table></body></html>";
        assert!(check(table.as_bytes(), "a.part").is_err());
        let json = br#"{"code":401,"msg":"token expired"}"#;
        let e = check(json, "a.part").unwrap_err();
        assert!(e.contains("token expired"), "{e}");
        assert!(check(b"", "a.part").is_err());
    }
}
