//! A stand-in provincial platform, for the tests and for trying uploads out
//! (`cargo run --example platform -- --port 8080`). Bound to 127.0.0.1 only.
//!
//! A form login (`POST /login`) sets a session cookie; `POST /nat/import` takes a multipart
//! upload, reads the sheet with SheetBridge's own reader, and stores its rows in its own SQLite
//! file keyed by (barcode, ID number), counting inserts, so a test can see a row stored twice.
//! It answers `{"code":"0","msg":"...","data":{"accepted":N}}` and honours `Idempotency-Key`
//! (same key: same answer, no second insert). Switches make it fail the ways real ones do.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use rusqlite::{Connection, params};
use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Ways to misbehave, changeable while the stand-in runs. Counters apply to that many of the
/// next upload requests.
#[derive(Debug, Default)]
pub struct Switches {
    /// Answer 503 (before reading the request).
    pub fail_503: AtomicU32,
    /// Wait this long before handling any upload.
    pub delay_ms: AtomicU64,
    /// Wait this long after storing an upload's rows, before answering (every upload).
    pub answer_delay_ms: AtomicU64,
    /// Store the rows, then drop the connection without answering.
    pub drop_after_body: AtomicU32,
    /// Store the rows, then answer only after `late_ms` (longer than the client's timeout).
    pub late_answers: AtomicU32,
    pub late_ms: AtomicU64,
    /// Answer every login with the failure page.
    pub refuse_login: AtomicBool,
    /// Refuse the batch: `{"code":"E01","msg":...}`, nothing stored.
    pub reject: AtomicU32,
    /// Forget every login session before the next upload (it then gets 401).
    pub expire_sessions: AtomicBool,
}

/// How to start it.
#[derive(Debug, Clone)]
pub struct Config {
    /// 0: any free port.
    pub port: u16,
    pub user: String,
    pub password: String,
    /// Accepted as `Authorization: Bearer <token>` instead of a session.
    pub token: String,
    /// Its SQLite file.
    pub db: PathBuf,
    /// Serve HTTPS with this certificate chain and key (PEM) instead of plain HTTP.
    pub tls: Option<(String, String)>,
}

impl Config {
    pub fn new(db: &Path) -> Config {
        Config {
            port: 0,
            user: "demo".into(),
            password: "demo".into(),
            token: "demo-token".into(),
            db: db.to_owned(),
            tls: None,
        }
    }
}

pub struct Shared {
    pub switches: Switches,
    config: Config,
    db: Mutex<Connection>,
    sessions: Mutex<HashSet<String>>,
    /// Idempotency key -> the answer given; the lock also serialises imports.
    answers: tokio::sync::Mutex<HashMap<String, (u16, String)>>,
    /// Upload requests received (including failed ones).
    pub requests: AtomicU32,
    /// Uploads answered from an earlier answer to the same idempotency key.
    pub replays: AtomicU32,
}

/// A running stand-in; stops when dropped.
pub struct Platform {
    pub addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

const FAILURE_TEXT: &str = "用户名或密码错误";

fn open_db(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS rows (
            barcode TEXT NOT NULL,
            id_number TEXT NOT NULL,
            inserts INTEGER NOT NULL,
            PRIMARY KEY (barcode, id_number)
        );
        CREATE TABLE IF NOT EXISTS import_rows (
            import INTEGER NOT NULL,
            barcode TEXT NOT NULL,
            result TEXT NOT NULL
        );",
    )?;
    Ok(conn)
}

