//! Personal data stays private: masking ID, passport, permit and phone numbers however they
//! are written, in every text that leaves the program (one scanner, [`scan`], two policies:
//! [`mask_text`], [`mask_numbers`]; a field's own value by its kind, [`mask_value`]), and creating
//! the data folder and its files readable by the user alone (0700 / 0600 on Unix) from the
//! start, never loosened and then tightened.
//!
//! On Windows the per-user data folder (under the user's profile) is already private to the
//! user; the helpers there create folders and files normally.
// Over 600 lines: nearly half is the scanner's tests (property tests of every spelling of
// every kind of number), kept next to the scanner they attack.

use std::fs::File;
use std::io;
use std::path::Path;

/// Masks a document number (an ID of any type): of 15 characters or more the first 6 and last
/// 4 stay (`440106********1234`); of 11 to 14, the first 3 and last 4 (`H12****7890`); of 10 or
/// fewer only the last 2 (`******34`). From 11 characters on, at least 4 are hidden.
pub fn mask_id(id: &str) -> String {
    let chars: Vec<char> = id.trim().chars().collect();
    let n = chars.len();
    match n {
        15.. => hide_middle(&chars, 6, 4),
        11..=14 => hide_middle(&chars, 3, 4),
        _ => hide_middle(&chars, 0, n.min(2)),
    }
}

/// Masks a phone number: the first 3 and last 4 digits stay (`138****8000`); of 8 to 10
/// characters (a landline, a mistyped mobile) the last 4 and at most 2 before the 4 hidden
/// (`23****8901`); shorter ones keep their last 2.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.trim().chars().collect();
    let n = chars.len();
    match n {
        11.. => hide_middle(&chars, 3, 4),
        8..=10 => hide_middle(&chars, n - 8, 4),
        _ => hide_middle(&chars, 0, n.min(2)),
    }
}

/// `chars` with all but the first `head` and the last `tail` replaced by `*`.
fn hide_middle(chars: &[char], head: usize, tail: usize) -> String {
    let n = chars.len();
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| if i < head || i + tail >= n { c } else { '*' })
        .collect()
}

/// Masks a person's name as daily.md shows it: the first character stays (the first two of a
/// name of four or more, for a compound surname), the rest hidden (`王*`, `王**`, `欧阳**`).
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let keep = if chars.len() >= 4 { 2 } else { 1 };
    hide_middle(&chars, keep.min(chars.len().saturating_sub(1)), 0)
}

/// What a clerk typed to look a person up (an ID number of any type, a barcode, a name, or
/// several of them at once: `王伟 440106199001010013`, `王伟440106…`), masked part by part:
/// spaces stay; a run of Chinese (any character outside ASCII and the full-width forms), or a
/// word without a digit, is masked as a name; words with a digit, with the spaces between
/// them (`4401 0619 9001 011234`), as one document number.
pub fn mask_query(value: &str) -> String {
    #[derive(PartialEq, Clone, Copy, Debug)]
    enum Run {
        Space,
        Name,
        Number,
    }
    let kind = |c: char| {
        if c.is_whitespace() {
            Run::Space
        } else if c.is_ascii() || ('\u{FF01}'..='\u{FF5E}').contains(&c) {
            Run::Number
        } else {
            Run::Name
        }
    };
    let digit = |c: char| c.is_ascii_digit() || ('０'..='９').contains(&c);
    // Runs of one kind; a "number" word without a digit is a name (a name in Latin letters).
    let mut runs: Vec<(Run, String)> = Vec::new();
    for c in value.chars() {
        let k = kind(c);
        match runs.last_mut() {
            Some((last, text)) if *last == k => text.push(c),
            _ => runs.push((k, c.to_string())),
        }
    }
    for (k, text) in &mut runs {
        if *k == Run::Number && !text.chars().any(digit) {
            *k = Run::Name;
        }
    }
    // Number, spaces, number: one number typed with spaces.
    let mut merged: Vec<(Run, String)> = Vec::new();
    for (i, (k, text)) in runs.iter().enumerate() {
        let joins_numbers = *k == Run::Space
            && merged.last().is_some_and(|(l, _)| *l == Run::Number)
            && runs.get(i + 1).is_some_and(|(n, _)| *n == Run::Number);
        match merged.last_mut() {
            Some((Run::Number, last)) if joins_numbers || *k == Run::Number => last.push_str(text),
            _ => merged.push((*k, text.clone())),
        }
    }
    merged
        .iter()
        .map(|(k, text)| match k {
            Run::Space => text.clone(),
            Run::Name => mask_name(text),
            Run::Number => mask_id(text),
        })
        .collect()
}

