//! guarantees.md §6. Personal numbers are masked however they are written.
//!
//! Generated people (resident IDs of random regions and births with their check digits, old
//! 15-digit IDs, passports, 港澳 and 台湾 permits, both foreigner cards, mobiles, phones that
//! are no mobile), each number in a random spelling (plain, spaced in groups, dashed,
//! full-width, lower-case x, mixed), put where the program quotes them (the ID and phone
//! columns, a free-text cell, the input's file name, `lookup`'s value). Then every text the
//! program writes outside a file of rows is searched, normalised (spaces and dashes gone,
//! full-width as ASCII, upper case), for every number: stdout and stderr of `check` and
//! `convert`, the `--report` JSON, `lookup VALUE`'s answer, the log (with the command lines it
//! logged) and every entry of the diagnostic bundle.

use crate::support::{HEADER, SheetSpec, V, check_char, person, repo, run, t, tmp, write_xlsx};
use std::io::Read;
use std::path::Path;

/// The region codes of the bundled table (GB/T 2260, retired ones too).
fn regions() -> Vec<String> {
    std::fs::read_to_string(repo().join("assets/regions/gb2260.tsv"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next())
        .filter(|c| c.len() == 6 && c.bytes().all(|b| b.is_ascii_digit()))
        .map(str::to_owned)
        .collect()
}

fn digits(rng: &mut fastrand::Rng, n: usize) -> String {
    (0..n).map(|_| rng.digit(10)).collect()
}

/// A birth date `YYYYMMDD` between 1930 and 2015.
fn birth(rng: &mut fastrand::Rng) -> String {
    format!(
        "{}{:02}{:02}",
        rng.u32(1930..=2015),
        rng.u32(1..=12),
        rng.u32(1..=28)
    )
}

/// A valid 18-character resident ID of a random region and birth.
fn resident_id(rng: &mut fastrand::Rng, regions: &[String]) -> String {
    let region = &regions[rng.usize(..regions.len())];
    let first17 = format!("{region}{}{}", birth(rng), digits(rng, 3));
    format!("{first17}{}", check_char(&first17))
}

/// A 2023 foreigner card: 9, a province, a nationality (156, 840, 250...), a birth, the check.
fn foreigner_2023(rng: &mut fastrand::Rng) -> String {
    let nation = ["156", "840", "250", "392", "410", "643"][rng.usize(..6)];
    let province = ["11", "31", "44", "51"][rng.usize(..4)];
    let first17 = format!("9{province}{nation}{}{}", birth(rng), digits(rng, 3));
    format!("{first17}{}", check_char(&first17))
}

fn wide(c: char) -> char {
    if c.is_ascii_alphanumeric() {
        char::from_u32(c as u32 + 0xFEE0).unwrap_or(c)
    } else {
        c
    }
}

/// `number` as a person may type it: plain, spaced in groups, dashed, full-width, with a
/// lower-case x, or mixed (each character ASCII or full-width, random separators between
/// digits).
fn spell(rng: &mut fastrand::Rng, number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let groups = |sep: &str| {
        let mut out = String::new();
        for (i, &c) in chars.iter().enumerate() {
            if i > 0 && c.is_ascii_digit() && [3, 6, 7, 10, 14].contains(&i) {
                out.push_str(sep);
            }
            out.push(c);
        }
        out
    };
    match rng.u8(..6) {
        0 => number.to_owned(),
        1 => groups(" "),
        2 => groups("-"),
        3 => chars.iter().map(|&c| wide(c)).collect(),
        4 => number.to_lowercase(),
        _ => {
            const SEPS: [&str; 7] = ["", "", " ", "-", "\u{3000}", "－", " - "];
            let mut out = String::new();
            for (i, &c) in chars.iter().enumerate() {
                if i > 0 && c.is_ascii_digit() {
                    out.push_str(SEPS[rng.usize(..SEPS.len())]);
                }
                let c = if rng.bool() {
                    c.to_ascii_lowercase()
                } else {
                    c
                };
                out.push(if rng.bool() { wide(c) } else { c });
            }
            out
        }
    }
}

/// What a reader searches: spaces and dashes gone, full-width as ASCII, upper case.
fn normalised(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !c.is_whitespace()
                && !matches!(
                    c,
                    '-' | '－' | '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{fe63}'
                )
        })
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .collect::<String>()
        .to_uppercase()
}

/// Asserts that no number of `secrets` is in `text`, however spelled there.
#[track_caller]
fn holds_none(what: &str, text: &str, secrets: &[String], seed: u64) {
    let seen = normalised(text);
    for s in secrets {
        assert!(
            !seen.contains(s.as_str()),
            "seed {seed}: {s} in {what}:\n{text}"
        );
    }
}

/// The people of one run: their rows and every personal number in them (canonical: ASCII,
/// upper case, no separators), and a few numbers spelled for `lookup` and a file name.
struct People {
    rows: Vec<Vec<V>>,
    secrets: Vec<String>,
    asked: Vec<String>,
}

