//! guarantees.md §2 (and §1's redirects). Every byte from the network is bounded; a request that
//! carries credentials never follows a redirect to another origin.
//!
//! The servers here are raw HTTP/1.1 on 127.0.0.1, written to misbehave: they redirect with
//! every 3xx code to another port, another host name or another scheme, and within the origin
//! (once, and in a loop); they drip a byte at a time, never end a body, or send a gzip bomb.
//! Each records every request it got, so a test sees on the server's side what arrived.

use crate::support::{SheetSpec, person, run_measured, sheetbridge, simple_rows, tmp, write_xlsx};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Peak resident memory allowed whatever a server sends.
const MAX_RSS_KIB: i64 = 256 << 10;

/// One request as the server read it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body's `application/x-www-form-urlencoded` pairs.
    pub fn form(&self) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(&self.body);
        reqwest::Url::parse(&format!("http://x/?{text}"))
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default()
    }
}

/// What a handler does with one request: writes the whole answer to the stream (the connection
/// is closed after it).
pub type Handler = Arc<dyn Fn(&Request, &mut TcpStream, &AtomicBool) + Send + Sync>;

/// A raw HTTP server on 127.0.0.1; stops accepting when dropped.
pub struct Raw {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<Request>>>,
    /// Connections accepted, also those that sent no readable request (a TLS hello).
    conns: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl Raw {
    pub fn start(handler: Handler) -> Raw {
        Raw::on(TcpListener::bind("127.0.0.1:0").unwrap(), handler)
    }

    pub fn on_port(port: u16, handler: Handler) -> Raw {
        Raw::on(TcpListener::bind(("127.0.0.1", port)).unwrap(), handler)
    }

    fn on(listener: TcpListener, handler: Handler) -> Raw {
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let conns = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (s, c, st) = (Arc::clone(&seen), Arc::clone(&conns), Arc::clone(&stop));
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(mut conn) = conn else { continue };
                c.fetch_add(1, Ordering::SeqCst);
                let (s, st, h) = (Arc::clone(&s), Arc::clone(&st), Arc::clone(&handler));
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
                    if let Some(req) = read_request(&mut conn) {
                        s.lock().unwrap().push(req.clone());
                        h(&req, &mut conn, &st);
                    }
                });
            }
        });
        Raw {
            addr,
            seen,
            conns,
            stop,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }

    pub fn connections(&self) -> usize {
        self.conns.load(Ordering::SeqCst)
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accepting thread so that it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn read_request(conn: &mut TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(conn.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        method,
        path,
        headers,
        body,
    })
}

/// Writes a complete answer.
pub fn respond(conn: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(body);
}

/// Writes `head` (status line and headers, no length), then `chunk` again and again, every
/// `every`, until the client goes or the server stops.
pub fn endless(conn: &mut TcpStream, head: &str, chunk: &[u8], every: Duration, stop: &AtomicBool) {
    if conn.write_all(head.as_bytes()).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        if conn.write_all(chunk).is_err() {
            return;
        }
        if !every.is_zero() {
            std::thread::sleep(every);
        }
    }
}

/// A platform that takes any login and any upload: `{"code":"0"}`.
pub fn accepting() -> Handler {
    Arc::new(|req: &Request, conn: &mut TcpStream, _: &AtomicBool| {
        if req.path.starts_with("/login") {
            respond(conn, 200, &[("Content-Type", "text/html")], b"<p>ok</p>");
        } else {
            respond(
                conn,
                200,
                &[("Content-Type", "application/json")],
                br#"{"code":"0","msg":"ok"}"#,
            );
        }
    })
}

/// A target file for a server at `url` with this `[auth]` kind.
pub fn target_toml(name: &str, url: &str, auth: &str, timeout_s: u64) -> String {
    let auth = match auth {
        "form" => {
            "[auth]\nkind = \"form\"\nlogin_path = \"/login\"\nusername_field = \"username\"\npassword_field = \"password\"\nfailure_text = \"用户名或密码错误\"\n"
        }
        "basic" => "[auth]\nkind = \"basic\"\n",
        "bearer" => "[auth]\nkind = \"bearer\"\n",
        _ => "",
    };
    format!(
        "name = \"{name}\"\nbase_url = \"{url}\"\nallow_http = true\ntimeout_s = {timeout_s}\nretry_for_hours = 1\n{auth}[upload]\npath = \"/nat/import\"\nfile_field = \"file\"\n[success]\nstatus = [200, 299]\njson_pointer = \"/code\"\nequals = \"0\"\n"
    )
}

