//! Mapping profiles: TOML files that declare the upload template, header aliases, normalisers,
//! checks and batch rules; loading them with exact error locations, and matching headers.
//!
//! A profile is data, never code. The built-in profiles live in `mappings/` (compiled in), the
//! user's own in `profiles/` under the per-user config folder. See the README for the format.
//!
//! ```
//! use sheetbridge::profile::Profile;
//! let p = Profile::builtin("cdc-nat").unwrap();
//! assert_eq!(p.fields[0].header, "姓名");
//! let headers = ["序号", "姓名", "身份证号", "手机号", "采样时间", "检测时间", "结果", "条码号"];
//! let m = p.match_headers(&headers.map(String::from));
//! assert!(m.missing_required(&p).is_empty());
//! ```

use crate::issue::{Code, Severity};
use crate::rules::text::{Normalizer, header_key};
use regex::Regex;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The profiles compiled into the program, from `mappings/`.
pub const BUILTIN: &[(&str, &str)] = &[("cdc-nat", include_str!("../mappings/cdc-nat.toml"))];

/// A profile file that could not be used: names the file, the line and the key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("模板文件「{path}」第 {line} 行{key}有误：{detail}。请改正这一行后再试。")]
    Invalid {
        path: String,
        line: usize,
        /// `（键 xxx）` or empty.
        key: String,
        detail: String,
    },
    #[error("读不了模板文件「{path}」：{detail}")]
    Io { path: String, detail: String },
    #[error("找不到名为「{name}」的模板。可用的模板：{available}。")]
    NotFound { name: String, available: String },
}

/// What kind of value a field holds; decides the parser and the built-in checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Free text (the default).
    #[default]
    Text,
    /// A document type, mapped to its code through `[[id_types]]`.
    IdType,
    /// A document number, checked by the rule of its type (`resident_id` or a pattern).
    IdNumber,
    /// Sex code; checked against a resident ID.
    Sex,
    /// Whole years; checked against a resident ID's birth date.
    Age,
    /// A phone number: a number cell becomes digits.
    Phone,
    /// A date-time: Excel serials and many text shapes, written `YYYY-MM-DD HH:MM:SS`.
    Datetime,
}

/// A value filled in when the source has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Derive {
    /// `1`/`2` from the 17th digit of a resident ID.
    SexFromId,
    /// Whole years from a resident ID's birth date at the sampling date.
    AgeFromId,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FieldFile {
    key: Spanned<String>,
    header: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    kind: Kind,
    #[serde(default)]
    required: bool,
    default: Option<String>,
    #[serde(default)]
    normalize: Vec<Normalizer>,
    map: Option<BTreeMap<String, String>>,
    one_of: Option<Vec<String>>,
    length: Option<[usize; 2]>,
    pattern: Option<Spanned<OneOrMany>>,
    code: Option<Spanned<String>>,
    message: Option<String>,
    message_en: Option<String>,
    severity: Option<SeverityFile>,
    derive: Option<Derive>,
    not_before: Option<Spanned<String>>,
    #[serde(default)]
    not_in_future: bool,
    targets: Option<TargetsFile>,
}

