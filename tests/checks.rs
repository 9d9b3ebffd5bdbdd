//! Cross-row checks on generated workbooks: pooled barcodes, conflicts, repeats.

use crate::support::*;
use sheetbridge::batch::RowStatus;

fn load_rows(rows: Vec<Vec<V>>) -> sheetbridge::batch::Batch {
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", rows)]);
    load(&path).unwrap()
}

#[test]
fn pool_of_twenty_and_the_twenty_first_person() {
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect::<Vec<_>>()];
    for i in 0..21 {
        rows.push(person(i, "POOL000001"));
    }
    let batch = load_rows(rows);
    assert_eq!(codes(&batch), [(22, "pool_overflow".to_owned())]);
    let msg = batch.message(20, &batch.issues(20)[0], sheetbridge::issue::Lang::Zh);
    assert!(msg.contains("POOL000001") && msg.contains("20 人"), "{msg}");
}

#[test]
fn same_person_twice_in_one_tube_is_a_dropped_repeat() {
    let mut rows = simple_rows(3);
    rows.push(rows[2].clone());
    let batch = load_rows(rows);
    assert_eq!(codes(&batch), [(5, "duplicate_row".to_owned())]);
    assert_eq!(batch.status(3), RowStatus::Duplicate);
    let s = batch.summary();
    assert_eq!((s.total, s.ready, s.duplicate, s.rejected), (4, 3, 1, 0));
}

#[test]
fn one_barcode_from_two_sites_or_with_two_results() {
    let mut rows = simple_rows(4);
    rows[3][10] = t("另一个采样点");
    let batch = load_rows(rows);
    let c = codes(&batch);
    assert_eq!(c.len(), 4, "every row of the tube: {c:?}");
    assert!(c.iter().all(|(_, code)| code == "barcode_conflict"));
    let msg = batch.message(0, &batch.issues(0)[0], sheetbridge::issue::Lang::Zh);
    assert!(
        msg.contains("几个采样点扫到了同一个条码") && msg.contains("第 4 行"),
        "{msg}"
    );

    let mut rows = simple_rows(3);
    rows[2][8] = t("阳性");
    let batch = load_rows(rows);
    assert_eq!(codes(&batch).len(), 3);
}

#[test]
fn one_person_negative_and_positive_in_one_batch() {
    let mut rows = simple_rows(2);
    let mut again = rows[1].clone();
    again[9] = t("OTHER00001");
    again[8] = t("阳性");
    rows.push(again);
    let batch = load_rows(rows);
    assert_eq!(
        codes(&batch),
        [
            (2, "person_conflict".to_owned()),
            (4, "person_conflict".to_owned())
        ]
    );
}

#[test]
fn unreadable_result_does_not_make_its_tube_disagree() {
    let mut rows = simple_rows(3);
    rows[2][8] = t("弱阳");
    let batch = load_rows(rows);
    assert_eq!(codes(&batch), [(3, "result_value".to_owned())]);
}

#[test]
fn every_result_and_date_shape_in_one_file() {
    let shapes = [
        ("阴", "2022-01-10 08:30:00"),
        ("阴性(-)", "2022/1/10 8:30"),
        ("-", "2022.01.10 08:30"),
        ("negative", "20220110083000"),
        ("NEG", "2022年1月10日 8时30分"),
        ("N", "2022-01-10T08:30:00"),
        ("可疑", "2022-01-10 08:30"),
    ];
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect::<Vec<_>>()];
    for (i, (result, when)) in shapes.iter().enumerate() {
        let mut r = person(i as u32, &format!("SHAPE{i:04}"));
        r[8] = t(result);
        r[6] = t(when);
        rows.push(r);
    }
    let batch = load_rows(rows);
    assert!(codes(&batch).is_empty(), "{:?}", codes(&batch));
    for i in 0..shapes.len() {
        assert_eq!(batch.output_value(i, 6), "2022-01-10 08:30:00");
    }
    assert_eq!(batch.output_value(6, 8), "待复核");
}

#[test]
fn fifteen_digit_ids_are_upgraded_with_a_warning_and_written_as_18() {
    let mut rows = simple_rows(1);
    rows[1][2] = t("440106600601001");
    rows[1][3] = t("男");
    rows[1][4] = V::N(61.0);
    let batch = load_rows(rows);
    assert_eq!(codes(&batch), [(2, "id_upgraded".to_owned())]);
    let up = batch.output_value(0, 2);
    assert_eq!(up.len(), 18);
    assert!(up.starts_with("44010619600601001"));
}

