//! Resident ID numbers (GB 11643): check digit, birth date, region code, 15-to-18 upgrade; the
//! 2023-format 外国人永久居留身份证 (GA 2102-2023) with its nationality code (GB/T 2659).

use chrono::{Datelike, NaiveDate};
use std::sync::OnceLock;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The region-code table (GB/T 2260, retired codes included), from `assets/regions/gb2260.tsv`.
static REGIONS_TSV: &str = include_str!("../../assets/regions/gb2260.tsv");

/// Sorted six-digit region codes, built once from the bundled table (immutable data).
pub(crate) fn regions() -> &'static [u32] {
    static CODES: OnceLock<Vec<u32>> = OnceLock::new();
    CODES.get_or_init(|| {
        let mut codes: Vec<u32> = REGIONS_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').next()?.parse().ok())
            .collect();
        codes.sort_unstable();
        codes
    })
}

/// The name of a region code, when the table knows it (for messages).
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS_TSV.lines().find_map(|l| {
        let (c, name) = l.split_once('\t')?;
        (c == code).then_some(name)
    })
}

/// Whether a six-digit region code exists or existed. The 81/82/83 prefixes (residence permits
/// of Hong Kong, Macao and Taiwan residents) are always valid.
pub fn region_exists(code: &str) -> bool {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    if matches!(&code[..2], "81" | "82" | "83") {
        return true;
    }
    code.parse::<u32>()
        .map(|n| regions().binary_search(&n).is_ok())
        .unwrap_or(false)
}

/// The country-code table (GB/T 2659 numeric, the same numbers as ISO 3166-1 numeric), from
/// `assets/regions/iso3166-numeric.tsv` (Debian iso-codes; `assets/regions/countries.py`).
static COUNTRIES_TSV: &str = include_str!("../../assets/regions/iso3166-numeric.tsv");

/// The three-digit numbers of the country table, in its order (lines that are not comments).
pub(crate) fn country_codes() -> impl Iterator<Item = u16> {
    COUNTRIES_TSV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split('\t').next()?.parse().ok())
        .filter(|&n: &u16| n < 1000)
}

/// One bit per number 000-999, set for a country code: built once, then a lookup is a shift
/// (nothing allocated per row).
fn countries() -> &'static [u64; 16] {
    static BITS: OnceLock<[u64; 16]> = OnceLock::new();
    BITS.get_or_init(|| {
        let mut bits = [0u64; 16];
        for n in country_codes() {
            bits[usize::from(n / 64)] |= 1 << (n % 64);
        }
        bits
    })
}

/// Whether three digits are a numeric country code of GB/T 2659 (`156`, `840`; not `000`).
pub fn nationality_exists(code: &str) -> bool {
    let b = code.as_bytes();
    if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let n = b.iter().fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    countries()[usize::from(n / 64)] & (1 << (n % 64)) != 0
}

/// The check character for the first 17 digits (ISO 7064 MOD 11-2, 10 written `X`).
pub fn check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17
        .bytes()
        .zip(WEIGHTS)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    Some(CHECK[(sum % 11) as usize] as char)
}

/// Whether two digits are a province code of GB/T 2260 (11-15, 21-23, 31-37, 41-46, 50-54,
/// 61-65, 71) or a residence-permit prefix (81-83).
pub fn province_exists(two: &str) -> bool {
    if two.len() != 2 || !two.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    matches!(
        two.parse::<u8>().unwrap_or(0),
        11..=15 | 21..=23 | 31..=37 | 41..=46 | 50..=54 | 61..=65 | 71 | 81..=83
    )
}

/// What a valid resident ID (or a 2023-format permanent residence ID) tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidentId {
    pub birth: NaiveDate,
    /// `true` for 男 (odd 17th digit).
    pub male: bool,
}

/// Why an ID number is not valid, or what is doubtful about it. Several can hold at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdProblem {
    /// Not 18 characters (the length found).
    Length(usize),
    /// Characters other than 17 digits and a final digit or `X`.
    Format,
    /// The province (first two digits) does not exist, or the region code is unknown and the
    /// check digit is wrong too: the code (six digits, or two for a permanent residence ID).
    Region(String),
    /// The region code is not in the table but the province exists and the check digit is
    /// right: most likely a gap in the table (a warning, not an error).
    RegionUnknown(String),
    /// The nationality of a 2023-format permanent residence ID (digits 4-6) is not a country
    /// code of GB/T 2659 (the three digits).
    Nationality(String),
    /// The birth date does not exist or lies after `not_after` (the date found, `YYYY-MM-DD` or
    /// the raw eight digits).
    Birthdate(String),
    /// The check character is wrong (the expected one).
    Checksum(char),
}

impl IdProblem {
    /// Whether the number must be rejected for it (all but [`IdProblem::RegionUnknown`]).
    pub fn is_error(&self) -> bool {
        !matches!(self, IdProblem::RegionUnknown(_))
    }
}

