//! Fuzzing (issue 10): random and mutated bytes, seeded from `tests/fixtures`, generated
//! workbooks and calamine's own test files, fed to the readers (`sheetbridge check` in a child
//! process: `Workbook::open`, the sheet choice, `row_count_hint`, `for_each_row`, `merges`,
//! `pipeline::load`) and to profile and target parsing (in process). Each input must give an
//! error or rows: never a panic, a crash, or a peak resident set over 1 GiB.
//!
//! `cargo test` runs a short pass. A long run, as the README says:
//! `SHEETBRIDGE_FUZZ_ITERS=100000 cargo test --test integration fuzz:: -- --nocapture`
//! (`SHEETBRIDGE_FUZZ_SEED` repeats a run; `SHEETBRIDGE_FUZZ_CORPUS` adds a folder of seeds).
//! An input that panics is kept in `target/fuzz-failures/` and the test fails.

use crate::support::*;
use arbitrary::Unstructured;
use sheetbridge::profile::{Origin, Profile};
use sheetbridge::read::Workbook;
use std::io::{Read, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Iterations of the short pass in `cargo test`.
const DEFAULT_ITERS: u64 = 150;

fn iterations() -> u64 {
    std::env::var("SHEETBRIDGE_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_ITERS)
}

/// A long run may be bounded by time instead (`SHEETBRIDGE_FUZZ_SECS`): it stops taking new
/// inputs then; nothing is asserted about time.
fn time_budget() -> Option<std::time::Duration> {
    std::env::var("SHEETBRIDGE_FUZZ_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(std::time::Duration::from_secs)
}

fn seed() -> u64 {
    std::env::var("SHEETBRIDGE_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_b41d)
}

/// One seed file: its bytes and its extension (the readers try the format it names first).
struct Seed {
    ext: String,
    bytes: Vec<u8>,
}

fn seeds(dir: &Path) -> Vec<Seed> {
    let mut seeds = Vec::new();
    let mut folders = vec![repo().join("tests/fixtures"), repo().join("assets/sample")];
    folders.push(repo().join("../shared/corpus/calamine"));
    folders.push(repo().join("../../shared/corpus/calamine"));
    if let Ok(extra) = std::env::var("SHEETBRIDGE_FUZZ_CORPUS") {
        folders.push(PathBuf::from(extra));
    }
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let ext = p
                .extension()
                .map(|e| e.to_string_lossy().to_ascii_lowercase())
                .unwrap_or_default();
            if !matches!(
                ext.as_str(),
                "xlsx" | "xlsm" | "xlsb" | "xls" | "ods" | "csv" | "xml" | "html"
            ) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&p)
                && bytes.len() <= 4 << 20
            {
                seeds.push(Seed { ext, bytes });
            }
        }
    }
    // Generated ones: a small export in each text format and an .xlsx with merges.
    let xlsx = dir.join("seed.xlsx");
    let mut spec = SheetSpec::new("Sheet1", simple_rows(12));
    spec.merges.push((3, 9, 5, 9));
    write_xlsx(&xlsx, &[spec]);
    seeds.push(Seed {
        ext: "xlsx".into(),
        bytes: std::fs::read(&xlsx).unwrap(),
    });
    let rows = simple_rows(8);
    let text = |v: &V| match v {
        V::T(s) => s.clone(),
        V::N(n) => n.to_string(),
        V::D(d) => d.to_string(),
        V::Blank => String::new(),
    };
    let csv: String = rows
        .iter()
        .map(|r| r.iter().map(text).collect::<Vec<_>>().join(",") + "\r\n")
        .collect();
    let html: String = rows
        .iter()
        .map(|r| {
            let cells: String = r.iter().map(|c| format!("<td>{}</td>", text(c))).collect();
            format!("<tr>{cells}</tr>")
        })
        .collect();
    let xml: String = rows
        .iter()
        .map(|r| {
            let cells: String = r
                .iter()
                .map(|c| format!("<Cell><Data ss:Type=\"String\">{}</Data></Cell>", text(c)))
                .collect();
            format!("<Row>{cells}</Row>")
        })
        .collect();
    seeds.push(Seed {
        ext: "csv".into(),
        bytes: csv.into_bytes(),
    });
    seeds.push(Seed {
        ext: "xls".into(),
        bytes: format!("<html><body><table>{html}</table></body></html>").into_bytes(),
    });
    seeds.push(Seed {
        ext: "xml".into(),
        bytes: format!(
            "<?xml version=\"1.0\"?><?mso-application progid=\"Excel.Sheet\"?><Workbook xmlns=\"urn:schemas-microsoft-com:office:spreadsheet\" xmlns:ss=\"urn:schemas-microsoft-com:office:spreadsheet\"><Worksheet ss:Name=\"S\"><Table>{xml}</Table></Worksheet></Workbook>"
        )
        .into_bytes(),
    });
    seeds
}

/// Bits of markup that tend to reach code paths plain byte flips do not.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</",
    b"/>",
    b"<row r=\"1048577\">",
    b"<c r=\"XFD1\" t=\"s\"><v>999999</v></c>",
    b"<c r=\"A1\" t=\"inlineStr\"><is><t>x</t></is></c>",
    b"<mergeCell ref=\"A1:XFD1048576\"/>",
    b"<dimension ref=\"A1:XFD1048576\"/>",
    b" colspan=\"1000\"",
    b" rowspan=\"65534\"",
    b"<td>",
    b"<tr>",
    b"<table>",
    b"<div>",
    b"<![CDATA[",
    b"]]>",
    b"<!--",
    b"&#0;",
    b"&amp;",
    b"\"",
    b",",
    b"\r\n",
    b"\r",
    b"\t",
    b"\xEF\xBB\xBF",
    b"\xFF\xFE",
    b"\xC3",
    b"\x00",
    b"=1+1",
    b" ss:Index=\"16384\"",
    b" ss:MergeDown=\"1048576\"",
    b" table:number-columns-repeated=\"16384\"",
    b" table:number-rows-repeated=\"1048576\"",
    b"1E+308",
    b"-1",
    b"4294967295",
];

