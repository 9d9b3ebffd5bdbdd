//! Personal data stays private: masking ID and phone numbers in every message and in the log
//! (one scanner, two policies: [`mask_text`], [`mask_numbers`]), and creating
//! the data folder and its files readable by the user alone (0700 / 0600 on Unix) from the
//! start, never loosened and then tightened.
//!
//! On Windows the per-user data folder (under the user's profile) is already private to the
//! user; the helpers there create folders and files normally.

use std::fs::File;
use std::io;
use std::path::Path;

/// Masks an ID number: its first 6 and last 4 characters stay (`440106********1234`). A value
/// of 10 characters or fewer keeps only its last 2 (`******34`).
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    let n = chars.len();
    if n > 10 {
        let mut out: String = chars[..6].iter().collect();
        out.extend(std::iter::repeat_n('*', n - 10));
        out.extend(&chars[n - 4..]);
        out
    } else {
        let keep = n.min(2);
        let mut out: String = std::iter::repeat_n('*', n - keep).collect();
        out.extend(&chars[n - keep..]);
        out
    }
}

/// Masks a phone number: the first 3 and last 4 digits stay (`138****8000`). Shorter numbers
/// (landlines without area code) keep their last 2.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    let n = chars.len();
    if n >= 8 {
        let mut out: String = chars[..3].iter().collect();
        out.extend(std::iter::repeat_n('*', n - 7));
        out.extend(&chars[n - 4..]);
        out
    } else {
        let keep = n.min(2);
        let mut out: String = std::iter::repeat_n('*', n - keep).collect();
        out.extend(&chars[n - keep..]);
        out
    }
}

/// Whether a run of digits (an `X` may end it) looks like a resident ID: 15 digits with a
/// plausible `YYMMDD` at 7-12, or 17 to 19 characters with a plausible `YYYYMMDD` at 7-14
/// (one digit too many or too few is still someone's ID). A tube barcode such as
/// `4401060000001000` is not one.
fn looks_like_id(run: &[char]) -> bool {
    let num = |from: usize, len: usize| -> Option<u32> {
        let s: String = run.get(from..from + len)?.iter().collect();
        s.parse().ok()
    };
    let date = |month: Option<u32>, day: Option<u32>| {
        matches!(month, Some(1..=12)) && matches!(day, Some(1..=31))
    };
    match run.len() {
        15 => date(num(8, 2), num(10, 2)),
        17..=19 => matches!(num(6, 4), Some(1850..=2100)) && date(num(10, 2), num(12, 2)),
        _ => false,
    }
}

/// Whether an 11-digit run looks like a mainland mobile number (`1[3-9]…`).
fn looks_like_mobile(run: &[char]) -> bool {
    run.len() == 11
        && run[0] == '1'
        && matches!(run[1], '3'..='9')
        && run.iter().all(|c| c.is_ascii_digit())
}

/// Masks every ID or phone number inside free text (a platform's message, an error, an issue's
/// message): a run of digits that looks like a resident ID is masked as one, an 11-digit mobile
/// number as a phone; other numbers (barcodes, counts, addresses) stay as they are.
pub fn mask_text(text: &str) -> String {
    mask_runs(text, |run| {
        if looks_like_mobile(run) {
            Some(mask_phone(&String::from_iter(run)))
        } else if looks_like_id(run) {
            Some(mask_id(&String::from_iter(run)))
        } else {
            None
        }
    })
}

/// Masks every long number, for text that leaves the clerk's PC (the log, the diagnostic
/// bundle) and may hold numbers no rule recognises: every run of 11 or more digits. A run of 15
/// to 18 is masked as an ID (`440106********1234`), any other as a phone (`138****8000`).
pub fn mask_numbers(text: &str) -> String {
    mask_runs(text, |run| {
        let shown = String::from_iter(run);
        match run.len() {
            0..=10 => None,
            15..=18 => Some(mask_id(&shown)),
            _ => Some(mask_phone(&shown)),
        }
    })
}

/// Replaces each run of digits in `text` (ASCII or full-width, an `X` may end it as in a resident
/// ID) by what `mask` makes of it, or keeps it where `mask` gives `None`.
///
/// A batch id or a file's SHA-256 (a word of 16 or more lowercase hex characters holding both
/// letters and digits) is kept whole: it names no person, and the support engineer looks batches
/// up by it.
fn mask_runs(text: &str, mask: impl Fn(&[char]) -> Option<String>) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        if let Some(end) = hex_word_at(&chars, i) {
            out.extend(&chars[i..end]);
            i = end;
            continue;
        }
        if !is_digit(chars[i]) {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let start = i;
        while i < chars.len() && is_digit(chars[i]) {
            i += 1;
        }
        if i < chars.len() && matches!(chars[i], 'X' | 'x' | 'Ｘ' | 'ｘ') {
            i += 1;
        }
        let run = &chars[start..i];
        match mask(run) {
            Some(masked) => out.push_str(&masked),
            None => out.extend(run),
        }
    }
    out
}

/// The end of the hex word (a batch id, a SHA-256) that starts at `i`, if one does: 16 or more
/// of `0-9a-f`, at least one a letter and one a digit, with no letter or digit either side.
fn hex_word_at(chars: &[char], i: usize) -> Option<usize> {
    let word = |c: &char| c.is_ascii_alphanumeric();
    if i > 0 && word(&chars[i - 1]) {
        return None;
    }
    let end = i + chars[i..].iter().take_while(|c| word(c)).count();
    let w = &chars[i..end];
    let hex = w.iter().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    let mixed = w.iter().any(|c| c.is_ascii_digit()) && w.iter().any(|c| c.is_ascii_lowercase());
    (w.len() >= 16 && hex && mixed).then_some(end)
}

