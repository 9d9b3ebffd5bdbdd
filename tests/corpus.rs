//! The public odd spreadsheets in `../shared/corpus` (calamine's test files): each one is read
//! or refused with a Chinese message and exit 2, never a panic, a hang or a memory blow-up.

use crate::support::*;
use std::io::Write;

#[test]
fn every_corpus_file_is_read_or_refused_cleanly() {
    let dir = repo().join("../shared/corpus/calamine");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        // Said past the test harness's capture, so the run's output shows it was skipped.
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED every_corpus_file_is_read_or_refused_cleanly: {} is not here (it read \
             no file)\n",
            dir.display()
        );
        return;
    };
    let home = tmp();
    let mut n = 0;
    for e in entries {
        let path = e.unwrap().path();
        if path.extension().is_some_and(|x| x == "md") {
            continue;
        }
        let r = run(home.path(), &["check", path.to_str().unwrap()]);
        assert!(
            [0, 2, 3].contains(&r.code),
            "{}: exit {} {}",
            path.display(),
            r.code,
            r.stderr
        );
        assert!(
            !r.stderr.contains("panicked"),
            "{}: {}",
            path.display(),
            r.stderr
        );
        if r.code == 2 {
            assert!(
                r.stderr.starts_with("错误："),
                "{}: {}",
                path.display(),
                r.stderr
            );
        }
        n += 1;
    }
    assert!(n > 50, "only {n} corpus files");
}
