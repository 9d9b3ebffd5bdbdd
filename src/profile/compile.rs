//! Compiling a profile file into a [`Profile`]: every key checked, regexes built, names
//! resolved to field indices, with the line and key of anything wrong.

// Over 600 lines: the compiler is under 400; the rest are its tests.

use super::format::{
    FieldFile, IdTypeFile, ProfileFile, ShowFile, invalid, key_after, read_file, regex_reason,
    shorten,
};
use super::{
    BatchRules, Field, IdRule, IdType, Kind, Origin, Presentation, Profile, ProfileError, Roles,
    Targets,
};
use crate::issue::{Code, Severity};
use crate::rules::text::{Normalizer, header_key};
use regex::Regex;
use toml::Spanned;

/// Builds a [`ProfileError`] naming a place in the file.
type ErrAt<'a> = &'a dyn Fn(Option<std::ops::Range<usize>>, String) -> ProfileError;
/// Resolves a field key written in the file to its index.
type IndexOf<'a> = &'a dyn Fn(&Spanned<String>) -> Result<usize, ProfileError>;

impl Profile {
    /// Parses and checks profile text.
    // Long: the checks that need the whole file (roles, batch keys, id types) in one place.
    pub fn parse(name: &str, text: &str, origin: Origin) -> Result<Profile, ProfileError> {
        let shown = match &origin {
            Origin::Builtin => format!("mappings/{name}.toml"),
            Origin::File(p) => crate::paths::shown(p),
        };
        let err = |span: Option<std::ops::Range<usize>>, detail: String| {
            invalid(&shown, text, span, detail)
        };
        let file = read_file(text, &err)?;
        check_fields(&file, text, &err)?;
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
        let fields = file
            .fields
            .into_iter()
            .map(|f| compile_field(f, text, &index_of, &err))
            .collect::<Result<Vec<Field>, _>>()?;
        let id_type_norm: Vec<Normalizer> = fields
            .iter()
            .find(|f| f.kind == Kind::IdType)
            .map(|f| f.normalize.clone())
            .unwrap_or_default();
        let names: Vec<String> = file.id_types.iter().map(|t| t.name.clone()).collect();
        let mut id_types: Vec<IdType> = Vec::with_capacity(names.len());
        for t in file.id_types {
            let t = compile_id_type(t, &names, &id_types, &id_type_norm, &err)?;
            id_types.push(t);
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
}

/// Checks made across the `[[fields]]` before compiling them: no key or header twice, sane
/// lengths, a pool of at least one.
fn check_fields(file: &ProfileFile, text: &str, err: ErrAt) -> Result<(), ProfileError> {
    if file.fields.is_empty() {
        return Err(err(None, "至少要有一个 [[fields]]".into()));
    }
    for (i, f) in file.fields.iter().enumerate() {
        if file.fields[..i]
            .iter()
            .any(|o| o.key.get_ref() == f.key.get_ref())
        {
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
    Ok(())
}

/// One `[[fields]]` entry: patterns, code, targets, aliases and value map compiled.
// Long: one step per key of a [[fields]] entry, in the order the README documents them.
fn compile_field(
    f: FieldFile,
    text: &str,
    index_of: IndexOf,
    err: ErrAt,
) -> Result<Field, ProfileError> {
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
    let (code, custom_code) = match &f.code {
        None => (default_code(f.kind, f.key.get_ref()), None),
        Some(c) => match Code::from_name(c.get_ref()) {
            Some(code) => (code, None),
            None if c
                .get_ref()
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch == '_' || ch.is_ascii_digit())
                && !c.get_ref().is_empty() =>
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
    let not_before = f.not_before.as_ref().map(index_of).transpose()?;
    let targets = match f.targets {
        None => None,
        Some(t) => {
            let item = Regex::new(t.item.get_ref())
                .map_err(|e| err(Some(t.item.span()), format!("正则表达式写错了：{e}")))?;
            if item.captures_len() < 2 || f.map.is_none() {
                return Err(err(
                    Some(t.item.span()),
                    "targets 的 item 要有一个括号分组（每个靶标的结果），字段也要有 map".into(),
                ));
            }
            Some(Targets {
                item,
                separators: t.separators,
                mixed: t.mixed,
            })
        }
    };
    let show = presentation(
        f.show.as_ref(),
        Presentation::for_field(f.key.get_ref(), f.kind),
        text,
        f.key.span().start,
        err,
    )?;
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
    Ok(Field {
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
        show,
    })
}

/// A field's `show = { ... }` over its defaults; widths Excel or the window cannot use are
/// refused (`at`: where the field starts in the text).
fn presentation(
    show: Option<&ShowFile>,
    mut p: Presentation,
    text: &str,
    at: usize,
    err: ErrAt,
) -> Result<Presentation, ProfileError> {
    let Some(show) = show else {
        return Ok(p);
    };
    if let Some(w) = show.sheet_width {
        if !(w > 0.0 && w <= 255.0) {
            return Err(err(
                key_after(text, at, "show"),
                format!("sheet_width = {w}：上报表的列宽要在 1 到 255 之间"),
            ));
        }
        p.sheet_width = w;
    }
    if let Some(w) = show.screen_width {
        if !(20.0..=2000.0).contains(&w) {
            return Err(err(
                key_after(text, at, "show"),
                format!("screen_width = {w}：窗口里的列宽要在 20 到 2000 之间"),
            ));
        }
        p.screen_width = w;
    }
    if let Some(search) = show.search {
        p.search = search;
    }
    if let Some(pin) = show.pin {
        p.pin = pin;
    }
    Ok(p)
}

/// One `[[id_types]]` entry; `earlier` are the types before it (a repeated code is stored by
/// name), `norm` the id_type field's normalisers (applied to the accepted values).
fn compile_id_type(
    t: IdTypeFile,
    names: &[String],
    earlier: &[IdType],
    norm: &[Normalizer],
    err: ErrAt,
) -> Result<IdType, ProfileError> {
    let rule = match (&t.rule, &t.pattern) {
        (Some(r), _) if r.get_ref() == "resident_id" => IdRule::ResidentId,
        (Some(r), _) if r.get_ref() == "permanent_residence_id" => IdRule::PermanentResidenceId,
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
        .map(|a| norm.iter().fold(a.clone(), |acc, n| n.apply(acc)))
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
    let value = if earlier.iter().any(|o| o.code == t.code) {
        t.name.clone()
    } else {
        t.code.clone()
    };
    Ok(IdType {
        code: t.code,
        name: t.name,
        value,
        fallback,
        accept,
        rule,
        severity: t.severity.map(Severity::from).unwrap_or(Severity::Error),
    })
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
    fn presentation_has_defaults_and_refuses_impossible_widths() {
        let p = cdc();
        let id = &p.fields[p.field_index("id_number").unwrap()].show;
        assert_eq!(
            (id.sheet_width, id.screen_width, id.search),
            (21.0, 190.0, true)
        );
        let result = &p.fields[p.field_index("result").unwrap()].show;
        assert_eq!(*result, Presentation::default());
        let searched: Vec<&str> = p
            .searched_fields()
            .iter()
            .map(|&f| p.fields[f].key.as_str())
            .collect();
        assert_eq!(searched, ["name", "id_number", "phone", "barcode"]);
        let base = "title = \"t\"\n[[fields]]\nkey = \"a\"\nheader = \"A\"\n";
        let e = Profile::parse(
            "p",
            &format!("{base}show = {{ sheet_width = 300 }}\n"),
            Origin::Builtin,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("第 5 行") && e.contains("255"), "{e}");
        let wide = format!("{base}show = {{ screen_width = 150, search = true }}\n");
        let p = Profile::parse("p", &wide, Origin::Builtin).unwrap();
        assert_eq!(p.fields[0].show.screen_width, 150.0);
        assert_eq!(p.searched_fields(), [0]);
        // A profile of the user's without `show` gets defaults from what each field holds.
        let plain = "title = \"t\"\n\
            [[id_types]]\ncode = \"01\"\nname = \"身份证\"\nrule = \"resident_id\"\n\
            [[fields]]\nkey = \"name\"\nheader = \"姓名\"\n\
            [[fields]]\nkey = \"zjhm\"\nheader = \"证件号码\"\nkind = \"id_number\"\n\
            [[fields]]\nkey = \"sj\"\nheader = \"手机\"\nkind = \"phone\"\n\
            [[fields]]\nkey = \"cysj\"\nheader = \"采样时间\"\nkind = \"datetime\"\n\
            [[fields]]\nkey = \"bz\"\nheader = \"备注\"\n\
            [[fields]]\nkey = \"nm\"\nheader = \"姓名2\"\nshow = { search = false }\n";
        let p = Profile::parse("p", plain, Origin::Builtin).unwrap();
        assert_eq!(p.searched_fields(), [0, 1, 2]);
        assert_eq!(p.fields[1].show.sheet_width, 21.0);
        assert_eq!(p.fields[3].show.sheet_width, 21.0);
        assert_eq!(p.fields[4].show, Presentation::default());
    }

    #[test]
    fn the_pinned_column_is_data_with_the_name_as_default() {
        // The built-in profile says so; a user's profile without `pin` still pins `name`.
        let p = cdc();
        assert_eq!(p.pinned_field(), p.field_index("name"));
        let base = "title = \"t\"\n\
            [[fields]]\nkey = \"bh\"\nheader = \"编号\"\n\
            [[fields]]\nkey = \"name\"\nheader = \"姓名\"\n";
        let p = Profile::parse("p", base, Origin::Builtin).unwrap();
        assert_eq!(p.pinned_field(), Some(1));
        // Another field pinned first wins; `pin = false` on the name pins nothing.
        let first = base.replace("\"编号\"\n", "\"编号\"\nshow = { pin = true }\n");
        let p = Profile::parse("p", &first, Origin::Builtin).unwrap();
        assert_eq!(p.pinned_field(), Some(0));
        let none = format!("{base}show = {{ pin = false }}\n");
        let p = Profile::parse("p", &none, Origin::Builtin).unwrap();
        assert_eq!(p.pinned_field(), None);
        // A profile keyed otherwise pins what it says, not a field that happens to be first.
        let xm = "title = \"t\"\n\
            [[fields]]\nkey = \"bh\"\nheader = \"编号\"\n\
            [[fields]]\nkey = \"xm\"\nheader = \"姓名\"\nshow = { pin = true }\n";
        let p = Profile::parse("p", xm, Origin::Builtin).unwrap();
        assert_eq!(p.pinned_field(), Some(1));
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
}
