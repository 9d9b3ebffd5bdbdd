//! Resident ID numbers (GB 11643): check digit, birth date, region code, 15-to-18 upgrade.

use chrono::{Datelike, NaiveDate};
use std::sync::OnceLock;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: &[u8; 11] = b"10X98765432";

/// The region-code table (GB/T 2260, retired codes included), from `assets/regions/gb2260.tsv`.
static REGIONS_TSV: &str = include_str!("../../assets/regions/gb2260.tsv");

/// Sorted six-digit region codes, built once from the bundled table (immutable data).
fn regions() -> &'static [u32] {
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

/// What a valid resident ID tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResidentId {
    pub birth: NaiveDate,
    /// `true` for 男 (odd 17th digit).
    pub male: bool,
}

/// Why a resident ID is not valid. Several can hold at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdProblem {
    /// Not 18 characters (the length found).
    Length(usize),
    /// Characters other than 17 digits and a final digit or `X`.
    Format,
    /// The region code does not exist.
    Region(String),
    /// The birth date does not exist or lies after `not_after` (the date found, `YYYY-MM-DD` or
    /// the raw eight digits).
    Birthdate(String),
    /// The check character is wrong (the expected one).
    Checksum(char),
}

/// Checks an 18-character resident ID (already half-width, upper-case, without spaces).
/// `not_after` is the latest allowed birth date (the sampling date, or today).
pub fn check(id: &str, not_after: NaiveDate) -> Result<ResidentId, Vec<IdProblem>> {
    let len = id.chars().count();
    if len != 18 {
        return Err(vec![IdProblem::Length(len)]);
    }
    let bytes = id.as_bytes();
    if !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
    {
        return Err(vec![IdProblem::Format]);
    }
    let mut problems = Vec::new();
    if !region_exists(&id[..6]) {
        problems.push(IdProblem::Region(id[..6].to_owned()));
    }
    let birth = parse_birth(&id[6..14]);
    match birth {
        Some(b) if b <= not_after && b.year() >= 1860 => {}
        Some(b) => problems.push(IdProblem::Birthdate(b.format("%Y-%m-%d").to_string())),
        None => problems.push(IdProblem::Birthdate(id[6..14].to_owned())),
    }
    if let Some(expected) = check_char(&id[..17])
        && expected as u8 != bytes[17]
    {
        problems.push(IdProblem::Checksum(expected));
    }
    match (birth, problems.is_empty()) {
        (Some(birth), true) => Ok(ResidentId {
            birth,
            male: (bytes[16] - b'0') % 2 == 1,
        }),
        _ => Err(problems),
    }
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
        let r = check(&id, today()).unwrap();
        assert_eq!(r.birth, NaiveDate::from_ymd_opt(1990, 1, 1).unwrap());
        assert!(r.male);
        let id = make("11010519491231002");
        assert!(!check(&id, today()).unwrap().male);
    }

    #[test]
    fn wrong_check_digit() {
        assert_eq!(
            check("440106199001011230", today()),
            Err(vec![IdProblem::Checksum('5')])
        );
    }

    #[test]
    fn length_and_format() {
        assert_eq!(
            check("4401061990", today()),
            Err(vec![IdProblem::Length(10)])
        );
        assert_eq!(
            check("44010619900101123Y", today()),
            Err(vec![IdProblem::Format])
        );
        assert_eq!(
            check("4401061990010112X4", today()),
            Err(vec![IdProblem::Format])
        );
    }

    #[test]
    fn impossible_and_future_birth_dates() {
        let id = make("44010619900230123");
        assert_eq!(
            check(&id, today()),
            Err(vec![IdProblem::Birthdate("19900230".into())])
        );
        let id = make("44010620230101123");
        assert_eq!(
            check(&id, today()),
            Err(vec![IdProblem::Birthdate("2023-01-01".into())])
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
            check(&id, today()),
            Err(vec![IdProblem::Region("990101".into())])
        );
    }

    #[test]
    fn region_created_after_birth_is_valid() {
        // 440118 (增城区) was created in 2014; someone born in 1980 may well carry it.
        let id = make("44011819800101123");
        assert!(check(&id, today()).is_ok());
    }

    #[test]
    fn residence_permits_are_valid() {
        let id = make("81000019900101123");
        assert!(check(&id, today()).is_ok());
    }

    #[test]
    fn upgrade_15_to_18() {
        let up = upgrade_15("440106900101123").unwrap();
        assert_eq!(up.len(), 18);
        assert!(up.starts_with("44010619900101123"));
        assert!(check(&up, today()).is_ok());
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
