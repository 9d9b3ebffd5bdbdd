//! Unattended reporting end to end (unattended.md): the stand-in city system
//! (tests/support/city.rs) and the stand-in platform (tests/support/platform.rs) run on
//! 127.0.0.1; `fetch` downloads exports into a watched folder, `watch --once` sends them and
//! sorts the files into 已处理/ and 需要处理/. Also with the watcher killed at random moments,
//! `schedule` with stand-in scheduler programs, `login`, and claims.

use crate::support::city::City;
use crate::support::platform::{Config, Platform};
use crate::support::{Run, files_in, read_back, sample, tmp};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const DAY: &str = "2022-01-10";

struct Env {
    home: tempfile::TempDir,
    platform: Platform,
    city: City,
}

impl Env {
    /// Both stand-ins; `targets/stand.toml` (with an idempotency key, `max_rows` a batch) and
    /// `sources/{clean,bad,broken}.toml`.
    fn new(max_rows: usize) -> Env {
        let home = tmp();
        let platform = Platform::start(Config::new(&home.path().join("platform.sqlite"))).unwrap();
        let city = City::start(0, "lab", "lab").unwrap();
        let targets = home.path().join("config/targets");
        let sources = home.path().join("config/sources");
        std::fs::create_dir_all(&targets).unwrap();
        std::fs::create_dir_all(&sources).unwrap();
        std::fs::create_dir_all(home.path().join("待上报")).unwrap();
        std::fs::write(
            targets.join("stand.toml"),
            platform.target_toml(true, 10, max_rows),
        )
        .unwrap();
        for (stem, kind, name) in [
            ("clean", "clean", "全部正确_{date}.xlsx"),
            ("bad", "sample", "核酸结果_{date}.xlsx"),
            ("broken", "broken", "导出失败_{date}.xlsx"),
        ] {
            std::fs::write(
                sources.join(format!("{stem}.toml")),
                city.source_toml(kind, name),
            )
            .unwrap();
        }
        Env {
            home,
            platform,
            city,
        }
    }

    fn path(&self) -> &Path {
        self.home.path()
    }

    fn folder(&self) -> PathBuf {
        self.path().join("待上报")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
        c.args(args)
            .env("SHEETBRIDGE_CONFIG_DIR", self.path().join("config"))
            .env("SHEETBRIDGE_DATA_DIR", self.path().join("data"))
            .env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
            .env("SHEETBRIDGE_USER", "demo")
            .env("SHEETBRIDGE_PASSWORD", "demo")
            .env("SHEETBRIDGE_SOURCE_USER", "lab")
            .env("SHEETBRIDGE_SOURCE_PASSWORD", "lab")
            .env_remove("SHEETBRIDGE_TOKEN")
            .env_remove("SHEETBRIDGE_LANG")
            .env_remove("SHEETBRIDGE_LAB");
        c
    }

    fn output(mut c: Command) -> Run {
        let out = c.stdin(Stdio::null()).output().unwrap();
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        Env::output(self.command(args))
    }

    fn fetch(&self, source: &str) -> Run {
        let folder = self.folder();
        self.run(&[
            "fetch",
            "--source",
            source,
            "--date",
            DAY,
            "-o",
            folder.to_str().unwrap(),
        ])
    }