/// A home with the user's target `t` (its file in `config/targets/`) and a sheet of a few
/// valid rows (`first`: the first person's number, so two sheets hold different rows).
pub fn home_with_target(home: &Path, name: &str, toml: &str, first: u32) -> std::path::PathBuf {
    let targets = home.join("config/targets");
    std::fs::create_dir_all(&targets).unwrap();
    std::fs::write(targets.join(format!("{name}.toml")), toml).unwrap();
    let mut rows = simple_rows(0);
    for i in first..first + 3 {
        rows.push(person(i, &format!("T{:010}", i)));
    }
    let file = home.join(format!("{name}.xlsx"));
    write_xlsx(&file, &[SheetSpec::new("Sheet1", rows)]);
    file
}

/// The `sheetbridge` command with the platform's user and password in the environment.
fn with_creds(home: &Path, args: &[&str]) -> Command {
    let mut c = sheetbridge(home, args);
    c.env("SHEETBRIDGE_USER", "clerk")
        .env("SHEETBRIDGE_PASSWORD", "s3cret-pw")
        .env("SHEETBRIDGE_TOKEN", "tok-s3cret")
        .env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
        .stdin(Stdio::null());
    c
}

/// Runs `cmd`, killing it after `limit` (a run that never ends fails the test, it does not
/// hang it). `None` when it had to be killed.
pub fn run_within(mut cmd: Command, limit: Duration) -> Option<crate::support::Run> {
    let dir = tempfile::tempdir().unwrap();
    let (o, e) = (dir.path().join("o"), dir.path().join("e"));
    cmd.stdout(std::fs::File::create(&o).unwrap())
        .stderr(std::fs::File::create(&e).unwrap());
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(crate::support::Run {
                code: status.code().unwrap_or(-1),
                stdout: std::fs::read_to_string(&o).unwrap_or_default(),
                stderr: std::fs::read_to_string(&e).unwrap_or_default(),
            });
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A redirect answer to `to`.
fn redirect(code: u16, to: String) -> Handler {
    Arc::new(move |_: &Request, conn: &mut TcpStream, _: &AtomicBool| {
        respond(conn, code, &[("Location", &to)], b"");
    })
}

/// Every 3xx code, from the login form and from the upload itself (basic and bearer carry
/// `Authorization`), to another port, another host name and another scheme: nothing reaches
/// the other origin, the batch stays queued, and the message names both addresses.
#[test]
fn no_redirect_leaves_the_origin() {
    let elsewhere = Raw::start(accepting());
    let port = elsewhere.addr.port();
    let others = [
        format!("http://127.0.0.1:{port}/login"),
        format!("http://localhost:{port}/nat/import"),
        format!("https://127.0.0.1:{port}/nat/import"),
    ];
    for code in [301, 302, 303, 307, 308] {
        for auth in ["form", "basic", "bearer"] {
            for to in &others {
                let home = tmp();
                let platform = Raw::start(redirect(code, to.clone()));
                let toml = target_toml("t", &platform.url(), auth, 10);
                let file = home_with_target(home.path(), "t", &toml, 1);
                let r = run_within(
                    with_creds(home.path(), &["upload", file.to_str().unwrap(), "-t", "t"]),
                    Duration::from_secs(60),
                )
                .expect("upload ended");
                assert!(
                    [2, 4].contains(&r.code),
                    "{code} {auth} {to}: exit {}: {}",
                    r.code,
                    r.stderr
                );
                assert!(r.stderr.contains(&platform.url()), "{}", r.stderr);
                let shown_to = to.replace("/nat/import", "").replace("/login", "");
                assert!(r.stderr.contains(&shown_to), "{to}: {}", r.stderr);
                assert_eq!(
                    elsewhere.connections(),
                    0,
                    "{code} {auth}: something reached {to}: {:?}",
                    elsewhere.seen()
                );
                assert!(!r.stderr.contains("s3cret"), "{}", r.stderr);
            }
        }
    }
}

/// A redirect within the origin is followed (a 307 resends the login form there); a loop
/// within the origin stops after 5 and says so.
#[test]
fn redirects_within_the_origin_are_followed_at_most_five_times() {
    let home = tmp();
    let follow: Handler = Arc::new(|req: &Request, conn: &mut TcpStream, s: &AtomicBool| {
        if req.path == "/login" {
            respond(conn, 307, &[("Location", "/login2")], b"");
        } else {
            accepting()(req, conn, s);
        }
    });
    let platform = Raw::start(follow);
    let file = home_with_target(
        home.path(),
        "t",
        &target_toml("t", &platform.url(), "form", 10),
        1,
    );
    let r = run_within(
        with_creds(home.path(), &["upload", file.to_str().unwrap(), "-t", "t"]),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let seen = platform.seen();
    let again = seen.iter().find(|q| q.path == "/login2").expect("followed");
    assert_eq!(again.method, "POST", "a 307 keeps the method and the body");
    assert!(
        again
            .form()
            .contains(&("password".into(), "s3cret-pw".into()))
    );

    for code in [301, 302, 303, 307, 308] {
        let home = tmp();
        let looping = Raw::start(redirect(code, "/login".into()));
        let file = home_with_target(
            home.path(),
            "t",
            &target_toml("t", &looping.url(), "form", 10),
            1,
        );
        let r = run_within(
            with_creds(home.path(), &["upload", file.to_str().unwrap(), "-t", "t"]),
            Duration::from_secs(60),
        )
        .unwrap();
        assert!([2, 4].contains(&r.code), "{code}: {}", r.stderr);
        assert!(r.stderr.contains("5 次"), "{code}: {}", r.stderr);
        let asked = looping.seen().len();
        assert!((2..=6).contains(&asked), "{code}: {asked} requests");
    }
}

/// A login page that never ends, the answer to an upload that never ends, a gzip bomb: each
/// stops at 1 MiB, names the address and the limit, and the program stays under 256 MiB.
#[test]
fn endless_answers_stop_at_one_mebibyte_in_bounded_memory() {
    let bomb = Arc::new(gzip_bomb_member());
    let cases: Vec<(&str, Handler)> = vec![
        (
            "endless login page",
            Arc::new(|req: &Request, conn: &mut TcpStream, stop: &AtomicBool| {
                if req.path == "/login" {
                    endless(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
                        &[b'x'; 64 * 1024],
                        Duration::ZERO,
                        stop,
                    );
                }
            }),
        ),
        (
            "endless upload answer",
            Arc::new(|req: &Request, conn: &mut TcpStream, stop: &AtomicBool| {
                if req.path == "/login" {
                    respond(conn, 200, &[], b"ok");
                } else {
                    endless(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n",
                        b"{\"code\":\"0\",\"msg\":\"",
                        Duration::ZERO,
                        stop,
                    );
                }
            }),
        ),
        (
            "gzip bomb",
            Arc::new(
                move |_: &Request, conn: &mut TcpStream, stop: &AtomicBool| {
                    endless(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\nConnection: close\r\n\r\n",
                        &bomb,
                        Duration::ZERO,
                        stop,
                    );
                },
            ),
        ),
    ];
    for (what, handler) in cases {
        let home = tmp();
        let platform = Raw::start(handler);
        let file = home_with_target(
            home.path(),
            "t",
            &target_toml("t", &platform.url(), "form", 30),
            1,
        );
        let m = run_measured(
            with_creds(home.path(), &["upload", file.to_str().unwrap(), "-t", "t"]),
            4 << 30,
        );
        assert!(
            matches!(m.code, Some(4 | 5)),
            "{what}: {:?} {}",
            m.code,
            m.stderr
        );
        assert!(m.stderr.contains("1 MiB"), "{what}: {}", m.stderr);
        assert!(m.stderr.contains(&platform.url()), "{what}: {}", m.stderr);
        assert!(
            m.max_rss_kib < MAX_RSS_KIB,
            "{what}: peak {} MiB",
            m.max_rss_kib >> 10
        );
    }
}

/// One gzip member of 1 MiB of zeros (about 1 KiB): repeated, it is a body that inflates a
/// thousandfold. This build of reqwest does not decode gzip (no `gzip` feature), so the limit
/// counts what came over the wire; were decoding turned on, it would count the decoded bytes.
pub fn gzip_bomb_member() -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![0u8; 1 << 20]).unwrap();
    gz.finish().unwrap()
}

