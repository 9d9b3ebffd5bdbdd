//! What every byte to and from a platform or a city system goes through (guarantees.md, sections
//! 1 and 2): [`http_client`], the ONE builder of the HTTP client of a target or a source (its
//! redirect policy, TLS, timeouts), and [`read_body`], the ONE reader of an answer's body,
//! against a size limit and the request's deadline.
//!
//! Content-Encoding: this build of reqwest has no `gzip`/`brotli`/`deflate` feature, so it
//! neither asks for a compressed answer nor decodes one. A server that sends a gzip bomb anyway
//! hands over its compressed bytes, and those are what the limit counts: the bomb never
//! inflates in memory (tests/attack/network.rs checks it). Should a decoding feature ever be
//! turned on, the limit still applies to what `Read` yields, which is the decoded body.

use crate::issue::Lang;
use crate::message::{Localized, Text};
use crate::paths::for_line;
use crate::upload::target::Target;
use reqwest::Url;
use std::io::{Read, Write};
use std::sync::mpsc::{RecvTimeoutError, sync_channel};
use std::time::{Duration, Instant};

/// A login page or an API answer is read up to this many bytes.
pub const PAGE_LIMIT: u64 = 1 << 20;
/// A downloaded export is saved up to this many bytes (cli.md's file limit).
pub const EXPORT_LIMIT: u64 = 1 << 30;
/// Redirects followed within one origin, at most.
pub const MAX_REDIRECTS: usize = 5;

/// What went wrong on the wire, naming the address (and the limit that was hit).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.text(Lang::Zh))]
pub enum NetError {
    /// A redirect to another scheme, host or port: never followed (the request may carry a
    /// password, a token or a session cookie).
    OtherOrigin { from: String, to: String },
    /// More than [`MAX_REDIRECTS`] redirects within the origin (a loop).
    TooManyRedirects { url: String, limit: usize },
    /// The body is longer than the limit.
    TooLong { url: String, limit: u64 },
    /// The whole request took longer than the target's or source's `timeout_s`.
    Deadline { url: String, seconds: u64 },
    /// The connection broke while the body was read.
    Read { url: String, detail: String },
    /// The body could not be written where it goes (a download's temporary file).
    Write { url: String, detail: String },
}

/// A limit in words: `1 MiB`, `1 GiB`.
fn size(limit: u64) -> String {
    match limit {
        l if l >= 1 << 30 && l % (1 << 30) == 0 => format!("{} GiB", l >> 30),
        l if l >= 1 << 20 && l % (1 << 20) == 0 => format!("{} MiB", l >> 20),
        l => format!("{l} 字节"),
    }
}

impl Localized for NetError {
    fn message(&self) -> Text {
        match self {
            NetError::OtherOrigin { from, to } => Text::new(
                format!(
                    "「{from}」要求转到另一个地址「{to}」，为保护密码没有跟过去。请核对目标或数据来源文件里的 base_url（协议、地址和端口都要和服务器实际用的一致），或把这条消息发给技术支持。"
                ),
                format!(
                    "{from} redirected to another origin {to}; not followed (it would carry the credentials). Check base_url"
                ),
            ),
            NetError::TooManyRedirects { url, limit } => Text::new(
                format!(
                    "「{url}」转向超过 {limit} 次（可能是循环转向），已停止。请核对 base_url 和路径，或把这条消息发给技术支持。"
                ),
                format!("{url}: more than {limit} redirects (a loop?); stopped"),
            ),
            NetError::TooLong { url, limit } => {
                let limit = size(*limit);
                Text::new(
                    format!(
                        "「{url}」返回的内容超过 {limit} 的上限，已停止读取。请把这条消息发给技术支持。"
                    ),
                    format!("the answer of {url} is longer than the limit of {limit}; stopped"),
                )
            }
            NetError::Deadline { url, seconds } => Text::new(
                format!(
                    "「{url}」在 {seconds} 秒内没有传完（timeout_s），已停止。请检查网络后再试。"
                ),
                format!("{url} did not finish within {seconds} s (timeout_s); stopped"),
            ),
            NetError::Read { url, detail } => Text::new(
                format!("读取「{url}」的答复时连接中断：{detail}"),
                format!("the connection to {url} broke while reading the answer: {detail}"),
            ),
            NetError::Write { url, detail } => Text::new(
                format!("保存「{url}」的下载内容时出错：{detail}"),
                format!("cannot save what {url} sent: {detail}"),
            ),
        }
    }
}

/// An address for a message: without a user name or password, on one line.
pub fn shown_url(url: &Url) -> String {
    let mut url = url.clone();
    let _ = url.set_username("");
    let _ = url.set_password(None);
    for_line(url.as_str())
}

