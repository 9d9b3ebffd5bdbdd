//! Checking one row against a profile: each field on its own (normalise, parse, check), then
//! the fields of the row together (resident ID, sex and age against it, date order).
//!
//! Checking is split in stages so the window can re-check one edited cell without re-reading
//! the file: [`Checker::field`] turns a source cell into the stored value and its issues,
//! [`Checker::row`] derives values and cross-checks the stored values of one row.
// Over 600 lines: nearly half is the unit tests of every field kind and cross-field rule, kept
// next to the code they test.

use crate::issue::{Code, Issue, Severity, Stage};
use crate::privacy::Personal;
use crate::profile::{Derive, Field, IdRule, IdType, Kind, Profile};
use crate::read::{Cell, format_number};
use crate::rules::datetime;
use crate::rules::idcard::{self, IdProblem};
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use regex::Regex;
use std::sync::OnceLock;

/// What checking needs besides the profile.
#[derive(Debug, Clone)]
pub struct Context {
    /// "Now", for times in the future and ages (fixed in tests).
    pub now: NaiveDateTime,
    /// The clerk's own lab, for a `{lab}` default.
    pub lab: Option<String>,
    /// The workbook is saved with the 1904 date system: a number in a date-time field counts
    /// days from 1904-01-01 ([`crate::read::Workbook::date_1904`]).
    pub date_1904: bool,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            now: chrono::Local::now().naive_local(),
            lab: None,
            date_1904: false,
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

/// How the checks of one field end early: the value to store, and the problem that ended them
/// (none when the value is already final: a date cell, an empty cell).
struct Stop {
    value: String,
    issue: Option<Issue>,
}

impl Stop {
    fn with(issue: Issue, value: String) -> Stop {
        Stop {
            value,
            issue: Some(issue),
        }
    }

    fn done(value: String) -> Stop {
        Stop { value, issue: None }
    }
}

fn excel_number_text() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^[0-9](\.[0-9]+)?E\+?[0-9]+$").expect("valid regex"))
}

impl Checker {
    pub fn new(profile: std::sync::Arc<Profile>, ctx: Context) -> Checker {
        Checker { profile, ctx }
    }

    /// Checks field `fi` given its source cell: the cell's text by its type, normalised (or the
    /// default), mapped, then the value checks; the first problem ends the checks.
    pub fn field(&self, fi: usize, cell: &Cell) -> FieldOutcome {
        let field = &self.profile.fields[fi];
        let fi16 = fi as u16;
        let mut issues = Vec::new();
        let value = match self.field_value(field, fi16, cell, &mut issues) {
            Ok(value) => value,
            Err(Stop { value, issue }) => {
                issues.extend(issue);
                value
            }
        };
        FieldOutcome { value, issues }
    }

    /// The stages of [`Checker::field`]; `issues` gets the warnings that do not stop it.
    fn field_value(
        &self,
        field: &Field,
        fi16: u16,
        cell: &Cell,
        issues: &mut Vec<Issue>,
    ) -> Result<String, Stop> {
        let text = self.cell_text(field, fi16, cell, issues)?;
        // Bytes a text file could not decode are read as U+FFFD (read::decode_text): say how
        // many characters of this cell are lost, so the clerk checks it against the source.
        let damaged = text
            .chars()
            .filter(|&c| c == char::REPLACEMENT_CHARACTER)
            .count();
        if damaged > 0 {
            issues.push(Issue::new(
                Code::TextDamaged,
                Some(fi16),
                Stage::Field,
                &[&damaged.to_string()],
            ));
        }
        let text = self.normalised(field, fi16, text)?;
        let text = self.mapped(field, fi16, text, issues)?;
        self.value_checks(field, fi16, text)
    }

    /// The text of the cell, keeping what its type tells. A date cell is final here.
    fn cell_text(
        &self,
        field: &Field,
        fi16: u16,
        cell: &Cell,
        issues: &mut Vec<Issue>,
    ) -> Result<String, Stop> {
        // The value is the first argument (a number cell as Excel held it, a time alone).
        let issue = |code: Code, args: &[&str]| {
            Issue::new(code, Some(fi16), Stage::Field, args).quoting(0, personal(field))
        };
        Ok(match (field.kind, cell) {
            (_, c) if c.is_blank() => String::new(),
            (Kind::IdNumber, Cell::Number(n)) => {
                let shown = format_number(*n);
                if n.abs() >= 1e15 || n.fract() != 0.0 {
                    return Err(Stop::with(issue(Code::IdExcelNumber, &[&shown]), shown));
                }
                shown
            }
            // A cell holding only a time (before 1900-01-01, day 0 of the serials) is not a date.
            (Kind::Datetime, Cell::Date(d)) if d.year() < 1900 => {
                let shown = d.format("%H:%M:%S").to_string();
                return Err(Stop::with(issue(Code::DateFormat, &[&shown]), shown));
            }
            (Kind::Datetime, Cell::Date(d)) => {
                let has_time = d.time() != chrono::NaiveTime::MIN;
                self.check_datetime(field, fi16, *d, has_time, issues);
                return Err(Stop::done(datetime::format_output(*d)));
            }
            // A number below 1 is a time of day without a date: `date_format` later.
            (Kind::Datetime, Cell::Number(n)) => {
                match datetime::from_excel_serial(*n, self.ctx.date_1904) {
                    Some(d) if *n >= 1.0 => {
                        self.check_datetime(field, fi16, d, n.fract() != 0.0, issues);
                        return Err(Stop::done(datetime::format_output(d)));
                    }
                    _ => format_number(*n),
                }
            }
            (_, c) => c.display(),
        })
    }

