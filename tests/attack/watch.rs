//! guarantees.md §4. A watched folder takes only whole files that are really there.
//!
//! Choke point: `sheetbridge::unattended::candidates::settled_candidates` (with
//! `Candidate::sha256`), which `Watch::pass` calls for `watch` and for the window's watcher.
//! Every test runs the real binary against the stand-in platform on 127.0.0.1 and counts the
//! rows on the platform's side: files written while they are looked at (their modification time
//! set back at every write, or kept from the original like a copy does), links of every kind and
//! a file swapped for one at a random moment, names with every control byte, the program's own
//! outputs under other names, one content under many names, and the folder taken away and
//! brought back while `watch` runs.

use crate::support::platform::{Config, Platform};
use crate::support::{HEADER, Run, V, person, tmp, write_xlsx};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// A home with the stand-in platform as target `stand` and a watched folder `待上报`.
struct Env {
    home: tempfile::TempDir,
    platform: Platform,
}

impl Env {
    fn new() -> Env {
        let home = tmp();
        let platform = Platform::start(Config::new(&home.path().join("platform.sqlite"))).unwrap();
        let targets = home.path().join("config/targets");
        std::fs::create_dir_all(&targets).unwrap();
        std::fs::create_dir_all(home.path().join("待上报")).unwrap();
        std::fs::write(
            targets.join("stand.toml"),
            platform.target_toml(true, 10, 5000),
        )
        .unwrap();
        Env { home, platform }
    }

    fn path(&self) -> &Path {
        self.home.path()
    }

