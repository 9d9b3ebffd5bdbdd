//! Talking to one platform: log in as the target says, post one batch file, and classify what
//! happened so the outbox knows whether to confirm, retry, reject or ask a person.
//!
//! Certificates are always verified (the target may add its own CA). Credentials come from the
//! caller and are never put into a message.

use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::privacy::mask_text as mask;
use crate::upload::target::{Auth, Target};
use reqwest::blocking::multipart::{Form, Part};
use std::path::Path;
use std::time::Duration;

pub mod net;
pub use net::NetError;

/// User name, password and token. `Debug` never shows them.
#[derive(Clone, Default)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: Option<String>,
    pub token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user.as_ref().map(|_| "***"))
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("token", &self.token.as_ref().map(|_| "***"))
            .finish()
    }
}

impl Credentials {
    /// From `SHEETBRIDGE_USER`, `SHEETBRIDGE_PASSWORD` and `SHEETBRIDGE_TOKEN` (scheduled and
    /// headless use), looked up by `var` (the front end passes the environment).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Credentials {
        let var = |k: &str| var(k).filter(|v| !v.is_empty());
        Credentials {
            user: var("SHEETBRIDGE_USER"),
            password: var("SHEETBRIDGE_PASSWORD"),
            token: var("SHEETBRIDGE_TOKEN"),
        }
    }
}

/// What happened to one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The platform accepted the batch.
    Confirmed,
    /// Could not connect at all (refused, DNS, connect timeout, certificate): nothing was sent.
    Unreachable,
    /// Busy (429, 5xx) or a login that did not complete: nothing was accepted; send again later.
    Retry,
    /// The platform said no (4xx, failed success check): do not resend.
    Rejected,
    /// The file was sent but the answer was lost: resend only when that cannot duplicate rows.
    Lost,
    /// The login was refused or credentials are missing: nothing was sent.
    LoginRefused,
}

/// The result of one attempt, with a message for the clerk (Chinese) and for the logs.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub kind: Kind,
    pub zh: String,
    pub en: String,
    /// Rows the platform said it accepted (`accepted_pointer`).
    pub accepted: Option<u64>,
    /// The system's own words (an error chain in English), for the log only: `zh` and `en`
    /// say what happened and what to do, and that is what the clerk sees and the batch keeps.
    pub detail: Option<String>,
}

impl Outcome {
    fn new(kind: Kind, zh: impl Into<String>, en: impl Into<String>) -> Outcome {
        Outcome {
            kind,
            // One line each: a platform's answer quoted in it can neither add a line nor drive
            // the terminal.
            zh: crate::paths::for_line(&mask(&zh.into())),
            en: crate::paths::for_line(&mask(&en.into())),
            accepted: None,
            detail: None,
        }
    }

    /// The same, with the system's own words kept for the log.
    fn with_detail(mut self, detail: String) -> Outcome {
        self.detail = Some(crate::paths::for_line(&mask(&detail)));
        self
    }
}

/// Why no client could be made for a target (the detail is the TLS library's own words).
#[derive(Debug, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub struct ClientError {
    pub target: String,
    pub detail: String,
}

impl Localized for ClientError {
    fn message(&self) -> Text {
        let ClientError { target, detail } = self;
        Text::new(
            format!("无法为上报目标「{target}」建立连接设置：{detail}。请把这条消息发给技术支持。"),
            format!(
                "cannot set up the connection for target {target}: {detail}; send this message to support"
            ),
        )
    }
}

/// An HTTP client for one target, logged in at most once per session.
pub struct Client<'t> {
    target: &'t Target,
    http: reqwest::blocking::Client,
    logged_in: bool,
}

const XLSX_MIME: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

fn unreachable(target: &Target, e: &reqwest::Error) -> Outcome {
    let chain = error_chain(e);
    if chain.to_ascii_lowercase().contains("certificate") {
        return Outcome::new(
            Kind::Unreachable,
            format!(
                "省平台 {} 的证书不受信任。请向省平台索取 CA 证书，并在目标文件里用 ca_cert 指定。",
                target.base_url
            ),
            format!(
                "the certificate of {} is not trusted; set ca_cert in the target file",
                target.base_url
            ),
        )
        .with_detail(chain);
    }
    Outcome::new(
        Kind::Unreachable,
        format!(
            "连不上省平台（{}），请检查 VPN 是否已连接、网络是否正常；数据已保存，连上后会自动重发。",
            target.base_url
        ),
        format!(
            "cannot reach the platform at {}: check the VPN; the batch stays queued",
            target.base_url
        ),
    )
    .with_detail(chain)
}

