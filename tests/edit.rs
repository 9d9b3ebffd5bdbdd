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

/// One folder struct, one check of the data folder: without one, opening the workspace, the
/// ledger and the lookup each fail with the same plain message saying what to set, and a load
/// only reads and checks (no ledger to warn about, no edits to keep). With one, the same load
/// keeps the clerk's edits.
#[test]
fn without_a_data_folder_the_workflow_only_reads_and_says_what_to_set() {
    use sheetbridge::message::Localized;
    use sheetbridge::upload::outbox::{Lookup, OutboxError};
    use sheetbridge::workspace::{self, Folders, Workspace};
    let dir = tmp();
    let path = dir.path().join("in.xlsx");
    write_xlsx(&path, &[SheetSpec::new("Sheet1", simple_rows(3))]);
    let none = Folders {
        data: None,
        config: Some(dir.path().join("config")),
    };
    let says_what_to_set = |e: &OutboxError| {
        assert!(matches!(e, OutboxError::NoDataDir), "{e:?}");
        let (zh, en) = e.pair();
        assert!(
            zh.contains("SHEETBRIDGE_DATA_DIR") && zh.contains("文件夹"),
            "{zh}"
        );
        assert!(en.contains("SHEETBRIDGE_DATA_DIR"), "{en}");
    };
    says_what_to_set(&Workspace::open(none.clone(), 7).err().unwrap());
    says_what_to_set(&none.data_dir().unwrap_err());
    says_what_to_set(&none.ledger(None).unwrap_err());
    says_what_to_set(&none.lookup(&Lookup::Barcode("A1".into())).unwrap_err());
    assert!(none.edit_store().is_none());

    let profiles = none.profiles();
    let loaded = workspace::load(&none, &profiles, &path, Default::default(), None, &()).unwrap();
    assert_eq!(loaded.batch.len(), 3);
    assert!(loaded.edits.is_none());
    assert!(loaded.warnings.is_empty(), "{:?}", loaded.warnings);
    assert!(!dir.path().join("config").exists(), "nothing written");

    let some = Folders {
        data: Some(dir.path().join("data")),
        ..none
    };
    let loaded = workspace::load(&some, &profiles, &path, Default::default(), None, &()).unwrap();
    assert!(loaded.edits.is_some(), "{:?}", loaded.warnings);
    assert_eq!(
        Workspace::open(some, 7).unwrap().data(),
        dir.path().join("data")
    );
}