/// The kind of personal number a field holds: its own value, quoted in a message, is masked
/// whole by this kind whatever its shape (a phone column's `12345`, a passport number of a
/// shape the scanner cannot know).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Personal {
    /// A phone number, valid or not: [`mask_phone`].
    Phone,
    /// A document number of any type: [`mask_id`].
    Document,
}

/// A field's own value masked whole by its kind.
pub fn mask_value(value: &str, kind: Personal) -> String {
    match kind {
        Personal::Phone => mask_phone(value),
        Personal::Document => mask_id(value),
    }
}

/// Masks every personal number inside free text (a platform's message, an error, an issue's
/// message, a lookup's answer), however it is written (see [`scan`]); other numbers (barcodes,
/// dates, counts, addresses) stay as they are.
pub fn mask_text(text: &str) -> String {
    scan(text, false)
}

/// The same for text that leaves the clerk's PC (the log, the diagnostic bundle) and may hold
/// numbers no rule recognises: besides what [`mask_text`] masks, every other run of 11 or
/// more plain digits (15 to 18 masked as an ID, any other length as a phone).
pub fn mask_numbers(text: &str) -> String {
    scan(text, true)
}

/// A character as the scanner sees it: full-width digits and letters are their ASCII selves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Digit(u8),
    /// Upper-cased.
    Letter(u8),
    /// What people type between groups of digits: spaces (also no-break and ideographic) and
    /// dashes of every width.
    Sep,
    Other,
}

fn class(c: char) -> Class {
    match c {
        '0'..='9' => Class::Digit(c as u8),
        'A'..='Z' => Class::Letter(c as u8),
        'a'..='z' => Class::Letter(c.to_ascii_uppercase() as u8),
        '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => {
            char::from_u32(c as u32 - 0xFEE0).map_or(Class::Other, class)
        }
        ' '
        | '\u{a0}'
        | '\u{2009}'
        | '\u{202f}'
        | '\u{3000}'
        | '-'
        | '\u{2010}'..='\u{2015}'
        | '\u{2212}'
        | '\u{fe63}'
        | '\u{ff0d}' => Class::Sep,
        _ => Class::Other,
    }
}

/// At most this many separators between two groups of one number (`138 - 0013`).
const MAX_SEPARATORS: usize = 3;
/// The most digits a personal number has (a 3-letter foreigner card has 12, a mistyped ID 19).
const MAX_DIGITS: usize = 19;

