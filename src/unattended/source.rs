//! Sources (unattended.md, "Fetching the export from the city system"): the TOML file that says
//! how to log in to a city system and ask it for the day's export. Like a target, a source is
//! data, never code, named by its file stem (`sources/` in the config folder) or given by path.
//!
//! The connection part (`base_url`, `allow_http`, `timeout_s`, `ca_cert`, `[auth]`) has the
//! same keys and meaning as a target's and is checked by the same code
//! ([`crate::upload::target::Target::parse`]): a source is read as a target whose upload path is
//! the export path.

use crate::named::{FileKind, Found, Named};
use crate::upload::target::{Target, TargetError};
use reqwest::Url;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why a source could not be loaded: the one error of every named TOML file (`src/named.rs`),
/// naming the file (`NotFound`'s `available` is the folder looked in).
pub type SourceError = crate::named::FileError;

/// GET with a query string, or POST with form fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// A loaded, checked source.
#[derive(Debug, Clone, PartialEq)]
pub struct Source {
    /// The file stem (or the absolute path of a file given by path): the key of its
    /// credentials and of its downloads in the journal.
    pub reference: String,
    pub name: String,
    /// The connection and login, checked as a target's are; `upload_url` is the export URL.
    pub connection: Target,
    pub method: Method,
    pub export_url: Url,
    /// Parameters, with `{date}`, `{yesterday}`, `{today}` not yet filled.
    pub params: Vec<(String, String)>,
    /// The name the download is saved under, `{date}` not yet filled.
    pub file_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportFile {
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    params: BTreeMap<String, String>,
    file_name: String,
}

/// The placeholders allowed in `[export]`.
pub const PLACEHOLDERS: &[&str] = &["date", "yesterday", "today"];

fn check_placeholders(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            return Err(format!("「{text}」里的 {{ 没有配对的 }}"));
        };
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Err(format!(
                "不认识的占位符 {{{name}}}；可用的有 {{date}} {{yesterday}} {{today}}"
            ));
        }
        rest = &after[close + 1..];
    }
    Ok(())
}

impl Source {
    /// Parses and checks source text. `shown` names the file in messages; `dir` is where a
    /// relative `ca_cert` is looked up.
    // Long: one check per key of the source file, in file order, each naming its line and key.
    pub fn parse(
        reference: &str,
        shown: &str,
        text: &str,
        dir: Option<&Path>,
    ) -> Result<Source, SourceError> {
        let invalid = |key: Option<&str>, detail: String| SourceError::Invalid {
            kind: FileKind::Source,
            path: shown.to_owned(),
            line: None,
            key: key.map(str::to_owned),
            detail,
        };
        let mut table: toml::Table = toml::from_str(text).map_err(|e| {
            let (line, _) = crate::profile::line_and_key(text, e.span());
            invalid(None, format!("第 {line} 行：{}", e.message().trim()))
        })?;
        let export = table.remove("export").ok_or_else(|| {
            invalid(
                Some("export"),
                "缺少 [export] 一节（导出请求的路径和参数）".into(),
            )
        })?;
        let export: ExportFile = export
            .try_into()
            .map_err(|e: toml::de::Error| invalid(Some("export"), e.message().trim().to_owned()))?;
        let method = match export
            .method
            .as_deref()
            .map(str::to_ascii_uppercase)
            .as_deref()
        {
            None | Some("GET") => Method::Get,
            Some("POST") => Method::Post,
            Some(other) => {
                return Err(invalid(
                    Some("export.method"),
                    format!("method 只能是 GET 或 POST，而不是 {other}"),
                ));
            }
        };
        for (k, v) in &export.params {
            check_placeholders(v).map_err(|d| invalid(Some(&format!("export.params.{k}")), d))?;
            if crate::upload::target::written_secret(k, v) {
                return Err(invalid(
                    Some(&format!("export.params.{k}")),
                    crate::upload::target::secret_refused(k),
                ));
            }
        }
        check_placeholders(&export.file_name).map_err(|d| invalid(Some("export.file_name"), d))?;
        let file_name = export.file_name.trim().to_owned();
        let valid_name = !file_name.is_empty()
            && !file_name.contains(['/', '\\'])
            && Path::new(&file_name).extension().is_some();
        if !valid_name {
            return Err(invalid(
                Some("export.file_name"),
                "file_name 应是带扩展名的文件名（不含文件夹），例如 \"核酸结果_{date}.xlsx\""
                    .into(),
            ));
        }
        let mut upload = toml::Table::new();
        upload.insert("path".into(), toml::Value::String(export.path.clone()));
        table.insert("upload".into(), toml::Value::Table(upload));
        let as_target = toml::to_string(&table).map_err(|e| invalid(None, e.to_string()))?;
        let connection = Target::parse(reference, shown, &as_target, dir).map_err(|e| match e {
            TargetError::Invalid { key, detail, .. } => {
                let key = key.map(|k| {
                    if k == "upload.path" || k == "path" {
                        "export.path".into()
                    } else {
                        k
                    }
                });
                SourceError::Invalid {
                    kind: FileKind::Source,
                    path: shown.to_owned(),
                    line: None,
                    key,
                    detail: detail.replace("/nat/import", "/nat/export"),
                }
            }
            TargetError::Io { path, detail, .. } => SourceError::Io {
                kind: FileKind::Source,
                path,
                detail,
            },
            TargetError::NotFound {
                name, available, ..
            } => SourceError::NotFound {
                kind: FileKind::Source,
                name,
                available,
            },
        })?;
        Ok(Source {
            reference: reference.to_owned(),
            name: connection.name.clone(),
            export_url: connection.upload_url.clone(),
            connection,
            method,
            params: export.params.into_iter().collect(),
            file_name,
        })
    }

