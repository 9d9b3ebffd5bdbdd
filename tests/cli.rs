//! The command line contract of cli.md: outputs, exit codes, the report, languages.

use crate::support::*;

#[test]
fn sample_converts_with_exit_3_and_the_expected_rows() {
    let dir = tmp();
    let input = dir.path().join("样例.xlsx");
    let expect = sample::write_sample(&input).unwrap();
    let errors = dir.path().join("errors.xlsx");
    let (r, rep) = run_reported(
        dir.path(),
        &[
            "convert",
            input.to_str().unwrap(),
            "--errors-out",
            errors.to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(
        r.stderr.contains("cdc-nat"),
        "the chosen profile is named: {}",
        r.stderr
    );

    assert_eq!(rep["header_row"], expect.header_row);
    assert_eq!(rep["profile"], "cdc-nat");
    assert_eq!(rep["sheet"], "核酸检测结果");
    assert_eq!(rep["rows_total"], expect.total);
    assert_eq!(rep["rows_rejected"], expect.rejected);
    assert_eq!(rep["rows_duplicate"], expect.duplicate);
    let written = expect.total - expect.rejected - expect.duplicate;
    assert_eq!(rep["rows_written"], written);
    assert_eq!(rep["unused_columns"], serde_json::json!(["序号"]));

    let issues = rep["issues"].as_array().unwrap();
    let mut errs: Vec<(u32, &str)> = issues
        .iter()
        .filter(|i| i["severity"] == "error")
        .map(|i| {
            (
                i["row"].as_u64().unwrap() as u32,
                i["code"].as_str().unwrap(),
            )
        })
        .collect();
    errs.sort();
    assert_eq!(errs, expect.errors);
    // Sorted by row, then template column order; every message names row and column.
    let keys: Vec<(u64, usize)> = issues
        .iter()
        .map(|i| {
            let col = [
                "name",
                "id_type",
                "id_number",
                "sex",
                "age",
                "phone",
                "sampled_at",
                "tested_at",
                "result",
                "barcode",
                "site",
                "lab",
                "category",
                "address",
            ]
            .iter()
            .position(|f| *f == i["field"])
            .unwrap();
            (i["row"].as_u64().unwrap(), col)
        })
        .collect();
    assert!(keys.windows(2).all(|w| w[0] <= w[1]), "{keys:?}");
    for i in issues {
        let msg = i["message"].as_str().unwrap();
        assert!(
            msg.starts_with(&format!(
                "第 {} 行「{}」: ",
                i["row"],
                i["column"].as_str().unwrap()
            )),
            "{msg}"
        );
    }
    let checksum = issues.iter().find(|i| i["code"] == "id_checksum").unwrap();
    assert_eq!(checksum["row"], 15);
    assert_eq!(checksum["column"], "证件号码");

    // The upload sheet: Sheet1, the template header, every cell text.
    let out = dir.path().join("样例_上报.xlsx");
    let sheets = read_back(&out);
    assert_eq!(sheets[0].0, "Sheet1");
    let rows = read_text_sheet(&out);
    assert_eq!(
        rows[0],
        [
            "姓名",
            "证件类型",
            "证件号码",
            "性别",
            "年龄",
            "联系电话",
            "采样时间",
            "检测时间",
            "检测结果",
            "样本编号",
            "采样点",
            "检测机构",
            "人群分类",
            "现住址"
        ]
    );
    assert_eq!(rows.len() - 1, written);
    // Row 5's phone "+86 138-0013-8001", row 13's name " 孙　磊 ", the minority-name dot.
    assert!(rows.iter().any(|r| r[5] == "13800138001"));
    assert!(rows.iter().any(|r| r[0] == "孙 磊"));
    assert!(rows.iter().any(|r| r[0] == "阿依古丽·买买提"));
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[1] == "01" && (r[3] == "1" || r[3] == "2") && r[8] == "阴性")
    );
    assert!(
        rows[1..]
            .iter()
            .all(|r| r[6].len() == 19 && r[7].len() == 19)
    );

    // The rejected rows: as in the source, with 错误原因 last.
    let rejected = &read_back(&errors)[0].1;
    assert_eq!(rejected.len() - 1, expect.rejected);
    let last = rejected[0].len() - 1;
    assert_eq!(rejected[0][last], calamine::Data::String("错误原因".into()));
    let reasons: Vec<String> = rejected[1..].iter().map(|r| r[last].to_string()).collect();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("第 15 行「证件号码」: 身份证号校验位错误")),
        "{reasons:?}"
    );
    // The number-typed ID stays a number, as it was.
    assert!(
        rejected[1..]
            .iter()
            .any(|r| matches!(r[3], calamine::Data::Float(_)))
    );
    assert!(!files_in(dir.path()).iter().any(|f| f.ends_with(".part")));
}