/// The outcome of checking one number.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Checked {
    /// Birth date and sex, when the number carries them and has no error.
    pub person: Option<ResidentId>,
    /// Errors and warnings, in the order region, nationality, birth date, check digit: every
    /// defect found, not only the first.
    pub problems: Vec<IdProblem>,
}

impl Checked {
    /// No problem that rejects the number.
    pub fn is_valid(&self) -> bool {
        !self.problems.iter().any(IdProblem::is_error)
    }

    fn error(p: IdProblem) -> Checked {
        Checked {
            person: None,
            problems: vec![p],
        }
    }
}

/// Checks an 18-character resident ID (already half-width, upper-case, without spaces).
/// `not_after` is the latest allowed birth date (the sampling date, or today).
pub fn check(id: &str, not_after: NaiveDate) -> Checked {
    let len = id.chars().count();
    if len != 18 {
        return Checked::error(IdProblem::Length(len));
    }
    if !is_18_shape(id) {
        return Checked::error(IdProblem::Format);
    }
    let checksum_ok = check_char(&id[..17]).is_some_and(|c| c as u8 == id.as_bytes()[17]);
    let mut problems = Vec::new();
    if !province_exists(&id[..2]) {
        problems.push(IdProblem::Region(id[..6].to_owned()));
    } else if !region_exists(&id[..6]) {
        problems.push(if checksum_ok {
            IdProblem::RegionUnknown(id[..6].to_owned())
        } else {
            IdProblem::Region(id[..6].to_owned())
        });
    }
    finish(id, not_after, checksum_ok, problems)
}

/// 17 digits and a final digit or `X` (the caller has checked the length).
fn is_18_shape(id: &str) -> bool {
    let b = id.as_bytes();
    b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X')
}

/// Birth date and check digit, shared by both 18-character rules.
fn finish(
    id: &str,
    not_after: NaiveDate,
    checksum_ok: bool,
    mut problems: Vec<IdProblem>,
) -> Checked {
    let birth = parse_birth(&id[6..14]);
    match birth {
        Some(b) if b <= not_after && b.year() >= 1860 => {}
        Some(b) => problems.push(IdProblem::Birthdate(b.format("%Y-%m-%d").to_string())),
        None => problems.push(IdProblem::Birthdate(id[6..14].to_owned())),
    }
    if !checksum_ok && let Some(expected) = check_char(&id[..17]) {
        problems.push(IdProblem::Checksum(expected));
    }
    let valid = !problems.iter().any(IdProblem::is_error);
    Checked {
        person: birth.filter(|_| valid).map(|birth| ResidentId {
            birth,
            male: (id.as_bytes()[16] - b'0') % 2 == 1,
        }),
        problems,
    }
}

/// Checks a 外国人永久居留身份证 number: the 2023 format (GA 2102-2023: `9`, a province, a
/// three-digit nationality of GB/T 2659, the birth date, a sequence odd for men, the MOD 11-2
/// check digit) or the 2004 format (three capital letters and 12 digits, which tell nothing
/// more). Each defect of a 2023 card is reported (a bad nationality and a wrong check digit
/// are two problems).
pub fn check_permanent_residence(id: &str, not_after: NaiveDate) -> Checked {
    let b = id.as_bytes();
    if b.len() == 15
        && b[..3].iter().all(u8::is_ascii_uppercase)
        && b[3..].iter().all(u8::is_ascii_digit)
    {
        return Checked::default();
    }
    if !id.starts_with('9') || !is_18_shape(id) {
        return Checked::error(IdProblem::Format);
    }
    let checksum_ok = check_char(&id[..17]).is_some_and(|c| c as u8 == b[17]);
    let mut problems = Vec::new();
    if !province_exists(&id[1..3]) {
        problems.push(IdProblem::Region(id[1..3].to_owned()));
    }
    if !nationality_exists(&id[3..6]) {
        problems.push(IdProblem::Nationality(id[3..6].to_owned()));
    }
    finish(id, not_after, checksum_ok, problems)
}