/// The error and its causes, for the logs and the details of a message.
pub(crate) fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

/// A JSON value as text: strings as they are, other values as JSON.
fn as_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl<'t> Client<'t> {
    /// A client for `target` (or a source's connection), built by [`net::http_client`].
    pub fn new(target: &'t Target) -> Result<Client<'t>, ClientError> {
        let http = net::http_client(target).map_err(|detail| ClientError {
            target: target.name.clone(),
            detail,
        })?;
        Ok(Client {
            target,
            http,
            logged_in: false,
        })
    }

    /// When a request started now must be over: `timeout_s` for the whole request, body
    /// included.
    pub fn deadline(&self) -> std::time::Instant {
        std::time::Instant::now() + Duration::from_secs(self.target.timeout_s)
    }

    /// A login page or an API answer, read by [`net::read_page`] against the deadline.
    fn page(
        &self,
        resp: reqwest::blocking::Response,
        deadline: std::time::Instant,
    ) -> Result<String, NetError> {
        net::read_page(resp, deadline, self.target.timeout_s)
    }

    /// The HTTP client with its session cookies: a source (unattended::fetch) logs in with
    /// [`Client::login`], then asks for its export through it.
    pub fn http(&self) -> &reqwest::blocking::Client {
        &self.http
    }

    /// The credential `value`, or an outcome naming the target and how to give it one.
    fn need<'c>(&self, value: &'c Option<String>, var: &str) -> Result<&'c str, Outcome> {
        value.as_deref().ok_or_else(|| {
            let name = crate::paths::for_line(&self.target.name);
            let reference = crate::paths::for_line(&self.target.reference);
            Outcome::new(
                Kind::LoginRefused,
                format!(
                    "上报目标「{name}」没有登录信息，它的批次留在队列里：请运行 sheetbridge login --target {reference}，或在窗口里填写并勾选“记住密码（自动上报需要）”，或设置环境变量 {var}（定时任务用）。"
                ),
                format!(
                    "no credentials for {name}; its batches stay queued: run `sheetbridge login --target {reference}` or set {var}"
                ),
            )
        })
    }

    /// Logs in when the target uses a login form (once per client).
    pub fn login(&mut self, creds: &Credentials) -> Result<(), Outcome> {
        let Auth::Form {
            login_url,
            username_field,
            password_field,
            failure_text,
        } = &self.target.auth
        else {
            return Ok(());
        };
        if self.logged_in {
            return Ok(());
        }
        let user = self.need(&creds.user, "SHEETBRIDGE_USER")?;
        let password = self.need(&creds.password, "SHEETBRIDGE_PASSWORD")?;
        let form = [
            (username_field.as_str(), user),
            (password_field.as_str(), password),
        ];
        let deadline = self.deadline();
        let resp = self
            .http
            .post(login_url.clone())
            .form(&form)
            .send()
            .map_err(|e| self.failed_before_sending(&e))?;
        let status = resp.status().as_u16();
        if status == 429 || status >= 500 {
            return Err(busy(status));
        }
        let body = self
            .page(resp, deadline)
            .map_err(|e| net_outcome(Kind::Retry, &e))?;
        let refused = |why: String| {
            Outcome::new(
                Kind::LoginRefused,
                format!("省平台拒绝登录：{why}。请核对用户名和密码后再试。"),
                format!("the platform refused the login: {why}"),
            )
        };
        if status == 401 || status == 403 {
            return Err(refused(format!("HTTP {status}")));
        }
        if !(200..400).contains(&status) {
            return Err(refused(format!("HTTP {status}")));
        }
        if let Some(text) = failure_text
            && body.contains(text.as_str())
        {
            return Err(refused(text.clone()));
        }
        self.logged_in = true;
        Ok(())
    }

    /// "测试连接": logs in when the target uses a login form, otherwise asks the platform's base
    /// address; any HTTP answer there means the platform is reachable.
    pub fn test(&mut self, creds: &Credentials) -> Result<(), Outcome> {
        if matches!(self.target.auth, Auth::Form { .. }) {
            return self.login(creds);
        }
        match self.http.get(self.target.base_url.clone()).send() {
            Ok(_) => Ok(()),
            Err(e) => Err(self.failed_before_sending(&e)),
        }
    }

    /// A failure of a request that carried no batch (login): the platform has nothing. A
    /// redirect to another origin is refused like a login (nothing more goes there this run).
    fn failed_before_sending(&self, e: &reqwest::Error) -> Outcome {
        if let Some(n) = net::net_error(e) {
            return net_outcome(Kind::LoginRefused, &n);
        }
        if e.is_connect() {
            return unreachable(self.target, e);
        }
        let chain = error_chain(e);
        Outcome::new(
            Kind::Retry,
            "登录省平台时出错（网络中断或省平台没有答复），稍后会自动重试。",
            "login failed (the network or the platform); will retry",
        )
        .with_detail(chain)
    }

    /// Sends one batch file and classifies the answer. Logs in first when needed, and once more
    /// when the platform says the session has expired.
    pub fn send(
        &mut self,
        creds: &Credentials,
        file: &Path,
        batch_id: &str,
        rows: usize,
        date: &str,
    ) -> Outcome {
        for attempt in 0..2 {
            if let Err(o) = self.login(creds) {
                return o;
            }
            match self.post(creds, file, batch_id, rows, date) {
                Ok(outcome) => return outcome,
                Err(status) => {
                    let form = matches!(self.target.auth, Auth::Form { .. });
                    if form && attempt == 0 {
                        // The session expired: log in again and resend (nothing was accepted).
                        self.logged_in = false;
                        continue;
                    }
                    return Outcome::new(
                        Kind::LoginRefused,
                        format!(
                            "省平台拒绝了登录信息（HTTP {status}）。请核对用户名、密码或令牌后再试。"
                        ),
                        format!("the platform refused the credentials (HTTP {status})"),
                    );
                }
            }
        }
        Outcome::new(
            Kind::LoginRefused,
            "重新登录后省平台仍然拒绝（HTTP 401）。请核对用户名和密码。",
            "the platform refused the session after logging in again (HTTP 401)",
        )
    }

    /// One POST. `Err(401)` when the platform wants (new) credentials.
    // Long: one request with its form, headers and every kind of answer turned into an outcome.
    fn post(
        &mut self,
        creds: &Credentials,
        path: &Path,
        batch_id: &str,
        rows: usize,
        date: &str,
    ) -> Result<Outcome, u16> {
        let t = self.target;
        let file_name = format!("{batch_id}.xlsx");
        // The whole file in memory (a batch is at most max_rows_per_file rows): the request then
        // fails either while connecting (nothing sent) or afterwards (maybe sent), never in a
        // separate thread that would hide which.
        let data = match std::fs::read(path) {
            Ok(x) => x,
            Err(e) => {
                return Ok(Outcome::new(
                    Kind::Rejected,
                    format!(
                        "批次文件「{}」读不了：{}",
                        crate::paths::shown(path),
                        crate::message::io_message(&e)
                    ),
                    format!(
                        "cannot read the batch file {}: {e}",
                        crate::paths::shown(path)
                    ),
                ));
            }
        };
        let part = Part::bytes(data)
            .file_name(file_name.clone())
            .mime_str(XLSX_MIME)
            .map_err(|_| 0u16);
        let Ok(part) = part else {
            return Ok(Outcome::new(
                Kind::Rejected,
                "内部错误：文件类型无效",
                "internal: bad MIME type",
            ));
        };
        let mut form = Form::new();
        for (k, v) in t.filled_fields(date, batch_id, rows, &file_name) {
            form = form.text(k, v);
        }
        form = form.part(t.file_field.clone(), part);
        // Encoded here rather than streamed: reqwest's blocking client streams a multipart
        // body from another thread, and a refused connection then surfaces as a body error
        // that cannot be told apart from a connection lost after sending.
        let content_type = format!("multipart/form-data; boundary={}", form.boundary());
        let mut body = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(&mut form.into_reader(), &mut body) {
            return Ok(Outcome::new(
                Kind::Rejected,
                format!("批次文件「{}」读不了：{e}", crate::paths::shown(path)),
                format!(
                    "cannot encode the batch file {}: {e}",
                    crate::paths::shown(path)
                ),
            ));
        }
        let mut req = self
            .http
            .post(t.upload_url.clone())
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .body(body);
        if let Some(h) = &t.idempotency_header {
            req = req.header(h.as_str(), batch_id);
        }
        match &t.auth {
            Auth::Basic => {
                let user = self.need(&creds.user, "SHEETBRIDGE_USER");
                let password = self.need(&creds.password, "SHEETBRIDGE_PASSWORD");
                match (user, password) {
                    (Ok(u), Ok(p)) => req = req.basic_auth(u, Some(p)),
                    (Err(o), _) | (_, Err(o)) => return Ok(o),
                }
            }
            Auth::Bearer => match self.need(&creds.token, "SHEETBRIDGE_TOKEN") {
                Ok(token) => req = req.bearer_auth(token),
                Err(o) => return Ok(o),
            },
            Auth::None | Auth::Form { .. } => {}
        }

        let deadline = self.deadline();
        let resp = match req.send() {
            Ok(r) => r,
            Err(e) => return Ok(self.send_error(&e)),
        };
        let status = resp.status().as_u16();
        if status == 401 {
            return Err(401);
        }
        if status == 429 || status >= 500 {
            return Ok(busy(status));
        }
        let body = match self.page(resp, deadline) {
            Ok(b) => b,
            // The file went out: an answer cut short or too long is a lost answer.
            Err(e) => return Ok(net_outcome(Kind::Lost, &e)),
        };
        Ok(self.judge(status, &body))
    }

    /// A failed upload request. Failing to connect (refused, DNS, connect timeout) means
    /// nothing was sent. Any later failure (a timeout, a reset, an answer cut short) may come
    /// after the platform got the whole file: counted as a lost answer, never as "not sent".
    fn send_error(&self, e: &reqwest::Error) -> Outcome {
        if let Some(n) = net::net_error(e) {
            // The platform answered with a redirect elsewhere: it did not take the batch here.
            return net_outcome(Kind::Retry, &n);
        }
        if e.is_connect() {
            return unreachable(self.target, e);
        }
        let chain = error_chain(e);
        Outcome::new(
            Kind::Lost,
            "文件已发出，但没有收到省平台的答复（连接中断或超时）。",
            "the file was sent but the answer was lost (connection closed or timed out)",
        )
        .with_detail(chain)
    }

    /// Decides from a complete answer.
    fn judge(&self, status: u16, body: &str) -> Outcome {
        let s = &self.target.success;
        let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
        let platform_message = s
            .message_pointer
            .as_deref()
            .and_then(|p| json.as_ref()?.pointer(p))
            .map(as_text)
            .unwrap_or_else(|| {
                let snippet: String = body.chars().take(200).collect();
                snippet.trim().to_owned()
            });
        let rejected = |why: String| {
            Outcome::new(
                Kind::Rejected,
                format!(
                    "省平台拒收了这批数据：{why}。请按提示改正后重新上报（该批次不会自动重发）。"
                ),
                format!("the platform rejected the batch: {why}"),
            )
        };
        if !(s.status.0..=s.status.1).contains(&status) {
            return rejected(format!("HTTP {status} {platform_message}"));
        }
        if let (Some(pointer), Some(expected)) = (&s.json_pointer, &s.equals) {
            let Some(json) = &json else {
                return rejected(format!("答复不是 JSON：{platform_message}"));
            };
            let got = json.pointer(pointer).map(as_text);
            if got.as_deref() != Some(expected.as_str()) {
                return rejected(platform_message);
            }
        }
        let accepted = s
            .accepted_pointer
            .as_deref()
            .and_then(|p| json.as_ref()?.pointer(p))
            .and_then(|v| v.as_u64().or_else(|| as_text(v).trim().parse().ok()));
        let mut o = Outcome::new(
            Kind::Confirmed,
            format!("省平台已确认：{platform_message}"),
            format!("confirmed by the platform: {platform_message}"),
        );
        o.accepted = accepted;
        o
    }
}