impl Platform {
    /// Starts on 127.0.0.1 in a thread of its own; returns once it listens.
    pub fn start(config: Config) -> std::io::Result<Platform> {
        let conn = open_db(&config.db).map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            switches: Switches::default(),
            config: config.clone(),
            db: Mutex::new(conn),
            sessions: Mutex::new(HashSet::new()),
            answers: tokio::sync::Mutex::new(HashMap::new()),
            requests: AtomicU32::new(0),
            replays: AtomicU32::new(0),
        });
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", config.port))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(Arc::clone(&shared));
        let acceptor = match &config.tls {
            Some((cert, key)) => Some(acceptor(cert, key)?),
            None => None,
        };
        let thread = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                    return;
                };
                let stopped = async move {
                    let _ = stopped.await;
                };
                match acceptor {
                    Some(acceptor) => {
                        let tls = TlsListener {
                            tcp: listener,
                            acceptor,
                        };
                        let _ = axum::serve(tls, app).with_graceful_shutdown(stopped).await;
                    }
                    None => {
                        let _ = axum::serve(listener, app)
                            .with_graceful_shutdown(stopped)
                            .await;
                    }
                }
            });
            // Connections still open (a client that hangs on) must not keep the thread.
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        Ok(Platform {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.shared.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    pub fn switches(&self) -> &Switches {
        &self.shared.switches
    }

    /// Every stored row: (barcode, ID number, inserts).
    pub fn rows(&self) -> Vec<(String, String, i64)> {
        rows(&self.shared)
    }

    /// Every import stored, in the order it arrived: its rows' (barcode, 检测结果).
    pub fn imports(&self) -> Vec<Vec<(String, String)>> {
        let Ok(db) = self.shared.db.lock() else {
            return Vec::new();
        };
        let Ok(mut st) =
            db.prepare("SELECT import, barcode, result FROM import_rows ORDER BY import, rowid")
        else {
            return Vec::new();
        };
        let Ok(found) = st.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        }) else {
            return Vec::new();
        };
        let mut out: Vec<(i64, Vec<(String, String)>)> = Vec::new();
        for (import, barcode, result) in found.flatten() {
            match out.last_mut() {
                Some((i, rows)) if *i == import => rows.push((barcode, result)),
                _ => out.push((import, vec![(barcode, result)])),
            }
        }
        out.into_iter().map(|(_, rows)| rows).collect()
    }

    /// A target file for this stand-in. `idempotent`: with the `Idempotency-Key` header.
    pub fn target_toml(&self, idempotent: bool, timeout_s: u64, max_rows: usize) -> String {
        let idem = if idempotent {
            "idempotency_header = \"Idempotency-Key\"\n"
        } else {
            ""
        };
        format!(
            r#"name = "演示平台"
base_url = "{}"
allow_http = true
timeout_s = {timeout_s}
max_rows_per_file = {max_rows}
{idem}retry_for_hours = 1

[auth]
kind = "form"
login_path = "/login"
username_field = "username"
password_field = "password"
failure_text = "{FAILURE_TEXT}"

[upload]
path = "/nat/import"
file_field = "file"
fields = {{ reportDate = "{{date}}", batchNo = "{{batch_id}}", rowCount = "{{row_count}}" }}

[success]
status = [200, 299]
json_pointer = "/code"
equals = "0"
accepted_pointer = "/data/accepted"
message_pointer = "/msg"
"#,
            self.base_url()
        )
    }
}

impl Drop for Platform {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A TLS acceptor for a PEM certificate chain and key.
fn acceptor(cert: &str, key: &str) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(std::io::Error::other)?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(std::io::Error::other)?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Accepts TCP connections and completes the TLS handshake; a failed handshake (a client that
/// does not trust the certificate) is dropped and the next connection accepted.
struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            };
            let handshake = self.acceptor.accept(tcp);
            if let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(5), handshake).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }
}

fn rows(shared: &Shared) -> Vec<(String, String, i64)> {
    let Ok(db) = shared.db.lock() else {
        return Vec::new();
    };
    let Ok(mut st) = db.prepare("SELECT barcode, id_number, inserts FROM rows ORDER BY 1, 2")
    else {
        return Vec::new();
    };
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .map(|it| it.flatten().collect())
        .unwrap_or_default()
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/login", post(login))
        .route("/nat/import", post(import))
        .layer(DefaultBodyLimit::max(512 * 1024 * 1024))
        .with_state(shared)
}

fn json(status: StatusCode, code: &str, msg: &str, accepted: Option<u64>) -> (u16, String) {
    let body = match accepted {
        Some(n) => serde_json::json!({"code": code, "msg": msg, "data": {"accepted": n}}),
        None => serde_json::json!({"code": code, "msg": msg}),
    };
    (status.as_u16(), body.to_string())
}

