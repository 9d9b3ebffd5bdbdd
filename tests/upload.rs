//! Direct upload against the stand-in platform (tests/support/platform.rs, started here on an
//! ephemeral 127.0.0.1 port): every failure the outbox must survive ends with every row stored
//! on the platform exactly once; the exit codes of target.md; and a child `outbox send` killed
//! at random moments many times.

use crate::support::platform::{Config, Platform};
use crate::support::{Run, SheetSpec, simple_rows, tmp, write_xlsx};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

struct Env {
    home: tempfile::TempDir,
    platform: Platform,
}

impl Env {
    /// A stand-in and a home whose `targets/stand.toml` points at it.
    fn new(idempotent: bool, timeout_s: u64, max_rows: usize) -> Env {
        let home = tmp();
        let platform = Platform::start(Config::new(&home.path().join("platform.sqlite"))).unwrap();
        let targets = home.path().join("config/targets");
        std::fs::create_dir_all(&targets).unwrap();
        std::fs::write(
            targets.join("stand.toml"),
            platform.target_toml(idempotent, timeout_s, max_rows),
        )
        .unwrap();
        Env { home, platform }
    }

    fn path(&self) -> &Path {
        self.home.path()
    }

    /// An export of `n` valid rows.
    fn input(&self, n: u32) -> PathBuf {
        let path = self.path().join("export.xlsx");
        write_xlsx(&path, &[SheetSpec::new("Sheet1", simple_rows(n))]);
        path
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
        c.args(args)
            .env("SHEETBRIDGE_CONFIG_DIR", self.path().join("config"))
            .env("SHEETBRIDGE_DATA_DIR", self.path().join("data"))
            .env("SHEETBRIDGE_USER", "demo")
            .env("SHEETBRIDGE_PASSWORD", "demo")
            .env_remove("SHEETBRIDGE_TOKEN")
            .env_remove("SHEETBRIDGE_LANG")
            .env_remove("SHEETBRIDGE_LAB");
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        let out = self.command(args).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn upload(&self, input: &Path) -> Run {
        self.run(&["upload", input.to_str().unwrap(), "--target", "stand"])
    }

    /// `outbox list`: (id, state, attempts).
    fn list(&self) -> Vec<(String, String, u32)> {
        let r = self.run(&["outbox", "list"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        r.stdout
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                assert_eq!(f.len(), 6, "{l}");
                (f[0].to_owned(), f[3].to_owned(), f[4].parse().unwrap())
            })
            .collect()
    }

    fn states(&self) -> Vec<String> {
        self.list().into_iter().map(|b| b.1).collect()
    }

    /// Every one of `n` rows is stored on the platform exactly once.
    fn assert_each_row_once(&self, n: usize) {
        let rows = self.platform.rows();
        let twice: Vec<_> = rows.iter().filter(|r| r.2 != 1).collect();
        assert!(twice.is_empty(), "stored more than once: {twice:?}");
        assert_eq!(rows.len(), n, "rows stored on the platform");
    }
}

fn ok(r: &Run, code: i32) {
    assert_eq!(r.code, code, "stdout:\n{}\nstderr:\n{}", r.stdout, r.stderr);
}

#[test]
fn upload_confirms_then_refuses_the_same_rows() {
    let env = Env::new(true, 10, 1000);
    let input = env.input(30);
    let r = env.upload(&input);
    ok(&r, 0);
    assert!(r.stderr.contains("已确认"), "{}", r.stderr);
    env.assert_each_row_once(30);
    assert_eq!(env.states(), ["confirmed"]);
    // The same rows again: already uploaded, nothing queued; the file is done (target.md:
    // a FILE sent before exits 0, saying when).
    let again = env.upload(&input);
    ok(&again, 0);
    assert!(again.stderr.contains("30 行已经上报过"), "{}", again.stderr);
    let today = chrono::Local::now().format("%Y-%m-%d").to_string();
    assert!(again.stderr.contains(&today), "{}", again.stderr);
    // convert and check now warn about them (the ledger is read).
    let report = env.path().join("report.json");
    let check = env.run(&[
        "check",
        input.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ]);
    ok(&check, 2);
    let text = std::fs::read_to_string(&report).unwrap();
    assert_eq!(text.matches("\"already_uploaded\"").count(), 30);
    env.assert_each_row_once(30);
    assert_eq!(env.platform.shared.requests.load(Ordering::SeqCst), 1);
}

#[test]
fn an_upload_sheet_is_accepted_and_split_into_batches() {
    let env = Env::new(false, 10, 7);
    let input = env.input(20);
    let sheet = env.path().join("sheet.xlsx");
    ok(
        &env.run(&[
            "convert",
            input.to_str().unwrap(),
            "-o",
            sheet.to_str().unwrap(),
        ]),
        0,
    );
    let r = env.upload(&sheet);
    ok(&r, 0);
    assert_eq!(env.states(), ["confirmed"; 3]);
    let rows: Vec<usize> = env
        .run(&["outbox", "list"])
        .stdout
        .lines()
        .map(|l| l.split('\t').nth(2).unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows.iter().sum::<usize>(), 20);
    env.assert_each_row_once(20);
    // The batch files are kept (retention) and nothing stray is left in the outbox folder.
    let files = crate::support::files_in(&env.path().join("data/outbox"));
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(files.iter().all(|f| f.ends_with(".xlsx")));
}

#[test]
fn busy_platform_is_retried_with_backoff() {
    let env = Env::new(false, 10, 1000);
    env.platform.switches().fail_503.store(3, Ordering::SeqCst);
    let input = env.input(12);
    let r = env.upload(&input);
    ok(&r, 4);
    assert!(r.stderr.contains("503"), "{}", r.stderr);
    assert_eq!(env.states(), ["queued"]);
    let s = env.run(&["outbox", "send", "--max-wait", "60"]);
    ok(&s, 0);
    let list = env.list();
    assert_eq!(list[0].1, "confirmed");
    assert_eq!(list[0].2, 4, "three 503s, then the upload");
    env.assert_each_row_once(12);
}

#[test]
fn lost_answer_with_an_idempotency_key_is_resent_once() {
    let env = Env::new(true, 10, 1000);
    env.platform
        .switches()
        .drop_after_body
        .store(1, Ordering::SeqCst);
    let input = env.input(15);
    let r = env.upload(&input);
    ok(&r, 4);
    assert!(r.stderr.contains("没有收到省平台的答复"), "{}", r.stderr);
    // The platform has the rows already; the resend carries the same key.
    env.assert_each_row_once(15);
    ok(&env.run(&["outbox", "send", "--max-wait", "60"]), 0);
    assert_eq!(env.states(), ["confirmed"]);
    assert_eq!(env.platform.shared.requests.load(Ordering::SeqCst), 2);
    env.assert_each_row_once(15);
}

#[test]
fn answer_later_than_the_timeout_is_resent_with_the_same_key() {
    let env = Env::new(true, 1, 1000);
    let sw = env.platform.switches();
    sw.late_ms.store(2500, Ordering::SeqCst);
    sw.late_answers.store(1, Ordering::SeqCst);
    let input = env.input(9);
    let r = env.upload(&input);
    ok(&r, 4);
    let s = env.run(&["outbox", "send", "--max-wait", "60"]);
    ok(&s, 0);
    assert_eq!(env.states(), ["confirmed"]);
    env.assert_each_row_once(9);
}

#[test]
fn slow_answers_within_the_timeout_are_fine() {
    let env = Env::new(false, 5, 1000);
    env.platform
        .switches()
        .delay_ms
        .store(700, Ordering::SeqCst);
    let input = env.input(5);
    ok(&env.upload(&input), 0);
    env.assert_each_row_once(5);
}

#[test]
fn lost_answer_without_idempotency_waits_for_a_person() {
    let env = Env::new(false, 10, 1000);
    env.platform
        .switches()
        .drop_after_body
        .store(1, Ordering::SeqCst);
    let input = env.input(8);
    let r = env.upload(&input);
    // A batch waiting for a person: 5, for the upload and for the outbox.
    ok(&r, 5);
    let list = env.list();
    assert_eq!(list[0].1, "waiting");
    // Nothing is resent by itself.
    ok(&env.run(&["outbox", "send", "--max-wait", "5"]), 5);
    assert_eq!(env.platform.shared.requests.load(Ordering::SeqCst), 1);
    env.assert_each_row_once(8);
    // The person checked the platform: the rows are there, so the batch is dropped.
    let id = list[0].0.clone();
    ok(&env.run(&["outbox", "forget", &id]), 0);
    assert!(env.list().is_empty());
    ok(&env.run(&["outbox", "forget", &id]), 2);
    env.assert_each_row_once(8);
}

#[test]
fn unreachable_platform_keeps_the_batch_and_says_vpn() {
    let home = tmp();
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut config = Config::new(&home.path().join("platform.sqlite"));
    config.port = port;
    // The target is written before the platform runs: nothing listens on the port yet.
    std::fs::create_dir_all(home.path().join("config/targets")).unwrap();
    let env = Env {
        platform: Platform::start(Config::new(&home.path().join("scratch.sqlite"))).unwrap(),
        home,
    };
    let text = env.platform.target_toml(true, 5, 1000).replace(
        &env.platform.base_url(),
        &format!("http://127.0.0.1:{port}"),
    );
    std::fs::write(env.path().join("config/targets/stand.toml"), text).unwrap();
    let input = env.input(6);
    let r = env.upload(&input);
    ok(&r, 4);
    assert!(r.stderr.contains("VPN"), "{}", r.stderr);
    assert_eq!(env.states(), ["queued"]);
    // The VPN is back.
    let real = Platform::start(config).unwrap();
    ok(&env.run(&["outbox", "send", "--max-wait", "30"]), 0);
    assert_eq!(env.states(), ["confirmed"]);
    let rows = real.rows();
    assert_eq!(rows.len(), 6);
    assert!(rows.iter().all(|r| r.2 == 1));
}

#[test]
fn rejected_batch_shows_the_platforms_message_and_can_be_retried() {
    let env = Env::new(true, 10, 1000);
    env.platform.switches().reject.store(1, Ordering::SeqCst);
    let input = env.input(7);
    let r = env.upload(&input);
    ok(&r, 5);
    assert!(
        r.stderr.contains("检测机构不在本省备案名单中"),
        "{}",
        r.stderr
    );
    let list = env.list();
    assert_eq!(list[0].1, "rejected");
    assert!(env.platform.rows().is_empty());
    // Not resent by itself; a person's retry sends it again.
    ok(&env.run(&["outbox", "send"]), 5);
    assert!(env.platform.rows().is_empty());
    ok(&env.run(&["outbox", "retry", &list[0].0]), 0);
    ok(&env.run(&["outbox", "send"]), 0);
    assert_eq!(env.states(), ["confirmed"]);
    env.assert_each_row_once(7);
}

#[test]
fn refused_login_exits_2_and_keeps_the_batch() {
    let env = Env::new(true, 10, 1000);
    env.platform
        .switches()
        .refuse_login
        .store(true, Ordering::SeqCst);
    let input = env.input(4);
    let r = env.upload(&input);
    ok(&r, 2);
    assert!(r.stderr.contains("拒绝登录"), "{}", r.stderr);
    assert!(!r.stderr.contains("demo"), "no credentials in messages");
    assert_eq!(env.states(), ["queued"]);
    assert_eq!(env.platform.shared.requests.load(Ordering::SeqCst), 0);
    // Running it again finds the queued batch (not queued twice) and tries to send it.
    let again = env.upload(&input);
    ok(&again, 2);
    assert!(again.stderr.contains("之前已放入队列"), "{}", again.stderr);
    assert_eq!(env.states(), ["queued"]);
    // Missing credentials are named.
    let mut c = env.command(&["outbox", "send"]);
    c.env_remove("SHEETBRIDGE_PASSWORD");
    let out = c.output().unwrap();
    // Nothing could be done: 2 (target.md, "Exit codes").
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SHEETBRIDGE_PASSWORD"));
    env.platform
        .switches()
        .refuse_login
        .store(false, Ordering::SeqCst);
    // The clerk's obvious next step, the same command again, sends the file's batch.
    let fixed = env.upload(&input);
    ok(&fixed, 0);
    assert_eq!(env.states(), ["confirmed"]);
    env.assert_each_row_once(4);
}

#[test]
fn retries_stop_after_retry_for_hours_and_wait_for_a_person() {
    let env = Env::new(true, 10, 1000);
    let path = env.path().join("config/targets/stand.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replace("retry_for_hours = 1", "retry_for_hours = 0"),
    )
    .unwrap();
    env.platform.switches().fail_503.store(1, Ordering::SeqCst);
    let input = env.input(3);
    let r = env.upload(&input);
    ok(&r, 5);
    let list = env.list();
    assert_eq!(list[0].1, "waiting");
    ok(&env.run(&["outbox", "send", "--max-wait", "5"]), 5);
    assert!(env.platform.rows().is_empty());
    // A person's retry sends it once more.
    ok(&env.run(&["outbox", "retry", &list[0].0]), 0);
    ok(&env.run(&["outbox", "send"]), 0);
    assert_eq!(env.states(), ["confirmed"]);
    env.assert_each_row_once(3);
}

#[test]
fn expired_session_logs_in_again() {
    let env = Env::new(true, 10, 3);
    let input = env.input(3);
    ok(&env.upload(&input), 0);
    env.platform
        .switches()
        .expire_sessions
        .store(true, Ordering::SeqCst);
    // A second file in the same run: the first upload is answered 401, then it logs in again.
    let more = env.path().join("more.xlsx");
    let mut rows = simple_rows(6);
    rows.drain(1..4);
    write_xlsx(&more, &[SheetSpec::new("Sheet1", rows)]);
    let r = env.upload(&more);
    ok(&r, 0);
    assert_eq!(env.states(), ["confirmed", "confirmed"]);
    // One upload, then one answered 401, then the same batch after the new login.
    assert_eq!(env.platform.shared.requests.load(Ordering::SeqCst), 3);
    env.assert_each_row_once(6);
}

#[test]
fn basic_and_bearer_auth() {
    let env = Env::new(true, 10, 1000);
    let path = env.path().join("config/targets/stand.toml");
    let form = std::fs::read_to_string(&path).unwrap();
    let auth = |kind: &str| {
        let start = form.find("[auth]").unwrap();
        let end = form.find("[upload]").unwrap();
        format!(
            "{}[auth]\nkind = \"{kind}\"\n\n{}",
            &form[..start],
            &form[end..]
        )
    };
    std::fs::write(&path, auth("basic")).unwrap();
    let input = env.input(4);
    ok(&env.upload(&input), 0);
    env.assert_each_row_once(4);

    // Bearer: a wrong token is a refused login (nothing stored), the right one works.
    std::fs::write(&path, auth("bearer")).unwrap();
    let more = env.path().join("more.xlsx");
    let mut rows = simple_rows(6);
    rows.drain(1..5);
    write_xlsx(&more, &[SheetSpec::new("Sheet1", rows)]);
    let mut c = env.command(&["upload", more.to_str().unwrap(), "--target", "stand"]);
    let out = c.env("SHEETBRIDGE_TOKEN", "wrong").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!String::from_utf8_lossy(&out.stderr).contains("wrong"));
    env.assert_each_row_once(4);
    let mut c = env.command(&["outbox", "send"]);
    let out = c.env("SHEETBRIDGE_TOKEN", "demo-token").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.assert_each_row_once(6);
}

