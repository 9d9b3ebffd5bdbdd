//! Dates and times as exports write them: Excel serials (1900 and 1904) and many text shapes.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// The output format of every date-time in the upload sheet.
pub const OUTPUT_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Formats a date-time as the upload sheet writes it (`YYYY-MM-DD HH:MM:SS`). Twice a row for a
/// million rows: the digits are put in place, not run through `format!`.
pub fn format_output(at: NaiveDateTime) -> String {
    use chrono::{Datelike, Timelike};
    let year = at.year();
    if !(0..=9999).contains(&year) {
        return format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            year,
            at.month(),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        );
    }
    let mut b = *b"0000-00-00 00:00:00";
    let two = |b: &mut [u8; 19], at: usize, n: u32| {
        b[at] = b'0' + (n / 10) as u8;
        b[at + 1] = b'0' + (n % 10) as u8;
    };
    let year = year as u32;
    two(&mut b, 0, year / 100);
    two(&mut b, 2, year % 100);
    two(&mut b, 5, at.month());
    two(&mut b, 8, at.day());
    two(&mut b, 11, at.hour());
    two(&mut b, 14, at.minute());
    // A leap second (chrono's 60) is written as 60, as format! did.
    two(&mut b, 17, at.second());
    b.iter().map(|&c| c as char).collect()
}

/// Parses a value written by [`format_output`] (fast: no format string to interpret).
pub fn parse_output(s: &str) -> Option<NaiveDateTime> {
    let b = s.as_bytes();
    if b.len() != 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b' '
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    NaiveDate::from_ymd_opt(n(0..4)? as i32, n(5..7)?, n(8..10)?)?.and_hms_opt(
        n(11..13)?,
        n(14..16)?,
        n(17..19)?,
    )
}

/// A parsed date-time and whether the source gave a time at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    pub at: NaiveDateTime,
    pub has_time: bool,
}

/// Converts an Excel serial number to a date-time: the 1900 system (with its 1900-02-29
/// quirk), or the 1904 system (days since 1904-01-01) when the workbook is saved with it.
pub fn from_excel_serial(serial: f64, is_1904: bool) -> Option<NaiveDateTime> {
    if !serial.is_finite() || !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let epoch = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_time(NaiveTime::MIN);
    let days = if is_1904 { serial + 1462.0 } else { serial };
    let days = if !is_1904 && days < 60.0 {
        days + 1.0
    } else {
        days
    };
    let ms = (days * 86_400_000.0).round() as i64;
    // Round to whole seconds: Excel stores times as fractions of a day and loses a little.
    let secs = (ms + 500).div_euclid(1000);
    epoch.checked_add_signed(Duration::seconds(secs))
}

/// Parses the text shapes found in exports:
/// `2022-01-10 08:30:00`, `2022/1/10 8:30`, `2022.01.10 08:30`, `20220110083000`,
/// `2022年1月10日 8时30分`, `2022-01-10T08:30:00`, or a date alone. A time without a date
/// (`8:30`) and a bare decimal number (`13.5`) are not dates.
pub fn parse_text(s: &str) -> Option<Parsed> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return parse_compact(s);
    }
    if s.parse::<f64>().is_ok() {
        // Text that is a bare decimal number (`13.5`, `9.54`) is not a date: most often a time
        // typed without its date, and reading it as a serial would make it a day in 1900.
        return None;
    }
    let mut nums: Vec<u32> = Vec::with_capacity(7);
    let mut current: Option<u32> = None;
    let mut frac_next = false;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            current = Some(current.unwrap_or(0).checked_mul(10)?.checked_add(d)?);
            continue;
        }
        if let Some(n) = current.take()
            && !frac_next
        {
            nums.push(n);
        }
        // A '.' after the seconds starts a fraction, which is dropped.
        frac_next = c == '.' && nums.len() >= 6;
        if !matches!(
            c,
            '-' | '/'
                | '.'
                | ':'
                | ' '
                | 'T'
                | '年'
                | '月'
                | '日'
                | '号'
                | '时'
                | '分'
                | '秒'
                | '点'
                | '\u{3000}'
        ) {
            return None;
        }
    }
    if let Some(n) = current
        && !frac_next
    {
        nums.push(n);
    }
    let date = match nums.get(..3)? {
        [y, m, d] if *y >= 1000 => NaiveDate::from_ymd_opt(*y as i32, *m, *d)?,
        _ => return None,
    };
    let (time, has_time) = match nums.get(3..).unwrap_or_default() {
        [] => (NaiveTime::MIN, false),
        [h] => (NaiveTime::from_hms_opt(*h, 0, 0)?, true),
        [h, m] => (NaiveTime::from_hms_opt(*h, *m, 0)?, true),
        [h, m, sec] => (NaiveTime::from_hms_opt(*h, *m, *sec)?, true),
        _ => return None,
    };
    Some(Parsed {
        at: date.and_time(time),
        has_time,
    })
}