fn reply((status, body): (u16, String)) -> Response {
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body,
    )
        .into_response()
}

async fn login(
    State(shared): State<Arc<Shared>>,
    axum::Form(form): axum::Form<HashMap<String, String>>,
) -> Response {
    let ok = !shared.switches.refuse_login.load(Ordering::SeqCst)
        && form.get("username") == Some(&shared.config.user)
        && form.get("password") == Some(&shared.config.password);
    if !ok {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            format!("<html><body><p class=\"err\">{FAILURE_TEXT}</p></body></html>"),
        )
            .into_response();
    }
    let token = format!("{:016x}", fastrand::u64(..));
    if let Ok(mut s) = shared.sessions.lock() {
        s.insert(token.clone());
    }
    (
        StatusCode::OK,
        [
            (
                header::SET_COOKIE,
                format!("session={token}; Path=/; HttpOnly"),
            ),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
        ],
        "<html><body>登录成功</body></html>",
    )
        .into_response()
}

/// Standard base64 (for checking `Authorization: Basic`).
fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A login session cookie, HTTP basic with the user and password, or the bearer token.
fn session_ok(shared: &Shared, headers: &HeaderMap) -> bool {
    let c = &shared.config;
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        let basic = format!(
            "Basic {}",
            base64(format!("{}:{}", c.user, c.password).as_bytes())
        );
        return auth == basic || auth == format!("Bearer {}", c.token);
    }
    let Ok(mut sessions) = shared.sessions.lock() else {
        return false;
    };
    if shared
        .switches
        .expire_sessions
        .swap(false, Ordering::SeqCst)
    {
        sessions.clear();
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().strip_prefix("session="))
        .any(|t| sessions.contains(t))
}