/// A test CA and a certificate it signed for 127.0.0.1: (CA PEM, server cert PEM, key PEM).
fn test_pki() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "SheetBridge test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap();
    let cert = server.signed_by(&key, &issuer).unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

#[test]
fn https_certificate_is_verified_and_ca_cert_is_trusted() {
    let home = tmp();
    let (ca, cert, key) = test_pki();
    let mut config = Config::new(&home.path().join("platform.sqlite"));
    config.tls = Some((cert, key));
    let platform = Platform::start(config).unwrap();
    assert!(platform.base_url().starts_with("https://"));
    let env = Env { home, platform };
    let targets = env.path().join("config/targets");
    std::fs::create_dir_all(&targets).unwrap();
    let text = env
        .platform
        .target_toml(true, 10, 1000)
        .replace("allow_http = true\n", "");
    std::fs::write(targets.join("stand.toml"), &text).unwrap();
    let input = env.input(5);
    // Not trusted: nothing is sent, the batch stays queued, the message says what to do.
    let r = env.upload(&input);
    ok(&r, 4);
    assert!(r.stderr.contains("ca_cert"), "{}", r.stderr);
    assert!(env.platform.rows().is_empty());
    // With the province's CA next to the target file.
    std::fs::write(targets.join("ca.pem"), ca).unwrap();
    std::fs::write(
        targets.join("stand.toml"),
        text.replace("[auth]", "ca_cert = \"ca.pem\"\n\n[auth]"),
    )
    .unwrap();
    ok(&env.run(&["outbox", "send", "--max-wait", "30"]), 0);
    assert_eq!(env.states(), ["confirmed"]);
    env.assert_each_row_once(5);
}

