//! The rules of template.md on tiny generated workbooks, one test per point of issue 9:
//! 1904 dates, times without a date, age at sampling, document types, region codes, gene-level
//! results, header aliases, half-width characters, future times.

use crate::support::*;
use sheetbridge::batch::{Batch, RowStatus};
use sheetbridge::issue::Severity;

fn load_rows(rows: Vec<Vec<V>>) -> Batch {
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", rows)]);
    load(&path).unwrap()
}

/// Header plus one row per change of a valid person.
fn rows_with(changes: &[&[(usize, V)]]) -> Vec<Vec<V>> {
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect::<Vec<_>>()];
    for (i, change) in changes.iter().enumerate() {
        let mut r = person(i as u32, &format!("RULE{i:06}"));
        for (c, v) in change.iter() {
            r[*c] = v.clone();
        }
        rows.push(r);
    }
    rows
}

fn severities(batch: &Batch, index: usize) -> Vec<(String, Severity)> {
    batch
        .issues(index)
        .iter()
        .map(|i| (batch.code_name(i), i.severity))
        .collect()
}

#[test]
fn plain_number_dates_in_1904_workbooks_are_not_four_years_off() {
    for file in ["serial_1904.xlsx", "serial_1904.xls"] {
        let path = repo().join("tests/fixtures").join(file);
        let batch = load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        // Only the wrong check digit of row 6; no age warning from a 2018 date.
        assert_eq!(codes(&batch), [(6, "id_checksum".to_owned())], "{file}");
        let p = &batch.profile();
        let (s, t) = (
            p.field_index("sampled_at").unwrap(),
            p.field_index("tested_at").unwrap(),
        );
        for i in 0..batch.len() {
            assert_eq!(batch.output_value(i, s), "2022-01-10 08:30:00", "{file}");
            assert_eq!(batch.output_value(i, t), "2022-01-10 14:00:00", "{file}");
        }
    }
    let wb = sheetbridge::read::Workbook::open(&repo().join("tests/fixtures/serial_1904.xls"));
    assert!(wb.unwrap().date_1904());
    let wb = sheetbridge::read::Workbook::open(&repo().join("tests/fixtures/city.xls"));
    assert!(!wb.unwrap().date_1904());
}

#[test]
fn a_time_without_a_date_is_date_format_not_a_day_in_1900() {
    let dir = tmp();
    let path = dir.path().join("times.xlsx");
    let mut rows = rows_with(&[
        &[(1, t("护照")), (2, t("E12345678")), (6, t("13.5"))],
        &[(6, t("9.54"))],
        &[(6, t("8:30"))],
        &[],
    ]);
    rows[4][6] = V::Blank;
    // Row 5: a cell holding only a time (0.5), formatted hh:mm.
    write_with_time_cell(&path, &rows, (4, 6, 0.5));
    let batch = load(&path).unwrap();
    assert_eq!(
        codes(&batch),
        [
            (2, "date_format".to_owned()),
            (3, "date_format".to_owned()),
            (4, "date_format".to_owned()),
            (5, "date_format".to_owned()),
        ]
    );
    for i in 0..4 {
        assert_eq!(batch.status(i), RowStatus::Rejected);
        assert!(
            !batch.value(i, 6).starts_with("1900"),
            "{}",
            batch.value(i, 6)
        );
    }
    assert_eq!(batch.value(3, 6), "12:00:00");
}

/// Writes `rows` like `write_xlsx`, plus one number cell formatted `hh:mm`.
fn write_with_time_cell(path: &std::path::Path, rows: &[Vec<V>], time: (u32, u16, f64)) {
    use rust_xlsxwriter::{Format, Workbook};
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    for (r, row) in rows.iter().enumerate() {
        for (c, v) in row.iter().enumerate() {
            let (r, c) = (r as u32, c as u16);
            match v {
                V::T(x) => ws.write_string(r, c, x).map(|_| ()),
                V::N(n) => ws.write_number(r, c, *n).map(|_| ()),
                V::D(dt) => ws.write_datetime_with_format(r, c, dt, &date).map(|_| ()),
                V::Blank => Ok(()),
            }
            .unwrap();
        }
    }
    let hhmm = Format::new().set_num_format("hh:mm");
    ws.write_number_with_format(time.0, time.1, time.2, &hhmm)
        .unwrap();
    wb.save(path).unwrap();
}

#[test]
fn age_is_not_compared_with_today_when_sampling_time_is_unusable() {
    // Born 2010-03-16, 11 at sampling; "昨天上午" cannot be read.
    let born = id("440106", "20100316", 7, false);
    let batch = load_rows(rows_with(&[&[
        (2, t(&born)),
        (3, t("女")),
        (4, V::N(11.0)),
        (6, t("昨天上午")),
    ]]));
    assert_eq!(codes(&batch), [(2, "date_format".to_owned())]);
}