/// Creates `dir` and its missing parents readable by the user alone (0700 on Unix). A folder
/// that exists already is left as it is.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Makes a folder written by an older version private: the folder itself (0700) and the files
/// directly in it (0600) that others could read. Folders and files that are private already are
/// not touched; on systems without Unix permissions this does nothing (the per-user profile
/// folder is private there).
pub fn tighten(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open_to_others = |m: &std::fs::Metadata| m.permissions().mode() & 0o077 != 0;
        let meta = match std::fs::metadata(dir) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if open_to_others(&meta) {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        // Another program may remove a file meanwhile (a batch file sent, a temporary file
        // renamed): one gone is not an error.
        let gone = |r: io::Result<()>| match r {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        };
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = match entry.metadata() {
                Ok(m) => m,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            if meta.is_file() && open_to_others(&meta) {
                gone(std::fs::set_permissions(
                    entry.path(),
                    std::fs::Permissions::from_mode(0o600),
                ))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Creates a new file readable and writable by the user alone (0600 on Unix); fails when it
/// exists.
pub fn create_private_file(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes sure `path` exists, creating it empty and private when it does not (for a database
/// that SQLite then opens: its journal files take the same permissions).
pub fn ensure_private_file(path: &Path) -> io::Result<()> {
    match create_private_file(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn a_folder_of_an_older_version_becomes_private() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let db = data.join("outbox.sqlite");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        tighten(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&db), 0o600);
        // A folder that is not there yet is nothing to do.
        tighten(&tmp.path().join("none")).unwrap();
    }

    #[test]
    fn mask_numbers_masks_every_long_number_but_not_a_batch_id() {
        assert_eq!(
            mask_numbers("证件号 44010619900101123X 电话13812345678"),
            "证件号 440106********123X 电话138****5678"
        );
        assert_eq!(
            mask_numbers("id 44010619900101123x."),
            "id 440106********123x."
        );
        assert_eq!(
            mask_numbers("全角 ４４０１０６１９９００１０１１２３４"),
            "全角 ４４０１０６********１２３４"
        );
        assert_eq!(
            mask_numbers("条码 T0000000001 共 120 行"),
            "条码 T0000000001 共 120 行"
        );
        assert_eq!(
            mask_numbers("HTTP 503 127.0.0.1:8080 2026-11-28T08:00:00.123+08:00"),
            "HTTP 503 127.0.0.1:8080 2026-11-28T08:00:00.123+08:00"
        );
        assert_eq!(mask_numbers("12345678901234"), "123*******1234");
        // A batch id with a long run of digits is not a person's number.
        assert_eq!(
            mask_numbers("批次 856956684570bb94 已确认"),
            "批次 856956684570bb94 已确认"
        );
        assert_eq!(
            mask_numbers("856956684570bb94\tqueued"),
            "856956684570bb94\tqueued"
        );
        // An ID run into other letters is still masked.
        assert_eq!(mask_numbers("ID44010619900101123X"), "ID440106********123X");
        assert_eq!(mask_numbers("44010619900101123xab"), "440106********123xab");
    }

    #[test]
    fn ids_and_phones_are_masked() {
        assert_eq!(mask_id("440106199001011234"), "440106********1234");
        assert_eq!(mask_id("44010619900101123X"), "440106********123X");
        assert_eq!(mask_id("440106900101123"), "440106*****1123");
        assert_eq!(mask_id("E1234567"), "******67");
        assert_eq!(mask_phone("13800138000"), "138****8000");
        assert_eq!(mask_phone("12345"), "***45");
        assert_eq!(mask_phone(""), "");
    }

    #[test]
    fn numbers_inside_text_are_masked_and_others_kept() {
        assert_eq!(
            mask_text("证件号 44010619900101123X 电话13812345678"),
            "证件号 440106********123X 电话138****5678"
        );
        assert_eq!(
            mask_text("HTTP 503 第 12 行 127.0.0.1:8080"),
            "HTTP 503 第 12 行 127.0.0.1:8080"
        );
        // A 15-digit legacy ID, one typed with a digit missing; barcodes stay readable.
        assert_eq!(mask_text("440106900101123"), "440106*****1123");
        assert_eq!(mask_text("44010619900101123"), "440106*******1123");
        assert_eq!(
            mask_text("条码 4401060000001000 和 12345678901"),
            "条码 4401060000001000 和 12345678901"
        );
    }

    #[test]
    fn issue_messages_show_no_full_id() {
        use crate::issue::{Code, Issue, Lang, Stage};
        let up = Issue::new(
            Code::IdUpgraded,
            Some(0),
            Stage::Row,
            &["440106199001011234"],
        );
        assert_eq!(
            up.render(Code::IdUpgraded.template(Lang::Zh), ""),
            "15 位旧身份证号已自动升级为 18 位（440106********1234），请核对。"
        );
    }

    #[cfg(unix)]
    #[test]
    fn folders_and_files_are_created_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b");
        create_private_dir(&data).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&data), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let f = data.join("x.sqlite");
        ensure_private_file(&f).unwrap();
        ensure_private_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        assert!(create_private_file(&f).is_err());
    }
}
