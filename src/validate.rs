//! Checking one row against a profile: each field on its own (normalise, parse, check), then
//! the fields of the row together (resident ID, sex and age against it, date order).
//!
//! Checking is split in stages so the window can re-check one edited cell without re-reading
//! the file: [`Checker::field`] turns a source cell into the stored value and its issues,
//! [`Checker::row`] derives values and cross-checks the stored values of one row.

use crate::issue::{Code, Issue, Stage};
use crate::profile::{Derive, Field, IdRule, Kind, Profile};
use crate::read::{Cell, format_number};
use crate::rules::datetime;
use crate::rules::idcard::{self, IdProblem};
use chrono::{NaiveDate, NaiveDateTime};
use regex::Regex;
use std::sync::OnceLock;

/// What checking needs besides the profile.
#[derive(Debug, Clone)]
pub struct Context {
    /// "Now", for times in the future and ages (fixed in tests).
    pub now: NaiveDateTime,
    /// The clerk's own lab, for a `{lab}` default.
    pub lab: Option<String>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            now: chrono::Local::now().naive_local(),
            lab: None,
        }
    }
}

/// The outcome of checking one field of one row.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldOutcome {
    /// The normalised value; when invalid, the source text as the clerk would see it.
    pub value: String,
    pub issues: Vec<Issue>,
}

/// The outcome of the row stage.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RowOutcome {
    /// Values filled in or changed by the row stage (derived sex, age; upgraded IDs).
    pub derived: Vec<(u16, Box<str>)>,
    pub issues: Vec<Issue>,
}

/// Checks rows against one profile.
#[derive(Debug, Clone)]
pub struct Checker {
    pub profile: std::sync::Arc<Profile>,
    pub ctx: Context,
}

fn excel_number_text() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[0-9](\.[0-9]+)?E\+?[0-9]+$").expect("valid regex"))
}

impl Checker {
    pub fn new(profile: std::sync::Arc<Profile>, ctx: Context) -> Checker {
        Checker { profile, ctx }
    }

    /// Checks field `fi` given its source cell.
    pub fn field(&self, fi: usize, cell: &Cell) -> FieldOutcome {
        let field = &self.profile.fields[fi];
        let fi16 = fi as u16;
        let mut issues = Vec::new();
        let issue = |code: Code, args: &[&str]| Issue::new(code, Some(fi16), Stage::Field, args);

        // The text of the cell, keeping what its type tells.
        let mut text = match (field.kind, cell) {
            (_, c) if c.is_blank() => String::new(),
            (Kind::IdNumber, Cell::Number(n)) => {
                let shown = format_number(*n);
                if n.abs() >= 1e15 || n.fract() != 0.0 {
                    return FieldOutcome {
                        issues: vec![issue(Code::IdExcelNumber, &[&shown])],
                        value: shown,
                    };
                }
                shown
            }
            (Kind::Datetime, Cell::Date(d)) => {
                let value = datetime::format_output(*d);
                self.check_datetime(
                    field,
                    fi16,
                    *d,
                    d.time() != chrono::NaiveTime::MIN,
                    &mut issues,
                );
                return FieldOutcome { value, issues };
            }
            (Kind::Datetime, Cell::Number(n)) => match datetime::from_excel_serial(*n, false) {
                Some(d) if *n >= 1.0 => {
                    let value = datetime::format_output(d);
                    self.check_datetime(field, fi16, d, n.fract() != 0.0, &mut issues);
                    return FieldOutcome { value, issues };
                }
                _ => format_number(*n),
            },
            (_, c) => c.display(),
        };
        text = field.normalize.iter().fold(text, |acc, n| n.apply(acc));
        // One cell of the upload sheet holds at most 32,767 characters: a longer value is this
        // row's error, never a failure of the whole file when it is written.
        let chars = text.chars().count();
        if chars > crate::write::MAX_CELL_CHARS {
            let end = text
                .char_indices()
                .nth(crate::write::MAX_CELL_CHARS)
                .map_or(text.len(), |(i, _)| i);
            text.truncate(end);
            issues.push(issue(Code::TextTooLong, &[&chars.to_string()]));
            return FieldOutcome {
                value: text,
                issues,
            };
        }

        if text.is_empty()
            && let Some(default) = &field.default
        {
            text = default.replace("{lab}", self.ctx.lab.as_deref().unwrap_or("").trim());
        }
        if text.is_empty() {
            // A derivable field is judged in the row stage.
            if field.required && field.derive.is_none() {
                issues.push(issue(Code::Required, &[]));
            }
            return FieldOutcome {
                value: text,
                issues,
            };
        }

        if let Some(map) = &field.map {
            match map.get(&text) {
                Some(v) => text = v.clone(),
                None => {
                    issues.push(self.value_issue(field, fi16, &text));
                    return FieldOutcome {
                        value: text,
                        issues,
                    };
                }
            }
        }

        match field.kind {
            Kind::IdNumber if excel_number_text().is_match(&text) => {
                issues.push(issue(Code::IdExcelNumber, &[&text]));
                return FieldOutcome {
                    value: text,
                    issues,
                };
            }
            Kind::IdType => match self.profile.id_type_for(&text) {
                Some(t) => text = t.code.clone(),
                None => {
                    issues.push(issue(Code::IdType, &[&text]));
                    return FieldOutcome {
                        value: text,
                        issues,
                    };
                }
            },
            Kind::Age => match parse_age(&text) {
                Some(age) => text = age.to_string(),
                None => {
                    issues.push(issue(Code::AgeValue, &[&text]));
                    return FieldOutcome {
                        value: text,
                        issues,
                    };
                }
            },
            Kind::Datetime => match datetime::parse_text(&text) {
                Some(p) => {
                    self.check_datetime(field, fi16, p.at, p.has_time, &mut issues);
                    text = datetime::format_output(p.at);
                }
                None => {
                    issues.push(issue(Code::DateFormat, &[&text]));
                    return FieldOutcome {
                        value: text,
                        issues,
                    };
                }
            },
            _ => {}
        }

        if let Some((min, max)) = field.length {
            let n = text.chars().count();
            if n < min || n > max {
                issues.push(self.value_issue(field, fi16, &text));
                return FieldOutcome {
                    value: text,
                    issues,
                };
            }
        }
        if !field.patterns.is_empty() && !field.patterns.iter().any(|re| re.is_match(&text)) {
            issues.push(self.value_issue(field, fi16, &text));
            return FieldOutcome {
                value: text,
                issues,
            };
        }
        if let Some(allowed) = &field.one_of
            && !allowed.contains(&text)
        {
            let mut i = Issue::new(
                Code::ValueNotAllowed,
                Some(fi16),
                Stage::Field,
                &[&text, &allowed.join("、")],
            );
            if field.code != Code::TextFormat && field.code != Code::NameFormat {
                i.code = field.code;
            }
            issues.push(i.with_severity(field.severity));
            return FieldOutcome {
                value: text,
                issues,
            };
        }
        FieldOutcome {
            value: text,
            issues,
        }
    }