/// The one scanner: every text the program writes outside a file of rows goes through it
/// ([`mask_text`], [`mask_numbers`]; messages through `Issue::render`, the log through
/// `LogFile::write_line`). It finds, in ASCII or full-width digits and letters, with up to
/// three spaces or dashes between groups of digits (`440106 1990 0101 123x`,
/// `138-0013-8000`, `＋86 138 0013 8000`):
///
/// - a resident ID (and the 2023 foreigner card, which has its shape): 18 characters (the
///   last may be `X`) or the old 15 digits, with a plausible birth date; 17 or 19 (a digit
///   missing or one too many) too. Masked `440106********1234`;
/// - a mainland mobile, `1[3-9]` and 9 digits (an `86` before it included): `138****8000`;
/// - a passport (a letter and 8 digits, two letters and 7), a 港澳 permit (`H` or `M` and 8
///   or 10 digits), the 2004 foreigner card (3 letters and 12 digits): the letters and the
///   last 3 digits stay (the foreigner card: 4);
///
/// and, when `strict`, any other run of 11 or more plain digits. Hidden characters become `*`
/// one for one and separators stay, so the number stays recognisable in its line. A batch id
/// or a SHA-256 (a word of 16 or more lowercase hex characters with letters and digits) is
/// kept whole: it names no person, and the support engineer looks batches up by it.
///
/// 台湾 permits (8 or 10 plain digits) cannot be told from other numbers in free text: they
/// are masked where the program knows the value is a document number (an issue quoting the
/// ID column, [`mask_value`]; the lookup's value).
fn scan(text: &str, strict: bool) -> String {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len();
    let mut classes: Vec<Class> = chars.iter().map(|&c| class(c)).collect();
    let mut i = 0;
    while i < n {
        match hex_word_at(&chars, i) {
            Some(end) => {
                classes[i..end].fill(Class::Other);
                i = end;
            }
            None => i += 1,
        }
    }
    // Maximal runs of digits, as (start, end).
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < n {
        if matches!(classes[i], Class::Digit(_)) {
            let start = i;
            while i < n && matches!(classes[i], Class::Digit(_)) {
                i += 1;
            }
            runs.push((start, i));
        } else {
            i += 1;
        }
    }
    let mut hide = vec![false; n];
    let mut taken = vec![false; runs.len()];
    // Chains: runs with only a few separators between one and the next.
    let mut c = 0;
    while c < runs.len() {
        let mut d = c + 1;
        while d < runs.len() && separated(&classes, runs[d - 1].1, runs[d].0) {
            d += 1;
        }
        let mut a = c;
        while a < d {
            match best_match(&classes, &runs[a..d]) {
                Some(found) => {
                    let len = found.positions.len();
                    for (k, &p) in found.positions.iter().enumerate() {
                        hide[p] = k >= found.head && k + found.tail < len;
                    }
                    taken[a..=a + found.last].fill(true);
                    a += found.last + 1;
                }
                None => a += 1,
            }
        }
        c = d;
    }
    if strict {
        for (r, &(start, end)) in runs.iter().enumerate() {
            let len = end - start;
            if taken[r] || len < 11 {
                continue;
            }
            let (head, tail) = if (15..=18).contains(&len) {
                (6, 4)
            } else {
                (3, 4)
            };
            hide[start + head..end - tail].fill(true);
        }
    }
    chars
        .iter()
        .zip(&hide)
        .map(|(&c, &h)| if h { '*' } else { c })
        .collect()
}

/// Whether the characters from `from` to `to` are 1 to [`MAX_SEPARATORS`] separators.
fn separated(classes: &[Class], from: usize, to: usize) -> bool {
    let gap = to - from;
    (1..=MAX_SEPARATORS).contains(&gap) && classes[from..to].iter().all(|c| *c == Class::Sep)
}

/// A personal number found in a chain of runs.
struct Found {
    /// Its last run, counted from the first of the chain given.
    last: usize,
    /// Where its characters (letters, digits, a final `X`) are, in order.
    positions: Vec<usize>,
    /// How many of them stay at the head and at the tail.
    head: usize,
    tail: usize,
}

