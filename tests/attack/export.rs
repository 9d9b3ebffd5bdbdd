//! guarantees.md §5 (and §2 for downloads). What is saved from a source is an export.
//!
//! A stand-in city system on 127.0.0.1 answers `fetch` with generated pages instead of an
//! export: login pages, error pages, JSON, HTML laid out with `<table>`, prose, random bytes, a
//! workbook whose header no profile knows, each under every file name extension. None may be
//! saved. A real export (xlsx, or an HTML table with the export's header) is. A download that
//! never ends, a gzip bomb, a drip, a redirect elsewhere: nothing saved, memory bounded.

use super::network::{
    Handler, Raw, Request, accepting, endless, gzip_bomb_member, respond, run_within,
};
use crate::support::{city, run_measured, sheetbridge, tmp};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const SOURCE: &str = "市核酸检测系统";

/// A home with source `city` (no login) at `url`, saving under `file_name`; the output folder.
fn source_home(home: &Path, url: &str, file_name: &str, timeout_s: u64) -> std::path::PathBuf {
    let sources = home.join("config/sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("city.toml"),
        format!(
            "name = \"{SOURCE}\"\nbase_url = \"{url}\"\nallow_http = true\ntimeout_s = {timeout_s}\n[export]\npath = \"/nat/export\"\nparams = {{ date = \"{{date}}\" }}\nfile_name = \"{file_name}\"\n"
        ),
    )
    .unwrap();
    let out = home.join("待上报");
    std::fs::create_dir_all(&out).unwrap();
    out
}

fn fetch(home: &Path, out: &Path) -> Command {
    let mut c = sheetbridge(
        home,
        &["fetch", "--source", "city", "-o", out.to_str().unwrap()],
    );
    c.env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
        .stdin(Stdio::null());
    c
}

