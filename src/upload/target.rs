//! Upload targets: the TOML file describing how to reach one provincial platform (target.md).
//!
//! A target is data, never code: where to post, how to log in, what a success looks like.
//! Built-in examples live in `mappings/targets/`, the user's own in `targets/` under the config
//! folder; a target is named by its file stem or given as a path.
// Over 600 lines: the target file format with its checks and their tests.

use crate::named::{FileKind, Found, Named};
use crate::paths::for_line;
use reqwest::Url;
use serde::Deserialize;
use std::path::Path;
use toml::Spanned;

/// The built-in targets: (stem, text).
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "example",
        include_str!("../../mappings/targets/example.toml"),
    ),
    (
        "platform",
        include_str!("../../mappings/targets/platform.toml"),
    ),
];

/// Why a target could not be loaded: the one error of every named TOML file (`src/named.rs`),
/// naming the file.
pub type TargetError = crate::named::FileError;

/// How to log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    None,
    /// HTTP basic with `SHEETBRIDGE_USER` / `SHEETBRIDGE_PASSWORD`.
    Basic,
    /// `Authorization: Bearer` with `SHEETBRIDGE_TOKEN`.
    Bearer,
    /// A login form posted as `application/x-www-form-urlencoded`; the session cookie is kept.
    Form {
        login_url: Url,
        username_field: String,
        password_field: String,
        /// A login answer containing this text failed.
        failure_text: Option<String>,
    },
}

/// What a successful answer looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Success {
    /// Inclusive range of HTTP statuses that can mean success.
    pub status: (u16, u16),
    pub json_pointer: Option<String>,
    pub equals: Option<String>,
    pub accepted_pointer: Option<String>,
    pub message_pointer: Option<String>,
}

/// A loaded, checked target.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// How it was named: the file stem, or the absolute path of a file given by path. Stored in
    /// the outbox so a later `outbox send` finds the same target.
    pub reference: String,
    /// Shown to the clerk; part of every batch id.
    pub name: String,
    pub base_url: Url,
    /// The extra CA certificate (PEM), read when the target was loaded.
    pub ca_cert: Option<Vec<u8>>,
    pub timeout_s: u64,
    pub max_rows_per_file: usize,
    pub idempotency_header: Option<String>,
    pub resend_is_harmless: bool,
    pub retry_for_hours: f64,
    pub auth: Auth,
    /// Where batches are POSTed.
    pub upload_url: Url,
    pub file_field: String,
    /// Extra form fields, with placeholders not yet filled.
    pub fields: Vec<(String, String)>,
    pub success: Success,
}