    fn value_issue(&self, field: &Field, fi: u16, text: &str) -> Issue {
        Issue::new(field.code, Some(fi), Stage::Field, &[text]).with_severity(field.severity)
    }

    fn check_datetime(
        &self,
        field: &Field,
        fi: u16,
        at: NaiveDateTime,
        has_time: bool,
        issues: &mut Vec<Issue>,
    ) {
        let shown = datetime::format_output(at);
        if !has_time {
            issues.push(Issue::new(
                Code::DateOnly,
                Some(fi),
                Stage::Field,
                &[&shown],
            ));
        }
        // A date alone is "some time that day": only a later day is in the future.
        let future = if has_time {
            at > self.ctx.now
        } else {
            at.date() > self.ctx.now.date()
        };
        if field.not_in_future && future {
            issues.push(Issue::new(
                Code::DateFuture,
                Some(fi),
                Stage::Field,
                &[&shown],
            ));
        }
    }

    /// The row stage: `values` are the stored field values (`""` for empty), `field_ok[i]` is
    /// false when field `i` already has a field-stage error.
    pub fn row(&self, values: &[&str], field_ok: &[bool]) -> RowOutcome {
        let p = &*self.profile;
        let r = &p.roles;
        let mut out = RowOutcome::default();
        let get = |i: Option<usize>| i.map(|i| values[i]).filter(|v| !v.is_empty());
        let ok = |i: Option<usize>| i.is_some_and(|i| field_ok[i]);
        let sampled = get(r.sampled_at)
            .filter(|_| ok(r.sampled_at))
            .and_then(datetime::parse_output);
        let ref_date: NaiveDate = sampled.map_or(self.ctx.now.date(), |d| d.date());

        // The document number, by the rule of its type.
        let mut resident: Option<idcard::ResidentId> = None;
        if let (Some(ni), Some(number)) = (r.id_number, get(r.id_number))
            && field_ok[ni]
        {
            let type_code = get(r.id_type).filter(|_| ok(r.id_type)).unwrap_or("01");
            let n16 = ni as u16;
            if let Some(t) = p.id_types.iter().find(|t| t.code == type_code) {
                match &t.rule {
                    IdRule::ResidentId => {
                        let mut id = number.to_owned();
                        if let Some(up) = idcard::upgrade_15(number) {
                            out.issues.push(Issue::new(
                                Code::IdUpgraded,
                                Some(n16),
                                Stage::Row,
                                &[&up],
                            ));
                            out.derived.push((n16, up.clone().into()));
                            id = up;
                        }
                        match idcard::check(&id, ref_date) {
                            Ok(rid) => resident = Some(rid),
                            Err(problems) => {
                                for pr in problems {
                                    out.issues.push(id_issue(n16, &t.name, &id, pr));
                                }
                            }
                        }
                    }
                    IdRule::Pattern { re, hint } => {
                        if !re.is_match(number) {
                            out.issues.push(
                                Issue::new(
                                    Code::IdFormat,
                                    Some(n16),
                                    Stage::Row,
                                    &[&t.name, number, hint],
                                )
                                .with_severity(t.severity),
                            );
                        }
                    }
                    IdRule::Any => {}
                }
            }
        }

        // Sex and age against the resident ID, or derived from it.
        for (fi, field) in p.fields.iter().enumerate() {
            let f16 = fi as u16;
            let value = values[fi];
            if value.is_empty() {
                let derived = match (field.derive, resident) {
                    (Some(Derive::SexFromId), Some(rid)) => {
                        Some(if rid.male { "1" } else { "2" }.to_owned())
                    }
                    (Some(Derive::AgeFromId), Some(rid)) => {
                        Some(idcard::age_at(rid.birth, ref_date).max(0).to_string())
                    }
                    _ => None,
                };
                match derived {
                    Some(v) => out.derived.push((f16, v.into())),
                    None if field.required && field.derive.is_some() => {
                        out.issues
                            .push(Issue::new(Code::Required, Some(f16), Stage::Row, &[]));
                    }
                    None => {}
                }
                continue;
            }
            if !field_ok[fi] {
                continue;
            }
            match (field.kind, resident) {
                (Kind::Sex, Some(rid)) if value == "1" || value == "2" => {
                    let id_male = rid.male;
                    if (value == "1") != id_male {
                        let word = |m: bool| if m { "男" } else { "女" };
                        out.issues.push(Issue::new(
                            Code::SexMismatch,
                            Some(f16),
                            Stage::Row,
                            &[word(value == "1"), word(id_male)],
                        ));
                    }
                }
                (Kind::Age, Some(rid)) => {
                    if let Ok(age) = value.parse::<i32>() {
                        let computed = idcard::age_at(rid.birth, ref_date);
                        if (age - computed).abs() > p.batch.age_tolerance {
                            out.issues.push(Issue::new(
                                Code::AgeMismatch,
                                Some(f16),
                                Stage::Row,
                                &[value, &computed.to_string()],
                            ));
                        }
                    }
                }
                _ => {}
            }
            // Date order.
            if let Some(before) = field.not_before
                && field_ok[before]
                && !values[before].is_empty()
                && field.kind == Kind::Datetime
                && value < values[before]
            {
                out.issues.push(Issue::new(
                    Code::DateOrder,
                    Some(f16),
                    Stage::Row,
                    &[value, values[before]],
                ));
            }
        }
        out
    }
}

