//! guarantees.md §1. Credentials go where they belong, and nowhere else.
//!
//! Several targets, each on its own server on 127.0.0.1 with its own generated credentials
//! (form login, basic, bearer), batches of all of them queued while their servers were down;
//! then each command that sends the queue runs, and every server's record says which
//! credentials reached it. Credentials come from `login` (remembered in credentials.toml, as
//! where no Secret Service answers), never from the environment here.

use super::network::{Raw, Request, accepting, home_with_target, run_within, target_toml};
use crate::support::{run, sheetbridge, tmp};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Generated credentials: letters, digits and the characters a form or a header must carry
/// intact.
fn secret(rng: &mut fastrand::Rng, prefix: &str) -> String {
    const ODD: &[char] = &['&', '=', '+', '%', ' ', ':', '中', '#', '?', '/'];
    let mut s = format!("{prefix}-");
    for _ in 0..rng.usize(8..16) {
        if rng.u8(0..4) == 0 {
            s.push(ODD[rng.usize(..ODD.len())]);
        } else {
            s.push(rng.alphanumeric());
        }
    }
    s.trim().to_owned()
}

/// `sheetbridge` without any credential in the environment, credentials.toml as the store.
fn bare(home: &Path, args: &[&str]) -> Command {
    let mut c = sheetbridge(home, args);
    c.env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
        .env_remove("SHEETBRIDGE_USER")
        .env_remove("SHEETBRIDGE_PASSWORD")
        .env_remove("SHEETBRIDGE_TOKEN")
        .env_remove("SHEETBRIDGE_SOURCE_USER")
        .env_remove("SHEETBRIDGE_SOURCE_PASSWORD")
        .stdin(Stdio::null());
    c
}