#[test]
fn bad_target_names_file_line_and_key() {
    let env = Env::new(true, 10, 1000);
    let path = env.path().join("config/targets/bad.toml");
    std::fs::write(
        &path,
        "name = \"x\"\nbase_url = \"http://10.0.0.1\"\n[upload]\npath = \"/u\"\n",
    )
    .unwrap();
    let input = env.input(2);
    let r = env.run(&["upload", input.to_str().unwrap(), "--target", "bad"]);
    ok(&r, 2);
    assert!(r.stderr.contains("bad.toml"), "{}", r.stderr);
    assert!(r.stderr.contains("第 2 行（键 base_url）"), "{}", r.stderr);
    let r = env.run(&[
        "--lang",
        "en",
        "upload",
        input.to_str().unwrap(),
        "--target",
        "missing",
    ]);
    ok(&r, 2);
    assert!(
        r.stderr.contains("no upload target named missing"),
        "{}",
        r.stderr
    );
    assert!(env.platform.rows().is_empty());
}

/// A child `outbox send` is killed at random moments, at least 20 times while batches were
/// still being sent, and restarted; in the end each row is on the platform exactly once.
#[test]
fn killed_sender_loses_nothing_and_sends_nothing_twice() {
    const ROWS: u32 = 3000;
    let env = Env::new(true, 10, 50);
    let sw = env.platform.switches();
    // Queue everything without sending: the login is refused at first.
    sw.refuse_login.store(true, Ordering::SeqCst);
    let input = env.input(ROWS);
    ok(&env.upload(&input), 2);
    assert_eq!(env.list().len(), 60);
    sw.refuse_login.store(false, Ordering::SeqCst);
    // Each request takes a while, before and after the platform stores the rows, so kills land
    // before a request, while the platform has not stored yet, and after it stored but before
    // the answer arrived.
    sw.delay_ms.store(50, Ordering::SeqCst);
    sw.answer_delay_ms.store(100, Ordering::SeqCst);

    let started = Instant::now();
    let mut kills_while_busy = 0;
    let mut runs = 0;
    while kills_while_busy < 20 && runs < 200 && started.elapsed() < Duration::from_secs(240) {
        runs += 1;
        let mut child = env
            .command(&["outbox", "send", "--max-wait", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Kill once it is sending, whatever the machine's load makes its start-up take: after
        // its first request reached the platform, at a random moment of the next ones.
        let requests = &env.platform.shared.requests;
        let before = requests.load(Ordering::SeqCst);
        let waiting = Instant::now();
        while requests.load(Ordering::SeqCst) == before
            && child.try_wait().unwrap().is_none()
            && waiting.elapsed() < Duration::from_secs(20)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..300)));
        let finished = child.try_wait().unwrap().is_some();
        if !finished {
            child.kill().unwrap(); // SIGKILL
            kills_while_busy += 1;
        }
        child.wait().unwrap();
        if finished {
            break;
        }
    }
    assert!(
        kills_while_busy >= 20,
        "only {kills_while_busy} kills in {runs} runs"
    );
    sw.delay_ms.store(0, Ordering::SeqCst);
    sw.answer_delay_ms.store(0, Ordering::SeqCst);
    let before_final = env.list();
    ok(&env.run(&["outbox", "send", "--max-wait", "120"]), 0);
    let replays = env.platform.shared.replays.load(Ordering::SeqCst);
    eprintln!(
        "crash test: {runs} runs, {kills_while_busy} kills while sending, {} of 60 batches \
         confirmed before the final run, {} upload requests in all, {replays} answered from \
         the idempotency key",
        before_final.iter().filter(|b| b.1 == "confirmed").count(),
        env.platform.shared.requests.load(Ordering::SeqCst)
    );
    let list = env.list();
    assert!(
        list.iter().any(|b| b.2 > 1),
        "no kill landed while a batch was being sent"
    );
    let states = env.states();
    assert_eq!(states.len(), 60);
    assert!(states.iter().all(|s| s == "confirmed"), "{states:?}");
    env.assert_each_row_once(ROWS as usize);
    // Some kills came after the platform stored a batch: resent with the same key, not stored
    // again.
    assert!(replays >= 1, "no kill landed between storing and answering");
    // Some batches were resent after a kill, and the platform replayed its answer.
    assert!(env.platform.shared.requests.load(Ordering::SeqCst) >= 60);
    // No orphan or temporary file is left.
    assert_eq!(
        crate::support::files_in(&env.path().join("data/outbox")).len(),
        60
    );
}