    fn watch_args(&self) -> Vec<String> {
        [
            "watch",
            self.folder().to_str().unwrap(),
            "--target",
            "stand",
            "--once",
            "--settle",
            "0",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    fn watch(&self) -> Run {
        let args = self.watch_args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }

    /// Every row on the platform once; returns how many rows.
    fn assert_each_row_once(&self) -> usize {
        let rows = self.platform.rows();
        let twice: Vec<_> = rows.iter().filter(|r| r.2 != 1).collect();
        assert!(twice.is_empty(), "rows stored more than once: {twice:?}");
        rows.len()
    }

    /// Visible files (no temporary `.sheetbridge-*.part` left by a kill) directly in `dir`.
    fn visible(dir: &Path) -> Vec<String> {
        if !dir.is_dir() {
            return Vec::new();
        }
        files_in(dir)
            .into_iter()
            .filter(|n| !n.starts_with('.') && dir.join(n).is_file())
            .collect()
    }

    fn done_dir(&self) -> PathBuf {
        self.folder()
            .join("已处理")
            .join(chrono::Local::now().format("%Y-%m-%d").to_string())
    }

    fn fix_dir(&self) -> PathBuf {
        self.folder().join("需要处理")
    }
}

fn ok(r: &Run, code: i32) {
    assert_eq!(
        r.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

/// Ready rows of the sample's first `n` rows (0: all): not rejected, not the repeat.
fn sample_ready(n: usize) -> usize {
    let (rows, expect) = sample::rows();
    let n = if n == 0 { rows.len() } else { n };
    let last_line = n as u32 + 3;
    let mut rejected: Vec<u32> = expect
        .errors
        .iter()
        .map(|e| e.0)
        .filter(|l| *l <= last_line)
        .collect();
    rejected.dedup();
    // The repeat is the sample's last row.
    let repeat = usize::from(n == rows.len()) * expect.duplicate;
    n - rejected.len() - repeat
}

/// No 18-digit ID or 11-digit phone number in full.
fn assert_masked(text: &str) {
    let digits = digit_runs(text);
    assert!(
        digits.iter().all(|d| d.len() < 11),
        "a full number in the output: {text}"
    );
}

fn digit_runs(text: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut cur = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() || (c == 'X' && !cur.is_empty()) {
            cur.push(c);
        } else if !cur.is_empty() {
            runs.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        runs.push(cur);
    }
    runs
}

/// The unreadable export: `fetch` refuses to save it (guarantees.md §5: what is saved from a
/// source is an export), so it lands in the folder as a colleague would copy it there.
fn put_broken_export(env: &Env) {
    let r = env.fetch("broken");
    ok(&r, 2);
    assert!(
        Env::visible(&env.folder())
            .iter()
            .all(|n| !n.starts_with("导出失败_"))
    );
    std::fs::write(
        env.folder().join(format!("导出失败_{DAY}.xlsx")),
        b"PK\x03\x04 this is not a workbook",
    )
    .unwrap();
}

/// The three exports of the "Done when": clean, with bad rows, unreadable.
#[test]
fn fetched_exports_end_on_the_platform_once_and_in_the_right_folders() {
    let env = Env::new(5000);
    for source in ["clean", "bad"] {
        let r = env.fetch(source);
        ok(&r, 0);
        assert!(r.stdout.contains("已从"), "{}", r.stdout);
    }
    put_broken_export(&env);
    assert_eq!(Env::visible(&env.folder()).len(), 3);

    let r = env.watch();
    // A file went to 需要处理/: 3.
    ok(&r, 3);
    assert_eq!(
        r.stdout.lines().count(),
        3,
        "one line per file:\n{}",
        r.stdout
    );
    assert_masked(&r.stdout);
    assert!(r.stdout.contains("需要处理/"), "{}", r.stdout);
    let expected = 12 + sample_ready(0);
    assert_eq!(env.assert_each_row_once(), expected);
    assert!(Env::visible(&env.folder()).is_empty());
    let done = Env::visible(&env.done_dir());
    assert_eq!(done, [format!("全部正确_{DAY}_{}.xlsx", hhmm(&done[0]))]);
    let fix = Env::visible(&env.fix_dir());
    assert_eq!(fix.len(), 4, "{fix:?}");
    let bad = fix
        .iter()
        .find(|n| n.starts_with("核酸结果_") && !n.contains("错误行"))
        .unwrap();
    let errors = env
        .fix_dir()
        .join(format!("{}_错误行.xlsx", bad.trim_end_matches(".xlsx")));
    let (_, expect) = sample::rows();
    let sheet = &read_back(&errors)[0].1;
    assert_eq!(
        sheet.len() - 1,
        expect.rejected,
        "the rejected rows and a header"
    );
    let broken = fix
        .iter()
        .find(|n| n.starts_with("导出失败_") && n.ends_with(".xlsx"))
        .unwrap();
    let note = env
        .fix_dir()
        .join(format!("{}_说明.txt", broken.trim_end_matches(".xlsx")));
    let note = std::fs::read_to_string(note).unwrap();
    assert!(
        note.contains("没有上报") && note.contains("请这样处理"),
        "{note}"
    );

    // Nothing new: every batch confirmed, no file handled: 0. Nothing sent again.
    let r = env.watch();
    ok(&r, 0);
    assert_eq!(env.assert_each_row_once(), expected);

    // The program's own output, renamed and put back, is known by its content.
    std::fs::copy(&errors, env.folder().join("看看这个.xlsx")).unwrap();
    let r = env.watch();
    ok(&r, 0);
    assert!(env.folder().join("看看这个.xlsx").exists());
    assert!(r.stdout.is_empty(), "{}", r.stdout);

    // The same content under another name is not handled again, and nothing moves
    // (guarantees.md section 4).
    let done_file = env.done_dir().join(&done[0]);
    std::fs::copy(&done_file, env.folder().join("again.xlsx")).unwrap();
    let r = env.watch();
    ok(&r, 0);
    assert!(r.stdout.contains("之前已处理过"), "{}", r.stdout);
    assert!(env.folder().join("again.xlsx").exists());
    assert!(!env.done_dir().join("again.xlsx").exists());
    assert_eq!(env.assert_each_row_once(), expected);
}

/// HHMM of a saved name `..._HHMM.xlsx`.
fn hhmm(name: &str) -> String {
    name.trim_end_matches(".xlsx")
        .rsplit('_')
        .next()
        .unwrap()
        .to_owned()
}

/// The watcher killed at random moments (at least 10 times while it was working), then run
/// again: each ready row on the platform exactly once, every file where it belongs.
#[test]
fn killed_watcher_loses_no_file_and_sends_no_row_twice() {
    let env = Env::new(40);
    let sw = env.platform.switches();
    env.city.switches().clean_rows.store(400, Ordering::SeqCst);
    for source in ["clean", "bad"] {
        ok(&env.fetch(source), 0);
    }
    put_broken_export(&env);
    // Each upload takes a while, before and after the platform stores it.
    sw.delay_ms.store(40, Ordering::SeqCst);
    sw.answer_delay_ms.store(40, Ordering::SeqCst);
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let args = env.watch_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    // Counted, not timed: the runs go on until 10 kills landed while the watcher worked (a
    // run that ends before it is killed counts for nothing), whatever the machine's load; the
    // bound on runs only stops a watcher that never works.
    let (mut kills, mut runs, mut clean_rows) = (0, 0, 400);
    while kills < 10 && runs < 200 {
        runs += 1;
        if Env::visible(&env.folder()).is_empty() {
            // Everything handled: a new, longer version of the clean export.
            clean_rows += 40;
            env.city
                .switches()
                .clean_rows
                .store(clean_rows, Ordering::SeqCst);
            ok(&env.fetch("clean"), 0);
        }
        let mut child = env
            .command(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Killed only once it is working, whatever the machine's load makes its start-up
        // take: after it moved a file or its first request reached the platform, at a random
        // moment of what follows. Only such kills are counted.
        let requests = &env.platform.shared.requests;
        let before = (requests.load(Ordering::SeqCst), Env::visible(&env.folder()));
        let waiting = Instant::now();
        while (requests.load(Ordering::SeqCst), Env::visible(&env.folder())) == before
            && child.try_wait().unwrap().is_none()
            && waiting.elapsed() < Duration::from_secs(30)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::thread::sleep(Duration::from_millis(rng.u64(0..400)));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            kills += 1;
        }
        child.wait().unwrap();
    }
    assert!(
        kills >= 10,
        "only {kills} kills while working in {runs} runs (seed {seed})"
    );
    sw.delay_ms.store(0, Ordering::SeqCst);
    sw.answer_delay_ms.store(0, Ordering::SeqCst);
    // The restart finishes the work.
    let r = env.watch();
    assert!(
        r.code == 0 || r.code == 3,
        "seed {seed}: {}\n{}",
        r.stdout,
        r.stderr
    );
    ok(&env.watch(), 0);
    eprintln!(
        "kill test (seed {seed}): {runs} runs, {kills} kills, {} upload requests, {} replays",
        env.platform.shared.requests.load(Ordering::SeqCst),
        env.platform.shared.replays.load(Ordering::SeqCst)
    );
    assert_eq!(env.assert_each_row_once(), clean_rows + sample_ready(0));
    assert!(Env::visible(&env.folder()).is_empty());
    // Each clean version in 已处理/, the bad and the broken export with their side files in
    // 需要处理/: nothing lost, nothing doubled.
    let done = Env::visible(&env.done_dir());
    assert_eq!(done.len(), 1 + (clean_rows - 400) / 40, "{done:?}");
    assert!(done.iter().all(|n| n.starts_with("全部正确_")), "{done:?}");
    let fix = Env::visible(&env.fix_dir());
    assert_eq!(fix.len(), 4, "{fix:?}");
    assert!(fix.iter().any(|n| n.ends_with("_错误行.xlsx")), "{fix:?}");
    assert!(fix.iter().any(|n| n.ends_with("_说明.txt")), "{fix:?}");
}

/// `fetch` three times against an export that grows between the first and second run: two
/// versions saved, each row sent once, one file of the day in 需要处理/.
#[test]
fn growing_export_fetched_three_times() {
    let env = Env::new(5000);
    let sw = env.city.switches();
    sw.rows.store(20, Ordering::SeqCst);
    let first = env.fetch("bad");
    ok(&first, 0);
    ok(&env.watch(), 3);
    assert_eq!(env.assert_each_row_once(), sample_ready(20));

    sw.rows.store(30, Ordering::SeqCst);
    ok(&env.fetch("bad"), 0);
    let r = env.watch();
    ok(&r, 3);
    assert!(r.stdout.contains("替换了旧版本"), "{}", r.stdout);
    assert_eq!(env.assert_each_row_once(), sample_ready(30));

    let third = env.fetch("bad");
    ok(&third, 0);
    assert!(third.stdout.contains("没有新内容"), "{}", third.stdout);
    assert!(Env::visible(&env.folder()).is_empty());
    ok(&env.watch(), 0);
    assert_eq!(env.assert_each_row_once(), sample_ready(30));

    // Two versions saved: the older in 已处理/, the newer (with its errors) in 需要处理/.
    let done = Env::visible(&env.done_dir());
    let fix = Env::visible(&env.fix_dir());
    let old: Vec<_> = done.iter().filter(|n| n.starts_with("核酸结果_")).collect();
    assert_eq!(old.len(), 2, "the old version and its errors: {done:?}");
    let of_the_day: Vec<_> = fix.iter().filter(|n| !n.contains("错误行")).collect();
    assert_eq!(of_the_day.len(), 1, "{fix:?}");
    assert_eq!(fix.len(), 2, "{fix:?}");
    assert_eq!(env.city.switches().exports.load(Ordering::SeqCst), 3);
}

/// A page instead of a spreadsheet is refused with its title; a wrong password is a refused
/// login; nothing is saved.
#[test]
fn fetch_refuses_pages_and_wrong_logins() {
    let env = Env::new(5000);
    let sources = env.path().join("config/sources");
    // No login configured: the city system answers its login page.
    let text = env
        .city
        .source_toml("clean", "a_{date}.xlsx")
        .replace("kind = \"form\"", "kind = \"none\"");
    std::fs::write(sources.join("nologin.toml"), text).unwrap();
    let r = env.fetch("nologin");
    ok(&r, 2);
    assert!(r.stderr.contains("登录 - 市核酸检测系统"), "{}", r.stderr);
    let mut c = env.command(&[
        "fetch",
        "--source",
        "clean",
        "-o",
        env.folder().to_str().unwrap(),
    ]);
    c.env("SHEETBRIDGE_SOURCE_PASSWORD", "wrong");
    let r = Env::output(c);
    ok(&r, 2);
    assert!(r.stderr.contains("拒绝登录"), "{}", r.stderr);
    assert!(!r.stderr.contains("wrong"), "{}", r.stderr);
    assert!(Env::visible(&env.folder()).is_empty());
    let r = env.fetch("missing");
    ok(&r, 2);
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
}

/// `login` remembers the platform's password in credentials.toml (no credential store in the
/// test), readable by the user alone; a watch without the environment variables uses it.
#[test]
fn remembered_credentials_serve_an_unattended_run() {
    let env = Env::new(5000);
    let mut c = env.command(&["login", "--target", "stand"]);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"demo\ndemo\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("credentials.toml"),
        "said plainly: {stderr}"
    );
    let file = env.path().join("config/credentials.toml");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    ok(&env.fetch("clean"), 0);
    let args = env.watch_args();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut c = env.command(&args);
    c.env_remove("SHEETBRIDGE_USER")
        .env_remove("SHEETBRIDGE_PASSWORD");
    let r = Env::output(c);
    ok(&r, 0);
    assert_eq!(env.assert_each_row_once(), 12);
    // A wrong remembered password: the login is refused, exit 2, the rows stay queued.
    std::fs::write(
        &file,
        "[target.stand]\nuser = \"demo\"\npassword = \"nope\"\n",
    )
    .unwrap();
    env.city.switches().clean_rows.store(20, Ordering::SeqCst);
    ok(&env.fetch("clean"), 0);
    let mut c = env.command(&args);
    c.env_remove("SHEETBRIDGE_USER")
        .env_remove("SHEETBRIDGE_PASSWORD");
    let r = Env::output(c);
    ok(&r, 2);
    assert!(!r.stderr.contains("nope"), "{}", r.stderr);
    assert_eq!(env.assert_each_row_once(), 12);
    ok(&env.watch(), 0);
    assert_eq!(env.assert_each_row_once(), 20);
}

/// A file claimed by a live process (the window) is left alone until the claim ends.
#[test]
fn claimed_files_wait_for_the_claim_to_end() {
    let env = Env::new(5000);
    ok(&env.fetch("clean"), 0);
    let file = env.folder().join(&Env::visible(&env.folder())[0]);
    let sha = sheetbridge::digest::file_sha256(&file).unwrap();
    let held = sheetbridge::unattended::claim::claim(&env.path().join("data"), &sha, &file)
        .unwrap()
        .unwrap();
    let r = env.watch();
    ok(&r, 0);
    assert!(r.stdout.contains("正在窗口里打开"), "{}", r.stdout);
    assert!(file.exists());
    assert!(env.platform.rows().is_empty());
    held.release();
    ok(&env.watch(), 0);
    assert!(!file.exists());
    assert_eq!(env.assert_each_row_once(), 12);
}

/// Stand-in scheduler programs on PATH that record their arguments.
struct StandIns {
    bin: PathBuf,
    log: PathBuf,
    crontab: PathBuf,
}

#[cfg(unix)]
fn stand_ins(dir: &Path, systemd: bool) -> StandIns {
    use std::os::unix::fs::PermissionsExt;
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("calls.log");
    let crontab = dir.join("crontab.txt");
    let systemctl = format!(
        "#!/bin/sh\necho \"systemctl $*\" >> '{}'\nif [ \"$2\" = show-environment ]; then exit {}; fi\nexit 0\n",
        log.display(),
        if systemd { 0 } else { 1 }
    );
    let cron = format!(
        "#!/bin/sh\necho \"crontab $*\" >> '{log}'\nif [ \"$1\" = -l ]; then\n  if [ -f '{tab}' ]; then cat '{tab}'; exit 0; fi\n  echo 'no crontab for tester' >&2; exit 1\nfi\nif [ \"$1\" = - ]; then cat > '{tab}'; exit 0; fi\nexit 1\n",
        log = log.display(),
        tab = crontab.display()
    );
    for (name, text) in [("systemctl", systemctl), ("crontab", cron)] {
        let p = bin.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    StandIns { bin, log, crontab }
}

#[cfg(unix)]
fn schedule_run(env: &Env, s: &StandIns, args: &[&str]) -> Run {
    let path = format!(
        "{}:{}",
        s.bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut c = env.command(args);
    c.env("PATH", path)
        .env("HOME", env.path())
        .env_remove("XDG_CONFIG_HOME");
    Env::output(c)
}

#[cfg(unix)]
#[test]
fn schedule_with_a_systemd_user_timer() {
    let env = Env::new(5000);
    let s = stand_ins(env.path(), true);
    let folder = env.folder();
    let f = folder.to_str().unwrap();
    let r = schedule_run(
        &env,
        &s,
        &["schedule", "install", "--folder", f, "--target", "stand"],
    );
    ok(&r, 0);
    assert!(r.stdout.contains("systemd"), "{}", r.stdout);
    let units = env.path().join(".config/systemd/user");
    let service = std::fs::read_to_string(units.join("sheetbridge-watch.service")).unwrap();
    let timer = std::fs::read_to_string(units.join("sheetbridge-watch.timer")).unwrap();
    assert!(
        service.contains("\"watch\"") && service.contains("\"--once\""),
        "{service}"
    );
    assert!(service.contains(f), "{service}");
    assert!(
        !service.contains("demo") && !timer.contains("demo"),
        "no credentials: {service}"
    );
    let calendar = timer
        .lines()
        .find_map(|l| l.strip_prefix("OnCalendar=*-*-* *:"))
        .unwrap();
    let start: u32 = calendar.split('/').next().unwrap().parse().unwrap();
    assert!(start < 15 && calendar.ends_with("/15:00"), "{timer}");
    let calls = std::fs::read_to_string(&s.log).unwrap();
    assert!(calls.contains("systemctl --user daemon-reload"), "{calls}");
    assert!(
        calls.contains("systemctl --user enable --now sheetbridge-watch.timer"),
        "{calls}"
    );

    let r = schedule_run(&env, &s, &["schedule", "status"]);
    ok(&r, 0);
    assert!(
        r.stdout.contains("已安装") && r.stdout.contains("下次运行"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("还没有运行过"), "{}", r.stdout);
    // What the timer would run, run by hand: status then shows it.
    ok(&env.fetch("clean"), 0);
    ok(&env.watch(), 0);
    let r = schedule_run(&env, &s, &["schedule", "status"]);
    assert!(
        r.stdout.contains("退出码 0（处理 1 个文件）"),
        "{}",
        r.stdout
    );

    let r = schedule_run(&env, &s, &["schedule", "remove"]);
    ok(&r, 0);
    assert!(!units.join("sheetbridge-watch.timer").exists());
    let calls = std::fs::read_to_string(&s.log).unwrap();
    assert!(
        calls.contains("systemctl --user disable --now sheetbridge-watch.timer"),
        "{calls}"
    );
    let r = schedule_run(&env, &s, &["schedule", "status"]);
    assert!(r.stdout.contains("没有安装"), "{}", r.stdout);
}

#[cfg(unix)]
#[test]
fn schedule_with_cron_where_there_is_no_systemd_session() {
    let env = Env::new(5000);
    let s = stand_ins(env.path(), false);
    std::fs::write(&s.crontab, "0 3 * * * /usr/bin/backup\n").unwrap();
    let folder = env.folder();
    let f = folder.to_str().unwrap();
    let args = [
        "schedule", "install", "--folder", f, "--target", "stand", "--every", "30", "--source",
        "bad",
    ];
    let r = schedule_run(&env, &s, &args);
    ok(&r, 0);
    assert!(r.stdout.contains("cron"), "{}", r.stdout);
    // Installed twice: still one line of ours (the start minute chosen again).
    ok(&schedule_run(&env, &s, &args), 0);
    let tab = std::fs::read_to_string(&s.crontab).unwrap();
    let ours: Vec<&str> = tab
        .lines()
        .filter(|l| l.contains("sheetbridge-watch"))
        .collect();
    assert_eq!(ours.len(), 1, "{tab}");
    assert!(tab.contains("/usr/bin/backup"), "other lines kept: {tab}");
    let line = ours[0];
    let start: u32 = line.split('-').next().unwrap().parse().unwrap();
    assert!(start < 30 && line.contains("-59/30 * * * *"), "{line}");
    assert!(
        line.contains("'--source=bad'") && line.contains("'--once'"),
        "{line}"
    );
    assert!(
        !line.contains("demo") && !line.contains("'lab'"),
        "no credentials: {line}"
    );
    let r = schedule_run(&env, &s, &["schedule", "status"]);
    assert!(r.stdout.contains("已安装（cron）"), "{}", r.stdout);
    ok(&schedule_run(&env, &s, &["schedule", "remove"]), 0);
    let tab = std::fs::read_to_string(&s.crontab).unwrap();
    assert_eq!(tab, "0 3 * * * /usr/bin/backup\n");
    let r = schedule_run(&env, &s, &["schedule", "status"]);
    assert!(r.stdout.contains("没有安装"), "{}", r.stdout);
    let r = schedule_run(
        &env,
        &s,
        &[
            "schedule", "install", "--folder", f, "--target", "stand", "--every", "7",
        ],
    );
    ok(&r, 2);
}

/// `watch --source` (what a scheduled task with a source runs): fetch, then watch.
#[test]
fn watch_with_a_source_fetches_first() {
    let env = Env::new(5000);
    let mut args = env.watch_args();
    args.extend(["--source".to_owned(), "clean".to_owned()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let r = env.run(&args);
    ok(&r, 0);
    assert_eq!(env.assert_each_row_once(), 12);
    // Unchanged the next time: nothing saved, nothing sent.
    let r = env.run(&args);
    ok(&r, 0);
    assert!(r.stdout.contains("没有新内容"), "{}", r.stdout);
    assert_eq!(Env::visible(&env.done_dir()).len(), 1);
}