fn id_issue(field: u16, type_name: &str, id: &str, problem: IdProblem) -> Issue {
    let new = |code, args: &[&str]| Issue::new(code, Some(field), Stage::Row, args);
    match problem {
        IdProblem::Length(n) => new(Code::IdLength, &[&n.to_string()]),
        IdProblem::Format => new(
            Code::IdFormat,
            &[type_name, id, "应为 17 位数字加最后一位数字或 X"],
        ),
        IdProblem::Region(code) => new(Code::IdRegion, &[&code]),
        IdProblem::Birthdate(d) => new(Code::IdBirthdate, &[&d]),
        IdProblem::Checksum(c) => new(Code::IdChecksum, &[&c.to_string()]),
    }
}

fn parse_age(s: &str) -> Option<u32> {
    let n: f64 = s.trim().parse().ok()?;
    (n.fract() == 0.0 && (0.0..=150.0).contains(&n)).then_some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::issue::{Code, Severity};
    use crate::rules::datetime::OUTPUT_FORMAT;
    use std::sync::Arc;

    fn checker() -> Checker {
        let p = Profile::builtin("cdc-nat").unwrap();
        let now = NaiveDateTime::parse_from_str("2022-01-11 12:00:00", OUTPUT_FORMAT).unwrap();
        Checker::new(
            Arc::new(p),
            Context {
                now,
                lab: Some("本院检验科".into()),
            },
        )
    }

    fn field(key: &str, cell: Cell) -> FieldOutcome {
        let c = checker();
        let fi = c.profile.field_index(key).unwrap();
        c.field(fi, &cell)
    }

    fn text(key: &str, s: &str) -> FieldOutcome {
        field(key, Cell::Text(s.into()))
    }

    fn codes(o: &FieldOutcome) -> Vec<&'static str> {
        o.issues.iter().map(|i| i.code.as_str()).collect()
    }

    #[test]
    fn name_rules() {
        assert_eq!(text("name", " 王\u{3000}\u{3000}伟 ").value, "王 伟");
        assert_eq!(text("name", "阿依古丽•买买提").value, "阿依古丽·买买提");
        assert_eq!(text("name", "ＡＢＣ").value, "ABC");
        assert_eq!(codes(&text("name", "")), ["required"]);
        assert_eq!(codes(&text("name", &"长".repeat(51))), ["name_format"]);
    }

    #[test]
    fn id_type_codes_and_default() {
        for (s, want) in [
            ("身份证", "01"),
            ("1", "01"),
            ("户口本", "02"),
            ("护照", "03"),
            ("回乡证", "06"),
            ("台胞证", "07"),
            ("其他", "99"),
        ] {
            assert_eq!(text("id_type", s).value, want, "{s}");
        }
        assert_eq!(text("id_type", "").value, "01");
        assert_eq!(field("id_type", Cell::Number(1.0)).value, "01");
        assert_eq!(codes(&text("id_type", "军官证")), ["id_type_value"]);
    }

    #[test]
    fn id_number_normalised_and_excel_numbers_refused() {
        assert_eq!(
            text("id_number", " ４４０１０６１９９００１０１１２３ｘ ").value,
            "44010619900101123X"
        );
        assert_eq!(
            codes(&field("id_number", Cell::Number(4.40106199001011e17))),
            ["id_excel_number"]
        );
        assert_eq!(
            codes(&text("id_number", "4.40106E+17")),
            ["id_excel_number"]
        );
        // 15 digits fit in a double exactly: a number cell is fine.
        assert_eq!(
            field("id_number", Cell::Number(440106900101123.0)).value,
            "440106900101123"
        );
    }

    #[test]
    fn sex_values() {
        for (s, want) in [
            ("男", "1"),
            ("女", "2"),
            ("M", "1"),
            ("f", "2"),
            ("1", "1"),
            ("2", "2"),
        ] {
            assert_eq!(text("sex", s).value, want, "{s}");
        }
        assert_eq!(codes(&text("sex", "x")), ["sex_value"]);
        assert!(
            text("sex", "").issues.is_empty(),
            "missing sex is derived later"
        );
    }

    #[test]
    fn age_values() {
        assert_eq!(text("age", "35岁").value, "35");
        assert_eq!(field("age", Cell::Number(35.0)).value, "35");
        assert_eq!(codes(&text("age", "151")), ["age_value"]);
        assert_eq!(codes(&text("age", "3.5")), ["age_value"]);
    }

    #[test]
    fn phone_shapes() {
        for s in [
            "13800138000",
            "138 0013 8000",
            "138-0013-8000",
            "+8613800138000",
            "008613800138000",
            "13800138000.0",
            "020-87654321",
            "0755-1234567",
        ] {
            let o = text("phone", s);
            assert!(o.issues.is_empty(), "{s}: {:?}", o.issues);
        }
        assert_eq!(
            field("phone", Cell::Number(13800138000.0)).value,
            "13800138000"
        );
        assert_eq!(text("phone", "+86 138-0013-8000").value, "13800138000");
        for s in ["1380013800", "12800138000", "87654321", "abc"] {
            assert_eq!(codes(&text("phone", s)), ["phone_format"], "{s}");
        }
    }

    #[test]
    fn dates_from_cells_serials_and_text() {
        let d = NaiveDateTime::parse_from_str("2022-01-10 08:30:00", OUTPUT_FORMAT).unwrap();
        assert_eq!(
            field("sampled_at", Cell::Date(d)).value,
            "2022-01-10 08:30:00"
        );
        assert_eq!(
            field("sampled_at", Cell::Number(44571.0 + 8.5 / 24.0)).value,
            "2022-01-10 08:30:00"
        );
        assert_eq!(
            text("sampled_at", "2022年1月10日 8时30分").value,
            "2022-01-10 08:30:00"
        );
        let o = text("sampled_at", "2022-01-10");
        assert_eq!(o.value, "2022-01-10 00:00:00");
        assert_eq!(codes(&o), ["date_only"]);
        assert_eq!(codes(&text("sampled_at", "昨天")), ["date_format"]);
        assert_eq!(
            codes(&text("tested_at", "2022-01-12 08:00")),
            ["date_future"]
        );
    }

    #[test]
    fn results_and_barcodes() {
        for (s, want) in [
            ("阴", "阴性"),
            ("阴性(-)", "阴性"),
            ("阴性（-）", "阴性"),
            ("-", "阴性"),
            ("negative", "阴性"),
            ("NEG", "阴性"),
            ("n", "阴性"),
            ("阳", "阳性"),
            ("+", "阳性"),
            ("POS", "阳性"),
            ("P", "阳性"),
            ("可疑", "待复核"),
            ("不确定", "待复核"),
        ] {
            assert_eq!(text("result", s).value, want, "{s}");
        }
        assert_eq!(codes(&text("result", "弱阳")), ["result_value"]);
        assert_eq!(text("barcode", " ＡＢ１２３４５６ ").value, "AB123456");
        assert_eq!(codes(&text("barcode", "12345")), ["barcode_format"]);
        assert_eq!(codes(&text("barcode", "1234-5678")), ["barcode_format"]);
    }

    #[test]
    fn lab_default_is_the_clerks_own() {
        assert_eq!(text("lab", "").value, "本院检验科");
        let mut c = checker();
        c.ctx.lab = None;
        let fi = c.profile.field_index("lab").unwrap();
        assert_eq!(codes(&c.field(fi, &Cell::Empty)), ["required"]);
    }

    fn row(values: &[(&str, &str)]) -> RowOutcome {
        let c = checker();
        let mut v = vec![""; c.profile.fields.len()];
        for (k, val) in values {
            v[c.profile.field_index(k).unwrap()] = val;
        }
        let ok = vec![true; v.len()];
        c.row(&v, &ok)
    }

    fn id18(first17: &str) -> String {
        format!("{first17}{}", idcard::check_char(first17).unwrap())
    }

    #[test]
    fn resident_id_checks_in_row_stage() {
        let o = row(&[
            ("id_type", "01"),
            ("id_number", "440106199001011230"),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        let c: Vec<_> = o.issues.iter().map(|i| i.code.as_str()).collect();
        assert_eq!(c, ["id_checksum"]);
        assert_eq!(o.issues[0].args[0].as_ref(), "5");
        let o = row(&[("id_type", "03"), ("id_number", "E1234")]);
        assert!(o.issues.is_empty());
        let o = row(&[("id_type", "06"), ("id_number", "X123")]);
        assert_eq!(o.issues[0].code, Code::IdFormat);
        assert_eq!(o.issues[0].severity, Severity::Warning);
    }

    #[test]
    fn derives_sex_and_age_and_upgrades_15() {
        let o = row(&[
            ("id_number", "440106900101123"),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        let derived: Vec<(u16, &str)> = o.derived.iter().map(|(f, v)| (*f, v.as_ref())).collect();
        let c = checker();
        let idx = |k| c.profile.field_index(k).unwrap() as u16;
        assert!(derived.contains(&(idx("id_number"), id18("44010619900101123").as_str())));
        assert!(derived.contains(&(idx("sex"), "1")));
        assert!(derived.contains(&(idx("age"), "32")));
        assert_eq!(
            o.issues.iter().map(|i| i.code).collect::<Vec<_>>(),
            [Code::IdUpgraded]
        );
    }

    #[test]
    fn sex_and_age_mismatch() {
        let id = id18("44010619900101123"); // male
        let o = row(&[
            ("id_number", &id),
            ("sex", "2"),
            ("age", "40"),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        let c: Vec<_> = o
            .issues
            .iter()
            .map(|i| (i.code.as_str(), i.severity))
            .collect();
        assert_eq!(
            c,
            [
                ("sex_mismatch", Severity::Error),
                ("age_mismatch", Severity::Warning)
            ]
        );
        let o = row(&[
            ("id_number", &id),
            ("age", "31"),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert!(
            o.issues.is_empty(),
            "one year off is tolerated: {:?}",
            o.issues
        );
    }

    #[test]
    fn birth_after_sampling_and_date_order() {
        let id = id18("44010620220201123");
        let o = row(&[("id_number", &id), ("sampled_at", "2022-01-10 08:00:00")]);
        assert_eq!(o.issues[0].code, Code::IdBirthdate);
        let o = row(&[
            ("sampled_at", "2022-01-10 08:00:00"),
            ("tested_at", "2022-01-10 07:00:00"),
        ]);
        assert_eq!(
            o.issues.iter().map(|i| i.code).collect::<Vec<_>>(),
            [Code::DateOrder]
        );
    }
}