/// A database and batch files written by main before the schema had a version
/// (tests/fixtures/outbox-main-v0) are migrated in place: the queue and the ledger are intact,
/// the queued batches are sent, and nothing is sent twice.
#[test]
fn a_database_of_the_previous_version_is_migrated() {
    let env = Env::new(true, 10, 20);
    let fixture = crate::support::repo().join("tests/fixtures/outbox-main-v0");
    let data = env.path().join("data");
    std::fs::create_dir_all(data.join("outbox")).unwrap();
    std::fs::copy(fixture.join("outbox.sqlite"), data.join("outbox.sqlite")).unwrap();
    for f in std::fs::read_dir(fixture.join("outbox")).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), data.join("outbox").join(f.file_name())).unwrap();
    }
    let list = env.list();
    let states: Vec<(&str, u32)> = list.iter().map(|b| (b.1.as_str(), b.2)).collect();
    assert_eq!(
        states,
        [
            ("confirmed", 1),
            ("confirmed", 1),
            ("queued", 1),
            ("queued", 1)
        ]
    );
    let conn = rusqlite::Connection::open(data.join("outbox.sqlite")).unwrap();
    let version: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 3);
    let ledger: i64 = conn
        .query_row("SELECT count(*) FROM ledger", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ledger, 30);
    drop(conn);
    // The second file's batches, queued by main, are found (not queued again) and sent.
    let second = env.path().join("second.xlsx");
    let mut rows = simple_rows(0);
    rows.extend(simple_rows(60).into_iter().skip(31));
    write_xlsx(&second, &[SheetSpec::new("Sheet1", rows)]);
    let r = env.upload(&second);
    ok(&r, 0);
    assert!(r.stderr.contains("之前已放入队列"), "{}", r.stderr);
    assert_eq!(env.list().len(), 4);
    assert!(env.states().iter().all(|s| s == "confirmed"));
    env.assert_each_row_once(30);
    // The ledger's rows count for the target their batches went to: the first file was
    // uploaded before (by main), the second just now.
    let first = env.input(30);
    let r = env.upload(&first);
    ok(&r, 0);
    assert!(r.stderr.contains("30 行已经上报过"), "{}", r.stderr);
    let r = env.upload(&second);
    ok(&r, 0);
    assert!(r.stderr.contains("30 行已经上报过"), "{}", r.stderr);
    assert_eq!(env.list().len(), 4);
    env.assert_each_row_once(30);
}