fn people(rng: &mut fastrand::Rng, n: usize) -> People {
    let regions = regions();
    let mut rows = vec![HEADER.iter().map(|h| t(h)).collect::<Vec<V>>()];
    let mut secrets = Vec::new();
    let mut asked = Vec::new();
    for i in 0..n {
        let mut row = person(i as u32, &format!("T{:010}", i / 10));
        // The ID column, the type column, the phone column, and a free-text cell that is
        // quoted when wrong (the result).
        let (kind, number, id_cell) = match i % 10 {
            // A resident ID, valid once the program drops spaces and full-width: no message
            // names it, but lookup and the file name do.
            0 => {
                let id = resident_id(rng, &regions);
                let cell = spell(rng, &id);
                ("居民身份证", id, cell)
            }
            // Dashed: not a valid ID, so its message quotes it.
            1 => {
                let id = resident_id(rng, &regions);
                let cell = format!("{}-{}-{}", &id[..6], &id[6..14], &id[14..]);
                ("居民身份证", id, cell)
            }
            // The old 15 digits: upgraded to 18 with a warning that quotes the new number.
            2 => {
                let id = resident_id(rng, &regions);
                let old = format!("{}{}{}", &id[..6], &id[8..14], &id[14..17]);
                let first17 = format!("{}19{}", &old[..6], &old[6..]);
                secrets.push(format!("{first17}{}", check_char(&first17)));
                ("居民身份证", old.clone(), old)
            }
            // A passport with a dash inside: the type's pattern fails and quotes it.
            3 => {
                let p = format!("{}{}", ["E", "G", "D"][rng.usize(..3)], digits(rng, 8));
                let cell = format!("{}-{}", &p[..5], &p[5..]);
                ("护照", p, cell)
            }
            // A 港澳 permit of a wrong length: a warning quotes it.
            4 => {
                let p = format!("{}{}", ["H", "M"][rng.usize(..2)], digits(rng, 9));
                ("港澳通行证", p.clone(), p)
            }
            // A 台湾 permit of 9 digits: a warning quotes it; only the field says what it is.
            5 => {
                let p = format!("{}{}", rng.u8(1..=9), digits(rng, 8));
                ("台胞证", p.clone(), p)
            }
            // The 2004 foreigner card, spelled: valid once spaces go.
            6 => {
                let letters: String = (0..3).map(|_| rng.uppercase()).collect();
                let card = format!("{letters}{}", digits(rng, 12));
                let cell = spell(rng, &card);
                ("外国人永久居留身份证", card, cell)
            }
            // A 2023 foreigner card filed as a resident ID: the type is changed, with a
            // warning that quotes the number.
            7 => {
                let card = foreigner_2023(rng);
                ("居民身份证", card.clone(), card)
            }
            // A two-letter passport, a resident ID with a broken check digit.
            8 => {
                let p = format!("E{}{}", rng.uppercase(), digits(rng, 7));
                ("护照", p.clone(), format!("{p}!"))
            }
            _ => {
                let id = resident_id(rng, &regions);
                let broken = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
                secrets.push(broken.clone());
                ("居民身份证", id, spell(rng, &broken))
            }
        };
        row[1] = t(kind);
        row[2] = t(&id_cell);
        // Sex and age are derived from a resident ID, so the rows stay valid otherwise.
        row[3] = V::Blank;
        row[4] = V::Blank;
        secrets.push(number.clone());
        if asked.len() < 12 && i % 2 == 0 {
            asked.push(spell(rng, &number));
        }
        // Phones: a mobile spelled any way, or a number that is no mobile (quoted when wrong).
        let phone = match i % 3 {
            0 => format!("1{}{}", rng.u8(3..=9), digits(rng, 9)),
            1 => format!("{}{}", rng.u8(2..=9), digits(rng, 9)),
            _ => format!("{}{}", rng.u8(2..=9), digits(rng, 11)),
        };
        row[5] = t(&spell(rng, &phone));
        secrets.push(phone);
        // A result cell that is not a result, quoting a number of another person.
        if i % 4 == 1 {
            let other = match rng.u8(..4) {
                0 => resident_id(rng, &regions),
                1 => format!("1{}{}", rng.u8(3..=9), digits(rng, 9)),
                2 => format!("{}{}{}", rng.uppercase(), rng.uppercase(), digits(rng, 7)),
                _ => foreigner_2023(rng),
            };
            row[8] = t(&format!("阴性 {}", spell(rng, &other)));
            secrets.push(other);
        }
        rows.push(row);
    }
    People {
        rows,
        secrets,
        asked,
    }
}