/// Takes one from a counter switch; `true` if it was set.
fn take(counter: &AtomicU32) -> bool {
    counter
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

async fn import(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    shared.requests.fetch_add(1, Ordering::SeqCst);
    let sw = &shared.switches;
    if take(&sw.fail_503) {
        return reply(json(
            StatusCode::SERVICE_UNAVAILABLE,
            "503",
            "系统繁忙，请稍后再试",
            None,
        ));
    }
    let delay = sw.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    if !session_ok(&shared, &headers) {
        return reply(json(StatusCode::UNAUTHORIZED, "401", "请先登录", None));
    }
    // The whole body first: a request cut short stores nothing.
    let mut file = None;
    let mut fields = HashMap::new();
    loop {
        match multipart.next_field().await {
            Ok(Some(field)) => {
                let name = field.name().unwrap_or("").to_owned();
                match field.bytes().await {
                    Ok(b) if name == "file" => file = Some(b),
                    Ok(b) => {
                        fields.insert(name, String::from_utf8_lossy(&b).into_owned());
                    }
                    Err(_) => {
                        return reply(json(StatusCode::BAD_REQUEST, "E00", "上传不完整", None));
                    }
                }
            }
            Ok(None) => break,
            Err(_) => return reply(json(StatusCode::BAD_REQUEST, "E00", "上传不完整", None)),
        }
    }
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut answers = shared.answers.lock().await;
    if let Some(k) = &key
        && let Some(answer) = answers.get(k)
    {
        shared.replays.fetch_add(1, Ordering::SeqCst);
        return reply(answer.clone());
    }
    let answer = if take(&sw.reject) {
        json(
            StatusCode::OK,
            "E01",
            "批次被拒收：检测机构不在本省备案名单中",
            None,
        )
    } else if !fields.contains_key("batchNo") {
        json(StatusCode::BAD_REQUEST, "E02", "缺少批次号 batchNo", None)
    } else {
        match file {
            None => json(StatusCode::BAD_REQUEST, "E03", "没有收到文件", None),
            Some(bytes) => store(&shared, &bytes),
        }
    };
    // Only an import that stored rows is remembered: a refused one changed nothing, so the
    // same key may be tried again after the clerk fixed the cause.
    let stored = answer.0 == 200 && answer.1.contains("\"code\":\"0\"");
    if let Some(k) = key
        && stored
    {
        answers.insert(k, answer.clone());
    }
    drop(answers);
    if take(&sw.drop_after_body) {
        // Unwinds the connection's task without a panic message: the connection is dropped
        // with no answer, after the rows were stored.
        std::panic::resume_unwind(Box::new("stand-in drops the connection"));
    }
    if take(&sw.late_answers) {
        tokio::time::sleep(Duration::from_millis(sw.late_ms.load(Ordering::SeqCst))).await;
    }
    let after = sw.answer_delay_ms.load(Ordering::SeqCst);
    if after > 0 {
        tokio::time::sleep(Duration::from_millis(after)).await;
    }
    reply(answer)
}

/// Reads the sheet with SheetBridge's reader and stores its rows.
fn store(shared: &Shared, bytes: &[u8]) -> (u16, String) {
    let bad = |msg: &str| json(StatusCode::BAD_REQUEST, "E04", msg, None);
    let Ok(tmp) = tempfile::Builder::new().suffix(".xlsx").tempfile() else {
        return json(StatusCode::INTERNAL_SERVER_ERROR, "E99", "磁盘错误", None);
    };
    if std::fs::write(tmp.path(), bytes).is_err() {
        return json(StatusCode::INTERNAL_SERVER_ERROR, "E99", "磁盘错误", None);
    }
    let Ok(mut wb) = sheetbridge::read::Workbook::open(tmp.path()) else {
        return bad("文件不是有效的表格");
    };
    let Some(sheet) = wb.sheet_names().into_iter().next() else {
        return bad("表格里没有工作表");
    };
    let mut cols: Option<(usize, usize)> = None;
    let mut result_col: Option<usize> = None;
    let mut results: Vec<String> = Vec::new();
    let mut rows: Vec<(String, String)> = Vec::new();
    let read = wb.for_each_row(&sheet, &mut |r, cells| {
        let text: Vec<String> = cells.iter().map(|c| c.display()).collect();
        if r == 0 {
            let find = |h: &str| text.iter().position(|t| t == h);
            cols = find("证件号码").zip(find("样本编号"));
            result_col = find("检测结果");
            return ControlFlow::Continue(());
        }
        if let Some((id, barcode)) = cols {
            let get = |i: usize| text.get(i).cloned().unwrap_or_default();
            let (id, barcode) = (get(id), get(barcode));
            if !id.is_empty() && !barcode.is_empty() {
                rows.push((barcode, id));
                results.push(result_col.map(get).unwrap_or_default());
            }
        }
        ControlFlow::Continue(())
    });
    if read.is_err() {
        return bad("文件读取失败");
    }
    if cols.is_none() {
        return bad("表头缺少「证件号码」或「样本编号」");
    }
    let Ok(mut db) = shared.db.lock() else {
        return json(StatusCode::INTERNAL_SERVER_ERROR, "E99", "数据库错误", None);
    };
    let result = (|| -> rusqlite::Result<u64> {
        let tx = db.transaction()?;
        let import: i64 = tx.query_row(
            "SELECT COALESCE(max(import), 0) + 1 FROM import_rows",
            [],
            |r| r.get(0),
        )?;
        for ((barcode, _), result) in rows.iter().zip(&results) {
            tx.execute(
                "INSERT INTO import_rows (import, barcode, result) VALUES (?1, ?2, ?3)",
                params![import, barcode, result],
            )?;
        }
        let mut new = 0;
        for (barcode, id) in &rows {
            let n = tx.execute(
                "INSERT INTO rows (barcode, id_number, inserts) VALUES (?1, ?2, 1)
                 ON CONFLICT (barcode, id_number) DO UPDATE SET inserts = inserts + 1",
                params![barcode, id],
            )?;
            let inserts: i64 = tx.query_row(
                "SELECT inserts FROM rows WHERE barcode = ?1 AND id_number = ?2",
                params![barcode, id],
                |r| r.get(0),
            )?;
            if n == 1 && inserts == 1 {
                new += 1;
            }
        }
        tx.commit()?;
        Ok(new)
    })();
    match result {
        Ok(n) => json(StatusCode::OK, "0", &format!("导入成功 {n} 条"), Some(n)),
        Err(_) => json(StatusCode::INTERNAL_SERVER_ERROR, "E99", "数据库错误", None),
    }
}
