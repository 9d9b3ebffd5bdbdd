//! A stand-in city nucleic-acid testing system, for the tests and for trying `sheetbridge fetch`
//! out (`cargo run --example city -- --port 8081`). Bound to 127.0.0.1 only.
//!
//! `GET /login` shows a login page; `POST /login` (form `username`, `password`) sets a session
//! cookie, or answers the page again with "用户名或密码错误". `GET` or `POST /nat/export` with a
//! session answers the day's export as .xlsx, built from the sample generator
//! (`tests/support/sample.rs`); without a session it answers the login page (status 200, as
//! real systems do). The parameter `kind` picks the export: `sample` (the sample's rows, with
//! its bad rows; the first `rows` of them, growing by `grow` after each export), `clean`
//! (`clean_rows` valid rows), `broken` (a file that claims to be .xlsx and is not).

use super::sample::{self, V};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Changeable while it runs.
#[derive(Debug, Default)]
pub struct Switches {
    /// Rows of the sample served (0: all of them).
    pub rows: AtomicUsize,
    /// Rows added after each sample export.
    pub grow: AtomicUsize,
    /// Rows of the clean export.
    pub clean_rows: AtomicUsize,
    /// Exports served.
    pub exports: AtomicU32,
    /// Logins accepted.
    pub logins: AtomicU32,
}

pub struct Shared {
    pub switches: Switches,
    user: String,
    password: String,
    sessions: Mutex<HashSet<String>>,
}

/// A running stand-in; stops when dropped.
pub struct City {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const TITLE: &str = "登录 - 市核酸检测系统";
const FAILURE_TEXT: &str = "用户名或密码错误";

fn login_page(message: &str) -> String {
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{TITLE}</title></head><body>\
         <h1>市核酸检测系统</h1><p>{message}</p><form method=\"post\" action=\"/login\">\
         <input name=\"username\"><input name=\"password\" type=\"password\">\
         <button>登录</button></form></body></html>"
    )
}

impl City {
    /// Starts on 127.0.0.1 (`port` 0: any free port) in a thread of its own.
    pub fn start(port: u16, user: &str, password: &str) -> std::io::Result<City> {
        let shared = Arc::new(Shared {
            switches: Switches::default(),
            user: user.to_owned(),
            password: password.to_owned(),
            sessions: Mutex::new(HashSet::new()),
        });
        shared.switches.clean_rows.store(12, Ordering::SeqCst);
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/login", get(show_login).post(login))
            .route("/nat/export", get(export).post(export_post))
            .with_state(Arc::clone(&shared));
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
            });
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        Ok(City {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn switches(&self) -> &Switches {
        &self.shared.switches
    }

    /// A source file for this stand-in, asking for the export `kind`.
    pub fn source_toml(&self, kind: &str, file_name: &str) -> String {
        format!(
            r#"name = "市核酸检测系统（{kind}）"
base_url = "{}"
allow_http = true
timeout_s = 30

[auth]
kind = "form"
login_path = "/login"
username_field = "username"
password_field = "password"
failure_text = "{FAILURE_TEXT}"

[export]
method = "GET"
path = "/nat/export"
params = {{ start = "{{date}} 00:00:00", end = "{{date}} 23:59:59", format = "xlsx", kind = "{kind}" }}
file_name = "{file_name}"
"#,
            self.base_url()
        )
    }
}

impl Drop for City {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn show_login() -> Response {
    html(StatusCode::OK, login_page("请登录"))
}

/// `a=1&b=2` (URL-encoded) as a map.
fn pairs(query: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{query}"))
        .map(|u| u.query_pairs().into_owned().collect())
        .unwrap_or_default()
}

async fn login(State(s): State<Arc<Shared>>, body: String) -> Response {
    let form = pairs(&body);
    let ok = form.get("username") == Some(&s.user) && form.get("password") == Some(&s.password);
    if !ok {
        return html(StatusCode::OK, login_page(FAILURE_TEXT));
    }
    let sid = format!("{:016x}", fastrand::u64(..));
    if let Ok(mut sessions) = s.sessions.lock() {
        sessions.insert(sid.clone());
    }
    s.switches.logins.fetch_add(1, Ordering::SeqCst);
    (
        StatusCode::OK,
        [(
            header::SET_COOKIE,
            format!("citysid={sid}; Path=/; HttpOnly"),
        )],
        "<html><head><title>首页</title></head><body>登录成功</body></html>",
    )
        .into_response()
}

fn logged_in(s: &Shared, headers: &HeaderMap) -> bool {
    let Some(cookie) = headers.get(header::COOKIE).and_then(|c| c.to_str().ok()) else {
        return false;
    };
    let Ok(sessions) = s.sessions.lock() else {
        return false;
    };
    cookie.split(';').any(|c| {
        c.trim()
            .strip_prefix("citysid=")
            .is_some_and(|sid| sessions.contains(sid))
    })
}

async fn export(State(s): State<Arc<Shared>>, headers: HeaderMap, uri: Uri) -> Response {
    let params = pairs(uri.query().unwrap_or(""));
    serve_export(&s, &headers, &params)
}

async fn export_post(State(s): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    serve_export(&s, &headers, &pairs(&body))
}

fn serve_export(s: &Shared, headers: &HeaderMap, params: &HashMap<String, String>) -> Response {
    if !logged_in(s, headers) {
        return html(StatusCode::OK, login_page("登录已过期，请重新登录"));
    }
    let kind = params.get("kind").map(String::as_str).unwrap_or("sample");
    // Like a real system, every export carries the time it was made: the same rows give other
    // bytes each time.
    let made = s.switches.exports.load(Ordering::SeqCst);
    let data = match kind {
        "broken" => Ok(b"PK\x03\x04 this is not a workbook".to_vec()),
        "clean" => workbook(
            &clean_rows(s.switches.clean_rows.load(Ordering::SeqCst)),
            made,
        ),
        _ => {
            let (mut rows, _) = sample::rows();
            let n = s.switches.rows.load(Ordering::SeqCst);
            if n > 0 {
                rows.truncate(n);
            }
            s.switches
                .rows
                .fetch_add(s.switches.grow.load(Ordering::SeqCst), Ordering::SeqCst);
            workbook(&rows, made)
        }
    };
    s.switches.exports.fetch_add(1, Ordering::SeqCst);
    match data {
        Ok(bytes) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            )],
            bytes,
        )
            .into_response(),
        Err(e) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("<html><head><title>系统错误</title></head><body>{e}</body></html>"),
        ),
    }
}