/// `sheetbridge login --target T` (or `--source S`), answering on standard input.
pub fn login(home: &Path, what: &str, name: &str, answers: &[&str]) {
    let mut c = bare(home, &["login", what, name]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for a in answers {
            writeln!(stdin, "{a}").unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The secrets a request carried: the login form's password, a basic password, a token.
fn secrets_in(req: &Request) -> Vec<String> {
    let mut found: Vec<String> = req
        .form()
        .into_iter()
        .filter(|(k, _)| k == "password" || k == "username")
        .map(|(_, v)| v)
        .collect();
    if let Some(auth) = req.header("authorization") {
        if let Some(b) = auth.strip_prefix("Basic ") {
            let plain = String::from_utf8(base64_decode(b)).unwrap_or_default();
            if let Some((u, p)) = plain.split_once(':') {
                found.extend([u.to_owned(), p.to_owned()]);
            }
        } else if let Some(t) = auth.strip_prefix("Bearer ") {
            found.push(t.to_owned());
        } else {
            found.push(auth.to_owned());
        }
    }
    found
}

fn base64_decode(text: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.trim().bytes().take_while(|&c| c != b'=') {
        let Some(v) = A.iter().position(|&a| a == c) else {
            break;
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// One target of the scenario: its server, its name, its secrets.
struct Account {
    name: String,
    server: Raw,
    secrets: Vec<String>,
}

/// Targets of every auth kind with generated credentials remembered by `login`, each with a
/// batch queued while its server was down; then the servers come up.
fn queued_targets(home: &Path, rng: &mut fastrand::Rng) -> Vec<Account> {
    let mut down = Vec::new();
    for (k, auth) in ["form", "basic", "bearer", "form"].into_iter().enumerate() {
        let name = format!("t{k}");
        // A port nobody listens on: the first upload cannot connect and stays queued.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let file = home_with_target(
            home,
            &name,
            &target_toml(&name, &url, auth, 10),
            10 * k as u32,
        );
        let (user, password) = (secret(rng, &format!("u{k}")), secret(rng, &format!("p{k}")));
        let secrets = if auth == "bearer" {
            let token = secret(rng, &format!("tok{k}"));
            login(home, "--target", &name, &[&token]);
            vec![token]
        } else {
            login(home, "--target", &name, &[&user, &password]);
            vec![user, password]
        };
        let r = run_within(
            bare(home, &["upload", file.to_str().unwrap(), "-t", &name]),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(r.code, 4, "{name} queued while down: {}", r.stderr);
        down.push((name, port, secrets));
    }
    // Only now do the servers come up: no batch reached one before the command under test.
    let accounts = down
        .into_iter()
        .map(|(name, port, secrets)| Account {
            name,
            server: Raw::on_port(port, accepting()),
            secrets,
        })
        .collect();
    all_due_now(home);
    accounts
}

/// Every queued batch due now (what the window's "现在重试" does), so a single pass sends the
/// batches whose backoff the failed attempts above started.
fn all_due_now(home: &Path) {
    let db = rusqlite::Connection::open(home.join("data/outbox.sqlite")).unwrap();
    db.execute(
        "UPDATE batches SET next_attempt_at = 0 WHERE state = 'queued'",
        [],
    )
    .unwrap();
}

/// Every server got only its own target's credentials, and got them.
fn each_got_its_own(accounts: &[Account], how: &str) {
    for a in accounts {
        let seen = a.server.seen();
        assert!(
            seen.iter().any(|r| r.path == "/nat/import"),
            "{how}: {} got no batch",
            a.name
        );
        let got: Vec<String> = seen.iter().flat_map(secrets_in).collect();
        assert!(!got.is_empty(), "{how}: {} got no credentials", a.name);
        for s in &got {
            assert!(
                a.secrets.contains(s),
                "{how}: {} got {s:?}, not its own {:?}",
                a.name,
                a.secrets
            );
        }
    }
}

/// `watch --target B`, `outbox send` and `upload FILE --target B` send every target's queued
/// batches, each with the credentials of its own target (found by the one lookup), never those
/// of the target the command was started with.
#[test]
fn each_batch_goes_with_its_own_targets_credentials() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_c0de);
    for how in ["watch", "outbox send", "upload"] {
        let home = tmp();
        let accounts = queued_targets(home.path(), &mut rng);
        let last = &accounts[accounts.len() - 1].name;
        let folder = home.path().join("待上报");
        std::fs::create_dir_all(&folder).unwrap();
        let sheet = home.path().join(format!("{last}.xlsx"));
        let args: Vec<&str> = match how {
            "watch" => vec!["watch", folder.to_str().unwrap(), "-t", last, "--once"],
            "outbox send" => vec!["outbox", "send"],
            _ => vec!["upload", sheet.to_str().unwrap(), "-t", last],
        };
        let r = run_within(bare(home.path(), &args), Duration::from_secs(120)).unwrap();
        assert_eq!(r.code, 0, "{how}: {}", r.stderr);
        assert!(!r.stderr.contains("没有登录信息"), "{how}: {}", r.stderr);
        each_got_its_own(&accounts, how);
    }
}

/// A target whose credentials were never given keeps its batches queued and is named; the
/// other targets' batches are sent with their own.
#[test]
fn a_target_without_credentials_stays_queued_and_is_named() {
    let mut rng = fastrand::Rng::with_seed(7);
    let home = tmp();
    let accounts = queued_targets(home.path(), &mut rng);
    let forgotten = &accounts[1].name;
    let r = run_within(
        bare(home.path(), &["login", "--target", forgotten, "--forget"]),
        Duration::from_secs(60),
    )
    .unwrap();
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = run_within(
        bare(home.path(), &["outbox", "send"]),
        Duration::from_secs(120),
    )
    .unwrap();
    assert!(r.stderr.contains("没有登录信息"), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!("login --target {forgotten}")),
        "{}",
        r.stderr
    );
    let list = run(home.path(), &["outbox", "list"]);
    let queued: Vec<&str> = list
        .stdout
        .lines()
        .filter(|l| l.contains("\tqueued\t"))
        .collect();
    assert_eq!(queued.len(), 1, "{}", list.stdout);
    assert!(
        queued[0].contains(&format!("\t{forgotten}\t")),
        "{queued:?}"
    );
    for a in &accounts {
        let got: Vec<String> = a.server.seen().iter().flat_map(secrets_in).collect();
        if &a.name == forgotten {
            assert!(a.server.seen().is_empty(), "{:?}", a.server.seen());
        } else {
            assert!(
                a.server.seen().iter().any(|q| q.path == "/nat/import"),
                "{} got no batch",
                a.name
            );
            assert!(
                got.iter().all(|s| a.secrets.contains(s)),
                "{}: {got:?}",
                a.name
            );
        }
    }
}

/// A user name or password written into `base_url` (every form of it: user and password, user
/// alone, password alone, percent-encoded) is refused when a target or a source loads, naming
/// the file and the key, and never shown; nothing is sent.
#[test]
fn credentials_in_base_url_are_refused_at_load() {
    let server = Raw::start(accepting());
    let host = server.addr.to_string();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut forms = vec![
        format!("http://u:pw-leak@{host}"),
        format!("http://u@{host}"),
        format!("http://:pw-leak@{host}"),
        format!("http://u%3Ax:pw%40leak@{host}"),
    ];
    for _ in 0..4 {
        let user: String = (0..rng.usize(1..8)).map(|_| rng.alphanumeric()).collect();
        forms.push(format!("http://{user}:pw-leak{}@{host}", rng.u32(..)));
    }
    for url in &forms {
        let home = tmp();
        let file = home_with_target(home.path(), "t", &target_toml("t", url, "form", 10), 1);
        let r = run(home.path(), &["upload", file.to_str().unwrap(), "-t", "t"]);
        assert_eq!(r.code, 2, "{url}: {}", r.stderr);
        assert!(
            r.stderr.contains("t.toml") && r.stderr.contains("base_url"),
            "{url}: {}",
            r.stderr
        );
        assert!(
            !r.stderr.contains("pw-leak") && !r.stderr.contains("pw%40leak"),
            "{}",
            r.stderr
        );

        let sources = home.path().join("config/sources");
        std::fs::create_dir_all(&sources).unwrap();
        std::fs::write(
            sources.join("city.toml"),
            format!(
                "name = \"城市\"\nbase_url = \"{url}\"\nallow_http = true\n[export]\npath = \"/x\"\nfile_name = \"a_{{date}}.xlsx\"\n"
            ),
        )
        .unwrap();
        let out = home.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let r = run(
            home.path(),
            &["fetch", "--source", "city", "-o", out.to_str().unwrap()],
        );
        assert_eq!(r.code, 2, "{url}: {}", r.stderr);
        assert!(
            r.stderr.contains("city.toml") && r.stderr.contains("base_url"),
            "{url}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("pw-leak"), "{}", r.stderr);
    }
    assert!(server.seen().is_empty(), "{:?}", server.seen());
}

/// `fetch` finds the source's credentials that `login --source` remembered (no variable set).
#[test]
fn fetch_finds_remembered_source_credentials() {
    let home = tmp();
    let server = Raw::start(accepting());
    let sources = home.path().join("config/sources");
    std::fs::create_dir_all(&sources).unwrap();
    std::fs::write(
        sources.join("city.toml"),
        format!(
            "name = \"城市\"\nbase_url = \"{}\"\nallow_http = true\n[auth]\nkind = \"form\"\nlogin_path = \"/login\"\n[export]\npath = \"/x\"\nfile_name = \"a_{{date}}.xlsx\"\n",
            server.url()
        ),
    )
    .unwrap();
    login(home.path(), "--source", "city", &["lab-user", "lab&pw=1"]);
    let out = home.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    let r = run_within(
        bare(
            home.path(),
            &["fetch", "--source", "city", "-o", out.to_str().unwrap()],
        ),
        Duration::from_secs(60),
    )
    .unwrap();
    assert!(!r.stderr.contains("没有城市系统的登录信息"), "{}", r.stderr);
    let logins: Vec<Vec<(String, String)>> = server
        .seen()
        .iter()
        .filter(|q| q.path == "/login")
        .map(Request::form)
        .collect();
    assert!(
        logins
            .iter()
            .any(|f| f.contains(&("password".into(), "lab&pw=1".into()))),
        "{logins:?}"
    );
}

/// A password, token or key written into a target's form fields or its path's query, or a
/// source's export parameters, is refused when the file loads (the bundle copies these files),
/// however its name is spelled; a field that only holds placeholders is not.
#[test]
fn secrets_written_into_a_target_or_source_are_refused_at_load() {
    use super::network::{home_with_target, target_toml};
    let names = [
        "password",
        "PassWord",
        "pass_word",
        "pwd",
        "userPwd",
        "token",
        "access-token",
        "apiKey",
        "API_KEY",
        "accessKey",
        "client_secret",
        "密码",
        "登录口令",
    ];
    for (i, name) in names.iter().enumerate() {
        let secret = format!("S3cret-{i}");
        for (place, literal) in [("field", true), ("query", true), ("field", false)] {
            let home = crate::support::tmp();
            let value = if literal {
                secret.clone()
            } else {
                "{batch_id}".to_owned()
            };
            let base = target_toml("t", "http://127.0.0.1:9", "none", 2);
            let toml = match place {
                "field" => base.replace(
                    "file_field = \"file\"\n",
                    &format!("file_field = \"file\"\nfields = {{ \"{name}\" = \"{value}\" }}\n"),
                ),
                _ => base.replace(
                    "path = \"/nat/import\"",
                    &format!("path = \"/nat/import?{name}={value}\""),
                ),
            };
            let file = home_with_target(home.path(), "t", &toml, 1);
            let r = crate::support::run(
                home.path(),
                &["upload", file.to_str().unwrap(), "--target", "t"],
            );
            if literal {
                r.says(2, &["诊断包", "sheetbridge login"]);
                assert!(!r.stderr.contains(&secret), "{}", r.stderr);
            } else {
                assert!(!r.stderr.contains("诊断包"), "{name}: {}", r.stderr);
            }
        }
        // A source's export parameters.
        let home = crate::support::tmp();
        let sources = home.path().join("config/sources");
        std::fs::create_dir_all(&sources).unwrap();
        std::fs::write(
            sources.join("city.toml"),
            format!(
                "name = \"城市\"\nbase_url = \"http://127.0.0.1:9\"\nallow_http = true\n[export]\npath = \"/x\"\nparams = {{ \"{name}\" = \"{secret}\" }}\nfile_name = \"e_{{date}}.xlsx\"\n"
            ),
        )
        .unwrap();
        let out = home.path().join("out");
        let r = crate::support::run(
            home.path(),
            &["fetch", "--source", "city", "-o", out.to_str().unwrap()],
        );
        r.says(2, &["诊断包"]);
        assert!(!r.stderr.contains(&secret), "{}", r.stderr);
    }
}