#[test]
fn all_valid_gives_exit_0_and_default_output_name() {
    let dir = tmp();
    let input = dir.path().join("export.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(25))]);
    let r = run(dir.path(), &["convert", input.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = read_text_sheet(&dir.path().join("export_上报.xlsx"));
    assert_eq!(rows.len(), 26);
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    assert_eq!(r.code, 0);
}

#[test]
fn csv_output_has_bom_and_all_rows() {
    let dir = tmp();
    let input = dir.path().join("export.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(3))]);
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
    assert_eq!(r.code, 0, "{}", r.stderr);
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with("\u{feff}姓名,证件类型,证件号码".as_bytes()));
    assert_eq!(String::from_utf8(bytes).unwrap().lines().count(), 4);
}

#[test]
fn unreadable_inputs_exit_2_with_chinese_message_and_no_output() {
    let dir = tmp();
    let good = dir.path().join("good.xlsx");
    write_xlsx(&good, &[SheetSpec::new("Sheet1", simple_rows(5))]);
    let bytes = std::fs::read(&good).unwrap();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated.xlsx",
            bytes[..bytes.len() / 2].to_vec(),
            "损坏或不完整",
        ),
        ("notes.xlsx", "这不是表格".repeat(10).into_bytes(), ""),
        (
            "photo.xls",
            vec![0x89, b'P', b'N', b'G', 0, 0, 0, 13, 0, 1, 2, 3],
            "不是表格文件",
        ),
        ("empty.csv", Vec::new(), "是空的"),
        ("zeros.xls", vec![0; 4096], "不是表格文件"),
    ];
    for (name, content, needle) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, content).unwrap();
        let before = files_in(dir.path());
        let r = run(dir.path(), &["convert", input.to_str().unwrap()]);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(r.stderr.starts_with("错误："), "{name}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{name}: {}", r.stderr);
        assert!(!r.stderr.contains("panicked"), "{name}");
        assert_eq!(files_in(dir.path()), before, "{name}: nothing written");
    }
    let r = run(
        dir.path(),
        &["convert", dir.path().join("missing.xlsx").to_str().unwrap()],
    );
    r.says(2, &["找不到文件"]);
}