/// The placeholders allowed in `[upload] fields`.
pub const PLACEHOLDERS: &[&str] = &["date", "batch_id", "row_count", "file_name"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetFile {
    name: Spanned<String>,
    base_url: Spanned<String>,
    #[serde(default)]
    allow_http: bool,
    ca_cert: Option<Spanned<String>>,
    timeout_s: Option<Spanned<i64>>,
    max_rows_per_file: Option<Spanned<i64>>,
    idempotency_header: Option<Spanned<String>>,
    #[serde(default)]
    resend_is_harmless: bool,
    retry_for_hours: Option<Spanned<f64>>,
    #[serde(default)]
    auth: AuthFile,
    upload: UploadFile,
    #[serde(default)]
    success: SuccessFile,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    kind: Option<Spanned<String>>,
    login_path: Option<Spanned<String>>,
    username_field: Option<String>,
    password_field: Option<String>,
    failure_text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadFile {
    path: Spanned<String>,
    file_field: Option<String>,
    #[serde(default)]
    fields: std::collections::BTreeMap<String, Spanned<String>>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct SuccessFile {
    status: Option<Spanned<Vec<i64>>>,
    json_pointer: Option<Spanned<String>>,
    equals: Option<Spanned<toml::Value>>,
    accepted_pointer: Option<Spanned<String>>,
    message_pointer: Option<Spanned<String>>,
}

impl Target {
    /// Parses and checks target text. `shown` names the file in messages; `dir` is where a
    /// relative `ca_cert` is looked up (`None` for a built-in target).
    // Long: one check per key of the target file, in file order, each naming its line and key.
    pub fn parse(
        reference: &str,
        shown: &str,
        text: &str,
        dir: Option<&Path>,
    ) -> Result<Target, TargetError> {
        let err = |span: Option<std::ops::Range<usize>>, detail: String| {
            let (line, key) = crate::profile::line_and_key(text, span);
            TargetError::Invalid {
                kind: FileKind::Target,
                path: shown.to_owned(),
                line: Some(line),
                key,
                detail: detail.trim().to_owned(),
            }
        };
        let file: TargetFile =
            toml::from_str(text).map_err(|e| err(e.span(), e.message().to_owned()))?;

        if file.name.get_ref().trim().is_empty() {
            return Err(err(Some(file.name.span()), "name 不能为空".into()));
        }
        let base_url = Url::parse(file.base_url.get_ref().trim()).map_err(|e| {
            err(
                Some(file.base_url.span()),
                format!("base_url 不是有效的网址（{e}），应形如 https://10.1.2.3:8443"),
            )
        })?;
        // A password in the address would be used, logged and copied into the diagnostic bundle:
        // passwords live in the credential store (guarantees.md, section 1). The message does
        // not repeat the address.
        if has_userinfo(&base_url) {
            return Err(err(
                Some(file.base_url.span()),
                "base_url 里不能写用户名或密码（形如 https://用户名:密码@地址）；请从 base_url 里删掉「用户名:密码@」，改用 sheetbridge login 或窗口里的“记住密码”保存登录信息".into(),
            ));
        }
        match base_url.scheme() {
            "https" => {}
            "http" if file.allow_http => {}
            "http" => {
                return Err(err(
                    Some(file.base_url.span()),
                    "不加密的 http:// 地址默认不允许（上报内容含身份证号）；请改用 https://，或确需时加上 allow_http = true".into(),
                ));
            }
            other => {
                return Err(err(
                    Some(file.base_url.span()),
                    format!("base_url 只能以 https:// 开头，而不是 {other}://"),
                ));
            }
        }
        let ca_cert = match &file.ca_cert {
            None => None,
            Some(c) => {
                let Some(dir) = dir else {
                    return Err(err(
                        Some(c.span()),
                        "内置目标不能带 ca_cert；请把目标文件复制到自己的 targets 文件夹".into(),
                    ));
                };
                let path = dir.join(c.get_ref());
                let pem = crate::bounded::read(&path, crate::bounded::TEXT_FILE).map_err(|e| {
                    err(
                        Some(c.span()),
                        format!(
                            "读不了证书文件「{}」：{}",
                            crate::paths::shown(&path),
                            e.reason()
                        ),
                    )
                })?;
                let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string());
                if !certs.as_ref().is_ok_and(|c| !c.is_empty()) {
                    let why = certs.err().unwrap_or_else(|| "没有找到证书".into());
                    return Err(err(
                        Some(c.span()),
                        format!(
                            "证书文件「{}」不是 PEM 格式的证书：{why}",
                            crate::paths::shown(&path)
                        ),
                    ));
                }
                Some(pem)
            }
        };
        let positive = |v: &Option<Spanned<i64>>, default: i64, max: i64, what: &str| match v {
            None => Ok(default),
            Some(s) if (1..=max).contains(s.get_ref()) => Ok(*s.get_ref()),
            Some(s) => Err(err(
                Some(s.span()),
                format!("{what} 应在 1 到 {max} 之间，而不是 {}", s.get_ref()),
            )),
        };
        let timeout_s = positive(&file.timeout_s, 60, 3600, "timeout_s")? as u64;
        let max_rows_per_file = positive(
            &file.max_rows_per_file,
            5000,
            1_000_000,
            "max_rows_per_file",
        )? as usize;
        let retry_for_hours = match &file.retry_for_hours {
            None => 24.0,
            Some(h) if (0.0..=24.0 * 30.0).contains(h.get_ref()) => *h.get_ref(),
            Some(h) => {
                return Err(err(
                    Some(h.span()),
                    format!("retry_for_hours 应在 0 到 720 之间，而不是 {}", h.get_ref()),
                ));
            }
        };
        let idempotency_header = match file.idempotency_header {
            None => None,
            Some(h) => {
                let name = h.get_ref().trim();
                if name.is_empty()
                    || reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                {
                    return Err(err(
                        Some(h.span()),
                        format!("idempotency_header「{name}」不是有效的 HTTP 头名称"),
                    ));
                }
                Some(name.to_owned())
            }
        };

        let auth = match file.auth.kind.as_ref().map(|k| k.get_ref().as_str()) {
            None | Some("none") => Auth::None,
            Some("basic") => Auth::Basic,
            Some("bearer") => Auth::Bearer,
            Some("form") => {
                let Some(login_path) = file.auth.login_path else {
                    return Err(err(
                        file.auth.kind.as_ref().map(|k| k.span()),
                        "kind = \"form\" 需要 login_path（登录表单提交的路径，例如 \"/login\"）"
                            .into(),
                    ));
                };
                Auth::Form {
                    login_url: join(&base_url, &login_path, &err)?,
                    username_field: file
                        .auth
                        .username_field
                        .unwrap_or_else(|| "username".into()),
                    password_field: file
                        .auth
                        .password_field
                        .unwrap_or_else(|| "password".into()),
                    failure_text: file.auth.failure_text.filter(|t| !t.is_empty()),
                }
            }
            Some(other) => {
                return Err(err(
                    file.auth.kind.as_ref().map(|k| k.span()),
                    format!("不认识的登录方式「{other}」，只能是 none、basic、bearer 或 form"),
                ));
            }
        };

        let upload_url = join(&base_url, &file.upload.path, &err)?;
        let mut fields = Vec::new();
        for (name, value) in file.upload.fields {
            check_placeholders(value.get_ref()).map_err(|p| {
                err(
                    Some(value.span()),
                    format!(
                        "不认识的占位符 {{{p}}}；可用的有 {}",
                        PLACEHOLDERS
                            .iter()
                            .map(|p| format!("{{{p}}}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ),
                )
            })?;
            if written_secret(&name, value.get_ref()) {
                return Err(err(Some(value.span()), secret_refused(&name)));
            }
            fields.push((name, value.into_inner()));
        }

        let s = file.success;
        let status = match &s.status {
            None => (200, 299),
            Some(st) => match st.get_ref().as_slice() {
                [lo, hi] if (100..=599).contains(lo) && (*lo..=599).contains(hi) => {
                    (*lo as u16, *hi as u16)
                }
                _ => {
                    return Err(err(
                        Some(st.span()),
                        "status 应是两个 HTTP 状态码组成的范围，例如 [200, 299]".into(),
                    ));
                }
            },
        };
        let pointer = |p: Option<Spanned<String>>| -> Result<Option<String>, TargetError> {
            match p {
                None => Ok(None),
                Some(p) if p.get_ref().starts_with('/') => Ok(Some(p.into_inner())),
                Some(p) => Err(err(
                    Some(p.span()),
                    format!(
                        "JSON 指针应以 / 开头，例如 \"/code\"，而不是「{}」",
                        p.get_ref()
                    ),
                )),
            }
        };
        let equals = s.equals.map(|v| match v.into_inner() {
            toml::Value::String(s) => s,
            other => other.to_string(),
        });
        let json_pointer = pointer(s.json_pointer)?;
        if equals.is_some() != json_pointer.is_some() {
            return Err(err(
                None,
                "[success] 里的 json_pointer 和 equals 要么都写，要么都不写".into(),
            ));
        }
        Ok(Target {
            reference: reference.to_owned(),
            name: file.name.into_inner().trim().to_owned(),
            base_url,
            ca_cert,
            timeout_s,
            max_rows_per_file,
            idempotency_header,
            resend_is_harmless: file.resend_is_harmless,
            retry_for_hours,
            auth,
            upload_url,
            file_field: file.upload.file_field.unwrap_or_else(|| "file".into()),
            fields,
            success: Success {
                status,
                json_pointer,
                equals,
                accepted_pointer: pointer(s.accepted_pointer)?,
                message_pointer: pointer(s.message_pointer)?,
            },
        })
    }

    /// Loads a target file; its reference is its absolute path.
    pub fn from_path(path: &Path) -> Result<Target, TargetError> {
        crate::named::from_path(path)
    }

    /// A target by stem (the user's `targets/` folder first, then the built-in ones), or by
    /// path when `name` ends in `.toml` or is a file.
    pub fn find(name: &str, user_dir: Option<&Path>) -> Result<Target, TargetError> {
        crate::named::find(name, user_dir)
    }

    /// Who this target is, for the ledger and for batch ids: its `name` together with its
    /// `base_url`, so a copied target file pointed at another address is another target.
    pub fn identity(&self) -> String {
        format!("{}\u{1f}{}", self.name, self.base_url)
    }

    /// Can a batch whose answer was lost be sent again without duplicating rows?
    pub fn resend_is_safe(&self) -> bool {
        self.idempotency_header.is_some() || self.resend_is_harmless
    }

    /// The extra form fields with their placeholders filled.
    pub fn filled_fields(
        &self,
        date: &str,
        batch_id: &str,
        row_count: usize,
        file_name: &str,
    ) -> Vec<(String, String)> {
        self.fields
            .iter()
            .map(|(k, v)| {
                let v = v
                    .replace("{date}", date)
                    .replace("{batch_id}", batch_id)
                    .replace("{row_count}", &row_count.to_string())
                    .replace("{file_name}", file_name);
                (k.clone(), v)
            })
            .collect()
    }
}

/// The stems of every target found: built-in, then the user's.
pub fn available(user_dir: Option<&Path>) -> Vec<String> {
    crate::named::names::<Target>(user_dir)
}

/// Targets are named TOML files: found, read and reported by `src/named.rs`.
impl Named for Target {
    const KIND: FileKind = FileKind::Target;
    const BUILTIN: &'static [(&'static str, &'static str)] = BUILTIN;
    const BUILTIN_DIR: &'static str = "mappings/targets";
    fn parse(found: &Found<'_>) -> Result<Target, TargetError> {
        Target::parse(found.reference, found.shown, found.text, found.dir)
    }
}

/// `base` joined with an absolute `path` (which must start with `/`).
fn join(
    base: &Url,
    path: &Spanned<String>,
    err: &dyn Fn(Option<std::ops::Range<usize>>, String) -> TargetError,
) -> Result<Url, TargetError> {
    let bad = |why: String| err(Some(path.span()), why);
    if !path.get_ref().starts_with('/') {
        return Err(bad(format!(
            "路径应以 / 开头，例如 \"/nat/import\"，而不是「{}」",
            path.get_ref()
        )));
    }
    let url = base.join(path.get_ref()).map_err(|e| {
        bad(format!(
            "路径「{}」无法和 base_url 拼成网址：{e}",
            path.get_ref()
        ))
    })?;
    // "//host/x" (or "/\\host/x") is a path only in name: it would send the password to
    // another server. The joined address must stay on base_url's server.
    if url.origin() != base.origin() {
        return Err(bad(format!(
            "路径「{}」指向了 base_url 以外的服务器；请只写路径，例如 \"/login\"",
            path.get_ref()
        )));
    }
    if has_userinfo(&url) {
        return Err(bad(
            "路径里不能写用户名或密码（「用户名:密码@」）；请只写路径，例如 \"/login\"".into(),
        ));
    }
    if let Some((name, _)) = url.query_pairs().find(|(k, v)| written_secret(k, v)) {
        return Err(bad(secret_refused(&name)));
    }
    Ok(url)
}

/// Whether a form field, query parameter or export parameter carries a password, token or key
/// written into the file (guarantees.md section 1: a file the diagnostic bundle copies never
/// holds one): its name says so, and its value is text, not only placeholders.
pub fn written_secret(name: &str, value: &str) -> bool {
    let name: String = name
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    let secret = [
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "密码",
        "口令",
        "令牌",
        "密钥",
    ]
    .iter()
    .any(|s| name.contains(s));
    let mut literal = value.to_owned();
    while let (Some(a), Some(b)) = (literal.find('{'), literal.find('}')) {
        if b < a {
            break;
        }
        literal.replace_range(a..=b, "");
    }
    secret && !literal.trim().is_empty()
}

/// Why a written secret is refused, and what to do instead.
pub fn secret_refused(name: &str) -> String {
    let name = for_line(name);
    format!(
        "「{name}」里写了密码、令牌或密钥：这个文件会被复制进诊断包，不能存放它们。请删掉这一项的值；登录信息用 sheetbridge login 或窗口里的“记住密码”保存"
    )
}

/// An address with a user name or a password in it (`https://u:p@host`).
pub fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// The first unknown `{placeholder}` in a field value.
fn check_placeholders(value: &str) -> Result<(), String> {
    let mut rest = value;
    while let Some(start) = rest.find('{') {
        let after = &rest[start + 1..];
        let Some(end) = after.find('}') else {
            return Err(after.to_owned());
        };
        let name = &after[..end];
        if !PLACEHOLDERS.contains(&name) {
            return Err(name.to_owned());
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Localized;

    const MINIMAL: &str = r#"
name = "测试平台"
base_url = "https://10.1.2.3:8443"
[upload]
path = "/nat/import"
"#;

    fn parse(text: &str) -> Result<Target, TargetError> {
        Target::parse("t", "t.toml", text, None)
    }

    #[test]
    fn builtin_targets_load() {
        for (stem, _) in BUILTIN {
            let t = Target::find(stem, None).unwrap();
            assert_eq!(t.reference, *stem);
        }
        let t = Target::find("example", None).unwrap();
        assert_eq!(t.idempotency_header.as_deref(), Some("Idempotency-Key"));
        assert!(matches!(t.auth, Auth::Form { .. }));
        assert_eq!(t.success.status, (200, 299));
        assert_eq!(t.success.equals.as_deref(), Some("0"));
    }

    #[test]
    fn defaults() {
        let t = parse(MINIMAL).unwrap();
        assert_eq!(t.timeout_s, 60);
        assert_eq!(t.max_rows_per_file, 5000);
        assert_eq!(t.retry_for_hours, 24.0);
        assert_eq!(t.auth, Auth::None);
        assert_eq!(t.file_field, "file");
        assert!(!t.resend_is_safe());
        assert_eq!(t.upload_url.as_str(), "https://10.1.2.3:8443/nat/import");
    }

    #[test]
    fn http_refused_unless_allowed() {
        let text = MINIMAL.replace("https://", "http://");
        let e = parse(&text).unwrap_err();
        match &e {
            TargetError::Invalid { line, key, .. } => {
                assert_eq!(*line, Some(3));
                assert_eq!(key.as_deref(), Some("base_url"));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.to_string().contains("allow_http"), "{e}");
        let allowed = format!("allow_http = true\n{text}");
        assert_eq!(parse(&allowed).unwrap().base_url.scheme(), "http");
    }

    #[test]
    fn errors_name_line_and_key() {
        let text = MINIMAL.replace("[upload]", "timeout_s = \"sixty\"\n[upload]");
        let e = parse(&text).unwrap_err();
        let TargetError::Invalid {
            line, key, path, ..
        } = &e
        else {
            panic!("{e:?}")
        };
        assert_eq!(
            (*line, key.as_deref(), path.as_str()),
            (Some(4), Some("timeout_s"), "t.toml")
        );

        let text = format!("{MINIMAL}fields = {{ a = \"{{when}}\" }}\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("{when}"), "{e}");
        assert!(e.to_string().contains("第 6 行"), "{e}");

        let text = MINIMAL.replace("[upload]", "[auth]\nkind = \"oauth\"\n[upload]");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("oauth"), "{e}");
        assert!(e.english().contains("line 5 (key kind)"), "{}", e.english());

        let text = format!("{MINIMAL}[success]\nstatus = [299, 200]\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("第 7 行"), "{e}");

        let text = format!("{MINIMAL}colour = 1\n");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("colour"), "{e}");

        let text = MINIMAL.replace("[upload]", "[auth]\nkind = \"form\"\n[upload]");
        let e = parse(&text).unwrap_err();
        assert!(e.to_string().contains("login_path"), "{e}");
    }

    #[test]
    fn a_path_never_leaves_the_base_server() {
        for path in [
            "//other-host/login",
            "/\\\\other-host/login",
            "///other-host/x",
        ] {
            let text = MINIMAL.replace(
                "[upload]",
                &format!("[auth]\nkind = \"form\"\nlogin_path = '{path}'\n[upload]"),
            );
            let e = parse(&text).unwrap_err();
            assert!(e.to_string().contains("other-host"), "{path}: {e}");
            let text = MINIMAL.replace("\"/nat/import\"", &format!("'{path}'"));
            assert!(parse(&text).is_err(), "{path}");
        }
        let text = MINIMAL.replace(
            "[upload]",
            "[auth]\nkind = \"form\"\nlogin_path = \"/sso/login\"\n[upload]",
        );
        let Auth::Form { login_url, .. } = parse(&text).unwrap().auth else {
            panic!("not form auth")
        };
        assert_eq!(login_url.as_str(), "https://10.1.2.3:8443/sso/login");
    }

    #[test]
    fn placeholders_are_filled() {
        let text = format!(
            "{MINIMAL}fields = {{ d = \"{{date}}\", b = \"批次{{batch_id}}-{{row_count}}\", f = \"{{file_name}}\" }}\n"
        );
        let t = parse(&text).unwrap();
        let filled = t.filled_fields("2026-11-27", "abc", 12, "abc.xlsx");
        assert_eq!(
            filled,
            vec![
                ("b".to_owned(), "批次abc-12".to_owned()),
                ("d".to_owned(), "2026-11-27".to_owned()),
                ("f".to_owned(), "abc.xlsx".to_owned()),
            ]
        );
    }

    #[test]
    fn ca_cert_is_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prov.toml");
        std::fs::write(
            &path,
            MINIMAL.replace("[upload]", "ca_cert = \"ca.pem\"\n[upload]"),
        )
        .unwrap();
        let e = Target::from_path(&path).unwrap_err();
        assert!(e.to_string().contains("ca.pem"), "{e}");
        std::fs::write(dir.path().join("ca.pem"), "not a certificate").unwrap();
        let e = Target::from_path(&path).unwrap_err();
        assert!(e.to_string().contains("PEM"), "{e}");
    }

    #[test]
    fn found_by_stem_in_the_user_folder_or_by_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.toml"), MINIMAL).unwrap();
        let t = Target::find("mine", Some(dir.path())).unwrap();
        assert_eq!(
            (t.reference.as_str(), t.name.as_str()),
            ("mine", "测试平台")
        );
        let by_path = dir.path().join("mine.toml");
        let t = Target::find(&crate::paths::shown(&by_path), None).unwrap();
        assert!(Path::new(&t.reference).is_absolute());
        let e = Target::find("nope", Some(dir.path())).unwrap_err();
        assert!(e.to_string().contains("mine"), "{e}");
        assert!(e.to_string().contains("example"), "{e}");
    }
}