fn parse_compact(s: &str) -> Option<Parsed> {
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<u32>().ok();
    let date = match s.len() {
        8 | 12 | 14 => NaiveDate::from_ymd_opt(num(0..4)? as i32, num(4..6)?, num(6..8)?)?,
        _ => return None,
    };
    let (time, has_time) = match s.len() {
        8 => (NaiveTime::MIN, false),
        12 => (NaiveTime::from_hms_opt(num(8..10)?, num(10..12)?, 0)?, true),
        _ => (
            NaiveTime::from_hms_opt(num(8..10)?, num(10..12)?, num(12..14)?)?,
            true,
        ),
    };
    Some(Parsed {
        at: date.and_time(time),
        has_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_format_is_chronos_for_every_date_time() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let edges = [
            "0000-01-01 00:00:00",
            "0999-12-31 23:59:59",
            "1900-01-01 00:00:00",
            "9999-12-31 23:59:59",
        ];
        let mut times: Vec<NaiveDateTime> = edges.iter().map(|s| dt(s)).collect();
        for _ in 0..10_000 {
            let secs = (next() % (400 * 366 * 86_400)) as i64;
            let base = dt("1800-01-01 00:00:00");
            times.push(base + chrono::Duration::seconds(secs));
        }
        times.push(dt("0001-01-01 00:00:00") - chrono::Duration::days(400));
        times.push(dt("9999-12-31 00:00:00") + chrono::Duration::days(400));
        for t in times {
            use chrono::{Datelike, Timelike};
            let by_format = format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
                t.year(),
                t.month(),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            );
            assert_eq!(format_output(t), by_format, "{t:?}");
            if (0..=9999).contains(&t.year()) {
                assert_eq!(format_output(t), t.format(OUTPUT_FORMAT).to_string());
            }
        }
    }

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, OUTPUT_FORMAT).unwrap()
    }

    #[test]
    fn every_shape_in_the_template() {
        let want = dt("2022-01-10 08:30:00");
        for s in [
            "2022-01-10 08:30:00",
            "2022/1/10 8:30",
            "2022.01.10 08:30",
            "20220110083000",
            "202201100830",
            "2022年1月10日 8时30分",
            "2022年1月10日8点30分0秒",
            "2022-01-10T08:30:00",
            "2022-01-10 08:30:00.000",
            " 2022-1-10  8:30 ",
        ] {
            let p = parse_text(s).unwrap_or_else(|| panic!("{s}"));
            assert_eq!(p.at, want, "{s}");
            assert!(p.has_time, "{s}");
        }
    }

    #[test]
    fn date_alone_has_no_time() {
        for s in ["2022-01-10", "2022/1/10", "20220110", "2022年1月10日"] {
            let p = parse_text(s).unwrap();
            assert_eq!(p.at, dt("2022-01-10 00:00:00"));
            assert!(!p.has_time, "{s}");
        }
    }

    #[test]
    fn output_format_round_trips() {
        let at = dt("2022-01-10 08:30:05");
        assert_eq!(format_output(at), "2022-01-10 08:30:05");
        assert_eq!(parse_output("2022-01-10 08:30:05"), Some(at));
        assert_eq!(parse_output("2022-01-10 08:30"), None);
        assert_eq!(parse_output("2022-02-30 08:30:05"), None);
    }

    #[test]
    fn rejects_garbage_and_impossible_dates() {
        for s in [
            "",
            "明天",
            "2022-13-01",
            "2022-02-30 08:00",
            "10/01/22",
            "2022-01-10 25:00",
            "abc",
        ] {
            assert_eq!(parse_text(s), None, "{s}");
        }
    }

    #[test]
    fn excel_serials_1900_and_1904() {
        // 2022-01-10 08:30 is 44571.354166... in the 1900 system, 43109.354166... in 1904.
        let want = dt("2022-01-10 08:30:00");
        assert_eq!(from_excel_serial(44571.0 + 8.5 / 24.0, false), Some(want));
        assert_eq!(from_excel_serial(43109.0 + 8.5 / 24.0, true), Some(want));
        assert_eq!(from_excel_serial(-1.0, false), None);
        // 2022-01-09 09:00 in a 1904 workbook; read as 1900 it would be 2018-01-08 09:00.
        let nine = dt("2022-01-09 09:00:00");
        assert_eq!(from_excel_serial(43108.375, true), Some(nine));
        assert_eq!(
            from_excel_serial(43108.375, false),
            Some(dt("2018-01-08 09:00:00"))
        );
    }

    #[test]
    fn a_time_or_a_bare_number_is_not_a_date() {
        for s in [
            "13.5",
            "9.54",
            "44571.3541666667",
            "8:30",
            "08:30:00",
            "0.5",
            "8时30分",
        ] {
            assert_eq!(parse_text(s), None, "{s}");
        }
    }
}