/// One mutation of `bytes`, chosen by `u`.
fn mutate(u: &mut Unstructured<'_>, bytes: &mut Vec<u8>, others: &[Seed]) -> arbitrary::Result<()> {
    let len = bytes.len();
    let at = |u: &mut Unstructured<'_>, len: usize| u.int_in_range(0..=len);
    match u.int_in_range(0..=8u8)? {
        0 if len > 0 => {
            let i = at(u, len - 1)?;
            bytes[i] ^= 1 << u.int_in_range(0..=7u8)?;
        }
        1 if len > 0 => {
            let i = at(u, len - 1)?;
            bytes[i] = u.arbitrary()?;
        }
        2 => {
            let i = at(u, len)?;
            let n = u.int_in_range(1..=16usize)?;
            let new: Vec<u8> = (0..n).map(|_| u.arbitrary()).collect::<Result<_, _>>()?;
            bytes.splice(i..i, new);
        }
        3 if len > 0 => {
            let i = at(u, len - 1)?;
            let n = u.int_in_range(1..=(len - i).min(4096))?;
            bytes.drain(i..i + n);
        }
        4 if len > 0 => {
            let i = at(u, len - 1)?;
            let n = u.int_in_range(1..=(len - i).min(4096))?;
            let copy = bytes[i..i + n].to_vec();
            let times = u.int_in_range(1..=64usize)?;
            let j = at(u, len)?;
            bytes.splice(j..j, copy.repeat(times));
        }
        5 => {
            let cut = at(u, len)?;
            bytes.truncate(cut);
        }
        6 => {
            let token = *u.choose(TOKENS)?;
            let i = at(u, len)?;
            let times = if u.ratio(1, 8)? {
                u.int_in_range(1..=3000usize)?
            } else {
                1
            };
            bytes.splice(i..i, token.repeat(times));
        }
        7 if !others.is_empty() => {
            let other = &u.choose(others)?.bytes;
            if !other.is_empty() {
                let i = at(u, other.len() - 1)?;
                let n = u.int_in_range(1..=(other.len() - i).min(8192))?;
                let j = at(u, len)?;
                bytes.splice(j..j, other[i..i + n].iter().copied());
            }
        }
        _ => {
            let i = at(u, len)?;
            let n = u.int_in_range(1..=64usize)?;
            let new: Vec<u8> = (0..n).map(|_| u.arbitrary()).collect::<Result<_, _>>()?;
            bytes.splice(i..i, new);
        }
    }
    Ok(())
}