    /// Loads a source file; its reference is its absolute path.
    pub fn from_path(path: &Path) -> Result<Source, SourceError> {
        crate::named::from_path(path)
    }

    /// A source by stem in `dir` (the config folder's `sources/`), or by path when `name` ends
    /// in `.toml` or is a file.
    pub fn find(name: &str, dir: Option<&Path>) -> Result<Source, SourceError> {
        crate::named::find(name, dir)
    }

    /// The parameters with the placeholders filled for `day` (today is `today`).
    pub fn filled_params(
        &self,
        day: chrono::NaiveDate,
        today: chrono::NaiveDate,
    ) -> Vec<(String, String)> {
        self.params
            .iter()
            .map(|(k, v)| (k.clone(), fill(v, day, today)))
            .collect()
    }

    /// The saved name for `day`: `<file_name stem>_<suffix>.<ext>`.
    pub fn saved_name(
        &self,
        day: chrono::NaiveDate,
        today: chrono::NaiveDate,
        suffix: &str,
    ) -> String {
        let name = fill(&self.file_name, day, today);
        match name.rsplit_once('.') {
            Some((stem, ext)) => format!("{stem}_{suffix}.{ext}"),
            None => format!("{name}_{suffix}"),
        }
    }
}

fn fill(text: &str, day: chrono::NaiveDate, today: chrono::NaiveDate) -> String {
    let f = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    text.replace("{date}", &f(day))
        .replace("{today}", &f(today))
        .replace("{yesterday}", &f(today.pred_opt().unwrap_or(today)))
}

/// Sources are named TOML files: found, read and reported by `src/named.rs` (none is built in).
impl Named for Source {
    const KIND: FileKind = FileKind::Source;
    const BUILTIN: &'static [(&'static str, &'static str)] = &[];
    const BUILTIN_DIR: &'static str = "";
    fn parse(found: &Found<'_>) -> Result<Source, SourceError> {
        Source::parse(found.reference, found.shown, found.text, found.dir)
    }
}

/// The user's sources folder.
pub fn user_dir(config_dir: Option<&Path>) -> Option<PathBuf> {
    config_dir.map(|d| d.join("sources"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const GOOD: &str = r#"
name = "市核酸检测系统"
base_url = "http://127.0.0.1:9"
allow_http = true
timeout_s = 120

[auth]
kind = "form"
login_path = "/login"
username_field = "username"
password_field = "password"

[export]
method = "GET"
path = "/nat/export"
params = { start = "{date} 00:00:00", end = "{date} 23:59:59", format = "xlsx", y = "{yesterday}" }
file_name = "核酸结果_{date}.xlsx"
"#;

    #[test]
    fn parses_fills_and_names() {
        let s = Source::parse("city", "city.toml", GOOD, None).unwrap();
        assert_eq!(s.method, Method::Get);
        assert_eq!(s.export_url.as_str(), "http://127.0.0.1:9/nat/export");
        assert!(matches!(
            s.connection.auth,
            crate::upload::target::Auth::Form { .. }
        ));
        let day = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        let today = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        let p = s.filled_params(day, today);
        assert!(p.contains(&("start".into(), "2026-03-01 00:00:00".into())));
        assert!(p.contains(&("y".into(), "2026-03-01".into())));
        assert_eq!(
            s.saved_name(day, today, "0930"),
            "核酸结果_2026-03-01_0930.xlsx"
        );
    }

    #[test]
    fn mistakes_are_named() {
        let no_export = GOOD.split("[export]").next().unwrap();
        let e = Source::parse("c", "c.toml", no_export, None).unwrap_err();
        assert!(e.to_string().contains("[export]"), "{e}");
        let bad_placeholder = GOOD.replace("{yesterday}", "{tomorrow}");
        let e = Source::parse("c", "c.toml", &bad_placeholder, None).unwrap_err();
        assert!(e.to_string().contains("tomorrow"), "{e}");
        let https_only = GOOD.replace("allow_http = true\n", "");
        let e = Source::parse("c", "c.toml", &https_only, None).unwrap_err();
        assert!(e.to_string().contains("allow_http"), "{e}");
        let bad_kind = GOOD.replace("kind = \"form\"", "kind = \"magic\"");
        let e = Source::parse("c", "c.toml", &bad_kind, None).unwrap_err();
        assert!(e.to_string().contains("magic"), "{e}");
        let no_ext = GOOD.replace("核酸结果_{date}.xlsx", "结果");
        assert!(Source::parse("c", "c.toml", &no_ext, None).is_err());
    }
}