/// Everything in `dir`, temporary files included.
fn everything(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// Answers the export with `body` (as `content_type`).
fn serving(body: Vec<u8>, content_type: &'static str) -> Handler {
    Arc::new(move |_: &Request, conn: &mut TcpStream, _: &AtomicBool| {
        respond(conn, 200, &[("Content-Type", content_type)], &body);
    })
}

/// Random text of `n` characters from a mix of scripts.
fn words(rng: &mut fastrand::Rng, n: usize) -> String {
    const POOL: &[&str] = &[
        "用户",
        "密码",
        "登录",
        "验证码",
        "系统",
        "错误",
        "abc",
        "Login",
        "页面",
        "提交",
    ];
    (0..n)
        .map(|_| POOL[rng.usize(..POOL.len())])
        .collect::<Vec<_>>()
        .join("")
}

/// Generated answers that are not exports: (body, what the message must name).
fn not_exports(rng: &mut fastrand::Rng) -> Vec<(Vec<u8>, String)> {
    let mut v = Vec::new();
    for _ in 0..3 {
        let title = format!("{} - {}", words(rng, 2), words(rng, 2));
        let field = words(rng, 1);
        // The example: a login page laid out with a table.
        v.push((
            format!(
                "<!DOCTYPE html><html><head><title>{title}</title></head><body><form><table><tr><td>{field}</td><td><input name=u></td></tr><tr><td>密码</td><td><input type=password></td></tr></table></form></body></html>"
            )
            .into_bytes(),
            title,
        ));
        // An error page, a table of anything, no title: named by its first words.
        let first = words(rng, 3);
        v.push((
            format!(
                "<html><body><table><tr><th>{first}</th><th>{}</th></tr><tr><td>1</td><td>2</td></tr></table></body></html>",
                words(rng, 2)
            )
            .into_bytes(),
            first,
        ));
        let msg = words(rng, 3);
        v.push((
            format!("{{\"code\":401,\"msg\":\"{msg}\"}}").into_bytes(),
            msg,
        ));
        let prose = format!("{}。{}。", words(rng, 4), words(rng, 5));
        v.push((prose.clone().into_bytes(), prose.chars().take(8).collect()));
    }
    let noise: Vec<u8> = (0..rng.usize(100..5000)).map(|_| rng.u8(..)).collect();
    v.push((noise, SOURCE.into()));
    v.push((Vec::new(), SOURCE.into()));
    // A real workbook whose header no profile recognises.
    let mut wb = rust_xlsxwriter::Workbook::new();
    let ws = wb.add_worksheet();
    ws.write_string(0, 0, "用户名").unwrap();
    ws.write_string(0, 1, "登录时间").unwrap();
    ws.write_string(1, 0, "admin").unwrap();
    v.push((wb.save_to_buffer().unwrap(), "用户名".into()));
    v
}

/// Pages, JSON, tables that are not exports, prose, noise: refused under every extension, the
/// source and the page named, exit 2, nothing left in the folder (not even a temporary file).
#[test]
fn only_an_export_is_saved() {
    let mut rng = fastrand::Rng::with_seed(0xe4);
    for (body, named) in not_exports(&mut rng) {
        for ext in ["xls", "xlsx", "csv", "htm"] {
            let home = tmp();
            let server = Raw::start(serving(body.clone(), "text/html; charset=utf-8"));
            let out = source_home(home.path(), &server.url(), &format!("r_{{date}}.{ext}"), 10);
            let r = run_within(fetch(home.path(), &out), Duration::from_secs(60)).unwrap();
            assert_eq!(r.code, 2, "{ext} {named}: {} {}", r.stdout, r.stderr);
            assert!(r.stderr.contains(SOURCE), "{}", r.stderr);
            assert!(r.stderr.contains(&named), "{named:?} not in {}", r.stderr);
            assert!(everything(&out).is_empty(), "{ext}: {:?}", everything(&out));
        }
    }
}

/// The controls: an xlsx export and an HTML-table export with the export's header are saved.
#[test]
fn a_real_export_is_saved() {
    let rows = city::clean_rows(4);
    let xlsx = city::workbook(&rows, 0).unwrap();
    let mut html = String::from("<html><head><title>导出</title></head><body><table><tr>");
    for h in crate::support::sample::HEADER {
        html.push_str(&format!("<th>{h}</th>"));
    }
    html.push_str("</tr><tr>");
    for _ in crate::support::sample::HEADER {
        html.push_str("<td>x</td>");
    }
    html.push_str("</tr></table></body></html>");
    for (body, ext) in [(xlsx, "xlsx"), (html.into_bytes(), "xls")] {
        let home = tmp();
        let server = Raw::start(serving(body, "application/octet-stream"));
        let out = source_home(home.path(), &server.url(), &format!("r_{{date}}.{ext}"), 10);
        let r = run_within(fetch(home.path(), &out), Duration::from_secs(60)).unwrap();
        assert_eq!(r.code, 0, "{ext}: {}", r.stderr);
        let saved = everything(&out);
        assert_eq!(saved.len(), 1, "{saved:?}");
        assert!(saved[0].ends_with(ext), "{saved:?}");
    }
}

/// A download that never ends stops at 1 GiB (cli.md's file limit), streamed to a temporary
/// file and removed: nothing saved, the limit and the address named, memory under 256 MiB. A
/// gzip bomb is saved by nobody either.
#[test]
fn an_endless_download_stops_at_one_gibibyte_in_bounded_memory() {
    let member = gzip_bomb_member();
    let bomb: Vec<u8> = member
        .iter()
        .copied()
        .cycle()
        .take(member.len() * 16 * 1024)
        .collect();
    let cases: Vec<(&str, Handler)> = vec![
        (
            "1 GiB",
            Arc::new(|_: &Request, conn: &mut TcpStream, stop: &AtomicBool| {
                endless(
                    conn,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ms-excel\r\nConnection: close\r\n\r\n",
                    &[b'a'; 256 * 1024],
                    Duration::ZERO,
                    stop,
                );
            }),
        ),
        (
            SOURCE,
            Arc::new(move |_: &Request, conn: &mut TcpStream, _: &AtomicBool| {
                respond(conn, 200, &[("Content-Encoding", "gzip")], &bomb);
            }),
        ),
    ];
    for (named, handler) in cases {
        let home = tmp();
        let server = Raw::start(handler);
        let out = source_home(home.path(), &server.url(), "r_{date}.xls", 120);
        let m = run_measured(fetch(home.path(), &out), 4 << 30);
        assert_eq!(m.code, Some(2), "{named}: {}", m.stderr);
        assert!(m.stderr.contains(named), "{named}: {}", m.stderr);
        assert!(everything(&out).is_empty(), "{:?}", everything(&out));
        assert!(
            m.max_rss_kib < 256 << 10,
            "{named}: peak {} MiB",
            m.max_rss_kib >> 10
        );
    }
}

/// A dripping export stops at the source's `timeout_s` for the whole request; an export that
/// redirects to another origin is not followed. Nothing saved either way.
#[test]
fn a_dripping_or_redirected_export_is_not_saved() {
    let home = tmp();
    let drip: Handler = Arc::new(|_: &Request, conn: &mut TcpStream, stop: &AtomicBool| {
        endless(
            conn,
            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nPK\x03\x04",
            b"\0",
            Duration::from_millis(100),
            stop,
        );
    });
    let server = Raw::start(drip);
    let out = source_home(home.path(), &server.url(), "r_{date}.xlsx", 2);
    let r = run_within(fetch(home.path(), &out), Duration::from_secs(40))
        .expect("a dripping export kept fetch going for 40 s");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("2 秒"), "{}", r.stderr);
    assert!(everything(&out).is_empty());

    let elsewhere = Raw::start(accepting());
    for code in [301, 302, 303, 307, 308] {
        let home = tmp();
        let to = format!("http://localhost:{}/x", elsewhere.addr.port());
        let server = Raw::start(Arc::new(
            move |_: &Request, conn: &mut TcpStream, _: &AtomicBool| {
                respond(conn, code, &[("Location", &to)], b"");
            },
        ));
        let out = source_home(home.path(), &server.url(), "r_{date}.xlsx", 10);
        let r = run_within(fetch(home.path(), &out), Duration::from_secs(40)).unwrap();
        assert_eq!(r.code, 2, "{code}: {}", r.stderr);
        assert!(r.stderr.contains(&server.url()), "{}", r.stderr);
        assert!(r.stderr.contains("localhost"), "{}", r.stderr);
        assert!(everything(&out).is_empty());
    }
    assert_eq!(elsewhere.connections(), 0, "{:?}", elsewhere.seen());
}