/// A value made of several per-target results (`ORF1ab阴性，N基因阴性`), in a field with a
/// `map`: each `item` match gives one result through its first capture group and the map.
///
/// ```toml
/// targets = { item = "(?:ORF1AB|N)(?:基因)?:?(阴性|阳性)", separators = ",;、", mixed = "待复核" }
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetsFile {
    item: Spanned<String>,
    /// Characters allowed between items (after the field's normalisers).
    #[serde(default)]
    separators: String,
    /// The value when the targets disagree.
    mixed: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SeverityFile {
    Error,
    Warning,
}

impl From<SeverityFile> for Severity {
    fn from(s: SeverityFile) -> Severity {
        match s {
            SeverityFile::Error => Severity::Error,
            SeverityFile::Warning => Severity::Warning,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdTypeFile {
    code: String,
    name: String,
    #[serde(default)]
    accept: Vec<String>,
    rule: Option<Spanned<String>>,
    pattern: Option<Spanned<String>>,
    hint: Option<String>,
    severity: Option<SeverityFile>,
    fallback: Option<FallbackFile>,
}

/// A number that breaks its type's rule but passes another type's rule (and `when`) is taken
/// as that type, with the warning `id_type_changed`.
///
/// ```toml
/// fallback = { to = "外国人永久居留身份证", when = "^9" }
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FallbackFile {
    /// The `name` of the other type.
    to: Spanned<String>,
    when: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RolesFile {
    id_type: Option<Spanned<String>>,
    id_number: Option<Spanned<String>>,
    sex: Option<Spanned<String>>,
    age: Option<Spanned<String>>,
    sampled_at: Option<Spanned<String>>,
    tested_at: Option<Spanned<String>>,
    result: Option<Spanned<String>>,
    barcode: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchFile {
    #[serde(default = "default_pool")]
    pool_size: usize,
    #[serde(default)]
    barcode_must_agree: Vec<Spanned<String>>,
    #[serde(default)]
    conflicting_results: Vec<String>,
    #[serde(default = "default_tolerance")]
    age_tolerance: i32,
}

fn default_pool() -> usize {
    20
}
fn default_tolerance() -> i32 {
    1
}

impl Default for BatchFile {
    fn default() -> Self {
        BatchFile {
            pool_size: default_pool(),
            barcode_must_agree: Vec::new(),
            conflicting_results: Vec::new(),
            age_tolerance: default_tolerance(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileFile {
    title: String,
    #[serde(default = "default_sheet")]
    output_sheet: String,
    #[serde(default)]
    footer_markers: Vec<String>,
    #[serde(default)]
    roles: RolesFile,
    #[serde(default)]
    batch: BatchFile,
    #[serde(default)]
    id_types: Vec<IdTypeFile>,
    fields: Vec<FieldFile>,
}

/// A user profile that adds to a built-in one: what the mapping screen saves.
///
/// ```toml
/// extends = "cdc-nat"
/// title = "省疾控核酸检测结果上报（本院导出）"
/// [extra_aliases]
/// phone = ["手机号码（本人）"]
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExtensionFile {
    extends: Spanned<String>,
    title: Option<String>,
    #[serde(default)]
    extra_aliases: BTreeMap<Spanned<String>, Vec<String>>,
}

/// Reads a profile file, resolving `extends` against the built-in profiles.
fn read_file(
    text: &str,
    err: &dyn Fn(Option<std::ops::Range<usize>>, String) -> ProfileError,
) -> Result<ProfileFile, ProfileError> {
    let is_extension = text.lines().any(|l| l.trim_start().starts_with("extends"));
    if !is_extension {
        return toml::from_str(text).map_err(|e| err(e.span(), e.message().to_owned()));
    }
    let ext: ExtensionFile =
        toml::from_str(text).map_err(|e| err(e.span(), e.message().to_owned()))?;
    let base_text = BUILTIN
        .iter()
        .find(|(n, _)| *n == ext.extends.get_ref())
        .map(|(_, t)| *t)
        .ok_or_else(|| {
            let names: Vec<&str> = BUILTIN.iter().map(|(n, _)| *n).collect();
            err(
                Some(ext.extends.span()),
                format!("extends 只能是内置模板：{}", names.join("、")),
            )
        })?;
    let mut file: ProfileFile =
        toml::from_str(base_text).map_err(|e| err(None, e.message().to_owned()))?;
    if let Some(title) = ext.title {
        file.title = title;
    }
    for (key, aliases) in ext.extra_aliases {
        let field = file
            .fields
            .iter_mut()
            .find(|f| f.key.get_ref() == key.get_ref())
            .ok_or_else(|| {
                err(
                    Some(key.span()),
                    format!(
                        "模板 {} 里没有名为 {} 的字段",
                        ext.extends.get_ref(),
                        key.get_ref()
                    ),
                )
            })?;
        field.aliases.extend(aliases);
    }
    Ok(file)
}

fn default_sheet() -> String {
    "Sheet1".to_owned()
}

/// How a document type's numbers are checked.
#[derive(Debug, Clone)]
pub enum IdRule {
    /// GB 11643 resident ID (check digit, birth date, region; 15-digit upgrade):
    /// `rule = "resident_id"`.
    ResidentId,
    /// 外国人永久居留身份证, 2023 format (with its check digit, birth date and sex) or 2004
    /// format: `rule = "permanent_residence_id"`.
    PermanentResidenceId,
    /// A pattern, with a hint shown in the message.
    Pattern { re: Regex, hint: String },
    /// Anything goes.
    Any,
}

/// One document type of `[[id_types]]`.
#[derive(Debug, Clone)]
pub struct IdType {
    /// The code written to the upload sheet.
    pub code: String,
    pub name: String,
    /// What the id_type field stores for this type: the code, or the name when an earlier
    /// type has the same code (the row stage then writes the code to the upload sheet).
    pub value: String,
    /// Another type (index into `id_types`) to take a number that breaks this type's rule,
    /// when the number matches the pattern and passes that type's rule.
    pub fallback: Option<(usize, Option<Regex>)>,
    /// Accepted source values, compared after the field's normalisers.
    pub accept: Vec<String>,
    pub rule: IdRule,
    /// Severity of a number that breaks `rule`.
    pub severity: Severity,
}

/// One column of the upload template, compiled from a `[[fields]]` entry.
#[derive(Debug, Clone)]
pub struct Field {
    pub key: String,
    /// The column header in the upload sheet.
    pub header: String,
    /// Accepted source headers, as [`header_key`]s.
    pub alias_keys: Vec<String>,
    pub kind: Kind,
    pub required: bool,
    /// Filled in when the source is empty; `{lab}` is the clerk's own lab.
    pub default: Option<String>,
    pub normalize: Vec<Normalizer>,
    /// Value map (keys already normalised); a value not in it is an error.
    pub map: Option<HashMap<String, String>>,
    pub one_of: Option<Vec<String>>,
    pub length: Option<(usize, usize)>,
    pub patterns: Vec<Regex>,
    /// The code of a failed value check (`pattern`, `one_of`, `map`, `length`).
    pub code: Code,
    /// A user profile's own code name, with `code = Custom`.
    pub custom_code: Option<String>,
    pub message: Option<String>,
    pub message_en: Option<String>,
    pub severity: Severity,
    pub derive: Option<Derive>,
    /// Index of the field this one must not be earlier than.
    pub not_before: Option<usize>,
    pub not_in_future: bool,
    /// Per-target results, for a value the `map` does not know.
    pub targets: Option<Targets>,
}

/// Per-target results in one value (`ORF1ab阴性，N基因阴性`): every target the same gives that
/// value, a mix gives `mixed`.
#[derive(Debug, Clone)]
pub struct Targets {
    /// One target and its result (first capture group), matched repeatedly.
    pub item: Regex,
    /// Characters allowed between items.
    pub separators: String,
    pub mixed: String,
}

impl Field {
    /// The code name as reported (`custom_code` for user codes).
    pub fn code_name(&self, code: Code) -> &str {
        match (code, &self.custom_code) {
            (Code::Custom, Some(c)) => c,
            _ => code.as_str(),
        }
    }
}

/// Which field plays which part in cross-field and batch checks (indices into `fields`).
#[derive(Debug, Clone, Default)]
pub struct Roles {
    pub id_type: Option<usize>,
    pub id_number: Option<usize>,
    pub sex: Option<usize>,
    pub age: Option<usize>,
    pub sampled_at: Option<usize>,
    pub tested_at: Option<usize>,
    pub result: Option<usize>,
    pub barcode: Option<usize>,
}

/// Batch-wide rules.
#[derive(Debug, Clone)]
pub struct BatchRules {
    pub pool_size: usize,
    /// Fields that must agree among the rows of one barcode.
    pub barcode_must_agree: Vec<usize>,
    /// Results that one person may not have both of in one batch.
    pub conflicting_results: Vec<String>,
    pub age_tolerance: i32,
}

/// Where a profile came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Compiled in, from `mappings/<name>.toml`.
    Builtin,
    /// A file: the user's folder, or a path given with `-p`.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Builtin => write!(f, "内置"),
            Origin::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A loaded, checked profile.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The file stem, used to choose it (`-p cdc-nat`).
    pub name: String,
    pub title: String,
    pub origin: Origin,
    pub output_sheet: String,
    pub footer_markers: Vec<String>,
    pub fields: Vec<Field>,
    pub id_types: Vec<IdType>,
    pub roles: Roles,
    pub batch: BatchRules,
}

/// Which source column feeds each template field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderMatch {
    /// Per template field, the source column index.
    pub columns: Vec<Option<usize>>,
}

impl HeaderMatch {
    /// Required fields with no default that have no source column.
    pub fn missing_required<'p>(&self, profile: &'p Profile) -> Vec<&'p Field> {
        profile
            .fields
            .iter()
            .zip(&self.columns)
            .filter(|(f, c)| c.is_none() && f.required && f.default.is_none())
            .map(|(f, _)| f)
            .collect()
    }

    /// (required fields matched, fields matched): higher is better.
    pub fn score(&self, profile: &Profile) -> (usize, usize) {
        let matched = self.columns.iter().filter(|c| c.is_some()).count();
        let required = profile
            .fields
            .iter()
            .zip(&self.columns)
            .filter(|(f, c)| c.is_some() && f.required && f.default.is_none())
            .count();
        (required, matched)
    }
}

impl Profile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<Profile> {
        let (stem, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Profile::parse(stem, text, Origin::Builtin).ok()
    }

    /// Loads a profile file.
    pub fn from_path(path: &Path) -> Result<Profile, ProfileError> {
        let text = std::fs::read_to_string(path).map_err(|e| ProfileError::Io {
            path: path.display().to_string(),
            detail: crate::read::io_message(&e),
        })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Profile::parse(&stem, &text, Origin::File(path.to_owned()))
    }

    /// Parses and checks profile text.
    pub fn parse(name: &str, text: &str, origin: Origin) -> Result<Profile, ProfileError> {
        let shown = match &origin {
            Origin::Builtin => format!("mappings/{name}.toml"),
            Origin::File(p) => p.display().to_string(),
        };
        let err = |span: Option<std::ops::Range<usize>>, detail: String| {
            invalid(&shown, text, span, detail)
        };
        let file = read_file(text, &err)?;
        if file.fields.is_empty() {
            return Err(err(None, "至少要有一个 [[fields]]".into()));
        }

        let mut fields: Vec<Field> = Vec::with_capacity(file.fields.len());
        let keys: Vec<String> = file
            .fields
            .iter()
            .map(|f| f.key.get_ref().clone())
            .collect();
        let index_of = |k: &Spanned<String>| -> Result<usize, ProfileError> {
            keys.iter().position(|x| x == k.get_ref()).ok_or_else(|| {
                err(
                    Some(k.span()),
                    format!(
                        "没有名为 {} 的字段（key），可用的有：{}",
                        k.get_ref(),
                        keys.join(", ")
                    ),
                )
            })
        };
        for (i, f) in file.fields.iter().enumerate() {
            if keys[..i].contains(f.key.get_ref()) {
                return Err(err(
                    Some(f.key.span()),
                    format!("字段 {} 重复了", f.key.get_ref()),
                ));
            }
            if let Some(other) = file.fields[..i].iter().find(|o| o.header == f.header) {
                return Err(err(
                    Some(f.key.span()),
                    format!(
                        "字段 {} 和 {} 的 header 都是「{}」：上报表的表头不能重复",
                        other.key.get_ref(),
                        f.key.get_ref(),
                        f.header
                    ),
                ));
            }
            if let Some([min, max]) = f.length
                && min > max
            {
                return Err(err(
                    key_after(text, f.key.span().start, "length"),
                    format!("length = [{min}, {max}]：最短不能大于最长，应写成 [{max}, {min}]"),
                ));
            }
        }
        if file.batch.pool_size == 0 {
            return Err(err(
                key_after(text, 0, "pool_size"),
                "pool_size 至少是 1（一管混采的最多人数）".into(),
            ));
        }
        for f in file.fields {
            let mut patterns = Vec::new();
            if let Some(p) = &f.pattern {
                for pat in p.get_ref().clone().into_vec() {
                    patterns.push(Regex::new(&pat).map_err(|e| {
                        err(
                            Some(p.span()),
                            format!("正则表达式 {} 写错了：{}", shorten(&pat), regex_reason(&e)),
                        )
                    })?);
                }
            }
            let (code, custom_code) =
                match &f.code {
                    None => (default_code(f.kind, f.key.get_ref()), None),
                    Some(c) => match Code::from_name(c.get_ref()) {
                        Some(code) => (code, None),
                        None if c.get_ref().chars().all(|ch| {
                            ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit()
                        }) && !c.get_ref().is_empty() =>
                        {
                            (Code::Custom, Some(c.get_ref().clone()))
                        }
                        None => {
                            return Err(err(
                                Some(c.span()),
                                "code 只能用小写英文字母、数字和下划线".into(),
                            ));
                        }
                    },
                };
            let not_before = f.not_before.as_ref().map(&index_of).transpose()?;
            let targets = match f.targets {
                None => None,
                Some(t) => {
                    let item = Regex::new(t.item.get_ref())
                        .map_err(|e| err(Some(t.item.span()), format!("正则表达式写错了：{e}")))?;
                    if item.captures_len() < 2 || f.map.is_none() {
                        return Err(err(
                            Some(t.item.span()),
                            "targets 的 item 要有一个括号分组（每个靶标的结果），字段也要有 map"
                                .into(),
                        ));
                    }
                    Some(Targets {
                        item,
                        separators: t.separators,
                        mixed: t.mixed,
                    })
                }
            };
            let mut alias_keys: Vec<String> = std::iter::once(&f.header)
                .chain(&f.aliases)
                .map(|a| header_key(a))
                .collect();
            alias_keys.dedup();
            let normalize = f.normalize;
            let norm = |s: &str| normalize.iter().fold(s.to_owned(), |acc, n| n.apply(acc));
            let map = f
                .map
                .map(|m| m.iter().map(|(k, v)| (norm(k), v.clone())).collect());
            fields.push(Field {
                key: f.key.into_inner(),
                header: f.header,
                alias_keys,
                kind: f.kind,
                required: f.required,
                default: f.default,
                map,
                one_of: f.one_of,
                length: f.length.map(|[a, b]| (a, b)),
                patterns,
                code,
                custom_code,
                message: f.message,
                message_en: f.message_en,
                severity: f
                    .severity
                    .map(Severity::from)
                    .unwrap_or(code.default_severity()),
                derive: f.derive,
                not_before,
                not_in_future: f.not_in_future,
                targets,
                normalize,
            });
        }

        let id_type_norm: Vec<Normalizer> = fields
            .iter()
            .find(|f| f.kind == Kind::IdType)
            .map(|f| f.normalize.clone())
            .unwrap_or_default();
        let mut id_types: Vec<IdType> = Vec::new();
        let names: Vec<String> = file.id_types.iter().map(|t| t.name.clone()).collect();
        for t in file.id_types {
            let rule = match (&t.rule, &t.pattern) {
                (Some(r), _) if r.get_ref() == "resident_id" => IdRule::ResidentId,
                (Some(r), _) if r.get_ref() == "permanent_residence_id" => {
                    IdRule::PermanentResidenceId
                }
                (Some(r), _) => {
                    return Err(err(
                        Some(r.span()),
                        format!(
                            "rule 只能是 resident_id 或 permanent_residence_id，不能是 {}",
                            r.get_ref()
                        ),
                    ));
                }
                (None, Some(p)) => IdRule::Pattern {
                    re: Regex::new(p.get_ref()).map_err(|e| {
                        err(
                            Some(p.span()),
                            format!("正则表达式写错了：{}", regex_reason(&e)),
                        )
                    })?,
                    hint: t.hint.clone().unwrap_or_else(|| p.get_ref().clone()),
                },
                (None, None) => IdRule::Any,
            };
            let accept = t
                .accept
                .iter()
                .chain([&t.code, &t.name])
                .map(|a| id_type_norm.iter().fold(a.clone(), |acc, n| n.apply(acc)))
                .collect();
            let fallback = match &t.fallback {
                None => None,
                Some(fb) => {
                    let to = names
                        .iter()
                        .position(|n| n == fb.to.get_ref())
                        .ok_or_else(|| {
                            err(
                                Some(fb.to.span()),
                                format!(
                                    "没有名为 {} 的证件类型，可用的有：{}",
                                    fb.to.get_ref(),
                                    names.join("、")
                                ),
                            )
                        })?;
                    let when = fb
                        .when
                        .as_ref()
                        .map(|w| {
                            Regex::new(w.get_ref())
                                .map_err(|e| err(Some(w.span()), format!("正则表达式写错了：{e}")))
                        })
                        .transpose()?;
                    Some((to, when))
                }
            };
            let value = if id_types.iter().any(|o| o.code == t.code) {
                t.name.clone()
            } else {
                t.code.clone()
            };
            id_types.push(IdType {
                code: t.code,
                name: t.name,
                value,
                fallback,
                accept,
                rule,
                severity: t.severity.map(Severity::from).unwrap_or(Severity::Error),
            });
        }

        let role = |r: &Option<Spanned<String>>| r.as_ref().map(&index_of).transpose();
        let roles = Roles {
            id_type: role(&file.roles.id_type)?,
            id_number: role(&file.roles.id_number)?,
            sex: role(&file.roles.sex)?,
            age: role(&file.roles.age)?,
            sampled_at: role(&file.roles.sampled_at)?,
            tested_at: role(&file.roles.tested_at)?,
            result: role(&file.roles.result)?,
            barcode: role(&file.roles.barcode)?,
        };
        let barcode_must_agree = file
            .batch
            .barcode_must_agree
            .iter()
            .map(&index_of)
            .collect::<Result<Vec<_>, _>>()?;
        if fields.iter().any(|f| f.kind == Kind::IdNumber) && id_types.is_empty() {
            return Err(err(
                None,
                "有 kind = \"id_number\" 的字段时，需要 [[id_types]] 表".into(),
            ));
        }
        Ok(Profile {
            name: name.to_owned(),
            title: file.title,
            origin,
            output_sheet: file.output_sheet,
            footer_markers: file.footer_markers,
            fields,
            id_types,
            roles,
            batch: BatchRules {
                pool_size: file.batch.pool_size,
                barcode_must_agree,
                conflicting_results: file.batch.conflicting_results,
                age_tolerance: file.batch.age_tolerance,
            },
        })
    }

    /// Matches source header cells to template fields. Each source column feeds at most one
    /// field; the first matching column wins. A header with a bracketed note
    /// (`联系电话（手机）`) matches when the part before the bracket does.
    pub fn match_headers(&self, headers: &[String]) -> HeaderMatch {
        let keys: Vec<String> = headers.iter().map(|h| header_key(h)).collect();
        let mut columns = vec![None; self.fields.len()];
        let mut used = vec![false; headers.len()];
        for pass in 0..2 {
            for (fi, field) in self.fields.iter().enumerate() {
                if columns[fi].is_some() {
                    continue;
                }
                let found = keys.iter().enumerate().position(|(ci, k)| {
                    !used[ci] && {
                        let k = if pass == 0 {
                            k.as_str()
                        } else {
                            before_bracket(k)
                        };
                        !k.is_empty() && field.alias_keys.iter().any(|a| a == k)
                    }
                });
                if let Some(ci) = found {
                    columns[fi] = Some(ci);
                    used[ci] = true;
                }
            }
        }
        HeaderMatch { columns }
    }

    /// The index of a field by key.
    pub fn field_index(&self, key: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.key == key)
    }

    /// The document type for a normalised source value.
    pub fn id_type_for(&self, value: &str) -> Option<&IdType> {
        self.id_types
            .iter()
            .find(|t| t.accept.iter().any(|a| a == value))
    }

    /// The document type an id_type field stores as `value` ([`IdType::value`]).
    pub fn id_type_stored(&self, value: &str) -> Option<&IdType> {
        self.id_types.iter().find(|t| t.value == value)
    }
}

fn before_bracket(k: &str) -> &str {
    k.find(['(', '[']).map_or(k, |i| &k[..i])
}

fn default_code(kind: Kind, key: &str) -> Code {
    match kind {
        Kind::Phone => Code::PhoneFormat,
        Kind::Datetime => Code::DateFormat,
        Kind::Sex => Code::SexValue,
        Kind::Age => Code::AgeValue,
        Kind::IdType => Code::IdType,
        Kind::IdNumber => Code::IdFormat,
        Kind::Text if key == "name" => Code::NameFormat,
        Kind::Text => Code::TextFormat,
    }
}

/// The span of the first `key =` at or after byte `from` (a check on a value serde gave
/// without its place), so the message can still name the line and key.
fn key_after(text: &str, from: usize, key: &str) -> Option<std::ops::Range<usize>> {
    let rest = text.get(from..)?;
    let mut at = 0;
    while let Some(pos) = rest[at..].find(key) {
        let start = at + pos;
        let after = rest[start + key.len()..].trim_start_matches([' ', '\t']);
        let line_start = rest[..start].rfind('\n').map_or(0, |n| n + 1);
        if after.starts_with('=') && rest[line_start..start].trim().is_empty() {
            return Some(from + start..from + start + key.len());
        }
        at = start + key.len();
    }
    None
}

/// A message detail is at most a few lines: what is wrong, never the whole file's content.
fn shorten_detail(s: &str) -> String {
    const MAX: usize = 400;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

/// Long text from a file (a pasted regex can be megabytes) cut for a message.
fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…（共 {} 个字符）", &s[..cut], s.chars().count()),
        None => s.to_owned(),
    }
}

/// Why a regex is wrong, without regex's copy of the whole pattern.
fn regex_reason(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(text) => text
            .lines()
            .rev()
            .find_map(|l| l.trim().strip_prefix("error:"))
            .map(|l| l.trim().to_owned())
            .unwrap_or_else(|| shorten(text)),
        regex::Error::CompiledTooBig(limit) => format!("太长太复杂（超过 {limit} 字节的上限）"),
        other => shorten(&other.to_string()),
    }
}

fn invalid(
    path: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    detail: String,
) -> ProfileError {
    let (line, key) = line_and_key(text, span);
    ProfileError::Invalid {
        path: path.to_owned(),
        line,
        key: key
            .map(|k| format!("（键 {}）", shorten(&k)))
            .unwrap_or_default(),
        detail: shorten_detail(detail.trim()),
    }
}

/// The line (1-based) a TOML error span starts on, and the key written on that line if any.
/// Shared with the upload targets, whose errors name the line and key the same way.
pub(crate) fn line_and_key(
    text: &str,
    span: Option<std::ops::Range<usize>>,
) -> (usize, Option<String>) {
    let Some(span) = span else {
        return (1, None);
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    let line_text = text.lines().nth(line - 1).unwrap_or("");
    let key = line_text
        .split_once('=')
        .map(|(k, _)| k.trim().trim_matches('"').to_owned())
        .filter(|k| !k.is_empty() && !k.starts_with('['));
    (line, key)
}

/// All profiles available: built-in first, then the user's folder (sorted by name). A broken
/// user file is kept aside in `broken` with its message rather than hiding the others.
#[derive(Debug, Clone, Default)]
pub struct Profiles {
    pub list: Vec<Profile>,
    pub broken: Vec<ProfileError>,
    /// The user's profile folder, when known.
    pub user_dir: Option<PathBuf>,
}

impl Profiles {
    /// Built-in profiles plus every `*.toml` in `user_dir` (a missing folder is fine).
    pub fn load(user_dir: Option<&Path>) -> Profiles {
        let mut list: Vec<Profile> = BUILTIN
            .iter()
            .filter_map(|(name, text)| Profile::parse(name, text, Origin::Builtin).ok())
            .collect();
        let mut broken = Vec::new();
        if let Some(dir) = user_dir
            && let Ok(entries) = std::fs::read_dir(dir)
        {
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension()
                        .is_some_and(|e| e.eq_ignore_ascii_case("toml"))
                })
                .collect();
            paths.sort();
            for p in paths {
                match Profile::from_path(&p) {
                    Ok(profile) => list.push(profile),
                    Err(e) => broken.push(e),
                }
            }
        }
        Profiles {
            list,
            broken,
            user_dir: user_dir.map(Path::to_owned),
        }
    }

    /// A profile by name (file stem), or by path when `name` ends in `.toml` or is a file.
    pub fn find(&self, name: &str) -> Result<Profile, ProfileError> {
        let as_path = Path::new(name);
        if name.to_ascii_lowercase().ends_with(".toml") || as_path.is_file() {
            return Profile::from_path(as_path);
        }
        // The user's own file of the same name overrides the built-in one, and so does a
        // broken one: its error, never the built-in profile in its place.
        if let Some(e) = self.broken.iter().find(|e| match e {
            ProfileError::Invalid { path, .. } | ProfileError::Io { path, .. } => {
                Path::new(path).file_stem().is_some_and(|s| s == name)
            }
            ProfileError::NotFound { .. } => false,
        }) {
            return Err(e.clone());
        }
        if let Some(p) = self.list.iter().rev().find(|p| p.name == name) {
            return Ok(p.clone());
        }
        Err(ProfileError::NotFound {
            name: name.to_owned(),
            available: self
                .list
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join("、"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdc() -> Profile {
        Profile::builtin("cdc-nat").expect("built-in profile parses")
    }

    #[test]
    fn builtin_profile_follows_the_template() {
        let p = cdc();
        let headers: Vec<&str> = p.fields.iter().map(|f| f.header.as_str()).collect();
        assert_eq!(
            headers,
            [
                "姓名",
                "证件类型",
                "证件号码",
                "性别",
                "年龄",
                "联系电话",
                "采样时间",
                "检测时间",
                "检测结果",
                "样本编号",
                "采样点",
                "检测机构",
                "人群分类",
                "现住址"
            ]
        );
        assert_eq!(p.output_sheet, "Sheet1");
        assert_eq!(p.batch.pool_size, 20);
        let codes: Vec<&str> = p.id_types.iter().map(|t| t.code.as_str()).collect();
        assert_eq!(
            codes,
            ["01", "02", "03", "04", "05", "06", "07", "99", "99"]
        );
        // Two types share 99: the second is stored by its name.
        let fpr = p.id_type_for("永居证").unwrap();
        assert_eq!(
            (fpr.code.as_str(), fpr.value.as_str()),
            ("99", "外国人永久居留身份证")
        );
        assert_eq!(p.id_type_for("99").unwrap().name, "其他");
        assert_eq!(p.id_type_stored("外国人永久居留身份证").unwrap().code, "99");
        let fb = p.id_type_for("身份证").unwrap().fallback.as_ref().unwrap();
        assert_eq!(p.id_types[fb.0].name, "外国人永久居留身份证");
        assert_eq!(p.roles.barcode, p.field_index("barcode"));
    }

    #[test]
    fn every_alias_of_the_template_matches() {
        let p = cdc();
        let table: &[(&str, &[&str])] = &[
            (
                "name",
                &["姓名", "名字", "患者姓名", "受检者姓名", "被检测人姓名"],
            ),
            ("id_type", &["证件类型", "证件类别", "身份证件类别"]),
            (
                "id_number",
                &[
                    "证件号码",
                    "证件号",
                    "身份证号",
                    "身份证号码",
                    "身份证",
                    "证件编号",
                    "身份号",
                ],
            ),
            ("sex", &["性别"]),
            ("age", &["年龄"]),
            (
                "phone",
                &["联系电话", "电话", "手机号", "手机号码", "联系方式", "手机"],
            ),
            ("sampled_at", &["采样时间", "采集时间", "采样日期"]),
            (
                "tested_at",
                &["检测时间", "检验时间", "报告时间", "检测日期"],
            ),
            ("result", &["检测结果", "结果", "核酸结果", "核酸检测结果"]),
            (
                "barcode",
                &[
                    "条码号",
                    "条码",
                    "样本编号",
                    "样本条码",
                    "样本编码",
                    "试管编码",
                    "试管编号",
                    "采样试管编号",
                    "采样管编码",
                    "采样管码",
                    "管码",
                ],
            ),
            (
                "site",
                &["采样点", "采样点名称", "采样地点", "采集点", "采集点名称"],
            ),
            ("lab", &["检测机构", "检测机构名称", "检测单位"]),
            ("category", &["人群分类", "人群类别", "人员类别"]),
            ("address", &["现住址", "住址", "居住地址", "现居住地址"]),
        ];
        for (key, aliases) in table {
            let fi = p.field_index(key).unwrap();
            for alias in *aliases {
                let m = p.match_headers(&[format!(" *{alias}\n")]);
                assert_eq!(m.columns[fi], Some(0), "{alias} -> {key}");
            }
        }
    }

    #[test]
    fn header_with_bracket_note_and_fullwidth_matches() {
        let p = cdc();
        let m = p.match_headers(&["联系电话（手机）".into(), "ＩＤ".into(), "*姓 名".into()]);
        assert_eq!(m.columns[p.field_index("phone").unwrap()], Some(0));
        assert_eq!(m.columns[p.field_index("name").unwrap()], Some(2));
    }

    #[test]
    fn missing_required_names_fields() {
        let p = cdc();
        let m = p.match_headers(&["姓名".into(), "电话".into()]);
        let missing: Vec<&str> = m
            .missing_required(&p)
            .iter()
            .map(|f| f.header.as_str())
            .collect();
        assert_eq!(
            missing,
            ["证件号码", "采样时间", "检测时间", "检测结果", "样本编号"]
        );
        assert_eq!(m.score(&p), (2, 2));
    }

    #[test]
    fn broken_profile_names_line_and_key() {
        let text =
            "title = \"x\"\n[[fields]]\nkey = \"name\"\nheader = \"姓名\"\nlenght = [1, 2]\n";
        let e = Profile::parse("mine", text, Origin::File("mine.toml".into())).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("mine.toml"), "{msg}");
        assert!(msg.contains("第 5 行"), "{msg}");
        assert!(msg.contains("lenght"), "{msg}");
    }

    #[test]
    fn bad_regex_and_unknown_role_are_located() {
        let text = "title = \"x\"\n[roles]\nbarcode = \"tube\"\n[[fields]]\nkey = \"name\"\nheader = \"姓名\"\n";
        let msg = Profile::parse("p", text, Origin::Builtin)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("第 3 行") && msg.contains("tube"), "{msg}");
        let text =
            "title = \"x\"\n[[fields]]\nkey = \"name\"\nheader = \"姓名\"\npattern = \"[a-\"\n";
        let msg = Profile::parse("p", text, Origin::Builtin)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("第 5 行") && msg.contains("pattern"), "{msg}");
    }

    #[test]
    fn custom_code_and_value_map_keys_are_normalised() {
        let text = r#"
title = "t"
[[fields]]
key = "result"
header = "结果"
normalize = ["upper"]
map = { "neg" = "阴性" }
code = "my_result"
"#;
        let p = Profile::parse("p", text, Origin::Builtin).unwrap();
        assert_eq!(p.fields[0].code, Code::Custom);
        assert_eq!(p.fields[0].code_name(Code::Custom), "my_result");
        assert_eq!(
            p.fields[0]
                .map
                .as_ref()
                .unwrap()
                .get("NEG")
                .map(String::as_str),
            Some("阴性")
        );
    }

    #[test]
    fn targets_and_fallback_are_checked_when_loading() {
        let base = "title = \"t\"\n[[fields]]\nkey = \"r\"\nheader = \"结果\"\n";
        let no_group = format!(
            "{base}map = {{ \"阴\" = \"阴性\" }}\ntargets = {{ item = \"N阴\", mixed = \"x\" }}\n"
        );
        let msg = Profile::parse("p", &no_group, Origin::Builtin)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("第 6 行") && msg.contains("分组"), "{msg}");
        let no_map = format!("{base}targets = {{ item = \"N(阴)\", mixed = \"x\" }}\n");
        assert!(Profile::parse("p", &no_map, Origin::Builtin).is_err());
        let text = "title = \"t\"\n[[id_types]]\ncode = \"01\"\nname = \"身份证\"\nrule = \"resident_id\"\nfallback = { to = \"永居证\" }\n[[fields]]\nkey = \"a\"\nheader = \"A\"\n";
        let msg = Profile::parse("p", text, Origin::Builtin)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("第 6 行") && msg.contains("永居证"), "{msg}");
    }

    #[test]
    fn an_extension_adds_aliases_to_a_builtin_profile() {
        let text =
            "extends = \"cdc-nat\"\ntitle = \"本院\"\n[extra_aliases]\nphone = [\"本人手机\"]\n";
        let p = Profile::parse("mine", text, Origin::Builtin).unwrap();
        assert_eq!(p.title, "本院");
        assert_eq!(p.fields.len(), 14);
        let m = p.match_headers(&["本人手机".into()]);
        assert_eq!(m.columns[p.field_index("phone").unwrap()], Some(0));
        let bad = "extends = \"cdc-nat\"\n[extra_aliases]\nphon = [\"x\"]\n";
        let msg = Profile::parse("mine", bad, Origin::Builtin)
            .unwrap_err()
            .to_string();
        assert!(msg.contains("第 3 行") && msg.contains("phon"), "{msg}");
    }

    #[test]
    fn a_broken_user_file_is_never_replaced_by_the_builtin() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("cdc-nat.toml"),
            "title = \"x\"\n[[fieldz]]\n",
        )
        .unwrap();
        let all = Profiles::load(Some(dir.path()));
        let e = all.find("cdc-nat").unwrap_err();
        assert!(e.to_string().contains("cdc-nat.toml"), "{e}");
        assert!(e.to_string().contains("第 2 行"), "{e}");
    }

    #[test]
    fn impossible_values_are_refused_with_line_and_key() {
        let base = "title = \"t\"\n[[fields]]\nkey = \"a\"\nheader = \"A\"\n";
        let e =
            Profile::parse("p", &format!("{base}length = [50, 1]\n"), Origin::Builtin).unwrap_err();
        assert!(
            e.to_string().contains("第 5 行") && e.to_string().contains("length"),
            "{e}"
        );
        let e = Profile::parse(
            "p",
            &format!("{base}[batch]\npool_size = 0\n"),
            Origin::Builtin,
        )
        .unwrap_err();
        assert!(
            e.to_string().contains("第 6 行") && e.to_string().contains("pool_size"),
            "{e}"
        );
        let two = format!("{base}[[fields]]\nkey = \"b\"\nheader = \"A\"\n");
        let e = Profile::parse("p", &two, Origin::Builtin).unwrap_err();
        assert!(
            e.to_string().contains("「A」") && e.to_string().contains("第 6 行"),
            "{e}"
        );
        assert!(Profile::parse("p", &format!("{base}length = [1, 50]\n"), Origin::Builtin).is_ok());
    }

    #[test]
    fn a_huge_bad_regex_is_not_echoed() {
        let huge = format!("({}", "a".repeat(1_600_000));
        let text = format!(
            "title = \"t\"\n[[fields]]\nkey = \"a\"\nheader = \"A\"\npattern = \"{huge}\"\n"
        );
        let e = Profile::parse("p", &text, Origin::Builtin).unwrap_err();
        let msg = e.to_string();
        assert!(msg.chars().count() < 1_000, "{} chars", msg.chars().count());
        assert!(msg.contains("第 5 行"), "{}", &msg[..200.min(msg.len())]);
    }

    #[test]
    fn user_folder_overrides_and_reports_broken_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("good.toml"),
            "title = \"g\"\n[[fields]]\nkey = \"a\"\nheader = \"A\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("bad.toml"), "title = \n").unwrap();
        let all = Profiles::load(Some(dir.path()));
        assert!(all.find("cdc-nat").is_ok());
        assert_eq!(all.find("good").unwrap().title, "g");
        assert!(
            all.find("bad")
                .unwrap_err()
                .to_string()
                .contains("bad.toml")
        );
        assert!(matches!(
            all.find("nope"),
            Err(ProfileError::NotFound { .. })
        ));
    }
}
