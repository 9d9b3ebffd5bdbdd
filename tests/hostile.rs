//! Odd and hostile files (cli.md, "What it never does, whatever the input" and "Line ends"):
//! the source is never overwritten, memory stays bounded (read as the peak resident set of
//! the child process, not from a clock), row numbers do not depend on line ends, one long cell
//! is that row's error, Ctrl+C leaves nothing behind, a closed pipe ends the run quietly.

use crate::support::*;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Peak memory allowed to any run (cli.md): 1 GiB, in KiB as `ru_maxrss` counts.
const MAX_RSS_KIB: i64 = 1 << 20;

// ---------------------------------------------------------------------------------------------
// Zip containers built by hand, so a part can inflate to a gigabyte from a few megabytes.

pub(crate) struct Entry {
    name: String,
    method: u16,
    data: Vec<u8>,
    crc: u32,
    size: u64,
}

pub(crate) fn stored(name: &str, bytes: &[u8]) -> Entry {
    Entry {
        name: name.to_owned(),
        method: 0,
        data: bytes.to_vec(),
        crc: crc32fast::hash(bytes),
        size: bytes.len() as u64,
    }
}

fn deflate_some(
    c: &mut flate2::Compress,
    mut input: &[u8],
    flush: flate2::FlushCompress,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 2 + 4096);
    loop {
        if out.capacity() - out.len() < 4096 {
            out.reserve(1 << 16);
        }
        let before = c.total_in();
        let status = c.compress_vec(input, &mut out, flush).unwrap();
        input = &input[(c.total_in() - before) as usize..];
        let done = match flush {
            flate2::FlushCompress::Finish => status == flate2::Status::StreamEnd,
            _ => input.is_empty() && out.capacity() - out.len() >= 4096,
        };
        if done {
            return out;
        }
    }
}

/// A deflated part of `prefix`, then `unit` repeated to about `total` bytes, then `suffix`,
/// without compressing the repeats one by one: a sync-flushed block of repeats decodes the
/// same wherever it is put after another, so its bytes are just copied.
pub(crate) fn bomb(name: &str, prefix: &[u8], unit: &[u8], total: u64, suffix: &[u8]) -> Entry {
    let block = unit.repeat(((1 << 20) / unit.len()).max(1));
    let n = (total / block.len() as u64).max(2);
    let mut c = flate2::Compress::new(flate2::Compression::best(), false);
    let mut data = deflate_some(&mut c, prefix, flate2::FlushCompress::Sync);
    data.extend(deflate_some(&mut c, &block, flate2::FlushCompress::Sync));
    let again = deflate_some(&mut c, &block, flate2::FlushCompress::Sync);
    for _ in 1..n {
        data.extend_from_slice(&again);
    }
    data.extend(deflate_some(&mut c, suffix, flate2::FlushCompress::Finish));
    let mut crc = crc32fast::Hasher::new();
    crc.update(prefix);
    let mut one = crc32fast::Hasher::new();
    one.update(&block);
    for _ in 0..n {
        crc.combine(&one);
    }
    crc.update(suffix);
    Entry {
        name: name.to_owned(),
        method: 8,
        data,
        crc: crc.finalize(),
        size: prefix.len() as u64 + n * block.len() as u64 + suffix.len() as u64,
    }
}

pub(crate) fn write_zip(path: &Path, entries: &[Entry]) {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let offset = out.len() as u32;
        let head = |sig: u32, central: bool| {
            let mut h = Vec::new();
            h.extend(sig.to_le_bytes());
            if central {
                h.extend(20u16.to_le_bytes());
            }
            h.extend(20u16.to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h.extend(e.method.to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h.extend(0x21u16.to_le_bytes());
            h.extend(e.crc.to_le_bytes());
            h.extend((e.data.len() as u32).to_le_bytes());
            h.extend((e.size as u32).to_le_bytes());
            h.extend((e.name.len() as u16).to_le_bytes());
            h.extend(0u16.to_le_bytes());
            h
        };
        out.extend(head(0x0403_4b50, false));
        out.extend(e.name.as_bytes());
        out.extend(&e.data);
        let mut c = head(0x0201_4b50, true);
        c.extend([0u8; 6]);
        c.extend(0u32.to_le_bytes());
        c.extend(offset.to_le_bytes());
        c.extend(e.name.as_bytes());
        central.push(c);
    }
    let cd_offset = out.len() as u32;
    let cd: Vec<u8> = central.concat();
    out.extend(&cd);
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend([0u8; 4]);
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((entries.len() as u16).to_le_bytes());
    out.extend((cd.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend(0u16.to_le_bytes());
    std::fs::write(path, out).unwrap();
}

/// The parts of a real one-sheet workbook (rust_xlsxwriter), with shared strings, stored.
fn base_parts(dir: &Path) -> Vec<Entry> {
    let src = dir.join("base.xlsx");
    write_xlsx(&src, &[SheetSpec::new("Sheet1", simple_rows(3))]);
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&src).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut f, &mut bytes).unwrap();
            stored(&f.name().unwrap(), &bytes)
        })
        .collect()
}