/// The redirect policy of every client: within the origin (scheme, host and port) at most
/// [`MAX_REDIRECTS`] times, never to another origin, whatever the 3xx code.
fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        // `previous` holds every address asked so far, the one that answered 3xx last.
        let Some(from) = attempt.previous().last().cloned() else {
            return attempt.stop();
        };
        let first = attempt.previous().first().cloned().unwrap_or(from.clone());
        if attempt.url().origin() != first.origin() || attempt.url().origin() != from.origin() {
            let to = shown_url(attempt.url());
            return attempt.error(NetError::OtherOrigin {
                from: shown_url(&from),
                to,
            });
        }
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(NetError::TooManyRedirects {
                url: shown_url(&first),
                limit: MAX_REDIRECTS,
            });
        }
        attempt.follow()
    })
}

/// Why no client could be made (the TLS library's own words).
pub(super) type BuildError = String;

/// THE HTTP client of a target or a source (a source's connection is a [`Target`]): the redirect
/// policy above, certificates always verified (plus the file's `ca_cert`), `timeout_s` for
/// connecting and for every wait, and no proxy for this computer's own services. Bodies are
/// read through [`read_body`], which adds the size limit and the whole request's deadline.
pub fn http_client(target: &Target) -> Result<reqwest::blocking::Client, BuildError> {
    let timeout = Duration::from_secs(target.timeout_s);
    let mut builder = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .redirect(redirect_policy())
        .cookie_store(true)
        .user_agent(concat!("sheetbridge/", env!("CARGO_PKG_VERSION")));
    if let Some(pem) = &target.ca_cert {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| e.to_string())?;
        builder = builder.tls_certs_merge(certs);
    }
    let host = target.base_url.host_str().unwrap_or("");
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if loopback {
        // A proxy set for the hospital's internet access must not see this computer's own
        // services.
        builder = builder.no_proxy();
    }
    builder.build().map_err(|e| super::error_chain(&e))
}

/// The [`NetError`] a failed request carries (a refused redirect), if any.
pub fn net_error(e: &(dyn std::error::Error + 'static)) -> Option<NetError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(n) = s.downcast_ref::<NetError>() {
            return Some(n.clone());
        }
        source = s.source();
    }
    None
}

/// Bytes handed from the reading thread at a time.
const CHUNK: usize = 64 * 1024;

/// THE reader of a body: copies `resp`'s body into `sink`, at most `limit` bytes, and gives up
/// at `deadline` (the request's start plus its `timeout_s`). reqwest's blocking timeout covers
/// each read, not the whole body (a server dripping a byte a second never trips it), so the
/// body is read on a helper thread and waited for here against the deadline; a helper left
/// blocked ends at its own read timeout. A `Content-Length` over the limit fails before
/// reading. Returns the bytes copied.
pub fn read_body(
    resp: reqwest::blocking::Response,
    limit: u64,
    deadline: Instant,
    seconds: u64,
    sink: &mut dyn Write,
) -> Result<u64, NetError> {
    let url = shown_url(resp.url());
    if resp.content_length().is_some_and(|n| n > limit) {
        return Err(NetError::TooLong { url, limit });
    }
    let (tx, rx) = sync_channel::<std::io::Result<Vec<u8>>>(4);
    let reader = move || {
        let mut resp = resp;
        loop {
            let mut buf = vec![0u8; CHUNK];
            match resp.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    };
    std::thread::Builder::new()
        .name("body".into())
        .spawn(reader)
        .map_err(|e| NetError::Read {
            url: url.clone(),
            detail: e.to_string(),
        })?;
    let mut total = 0u64;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(Ok(chunk)) => {
                total += chunk.len() as u64;
                if total > limit {
                    return Err(NetError::TooLong { url, limit });
                }
                sink.write_all(&chunk).map_err(|e| NetError::Write {
                    url: url.clone(),
                    detail: crate::message::io_message(&e),
                })?;
            }
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::TimedOut => {
                return Err(NetError::Deadline { url, seconds });
            }
            Ok(Err(e)) => {
                return Err(NetError::Read {
                    url,
                    detail: super::error_chain(&e),
                });
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(total),
            Err(RecvTimeoutError::Timeout) => return Err(NetError::Deadline { url, seconds }),
        }
    }
}

/// A login page or an API answer: at most [`PAGE_LIMIT`] bytes, as text (damaged UTF-8
/// replaced).
pub fn read_page(
    resp: reqwest::blocking::Response,
    deadline: Instant,
    seconds: u64,
) -> Result<String, NetError> {
    let mut body = Vec::new();
    read_body(resp, PAGE_LIMIT, deadline, seconds, &mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_named_in_words() {
        assert_eq!(size(PAGE_LIMIT), "1 MiB");
        assert_eq!(size(EXPORT_LIMIT), "1 GiB");
        assert_eq!(size(10), "10 字节");
    }

    #[test]
    fn shown_urls_lose_their_password_and_control_characters() {
        let u = Url::parse("https://u:p%40ss@10.1.2.3:8443/a?x=1").unwrap();
        let s = shown_url(&u);
        assert!(!s.contains("p%40ss") && !s.contains("u:"), "{s}");
        assert!(s.starts_with("https://10.1.2.3:8443/a"), "{s}");
    }
}