#[test]
fn an_unknown_document_type_is_one_error_and_not_checked_as_a_resident_id() {
    let batch = load_rows(rows_with(&[&[(1, t("学生证")), (2, t("G66570351"))]]));
    assert_eq!(codes(&batch), [(2, "id_type_value".to_owned())]);
    // The person is the pair as written, for repeats and conflicts.
    assert_eq!(batch.person_id(0), "学生证|G66570351");
}

#[test]
fn military_driving_licence_and_permanent_residence_ids() {
    let fpr = format!("94484019850305123{}", check_char("94484019850305123"));
    let licence = id("440106", "19900101", 3, true);
    let batch = load_rows(rows_with(&[
        &[(1, t("军官证")), (2, t("军字第123456号"))],
        &[
            (1, t("驾驶证")),
            (2, t(&licence)),
            (3, t("男")),
            (4, V::N(32.0)),
        ],
        &[
            (1, t("外国人永久居留身份证")),
            (2, t(&fpr)),
            (3, t("男")),
            (4, V::N(36.0)),
        ],
        &[(1, t("永居证")), (2, t("USA110085030512")), (3, t("女"))],
        // A 9-number filed as 居民身份证: taken as a permanent residence ID, with a warning.
        &[
            (1, t("居民身份证")),
            (2, t(&fpr)),
            (3, t("男")),
            (4, V::N(36.0)),
        ],
    ]));
    assert_eq!(codes(&batch), [(6, "id_type_changed".to_owned())]);
    assert_eq!(severities(&batch, 4)[0].1, Severity::Warning);
    let written: Vec<&str> = (0..5).map(|i| batch.output_value(i, 1)).collect();
    assert_eq!(written, ["04", "05", "99", "99", "99"]);
    assert_eq!(batch.summary().ready, 5);
    let msg = batch.message(4, &batch.issues(4)[0], sheetbridge::issue::Lang::Zh);
    assert!(
        msg.contains("外国人永久居留身份证") && msg.contains("居民身份证"),
        "{msg}"
    );
}

#[test]
fn region_missing_from_the_table_is_a_warning_a_bad_province_an_error() {
    // 332829: an old Zhejiang county code missing from the table, with a right check digit.
    let old = id("332829", "19800101", 5, true);
    let bad_province = id("162829", "19800101", 5, true);
    let batch = load_rows(rows_with(&[
        &[(2, t(&old)), (3, t("男")), (4, V::N(42.0))],
        &[(2, t(&bad_province)), (3, t("男")), (4, V::N(42.0))],
    ]));
    assert_eq!(
        severities(&batch, 0),
        [("id_region".to_owned(), Severity::Warning)]
    );
    assert_eq!(batch.status(0), RowStatus::Ready);
    assert_eq!(
        severities(&batch, 1),
        [("id_region".to_owned(), Severity::Error)]
    );
}

#[test]
fn gene_level_results() {
    let batch = load_rows(rows_with(&[
        &[(8, t("ORF1ab阴性，N基因阴性"))],
        &[(8, t("ORF1a/b:阳性 N:阳性"))],
        &[(8, t("ORF1ab阴性，N基因阳性"))],
        &[(8, t("ORF1ab弱阳，N基因阴性"))],
    ]));
    assert_eq!(codes(&batch), [(5, "result_value".to_owned())]);
    let out: Vec<&str> = (0..3).map(|i| batch.output_value(i, 8)).collect();
    assert_eq!(out, ["阴性", "阳性", "待复核"]);
}

#[test]
fn header_aliases_seen_in_real_systems() {
    let mut rows = rows_with(&[&[]]);
    rows[0][2] = t("身份号");
    rows[0][9] = t("样本编码");
    rows[0][10] = t("采集点名称");
    let batch = load_rows(rows.clone());
    assert!(codes(&batch).is_empty(), "{:?}", codes(&batch));
    assert!(batch.source.unused.is_empty(), "{:?}", batch.source.unused);
    for (barcode, site) in [
        ("试管编号", "采集点"),
        ("采样管码", "采样地点"),
        ("采样试管编号", "采样点名称"),
    ] {
        rows[0][9] = t(barcode);
        rows[0][10] = t(site);
        let batch = load_rows(rows.clone());
        assert!(batch.source.unused.is_empty(), "{barcode} {site}");
    }
}

#[test]
fn fullwidth_dates_bracketed_area_codes_and_future_sampling() {
    let batch = load_rows(rows_with(&[
        &[
            (6, t("２０２２－０１－１０　０８：３０")),
            (5, t("（020）87654321")),
        ],
        &[(5, t("(0755)1234567"))],
        &[
            (6, t("2099-01-10 08:30:00")),
            (7, t("2099-01-10 14:00:00")),
            (4, V::Blank),
        ],
    ]));
    // A future sampling time is an error, and still the date a missing age is taken at (born
    // 1962-06-01: 136 on 2099-01-10); an age written is not compared with it (its own error).
    assert_eq!(
        codes(&batch),
        [(4, "date_future".to_owned()), (4, "date_future".to_owned())]
    );
    assert_eq!(batch.output_value(2, 4), "136");
    assert_eq!(batch.output_value(0, 6), "2022-01-10 08:30:00");
    assert_eq!(batch.output_value(0, 5), "02087654321");
    assert_eq!(batch.output_value(1, 5), "07551234567");
}