/// A workbook whose part `name` is replaced.
fn workbook_with(dir: &Path, file: &str, part: Entry) -> std::path::PathBuf {
    let mut parts: Vec<Entry> = base_parts(dir)
        .into_iter()
        .filter(|e| e.name != part.name)
        .collect();
    parts.push(part);
    let path = dir.join(file);
    write_zip(&path, &parts);
    path
}

const SHEET_HEAD: &[u8] = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheetData>"#;
const SHEET: &str = "xl/worksheets/sheet1.xml";

fn assert_refused_within_memory(dir: &Path, input: &Path, expect: &[&str]) {
    let m = run_measured(
        sheetbridge(dir, &["check", input.to_str().unwrap()]),
        6 << 30,
    );
    assert_eq!(m.code, Some(2), "{}", m.stderr);
    for e in expect {
        assert!(m.stderr.contains(e), "{e} not in: {}", m.stderr);
    }
    assert!(
        m.max_rss_kib < MAX_RSS_KIB,
        "peak {} MiB: {}",
        m.max_rss_kib >> 10,
        m.stderr
    );
}

#[test]
fn a_sheet_of_white_space_is_refused_in_bounded_memory() {
    let dir = tmp();
    let part = bomb(
        SHEET,
        SHEET_HEAD,
        b"        ",
        1 << 30,
        b"</sheetData></worksheet>",
    );
    assert!(part.data.len() < 8 << 20, "{} bytes", part.data.len());
    let input = workbook_with(dir.path(), "white.xlsx", part);
    assert_refused_within_memory(dir.path(), &input, &["1 MB"]);
}

#[test]
fn one_huge_cell_is_refused_naming_its_row() {
    let dir = tmp();
    let head = [SHEET_HEAD, br#"<row r="5"><c r="A5" t="inlineStr"><is><t>"#].concat();
    let part = bomb(
        SHEET,
        &head,
        b"xxxxxxxx",
        1 << 30,
        b"</t></is></c></row></sheetData></worksheet>",
    );
    let input = workbook_with(dir.path(), "cell.xlsx", part);
    assert_refused_within_memory(dir.path(), &input, &["第 5 行", "1 MB"]);
}

#[test]
fn a_huge_shared_string_is_refused_in_bounded_memory() {
    let dir = tmp();
    let head = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>"#;
    let part = bomb(
        "xl/sharedStrings.xml",
        head,
        b"yyyyyyyy",
        1 << 30,
        b"</t></si></sst>",
    );
    let input = workbook_with(dir.path(), "sst.xlsx", part);
    assert_refused_within_memory(dir.path(), &input, &["sharedStrings.xml"]);
}

#[test]
fn merged_cells_before_the_data_are_refused_in_bounded_memory() {
    let dir = tmp();
    let head = br#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><mergeCells count="1">"#;
    let part = bomb(
        SHEET,
        head,
        br#"<mergeCell ref="A1:B2"/>"#,
        1 << 30,
        br#"</mergeCells><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>a</t></is></c></row></sheetData></worksheet>"#,
    );
    let input = workbook_with(dir.path(), "merges.xlsx", part);
    assert_refused_within_memory(dir.path(), &input, &["合并单元格"]);
}

#[test]
fn nesting_past_1000_levels_in_an_xlsx_part_is_refused() {
    let dir = tmp();
    let sheet = [SHEET_HEAD, "<x>".repeat(200_000).as_bytes()].concat();
    let input = workbook_with(dir.path(), "deep.xlsx", stored(SHEET, &sheet));
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    r.says(2, &["1000 层"]);
}

#[test]
fn a_stored_part_with_a_wrong_crc_is_damaged() {
    let dir = tmp();
    let good = base_parts(dir.path())
        .into_iter()
        .find(|e| e.name == SHEET)
        .unwrap();
    let mut data = good.data.clone();
    // Change one digit of a cell value: still well-formed XML, only the CRC tells.
    let pos = data.windows(4).position(|w| w == b"<v>1").unwrap() + 3;
    data[pos] = b'7';
    let part = Entry { data, ..good };
    let input = workbook_with(dir.path(), "crc.xlsx", part);
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    r.says(2, &["已损坏"]);
}

#[test]
fn data_past_the_last_column_read_is_not_dropped_silently() {
    let dir = tmp();
    let mut rows = simple_rows(3);
    // Only a note far to the right on a data row.
    for _ in rows[2].len()..1_100 {
        rows[2].push(V::Blank);
    }
    rows[2].push(t("备注"));
    let input = dir.path().join("wide.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", rows)]);
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    r.says(2, &["第 1101 列", "1024"]);
    assert!(!r.stderr.contains("都是空的"), "{}", r.stderr);
}

