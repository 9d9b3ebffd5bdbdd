//! Helpers shared by the integration tests: workbook builders, running the binary, reading
//! written sheets back.

#![allow(dead_code)]

pub mod city;
pub mod pack;
pub mod platform;
pub mod sample;

use calamine::{Data, Reader, open_workbook_auto};
use rust_xlsxwriter::{Format, Workbook};
pub use sample::{V, check_char, d, id, t};
use sheetbridge::batch::Batch;
use sheetbridge::pipeline::{self, LoadError, Options};
use sheetbridge::profile::Profiles;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The header most tests use (aliases of the built-in profile).
pub const HEADER: [&str; 14] = [
    "姓名",
    "证件类型",
    "身份证号",
    "性别",
    "年龄",
    "手机号",
    "采样时间",
    "检测时间",
    "检测结果",
    "条码号",
    "采样点",
    "检测机构",
    "人群分类",
    "现住址",
];

/// A valid row for person `i` in tube `tube` (all fields agree with the ID).
pub fn person(i: u32, tube: &str) -> Vec<V> {
    let male = i.is_multiple_of(2);
    let year = 1960 + i % 50;
    vec![
        t(&format!("测试{i}")),
        t("居民身份证"),
        t(&id("440106", &format!("{year}0601"), i, male)),
        t(if male { "男" } else { "女" }),
        V::N(f64::from(2022 - year - 1)),
        t(&format!("138{:08}", i)),
        d("2022-01-10 08:30:00"),
        d("2022-01-10 14:00:00"),
        t("阴性"),
        t(tube),
        t("天河南街道社区核酸采样点"),
        t("广州金域医学检验中心有限公司"),
        t("社区居民"),
        t("广州市天河区天河路1号"),
    ]
}

/// Header plus `n` valid rows, 10 people per tube.
pub fn simple_rows(n: u32) -> Vec<Vec<V>> {
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect()];
    for i in 0..n {
        rows.push(person(i, &format!("T{:010}", i / 10)));
    }
    rows
}

/// One sheet to write: name, rows from A1, merged ranges `(r1, c1, r2, c2)`.
pub struct SheetSpec {
    pub name: String,
    pub rows: Vec<Vec<V>>,
    pub merges: Vec<(u32, u16, u32, u16)>,
}

impl SheetSpec {
    pub fn new(name: &str, rows: Vec<Vec<V>>) -> SheetSpec {
        SheetSpec {
            name: name.to_owned(),
            rows,
            merges: Vec::new(),
        }
    }
}

/// Writes sheets with rust_xlsxwriter. A merged range takes the value of its top-left cell.
pub fn write_xlsx(path: &Path, sheets: &[SheetSpec]) {
    let mut wb = Workbook::new();
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for s in sheets {
        let ws = wb.add_worksheet();
        ws.set_name(&s.name).unwrap();
        for (r, row) in s.rows.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let (r, c) = (r as u32, c as u16);
                if s.merges
                    .iter()
                    .any(|m| r >= m.0 && r <= m.2 && c >= m.1 && c <= m.3 && (r, c) != (m.0, m.1))
                {
                    continue;
                }
                match v {
                    V::T(x) => {
                        ws.write_string(r, c, x).unwrap();
                    }
                    V::N(n) => {
                        ws.write_number(r, c, *n).unwrap();
                    }
                    V::D(dt) => {
                        ws.write_datetime_with_format(r, c, dt, &date).unwrap();
                    }
                    V::Blank => {}
                }
            }
        }
        for m in &s.merges {
            let top = s
                .rows
                .get(m.0 as usize)
                .and_then(|r| r.get(m.1 as usize))
                .cloned()
                .unwrap_or(V::Blank);
            let text = match top {
                V::T(x) => x,
                V::N(n) => n.to_string(),
                _ => String::new(),
            };
            ws_merge(&mut wb, &s.name, *m, &text);
        }
    }
    wb.save(path).unwrap();
}

fn ws_merge(wb: &mut Workbook, name: &str, m: (u32, u16, u32, u16), text: &str) {
    let ws = wb.worksheet_from_name(name).unwrap();
    ws.merge_range(m.0, m.1, m.2, m.3, text, &Format::new())
        .unwrap();
}

/// A temporary folder for one test.
pub fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

/// Loads a file with the built-in profiles and default options.
pub fn load(path: &Path) -> Result<Batch, LoadError> {
    pipeline::load(path, &Profiles::load(None), &Options::default(), &())
}

