//! Property tests of the resident-ID and date-time rules (proptest): random valid IDs round-trip
//! their check digit, sex and birth date; any single-character change of a valid 18-digit ID is
//! rejected; any date-time written in each of the template's shapes reads back to the instant;
//! a 2023-format 外国人永久居留身份证 passes with any country code of the bundled GB/T 2659 table
//! and fails, naming the code, with any other three digits.

use super::datetime::{self, from_excel_serial, parse_text};
use super::idcard::{
    self, IdProblem, check, check_char, check_permanent_residence, country_codes, province_exists,
    regions, upgrade_15,
};
use super::text::Normalizer;
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use proptest::prelude::*;

fn day(n: i64) -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap() + Duration::days(n)
}

fn today() -> NaiveDate {
    chrono::Local::now().date_naive()
}

/// Days from 1900-01-01 to today.
fn days_to_today() -> i64 {
    (today() - day(0)).num_days()
}

/// An 18-digit ID: region, birth date, a two-digit sequence and the sex digit, check digit.
fn make18(region: u32, birth: NaiveDate, seq: u32, male: bool) -> String {
    let sex_digit = (seq % 5) * 2 + u32::from(male);
    let first17 = format!(
        "{region:06}{}{:02}{sex_digit}",
        birth.format("%Y%m%d"),
        seq % 100
    );
    let c = check_char(&first17).unwrap();
    format!("{first17}{c}")
}

/// The province codes (two digits) a 2023 card may carry.
fn provinces() -> Vec<u8> {
    (10..100)
        .filter(|p| province_exists(&p.to_string()))
        .collect()
}

/// The country codes of the bundled table (`assets/regions/iso3166-numeric.tsv`).
fn countries() -> Vec<u16> {
    country_codes().collect()
}

/// A 2023-format 外国人永久居留身份证 (GA 2102-2023): `9`, province, nationality, birth date,
/// a three-digit sequence odd for men, check digit.
fn make_card(province: u8, nationality: u16, birth: NaiveDate, seq: u32, male: bool) -> String {
    let seq = (seq % 500) * 2 + u32::from(male);
    let first17 = format!(
        "9{province:02}{nationality:03}{}{seq:03}",
        birth.format("%Y%m%d")
    );
    let c = check_char(&first17).unwrap();
    format!("{first17}{c}")
}

