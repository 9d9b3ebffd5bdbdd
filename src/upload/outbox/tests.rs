use super::*;
use crate::batch::Ledger;
use std::path::Path;

/// Opens the outbox as a program does: through its workspace.
fn open_in(dir: &Path) -> Result<(Outbox, Recovery), OutboxError> {
    crate::workspace::Workspace::open(
        crate::workspace::Folders {
            data: Some(dir.to_owned()),
            config: None,
        },
        7,
    )
    .map(crate::workspace::Workspace::into_parts)
}

pub(crate) fn target(max_rows: usize, safe: bool) -> Target {
    let idem = if safe {
        "idempotency_header = \"Idempotency-Key\"\n"
    } else {
        ""
    };
    let text = format!(
        "name = \"测试\"\nbase_url = \"https://127.0.0.1:1\"\nmax_rows_per_file = {max_rows}\n{idem}[upload]\npath = \"/u\"\n"
    );
    Target::parse("t", "t.toml", &text, None).unwrap()
}

/// A checked batch of `n` valid rows, through the real pipeline.
pub(crate) fn batch(n: usize) -> Batch {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.csv");
    let mut text = String::from(
        "姓名,证件类型,身份证号,性别,年龄,手机号,采样时间,检测时间,检测结果,条码号,采样点,检测机构,人群分类,现住址\n",
    );
    for i in 0..n {
        let first17 = format!("110101199406{:02}{:03}", i % 28 + 1, (i * 2 + 1) % 1000);
        let check = crate::rules::idcard::check_char(&first17).unwrap();
        text.push_str(&format!(
            "张{i},居民身份证,{first17}{check},男,29,13800138000,2024-01-02 08:00:00,2024-01-02 12:00:00,阴性,B{i:06},一号点,本院,社区居民,天河路1号\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let profiles = crate::profile::Profiles::load(None);
    crate::pipeline::load(&path, &profiles, &Default::default(), &()).unwrap()
}

fn ready(b: &Batch) -> Vec<usize> {
    b.rows_with(crate::batch::RowStatus::Ready).collect()
}

#[test]
fn queue_splits_writes_files_and_refuses_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, rec) = open_in(dir.path()).unwrap();
    assert_eq!(rec, Recovery::default());
    let b = batch(5);
    let rows = ready(&b);
    assert_eq!(rows.len(), 5, "{:?}", b.summary());
    let t = target(2, true);
    let q = ob.queue(&t, &b, &rows, "in.csv").unwrap();
    assert_eq!(q.len(), 3);
    for item in &q {
        let Queued::New { id, .. } = item else {
            panic!("{item:?}")
        };
        assert_eq!(id.len(), 16);
        assert!(ob.file_path(id).is_file());
        let rec = ob.get(id).unwrap().unwrap();
        assert_eq!(
            (rec.state, rec.idempotency_key.as_str()),
            (State::Queued, id.as_str())
        );
    }
    let again = ob.queue(&t, &b, &rows, "in.csv").unwrap();
    assert!(again.iter().all(|q| matches!(
        q,
        Queued::Already {
            state: State::Queued,
            ..
        }
    )));
    assert_eq!(
        again.iter().map(Queued::id).collect::<Vec<_>>(),
        q.iter().map(Queued::id).collect::<Vec<_>>()
    );
    // Another target name gives other ids.
    let mut other = t.clone();
    other.name = "另一个".into();
    let q2 = ob.queue(&other, &b, &rows[..2], "in.csv").unwrap();
    assert!(matches!(q2[0], Queued::New { .. }));
    assert_ne!(q2[0].id(), q[0].id());
    assert_eq!(ob.list().unwrap().len(), 4);
}

#[test]
fn confirm_fills_the_ledger_with_hashes_only() {
    let dir = tempfile::tempdir().unwrap();
    let (mut ob, _) = open_in(dir.path()).unwrap();
    let b = batch(3);
    let rows = ready(&b);
    let q = ob.queue(&target(10, true), &b, &rows, "in.csv").unwrap();
    let id = q[0].id().to_owned();
    assert!(ob.ledger(None).unwrap().is_empty());
    assert!(ob.claim(&id).unwrap());
    assert!(!ob.claim(&id).unwrap(), "a batch is claimed once");
    ob.confirm(&id, Some(3)).unwrap();
    let rec = ob.get(&id).unwrap().unwrap();
    assert_eq!(
        (rec.state, rec.attempts, rec.accepted),
        (State::Confirmed, 1, Some(3))
    );
    let ledger = ob.ledger(None).unwrap();
    assert_eq!(ledger.len(), 3);
    assert_eq!(read_ledger(dir.path(), None).unwrap().unwrap().len(), 3);
    let barcode = b.output_value(rows[0], b.profile().roles.barcode.unwrap());
    assert!(ledger.contains(barcode, &b.person_id(rows[0])));
    assert!(!ledger.contains(barcode, &b.person_id(rows[1])));
    // The database never holds an ID number.
    drop(ob);
    let bytes = std::fs::read(dir.path().join("outbox.sqlite")).unwrap();
    let wal = std::fs::read(dir.path().join("outbox.sqlite-wal")).unwrap_or_default();
    let idnum = b.person_id(rows[0]).split('|').nth(1).unwrap().to_owned();
    for data in [bytes, wal] {
        assert!(!String::from_utf8_lossy(&data).contains(&idnum));
    }
}

#[test]
fn open_recovers_dead_claims_only_and_deletes_no_unknown_file() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(6);
    let rows = ready(&b);
    let (safe_id, unsafe_id, live_id) = {
        let (mut ob, _) = open_in(dir.path()).unwrap();
        let s = ob
            .queue(&target(10, true), &b, &rows[..2], "in.csv")
            .unwrap();
        let u = ob
            .queue(&target(10, false), &b, &rows[2..4], "in.csv")
            .unwrap();
        let l = ob
            .queue(&target(10, false), &b, &rows[4..], "in.csv")
            .unwrap();
        for q in [&s, &u, &l] {
            assert!(ob.claim(q[0].id()).unwrap());
        }
        // The first two were claimed by "another process" that has gone: the same pid
        // with another start time (a reused pid).
        for q in [&s, &u] {
            ob.conn
                .execute(
                    "UPDATE batches SET claim_started = claim_started + 1 WHERE id = ?1",
                    params![q[0].id()],
                )
                .unwrap();
        }
        (
            s[0].id().to_owned(),
            u[0].id().to_owned(),
            l[0].id().to_owned(),
        )
    };
    std::fs::write(dir.path().join("outbox/0123456789abcdef.xlsx"), b"x").unwrap();
    std::fs::write(dir.path().join("outbox/.sheetbridge-abc.part"), b"x").unwrap();
    let (ob, rec) = open_in(dir.path()).unwrap();
    assert_eq!(
        rec,
        Recovery {
            requeued: 1,
            to_waiting: 1,
            unknown_files: 2,
            ..Recovery::default()
        }
    );
    assert_eq!(ob.get(&safe_id).unwrap().unwrap().state, State::Queued);
    assert_eq!(ob.get(&unsafe_id).unwrap().unwrap().state, State::Waiting);
    // A batch this (live) process is sending is left alone.
    assert_eq!(ob.get(&live_id).unwrap().unwrap().state, State::Sending);
    assert!(ob.file_path(&safe_id).is_file());
    // Nothing deleted: 3 batch files, the unknown one and the temporary one.
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        5
    );
}