/// `n` valid rows in the sample's columns, in tubes of their own (no overlap with the sample).
pub fn clean_rows(n: usize) -> Vec<Vec<V>> {
    (0..n as u32)
        .map(|i| {
            let male = i.is_multiple_of(2);
            let year = 1970 + i % 40;
            let birth = format!("{year}0315");
            vec![
                V::N(f64::from(i + 1)),
                sample::t(&format!("清{i}")),
                sample::t("居民身份证"),
                sample::t(&sample::id("440106", &birth, 500 + i, male)),
                sample::t(if male { "男" } else { "女" }),
                V::N(f64::from(2022 - year - 1)),
                sample::t(&format!("139{:08}", 5000 + i)),
                sample::d("2022-01-10 09:00:00"),
                sample::d("2022-01-10 15:00:00"),
                sample::t("阴性"),
                sample::t(&format!("44019900{:08}", 1000 + i / 10)),
                sample::t("天河南街道社区核酸采样点"),
                sample::t("天河区人民医院检验科"),
                sample::t("社区居民"),
                sample::t("广州市天河区天河路1号"),
            ]
        })
        .collect()
}

/// An export workbook: a title line, the sample's header, the rows; made `made` seconds after
/// 2022-01-10 08:00 (the file's creation time).
pub fn workbook(rows: &[Vec<V>], made: u32) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut wb = rust_xlsxwriter::Workbook::new();
    let created = rust_xlsxwriter::ExcelDateTime::from_ymd(2022, 1, 10)?.and_hms(
        8 + (made / 3600 % 16) as u16,
        (made / 60 % 60) as u8,
        made % 60,
    )?;
    wb.set_properties(&rust_xlsxwriter::DocProperties::new().set_creation_datetime(&created));
    let ws = wb.add_worksheet();
    ws.set_name("核酸检测结果")?;
    let date = rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    ws.write_string(0, 0, "核酸检测结果导出")?;
    for (c, h) in sample::HEADER.iter().enumerate() {
        ws.write_string(1, c as u16, *h)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 2;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            match v {
                V::T(s) => {
                    ws.write_string(r, c, s)?;
                }
                V::N(n) => {
                    ws.write_number(r, c, *n)?;
                }
                V::D(dt) => {
                    ws.write_datetime_with_format(r, c, dt, &date)?;
                }
                V::Blank => {}
            }
        }
    }
    wb.save_to_buffer()
}