/// The longest personal number that starts with the first of `runs` (a chain) and ends with
/// one of them.
fn best_match(classes: &[Class], runs: &[(usize, usize)]) -> Option<Found> {
    let letters = letters_before(classes, runs[0].0);
    let mut digits: Vec<usize> = Vec::new();
    let mut best = None;
    for (last, &(start, end)) in runs.iter().enumerate() {
        digits.extend(start..end);
        if digits.len() > MAX_DIGITS {
            break;
        }
        let value: Vec<u8> = digits
            .iter()
            .map(|&p| match classes[p] {
                Class::Digit(d) => d,
                _ => b'?',
            })
            .collect();
        let x = (classes.get(end) == Some(&Class::Letter(b'X'))).then_some(end);
        let first_letter = letters.first().map(|&p| classes[p]);
        let Some(shape) = shape(&value, x.is_some(), letters.len(), first_letter) else {
            continue;
        };
        let mut positions = Vec::new();
        let (head, tail) = match shape {
            Shape::Id { with_x } => {
                positions.extend(&digits);
                positions.extend(x.filter(|_| with_x));
                (6, 4)
            }
            Shape::Mobile { skip } => {
                positions.extend(&digits);
                (skip + 3, 4)
            }
            Shape::Lettered { tail } => {
                positions.extend(&letters);
                positions.extend(&digits);
                (letters.len(), tail)
            }
        };
        best = Some(Found {
            last,
            positions,
            head,
            tail,
        });
    }
    best
}

/// What digits (with the letters before them, and an `X` after them) are.
enum Shape {
    /// A resident ID or a 2023 foreigner card; `with_x` when the `X` after it is its last
    /// character.
    Id { with_x: bool },
    /// A mobile, after `skip` digits of the country code.
    Mobile { skip: usize },
    /// A passport, a permit, a 2004 foreigner card: the letters and the last `tail` digits stay.
    Lettered { tail: usize },
}

fn shape(digits: &[u8], x_after: bool, letters: usize, first: Option<Class>) -> Option<Shape> {
    if x_after {
        let mut with_x = digits.to_vec();
        with_x.push(b'X');
        if looks_like_id(&with_x) {
            return Some(Shape::Id { with_x: true });
        }
    }
    if looks_like_id(digits) {
        return Some(Shape::Id { with_x: false });
    }
    if looks_like_mobile(digits) {
        return Some(Shape::Mobile { skip: 0 });
    }
    if digits.len() == 13 && digits.starts_with(b"86") && looks_like_mobile(&digits[2..]) {
        return Some(Shape::Mobile { skip: 2 });
    }
    match (letters, digits.len()) {
        (1, 8) | (2, 7) => Some(Shape::Lettered { tail: 3 }),
        (3, 12) => Some(Shape::Lettered { tail: 4 }),
        (1, 10) if matches!(first, Some(Class::Letter(b'H' | b'M'))) => {
            Some(Shape::Lettered { tail: 3 })
        }
        _ => None,
    }
}

/// The positions of the word of letters right before `at` (the start of a run of digits), or
/// before the few separators before it (`E 1234 5678`); none when there is none.
fn letters_before(classes: &[Class], at: usize) -> Vec<usize> {
    let mut end = at;
    let mut seps = 0;
    while end > 0 && classes[end - 1] == Class::Sep && seps < MAX_SEPARATORS {
        end -= 1;
        seps += 1;
    }
    let mut start = end;
    while start > 0 && matches!(classes[start - 1], Class::Letter(_)) {
        start -= 1;
    }
    (start..end).collect()
}

/// Whether ASCII digits (an `X` may end them) look like a resident ID: 15 digits with a
/// plausible `YYMMDD` at 7-12, or 17 to 19 characters with a plausible `YYYYMMDD` at 7-14
/// (one digit too many or too few is still someone's ID). A tube barcode such as
/// `4401060000001000` is not one.
fn looks_like_id(run: &[u8]) -> bool {
    let last = run.len().saturating_sub(1);
    let shaped = run
        .iter()
        .enumerate()
        .all(|(i, b)| b.is_ascii_digit() || (i == last && *b == b'X'));
    let num = |from: usize, len: usize| -> Option<u32> {
        std::str::from_utf8(run.get(from..from + len)?)
            .ok()?
            .parse()
            .ok()
    };
    let date = |month: Option<u32>, day: Option<u32>| {
        matches!(month, Some(1..=12)) && matches!(day, Some(1..=31))
    };
    shaped
        && match run.len() {
            15 => run[14] != b'X' && date(num(8, 2), num(10, 2)),
            17..=19 => matches!(num(6, 4), Some(1850..=2100)) && date(num(10, 2), num(12, 2)),
            _ => false,
        }
}