#[test]
fn a_missing_or_unreadable_database_quarantines_the_batch_files() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(2);
    let rows = ready(&b);
    let id = {
        let (mut ob, _) = open_in(dir.path()).unwrap();
        ob.queue(&target(10, true), &b, &rows, "in.csv").unwrap()[0]
            .id()
            .to_owned()
    };
    // Deleted (a clean-up): a new database, the file moved aside, not deleted.
    for f in ["outbox.sqlite", "outbox.sqlite-wal", "outbox.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let (ob, rec) = open_in(dir.path()).unwrap();
    let (folder, n) = rec.quarantined.clone().unwrap();
    assert_eq!(n, 1);
    assert!(folder.join(format!("{id}.xlsx")).is_file());
    assert!(
        folder
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("recovered-")
    );
    assert!(ob.list().unwrap().is_empty());
    drop(ob);
    // Opening again finds nothing more to move.
    let (_, rec) = open_in(dir.path()).unwrap();
    assert_eq!(rec.quarantined, None);

    // Unreadable (overwritten with junk) while a batch file is there.
    std::fs::copy(
        folder.join(format!("{id}.xlsx")),
        dir.path().join(format!("outbox/{id}.xlsx")),
    )
    .unwrap();
    for f in ["outbox.sqlite-wal", "outbox.sqlite-shm"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    std::fs::write(dir.path().join("outbox.sqlite"), vec![7u8; 4096]).unwrap();
    let (ob, rec) = open_in(dir.path()).unwrap();
    let (folder2, n) = rec.quarantined.unwrap();
    assert_eq!(n, 1);
    assert_ne!(folder2, folder);
    assert!(folder2.join("outbox.sqlite").is_file(), "the junk is kept");
    assert!(ob.list().unwrap().is_empty());
}

#[test]
fn a_newer_database_is_refused_and_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_in(dir.path()).unwrap());
    let conn = Connection::open(dir.path().join("outbox.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(conn);
    assert!(matches!(
        open_in(dir.path()),
        Err(OutboxError::Newer { .. })
    ));
    let conn = Connection::open(dir.path().join("outbox.sqlite")).unwrap();
    let v: u32 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(v, SCHEMA_VERSION + 1);
}

#[test]
fn the_ledger_is_per_target_and_found_by_barcode_or_id_number() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(2);
    let rows = ready(&b);
    let (mut ob, _) = open_in(dir.path()).unwrap();
    let t = target(10, true);
    let id = ob.queue(&t, &b, &rows, "样例.xlsx").unwrap()[0]
        .id()
        .to_owned();
    assert!(ob.claim(&id).unwrap());
    ob.confirm(&id, None).unwrap();
    let barcode = b
        .output_value(rows[0], b.profile().roles.barcode.unwrap())
        .to_owned();
    let person = b.person_id(rows[0]);
    assert!(ob.ledger(Some(&t)).unwrap().contains(&barcode, &person));
    // The same name at another address is another target.
    let mut moved = t.clone();
    moved.base_url = "https://10.0.0.9/".parse().unwrap();
    assert!(!ob.ledger(Some(&moved)).unwrap().contains(&barcode, &person));
    assert!(ob.ledger(None).unwrap().contains(&barcode, &person));
    // Found by barcode alone and by ID number alone, with file name and time.
    let by_code = ob.lookup(&Lookup::Barcode(barcode.clone())).unwrap();
    assert_eq!(by_code.len(), 1);
    assert_eq!(by_code[0].source.as_deref(), Some("样例.xlsx"));
    assert_eq!(by_code[0].batch_id, id);
    assert!(by_code[0].confirmed_at.is_some());
    assert_eq!(by_code[0].target_name(), "测试");
    let number = person.split('|').nth(1).unwrap().to_owned();
    let by_id = ob.lookup(&Lookup::IdNumber(number.to_lowercase())).unwrap();
    assert_eq!(by_id, by_code);
    assert!(
        ob.lookup(&Lookup::IdNumber("110101199001010000".into()))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn retention_deletes_old_confirmed_files_only() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(2);
    let rows = ready(&b);
    let (mut ob, _) = open_in(dir.path()).unwrap();
    let q = ob.queue(&target(1, true), &b, &rows, "in.csv").unwrap();
    let (old, queued) = (q[0].id().to_owned(), q[1].id().to_owned());
    ob.claim(&old).unwrap();
    ob.confirm(&old, None).unwrap();
    ob.conn
        .execute(
            "UPDATE batches SET confirmed_at = ?2 WHERE id = ?1",
            params![old, now_ms() - 8 * 86_400_000],
        )
        .unwrap();
    drop(ob);
    let (ob, rec) = open_in(dir.path()).unwrap();
    assert_eq!(rec.old_files_deleted, 1);
    assert!(!ob.file_path(&old).exists());
    assert!(ob.file_path(&queued).exists());
    assert_eq!(ob.get(&old).unwrap().unwrap().state, State::Confirmed);
}

#[test]
fn retry_and_forget_only_for_a_persons_decision() {
    let dir = tempfile::tempdir().unwrap();
    let b = batch(2);
    let rows = ready(&b);
    let (mut ob, _) = open_in(dir.path()).unwrap();
    let q = ob.queue(&target(1, false), &b, &rows, "in.csv").unwrap();
    let (a, c) = (q[0].id().to_owned(), q[1].id().to_owned());
    assert!(matches!(ob.retry(&a), Err(OutboxError::WrongState { .. })));
    assert!(matches!(
        ob.forget("nope"),
        Err(OutboxError::NotFound { .. })
    ));
    ob.claim(&a).unwrap();
    ob.wait(&a, "lost").unwrap();
    ob.retry(&a).unwrap();
    assert_eq!(ob.get(&a).unwrap().unwrap().state, State::Queued);
    ob.claim(&c).unwrap();
    ob.reject(&c, "no").unwrap();
    ob.forget(&c).unwrap();
    assert!(ob.get(&c).unwrap().is_none());
    assert!(!ob.file_path(&c).exists());
    // Forgotten rows can be queued again.
    let again = ob.queue(&target(1, false), &b, &rows, "in.csv").unwrap();
    assert!(matches!(again[1], Queued::New { .. }));
}