/// For a zip container: mutates one part inside and packs it again (deflated, valid CRC), so
/// the XML and binary parsers see the damage rather than the zip layer.
fn mutate_inside_zip(u: &mut Unstructured<'_>, bytes: &[u8], others: &[Seed]) -> Option<Vec<u8>> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let victim = u.int_in_range(0..=zip.len().checked_sub(1)?).ok()?;
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..zip.len() {
        let f = zip.by_index(i).ok()?;
        let name = f.name().ok()?.into_owned();
        let mut data = Vec::new();
        f.take(8 << 20).read_to_end(&mut data).ok()?;
        if i == victim {
            for _ in 0..u.int_in_range(1..=4u8).ok()? {
                mutate(u, &mut data, others).ok()?;
            }
        }
        out.start_file(name, options).ok()?;
        out.write_all(&data).ok()?;
    }
    Some(out.finish().ok()?.into_inner())
}

/// Every reader entry point on one file, in a child process (`sheetbridge check`, which opens
/// the workbook, picks the sheet, streams its rows, reads its merges and checks them) whose
/// address space is capped, so a runaway input cannot take the machine's memory. `Err` with
/// the reason when it panicked, died, or went over the memory limit.
fn read_in_child(dir: &Path, path: &Path) -> Result<(), String> {
    use std::os::unix::process::CommandExt;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"));
    cmd.args(["check", path.to_str().unwrap_or_default()])
        .env("SHEETBRIDGE_CONFIG_DIR", dir.join("config"))
        .env("SHEETBRIDGE_DATA_DIR", dir.join("data"))
        .env_remove("SHEETBRIDGE_LANG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setrlimit is async-signal-safe; it only caps the child's address space.
    unsafe {
        cmd.pre_exec(|| {
            let cap = libc::rlimit {
                rlim_cur: 3 << 30,
                rlim_max: 3 << 30,
            };
            libc::setrlimit(libc::RLIMIT_AS, &cap);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| e.to_string())?;
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it and reaps our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: pid is our child, not yet waited for; the pointers are to live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    drop(child);
    if r != pid {
        return Err("wait4 failed".into());
    }
    if usage.ru_maxrss >= 1 << 20 {
        return Err(format!("peak {} MiB", usage.ru_maxrss >> 10));
    }
    if !libc::WIFEXITED(status) {
        return Err(format!("killed by signal {}", libc::WTERMSIG(status)));
    }
    match libc::WEXITSTATUS(status) {
        0 | 2 | 3 => Ok(()),
        code => Err(format!("exit {code}")),
    }
}

fn keep_failure(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = repo().join("target/fuzz-failures");
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join(name);
    let _ = std::fs::write(&path, bytes);
    path
}

#[test]
fn readers_survive_mutated_files() {
    let dir = tmp();
    let seeds = seeds(dir.path());
    assert!(seeds.len() >= 8, "{} seeds", seeds.len());
    let mut rng = fastrand::Rng::with_seed(seed());
    let iters = iterations();
    let mut failures = Vec::new();
    let (mut read_ok, mut read_err) = (0u64, 0u64);
    let started = std::time::Instant::now();
    let mut done = 0u64;
    for i in 0..iters {
        if time_budget().is_some_and(|b| started.elapsed() > b) {
            break;
        }
        done += 1;
        if i > 0 && i % 1000 == 0 {
            eprintln!("fuzz: {i} files, {} panics so far", failures.len());
        }
        let mut rng_i = rng.fork();
        let entropy: Vec<u8> = (0..4096).map(|_| rng_i.u8(..)).collect();
        let mut u = Unstructured::new(&entropy);
        let Ok(seed) = u.choose(&seeds) else { continue };
        let mut bytes = seed.bytes.clone();
        let is_zip = bytes.starts_with(b"PK\x03\x04");
        if is_zip && u.ratio(2, 3).unwrap_or(false) {
            if let Some(b) = mutate_inside_zip(&mut u, &bytes, &seeds) {
                bytes = b;
            }
        } else if u.ratio(1, 20).unwrap_or(false) {
            // Pure noise now and then.
            bytes = entropy.clone();
        } else {
            for _ in 0..u.int_in_range(1..=8u8).unwrap_or(1) {
                let _ = mutate(&mut u, &mut bytes, &seeds);
            }
        }
        let ext = if u.ratio(1, 6).unwrap_or(false) {
            (*u.choose(&["xlsx", "xls", "xlsb", "ods", "csv", "et"])
                .unwrap_or(&"xlsx"))
            .to_owned()
        } else {
            seed.ext.clone()
        };
        let path = dir.path().join(format!("case.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        match read_in_child(dir.path(), &path) {
            Ok(()) => {
                if Workbook::open(&path).is_ok() {
                    read_ok += 1;
                } else {
                    read_err += 1;
                }
            }
            Err(why) => {
                let kept = keep_failure(&format!("case-{}-{i}.{ext}", seed_name()), &bytes);
                eprintln!("fuzz: {} {why}", kept.display());
                failures.push((kept, why));
            }
        }
    }
    eprintln!(
        "fuzz: {done} tries (seed {}), {read_ok} opened, {read_err} refused, {} failures",
        seed(),
        failures.len(),
    );
    assert!(failures.is_empty(), "failures, inputs kept: {failures:?}");
}

fn seed_name() -> String {
    format!("{:x}", seed())
}

#[test]
fn profile_and_target_parsing_survive_mutated_text() {
    let mut texts: Vec<Vec<u8>> = Vec::new();
    for folder in ["mappings", "mappings/targets"] {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(repo().join(folder))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for p in paths {
            texts.push(std::fs::read(p).unwrap());
        }
    }
    texts.push(
        b"extends = \"cdc-nat\"\n[extra_aliases]\nphone = [\"\xe6\x89\x8b\xe6\x9c\xba\"]\n"
            .to_vec(),
    );
    let seeds: Vec<Seed> = texts
        .iter()
        .map(|t| Seed {
            ext: "toml".into(),
            bytes: t.clone(),
        })
        .collect();
    let mut rng = fastrand::Rng::with_seed(seed() ^ 0x70_6d);
    let mut failures = Vec::new();
    for i in 0..iterations() * 4 {
        let mut rng_i = rng.fork();
        let entropy: Vec<u8> = (0..2048).map(|_| rng_i.u8(..)).collect();
        let mut u = Unstructured::new(&entropy);
        let Ok(seed) = u.choose(&seeds) else { continue };
        let mut bytes = seed.bytes.clone();
        for _ in 0..u.int_in_range(1..=6u8).unwrap_or(1) {
            let _ = mutate(&mut u, &mut bytes, &seeds);
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            if let Err(e) = Profile::parse("fuzz", &text, Origin::Builtin) {
                // An error is short and says where.
                let msg = e.to_string();
                assert!(msg.chars().count() < 2_000, "{} chars", msg.chars().count());
            }
            let _ = sheetbridge::upload::target::Target::parse("fuzz", "fuzz.toml", &text, None);
        }));
        if outcome.is_err() {
            failures.push(keep_failure(&format!("profile-{i}.toml"), &bytes));
        }
    }
    assert!(failures.is_empty(), "panics, inputs kept: {failures:?}");
}