    /// The text normalised, cut to one cell's size, or the default when empty. An empty value
    /// is final here (required, unless the row stage derives it).
    fn normalised(&self, field: &Field, fi16: u16, text: String) -> Result<String, Stop> {
        let issue = |code: Code, args: &[&str]| Issue::new(code, Some(fi16), Stage::Field, args);
        let mut text = field.normalize.iter().fold(text, |acc, n| n.apply(acc));
        // One cell of the upload sheet holds at most 32,767 characters as Excel counts them (an
        // emoji two): a longer value is this row's error, never a failure of the whole file
        // when it is written.
        if let Some(end) = crate::read::limits::excel_cut(&text) {
            let len = crate::read::limits::excel_len(&text);
            text.truncate(end);
            return Err(Stop::with(
                issue(Code::TextTooLong, &[&len.to_string()]),
                text,
            ));
        }
        if text.is_empty()
            && let Some(default) = &field.default
        {
            text = default.replace("{lab}", self.ctx.lab.as_deref().unwrap_or("").trim());
        }
        if text.is_empty() {
            // A derivable field is judged in the row stage.
            let required = field.required && field.derive.is_none();
            return Err(Stop {
                issue: required.then(|| issue(Code::Required, &[])),
                value: text,
            });
        }
        Ok(text)
    }

    /// The value map (with per-target results), then what the field's kind makes of it.
    fn mapped(
        &self,
        field: &Field,
        fi16: u16,
        mut text: String,
        issues: &mut Vec<Issue>,
    ) -> Result<String, Stop> {
        let issue = |code: Code, text: &str| {
            Issue::new(code, Some(fi16), Stage::Field, &[text]).quoting(0, personal(field))
        };
        if let Some(map) = &field.map {
            match map
                .get(&text)
                .cloned()
                .or_else(|| by_target(field, map, &text))
            {
                Some(v) => text = v,
                None => return Err(Stop::with(self.value_issue(field, fi16, &text), text)),
            }
        }
        match field.kind {
            Kind::IdNumber if excel_number_text().is_match(&text) => {
                Err(Stop::with(issue(Code::IdExcelNumber, &text), text))
            }
            Kind::IdType => match self.profile.id_type_for(&text) {
                Some(t) => Ok(t.value.clone()),
                None => Err(Stop::with(issue(Code::IdType, &text), text)),
            },
            Kind::Age => match parse_age(&text) {
                Some(age) => Ok(age.to_string()),
                None => Err(Stop::with(issue(Code::AgeValue, &text), text)),
            },
            Kind::Datetime => match datetime::parse_text(&text) {
                Some(p) => {
                    self.check_datetime(field, fi16, p.at, p.has_time, issues);
                    Ok(datetime::format_output(p.at))
                }
                None => Err(Stop::with(issue(Code::DateFormat, &text), text)),
            },
            _ => Ok(text),
        }
    }

    /// The profile's checks of the value: length, patterns, allowed values.
    fn value_checks(&self, field: &Field, fi16: u16, text: String) -> Result<String, Stop> {
        if let Some((min, max)) = field.length {
            let n = text.chars().count();
            if n < min || n > max {
                return Err(Stop::with(self.value_issue(field, fi16, &text), text));
            }
        }
        if !field.patterns.is_empty() && !field.patterns.iter().any(|re| re.is_match(&text)) {
            return Err(Stop::with(self.value_issue(field, fi16, &text), text));
        }
        if let Some(allowed) = &field.one_of
            && !allowed.contains(&text)
        {
            let mut i = Issue::new(
                Code::ValueNotAllowed,
                Some(fi16),
                Stage::Field,
                &[&text, &allowed.join("、")],
            )
            .quoting(0, personal(field));
            if field.code != Code::TextFormat && field.code != Code::NameFormat {
                i.code = field.code;
            }
            return Err(Stop::with(i.with_severity(field.severity), text));
        }
        Ok(text)
    }