#[test]
fn no_matching_profile_names_missing_fields_and_found_headers() {
    let dir = tmp();
    let input = dir.path().join("other.xlsx");
    write_xlsx(
        &input,
        &[SheetSpec::new(
            "Sheet1",
            vec![
                vec![t("姓名"), t("电话"), t("备注")],
                vec![t("张三"), t("13800138000"), t("x")],
            ],
        )],
    );
    let r = run(dir.path(), &["convert", input.to_str().unwrap()]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("证件号码、采样时间、检测时间、检测结果、样本编号"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("姓名、电话、备注"), "{}", r.stderr);
    assert_eq!(files_in(dir.path()), ["other.xlsx"]);
}

#[test]
fn not_one_valid_row_writes_nothing() {
    let dir = tmp();
    let input = dir.path().join("bad.xlsx");
    let mut rows = simple_rows(2);
    for r in &mut rows[1..] {
        r[5] = t("123");
    }
    write_xlsx(&input, &[SheetSpec::new("Sheet1", rows)]);
    let r = run(dir.path(), &["convert", input.to_str().unwrap()]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!dir.path().join("bad_上报.xlsx").exists());
}

#[test]
fn bad_arguments_exit_2() {
    let dir = tmp();
    assert_eq!(run(dir.path(), &["convert"]).code, 2);
    assert_eq!(run(dir.path(), &["frobnicate"]).code, 2);
    let input = dir.path().join("e.xlsx");
    write_xlsx(&input, &[SheetSpec::new("Sheet1", simple_rows(2))]);
    let r = run(
        dir.path(),
        &[
            "convert",
            input.to_str().unwrap(),
            "-o",
            dir.path().join("x.pdf").to_str().unwrap(),
        ],
    );
    r.says(2, &[".xlsx 或 .csv"]);
    let r = run(
        dir.path(),
        &["convert", input.to_str().unwrap(), "--sheet", "没有这个"],
    );
    r.says(2, &["没有名为「没有这个」的工作表"]);
    let r = run(
        dir.path(),
        &["convert", input.to_str().unwrap(), "-p", "nope"],
    );
    r.says(2, &["找不到名为「nope」的模板"]);
    assert!(
        run(dir.path(), &["--version"])
            .stdout
            .starts_with("sheetbridge ")
    );
}

#[test]
fn english_messages_with_lang_en() {
    let dir = tmp();
    let input = dir.path().join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let r = run(
        dir.path(),
        &["--lang", "en", "check", input.to_str().unwrap()],
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("Row 15, \"证件号码\": resident ID check digit is wrong"),
        "{}",
        r.stderr
    );
    let report = dir.path().join("r.json");
    run(
        dir.path(),
        &[
            "check",
            input.to_str().unwrap(),
            "--lang",
            "en",
            "--report",
            report.to_str().unwrap(),
        ],
    );
    assert!(
        std::fs::read_to_string(&report)
            .unwrap()
            .contains("check digit is wrong")
    );
}

#[test]
fn check_writes_only_the_report() {
    let dir = tmp();
    let input = dir.path().join("样例.xlsx");
    sample::write_sample(&input).unwrap();
    let r = run(
        dir.path(),
        &[
            "check",
            input.to_str().unwrap(),
            "--report",
            dir.path().join("r.json").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3);
    assert_eq!(files_in(dir.path()), ["r.json", "样例.xlsx"]);
}

#[test]
fn profiles_lists_builtin_and_user_files_and_a_user_profile_is_used() {
    let dir = tmp();
    let pdir = dir.path().join("config/profiles");
    std::fs::create_dir_all(&pdir).unwrap();
    // A user's profile: a short template of four columns with its own header names.
    std::fs::write(
        pdir.join("mini.toml"),
        r#"title = "简表"
[roles]
barcode = "tube"
[[fields]]
key = "who"
header = "姓名"
aliases = ["人员"]
required = true
[[fields]]
key = "tube"
header = "管号"
aliases = ["试管"]
required = true
pattern = "^[0-9]{4}$"
code = "tube_format"
message = "管号「{0}」应为 4 位数字。"
"#,
    )
    .unwrap();
    std::fs::write(
        pdir.join("broken.toml"),
        "title = \"x\"\n[[fields]]\nkey = 1\n",
    )
    .unwrap();
    let r = run(dir.path(), &["profiles"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("cdc-nat\t"), "{}", r.stdout);
    assert!(r.stdout.contains("mini\t简表\t"), "{}", r.stdout);
    assert!(
        r.stdout.contains("broken.toml") && r.stdout.contains("第 3 行"),
        "{}",
        r.stdout
    );

    let input = dir.path().join("in.csv");
    std::fs::write(&input, "人员,试管\n张三,1234\n李四,12\n").unwrap();
    let (r, rep) = run_reported(dir.path(), &["convert", input.to_str().unwrap()]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(rep["profile"], "mini");
    assert_eq!(rep["issues"][0]["code"], "tube_format");
    assert_eq!(
        rep["issues"][0]["message"],
        "第 3 行「试管」: 管号「12」应为 4 位数字。"
    );
    // -p with a path.
    let r = run(
        dir.path(),
        &[
            "check",
            input.to_str().unwrap(),
            "-p",
            pdir.join("mini.toml").to_str().unwrap(),
        ],
    );
    assert_eq!(r.code, 3, "{}", r.stderr);
    let r = run(
        dir.path(),
        &["check", input.to_str().unwrap(), "-p", "broken"],
    );
    r.says(2, &["broken.toml", "key"]);
}

#[test]
fn lab_default_comes_from_the_flag() {
    let dir = tmp();
    let input = dir.path().join("nolab.csv");
    std::fs::write(
        &input,
        "姓名,身份证号,手机,采样时间,检测时间,结果,条码\n王伟,".to_owned()
            + &id("440106", "19900101", 1, true)
            + ",13800138000,2022-01-10 08:00,2022-01-10 12:00,阴性,AB123456\n",
    )
    .unwrap();
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    assert_eq!(r.code, 2, "no lab, no valid row: {}", r.stderr);
    assert!(r.stderr.contains("「检测机构」: 不能为空"), "{}", r.stderr);
    let r = run(
        dir.path(),
        &[
            "convert",
            input.to_str().unwrap(),
            "--lab",
            "天河区人民医院",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rows = read_text_sheet(&dir.path().join("nolab_上报.xlsx"));
    assert_eq!(rows[1][11], "天河区人民医院");
    assert_eq!(rows[1][3], "1", "sex derived from the ID");
    assert_eq!(rows[1][4], "32", "age derived at the sampling date");
}

#[test]
fn a_wps_et_file_is_refused_with_what_to_do() {
    // A WPS 表格 file is an OLE container that is not an Excel workbook: here, the start of a
    // real .xls, cut short so that calamine cannot read it.
    let dir = tmp();
    let xls = std::fs::read(repo().join("tests/fixtures/city.xls")).unwrap();
    let input = dir.path().join("导出.et");
    std::fs::write(&input, &xls[..2048]).unwrap();
    let r = run(dir.path(), &["check", input.to_str().unwrap()]);
    r.says(2, &["WPS", "另存为"]);
}

#[test]
fn a_renderer_that_fails_leads_to_one_restart_then_the_message() {
    // Both tries fail on purpose (Linux: glow, then glow on Mesa's software renderer); no
    // display, so the message box has nothing to open on and the program ends at once.
    let dir = tmp();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .arg("window")
        .env("SHEETBRIDGE_FAIL_RENDERER", "glow,wgpu")
        .env("SHEETBRIDGE_CONFIG_DIR", dir.path().join("config"))
        .env("SHEETBRIDGE_DATA_DIR", dir.path().join("data"))
        .env_remove("SHEETBRIDGE_RENDERER")
        .env_remove("LIBGL_ALWAYS_SOFTWARE")
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("换一种绘图方式再试").count(), 1, "{stderr}");
    assert!(stderr.contains("错误：无法打开窗口"), "{stderr}");
    assert!(stderr.contains("请让信息科更新显卡驱动"), "{stderr}");
}

/// A full disk under `> file` is said in one plain line and exits 2, not a panic; a closed
/// pipe ends the run quietly.
#[cfg(target_os = "linux")]
#[test]
fn output_that_cannot_be_written_is_said_once_without_a_panic() {
    let home = tmp();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_sheetbridge"))
        .arg("profiles")
        .env("SHEETBRIDGE_CONFIG_DIR", home.path().join("config"))
        .env("SHEETBRIDGE_DATA_DIR", home.path().join("data"))
        .env_remove("SHEETBRIDGE_LANG")
        .stdout(std::fs::File::create("/dev/full").unwrap())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("结果没能写出（磁盘已满）"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
