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
//!
//! One concern per file: `format.rs` the TOML file format (reading, and writing the extension
//! files the mapping screen saves), `compile.rs` checking a file into a [`Profile`],
//! `matching.rs` header matching, the search for the header row, the choice of sheet and footer
//! rows, `folder.rs` the built-in profiles and the user's folder.

mod compile;
mod folder;
mod format;
mod matching;

pub use folder::{BUILTIN, Profiles};
pub use format::Extension;
pub(crate) use format::line_and_key;
pub use matching::HeaderMatch;
pub(crate) use matching::{HEAD_ROWS, HeaderChoice, choose_sheet, find_header, is_footer};

use crate::issue::{Code, Severity};
use crate::rules::text::Normalizer;
use regex::Regex;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A profile file that could not be used: names the file, the line and the key (the one error
/// of every named TOML file, `src/named.rs`).
pub type ProfileError = crate::named::FileError;

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
    /// How the field is shown (`show = { ... }`).
    pub show: Presentation,
}

/// How a field is shown, from its `show = { ... }` (each part has a default).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Presentation {
    /// Column width in the upload sheet, in Excel's characters (default 10).
    pub sheet_width: f64,
    /// Column width in the window's table, in points (default 96).
    pub screen_width: f32,
    /// The window's search box looks in this field (default no).
    pub search: bool,
    /// The window keeps this column in view beside the row number while the others move left
    /// and right (default: the field keyed `name`); the first pinned field is the one kept.
    pub pin: bool,
}

impl Presentation {
    /// The defaults of a field without `show`, from what it holds: dates and document numbers
    /// wide, a phone or barcode searched, the name searched and pinned, like the built-in
    /// profile's.
    pub fn for_field(key: &str, kind: Kind) -> Presentation {
        let d = Presentation::default();
        match (kind, key) {
            (Kind::IdNumber, _) => Presentation {
                sheet_width: 21.0,
                screen_width: 190.0,
                search: true,
                ..d
            },
            (Kind::Phone, _) | (_, "barcode") => Presentation {
                sheet_width: 18.0,
                screen_width: 170.0,
                search: true,
                ..d
            },
            (Kind::Datetime, _) => Presentation {
                sheet_width: 21.0,
                screen_width: 170.0,
                ..d
            },
            (Kind::Sex | Kind::Age, _) => Presentation {
                screen_width: 56.0,
                ..d
            },
            (_, "name") => Presentation {
                search: true,
                pin: true,
                ..d
            },
            _ => d,
        }
    }
}

impl Default for Presentation {
    fn default() -> Self {
        Presentation {
            sheet_width: 10.0,
            screen_width: 96.0,
            search: false,
            pin: false,
        }
    }
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
            Origin::File(p) => write!(f, "{}", crate::paths::shown(p)),
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

impl Profile {
    /// A built-in profile by name.
    pub fn builtin(name: &str) -> Option<Profile> {
        let (stem, text) = BUILTIN.iter().find(|(n, _)| *n == name)?;
        Profile::parse(stem, text, Origin::Builtin).ok()
    }

    /// Loads a profile file.
    pub fn from_path(path: &Path) -> Result<Profile, ProfileError> {
        crate::named::from_path(path)
    }

    /// The fields the window's search box looks in (`show = { search = true }`).
    pub fn searched_fields(&self) -> Vec<usize> {
        (0..self.fields.len())
            .filter(|&f| self.fields[f].show.search)
            .collect()
    }

    /// The field the window keeps in view beside the row number (`show = { pin = true }`; by
    /// default the one keyed `name`): the first pinned one, if any.
    pub fn pinned_field(&self) -> Option<usize> {
        self.fields.iter().position(|f| f.show.pin)
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

    /// The words a person reads for a field's stored `value`, where the field holds a code:
    /// the document type's `name` for an id_type field (`01` → 居民身份证), else the shortest
    /// source value in the field's `map` that is not plain ASCII and maps to that code
    /// (`1` → 男). `None` for a value that is no code (already words, or not in the map). The
    /// window shows this; the upload sheet gets the code.
    pub fn label(&self, field: usize, value: &str) -> Option<&str> {
        let f = self.fields.get(field)?;
        if f.kind == Kind::IdType {
            return self
                .id_type_stored(value)
                .map(|t| t.name.as_str())
                .filter(|name| *name != value);
        }
        if !value.is_ascii() {
            return None;
        }
        f.map
            .as_ref()?
            .iter()
            .filter(|(from, to)| *to == value && !from.is_ascii())
            .map(|(from, _)| from.as_str())
            .min_by(|a, b| a.chars().count().cmp(&b.chars().count()).then(a.cmp(b)))
    }

    /// [`Profile::label`], or the value itself when it is no code.
    pub fn shown<'a>(&'a self, field: usize, value: &'a str) -> &'a str {
        self.label(field, value).unwrap_or(value)
    }

    /// The document type an id_type field stores as `value` ([`IdType::value`]).
    pub fn id_type_stored(&self, value: &str) -> Option<&IdType> {
        self.id_types.iter().find(|t| t.value == value)
    }
}

/// Profiles are named TOML files: found, read and reported by `src/named.rs`.
impl crate::named::Named for Profile {
    const KIND: crate::named::FileKind = crate::named::FileKind::Profile;
    const BUILTIN: &'static [(&'static str, &'static str)] = BUILTIN;
    const BUILTIN_DIR: &'static str = "mappings";
    fn parse(found: &crate::named::Found<'_>) -> Result<Profile, ProfileError> {
        let origin = match found.path {
            Some(p) => Origin::File(p.to_owned()),
            None => Origin::Builtin,
        };
        Profile::parse(found.stem, found.text, origin)
    }
}

#[cfg(test)]
mod label_tests {
    use super::*;

    #[test]
    fn a_code_reads_as_its_words_and_anything_else_as_itself() {
        let p = Profile::builtin("cdc-nat").expect("the built-in profile");
        let id_type = p.field_index("id_type").expect("id_type");
        let sex = p.field_index("sex").expect("sex");
        let result = p.field_index("result").expect("result");
        assert_eq!(p.label(id_type, "01"), Some("居民身份证"));
        assert_eq!(p.label(id_type, "02"), Some("居民户口簿"));
        // Two types share 99: the first is the words of the code; the other is stored by name.
        assert_eq!(p.label(id_type, "99"), Some("其他"));
        assert_eq!(p.label(id_type, "外国人永久居留身份证"), None);
        // The shortest words that map to the code, whatever the map's order.
        assert_eq!(p.label(sex, "1"), Some("男"));
        assert_eq!(p.label(sex, "2"), Some("女"));
        assert_eq!(p.label(sex, "9"), Some("未说明"));
        assert_eq!(p.shown(sex, "弱阳"), "弱阳");
        assert_eq!(p.shown(sex, "7"), "7");
        // A map onto words is shown as it is.
        assert_eq!(p.label(result, "阴性"), None);
        assert_eq!(p.label(999, "1"), None);
    }
}