/// A body that drips a byte every 100 ms after a prompt header: the whole request stops at
/// the target's `timeout_s` (2 s here), whatever each read does. Without a deadline of its own
/// the program would read for ever (each read is quick).
#[test]
fn a_dripping_body_stops_at_the_whole_request_timeout() {
    for at in ["/login", "/nat/import"] {
        let home = tmp();
        let at_ = at.to_owned();
        let drip: Handler = Arc::new(
            move |req: &Request, conn: &mut TcpStream, stop: &AtomicBool| {
                if req.path == at_ {
                    endless(
                        conn,
                        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n",
                        b" ",
                        Duration::from_millis(100),
                        stop,
                    );
                } else {
                    respond(conn, 200, &[], b"ok");
                }
            },
        );
        let platform = Raw::start(drip);
        let file = home_with_target(
            home.path(),
            "t",
            &target_toml("t", &platform.url(), "form", 2),
            1,
        );
        let r = run_within(
            with_creds(home.path(), &["upload", file.to_str().unwrap(), "-t", "t"]),
            Duration::from_secs(40),
        )
        .unwrap_or_else(|| panic!("{at}: a dripping body kept the upload going for 40 s"));
        assert!(matches!(r.code, 4 | 5), "{at}: {}", r.stderr);
        assert!(r.stderr.contains("2 秒"), "{at}: {}", r.stderr);
    }
}