/// A [`NetError`] as the outcome of an attempt, its message as the error says it.
fn net_outcome(kind: Kind, e: &NetError) -> Outcome {
    Outcome::new(kind, e.text(Lang::Zh), e.text(Lang::En))
}

fn busy(status: u16) -> Outcome {
    Outcome::new(
        Kind::Retry,
        format!("省平台暂时无法处理（HTTP {status}），稍后会自动重试。"),
        format!("the platform is busy (HTTP {status}); will retry"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(extra: &str, success: &str) -> Target {
        let text = format!(
            "name = \"t\"\nbase_url = \"https://127.0.0.1:1\"\n{extra}[upload]\npath = \"/u\"\n[success]\n{success}"
        );
        Target::parse("t", "t.toml", &text, None).unwrap()
    }

    #[test]
    fn judge_checks_status_pointer_and_reads_the_message() {
        let t = target(
            "",
            "json_pointer = \"/code\"\nequals = \"0\"\naccepted_pointer = \"/data/accepted\"\nmessage_pointer = \"/msg\"\n",
        );
        let c = Client::new(&t).unwrap();
        let ok = c.judge(200, r#"{"code":"0","msg":"成功","data":{"accepted":12}}"#);
        assert_eq!((ok.kind, ok.accepted), (Kind::Confirmed, Some(12)));
        let numeric = c.judge(200, r#"{"code":0,"msg":"ok","data":{"accepted":"3"}}"#);
        assert_eq!((numeric.kind, numeric.accepted), (Kind::Confirmed, Some(3)));
        let no = c.judge(
            200,
            r#"{"code":"E12","msg":"证件号码 440106199001011234 格式错误"}"#,
        );
        assert_eq!(no.kind, Kind::Rejected);
        assert!(no.zh.contains("格式错误"), "{}", no.zh);
        assert!(
            !no.zh.contains("440106199001011234"),
            "IDs are masked: {}",
            no.zh
        );
        let bad = c.judge(400, r#"{"code":"E1","msg":"缺少 reportDate"}"#);
        assert_eq!(bad.kind, Kind::Rejected);
        assert!(bad.zh.contains("缺少 reportDate"));
        let html = c.judge(200, "<html>维护中</html>");
        assert_eq!(html.kind, Kind::Rejected);
    }

    #[test]
    fn status_only_success() {
        let t = target("", "status = [200, 201]\n");
        let c = Client::new(&t).unwrap();
        assert_eq!(c.judge(201, "whatever").kind, Kind::Confirmed);
        assert_eq!(c.judge(202, "whatever").kind, Kind::Rejected);
    }

    #[test]
    fn unreachable_platform_says_vpn() {
        // A port nothing listens on: the connection is refused.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        drop(l);
        let text = format!(
            "name = \"t\"\nbase_url = \"http://127.0.0.1:{port}\"\nallow_http = true\n[upload]\npath = \"/u\"\n"
        );
        let t = Target::parse("t", "t.toml", &text, None).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("b.xlsx");
        std::fs::write(&f, b"data").unwrap();
        let mut c = Client::new(&t).unwrap();
        let o = c.send(&Credentials::default(), &f, "abc", 1, "2026-01-01");
        assert_eq!(o.kind, Kind::Unreachable, "{o:?}");
        assert!(o.zh.contains("VPN"), "{}", o.zh);
    }

    #[test]
    fn missing_credentials_are_named_never_shown() {
        let t = target("[auth]\nkind = \"form\"\nlogin_path = \"/login\"\n", "");
        let mut c = Client::new(&t).unwrap();
        let o = c.login(&Credentials::default()).unwrap_err();
        assert_eq!(o.kind, Kind::LoginRefused);
        assert!(o.zh.contains("SHEETBRIDGE_USER"));
        let creds = Credentials {
            user: Some("clerk".into()),
            password: Some("s3cret".into()),
            token: None,
        };
        assert!(!format!("{creds:?}").contains("s3cret"));
    }
}