/// Every entry of a zip: (name, text).
fn unzip(path: &Path) -> Vec<(String, String)> {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    (0..zip.len())
        .map(|i| {
            let mut f = zip.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            (name, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect()
}

/// Every text the program writes, for generated people: no full number in any spelling.
#[test]
fn no_personal_number_leaves_the_program_however_written() {
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let home = tmp();
    let h = home.path();
    let People {
        rows,
        mut secrets,
        asked,
    } = people(&mut rng, 60);
    // The export is named after a person, as clerks sometimes do.
    let owner = resident_id(&mut rng, &regions());
    let named = spell(&mut rng, &owner);
    secrets.push(owner);
    let input = h.join(format!("张三_{named}.xlsx"));
    write_xlsx(&input, &[SheetSpec::new("Sheet1", rows)]);
    let input = input.to_str().unwrap();

    let report = h.join("report.json");
    let checked = run(h, &["check", input, "--report", report.to_str().unwrap()]);
    assert_eq!(checked.code, 3, "seed {seed}: {}", checked.stderr);
    let json = std::fs::read_to_string(&report).unwrap();
    // The messages are there (the test attacks them), masked.
    assert!(
        json.contains("id_format") && json.contains("phone_format"),
        "{json}"
    );
    holds_none("the report", &json, &secrets, seed);
    holds_none("check's stderr", &checked.stderr, &secrets, seed);
    holds_none("check's stdout", &checked.stdout, &secrets, seed);

    for args in [
        vec!["check", input],
        vec!["convert", input],
        vec!["--lang", "en", "check", input],
    ] {
        let r = run(h, &args);
        assert_eq!(r.code, 3, "seed {seed}: {args:?}: {}", r.stderr);
        assert!(r.stderr.contains("phone") || r.stderr.contains("联系电话"));
        holds_none(&format!("{args:?}'s stderr"), &r.stderr, &secrets, seed);
        holds_none(&format!("{args:?}'s stdout"), &r.stdout, &secrets, seed);
    }

    for value in &asked {
        let r = run(h, &["lookup", value]);
        assert_eq!(r.code, 0, "seed {seed}: {}", r.stderr);
        assert!(r.stdout.contains("没有记录"), "{}", r.stdout);
        holds_none("lookup's answer", &r.stdout, &secrets, seed);
        holds_none("lookup's stderr", &r.stderr, &secrets, seed);
    }

    let bundle = h.join("bundle.zip");
    let r = run(h, &["diagnose", "-o", bundle.to_str().unwrap()]);
    assert_eq!(r.code, 0, "seed {seed}: {}", r.stderr);
    let entries = unzip(&bundle);
    assert!(entries.iter().any(|(n, _)| n == "log.txt"));
    for (name, text) in &entries {
        holds_none(&format!("the bundle's {name}"), text, &secrets, seed);
    }

    // The log, with the command lines it logged (one per command run).
    let mut log = String::new();
    for entry in std::fs::read_dir(h.join("data/logs")).unwrap() {
        log.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap_or_default());
    }
    let starts = log.lines().filter(|l| l.contains("] start: ")).count();
    assert_eq!(starts, 5 + asked.len(), "{log}");
    assert!(log.contains("lookup "), "{log}");
    holds_none("the log", &log, &secrets, seed);
}

/// A log record with any control character and a number in any spelling is one masked line.
#[test]
fn every_log_record_is_one_masked_line() {
    let seed = fastrand::u64(..);
    let mut rng = fastrand::Rng::with_seed(seed);
    let regions = regions();
    let dir = tmp();
    let log = sheetbridge::log::LogFile::new(dir.path());
    let mut secrets = Vec::new();
    let records = 200;
    for _ in 0..records {
        let id = resident_id(&mut rng, &regions);
        let control = char::from_u32(rng.u32(0..0x20)).unwrap();
        let text = format!(
            "opened: {}{control}{}.xlsx\r\n{}",
            spell(&mut rng, &id),
            rng.u8(..),
            "x"
        );
        log.write_line(&text).unwrap();
        secrets.push(id);
    }
    let text = std::fs::read_to_string(dir.path().join(sheetbridge::log::FILE_NAME)).unwrap();
    assert_eq!(text.lines().count(), records, "seed {seed}");
    assert!(
        !text.chars().any(|c| c.is_control() && c != '\n'),
        "seed {seed}: {text:?}"
    );
    holds_none("the log", &text, &secrets, seed);
}

/// A name looked up (`lookup 王伟`), of any length, is masked in the answer, the log and the
/// bundle like a number would be: the first character stays (two of a compound surname).
#[test]
fn a_name_looked_up_is_masked_in_the_answer_and_the_log() {
    let home = crate::support::tmp();
    for name in ["王伟", "王小明", "欧阳娜娜", "阿卜杜热合曼"] {
        let r = crate::support::run(home.path(), &["lookup", name]);
        let log = std::fs::read_to_string(home.path().join("data/logs/sheetbridge.log")).unwrap();
        for (what, text) in [("stdout", &r.stdout), ("stderr", &r.stderr), ("log", &log)] {
            assert!(!text.contains(name), "{name} in the {what}: {text}");
        }
    }
}
