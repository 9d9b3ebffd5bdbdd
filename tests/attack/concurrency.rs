//! guarantees.md §8. Several programs at once never fail on each other.
//!
//! Several processes started together on one data folder, against the stand-in platform on
//! 127.0.0.1: two `watch --once` on one folder and one on another, `upload` of two files,
//! `outbox send` and `lookup`, each round on a new data folder (so they also race to create
//! the databases), repeated. None may end with a locked or busy database, and every row of
//! every file must reach the platform exactly once.

use crate::support::platform::{Config, Platform};
use crate::support::{HEADER, Run, SheetSpec, V, person, t, tmp, write_xlsx};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Rows for people `from..from + n`, ten to a tube.
fn rows(from: u32, n: u32) -> Vec<Vec<V>> {
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect()];
    for i in from..from + n {
        rows.push(person(i, &format!("T{:010}", i / 10)));
    }
    rows
}

fn command(home: &Path, platform_home: &Path, args: &[&str]) -> Command {
    let mut c = crate::support::sheetbridge(home, args);
    c.env("SHEETBRIDGE_CREDENTIAL_STORE", "file")
        .env("SHEETBRIDGE_USER", "demo")
        .env("SHEETBRIDGE_PASSWORD", "demo")
        .env_remove("SHEETBRIDGE_TOKEN")
        .env("HOME", platform_home)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn finish(name: &str, child: Child) -> (String, Run) {
    (name.to_owned(), child.wait_with_output().unwrap().into())
}

/// What a run must never say: SQLite's busy and locked errors, in any language.
fn said_locked(r: &Run) -> bool {
    let all = format!("{}{}", r.stdout, r.stderr).to_lowercase();
    all.contains("locked") || all.contains("busy") && all.contains("database")
}

#[test]
fn programs_started_together_on_one_data_folder_never_fail_on_each_other() {
    for round in 0..4u32 {
        let home = tmp();
        let h = home.path();
        let platform = Platform::start(Config::new(&h.join("platform.sqlite"))).unwrap();
        let targets = h.join("config/targets");
        std::fs::create_dir_all(&targets).unwrap();
        std::fs::write(
            targets.join("stand.toml"),
            platform.target_toml(true, 10, 4),
        )
        .unwrap();
        let (a, b) = (h.join("待上报"), h.join("另一个"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        // Distinct people in every file: 12 rows each, 6 files.
        let mut files = Vec::new();
        for (k, dir) in [&a, &a, &b, &b, h, h].into_iter().enumerate() {
            let path = dir.join(format!("结果{round}_{k}.xlsx"));
            write_xlsx(&path, &[SheetSpec::new("Sheet1", rows(k as u32 * 12, 12))]);
            files.push(path);
        }
        let total = 6 * 12;
        let s = |p: &Path| p.to_str().unwrap().to_owned();
        let (fa, fb, u4, u5) = (s(&a), s(&b), s(&files[4]), s(&files[5]));
        let barcode = format!("T{:010}", 1);
        let runs: Vec<(&str, Vec<&str>)> = vec![
            (
                "watch a",
                vec!["watch", &fa, "--target", "stand", "--once", "--settle", "0"],
            ),
            (
                "watch a again",
                vec!["watch", &fa, "--target", "stand", "--once", "--settle", "0"],
            ),
            (
                "watch b",
                vec!["watch", &fb, "--target", "stand", "--once", "--settle", "0"],
            ),
            ("upload 4", vec!["upload", &u4, "--target", "stand"]),
            ("upload 5", vec!["upload", &u5, "--target", "stand"]),
            ("outbox send", vec!["outbox", "send"]),
            ("lookup", vec!["lookup", &barcode]),
        ];
        let children: Vec<(&str, Child)> = runs
            .iter()
            .map(|(name, args)| (*name, command(h, h, args).spawn().unwrap()))
            .collect();
        let done: Vec<(String, Run)> = children.into_iter().map(|(n, c)| finish(n, c)).collect();
        for (name, r) in &done {
            assert!(
                !said_locked(r) && r.code != 2 && r.code != 101,
                "round {round}, {name}: exit {}\n{}\n{}",
                r.code,
                r.stdout,
                r.stderr
            );
        }
        // Whatever a run left queued (its batch claimed by another at that moment) goes now.
        let r: Run = command(h, h, &["outbox", "send"]).output().unwrap().into();
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let stored = platform.rows();
        let twice: Vec<_> = stored.iter().filter(|r| r.2 != 1).collect();
        assert!(twice.is_empty(), "round {round}: sent twice: {twice:?}");
        assert_eq!(stored.len(), total, "round {round}: rows lost");
    }
}

/// The moment the databases are made: many openers at once on a new data folder (each as a
/// process would: the outbox, the unattended journal, a lookup reading the ledger), repeated.
/// None may fail with a locked or busy database.
#[test]
fn many_openers_at_once_on_a_new_data_folder_never_find_it_locked() {
    use sheetbridge::workspace::{Folders, Workspace};
    for round in 0..40 {
        let home = tmp();
        let data = home.path().join("data");
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(12));
        let threads: Vec<_> = (0..12)
            .map(|i| {
                let (data, barrier) = (data.clone(), barrier.clone());
                std::thread::spawn(move || -> Result<(), String> {
                    barrier.wait();
                    match i % 3 {
                        0 => Workspace::open(
                            Folders {
                                data: Some(data),
                                config: None,
                            },
                            30,
                        )
                        .map(drop)
                        .map_err(|e| e.to_string()),
                        1 => sheetbridge::unattended::journal::Journal::open(&data)
                            .map(drop)
                            .map_err(|e| e.to_string()),
                        _ => {
                            // A lookup that finds the file half made must still answer.
                            std::thread::sleep(std::time::Duration::from_millis(i as u64));
                            sheetbridge::support::lookup::find(&data, "T0000000001")
                                .map(drop)
                                .map_err(|e| e.to_string())
                        }
                    }
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            if let Err(e) = t.join().unwrap() {
                panic!("round {round}, opener {i}: {e}");
            }
        }
    }
}

/// Another program holding the databases' write locks for 12 and 25 s (a window's long write,
/// a slow disk): `watch --once`, `upload` and `lookup` started meanwhile wait for it instead of failing,
/// send every row once, and the log says that they waited.
#[test]
fn runs_wait_for_a_database_another_program_holds_and_say_so() {
    let home = tmp();
    let h = home.path();
    let platform = Platform::start(Config::new(&h.join("platform.sqlite"))).unwrap();
    let targets = h.join("config/targets");
    std::fs::create_dir_all(&targets).unwrap();
    std::fs::write(
        targets.join("stand.toml"),
        platform.target_toml(true, 10, 5),
    )
    .unwrap();
    let folder = h.join("待上报");
    std::fs::create_dir_all(&folder).unwrap();
    let f = folder.to_str().unwrap().to_owned();
    let watch = ["watch", &f, "--target", "stand", "--once", "--settle", "0"];
    // A first run makes both databases.
    let r: Run = command(h, h, &watch).output().unwrap().into();
    assert_eq!(r.code, 0, "{}", r.stderr);
    write_xlsx(
        &folder.join("结果.xlsx"),
        &[SheetSpec::new("Sheet1", rows(0, 12))],
    );
    let other = h.join("另一个.xlsx");
    write_xlsx(&other, &[SheetSpec::new("Sheet1", rows(100, 12))]);
    let data = h.join("data");
    let (ready_tx, ready) = std::sync::mpsc::channel();
    let holder = std::thread::spawn(move || {
        let hold: Vec<rusqlite::Connection> = ["unattended.sqlite", "outbox.sqlite"]
            .iter()
            .map(|name| {
                let c = rusqlite::Connection::open(data.join(name)).unwrap();
                c.execute_batch("BEGIN IMMEDIATE").unwrap();
                c
            })
            .collect();
        ready_tx.send(()).unwrap();
        // The outbox for 12 s, the journal for 25 s: whichever a run opens first, it waits
        // more than 10 s in all for one of them.
        std::thread::sleep(std::time::Duration::from_secs(12));
        hold[1].execute_batch("COMMIT").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(13));
        hold[0].execute_batch("COMMIT").unwrap();
    });
    ready.recv().unwrap();
    let o = other.to_str().unwrap().to_owned();
    let barcode = format!("T{:010}", 10);
    let children: Vec<(&str, Child)> = [
        ("watch", watch.to_vec()),
        ("upload", vec!["upload", &o, "--target", "stand"]),
        ("lookup", vec!["lookup", &barcode]),
    ]
    .into_iter()
    .map(|(name, args)| (name, command(h, h, &args).spawn().unwrap()))
    .collect();
    for (name, child) in children {
        let (_, r) = finish(name, child);
        assert!(
            !said_locked(&r) && r.code != 2 && r.code != 101,
            "{name}: exit {}\n{}\n{}",
            r.code,
            r.stdout,
            r.stderr
        );
    }
    holder.join().unwrap();
    let stored = platform.rows();
    assert!(stored.iter().all(|r| r.2 == 1), "sent twice: {stored:?}");
    assert_eq!(stored.len(), 24, "rows lost");
    let mut log = String::new();
    for e in std::fs::read_dir(h.join("data/logs")).unwrap() {
        log.push_str(&std::fs::read_to_string(e.unwrap().path()).unwrap_or_default());
    }
    assert!(log.contains("另一个程序正在使用数据库"), "{log}");
}

/// Every file and folder under `dir` whose mode lets anyone but the user in (files not 0600,
/// folders not 0700), with its mode.
#[cfg(unix)]
fn open_to_others(dir: &Path) -> Vec<(std::path::PathBuf, u32)> {
    use std::os::unix::fs::PermissionsExt;
    let mut found = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let mode = std::fs::symlink_metadata(&d).unwrap().permissions().mode() & 0o777;
        if mode != 0o700 {
            found.push((d.clone(), mode));
        }
        for entry in std::fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let meta = entry.metadata().unwrap();
            if meta.is_dir() {
                todo.push(entry.path());
            } else if meta.permissions().mode() & 0o777 != 0o600 {
                found.push((entry.path(), meta.permissions().mode() & 0o777));
            }
        }
    }
    found
}

/// target.md "Safety rules": every file in the data folder is readable by the user alone.
/// Each command that writes there runs on a fresh data folder, then the whole folder is
/// walked: any file kind it made, now or later, must be 0600 and any folder 0700.
#[cfg(unix)]
#[test]
fn every_file_and_folder_the_commands_make_in_the_data_folder_is_private() {
    let home = tmp();
    let h = home.path();
    let platform = Platform::start(Config::new(&h.join("platform.sqlite"))).unwrap();
    let targets = h.join("config/targets");
    std::fs::create_dir_all(&targets).unwrap();
    std::fs::write(
        targets.join("stand.toml"),
        platform.target_toml(true, 10, 4),
    )
    .unwrap();
    let folder = h.join("待上报");
    std::fs::create_dir_all(&folder).unwrap();
    let mut files = Vec::new();
    for (k, dir) in [&folder, &h.to_path_buf(), &h.to_path_buf()]
        .into_iter()
        .enumerate()
    {
        let path = dir.join(format!("结果_{k}.xlsx"));
        write_xlsx(&path, &[SheetSpec::new("Sheet1", rows(k as u32 * 12, 12))]);
        files.push(path.to_str().unwrap().to_owned());
    }
    let fa = folder.to_str().unwrap().to_owned();
    let barcode = format!("T{:010}", 1);
    let runs: [Vec<&str>; 5] = [
        vec!["convert", &files[1]],
        vec!["watch", &fa, "--target", "stand", "--once", "--settle", "0"],
        vec!["upload", &files[2], "--target", "stand"],
        vec!["outbox", "send"],
        vec!["lookup", &barcode],
    ];
    for args in &runs {
        let r: Run = command(h, h, args).output().unwrap().into();
        assert!(
            r.code != 2 && r.code != 101,
            "{args:?}: exit {}\n{}\n{}",
            r.code,
            r.stdout,
            r.stderr
        );
        let data = h.join("data");
        if data.exists() {
            let open = open_to_others(&data);
            assert!(open.is_empty(), "after {args:?}: {open:?}");
        }
    }
}