    fn value_issue(&self, field: &Field, fi: u16, text: &str) -> Issue {
        Issue::new(field.code, Some(fi), Stage::Field, &[text])
            .with_severity(field.severity)
            .quoting(0, personal(field))
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
        let r = &self.profile.roles;
        let mut out = RowOutcome::default();
        // A sampling time is used even when it is in the future (its own error says so); an
        // unreadable one is not replaced by today: age is then neither derived nor compared.
        let sampled_date = r
            .sampled_at
            .map(|i| values[i])
            .filter(|v| !v.is_empty())
            .and_then(datetime::parse_output)
            .map(|d| d.date());
        let birth_limit: NaiveDate = sampled_date.unwrap_or(self.ctx.now.date());
        let resident = self.id_number_stage(values, field_ok, birth_limit, &mut out);
        // The document number's own errors (its type's rule), found just above.
        let id_failed = r.id_number.is_some_and(|ni| {
            out.issues
                .iter()
                .any(|i| i.is_error() && i.field == Some(ni as u16))
        });
        // A field a cross-field check may compare: no error of its own. The one place this
        // is decided: a second message about a value that already has one is noise, and the
        // clerk fixes that value first (template.md, "Cross-field and cross-row checks").
        let own_ok = |f: usize| field_ok[f] && !(id_failed && Some(f) == r.id_number);
        for fi in 0..self.profile.fields.len() {
            if values[fi].is_empty() {
                // Sex and age from the resident ID.
                self.derive(fi, resident, sampled_date, &mut out);
            } else if let Some(check) = self.cross_check(fi)
                && check.compares(fi, r).into_iter().flatten().all(own_ok)
            {
                check.run(self, fi, values, (resident, sampled_date), &mut out);
            }
        }
        out
    }

    /// The cross-field check of a field, if it has one: sex and age against the resident ID,
    /// a date-time against the one it may not precede.
    fn cross_check(&self, fi: usize) -> Option<CrossCheck> {
        let field = &self.profile.fields[fi];
        match field.kind {
            Kind::Sex => Some(CrossCheck::Sex),
            Kind::Age => Some(CrossCheck::Age),
            Kind::Datetime => field
                .not_before
                .map(|before| CrossCheck::DateOrder { before }),
            _ => None,
        }
    }

    /// The document number, by the rule of its type (or the type it falls back to); the
    /// resident ID it is, if any. An unknown type is its own error and its number is not
    /// checked by any type's rule.
    fn id_number_stage(
        &self,
        values: &[&str],
        field_ok: &[bool],
        birth_limit: NaiveDate,
        out: &mut RowOutcome,
    ) -> Option<idcard::ResidentId> {
        let p = &*self.profile;
        let r = &p.roles;
        let get = |i: Option<usize>| i.map(|i| values[i]).filter(|v| !v.is_empty());
        let type_value = match r.id_type {
            Some(ti) if !field_ok[ti] => None,
            Some(ti) if !values[ti].is_empty() => Some(values[ti]),
            _ => Some("01"),
        };
        if let (Some(ni), Some(number), Some(t)) = (
            r.id_number,
            get(r.id_number),
            type_value.and_then(|v| p.id_type_stored(v)),
        ) && field_ok[ni]
        {
            let n16 = ni as u16;
            let mut checked = check_number(t, number, birth_limit);
            let mut used = t;
            if !checked.valid
                && let Some((to, when)) = &t.fallback
                && when.as_ref().is_none_or(|re| re.is_match(number))
                && let Some(other) = p.id_types.get(*to)
            {
                let alt = check_number(other, number, birth_limit);
                if alt.valid {
                    let at = r.id_type.unwrap_or(ni) as u16;
                    out.issues.push(
                        Issue::new(
                            Code::IdTypeChanged,
                            Some(at),
                            Stage::Row,
                            &[number, &t.name, &other.name],
                        )
                        .quoting(0, Some(Personal::Document)),
                    );
                    checked = alt;
                    used = other;
                }
            }
            if let Some(ti) = r.id_type
                && (used.value != used.code || !std::ptr::eq(used, t))
            {
                out.derived.push((ti as u16, used.code.clone().into()));
            }
            if let Some(up) = checked.upgraded {
                out.issues.push(
                    Issue::new(Code::IdUpgraded, Some(n16), Stage::Row, &[&up])
                        .quoting(0, Some(Personal::Document)),
                );
                out.derived.push((n16, up.into()));
            }
            for problem in checked.problems {
                out.issues.push(problem.into_issue(n16, &used.name, number));
            }
            return checked.person;
        }
        None
    }