/// An empty database (a clean-up emptied it) over batch files: the files are moved aside, not
/// deleted, and the clerk is told how to queue them again.
#[test]
fn batch_files_without_their_database_are_kept_aside() {
    let env = Env::new(true, 10, 1000);
    env.platform
        .switches()
        .refuse_login
        .store(true, Ordering::SeqCst);
    let input = env.input(5);
    ok(&env.upload(&input), 2);
    let data = env.path().join("data");
    for f in ["outbox.sqlite-wal", "outbox.sqlite-shm"] {
        let _ = std::fs::remove_file(data.join(f));
    }
    std::fs::write(data.join("outbox.sqlite"), b"").unwrap();
    let r = env.run(&["outbox", "list"]);
    ok(&r, 0);
    assert!(r.stderr.contains("recovered-"), "{}", r.stderr);
    assert!(r.stderr.contains("sheetbridge upload"), "{}", r.stderr);
    let moved: Vec<PathBuf> = std::fs::read_dir(data.join("outbox"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    assert_eq!(moved.len(), 1);
    let files = crate::support::files_in(&moved[0]);
    assert_eq!(files.len(), 1, "{files:?}");
    // What the message says works: the batch file is an upload sheet.
    env.platform
        .switches()
        .refuse_login
        .store(false, Ordering::SeqCst);
    ok(&env.upload(&moved[0].join(&files[0])), 0);
    env.assert_each_row_once(5);
}

#[cfg(unix)]
#[test]
fn the_data_folder_and_its_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(true, 10, 1000);
    env.platform
        .switches()
        .refuse_login
        .store(true, Ordering::SeqCst);
    ok(&env.upload(&env.input(3)), 2);
    let data = env.path().join("data");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("outbox")), 0o700);
    for f in std::fs::read_dir(&data)
        .unwrap()
        .chain(std::fs::read_dir(data.join("outbox")).unwrap())
    {
        let p = f.unwrap().path();
        if p.is_file() {
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
    }
}