    fn folder(&self) -> PathBuf {
        self.path().join("待上报")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = crate::support::sheetbridge(self.path(), args);
        c.env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
            .env("SHEETBRIDGE_USER", "demo")
            .env("SHEETBRIDGE_PASSWORD", "demo")
            .env_remove("SHEETBRIDGE_TOKEN")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Run {
        self.command(args).output().unwrap().into()
    }

    /// `watch FOLDER --target stand --once --settle SETTLE`.
    fn watch_once(&self, settle: u64) -> Run {
        let folder = self.folder();
        let settle = settle.to_string();
        self.run(&[
            "watch",
            folder.to_str().unwrap(),
            "--target",
            "stand",
            "--once",
            "--settle",
            &settle,
        ])
    }

    /// Rows stored on the platform; each stored once.
    fn rows(&self) -> usize {
        let rows = self.platform.rows();
        let twice: Vec<_> = rows.iter().filter(|r| r.2 != 1).collect();
        assert!(twice.is_empty(), "rows stored more than once: {twice:?}");
        rows.len()
    }

    /// The barcodes on the platform.
    fn barcodes(&self) -> Vec<String> {
        self.platform.rows().into_iter().map(|r| r.0).collect()
    }
}

#[track_caller]
fn ok(r: &Run, code: i32) {
    assert_eq!(
        r.code, code,
        "exit code\nstdout:\n{}\nstderr:\n{}",
        r.stdout, r.stderr
    );
}

/// People `from..from + n`, 10 to a tube, tubes named after `tag` (so that exports made by
/// different calls never share a row).
fn people(tag: &str, from: u32, n: u32) -> Vec<Vec<V>> {
    (from..from + n)
        .map(|i| person(i, &format!("{tag}{:08}", i / 10)))
        .collect()
}

fn cell(v: &V) -> String {
    match v {
        V::T(s) => s.clone(),
        V::N(n) => n.to_string(),
        V::D(d) => d.format("%Y-%m-%d %H:%M:%S").to_string(),
        V::Blank => String::new(),
    }
}

/// The header line and one line per row, as a city system's CSV export.
fn csv_lines(rows: &[Vec<V>]) -> Vec<String> {
    std::iter::once(HEADER.join(","))
        .chain(
            rows.iter()
                .map(|r| r.iter().map(cell).collect::<Vec<_>>().join(",")),
        )
        .map(|l| format!("{l}\r\n"))
        .collect()
}

fn write_csv(path: &Path, rows: &[Vec<V>]) {
    std::fs::write(path, csv_lines(rows).concat()).unwrap();
}

fn write_export(path: &Path, rows: Vec<Vec<V>>) {
    let mut all = vec![HEADER.iter().map(|h| V::T((*h).to_owned())).collect()];
    all.extend(rows);
    write_xlsx(path, &[crate::support::SheetSpec::new("Sheet1", all)]);
}

/// Visible regular files directly in `dir` (not links, not folders).
fn files(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<String> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .collect();
    v.sort();
    v
}

fn done_dir(folder: &Path) -> PathBuf {
    folder
        .join("已处理")
        .join(chrono::Local::now().format("%Y-%m-%d").to_string())
}

fn set_mtime(path: &Path, t: SystemTime) {
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(t)
        .unwrap();
}

/// A file written a few lines at a time for longer than `watch` looks at it, its modification
/// time set back after every write: far in the past (a file server whose clock lags), or to
/// the original's (a copy that keeps it). Not one row leaves while it grows; every row once
/// after it stopped.
#[test]
fn a_file_still_being_written_is_not_taken_whatever_its_modification_time() {
    let mut rng = fastrand::Rng::new();
    let original = tmp();
    let original = original.path().join("原始导出.csv");
    std::fs::write(&original, "x").unwrap();
    let days_ago = |d: u64| SystemTime::now() - Duration::from_secs(d * 86_400);
    set_mtime(&original, days_ago(rng.u64(1..400)));
    let kept = std::fs::metadata(&original).unwrap().modified().unwrap();
    let lagging = days_ago(rng.u64(1..30)) - Duration::from_secs(rng.u64(0..86_400));
    for (case, mtime) in [("lagging clock", lagging), ("copy keeps the time", kept)] {
        let env = Env::new();
        let file = env.folder().join("核酸结果.csv");
        let lines = csv_lines(&people("G", 0, 400));
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        // A line every 50 ms until the watcher has ended (at most 400 rows): it grows all the
        // while the watcher looks.
        let writer = {
            let (file, stop) = (file.clone(), stop.clone());
            std::thread::spawn(move || {
                use std::io::Write;
                let mut f = std::fs::File::create(&file).unwrap();
                let mut written = 0;
                for line in &lines {
                    f.write_all(line.as_bytes()).unwrap();
                    f.flush().unwrap();
                    f.set_modified(mtime).unwrap();
                    written += 1;
                    if written > 2 && stop.load(std::sync::atomic::Ordering::SeqCst) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                // Rows: the lines after the header.
                written - 1
            })
        };
        std::thread::sleep(Duration::from_millis(300));
        let r = env.watch_once(1);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        let growing = !writer.is_finished();
        let rows = writer.join().unwrap();
        assert!(growing, "{case}: the writer ended before the watcher did");
        ok(&r, 0);
        assert_eq!(env.rows(), 0, "{case}: rows sent while the file grew");
        assert_eq!(files(&env.folder()), ["核酸结果.csv"], "{case}");
        // Written whole: now it is taken, every row once.
        ok(&env.watch_once(1), 0);
        assert_eq!(env.rows(), rows, "{case}");
        assert_eq!(files(&done_dir(&env.folder())), ["核酸结果.csv"], "{case}");
    }
}

/// Links of every kind in the folder: to an export outside it, to a folder, dangling, a
/// shortcut file. None is read, moved or uploaded; each is named once; the real file beside
/// them goes as usual.
#[cfg(unix)]
#[test]
fn links_are_named_once_and_never_followed() {
    use std::os::unix::fs::symlink;
    let env = Env::new();
    let outside = tmp();
    let secret = outside.path().join("别处的导出.xlsx");
    write_export(&secret, people("S", 0, 20));
    let secret_csv = outside.path().join("别处的导出.csv");
    write_csv(&secret_csv, &people("S", 20, 20));
    let before = std::fs::read(&secret).unwrap();
    let folder = env.folder();
    let links = [
        ("指向别处.xlsx", secret.clone()),
        ("指向别处.csv", secret_csv.clone()),
        ("文件夹.xlsx", outside.path().to_owned()),
        ("不存在.xlsx", outside.path().join("gone.xlsx")),
        ("链到链.xlsx", folder.join("指向别处.xlsx")),
    ];
    for (name, to) in &links {
        symlink(to, folder.join(name)).unwrap();
    }
    std::fs::copy(&secret, folder.join("快捷方式.xlsx.lnk")).unwrap();
    // Mtimes far in the past: the old watcher took such files at first sight.
    set_mtime(&secret, SystemTime::now() - Duration::from_secs(86_400));
    set_mtime(&secret_csv, SystemTime::now() - Duration::from_secs(86_400));
    write_export(&folder.join("本院.xlsx"), people("R", 0, 10));
    let r = env.watch_once(0);
    ok(&r, 0);
    assert_eq!(env.rows(), 10, "{}", r.stdout);
    assert!(env.barcodes().iter().all(|b| b.starts_with('R')));
    for (name, _) in links
        .iter()
        .map(|(n, t)| (*n, t))
        .chain([("快捷方式.xlsx.lnk", &secret)])
    {
        let said = r.stdout.lines().filter(|l| l.contains(name)).count();
        assert_eq!(said, 1, "{name} named {said} times:\n{}", r.stdout);
        assert!(
            std::fs::symlink_metadata(folder.join(name)).is_ok(),
            "{name} was moved"
        );
    }
    assert_eq!(std::fs::read(&secret).unwrap(), before);
    assert_eq!(files(outside.path()).len(), 2, "the outside folder changed");
    // Again: still nothing of theirs sent.
    ok(&env.watch_once(0), 0);
    assert_eq!(env.rows(), 10);
}

/// `需要处理/` or `已处理/` (or today's folder in it) made a link to a folder elsewhere: no file
/// is moved there, nothing is handled, and the message names it (exit 2).
#[cfg(unix)]
#[test]
fn linked_subfolders_are_never_moved_into() {
    for sub in ["需要处理", "已处理", "day"] {
        let env = Env::new();
        let elsewhere = tmp();
        let folder = env.folder();
        let link = match sub {
            "day" => {
                std::fs::create_dir(folder.join("已处理")).unwrap();
                done_dir(&folder)
            }
            _ => folder.join(sub),
        };
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        let mut rows = people("L", 0, 10);
        // One row rejected (a wrong check digit): the file would go to 需要处理/.
        if let V::T(id) = &mut rows[3][2] {
            let last = if id.ends_with('0') { '1' } else { '0' };
            id.pop();
            id.push(last);
        }
        write_export(&folder.join("有错.xlsx"), rows);
        write_export(&folder.join("全对.xlsx"), people("M", 0, 10));
        let r = env.watch_once(0);
        ok(&r, 2);
        assert!(r.stderr.contains("链接"), "{sub}: {}", r.stderr);
        assert!(
            files(elsewhere.path()).is_empty(),
            "{sub}: moved through a link"
        );
        assert_eq!(files(&folder), ["全对.xlsx", "有错.xlsx"], "{sub}");
        assert_eq!(env.rows(), 0, "{sub}");
    }
}

/// A file replaced by a link to an export elsewhere at a random moment while `watch` (running,
/// looking every second) watches it settle: the export elsewhere is never uploaded, read into a
/// batch or moved.
#[cfg(unix)]
#[test]
fn a_file_swapped_for_a_link_between_the_looks_is_not_followed() {
    let env = Env::new();
    let outside = tmp();
    let secret = outside.path().join("别处.xlsx");
    write_export(&secret, people("S", 0, 10));
    // Long unchanged: the old watcher took such a file at first sight.
    set_mtime(&secret, SystemTime::now() - Duration::from_secs(7 * 86_400));
    let folder = env.folder();
    let mut child = env
        .command(&[
            "watch",
            folder.to_str().unwrap(),
            "--target",
            "stand",
            "--settle",
            "1",
            "--interval",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    for round in 0..4u32 {
        let file = folder.join(format!("第{round}个.xlsx"));
        write_export(&file, people(&format!("W{round}"), 0, 10));
        std::thread::sleep(Duration::from_millis(rng.u64(0..2500)));
        let _ = std::fs::remove_file(&file);
        std::os::unix::fs::symlink(&secret, &file).unwrap();
        std::thread::sleep(Duration::from_millis(3000));
        assert!(
            env.barcodes().iter().all(|b| !b.starts_with('S')),
            "seed {seed}, round {round}: the linked export was uploaded"
        );
        assert!(secret.is_file(), "seed {seed}: the export elsewhere moved");
        let _ = std::fs::remove_file(&file);
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

/// Files named with every control byte (and random names mixing them with Chinese): each gives
/// exactly one line on standard output, with the control characters escaped.
#[test]
fn names_with_control_bytes_give_one_line_each() {
    let env = Env::new();
    let folder = env.folder();
    let mut rng = fastrand::Rng::new();
    let mut names: Vec<String> = (1u8..0x20)
        .chain([0x7f])
        .map(|b| format!("a{}b.csv", b as char))
        .collect();
    for _ in 0..8 {
        let name: String = (0..rng.usize(1..12))
            .map(|_| match rng.u8(0..4) {
                0 => char::from(rng.u8(1..0x20)),
                1 => '\u{7f}',
                2 => rng.choice(['核', '酸', '\u{202e}', '\u{9b}']).unwrap(),
                _ => char::from(rng.u8(b'a'..=b'z')),
            })
            .collect();
        names.push(format!("{name}.csv"));
    }
    names.sort();
    names.dedup();
    for (i, name) in names.iter().enumerate() {
        write_csv(
            &folder.join(name),
            &people(&format!("C{i:02}"), 2 * i as u32, 2),
        );
    }
    let r = env.watch_once(0);
    ok(&r, 0);
    assert_eq!(env.rows(), 2 * names.len());
    let file_lines: Vec<&str> = r.stdout.lines().filter(|l| l.contains('→')).collect();
    assert_eq!(file_lines.len(), names.len(), "{:?}", r.stdout);
    for line in r.stdout.lines().chain(r.stderr.lines()) {
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "a control character in {line:?}"
        );
    }
}

/// The program's own outputs (convert's upload sheet as xlsx and csv, its errors workbook, the
/// watcher's errors workbook) put into the folder under their names or others: never taken.
#[test]
fn our_own_outputs_are_never_taken_under_any_name() {
    let env = Env::new();
    let folder = env.folder();
    let work = env.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let input = work.join("导出.xlsx");
    let mut rows = people("O", 0, 20);
    if let V::T(id) = &mut rows[5][2] {
        let last = if id.ends_with('0') { '1' } else { '0' };
        id.pop();
        id.push(last);
    }
    write_export(&input, rows);
    let input_s = input.to_str().unwrap();
    let sheet = folder.join("上报表.xlsx");
    let errors = folder.join("错误行.xlsx");
    let r = env.run(&[
        "convert",
        input_s,
        "-o",
        sheet.to_str().unwrap(),
        "--errors-out",
        errors.to_str().unwrap(),
    ]);
    ok(&r, 3);
    let csv = work.join("上报表.csv");
    ok(
        &env.run(&["convert", input_s, "-o", csv.to_str().unwrap()]),
        3,
    );
    let mut rng = fastrand::Rng::new();
    let renamed = |rng: &mut fastrand::Rng, ext: &str| {
        let n: String = (0..6).map(|_| rng.alphanumeric()).collect();
        folder.join(format!("核酸结果_{n}.{ext}"))
    };
    std::fs::copy(&sheet, renamed(&mut rng, "xlsx")).unwrap();
    std::fs::copy(&csv, renamed(&mut rng, "csv")).unwrap();
    std::fs::copy(&errors, renamed(&mut rng, "xlsx")).unwrap();
    let mine = files(&folder);
    assert_eq!(mine.len(), 5);
    let r = env.watch_once(0);
    ok(&r, 0);
    assert_eq!(env.rows(), 0, "our own outputs were uploaded: {}", r.stdout);
    assert_eq!(files(&folder), mine);
    // The watcher's own errors workbook, copied back under another name.
    std::fs::rename(&input, folder.join("导出.xlsx")).unwrap();
    ok(&env.watch_once(0), 3);
    assert_eq!(env.rows(), 19);
    let fix = folder.join("需要处理");
    std::fs::copy(fix.join("导出_错误行.xlsx"), renamed(&mut rng, "xlsx")).unwrap();
    let r = env.watch_once(0);
    ok(&r, 0);
    assert_eq!(env.rows(), 19);
    assert_eq!(files(&folder).len(), 6, "{}", r.stdout);
}

/// One export under N names and one unreadable file under M names: each content is handled
/// once; the other copies stay where they are (nothing moves, exit 0), in this run and later.
#[test]
fn the_same_content_under_many_names_is_handled_once() {
    let env = Env::new();
    let folder = env.folder();
    let mut rng = fastrand::Rng::new();
    let export = env.path().join("export.xlsx");
    write_export(&export, people("N", 0, 30));
    let junk: Vec<u8> = (0..rng.usize(100..2000)).map(|_| rng.u8(..)).collect();
    let (n, m) = (rng.usize(3..8), rng.usize(2..5));
    for i in 0..n {
        std::fs::copy(
            &export,
            folder.join(format!("导出{i}_{}.xlsx", rng.u32(..))),
        )
        .unwrap();
    }
    for i in 0..m {
        std::fs::write(folder.join(format!("坏{i}_{}.xlsx", rng.u32(..))), &junk).unwrap();
    }
    let r = env.watch_once(0);
    ok(&r, 3);
    assert_eq!(env.rows(), 30);
    assert_eq!(files(&done_dir(&folder)).len(), 1, "{}", r.stdout);
    let fix = folder.join("需要处理");
    assert_eq!(files(&fix).len(), 2, "the unreadable file and its note");
    assert_eq!(files(&folder).len(), n - 1 + m - 1);
    // Again, and the unreadable content dropped once more under a new name: nothing moves.
    std::fs::write(folder.join("又一个坏的.xlsx"), &junk).unwrap();
    let left = files(&folder);
    let r = env.watch_once(0);
    ok(&r, 0);
    assert_eq!(files(&folder), left, "{}", r.stdout);
    assert_eq!(files(&fix).len(), 2);
    assert_eq!(files(&done_dir(&folder)).len(), 1);
    assert_eq!(env.rows(), 30);
}

/// `watch` without `--once`: the folder removed (twice) and made again while it runs. It says
/// so once each time, does not exit, and handles what lands in the folder once it is back.
/// `--once` with no folder: exit 2.
#[test]
fn the_folder_removed_and_made_again_is_waited_for() {
    let env = Env::new();
    let folder = env.folder();
    let log = env.path().join("watch.err");
    let mut child = env
        .command(&[
            "watch",
            folder.to_str().unwrap(),
            "--target",
            "stand",
            "--settle",
            "0",
            "--interval",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let wait_rows = |n: usize| {
        let start = Instant::now();
        while env.rows() < n && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(200));
        }
        env.rows()
    };
    std::thread::sleep(Duration::from_millis(1500));
    for round in 0..2u32 {
        std::fs::remove_dir_all(&folder).unwrap();
        std::thread::sleep(Duration::from_millis(2500));
        let running = child.try_wait().unwrap().is_none();
        if !running {
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("round {round}: watch ended when its folder went away:\n{said}");
        }
        std::fs::create_dir(&folder).unwrap();
        write_export(
            &folder.join(format!("回来后{round}.xlsx")),
            people(&format!("B{round}"), 0, 10),
        );
        assert_eq!(
            wait_rows(10 * (round as usize + 1)),
            10 * (round as usize + 1)
        );
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let said = std::fs::read_to_string(&log).unwrap();
    assert_eq!(said.matches("不见了").count(), 2, "{said}");
    assert_eq!(said.matches("又能打开了").count(), 2, "{said}");
    std::fs::remove_dir_all(&folder).unwrap();
    ok(&env.watch_once(0), 2);
}

/// The choke point itself, under random histories: files in the folder grow (their
/// modification time set anywhere, or kept), are replaced by new files or by links to a file
/// elsewhere, or vanish, between looks. A file is a settled candidate exactly when it was a
/// regular file untouched since the previous look; a link never is; the content read is the
/// content that settled, and a file touched after it settled is not read.
#[cfg(unix)]
#[test]
fn settled_candidates_under_random_histories() {
    use sheetbridge::unattended::candidates::{Settle, settled_candidates};
    use std::collections::{HashMap, HashSet};
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let dir = tmp();
    let outside = tmp();
    let secret = outside.path().join("别处.xlsx");
    std::fs::write(&secret, "secret rows").unwrap();
    let names: Vec<PathBuf> = (0..5)
        .map(|i| dir.path().join(format!("f{i}.xlsx")))
        .collect();
    // The model: each name's content when it is a regular file.
    let mut content: HashMap<PathBuf, Vec<u8>> = HashMap::new();
    let mut tracker = Settle::default();
    let mut touched: HashSet<PathBuf> = names.iter().cloned().collect();
    let mut regular_at_last_look: HashSet<PathBuf> = HashSet::new();
    let random_time = |rng: &mut fastrand::Rng| {
        SystemTime::UNIX_EPOCH + Duration::from_secs(rng.u64(1_000_000..2_000_000_000))
    };
    for step in 0..300 {
        for _ in 0..rng.usize(0..3) {
            let path = rng.choice(&names).unwrap().clone();
            let is_regular = content.contains_key(&path);
            match rng.u8(0..5) {
                // Grows, its time set anywhere, or kept as it was (a copy keeping the time).
                0 | 1 => {
                    let old_time = std::fs::symlink_metadata(&path)
                        .ok()
                        .filter(|m| m.is_file())
                        .and_then(|m| m.modified().ok());
                    let mut data = content.get(&path).cloned().unwrap_or_default();
                    data.extend((0..rng.usize(1..50)).map(|_| rng.u8(..)));
                    if !is_regular {
                        let _ = std::fs::remove_file(&path);
                    }
                    std::fs::write(&path, &data).unwrap();
                    let t = match (rng.bool(), old_time) {
                        (true, Some(t)) => t,
                        _ => random_time(&mut rng),
                    };
                    set_mtime(&path, t);
                    content.insert(path.clone(), data);
                }
                // Replaced by another file of the same content (a new file put in its place).
                2 if is_regular => {
                    let data = content[&path].clone();
                    let t = std::fs::metadata(&path).unwrap().modified().unwrap();
                    let other = dir.path().join(".new");
                    std::fs::write(&other, &data).unwrap();
                    set_mtime(&other, t);
                    std::fs::rename(&other, &path).unwrap();
                }
                // Replaced by a link to a file elsewhere.
                3 => {
                    let _ = std::fs::remove_file(&path);
                    std::os::unix::fs::symlink(&secret, &path).unwrap();
                    content.remove(&path);
                }
                _ => {
                    let _ = std::fs::remove_file(&path);
                    content.remove(&path);
                }
            }
            touched.insert(path);
        }
        let found = settled_candidates(dir.path(), Duration::ZERO, &mut tracker)
            .unwrap_or_else(|_| panic!("seed {seed}, step {step}: the folder is there"));
        let got: HashSet<PathBuf> = found.files.iter().map(|c| c.path.clone()).collect();
        let want: HashSet<PathBuf> = regular_at_last_look
            .iter()
            .filter(|p| !touched.contains(*p) && content.contains_key(*p))
            .cloned()
            .collect();
        assert_eq!(got, want, "seed {seed}, step {step}");
        for c in &found.files {
            // Sometimes the file is swapped for a link or grows after it settled.
            let swapped = rng.u8(0..4) == 0;
            if swapped {
                std::fs::remove_file(&c.path).unwrap();
                std::os::unix::fs::symlink(&secret, &c.path).unwrap();
                content.remove(&c.path);
                touched.insert(c.path.clone());
            }
            let sha = c.sha256(&mut tracker);
            if swapped {
                assert_eq!(sha, None, "seed {seed}, step {step}: read through a link");
            } else {
                let want = sheetbridge::digest::bytes_sha256(&content[&c.path]);
                assert_eq!(sha, Some(want), "seed {seed}, step {step}");
            }
        }
        // A name swapped for a link after this look is not a regular file at it either.
        regular_at_last_look = content.keys().cloned().collect();
        touched.clear();
    }
}