#[test]
fn barcode_conflict_is_on_every_row_even_unreadable_and_repeated_ones() {
    let mut rows = simple_rows(3);
    rows[1][10] = t("另一个采样点");
    rows[2][8] = t("弱阳");
    rows.push(rows[3].clone());
    let batch = load_rows(rows);
    let c = codes(&batch);
    for line in 2..=5 {
        assert!(
            c.contains(&(line, "barcode_conflict".to_owned())),
            "row {line}: {c:?}"
        );
    }
    assert!(c.contains(&(3, "result_value".to_owned())), "{c:?}");
    assert!(c.contains(&(5, "duplicate_row".to_owned())), "{c:?}");
    assert_eq!(batch.summary().rejected, 4);
}

#[test]
fn of_two_repeated_rows_the_first_without_an_error_is_kept() {
    let mut rows = simple_rows(2);
    let mut good = rows[2].clone();
    rows[2][5] = t("1380013800"); // phone_format on the first of the two
    good[12] = t("复测");
    rows.push(good);
    let batch = load_rows(rows);
    assert_eq!(batch.status(1), RowStatus::Rejected);
    assert_eq!(batch.status(2), RowStatus::Ready);
    let c = codes(&batch);
    assert_eq!(
        c,
        [
            (3, "phone_format".to_owned()),
            (3, "duplicate_row".to_owned())
        ]
    );
    let dup = batch
        .issues(1)
        .iter()
        .find(|i| i.code.as_str() == "duplicate_row")
        .unwrap();
    let msg = batch.message(1, dup, sheetbridge::issue::Lang::Zh);
    assert!(msg.contains("第 4 行"), "{msg}");

    // When every copy has an error of its own, the first is kept.
    let mut rows = simple_rows(1);
    rows[1][5] = t("1380013800");
    rows.push(rows[1].clone());
    let batch = load_rows(rows);
    assert_eq!(
        codes(&batch),
        [
            (2, "phone_format".to_owned()),
            (3, "phone_format".to_owned()),
            (3, "duplicate_row".to_owned())
        ]
    );
}

#[test]
fn a_repeat_is_found_when_the_barcode_itself_is_malformed() {
    // Barcodes that fail their own rule (too short, a dash, a Chinese character, too long).
    for bad in ["12345", "1234-5678", "条码123456", &"9".repeat(33)] {
        let mut rows = simple_rows(2);
        rows[2][9] = t(bad);
        rows.push(rows[2].clone());
        // The copy also has an error of its own elsewhere: the first is still the one kept.
        let mut again = rows[2].clone();
        again[5] = t("1380013800");
        rows.push(again);
        let batch = load_rows(rows);
        assert_eq!(
            codes(&batch),
            [
                (3, "barcode_format".to_owned()),
                (4, "barcode_format".to_owned()),
                (4, "duplicate_row".to_owned()),
                (5, "phone_format".to_owned()),
                (5, "barcode_format".to_owned()),
                (5, "duplicate_row".to_owned()),
            ],
            "{bad}"
        );
        let dup = batch
            .issues(2)
            .iter()
            .find(|i| i.code.as_str() == "duplicate_row")
            .unwrap();
        let msg = batch.message(2, dup, sheetbridge::issue::Lang::Zh);
        assert!(msg.contains("第 3 行"), "{bad}: {msg}");
        let s = batch.summary();
        assert_eq!((s.total, s.ready, s.rejected), (4, 1, 3), "{bad}");
    }
}

#[test]
fn rows_of_a_malformed_barcode_are_repeats_but_no_tube_that_must_agree() {
    // Two people under one malformed barcode, with different sites: their own error says the
    // barcode is wrong; a conflict or a pool limit on a barcode that is not one would be noise.
    let mut rows = simple_rows(2);
    for r in rows.iter_mut().skip(1) {
        r[9] = t("AB-12");
    }
    rows[2][10] = t("另一个采样点");
    let batch = load_rows(rows);
    assert_eq!(
        codes(&batch),
        [
            (2, "barcode_format".to_owned()),
            (3, "barcode_format".to_owned())
        ]
    );
}

#[test]
fn fixing_a_malformed_barcode_rechecks_its_old_tube() {
    let mut rows = simple_rows(1);
    rows[1][9] = t("12345");
    rows.push(rows[1].clone());
    let mut batch = load_rows(rows);
    assert!(codes(&batch).contains(&(3, "duplicate_row".to_owned())));
    // The kept row gets a well-formed barcode: its copy is alone under "12345" now.
    batch.edit(0, 9, "ABC123456");
    assert_eq!(codes(&batch), [(3, "barcode_format".to_owned())]);
    // And the copy the same barcode: a repeat again, now of a row without an error.
    batch.edit(1, 9, "ABC123456");
    assert_eq!(codes(&batch), [(3, "duplicate_row".to_owned())]);
    assert_eq!(batch.status(0), RowStatus::Ready);
    assert_eq!(batch.status(1), RowStatus::Duplicate);
}