    /// An empty field derived from the resident ID (sex; age at the sampling time, even a
    /// future one), or `required` when it cannot be.
    fn derive(
        &self,
        fi: usize,
        resident: Option<idcard::ResidentId>,
        sampled_date: Option<NaiveDate>,
        out: &mut RowOutcome,
    ) {
        let field = &self.profile.fields[fi];
        let f16 = fi as u16;
        let derived = match (field.derive, resident) {
            (Some(Derive::SexFromId), Some(rid)) => {
                Some(if rid.male { "1" } else { "2" }.to_owned())
            }
            (Some(Derive::AgeFromId), Some(rid)) => {
                sampled_date.map(|at| idcard::age_at(rid.birth, at).max(0).to_string())
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
    }
}

/// A check of one field against other fields of its row. [`Checker::row`] runs it only when
/// none of the fields it compares has an error of its own.
#[derive(Debug, Clone, Copy)]
enum CrossCheck {
    /// 性别 against the sex digit of the resident ID (`sex_mismatch`).
    Sex,
    /// 年龄 against the resident ID's birth date at the sampling time (`age_mismatch`).
    Age,
    /// A date-time not before another one, 检测时间 after 采样时间 (`date_order`).
    DateOrder { before: usize },
}

impl CrossCheck {
    /// Every field the check reads for field `fi`: the field, and what it is compared with
    /// (the document number read by its type; the sampling time an age is taken at).
    fn compares(self, fi: usize, r: &crate::profile::Roles) -> [Option<usize>; 4] {
        match self {
            CrossCheck::Sex => [Some(fi), r.id_number, r.id_type, None],
            CrossCheck::Age => [Some(fi), r.id_number, r.id_type, r.sampled_at],
            CrossCheck::DateOrder { before } => [Some(fi), Some(before), None, None],
        }
    }

    /// Runs the check on field `fi` (not empty, and no compared field with its own error).
    fn run(
        self,
        c: &Checker,
        fi: usize,
        values: &[&str],
        (resident, sampled_date): (Option<idcard::ResidentId>, Option<NaiveDate>),
        out: &mut RowOutcome,
    ) {
        let f16 = fi as u16;
        let value = values[fi];
        let mut issue = |code, args: &[&str]| {
            out.issues
                .push(Issue::new(code, Some(f16), Stage::Row, args));
        };
        match (self, resident) {
            (CrossCheck::Sex, Some(rid))
                if (value == "1" || value == "2") && (value == "1") != rid.male =>
            {
                let word = |m: bool| if m { "男" } else { "女" };
                issue(Code::SexMismatch, &[word(value == "1"), word(rid.male)]);
            }
            (CrossCheck::Age, Some(rid)) => {
                if let (Ok(age), Some(at)) = (value.parse::<i32>(), sampled_date) {
                    let computed = idcard::age_at(rid.birth, at);
                    if (age - computed).abs() > c.profile.batch.age_tolerance {
                        issue(Code::AgeMismatch, &[value, &computed.to_string()]);
                    }
                }
            }
            (CrossCheck::DateOrder { before }, _)
                if !values[before].is_empty() && value < values[before] =>
            {
                issue(Code::DateOrder, &[value, values[before]]);
            }
            _ => {}
        }
    }
}

/// The kind of personal number a field holds, if any: its own value, quoted in a message, is
/// masked whole by that kind (a phone column's value even when it is not a valid mobile).
fn personal(field: &Field) -> Option<Personal> {
    match field.kind {
        Kind::Phone => Some(Personal::Phone),
        Kind::IdNumber => Some(Personal::Document),
        _ => None,
    }
}

/// What one type's rule makes of a number.
struct NumberCheck {
    valid: bool,
    person: Option<idcard::ResidentId>,
    /// A 15-digit resident ID upgraded to 18 digits.
    upgraded: Option<String>,
    problems: Vec<NumberProblem>,
}

enum NumberProblem {
    Id(IdProblem),
    /// A number that breaks a pattern (the hint) with the type's severity.
    Pattern(String, Severity),
}

impl NumberProblem {
    fn into_issue(self, field: u16, type_name: &str, number: &str) -> Issue {
        let new = |code, args: &[&str]| Issue::new(code, Some(field), Stage::Row, args);
        match self {
            NumberProblem::Pattern(hint, severity) => {
                new(Code::IdFormat, &[type_name, number, &hint])
                    .with_severity(severity)
                    .quoting(1, Some(Personal::Document))
            }
            NumberProblem::Id(IdProblem::Length(n)) => new(Code::IdLength, &[&n.to_string()]),
            NumberProblem::Id(IdProblem::Format) => new(
                Code::IdFormat,
                &[type_name, number, "应为 17 位数字加最后一位数字或 X"],
            )
            .quoting(1, Some(Personal::Document)),
            NumberProblem::Id(IdProblem::Region(code)) => new(Code::IdRegion, &[&code]),
            NumberProblem::Id(IdProblem::RegionUnknown(code)) => {
                new(Code::IdRegion, &[&code]).with_severity(Severity::Warning)
            }
            NumberProblem::Id(IdProblem::Nationality(code)) => new(
                Code::IdFormat,
                &[
                    type_name,
                    number,
                    &format!("第 4 到 6 位的国籍代码 {code} 不是任何国家或地区的代码"),
                ],
            ),
            NumberProblem::Id(IdProblem::Birthdate(d)) => new(Code::IdBirthdate, &[&d]),
            NumberProblem::Id(IdProblem::Checksum(c)) => new(Code::IdChecksum, &[&c.to_string()]),
        }
    }
}

/// Checks a document number by its type's rule; `birth_limit` is the latest birth date.
fn check_number(t: &IdType, number: &str, birth_limit: NaiveDate) -> NumberCheck {
    let from_id = |c: idcard::Checked, upgraded| NumberCheck {
        valid: c.is_valid(),
        person: c.person,
        upgraded,
        problems: c.problems.into_iter().map(NumberProblem::Id).collect(),
    };
    match &t.rule {
        IdRule::ResidentId => {
            let upgraded = idcard::upgrade_15(number);
            let id = upgraded.as_deref().unwrap_or(number);
            from_id(idcard::check(id, birth_limit), upgraded)
        }
        IdRule::PermanentResidenceId => {
            let mut c = from_id(idcard::check_permanent_residence(number, birth_limit), None);
            // Its shape has its own wording.
            for p in &mut c.problems {
                if matches!(p, NumberProblem::Id(IdProblem::Format)) {
                    *p = NumberProblem::Pattern(
                        "应为 9 开头的 18 位（最后一位可为 X），或 3 个大写字母加 12 位数字".into(),
                        Severity::Error,
                    );
                }
            }
            c
        }
        IdRule::Pattern { re, hint } => {
            let ok = re.is_match(number);
            NumberCheck {
                valid: ok || t.severity != Severity::Error,
                person: None,
                upgraded: None,
                problems: if ok {
                    Vec::new()
                } else {
                    vec![NumberProblem::Pattern(hint.clone(), t.severity)]
                },
            }
        }
        IdRule::Any => NumberCheck {
            valid: true,
            person: None,
            upgraded: None,
            problems: Vec::new(),
        },
    }
}

/// A value made of per-target results (`ORF1AB阴性,N基因阴性`), when the field has `targets`:
/// every target mapped to the same value gives it, a mix gives `targets.mixed`. `None` when the
/// value is not such a list or a target's result is unknown.
fn by_target(
    field: &Field,
    map: &std::collections::HashMap<String, String>,
    text: &str,
) -> Option<String> {
    let targets = field.targets.as_ref()?;
    let mut end = 0;
    let mut found: Option<&String> = None;
    let mut mixed = false;
    for caps in targets.item.captures_iter(text) {
        let whole = caps.get(0)?;
        if whole.is_empty() || !only_separators(&text[end..whole.start()], &targets.separators) {
            return None;
        }
        end = whole.end();
        let result = map.get(caps.get(1)?.as_str())?;
        match found {
            None => found = Some(result),
            Some(first) => mixed |= first != result,
        }
    }
    if !only_separators(&text[end..], &targets.separators) {
        return None;
    }
    let found = found?;
    Some(if mixed {
        targets.mixed.clone()
    } else {
        found.clone()
    })
}

fn only_separators(gap: &str, separators: &str) -> bool {
    gap.chars()
        .all(|c| separators.contains(c) || crate::rules::text::is_space(c))
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
                date_1904: false,
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
    fn undecodable_characters_are_a_warning_that_counts_them() {
        let out = text("address", "北京市\u{FFFD}\u{FFFD}区");
        assert_eq!(codes(&out), ["text_damaged"]);
        assert_eq!(&*out.issues[0].args[0], "2");
        assert!(codes(&text("address", "北京市朝阳区")).is_empty());
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
            ("军官证", "04"),
            ("士兵证", "04"),
            ("驾驶证", "05"),
            ("5", "05"),
            ("永居证", "外国人永久居留身份证"),
            ("外国人永久居留身份证", "外国人永久居留身份证"),
        ] {
            assert_eq!(text("id_type", s).value, want, "{s}");
        }
        assert_eq!(text("id_type", "").value, "01");
        assert_eq!(field("id_type", Cell::Number(1.0)).value, "01");
        assert_eq!(codes(&text("id_type", "学生证")), ["id_type_value"]);
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

    fn row_codes(o: &RowOutcome) -> Vec<(&'static str, Severity)> {
        o.issues
            .iter()
            .map(|i| (i.code.as_str(), i.severity))
            .collect()
    }

    #[test]
    fn serials_follow_the_workbooks_date_system() {
        // 2022-01-09 09:00 saved in a 1904 workbook as a plain number.
        let mut c = checker();
        c.ctx.date_1904 = true;
        let fi = c.profile.field_index("sampled_at").unwrap();
        let o = c.field(fi, &Cell::Number(43108.375));
        assert_eq!(o.value, "2022-01-09 09:00:00");
        assert!(o.issues.is_empty(), "{:?}", o.issues);
        c.ctx.date_1904 = false;
        assert_eq!(
            c.field(fi, &Cell::Number(43108.375)).value,
            "2018-01-08 09:00:00"
        );
    }

    #[test]
    fn a_time_without_a_date_is_not_a_date() {
        for cell in [
            Cell::Text("13.5".into()),
            Cell::Text("9.54".into()),
            Cell::Text("8:30".into()),
            Cell::Text("44571.35".into()),
            Cell::Number(0.5),
            Cell::Date(
                NaiveDateTime::parse_from_str("1899-12-31 12:00:00", OUTPUT_FORMAT).unwrap(),
            ),
        ] {
            let o = field("sampled_at", cell.clone());
            assert_eq!(codes(&o), ["date_format"], "{cell:?}");
            assert!(!o.value.starts_with("1900"), "{cell:?}: {}", o.value);
        }
        // A resident ID row whose sampling time is a bare number: the date is the problem,
        // not the birth date.
        let id = id18("44010619900101123");
        let c = checker();
        let mut v = vec![""; c.profile.fields.len()];
        v[c.profile.field_index("id_number").unwrap()] = &id;
        v[c.profile.field_index("sampled_at").unwrap()] = "13.5";
        let mut ok = vec![true; v.len()];
        ok[c.profile.field_index("sampled_at").unwrap()] = false;
        let o = c.row(&v, &ok);
        assert!(o.issues.is_empty(), "{:?}", o.issues);
    }

    #[test]
    fn fullwidth_dates_and_bracketed_area_codes() {
        assert_eq!(
            text("sampled_at", "２０２２－０１－０９　０８：３０").value,
            "2022-01-09 08:30:00"
        );
        for s in [
            "(020)87654321",
            "（020）87654321",
            "（０２０）８７６５４３２１",
        ] {
            let o = text("phone", s);
            assert_eq!(o.value, "02087654321", "{s}");
            assert!(o.issues.is_empty(), "{s}: {:?}", o.issues);
        }
        assert_eq!(
            text("site", "天河（南）采样点１号").value,
            "天河(南)采样点1号"
        );
        assert_eq!(text("address", "天河路１号").value, "天河路1号");
        assert_eq!(text("lab", "金域（广州）").value, "金域(广州)");
        assert_eq!(text("category", "Ａ类人群").value, "A类人群");
    }

    #[test]
    fn sampled_at_not_in_the_future() {
        assert_eq!(
            codes(&text("sampled_at", "2022-01-12 08:00")),
            ["date_future"]
        );
        assert_eq!(
            codes(&text("sampled_at", "2022-01-12")),
            ["date_only", "date_future"]
        );
        assert!(text("sampled_at", "2022-01-11 11:59").issues.is_empty());
    }

    #[test]
    fn results_per_gene_target() {
        for (s, want) in [
            ("ORF1ab阴性，N基因阴性", "阴性"),
            ("ORF1a/b:阴性 N:阴性", "阴性"),
            ("ORF1ab基因阴性;N基因阴性;E基因阴性", "阴性"),
            ("ORF1ab阳性，N基因阳性", "阳性"),
            ("ORF1ab:POS N:POS", "阳性"),
            ("ORF1ab阴性，N基因阳性", "待复核"),
            ("ORF1a/b:阳性 N:阴性", "待复核"),
            ("ORF1ab可疑，N基因阴性", "待复核"),
        ] {
            let o = text("result", s);
            assert_eq!(o.value, want, "{s}");
            assert!(o.issues.is_empty(), "{s}: {:?}", o.issues);
        }
        for s in [
            "ORF1ab弱阳，N基因阴性",
            "ORF1ab阴性，备注",
            "ORF1ab",
            "阴性阳性X",
        ] {
            assert_eq!(codes(&text("result", s)), ["result_value"], "{s}");
        }
    }

    #[test]
    fn age_is_not_compared_with_today_when_sampling_time_is_unusable() {
        // Born 2010-03-16: 11 at sampling in 2022-01, 16 "today" in 2026.
        let id = id18("44010620100316123");
        let mut c = checker();
        c.ctx.now = NaiveDateTime::parse_from_str("2026-11-28 00:00:00", OUTPUT_FORMAT).unwrap();
        let fi = |k| c.profile.field_index(k).unwrap();
        let mut v = vec![""; c.profile.fields.len()];
        v[fi("id_number")] = &id;
        v[fi("age")] = "11";
        v[fi("sampled_at")] = "昨天上午";
        let mut ok = vec![true; v.len()];
        ok[fi("sampled_at")] = false;
        let o = c.row(&v, &ok);
        assert!(o.issues.is_empty(), "{:?}", o.issues);
        // Nor derived from today: left empty.
        v[fi("age")] = "";
        let o = c.row(&v, &ok);
        assert!(
            !o.derived.iter().any(|(f, _)| *f as usize == fi("age")),
            "{:?}",
            o.derived
        );
        assert!(o.derived.iter().any(|(f, _)| *f as usize == fi("sex")));
        // A future sampling time (its own error) is still used.
        v[fi("sampled_at")] = "2027-05-01 08:00:00";
        ok[fi("sampled_at")] = false;
        let o = c.row(&v, &ok);
        assert!(
            o.derived.contains(&(fi("age") as u16, "17".into())),
            "{:?}",
            o.derived
        );
    }

    #[test]
    fn an_unknown_document_type_is_one_error() {
        let c = checker();
        let fi = |k| c.profile.field_index(k).unwrap();
        let t = c.field(fi("id_type"), &Cell::Text("学生证".into()));
        assert_eq!(codes(&t), ["id_type_value"]);
        let mut v = vec![""; c.profile.fields.len()];
        v[fi("id_type")] = &t.value;
        v[fi("id_number")] = "G66570351";
        v[fi("sampled_at")] = "2022-01-10 08:00:00";
        let mut ok = vec![true; v.len()];
        ok[fi("id_type")] = false;
        let o = c.row(&v, &ok);
        assert!(o.issues.is_empty(), "{:?}", o.issues);
        assert!(o.derived.is_empty(), "{:?}", o.derived);
    }

    #[test]
    fn unknown_region_is_a_warning_and_a_bad_province_an_error() {
        let id = id18("33282919800101123");
        let o = row(&[("id_number", &id), ("sampled_at", "2022-01-10 08:00:00")]);
        assert_eq!(row_codes(&o), [("id_region", Severity::Warning)]);
        assert!(
            o.derived.iter().any(|(_, v)| v.as_ref() == "42"),
            "age derived"
        );
        let id = id18("16282919800101123");
        let o = row(&[("id_number", &id), ("sampled_at", "2022-01-10 08:00:00")]);
        assert_eq!(row_codes(&o), [("id_region", Severity::Error)]);
        let id = id18("83123419800101123");
        let o = row(&[("id_number", &id), ("sampled_at", "2022-01-10 08:00:00")]);
        assert!(o.issues.is_empty(), "{:?}", o.issues);
    }

    #[test]
    fn military_and_driving_licence_numbers() {
        for n in ["军字第123456号", "G66570351", "士字1"] {
            let o = row(&[("id_type", "04"), ("id_number", n)]);
            assert!(o.issues.is_empty(), "{n}: {:?}", o.issues);
        }
        let o = row(&[("id_type", "04"), ("id_number", &"1".repeat(33))]);
        assert_eq!(row_codes(&o), [("id_format", Severity::Error)]);
        let id = id18("44010619900101123");
        let o = row(&[
            ("id_type", "05"),
            ("id_number", &id),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert!(o.issues.is_empty(), "{:?}", o.issues);
        assert!(o.derived.iter().any(|(_, v)| v.as_ref() == "32"));
        let o = row(&[("id_type", "05"), ("id_number", "440106199001011230")]);
        assert_eq!(row_codes(&o), [("id_checksum", Severity::Error)]);
    }

    #[test]
    fn permanent_residence_ids() {
        let c = checker();
        let fi = |k| c.profile.field_index(k).unwrap() as u16;
        let fpr = "外国人永久居留身份证";
        // 2023 format: female (sequence 124), born 1985-03-05.
        let id = id18("94484019850305124");
        let o = row(&[
            ("id_type", fpr),
            ("id_number", &id),
            ("sex", "1"),
            ("age", "50"),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert_eq!(
            row_codes(&o),
            [
                ("sex_mismatch", Severity::Error),
                ("age_mismatch", Severity::Warning)
            ]
        );
        assert!(o.derived.contains(&(fi("id_type"), "99".into())));
        let o = row(&[
            ("id_type", fpr),
            ("id_number", &id),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert!(o.derived.contains(&(fi("sex"), "2".into())));
        assert!(o.derived.contains(&(fi("age"), "36".into())));
        // 2004 format.
        let o = row(&[("id_type", fpr), ("id_number", "USA110085030512")]);
        assert!(o.issues.is_empty(), "{:?}", o.issues);
        for (n, code) in [
            (format!("{}0", &id[..17]), "id_checksum"),
            (id18("99984019850305124"), "id_region"),
            (id18("94484019850230124"), "id_birthdate"),
            ("E12345678".to_owned(), "id_format"),
        ] {
            let n = if code == "id_checksum" && n == id {
                format!("{}1", &id[..17])
            } else {
                n
            };
            let o = row(&[
                ("id_type", fpr),
                ("id_number", &n),
                ("sampled_at", "2022-01-10 08:00:00"),
            ]);
            assert_eq!(row_codes(&o), [(code, Severity::Error)], "{n}");
        }
    }

    #[test]
    fn every_cross_field_check_skips_a_field_with_its_own_error() {
        let c = checker();
        let fi = |k| c.profile.field_index(k).unwrap();
        let male = id18("44010619900101123");
        // Rows that give each cross-field check's code, and the fields that check compares.
        type Case<'a> = (&'a [(&'a str, &'a str)], Code, &'a [&'a str]);
        let cases: [Case; 3] = [
            (
                &[("id_type", "01"), ("id_number", &male), ("sex", "2")],
                Code::SexMismatch,
                &["sex", "id_number", "id_type"],
            ),
            (
                &[("id_type", "01"), ("id_number", &male), ("age", "40")],
                Code::AgeMismatch,
                &["age", "id_number", "id_type", "sampled_at"],
            ),
            (
                &[("tested_at", "2022-01-10 07:00:00")],
                Code::DateOrder,
                &["tested_at", "sampled_at"],
            ),
        ];
        for (row, code, compared) in cases {
            let mut v = vec![""; c.profile.fields.len()];
            v[fi("sampled_at")] = "2022-01-10 08:00:00";
            for (k, val) in row {
                v[fi(k)] = val;
            }
            let has = |ok: &[bool], v: &[&str]| c.row(v, ok).issues.iter().any(|i| i.code == code);
            assert!(has(&vec![true; v.len()], &v), "{code:?} found at all");
            // Any one field with an error of its own: the check runs iff it does not compare it.
            for f in 0..v.len() {
                let mut ok = vec![true; v.len()];
                ok[f] = false;
                let key = c.profile.fields[f].key.as_str();
                assert_eq!(
                    has(&ok, &v),
                    !compared.contains(&key),
                    "{code:?} with {key} failed"
                );
            }
            // The document number's error found by its type's rule counts too.
            if compared.contains(&"id_number") {
                let bad = format!(
                    "{}{}",
                    &male[..17],
                    if male.ends_with('0') { '1' } else { '0' }
                );
                let mut w = v.clone();
                w[fi("id_number")] = &bad;
                assert!(!has(&vec![true; v.len()], &w), "{code:?} with id_checksum");
            }
        }
    }

    #[test]
    fn a_card_without_a_country_code_is_one_id_format_per_defect() {
        let fpr = "外国人永久居留身份证";
        let zero = id18("94400019850305123");
        let o = row(&[
            ("id_type", fpr),
            ("id_number", &zero),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert_eq!(row_codes(&o), [("id_format", Severity::Error)]);
        let hint = o.issues[0].args[2].as_ref();
        assert!(hint.contains("国籍代码 000"), "{hint}");
        let wrong = format!(
            "{}{}",
            &zero[..17],
            if zero.ends_with('0') { '1' } else { '0' }
        );
        let o = row(&[
            ("id_type", fpr),
            ("id_number", &wrong),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert_eq!(
            row_codes(&o),
            [
                ("id_format", Severity::Error),
                ("id_checksum", Severity::Error)
            ]
        );
        // Filed as 01: no card, so checked as 01, and 95 is no province.
        let o = row(&[
            ("id_type", "01"),
            ("id_number", "951000201106300321"),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert_eq!(row_codes(&o), [("id_region", Severity::Error)]);
        assert_eq!(o.issues[0].args[0].as_ref(), "951000");
        assert!(o.derived.is_empty(), "{:?}", o.derived);
    }

    #[test]
    fn a_permanent_residence_number_filed_as_resident_id_changes_type() {
        let c = checker();
        let fi = |k| c.profile.field_index(k).unwrap() as u16;
        let id = id18("94484019850305123");
        let o = row(&[
            ("id_type", "01"),
            ("id_number", &id),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        assert_eq!(row_codes(&o), [("id_type_changed", Severity::Warning)]);
        assert_eq!(o.issues[0].field, Some(fi("id_type")));
        assert!(o.derived.contains(&(fi("id_type"), "99".into())));
        assert!(o.derived.contains(&(fi("sex"), "1".into())));
        // A 9-number that fails both rules stays a resident ID with its errors.
        let bad = format!("{}{}", &id[..17], if id.ends_with('0') { '1' } else { '0' });
        let o = row(&[
            ("id_type", "01"),
            ("id_number", &bad),
            ("sampled_at", "2022-01-10 08:00:00"),
        ]);
        let c = row_codes(&o);
        assert!(c.contains(&("id_region", Severity::Error)), "{c:?}");
        assert!(!c.iter().any(|(code, _)| *code == "id_type_changed"));
    }
}