/// A three-digit number that is not in the country table.
fn not_a_country() -> impl Strategy<Value = u16> {
    (0u16..1000).prop_filter("a country code", |n| !countries().contains(n))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn a_2023_card_with_a_country_code_passes(
        pi in 0..provinces().len(),
        ci in 0..countries().len(),
        days in 0..=days_to_today(),
        seq in 0u32..500,
        male: bool,
    ) {
        let birth = day(days);
        let id = make_card(provinces()[pi], countries()[ci], birth, seq, male);
        let c = check_permanent_residence(&id, today());
        prop_assert!(c.problems.is_empty(), "{} {:?}", id, c.problems);
        prop_assert_eq!(c.person, Some(idcard::ResidentId { birth, male }));
    }

    #[test]
    fn a_2023_card_with_any_other_code_fails(
        pi in 0..provinces().len(),
        code in not_a_country(),
        days in 0..=days_to_today(),
        seq in 0u32..500,
        male: bool,
        wrong_check in any::<bool>(),
    ) {
        let id = make_card(provinces()[pi], code, day(days), seq, male);
        let last = id.as_bytes()[17] as char;
        let id = if wrong_check {
            format!("{}{}", &id[..17], if last == '0' { '1' } else { '0' })
        } else {
            id
        };
        let c = check_permanent_residence(&id, today());
        prop_assert!(!c.is_valid());
        prop_assert!(c.person.is_none());
        // The code is named; a wrong check digit is a second problem, not the only one.
        let mut want = vec![IdProblem::Nationality(format!("{code:03}"))];
        if wrong_check {
            want.push(IdProblem::Checksum(last));
        }
        prop_assert_eq!(c.problems, want, "{}", id);
    }

    #[test]
    fn valid_18_digit_ids_round_trip(
        ri in 0..regions().len(),
        days in 0..=days_to_today(),
        seq in 0u32..100,
        male: bool,
    ) {
        let birth = day(days);
        let id = make18(regions()[ri], birth, seq, male);
        let c = check(&id, today());
        prop_assert!(c.problems.is_empty(), "{} {:?}", id, c.problems);
        prop_assert_eq!(c.person, Some(idcard::ResidentId { birth, male }));
        // The check digit round-trips: any other last character is refused, naming this one.
        let last = id.as_bytes()[17] as char;
        for other in "0123456789X".chars().filter(|&o| o != last) {
            let wrong = format!("{}{other}", &id[..17]);
            let c = check(&wrong, today());
            prop_assert!(!c.is_valid());
            prop_assert_eq!(c.problems.last(), Some(&IdProblem::Checksum(last)));
        }
    }

    #[test]
    fn valid_15_digit_ids_upgrade_and_round_trip(
        ri in 0..regions().len(),
        days in 0i64..36_524, // 1900-01-01 .. 1999-12-31: a 15-digit ID is born 19YY
        seq in 0u32..100,
        male: bool,
    ) {
        let birth = day(days);
        let sex_digit = (seq % 5) * 2 + u32::from(male);
        let id15 = format!("{:06}{}{:02}{sex_digit}", regions()[ri], birth.format("%y%m%d"), seq % 100);
        let up = upgrade_15(&id15).unwrap();
        prop_assert_eq!(&up[..6], &id15[..6]);
        prop_assert_eq!(&up[8..17], &id15[6..15]);
        let c = check(&up, today());
        prop_assert!(c.problems.is_empty(), "{} {:?}", up, c.problems);
        prop_assert_eq!(c.person, Some(idcard::ResidentId { birth, male }));
    }

    #[test]
    fn any_single_character_change_of_a_valid_id_is_rejected(
        ri in 0..regions().len(),
        days in 0..=days_to_today(),
        seq in 0u32..100,
        male: bool,
        pos in 0usize..18,
        step in 1u8..10,
    ) {
        let id = make18(regions()[ri], day(days), seq, male);
        let mut bytes = id.clone().into_bytes();
        // Another character allowed at that place: a digit, or X for the last one.
        let alphabet: &[u8] = if pos == 17 { b"0123456789X" } else { b"0123456789" };
        let at = alphabet.iter().position(|&b| b == bytes[pos]).unwrap();
        bytes[pos] = alphabet[(at + usize::from(step)) % alphabet.len()];
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert_ne!(&changed, &id);
        let c = check(&changed, today());
        prop_assert!(!c.is_valid(), "{} -> {} {:?}", id, changed, c.problems);
    }

    #[test]
    fn every_datetime_shape_reads_back_to_the_same_instant(
        days in 0i64..73_000, // 1900 .. 2099
        secs in 0u32..86_400,
        with_seconds: bool,
    ) {
        let secs = if with_seconds { secs } else { secs - secs % 60 };
        let at: NaiveDateTime = day(days)
            .and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).unwrap());
        let (y, mo, d) = (at.year(), at.month(), at.day());
        let (h, mi, s) = (at.hour(), at.minute(), at.second());
        let sec = |sep: &str| if with_seconds { format!("{sep}{s:02}") } else { String::new() };
        let mut shapes = vec![
            datetime::format_output(at),
            format!("{y}/{mo}/{d} {h}:{mi:02}{}", sec(":")),
            format!("{y}.{mo:02}.{d:02} {h:02}:{mi:02}{}", sec(":")),
            format!("{y}{mo:02}{d:02}{h:02}{mi:02}{}", sec("")),
            format!("{y}年{mo}月{d}日 {h}时{mi}分{}", if with_seconds { format!("{s}秒") } else { String::new() }),
            format!("{y}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}"),
        ];
        // The same written with full-width characters, as the profile's `halfwidth` reads it.
        let full: String = shapes[0]
            .chars()
            .map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap_or(c),
                ' ' => '\u{3000}',
                c => c,
            })
            .collect();
        shapes.push(Normalizer::Halfwidth.apply(full));
        for shape in &shapes {
            let p = parse_text(shape);
            prop_assert_eq!(p.map(|p| p.at), Some(at), "{}", shape);
            prop_assert!(p.is_some_and(|p| p.has_time), "{}", shape);
        }
        // Excel serials, 1900 system (from 1900-03-01, after Excel's phantom 1900-02-29) and
        // 1904 system (from 1904-01-01).
        let seconds_since = |epoch: NaiveDate| (at - epoch.and_time(NaiveTime::MIN)).num_seconds();
        if at.date() >= NaiveDate::from_ymd_opt(1900, 3, 1).unwrap() {
            let serial = seconds_since(NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()) as f64 / 86_400.0;
            prop_assert_eq!(from_excel_serial(serial, false), Some(at));
        }
        if at.date() >= NaiveDate::from_ymd_opt(1904, 1, 1).unwrap() {
            let serial = seconds_since(NaiveDate::from_ymd_opt(1904, 1, 1).unwrap()) as f64 / 86_400.0;
            prop_assert_eq!(from_excel_serial(serial, true), Some(at));
        }
    }
}