// ---------------------------------------------------------------------------------------------
// CSV

fn csv_rows(rows: u32, bad_first: bool) -> Vec<String> {
    let mut lines = vec![
        "姓名,身份证号,性别,手机号,采样时间,检测时间,检测结果,条码号,采样点,检测机构,现住址"
            .to_owned(),
    ];
    for i in 0..rows {
        let male = i % 2 == 0;
        let mut id = id("440106", "19900101", i, male);
        if bad_first && i == 0 {
            id.replace_range(17.., if id.ends_with('1') { "2" } else { "1" });
        }
        lines.push(format!(
            "张喆{i},{id},{},1380013{:04},2022/1/10 8:30,2022/1/10 14:00,阴性,TUBE{:06},天河南街道采样点,本院,广州市天河区{i}号",
            if male { "男" } else { "女" },
            i,
            i / 10
        ));
    }
    lines
}

fn report_rows(dir: &Path, input: &Path) -> (i32, Vec<(u64, String)>) {
    let (r, rep) = run_reported(dir, &["check", input.to_str().unwrap()]);
    let rows = rep["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["row"].as_u64().unwrap(),
                i["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (r.code, rows)
}

#[test]
fn crlf_cr_and_lf_csv_give_the_same_rows_and_errors_workbook() {
    let dir = tmp();
    let lines = csv_rows(6, true);
    let mut results = Vec::new();
    for (name, end) in [("lf", "\n"), ("crlf", "\r\n"), ("cr", "\r")] {
        let input = dir.path().join(format!("{name}.csv"));
        std::fs::write(&input, lines.join(end) + end).unwrap();
        let (code, rows) = report_rows(dir.path(), &input);
        assert_eq!(code, 3);
        let errors = dir.path().join(format!("{name}_errors.xlsx"));
        let out = dir.path().join(format!("{name}_out.xlsx"));
        let r = run(
            dir.path(),
            &[
                "convert",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--errors-out",
                errors.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 3, "{}", r.stderr);
        let sheet = &read_back(&errors)[0].1;
        let texts: Vec<Vec<String>> = sheet
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect();
        results.push((rows, texts));
    }
    // The bad ID is on the first data row: line 2, counting the header as line 1.
    assert!(
        results[0].0.contains(&(2, "id_checksum".to_owned())),
        "{:?}",
        results[0].0
    );
    assert_eq!(results[0].1[0][0], "姓名", "the header stays the header");
    assert_eq!(results[0].1.len(), 2, "header and the one rejected row");
    assert_eq!(results[1], results[0], "CRLF");
    assert_eq!(results[2], results[0], "CR");
}

#[test]
fn csv_output_never_holds_a_formula() {
    let dir = tmp();
    let mut lines = csv_rows(4, false);
    lines[1] = lines[1].replace(
        "广州市天河区0号",
        "\"=HYPERLINK(\"\"http://x.invalid/?\"\"&C2,\"\"点此\"\")\"",
    );
    lines[2] = lines[2].replace("广州市天河区1号", "+1+2");
    lines[3] = lines[3].replace("广州市天河区2号", "\"\t=1+2\"");
    lines[4] = lines[4].replace("广州市天河区3号", "@SUM(1)");
    let input = dir.path().join("in.csv");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let out = dir.path().join("out.csv");
    let r = run(
        dir.path(),
        &[
            "convert",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    );
    assert!(r.code == 0 || r.code == 3, "{}", r.stderr);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let cells: Vec<String> = reader
        .records()
        .flat_map(|r| r.unwrap().iter().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert!(cells.len() > 40, "{cells:?}");
    for v in &cells {
        assert!(
            !v.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a formula: {v:?}"
        );
    }
    let defused: Vec<&String> = cells.iter().filter(|v| v.starts_with('\'')).collect();
    assert_eq!(defused.len(), 4, "{defused:?}");
    assert!(
        defused.iter().any(|v| v.starts_with("'=HYPERLINK(")),
        "{defused:?}"
    );
}

#[test]
fn one_long_cell_is_that_rows_error_not_the_files() {
    // Excel counts UTF-16 units: an emoji is two, so 16,384 of them are one too many (they once
    // failed the whole upload sheet while the check passed the row).
    for (long, shown, kept) in [
        ("址".repeat(40_000), "40000", 32_767),
        ("😀".repeat(16_384), "32768", 16_383),
        ("😀".repeat(20_000), "40000", 16_383),
    ] {
        a_long_cell_is_that_rows_error(&long, shown, kept);
    }
}

fn a_long_cell_is_that_rows_error(long: &str, shown: &str, kept: usize) {
    let dir = tmp();
    let mut lines = csv_rows(4, false);
    lines[3] = lines[3].replace("广州市天河区2号", long);
    let csv_in = dir.path().join("long.csv");
    std::fs::write(&csv_in, lines.join("\n") + "\n").unwrap();
    // The same as an HTML "xls".
    let html: String = lines
        .iter()
        .map(|l| {
            let cells: String = l.split(',').map(|c| format!("<td>{c}</td>")).collect();
            format!("<tr>{cells}</tr>\n")
        })
        .collect();
    let html_in = dir.path().join("long.xls");
    std::fs::write(
        &html_in,
        format!("<html><body><table>\n{html}</table></body></html>"),
    )
    .unwrap();
    for input in [&csv_in, &html_in] {
        let stem = input.extension().unwrap().to_string_lossy().into_owned();
        let out = dir.path().join(format!("{stem}_out.xlsx"));
        let errors = dir.path().join(format!("{stem}_errors.xlsx"));
        let (r, rep) = run_reported(
            dir.path(),
            &[
                "convert",
                input.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "--errors-out",
                errors.to_str().unwrap(),
            ],
        );
        assert_eq!(r.code, 3, "{}", r.stderr);
        assert_eq!(rep["rows_written"], 3);
        let issue = &rep["issues"][0];
        assert_eq!(issue["code"], "text_too_long");
        // CSV: line 4 (header is line 1); HTML: the fourth row of the table.
        assert_eq!(issue["row"], 4);
        assert!(
            issue["message"].as_str().unwrap().contains(shown),
            "{issue}"
        );
        let sheet = &read_back(&errors)[0].1;
        let addr = sheet[0]
            .iter()
            .position(|c| matches!(c, calamine::Data::String(s) if s == "现住址"))
            .unwrap();
        let cell = sheet[1][addr].to_string();
        assert_eq!(cell.chars().count(), kept);
        assert!(cell.encode_utf16().count() <= 32_767);
        let reasons = sheet[1].last().unwrap().to_string();
        assert!(reasons.contains("32767 个字符"), "{reasons}");
    }
}

#[test]
fn odd_text_files_get_plain_answers() {
    let dir = tmp();
    // An empty CSV is empty, not damaged.
    let empty = dir.path().join("empty.csv");
    std::fs::write(&empty, b"").unwrap();
    let r = run(dir.path(), &["check", empty.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("是空的") && !r.stderr.contains("损坏"),
        "{}",
        r.stderr
    );
    // Prose renamed .xlsx is not a spreadsheet.
    let prose = dir.path().join("notes.xlsx");
    std::fs::write(
        &prose,
        "今天下午三点开会，讨论核酸采样点的安排。\n请各科室准时参加。\n",
    )
    .unwrap();
    let r = run(dir.path(), &["check", prose.to_str().unwrap()]);
    r.says(2, &["不是表格文件"]);
    // UTF-8 with one damaged byte keeps its UTF-8 headers.
    let mut bytes = (csv_rows(4, false).join("\n") + "\n").into_bytes();
    let at = bytes.len() - 5;
    bytes[at] = 0xFE;
    let damaged = dir.path().join("damaged.csv");
    std::fs::write(&damaged, bytes).unwrap();
    let r = run(dir.path(), &["check", damaged.to_str().unwrap()]);
    assert!(
        r.code == 0 || r.code == 3,
        "headers were read: {}",
        r.stderr
    );
    // HTML nested 200,000 levels deep is refused (and quickly: the parser never sees it).
    let deep = dir.path().join("deep.xls");
    std::fs::write(
        &deep,
        format!(
            "<html><body>\n<table><tr><td>{}</td></tr></table>",
            "<div>".repeat(200_000)
        ),
    )
    .unwrap();
    let r = run(dir.path(), &["check", deep.to_str().unwrap()]);
    r.says(2, &["1000 层", "第 2 行"]);
}

// ---------------------------------------------------------------------------------------------
// The source, the profile, signals and pipes.

#[test]
fn the_source_is_never_written_over() {
    let dir = tmp();
    let input = dir.path().join("a.xlsx");
    sample::write_sample(&input).unwrap();
    let before = std::fs::read(&input).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let other_name = dir.path().join("sub/../a.xlsx");
    let link = dir.path().join("link.xlsx");
    std::fs::hard_link(&input, &link).unwrap();
    for args in [
        vec!["-o", input.to_str().unwrap()],
        vec!["-o", other_name.to_str().unwrap()],
        vec!["-o", link.to_str().unwrap()],
        vec!["--errors-out", input.to_str().unwrap()],
        vec!["--report", input.to_str().unwrap()],
    ] {
        let mut all = vec!["convert", input.to_str().unwrap()];
        all.extend(&args);
        let r = run(dir.path(), &all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("原文件"), "{}", r.stderr);
        assert_eq!(std::fs::read(&input).unwrap(), before, "{args:?}");
    }
    let r = run(
        dir.path(),
        &[
            "check",
            input.to_str().unwrap(),
            "--report",
            input.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(std::fs::read(&input).unwrap(), before);
    let left: Vec<String> = files_in(dir.path())
        .into_iter()
        .filter(|f| f.ends_with(".part") || f.ends_with(".json") || f.contains("上报"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The library's own write functions refuse too: the window's export goes through them.
    let batch = load(&input).unwrap();
    let e = sheetbridge::write::write_upload(&batch, &link).unwrap_err();
    assert!(
        matches!(e, sheetbridge::write::WriteError::IsSource { .. }),
        "{e}"
    );
    let e = sheetbridge::write::write_rejected(&batch, &input, sheetbridge::issue::Lang::Zh)
        .unwrap_err();
    assert!(
        matches!(e, sheetbridge::write::WriteError::IsSource { .. }),
        "{e}"
    );
    assert_eq!(std::fs::read(&input).unwrap(), before);
}

#[test]
fn two_outputs_of_one_run_are_never_one_file() {
    let dir = tmp();
    let input = dir.path().join("a.xlsx");
    sample::write_sample(&input).unwrap();
    std::fs::create_dir(dir.path().join("o")).unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    // An old upload sheet stays as it was.
    let old = dir.path().join("same.xlsx");
    std::fs::write(&old, b"old").unwrap();
    for args in [
        ["-o", &p("same.xlsx"), "--report", &p("same.xlsx")],
        ["-o", &p("same.xlsx"), "--errors-out", &p("o/../same.xlsx")],
        ["-o", &p("new.xlsx"), "--errors-out", &p("o/../new.xlsx")],
        ["--errors-out", &p("e.xlsx"), "--report", &p("e.xlsx")],
    ] {
        let mut all = vec!["convert", input.to_str().unwrap()];
        all.extend(args.iter().copied());
        let r = run(dir.path(), &all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("指定了两次"), "{}", r.stderr);
    }
    assert_eq!(std::fs::read(&old).unwrap(), b"old");
    let left: Vec<String> = files_in(dir.path())
        .into_iter()
        .filter(|f| f != "a.xlsx" && f != "same.xlsx" && f != "o")
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_output_that_cannot_be_written_leaves_none_of_the_others() {
    // Exit 2 is "nothing written" (cli.md): the upload sheet and the rejected rows used to be in
    // place before the report failed.
    let dir = tmp();
    let input = dir.path().join("a.xlsx");
    sample::write_sample(&input).unwrap();
    let out = dir.path().join("out.xlsx");
    std::fs::write(&out, b"old").unwrap();
    let p = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    for args in [
        [
            "--errors-out",
            &p("e.xlsx"),
            "--report",
            &p("nowhere/r.json"),
        ],
        [
            "--errors-out",
            &p("nowhere/e.xlsx"),
            "--report",
            &p("r.json"),
        ],
    ] {
        let mut all = vec![
            "convert",
            input.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ];
        all.extend(args.iter().copied());
        let r = run(dir.path(), &all);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(!r.stderr.contains("已写出"), "{}", r.stderr);
        assert_eq!(std::fs::read(&out).unwrap(), b"old");
        let left: Vec<String> = files_in(dir.path())
            .into_iter()
            .filter(|f| f != "a.xlsx" && f != "out.xlsx")
            .collect();
        assert!(left.is_empty(), "{args:?}: {left:?}");
    }
}

#[test]
fn a_broken_user_profile_is_an_error_not_the_builtin() {
    let dir = tmp();
    let input = dir.path().join("a.xlsx");
    sample::write_sample(&input).unwrap();
    let profiles = dir.path().join("config/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    std::fs::write(
        profiles.join("cdc-nat.toml"),
        "title = \"本院\"\n[[fields]]\nkey = \"name\"\nheadr = \"姓名\"\n",
    )
    .unwrap();
    for args in [
        vec!["check", input.to_str().unwrap(), "-p", "cdc-nat"],
        vec!["check", input.to_str().unwrap()],
    ] {
        let r = run(dir.path(), &args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(
            r.stderr.contains("cdc-nat.toml") && r.stderr.contains("第 4 行"),
            "{}",
            r.stderr
        );
    }
}

#[test]
fn a_closed_standard_output_ends_quietly() {
    let dir = tmp();
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = sheetbridge(dir.path(), &["profiles"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(101), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn ctrl_c_leaves_no_temporary_file_and_exits_130() {
    let dir = tmp();
    let input = dir.path().join("big.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    for line in csv_rows(60_000, true) {
        writeln!(f, "{line}").unwrap();
    }
    drop(f);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let out = out_dir.join("up.xlsx");
    let report = out_dir.join("r.json");
    let args = [
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--report",
        report.to_str().unwrap(),
    ];
    let mut child = sheetbridge(dir.path(), &args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait (without a deadline: the run itself ends) for the upload sheet's temporary file.
    let mut seen = false;
    while child.try_wait().unwrap().is_none() {
        if files_in(&out_dir).iter().any(|f| f.ends_with(".part")) {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(seen, "the run ended before its output was being written");
    // SAFETY: sends SIGINT to our own child, which has not been waited for.
    unsafe {
        libc::kill(child.id() as libc::pid_t, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert_eq!(
        files_in(&out_dir),
        Vec::<String>::new(),
        "nothing left, no report"
    );
}

// ---------------------------------------------------------------------------------------------
// Old-format workbooks built by hand: a compound file (version 3, 512-byte sectors) holding one
// BIFF8 `Workbook` stream, so a sheet can name any cell.

fn biff(typ: u16, data: &[u8]) -> Vec<u8> {
    let mut r = typ.to_le_bytes().to_vec();
    r.extend((data.len() as u16).to_le_bytes());
    r.extend(data);
    r
}

/// A text cell (Label, the string as UTF-16).
fn xls_text(row: u16, col: u16, text: &str) -> Vec<u8> {
    let units: Vec<u16> = text.encode_utf16().collect();
    let mut d = [row.to_le_bytes(), col.to_le_bytes(), 0u16.to_le_bytes()].concat();
    d.extend((units.len() as u16).to_le_bytes());
    d.push(1);
    d.extend(units.iter().flat_map(|u| u.to_le_bytes()));
    biff(0x0204, &d)
}

/// A number cell.
fn xls_number(row: u16, col: u16, n: f64) -> Vec<u8> {
    let mut d = [row.to_le_bytes(), col.to_le_bytes(), 0u16.to_le_bytes()].concat();
    d.extend(n.to_le_bytes());
    biff(0x0203, &d)
}

/// An `.xls` with one sheet `Sheet1` holding `cells` (BIFF records).
fn xls_file(cells: &[Vec<u8>]) -> Vec<u8> {
    let bof = |dt: u16| {
        let mut d = [0x0600u16.to_le_bytes(), dt.to_le_bytes()].concat();
        d.extend([0u8; 12]);
        biff(0x0809, &d)
    };
    let bound = |pos: u32| {
        let mut d = pos.to_le_bytes().to_vec();
        d.extend([0, 0, 6, 0]);
        d.extend(b"Sheet1");
        biff(0x0085, &d)
    };
    // Padding in the globals (an unknown record), so the stream is past the mini-stream size.
    let pad = biff(0x0899, &[0u8; 4200]);
    let eof = biff(0x000A, &[]);
    let globals = bof(5).len() + pad.len() + bound(0).len() + eof.len();
    let mut stream = [bof(5), pad, bound(globals as u32), eof.clone(), bof(0x10)].concat();
    for c in cells {
        stream.extend(c);
    }
    stream.extend(eof);
    let stream_len = stream.len();
    stream.resize(stream_len.div_ceil(512) * 512, 0);
    let stream_sectors = (stream.len() / 512) as u32;
    let (end, free) = (0xFFFF_FFFEu32, 0xFFFF_FFFFu32);
    assert!(stream_sectors + 2 <= 128, "one FAT sector is enough");
    let mut header = vec![0u8; 512];
    header[..8].copy_from_slice(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]);
    header[24..26].copy_from_slice(&0x3Eu16.to_le_bytes());
    header[26..28].copy_from_slice(&3u16.to_le_bytes());
    header[28..30].copy_from_slice(&0xFFFEu16.to_le_bytes());
    header[30..32].copy_from_slice(&9u16.to_le_bytes());
    header[32..34].copy_from_slice(&6u16.to_le_bytes());
    header[44..48].copy_from_slice(&1u32.to_le_bytes()); // FAT sectors
    header[48..52].copy_from_slice(&1u32.to_le_bytes()); // directory at sector 1
    header[56..60].copy_from_slice(&4096u32.to_le_bytes());
    header[60..64].copy_from_slice(&end.to_le_bytes()); // no mini FAT
    header[68..72].copy_from_slice(&end.to_le_bytes()); // no DIFAT sectors
    for (i, chunk) in header[76..512].chunks_exact_mut(4).enumerate() {
        chunk.copy_from_slice(&if i == 0 { 0 } else { free }.to_le_bytes());
    }
    // Sector 0: the FAT; 1: the directory; 2..: the stream.
    let mut fat = vec![0xFFFF_FFFDu32, end];
    fat.extend((0..stream_sectors).map(|i| if i + 1 == stream_sectors { end } else { i + 3 }));
    fat.resize(128, free);
    let entry = |name: &str, typ: u8, start: u32, len: u32| {
        let mut e = vec![0u8; 128];
        let units: Vec<u8> = name.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        e[..units.len()].copy_from_slice(&units);
        e[64..66].copy_from_slice(&(units.len() as u16 + 2).to_le_bytes());
        e[66] = typ;
        e[68..80].copy_from_slice(&[0xFF; 12]); // no siblings, no child
        e[116..120].copy_from_slice(&start.to_le_bytes());
        e[120..124].copy_from_slice(&len.to_le_bytes());
        e
    };
    let mut root = entry("Root Entry", 5, end, 0);
    root[76..80].copy_from_slice(&1u32.to_le_bytes()); // child: the stream
    let dir = [
        root,
        entry("Workbook", 2, 2, stream_len as u32),
        vec![0u8; 128],
        vec![0u8; 128],
    ]
    .concat();
    let fat: Vec<u8> = fat.iter().flat_map(|w| w.to_le_bytes()).collect();
    [header, fat, dir, stream].concat()
}

#[test]
fn an_xls_that_names_a_cell_far_away_is_refused_in_bounded_memory() {
    let dir = tmp();
    // The same builder makes a file that reads: the far cell is the only difference.
    let fine = dir.path().join("fine.xls");
    let rows = [
        xls_text(0, 0, "姓名"),
        xls_text(0, 1, "年龄"),
        xls_text(1, 0, "张三"),
        xls_number(1, 1, 35.0),
    ];
    std::fs::write(&fine, xls_file(&rows)).unwrap();
    let mut wb = sheetbridge::read::Workbook::open(&fine).unwrap();
    let mut seen = Vec::new();
    wb.for_each_row("Sheet1", &mut |r, cells| {
        seen.push((r, cells.iter().map(|c| c.display()).collect::<Vec<_>>()));
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [
            (0, vec!["姓名".to_owned(), "年龄".into()]),
            (1, vec!["张三".into(), "35".into()])
        ]
    );
    // Row 65,536, column 65,536: calamine would lay out 4 billion cells (128 GB).
    let far = dir.path().join("far.xls");
    let mut cells = rows.to_vec();
    cells.push(xls_number(65_535, 65_535, 1.0));
    std::fs::write(&far, xls_file(&cells)).unwrap();
    assert_refused_within_memory(
        dir.path(),
        &far,
        &["Sheet1", "65536 行 × 65536 列", "已损坏", ".xlsx"],
    );
}

/// An `.ods` whose first sheet has `table` (rows) as its content.
fn ods_file(path: &Path, table: &str) {
    let content = format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body><office:spreadsheet><table:table table:name="Sheet1">{table}</table:table></office:spreadsheet></office:body></office:document-content>"#
    );
    let manifest = r#"<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2"><manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>"#;
    write_zip(
        path,
        &[
            stored(
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet",
            ),
            stored("META-INF/manifest.xml", manifest.as_bytes()),
            stored("content.xml", content.as_bytes()),
        ],
    );
}

#[test]
fn ods_repeat_bombs_are_refused_in_bounded_memory() {
    let dir = tmp();
    let text = |s: &str| {
        format!(
            r#"<table:table-cell office:value-type="string"><text:p>{s}</text:p></table:table-cell>"#
        )
    };
    let fine = dir.path().join("fine.ods");
    ods_file(
        &fine,
        &format!(
            r#"<table:table-row>{}{}<table:table-cell table:number-columns-repeated="16382"/></table:table-row><table:table-row>{}{}</table:table-row><table:table-row table:number-rows-repeated="1048574"><table:table-cell table:number-columns-repeated="16384"/></table:table-row>"#,
            text("姓名"),
            text("年龄"),
            text("张三"),
            text("35")
        ),
    );
    let mut wb = sheetbridge::read::Workbook::open(&fine).unwrap();
    let mut n = 0;
    wb.for_each_row("Sheet1", &mut |_, _| {
        n += 1;
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(n, 2);
    // A value repeated down a million rows, and one repeated across every column of many rows:
    // a few hundred bytes of XML each, billions of cells in calamine.
    let rows_bomb = dir.path().join("rows.ods");
    ods_file(
        &rows_bomb,
        &format!(
            r#"<table:table-row>{}</table:table-row><table:table-row table:number-rows-repeated="1000000"><table:table-cell office:value-type="float" office:value="1" table:number-columns-repeated="90"/></table:table-row>"#,
            text("姓名")
        ),
    );
    assert_refused_within_memory(dir.path(), &rows_bomb, &["Sheet1", "1000001 行 × 90 列"]);
    let cols_bomb = dir.path().join("cols.ods");
    ods_file(
        &cols_bomb,
        &r#"<table:table-row><table:table-cell office:value-type="string" table:number-columns-repeated="16384"><text:p>x</text:p></table:table-cell></table:table-row>"#
            .repeat(6_000),
    );
    assert_refused_within_memory(dir.path(), &cols_bomb, &["Sheet1", "16384 列"]);
}

#[test]
fn damaged_utf8_in_a_csv_is_a_warning_naming_the_row_and_count() {
    let dir = tmp();
    let lines = csv_rows(8, false);
    let mut bytes = lines.join("\r\n").into_bytes();
    // Damage the line of the fourth data row (line 5): the two bytes after the first of 天 in
    // its address; each of the three bytes left over is read as one replacement character.
    let start = lines[..4].iter().map(|l| l.len() + 2).sum::<usize>();
    let pos = start + lines[4].rfind("天河区").unwrap();
    bytes[pos + 1] = 0xFF;
    bytes[pos + 2] = 0xFE;
    let input = dir.path().join("damaged.csv");
    std::fs::write(&input, &bytes).unwrap();
    let (r, report) = run_reported(dir.path(), &["check", input.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(report["issues"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(report["issues"][0]["code"], "text_damaged");
    assert_eq!(report["issues"][0]["row"], 5);
    let message = report["issues"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("第 5 行「现住址」") && message.contains("有 3 个字读不出来"),
        "{message}"
    );
    assert_eq!(report["issues"][0]["severity"], "warning");
    // The headers were read as UTF-8, not as GBK.
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    assert!(r.stderr.contains("读不出来"), "{}", r.stderr);
}

/// The command with every file it writes stopped at 20 KB, as on a full disk (EFBIG instead of
/// SIGXFSZ, which is ignored).
fn on_a_full_disk(cmd: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setrlimit and signal are async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let cap = libc::rlimit {
                rlim_cur: 20_000,
                rlim_max: 20_000,
            };
            libc::setrlimit(libc::RLIMIT_FSIZE, &cap);
            Ok(())
        })
    }
}

#[test]
fn a_full_disk_gives_one_chinese_message_and_no_file() {
    let dir = tmp();
    let input = dir.path().join("big.csv");
    std::fs::write(&input, csv_rows(3_000, false).join("\n")).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    for name in ["upload.xlsx", "upload.csv"] {
        let output = out_dir.join(name);
        let args = [
            "convert",
            input.to_str().unwrap(),
            "-o",
            output.to_str().unwrap(),
        ];
        let mut cmd = sheetbridge(dir.path(), &args);
        let r = Run::from(on_a_full_disk(&mut cmd).output().unwrap());
        r.says(2, &["无法写入", "超过了这个磁盘"]);
        assert!(!r.stderr.contains("ZipWriter"), "{name}: {}", r.stderr);
        let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
        assert!(left.is_empty(), "{name}: {left:?}");
    }
}

#[test]
fn an_export_does_not_need_the_system_temporary_folder() {
    // The workbook writer's temporary files go beside the output: a system temporary folder
    // that is gone (or full, or a small RAM disk) does not stop the export.
    let dir = tmp();
    let input = dir.path().join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let out = dir.path().join("up.xlsx");
    let errors = dir.path().join("errors.xlsx");
    let args = [
        "convert",
        input.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--errors-out",
        errors.to_str().unwrap(),
    ];
    let r = Run::from(
        sheetbridge(dir.path(), &args)
            .env("TMPDIR", dir.path().join("no-such-folder"))
            .output()
            .unwrap(),
    );
    r.says(3, &[]);
    assert!(read_back(&out)[0].1.len() > 1, "{}", r.stderr);
    assert!(read_back(&errors)[0].1.len() > 1, "{}", r.stderr);
    assert_eq!(
        files_in(dir.path()),
        ["errors.xlsx", "up.xlsx", "样例.xlsx"]
    );
}

#[test]
fn a_diagnostic_bundle_on_a_full_disk_is_one_message_and_no_file() {
    let dir = tmp();
    // A profile folder larger than the disk's room, hard to compress (hex of a simple generator).
    let profiles = dir.path().join("config/profiles");
    std::fs::create_dir_all(&profiles).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: String = (0..12_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("# {x:016x}\n")
        })
        .collect();
    std::fs::write(profiles.join("big.toml"), noise).unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let bundle = out_dir.join("bundle.zip");
    let mut cmd = sheetbridge(dir.path(), &["diagnose", "-o", bundle.to_str().unwrap()]);
    let r = Run::from(on_a_full_disk(&mut cmd).output().unwrap());
    r.says(2, &["超过了这个磁盘"]);
    assert!(!r.stderr.contains("ZipWriter"), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    let left: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_panic_in_calamine_shows_only_the_chinese_message() {
    let dir = tmp();
    let mut bytes = xls_file(&[xls_text(0, 0, "姓名"), xls_text(1, 0, "张三")]);
    // The FAT sends the stream's second sector to sector 200, past the end of the FAT itself:
    // calamine's compound-file reader indexes its FAT there and panics.
    bytes[512 + 2 * 4..512 + 3 * 4].copy_from_slice(&200u32.to_le_bytes());
    bytes.resize(202 * 512, 0);
    let input = dir.path().join("panics.xls");
    std::fs::write(&input, &bytes).unwrap();
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.starts_with("错误："), "{}", r.stderr);
    assert!(r.stderr.contains("已损坏"), "{}", r.stderr);
    assert!(
        !r.stderr.contains("panicked") && !r.stderr.contains("thread"),
        "{}",
        r.stderr
    );
    // The detail is in the log, for support.
    let logs = dir.path().join("data/logs/sheetbridge.log");
    let log = std::fs::read_to_string(&logs).unwrap_or_default();
    assert!(log.contains("caught:"), "{}: {log}", logs.display());
}