/// Every (Excel row, code) of a batch.
pub fn codes(batch: &Batch) -> Vec<(u32, String)> {
    batch
        .all_issues()
        .map(|ri| (ri.line, batch.code_name(ri.issue)))
        .collect()
}

/// The result of running the binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts that the run ended with `code` and that its standard error says each of `words`.
    #[track_caller]
    pub fn says(&self, code: i32, words: &[&str]) {
        assert_eq!(self.code, code, "{}", self.stderr);
        for w in words {
            assert!(self.stderr.contains(w), "{w:?} not in: {}", self.stderr);
        }
    }
}

/// The `sheetbridge` command with its per-user folders inside `home` and no language or lab
/// from the environment, for a test to add to (a limit, another variable) before it runs.
pub fn sheetbridge(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(
        option_env!("CARGO_BIN_EXE_sheetbridge")
            .unwrap_or_else(|| panic!("only integration tests run the binary")),
    );
    cmd.args(args)
        .env("SHEETBRIDGE_CONFIG_DIR", home.join("config"))
        .env("SHEETBRIDGE_DATA_DIR", home.join("data"))
        .env_remove("SHEETBRIDGE_LANG")
        .env_remove("SHEETBRIDGE_LAB");
    cmd
}

impl From<std::process::Output> for Run {
    fn from(out: std::process::Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

/// Runs `sheetbridge` with its per-user folders inside `home`.
pub fn run(home: &Path, args: &[&str]) -> Run {
    sheetbridge(home, args).output().unwrap().into()
}

/// Runs `sheetbridge ARGS --report <home>/report.json` like [`run`], and reads the report back
/// (`Null` when none was written).
pub fn run_reported(home: &Path, args: &[&str]) -> (Run, serde_json::Value) {
    let report = home.join("report.json");
    let _ = std::fs::remove_file(&report);
    let mut all = args.to_vec();
    all.extend(["--report", report.to_str().unwrap()]);
    let r = run(home, &all);
    let rep = std::fs::read_to_string(&report)
        .map(|text| serde_json::from_str(&text).unwrap())
        .unwrap_or(serde_json::Value::Null);
    (r, rep)
}

/// Reads a written workbook back: (sheet name, rows of typed cells).
pub fn read_back(path: &Path) -> Vec<(String, Vec<Vec<Data>>)> {
    let mut wb = open_workbook_auto(path).unwrap();
    let names = wb.sheet_names();
    names
        .into_iter()
        .map(|n| {
            let range = wb.worksheet_range(&n).unwrap();
            (n, range.rows().map(|r| r.to_vec()).collect())
        })
        .collect()
}

/// A written sheet as text; panics if any cell is not a string (the upload sheet is all text).
pub fn read_text_sheet(path: &Path) -> Vec<Vec<String>> {
    let sheets = read_back(path);
    sheets[0]
        .1
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| match c {
                    Data::String(s) => s.clone(),
                    Data::Empty => String::new(),
                    other => panic!("cell is not text: {other:?}"),
                })
                .collect()
        })
        .collect()
}

/// Files in a folder (names), to check nothing stray was left behind. The `data` folder that
/// [`run`] gives the program inside the test's folder (where its log goes) is not a stray.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != "data")
        .collect();
    v.sort();
    v
}

/// The repository's own folder.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A run of the binary with its peak resident set (KiB), read from `wait4` on the child, never
/// from a clock.
pub struct Measured {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub max_rss_kib: i64,
}

/// Runs `cmd` (see [`sheetbridge`]) with its address space capped at `cap_bytes`, so a build
/// that does not bound its memory fails fast instead of taking the machine's, and reports its
/// peak resident set.
#[cfg(unix)]
pub fn run_measured(mut cmd: Command, cap_bytes: u64) -> Measured {
    use std::os::unix::process::CommandExt;
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("stdout"), dir.path().join("stderr"));
    cmd.stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .stdin(Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; it only caps the child's address space.
    unsafe {
        cmd.pre_exec(move || {
            let cap = libc::rlimit {
                rlim_cur: cap_bytes as libc::rlim_t,
                rlim_max: cap_bytes as libc::rlim_t,
            };
            libc::setrlimit(libc::RLIMIT_AS, &cap);
            Ok(())
        });
    }
    let child = cmd.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it and reaps our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid);
    drop(child);
    Measured {
        code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        max_rss_kib: usage.ru_maxrss,
    }
}
