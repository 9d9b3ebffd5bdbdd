//! The profile file format: the TOML a profile is written in, read with the place of every
//! value kept (so an error names its line and key), and the extension file that adds aliases
//! to a built-in profile, both read and written here.

use super::folder::BUILTIN;
use super::{Derive, Kind, ProfileError};
use crate::issue::Severity;
use crate::rules::text::Normalizer;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FieldFile {
    pub(super) key: Spanned<String>,
    pub(super) header: String,
    #[serde(default)]
    pub(super) aliases: Vec<String>,
    #[serde(default)]
    pub(super) kind: Kind,
    #[serde(default)]
    pub(super) required: bool,
    pub(super) default: Option<String>,
    #[serde(default)]
    pub(super) normalize: Vec<Normalizer>,
    pub(super) map: Option<BTreeMap<String, String>>,
    pub(super) one_of: Option<Vec<String>>,
    pub(super) length: Option<[usize; 2]>,
    pub(super) pattern: Option<Spanned<OneOrMany>>,
    pub(super) code: Option<Spanned<String>>,
    pub(super) message: Option<String>,
    pub(super) message_en: Option<String>,
    pub(super) severity: Option<SeverityFile>,
    pub(super) derive: Option<Derive>,
    pub(super) not_before: Option<Spanned<String>>,
    #[serde(default)]
    pub(super) not_in_future: bool,
    pub(super) targets: Option<TargetsFile>,
    pub(super) show: Option<ShowFile>,
}

/// How a field is shown: column widths in the upload sheet and in the window, whether the
/// window's search box looks in it, and whether the window keeps its column in view (`pin`).
/// Every key may be left out (see `Presentation`'s defaults).
///
/// ```toml
/// show = { sheet_width = 21, screen_width = 190, search = true, pin = false }
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ShowFile {
    pub(super) sheet_width: Option<f64>,
    pub(super) screen_width: Option<f32>,
    pub(super) search: Option<bool>,
    pub(super) pin: Option<bool>,
}