/// Whether ASCII digits are a mainland mobile number (`1[3-9]` and 9 more).
fn looks_like_mobile(run: &[u8]) -> bool {
    run.len() == 11 && run[0] == b'1' && (b'3'..=b'9').contains(&run[1])
}

/// The end of the hex word (a batch id, a SHA-256) that starts at `i`, if one does: 16, 32, 40
/// or 64 of `0-9a-f` (the lengths of a batch id and of the hashes), at least one a letter and
/// one a digit, with no letter or digit either side. Other lengths are not kept whole: an ID
/// with a few letters glued to it stays a number to mask.
fn hex_word_at(chars: &[char], i: usize) -> Option<usize> {
    let word = |c: &char| c.is_ascii_alphanumeric();
    if i > 0 && word(&chars[i - 1]) {
        return None;
    }
    let end = i + chars[i..].iter().take_while(|c| word(c)).count();
    let w = &chars[i..end];
    let hex = w.iter().all(|c| matches!(c, '0'..='9' | 'a'..='f'));
    let mixed = w.iter().any(|c| c.is_ascii_digit()) && w.iter().any(|c| c.is_ascii_lowercase());
    (matches!(w.len(), 16 | 32 | 40 | 64) && hex && mixed).then_some(end)
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

    #[test]
    fn names_and_lookup_values_are_masked_whole() {
        assert_eq!(mask_name("王伟"), "王*");
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("欧阳娜娜"), "欧阳**");
        assert_eq!(mask_name("王"), "*");
        assert_eq!(mask_query("王伟"), "王*");
        assert_eq!(
            mask_query("王伟 440106199001011234"),
            "王* 440106********1234"
        );
        assert_eq!(
            mask_query("王伟440106199001011234"),
            "王*440106********1234"
        );
        assert_eq!(
            mask_query("440106199001011234王伟"),
            "440106********1234王*"
        );
        assert_eq!(
            mask_query("Zhang Wei 4401 0619 9001 011234"),
            "Zh*** W** 4401 0***********1234"
        );
        assert_eq!(mask_query("440106199001011234"), "440106********1234");
        assert_eq!(
            mask_query("４４０１０６１９９００１０１１２３４"),
            "４４０１０６********１２３４"
        );
    }

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

/// The scanner attacked with generated numbers in every spelling (proptest).
#[cfg(test)]
mod scanner {
    use super::*;
    use crate::rules::idcard::{check_char, regions};
    use proptest::prelude::*;

    /// What a reader would search for: spaces and dashes gone, full-width as ASCII, upper case.
    pub(crate) fn normalised(text: &str) -> String {
        text.chars()
            .filter_map(|c| match class(c) {
                Class::Sep => None,
                Class::Digit(d) | Class::Letter(d) => Some(d as char),
                Class::Other => Some(c),
            })
            .collect()
    }