fn parse_birth(yyyymmdd: &str) -> Option<NaiveDate> {
    let y = yyyymmdd.get(..4)?.parse().ok()?;
    let m = yyyymmdd.get(4..6)?.parse().ok()?;
    let d = yyyymmdd.get(6..8)?.parse().ok()?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// Upgrades a 15-digit legacy ID (born 19YY) to 18 digits, or `None` when it is not 15 digits.
pub fn upgrade_15(id: &str) -> Option<String> {
    if id.len() != 15 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let first17 = format!("{}19{}", &id[..6], &id[6..]);
    let c = check_char(&first17)?;
    Some(format!("{first17}{c}"))
}

/// Whole years between `birth` and `at`.
pub fn age_at(birth: NaiveDate, at: NaiveDate) -> i32 {
    let mut age = at.year() - birth.year();
    if (at.month(), at.day()) < (birth.month(), birth.day()) {
        age -= 1;
    }
    age
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2022, 1, 10).unwrap()
    }

    fn make(first17: &str) -> String {
        format!("{first17}{}", check_char(first17).unwrap())
    }

    #[test]
    fn check_digit_known_values() {
        // The GB 11643 example number.
        assert_eq!(check_char("11010519491231002"), Some('X'));
        assert_eq!(check_char("44010619900101123"), Some('5'));
        assert_eq!(check_char("4401061990010112"), None);
    }

    #[test]
    fn valid_id_gives_birth_and_sex() {
        let id = make("44010619900101123");
        let r = check(&id, today()).person.unwrap();
        assert_eq!(r.birth, NaiveDate::from_ymd_opt(1990, 1, 1).unwrap());
        assert!(r.male);
        let id = make("11010519491231002");
        assert!(!check(&id, today()).person.unwrap().male);
    }

    #[test]
    fn wrong_check_digit() {
        assert_eq!(
            check("440106199001011230", today()).problems,
            [IdProblem::Checksum('5')]
        );
    }

    #[test]
    fn length_and_format() {
        assert_eq!(
            check("4401061990", today()).problems,
            [IdProblem::Length(10)]
        );
        assert_eq!(
            check("44010619900101123Y", today()).problems,
            [IdProblem::Format]
        );
        assert_eq!(
            check("4401061990010112X4", today()).problems,
            [IdProblem::Format]
        );
    }

    #[test]
    fn impossible_and_future_birth_dates() {
        let id = make("44010619900230123");
        assert_eq!(
            check(&id, today()).problems,
            [IdProblem::Birthdate("19900230".into())]
        );
        let id = make("44010620230101123");
        assert_eq!(
            check(&id, today()).problems,
            [IdProblem::Birthdate("2023-01-01".into())]
        );
    }

    #[test]
    fn region_codes_current_retired_and_missing() {
        assert!(region_exists("440106"));
        assert!(
            region_exists("110103"),
            "崇文区, retired in 2010, still on old IDs"
        );
        assert!(region_exists("440102"), "广州东山区, retired in 2005");
        assert!(region_exists("810000") && region_exists("830000"));
        assert!(!region_exists("990101"));
        let id = make("99010119900101123");
        assert_eq!(
            check(&id, today()).problems,
            [IdProblem::Region("990101".into())]
        );
    }

    #[test]
    fn unknown_region_with_right_check_digit_is_only_a_warning() {
        // 332829 (an old Zhejiang county code) is missing from many tables.
        let id = make("33282919800101123");
        let c = check(&id, today());
        assert!(c.is_valid(), "{c:?}");
        assert_eq!(c.problems, [IdProblem::RegionUnknown("332829".into())]);
        assert!(c.person.is_some(), "sex and age still derive");
        // The same code with a wrong check digit: a typo is more likely than a gap.
        let mut bad = id.clone();
        bad.replace_range(17..18, if id.ends_with('1') { "2" } else { "1" });
        let c = check(&bad, today());
        assert!(!c.is_valid());
        assert!(c.problems.contains(&IdProblem::Region("332829".into())));
        assert!(matches!(c.problems.last(), Some(IdProblem::Checksum(_))));
        // A province that does not exist is an error even with a right check digit.
        for first17 in [
            "16010119800101123",
            "72010119800101123",
            "00010119800101123",
        ] {
            let c = check(&make(first17), today());
            assert_eq!(
                c.problems,
                [IdProblem::Region(first17[..6].into())],
                "{first17}"
            );
        }
        // Any 81/82/83 code is valid without a warning.
        for first17 in [
            "81123419800101123",
            "82999919800101123",
            "83000119800101123",
        ] {
            let c = check(&make(first17), today());
            assert!(c.problems.is_empty(), "{first17}: {c:?}");
        }
    }

    #[test]
    fn permanent_residence_ids_2023_and_2004() {
        // 9, province 44, nationality 840, born 1985-03-05, sequence 123 (odd: male).
        let id = make("94484019850305123");
        let c = check_permanent_residence(&id, today());
        assert!(c.is_valid(), "{c:?}");
        let p = c.person.unwrap();
        assert_eq!(p.birth, NaiveDate::from_ymd_opt(1985, 3, 5).unwrap());
        assert!(p.male);
        let c = check_permanent_residence("USA110085030512", today());
        assert!(c.is_valid() && c.person.is_none());
        let mut bad = id.clone();
        bad.replace_range(17..18, if id.ends_with('0') { "1" } else { "0" });
        assert!(matches!(
            check_permanent_residence(&bad, today()).problems[..],
            [IdProblem::Checksum(_)]
        ));
        assert_eq!(
            check_permanent_residence(&make("99984019850305123"), today()).problems,
            [IdProblem::Region("99".into())]
        );
        assert_eq!(
            check_permanent_residence(&make("94484020230305123"), today()).problems,
            [IdProblem::Birthdate("2023-03-05".into())]
        );
        for other in [
            "G66570351",
            "84484019850305123X",
            "usa110085030512",
            "44010619900101123X",
        ] {
            assert_eq!(
                check_permanent_residence(other, today()).problems,
                [IdProblem::Format],
                "{other}"
            );
        }
    }

    #[test]
    fn the_country_table_is_read_whole() {
        // Every line of the bundled table is a code (none silently dropped by the parser).
        let lines: Vec<&str> = COUNTRIES_TSV
            .lines()
            .filter(|l| !l.starts_with('#'))
            .collect();
        assert_eq!(lines.len(), 249, "ISO 3166-1 has 249 entries");
        let codes: Vec<u16> = country_codes().collect();
        assert_eq!(codes.len(), lines.len());
        assert!(codes.windows(2).all(|w| w[0] < w[1]), "sorted, each once");
        for line in &lines {
            let cols: Vec<&str> = line.split('\t').collect();
            assert!(
                cols.len() == 3 && cols[0].len() == 3 && cols[1].len() == 3,
                "{line}"
            );
            assert!(nationality_exists(cols[0]), "{line}");
        }
        let count = (0..1000)
            .filter(|n| nationality_exists(&format!("{n:03}")))
            .count();
        assert_eq!(count, 249, "the lookup agrees with the table");
    }

    #[test]
    fn nationality_codes() {
        // 004 Afghanistan, 156 China, 840 United States, 894 Zambia (the table's ends).
        for code in ["004", "156", "344", "446", "158", "840", "894"] {
            assert!(nationality_exists(code), "{code}");
        }
        for code in [
            "000",
            "001",
            "999",
            "900",
            "84",
            "8400",
            "84a",
            "",
            "０８４",
            "+84",
        ] {
            assert!(!nationality_exists(code), "{code}");
        }
    }

    #[test]
    fn each_defect_of_a_2023_card_is_reported() {
        // Code 000 with a right check digit: the nationality alone.
        let zero = make("94400019850305123");
        assert_eq!(
            check_permanent_residence(&zero, today()).problems,
            [IdProblem::Nationality("000".into())]
        );
        // ... and with a wrong one: both.
        let expected = zero.as_bytes()[17] as char;
        let wrong = format!("{}{}", &zero[..17], if expected == '0' { '1' } else { '0' });
        assert_eq!(
            check_permanent_residence(&wrong, today()).problems,
            [
                IdProblem::Nationality("000".into()),
                IdProblem::Checksum(expected)
            ]
        );
        // Province, nationality, birth date and check digit all wrong: four problems.
        let all = make("99999919850230123");
        let expected = all.as_bytes()[17] as char;
        let all = format!("{}{}", &all[..17], if expected == '0' { '1' } else { '0' });
        let c = check_permanent_residence(&all, today());
        assert_eq!(
            c.problems,
            [
                IdProblem::Region("99".into()),
                IdProblem::Nationality("999".into()),
                IdProblem::Birthdate("19850230".into()),
                IdProblem::Checksum(expected)
            ]
        );
        assert!(c.person.is_none());
        // The example (9, province 51, code 000, right check digit): no card.
        assert_eq!(
            check_permanent_residence("951000201106300321", today()).problems,
            [IdProblem::Nationality("000".into())]
        );
    }

    #[test]
    fn region_created_after_birth_is_valid() {
        // 440118 (增城区) was created in 2014; someone born in 1980 may well carry it.
        let id = make("44011819800101123");
        assert!(check(&id, today()).problems.is_empty());
    }

    #[test]
    fn residence_permits_are_valid() {
        let id = make("81000019900101123");
        assert!(check(&id, today()).problems.is_empty());
    }

    #[test]
    fn upgrade_15_to_18() {
        let up = upgrade_15("440106900101123").unwrap();
        assert_eq!(up.len(), 18);
        assert!(up.starts_with("44010619900101123"));
        assert!(check(&up, today()).problems.is_empty());
        assert_eq!(upgrade_15("44010690010112"), None);
    }

    #[test]
    fn age_counts_whole_years() {
        let b = NaiveDate::from_ymd_opt(1990, 6, 15).unwrap();
        assert_eq!(age_at(b, NaiveDate::from_ymd_opt(2022, 6, 14).unwrap()), 31);
        assert_eq!(age_at(b, NaiveDate::from_ymd_opt(2022, 6, 15).unwrap()), 32);
    }

    #[test]
    fn region_names() {
        assert_eq!(region_name("110103"), Some("崇文区"));
    }
}