/// A 2023-format 外国人永久居留身份证: `9`, province, nationality, birth, sequence, check digit.
fn card(province: &str, nationality: &str, birth: &str, seq: u32) -> String {
    let first17 = format!("9{province}{nationality}{birth}{seq:03}");
    format!("{first17}{}", check_char(&first17))
}

/// The same number with another last character (a wrong check digit).
fn wrong_last(n: &str) -> String {
    let last = if n.ends_with('0') { '1' } else { '0' };
    format!("{}{last}", &n[..17])
}

#[test]
fn a_foreigner_cards_nationality_code_is_checked_and_each_defect_reported() {
    let fpr = "外国人永久居留身份证";
    let good = card("44", "840", "19850305", 123); // 840: United States
    let zero = card("44", "000", "19850305", 123);
    let row = |n: &str| [(1, t(fpr)), (2, t(n)), (3, t("男")), (4, V::N(36.0))];
    let batch = load_rows(rows_with(&[
        &row(&good),
        &row(&zero),
        // Code 000 and a wrong check digit: two errors, not only the check digit.
        &row(&wrong_last(&zero)),
        // 999 is no country either; the card's other defects are still reported.
        &row(&wrong_last(&card("44", "999", "19850230", 123))),
    ]));
    assert_eq!(
        codes(&batch),
        [
            (3, "id_format".to_owned()),
            (4, "id_format".to_owned()),
            (4, "id_checksum".to_owned()),
            (5, "id_format".to_owned()),
            (5, "id_birthdate".to_owned()),
            (5, "id_checksum".to_owned()),
        ]
    );
    assert_eq!(batch.status(0), RowStatus::Ready);
    let msg = batch.message(1, &batch.issues(1)[0], sheetbridge::issue::Lang::Zh);
    assert!(msg.contains("国籍") && msg.contains("000"), "{msg}");
}

#[test]
fn a_nine_number_filed_as_resident_id_that_is_no_valid_card_is_checked_as_resident_id() {
    // 9, 51, nationality 000, born 2011-06-30, sequence 032, right check digit: no card.
    let number = "951000201106300321";
    let batch = load_rows(rows_with(&[&[
        (1, t("居民身份证")),
        (2, t(number)),
        (3, t("女")),
        (4, V::N(10.0)),
    ]]));
    assert_eq!(codes(&batch), [(2, "id_region".to_owned())]);
    assert_eq!(
        severities(&batch, 0),
        [("id_region".to_owned(), Severity::Error)]
    );
    assert_eq!(&*batch.issues(0)[0].args[0], "951000");
    assert_eq!(batch.output_value(0, 1), "01", "the type is not changed");
    // With a real country code (156) the same number is a card: the type changes.
    let card = card("51", "156", "20110630", 32);
    let batch = load_rows(rows_with(&[&[
        (1, t("居民身份证")),
        (2, t(&card)),
        (3, t("女")),
        (4, V::N(10.0)),
    ]]));
    assert_eq!(codes(&batch), [(2, "id_type_changed".to_owned())]);
    assert_eq!(batch.output_value(0, 1), "99");
}

#[test]
fn a_cross_field_check_is_not_run_on_a_field_with_its_own_error() {
    // Born 1990-06-01, male: sex, age and times that disagree only through the broken field.
    let male = id("440106", "19900601", 3, true);
    let broken_checksum = wrong_last(&male);
    let batch = load_rows(rows_with(&[
        // A future sampling time: date_future, no age_mismatch and no date_order from it.
        &[
            (2, t(&male)),
            (3, t("男")),
            (4, V::N(31.0)),
            (6, t("2099-01-10 08:30:00")),
            (7, t("2022-01-10 14:00:00")),
        ],
        // A future testing time before a future sampling time: two date_future only.
        &[
            (2, t(&male)),
            (3, t("男")),
            (4, V::N(31.0)),
            (6, t("2099-01-10 08:30:00")),
            (7, t("2098-01-10 14:00:00")),
        ],
        // A sex that cannot be read: sex_value, no sex_mismatch.
        &[(2, t(&male)), (3, t("x")), (4, V::N(31.0))],
        // An ID with a wrong check digit: id_checksum, no sex_mismatch or age_mismatch.
        &[(2, t(&broken_checksum)), (3, t("女")), (4, V::N(5.0))],
        // An age that cannot be read: age_value, no age_mismatch.
        &[(2, t(&male)), (3, t("男")), (4, t("一百"))],
    ]));
    assert_eq!(
        codes(&batch),
        [
            (2, "date_future".to_owned()),
            (3, "date_future".to_owned()),
            (3, "date_future".to_owned()),
            (4, "sex_value".to_owned()),
            (5, "id_checksum".to_owned()),
            (6, "age_value".to_owned()),
        ]
    );
}