    /// A valid 18-character ID of a region of the table, born on day `born` after 1900-01-01.
    fn resident_id(region: usize, born: i64, seq: u32) -> String {
        let codes = regions();
        let region = codes[region % codes.len()];
        let birth = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).unwrap()
            + chrono::Duration::days(born % 45_000);
        let first17 = format!("{region:06}{}{:03}", birth.format("%Y%m%d"), seq % 1000);
        format!("{first17}{}", check_char(&first17).unwrap())
    }

    /// A 2023 foreigner card: 9, a province, a nationality, a birth date, a sequence, the check.
    fn foreigner_2023(born: i64, seq: u32) -> String {
        let birth = chrono::NaiveDate::from_ymd_opt(1930, 1, 1).unwrap()
            + chrono::Duration::days(born % 30_000);
        let first17 = format!("944156{}{:03}", birth.format("%Y%m%d"), seq % 1000);
        format!("{first17}{}", check_char(&first17).unwrap())
    }

    /// Writes `number` as a person might: each digit ASCII or full-width (`wide`), an `X`
    /// upper or lower case, and between two digits (or the letters and the first digit) the
    /// separator `gaps` picks (none most often; a space, a dash, an ideographic space, a
    /// full-width dash, ` - `).
    fn spelled(number: &str, wide: &[bool], gaps: &[usize], lower: bool) -> String {
        const SEPS: [&str; 8] = ["", "", "", " ", "-", "\u{3000}", "－", " - "];
        let chars: Vec<char> = number.chars().collect();
        let mut out = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if i > 0 && c.is_ascii_digit() {
                out.push_str(SEPS[gaps.get(i).copied().unwrap_or(0) % SEPS.len()]);
            }
            let c = if c == 'X' && lower { 'x' } else { c };
            let wide = wide.get(i).copied().unwrap_or(false);
            out.push(if wide && c.is_ascii_alphanumeric() {
                char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)
            } else {
                c
            });
        }
        out
    }

    /// Text around a number, never a letter or digit next to it.
    const AROUND: [(&str, &str); 6] = [
        ("", ""),
        ("证件号码 ", " 格式不对"),
        ("第 57 行「证件号码」: 号码「", "」有误"),
        ("msg: ", "."),
        ("（", "）\n"),
        ("手机：", "，请核对"),
    ];

    fn every_spelling_is_masked(number: &str, text: &str, keep_head: &str, keep_tail: &str) {
        let masked = mask_text(text);
        let seen = normalised(&masked);
        assert!(!seen.contains(number), "{text:?} -> {masked:?}");
        assert!(
            seen.contains(keep_head) && seen.contains(keep_tail),
            "recognisable: {text:?} -> {masked:?}"
        );
        // The log's policy masks at least as much, and masking again changes nothing.
        assert!(!normalised(&mask_numbers(text)).contains(number));
        assert_eq!(mask_text(&masked), masked);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

        #[test]
        fn resident_ids_are_masked_however_written(
            region in any::<usize>(), born in 0i64..45_000, seq in any::<u32>(),
            wide in proptest::collection::vec(any::<bool>(), 18),
            all_wide in any::<bool>(),
            gaps in proptest::collection::vec(0usize..8, 18),
            lower in any::<bool>(), around in 0usize..AROUND.len(),
        ) {
            let id = resident_id(region, born, seq);
            let wide: Vec<bool> = wide.iter().map(|w| *w || all_wide).collect();
            let (pre, post) = AROUND[around];
            let text = format!("{pre}{}{post}", spelled(&id, &wide, &gaps, lower));
            every_spelling_is_masked(&id, &text, &id[..6], &id[14..]);
            // The old 15 digits of the same person.
            let old = format!("{}{}{}", &id[..6], &id[8..17], "");
            let old = &old[..15];
            let text = format!("{pre}{}{post}", spelled(old, &wide, &gaps, lower));
            every_spelling_is_masked(old, &text, &old[..6], &old[11..]);
        }

        #[test]
        fn foreigner_cards_of_2023_are_masked(
            born in 0i64..30_000, seq in any::<u32>(),
            gaps in proptest::collection::vec(0usize..8, 18), all_wide in any::<bool>(),
        ) {
            let card = foreigner_2023(born, seq);
            let text = format!("永居证 {}。", spelled(&card, &[all_wide; 18], &gaps, false));
            every_spelling_is_masked(&card, &text, &card[..6], &card[14..]);
        }

        #[test]
        fn mobiles_are_masked_however_written(
            second in 3u8..=9, rest in 0u64..1_000_000_000,
            gaps in proptest::collection::vec(0usize..8, 11), all_wide in any::<bool>(),
            plus86 in any::<bool>(), around in 0usize..AROUND.len(),
        ) {
            let mobile = format!("1{second}{rest:09}");
            let (pre, post) = AROUND[around];
            let code = if plus86 { "+86 " } else { "" };
            let text = format!("{pre}{code}{}{post}", spelled(&mobile, &[all_wide; 11], &gaps, false));
            every_spelling_is_masked(&mobile, &text, &mobile[..3], &mobile[7..]);
        }

        #[test]
        fn passports_permits_and_old_foreigner_cards_are_masked(
            kind in 0usize..6, letters in "[A-Z]{3}", digits in "[0-9]{12}",
            gaps in proptest::collection::vec(0usize..8, 15), all_wide in any::<bool>(),
            around in 0usize..AROUND.len(),
        ) {
            // A passport (a letter and 8 digits, two letters and 7), a 港澳 permit (H or M
            // and 8 or 10 digits), the 2004 foreigner card (3 letters, 12 digits).
            let (l, d) = [(1, 8), (2, 7), (1, 8), (1, 10), (3, 12), (1, 10)][kind];
            let first = match kind {
                2 | 3 => "H",
                5 => "M",
                _ => &letters[..1],
            };
            let number = format!("{first}{}{}", &letters[1..l], &digits[..d]);
            let (pre, post) = AROUND[around];
            let text = format!("{pre}{}{post}", spelled(&number, &[all_wide; 15], &gaps, false));
            let tail = &number[number.len() - 3..];
            every_spelling_is_masked(&number, &text, &number[..l], tail);
        }

        /// Dates, times, row numbers, counts, barcodes and addresses stay as they are.
        #[test]
        fn ordinary_numbers_are_kept(
            parts in proptest::collection::vec((0usize..8, 0u32..100_000, 0u32..3_000_000), 1..12),
        ) {
            let text: String = parts
                .iter()
                .map(|&(kind, n, m)| match kind {
                    0 => format!("第 {n} 行"),
                    1 => format!("共 {n} 条，{m} 行"),
                    2 => format!("2022-01-{:02} {:02}:30:00", n % 28 + 1, n % 24),
                    3 => format!("{}{:02}{:02}", 2000 + n % 30, n % 12 + 1, n % 28 + 1),
                    4 => format!("T{:010}", m),
                    5 => format!("条码 4401060000{:06}", m % 1_000_000),
                    6 => format!("天河路{n}号"),
                    _ => format!("HTTP {} 127.0.0.1:{}", n % 600, m % 65536),
                })
                .collect::<Vec<_>>()
                .join("；");
            prop_assert_eq!(mask_text(&text), text);
        }
    }

    #[test]
    fn a_field_value_is_masked_whole_by_its_kind() {
        // A phone column's value that is no valid mobile, a 台胞证 number, a passport of any
        // shape: masked because the field says what it is.
        assert_eq!(mask_value("12345", Personal::Phone), "***45");
        assert_eq!(mask_value("2345678901", Personal::Phone), "23****8901");
        assert_eq!(mask_value("020-8765432", Personal::Phone), "020****5432");
        assert_eq!(mask_value("12345678", Personal::Document), "******78");
        assert_eq!(mask_value("H1234567890", Personal::Document), "H12****7890");
        assert_eq!(
            mask_value("440106-19900101-1234", Personal::Document),
            "440106**********1234"
        );
    }

    #[test]
    fn separated_numbers_are_masked_in_place() {
        assert_eq!(
            mask_text("号码 440106 1990 0101 1234 电话 138-0013-8000"),
            "号码 440106 **** **** 1234 电话 138-****-8000"
        );
        assert_eq!(mask_text("护照 E12345678"), "护照 E*****678");
        assert_eq!(mask_text("通行证 H 1234 5678 90"), "通行证 H **** ***8 90");
        assert_eq!(mask_text("card USA123456789012"), "card USA********9012");
        assert_eq!(mask_text("+86 13800138000"), "+86 138****8000");
        assert_eq!(mask_text("8613800138000"), "86138****8000");
        // Letters a to f glued to an ID do not make it a batch id.
        assert_eq!(mask_text("440106199001011234abc"), "440106********1234abc");
        // Two numbers side by side are two numbers.
        assert_eq!(
            mask_text("13800138000 440106199001011234"),
            "138****8000 440106********1234"
        );
    }
}