/// Three programs at once on one data folder (target.md, "Safety rules"): an `upload` of
/// 20,000 rows, a loop of `outbox list`, and a second `outbox send` killed (SIGKILL) and
/// restarted at random moments, the `upload` itself killed once and run again. Returns the
/// environment after a final `outbox send`, with how many kills landed.
fn three_programs(idempotent: bool) -> (Env, usize, i32) {
    const ROWS: u32 = 20_000;
    // 100 batches, each request slow enough that the kills below find work left to interrupt.
    let env = Env::new(idempotent, 10, 200);
    let sw = env.platform.switches();
    // Requests take a while before and after the platform stores the rows, so kills land
    // before a request, while it is stored and before the answer.
    sw.delay_ms.store(60, Ordering::SeqCst);
    sw.answer_delay_ms.store(120, Ordering::SeqCst);
    let input = env.input(ROWS);
    let upload = |env: &Env| {
        env.command(&[
            "upload",
            input.to_str().unwrap(),
            "--target",
            "stand",
            "--max-wait",
            "120",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let lister = {
        let stop = std::sync::Arc::clone(&stop);
        let mut cmd = env.command(&["outbox", "list"]);
        std::thread::spawn(move || {
            let mut problems = Vec::new();
            let mut runs = 0;
            while !stop.load(Ordering::SeqCst) {
                let out = cmd.output().unwrap();
                runs += 1;
                let err = String::from_utf8_lossy(&out.stderr).into_owned();
                if out.status.code() != Some(0) || err.contains("错误：") {
                    problems.push(format!("{:?}: {err}", out.status.code()));
                }
            }
            (runs, problems)
        })
    };
    let mut uploader = upload(&env);
    let mut kills = 0;
    let mut upload_killed = false;
    let started = Instant::now();
    // Only kills that land while the sender is sending are counted: it is killed after a new
    // request reached the platform, at a random moment of the next ones, however long the
    // machine's load makes its start-up take. The time is a guard against a hang, not a budget.
    while kills < 12 && started.elapsed() < Duration::from_secs(900) {
        let requests = &env.platform.shared.requests;
        let before = requests.load(Ordering::SeqCst);
        let mut sender = env
            .command(&["outbox", "send", "--max-wait", "60"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let waiting = Instant::now();
        while requests.load(Ordering::SeqCst) == before
            && sender.try_wait().unwrap().is_none()
            && waiting.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(fastrand::u64(0..300)));
        if sender.try_wait().unwrap().is_none() {
            sender.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        sender.wait().unwrap();
        if !upload_killed && kills == 5 && uploader.try_wait().unwrap().is_none() {
            uploader.kill().unwrap();
            uploader.wait().unwrap();
            upload_killed = true;
            kills += 1;
            // The clerk runs it again.
            uploader = upload(&env);
        }
    }
    assert!(kills >= 10, "only {kills} kills while sending");
    let out = uploader.wait_with_output().unwrap();
    let upload_err = String::from_utf8_lossy(&out.stderr).into_owned();
    let upload_code = out.status.code().unwrap_or(-1);
    assert!(
        [0, 4, 5].contains(&upload_code) && !upload_err.contains("错误："),
        "upload: {upload_code}\n{upload_err}"
    );
    stop.store(true, Ordering::SeqCst);
    let (runs, problems) = lister.join().unwrap();
    assert!(runs > 0);
    assert!(problems.is_empty(), "outbox list: {problems:?}");
    sw.delay_ms.store(0, Ordering::SeqCst);
    sw.answer_delay_ms.store(0, Ordering::SeqCst);
    let last = env.run(&["outbox", "send", "--max-wait", "120"]);
    assert!(!last.stderr.contains("错误："), "{}", last.stderr);
    eprintln!(
        "three programs (idempotent: {idempotent}): {kills} kills, {runs} outbox lists, upload exit {upload_code}, {} requests",
        env.platform.shared.requests.load(Ordering::SeqCst)
    );
    (env, kills, last.code)
}

#[test]
fn three_programs_with_kills_send_each_row_once_with_an_idempotency_key() {
    let (env, _, code) = three_programs(true);
    assert_eq!(code, 0);
    let states = env.states();
    assert_eq!(states.len(), 100);
    assert!(states.iter().all(|s| s == "confirmed"), "{states:?}");
    env.assert_each_row_once(20_000);
}

#[test]
fn three_programs_with_kills_never_send_a_row_twice_without_one() {
    let (env, _, code) = three_programs(false);
    let r = env.run(&["outbox", "list"]);
    let mut confirmed_rows = 0;
    let mut waiting = 0;
    for line in r.stdout.lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[3] {
            "confirmed" => confirmed_rows += f[2].parse::<usize>().unwrap(),
            "waiting" => {
                waiting += 1;
                // Only a batch whose sender was killed after it began sending.
                assert!(f[5].contains("程序在发送时中断"), "{line}");
            }
            other => panic!("batch {} is {other}", f[0]),
        }
    }
    assert_eq!(code, if waiting > 0 { 5 } else { 0 });
    let rows = env.platform.rows();
    let twice: Vec<_> = rows.iter().filter(|r| r.2 != 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    assert!(rows.len() >= confirmed_rows);
    eprintln!("without idempotency: {waiting} batches waiting for a person");
}

/// `convert` and `check` mark rows already confirmed on the target they are given (or the
/// window's), not on any target; and they apply the clerk's saved exclusions, as `upload` does.
#[test]
fn convert_and_check_look_in_the_ledger_of_their_target_and_apply_saved_decisions() {
    let env = Env::new(true, 10, 1000);
    let input = env.input(12);
    ok(&env.upload(&input), 0);
    // Another platform: the same file pointed at another address.
    let other = env
        .platform
        .target_toml(true, 10, 1000)
        .replace("127.0.0.1", "localhost");
    std::fs::write(env.path().join("config/targets/other.toml"), other).unwrap();
    let report = env.path().join("report.json");
    let marked = |args: &[&str]| {
        let mut all = vec![
            "check",
            input.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        let r = env.run(&all);
        let text = std::fs::read_to_string(&report).unwrap();
        (r.code, text.matches("\"already_uploaded\"").count())
    };
    assert_eq!(marked(&["--target", "stand"]), (2, 12));
    assert_eq!(marked(&["--target", "other"]), (0, 0));
    // Without --target: the window's target, then every target.
    assert_eq!(marked(&[]), (2, 12));
    std::fs::write(
        env.path().join("config/settings.toml"),
        "target = \"other\"\n",
    )
    .unwrap();
    assert_eq!(marked(&[]), (0, 0));
    let r = env.run(&["check", input.to_str().unwrap(), "--target", "nowhere"]);
    ok(&r, 2);
    assert_eq!(
        r.stderr.matches("错误").count(),
        1,
        "said once: {}",
        r.stderr
    );

    // The clerk left line 3 out in the window: convert leaves it out too, and says so.
    let hash = sheetbridge::edits::file_hash(&input).unwrap();
    let store = sheetbridge::edits::EditStore::new(&env.path().join("data"));
    let mut saved = store.load(&hash).unwrap();
    saved.set_excluded(3, true);
    store.save(&hash, &saved).unwrap();
    let sheet = env.path().join("sheet.xlsx");
    let r = env.run(&[
        "convert",
        input.to_str().unwrap(),
        "-o",
        sheet.to_str().unwrap(),
    ]);
    ok(&r, 3);
    assert!(r.stderr.contains("1 行不上报"), "{}", r.stderr);
    assert!(r.stderr.contains("（11 行）"), "{}", r.stderr);
}
