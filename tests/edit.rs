//! The window's way of working, through the library: edit a cell or exclude a row and see the
//! row and its neighbours re-checked at once, without re-reading the file.

use crate::support::*;
use sheetbridge::batch::RowStatus;

#[test]
fn fixing_an_id_makes_the_row_ready() {
    let dir = tmp();
    let path = dir.path().join("样例.xlsx");
    sample::write_sample(&path).unwrap();
    let mut batch = load(&path).unwrap();
    let before = batch.summary();
    let row = (0..batch.len()).find(|&i| batch.line(i) == 15).unwrap();
    assert_eq!(batch.status(row), RowStatus::Rejected);
    let id_field = batch.profile().field_index("id_number").unwrap();
    let wrong = batch.value(row, id_field).to_owned();
    let fixed = format!("{}{}", &wrong[..17], check_char(&wrong[..17]));
    batch.edit(row, id_field, &fixed);
    assert_eq!(
        batch.status(row),
        RowStatus::Ready,
        "{:?}",
        batch.issues(row)
    );
    assert!(batch.is_edited(row));
    assert_eq!(batch.summary().ready, before.ready + 1);
    // Back to a wrong value: rejected again.
    batch.edit(row, id_field, "123");
    assert_eq!(batch.status(row), RowStatus::Rejected);
    assert_eq!(batch.issues(row)[0].code.as_str(), "id_length");
}

#[test]
fn fixing_a_site_clears_the_conflict_of_the_whole_tube() {
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    let mut rows = simple_rows(5);
    rows[3][10] = t("别的采样点");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", rows)]);
    let mut batch = load(&path).unwrap();
    assert_eq!(batch.summary().rejected, 5);
    batch.edit(2, 10, "天河南街道社区核酸采样点");
    assert_eq!(batch.summary().rejected, 0, "{:?}", codes(&batch));
    // Changing a barcode moves a row to another tube and re-checks both.
    batch.edit(4, 9, "T0000000009");
    assert_eq!(batch.summary().rejected, 0);
    batch.edit(4, 10, "第三个采样点");
    assert_eq!(batch.summary().rejected, 0, "alone in its tube now");
    batch.edit(4, 9, "T0000000000");
    assert_eq!(
        batch.summary().rejected,
        5,
        "back in the first tube, disagreeing"
    );
}

#[test]
fn excluding_a_row_takes_it_out_and_can_be_undone() {
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    let mut rows = simple_rows(3);
    rows[3][8] = t("阳性");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", rows)]);
    let mut batch = load(&path).unwrap();
    assert_eq!(batch.summary().rejected, 3);
    batch.set_excluded(2, true);
    let s = batch.summary();
    assert_eq!((s.ready, s.rejected, s.excluded), (2, 0, 1));
    batch.set_excluded(2, false);
    assert_eq!(batch.summary().rejected, 3);
}

#[test]
fn edits_reach_the_written_sheet_and_never_the_source() {
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", simple_rows(2))]);
    let source = std::fs::read(&path).unwrap();
    let mut batch = load(&path).unwrap();
    batch.edit(0, 0, "  新名字 ");
    let out = dir.path().join("out.xlsx");
    assert_eq!(sheetbridge::write::write_upload(&batch, &out).unwrap(), 2);
    assert_eq!(read_text_sheet(&out)[1][0], "新名字");
    assert_eq!(std::fs::read(&path).unwrap(), source);
}

/// The window hashes a file to claim it and hands the hash on: the workflow keys the saved
/// edits by the hash it is given and does not hash the file again (issue 21: a file opened in
/// the window was read for its hash twice). Told a hash the file does not have, it restores the
/// edits saved under that one, which it could not do had it read the file for its own.
#[test]
fn the_workflow_takes_the_front_ends_hash_and_reads_none_of_its_own() {
    use sheetbridge::pipeline::Options;
    use sheetbridge::workspace::{self, Folders};
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", simple_rows(3))]);
    let folders = Folders {
        data: Some(dir.path().join("data")),
        config: None,
    };
    let given = sheetbridge::digest::bytes_sha256(b"what the window computed");
    let real = sheetbridge::digest::file_sha256(&path).unwrap();
    assert_ne!(given, real);
    let store = folders.edit_store().unwrap();
    let mut saved = store.load(&given).unwrap();
    saved.set_excluded(3, true);
    store.save(&given, &saved).unwrap();
    let profiles = sheetbridge::profile::Profiles::load(None);
    let load = |hash: Option<String>| {
        let options = Options {
            hash,
            ..Options::default()
        };
        workspace::load(&folders, &profiles, &path, options, None, &()).unwrap()
    };
    let loaded = load(Some(given));
    assert_eq!(loaded.restored.excluded, 1, "{:?}", loaded.warnings);
    assert_eq!(loaded.batch.summary().excluded, 1);
    // Without one, the workflow hashes the file itself: nothing was saved under its real hash.
    let loaded = load(None);
    assert_eq!(loaded.restored.excluded, 0);
    assert_eq!(loaded.batch.summary().excluded, 0);
}