/// A value made of several per-target results (`ORF1ab阴性，N基因阴性`), in a field with a
/// `map`: each `item` match gives one result through its first capture group and the map.
///
/// ```toml
/// targets = { item = "(?:ORF1AB|N)(?:基因)?:?(阴性|阳性)", separators = ",;、", mixed = "待复核" }
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TargetsFile {
    pub(super) item: Spanned<String>,
    /// Characters allowed between items (after the field's normalisers).
    #[serde(default)]
    pub(super) separators: String,
    /// The value when the targets disagree.
    pub(super) mixed: String,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum SeverityFile {
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
pub(super) struct IdTypeFile {
    pub(super) code: String,
    pub(super) name: String,
    #[serde(default)]
    pub(super) accept: Vec<String>,
    pub(super) rule: Option<Spanned<String>>,
    pub(super) pattern: Option<Spanned<String>>,
    pub(super) hint: Option<String>,
    pub(super) severity: Option<SeverityFile>,
    pub(super) fallback: Option<FallbackFile>,
}

/// A number that breaks its type's rule but passes another type's rule (and `when`) is taken
/// as that type, with the warning `id_type_changed`.
///
/// ```toml
/// fallback = { to = "外国人永久居留身份证", when = "^9" }
/// ```
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FallbackFile {
    /// The `name` of the other type.
    pub(super) to: Spanned<String>,
    pub(super) when: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RolesFile {
    pub(super) id_type: Option<Spanned<String>>,
    pub(super) id_number: Option<Spanned<String>>,
    pub(super) sex: Option<Spanned<String>>,
    pub(super) age: Option<Spanned<String>>,
    pub(super) sampled_at: Option<Spanned<String>>,
    pub(super) tested_at: Option<Spanned<String>>,
    pub(super) result: Option<Spanned<String>>,
    pub(super) barcode: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BatchFile {
    #[serde(default = "default_pool")]
    pub(super) pool_size: usize,
    #[serde(default)]
    pub(super) barcode_must_agree: Vec<Spanned<String>>,
    #[serde(default)]
    pub(super) conflicting_results: Vec<String>,
    #[serde(default = "default_tolerance")]
    pub(super) age_tolerance: i32,
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
pub(super) struct ProfileFile {
    pub(super) title: String,
    #[serde(default = "default_sheet")]
    pub(super) output_sheet: String,
    #[serde(default)]
    pub(super) footer_markers: Vec<String>,
    #[serde(default)]
    pub(super) roles: RolesFile,
    #[serde(default)]
    pub(super) batch: BatchFile,
    #[serde(default)]
    pub(super) id_types: Vec<IdTypeFile>,
    pub(super) fields: Vec<FieldFile>,
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
pub(super) struct ExtensionFile {
    pub(super) extends: Spanned<String>,
    pub(super) title: Option<String>,
    #[serde(default)]
    pub(super) extra_aliases: BTreeMap<Spanned<String>, Vec<String>>,
}

/// An extension file as written: a built-in profile, a title, and extra source headers per
/// field key. The mapping screen saves one; [`Profile::parse`](super::Profile::parse) reads it
/// back.
///
/// ```
/// use sheetbridge::profile::{Extension, Origin, Profile};
/// let ext = Extension {
///     extends: "cdc-nat".into(),
///     title: "本院导出".into(),
///     extra_aliases: [("phone".to_owned(), vec!["本人手机".to_owned()])].into(),
/// };
/// let text = ext.to_text(&["由对应列界面生成"]).unwrap();
/// assert!(text.starts_with("# 由对应列界面生成\n"));
/// let p = Profile::parse("mine", &text, Origin::Builtin).unwrap();
/// assert_eq!(p.title, "本院导出");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Extension {
    /// The name of a built-in profile.
    pub extends: String,
    pub title: String,
    /// Field key to the source headers that also mean that field.
    pub extra_aliases: BTreeMap<String, Vec<String>>,
}

impl Extension {
    /// The file's text: each of `comments` as a `# ` line, then the TOML.
    pub fn to_text(&self, comments: &[&str]) -> Result<String, toml::ser::Error> {
        let mut text: String = comments
            .iter()
            .flat_map(|c| c.lines())
            .map(|l| format!("# {l}\n"))
            .collect();
        text.push_str(&toml::to_string(self)?);
        Ok(text)
    }
}

/// Reads a profile file: a whole profile, or an extension (a file with a top-level `extends`
/// key, see [`Extension`]) resolved against the built-in profiles.
pub(super) fn read_file(
    text: &str,
    err: &dyn Fn(Option<std::ops::Range<usize>>, String) -> ProfileError,
) -> Result<ProfileFile, ProfileError> {
    let toml_err = |e: toml::de::Error| err(e.span(), e.message().to_owned());
    let table: toml::Table = toml::from_str(text).map_err(toml_err)?;
    if !table.contains_key("extends") {
        return toml::from_str(text).map_err(toml_err);
    }
    let ext: ExtensionFile = toml::from_str(text).map_err(toml_err)?;
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

pub(super) fn default_sheet() -> String {
    "Sheet1".to_owned()
}

/// The span of the first `key =` at or after byte `from` (a check on a value serde gave
/// without its place), so the message can still name the line and key.
pub(super) fn key_after(text: &str, from: usize, key: &str) -> Option<std::ops::Range<usize>> {
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
pub(super) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    match s.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…（共 {} 个字符）", &s[..cut], s.chars().count()),
        None => s.to_owned(),
    }
}

/// Why a regex is wrong, without regex's copy of the whole pattern.
pub(super) fn regex_reason(e: &regex::Error) -> String {
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

pub(super) fn invalid(
    path: &str,
    text: &str,
    span: Option<std::ops::Range<usize>>,
    detail: String,
) -> ProfileError {
    let (line, key) = line_and_key(text, span);
    ProfileError::Invalid {
        kind: crate::named::FileKind::Profile,
        path: path.to_owned(),
        line: Some(line),
        key: key.map(|k| shorten(&k)),
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

#[cfg(test)]
mod tests {
    use super::super::{Origin, Profile};
    use super::*;

    #[test]
    fn an_extension_written_reads_back() {
        let ext = Extension {
            extends: "cdc-nat".into(),
            title: "本院（新）".into(),
            extra_aliases: [("phone".to_owned(), vec!["本人手机".to_owned()])].into(),
        };
        let text = ext.to_text(&["第一行", "原始文件：a\nb.xlsx"]).unwrap();
        assert!(
            text.starts_with("# 第一行\n# 原始文件：a\n# b.xlsx\n"),
            "{text}"
        );
        let p = Profile::parse("mine", &text, Origin::Builtin).unwrap();
        assert_eq!(p.title, "本院（新）");
        let m = p.match_headers(&["本人手机".into()]);
        assert_eq!(m.columns[p.field_index("phone").unwrap()], Some(0));
    }

    #[test]
    fn only_a_top_level_extends_key_makes_an_extension() {
        // A comment or a field key starting with "extends" is not an extension.
        let text = "# extends = \"cdc-nat\"\ntitle = \"t\"\n[[fields]]\nkey = \"extends_at\"\nheader = \"A\"\n";
        let p = Profile::parse("p", text, Origin::Builtin).unwrap();
        assert_eq!(p.fields[0].key, "extends_at");
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
}
