//! Text normalisers: the small, named steps a profile lists under `normalize`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// One normalising step, as written in a profile's `normalize = [...]` list.
///
/// ```toml
/// normalize = ["trim", "halfwidth", "collapse_space", { strip = " -" }, { replace = { "•" = "·" } }]
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Normalizer {
    /// Remove white space (including full-width and non-breaking spaces) at both ends.
    Trim,
    /// Full-width ASCII (`１２３ＡＢＣ`, the ideographic space) to half-width.
    Halfwidth,
    /// Runs of white space inside become one space.
    CollapseSpace,
    /// Remove every white-space character.
    RemoveSpace,
    /// Upper-case ASCII letters.
    Upper,
    /// Lower-case ASCII letters.
    Lower,
    /// Remove each of these characters wherever it occurs.
    Strip(String),
    /// Remove the first of these prefixes that the value starts with.
    StripPrefix(Vec<String>),
    /// Remove the first of these suffixes that the value ends with.
    StripSuffix(Vec<String>),
    /// Replace each key (a character or a longer string) by its value.
    Replace(BTreeMap<String, String>),
}

impl Normalizer {
    /// Applies this step.
    pub fn apply(&self, s: String) -> String {
        match self {
            Normalizer::Trim => {
                let t = s.trim_matches(is_space);
                if t.len() == s.len() { s } else { t.to_owned() }
            }
            Normalizer::Halfwidth => halfwidth(s),
            Normalizer::CollapseSpace => collapse_space(s),
            Normalizer::RemoveSpace => {
                if s.chars().any(is_space) {
                    s.chars().filter(|c| !is_space(*c)).collect()
                } else {
                    s
                }
            }
            Normalizer::Upper => {
                if s.bytes().any(|b| b.is_ascii_lowercase()) {
                    s.to_ascii_uppercase()
                } else {
                    s
                }
            }
            Normalizer::Lower => {
                if s.bytes().any(|b| b.is_ascii_uppercase()) {
                    s.to_ascii_lowercase()
                } else {
                    s
                }
            }
            Normalizer::Strip(chars) => {
                if s.chars().any(|c| chars.contains(c)) {
                    s.chars().filter(|c| !chars.contains(*c)).collect()
                } else {
                    s
                }
            }
            Normalizer::StripPrefix(prefixes) => {
                match prefixes
                    .iter()
                    .find(|p| !p.is_empty() && s.starts_with(p.as_str()))
                {
                    Some(p) => s[p.len()..].to_owned(),
                    None => s,
                }
            }
            Normalizer::StripSuffix(suffixes) => {
                match suffixes
                    .iter()
                    .find(|p| !p.is_empty() && s.ends_with(p.as_str()))
                {
                    Some(p) => s[..s.len() - p.len()].to_owned(),
                    None => s,
                }
            }
            Normalizer::Replace(map) => {
                let mut s = s;
                for (from, to) in map {
                    if !from.is_empty() && s.contains(from.as_str()) {
                        s = s.replace(from.as_str(), to);
                    }
                }
                s
            }
        }
    }
}

/// White space as clerks' files contain it: ASCII, the ideographic space, NBSP, zero-width.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{00A0}' | '\u{3000}')
}

/// Full-width ASCII forms (U+FF01..U+FF5E) and the ideographic space to their ASCII twins.
pub fn halfwidth(s: String) -> String {
    if s.is_ascii()
        || !s
            .chars()
            .any(|c| ('\u{FF01}'..='\u{FF5E}').contains(&c) || c == '\u{3000}')
    {
        return s;
    }
    s.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

fn collapse_space(s: String) -> String {
    let mut prev_space = false;
    let mut changed = false;
    for c in s.chars() {
        let sp = is_space(c);
        if sp && (prev_space || c != ' ') {
            changed = true;
            break;
        }
        prev_space = sp;
    }
    if !changed {
        return s;
    }
    let mut out = String::with_capacity(s.len());
    let mut prev_space = false;
    for c in s.chars() {
        if is_space(c) {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
    out
}

/// Key used to compare header cells with aliases: no spaces or line breaks, half-width, no
/// leading or trailing `*`, full-width brackets as ASCII ones, ASCII letters lower-cased.
pub fn header_key(s: &str) -> String {
    let s = halfwidth(s.to_owned());
    let s: String = s.chars().filter(|c| !is_space(*c)).collect();
    s.trim_matches('*').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(n: Normalizer, s: &str) -> String {
        n.apply(s.to_owned())
    }

    #[test]
    fn trim_removes_all_kinds_of_space() {
        assert_eq!(run(Normalizer::Trim, "\u{3000} 张三\u{00A0}\t"), "张三");
        assert_eq!(run(Normalizer::Trim, "张三"), "张三");
    }

    #[test]
    fn halfwidth_converts_fullwidth_ascii() {
        assert_eq!(
            run(Normalizer::Halfwidth, "１２３ＡＢＣｘ（）"),
            "123ABCx()"
        );
        assert_eq!(run(Normalizer::Halfwidth, "王\u{3000}五"), "王 五");
        assert_eq!(run(Normalizer::Halfwidth, "阴性"), "阴性");
    }

    #[test]
    fn collapse_space_merges_runs() {
        assert_eq!(
            run(Normalizer::CollapseSpace, "阿卜杜  热合曼\t买买提"),
            "阿卜杜 热合曼 买买提"
        );
        assert_eq!(run(Normalizer::CollapseSpace, "a b"), "a b");
    }

    #[test]
    fn remove_space_upper_lower() {
        assert_eq!(run(Normalizer::RemoveSpace, " 4401 0619 "), "44010619");
        assert_eq!(
            run(Normalizer::Upper, "44010619900101123x"),
            "44010619900101123X"
        );
        assert_eq!(run(Normalizer::Lower, "NEG"), "neg");
    }

    #[test]
    fn strip_prefix_suffix_replace() {
        assert_eq!(
            run(Normalizer::Strip(" -".into()), "138-0013 8000"),
            "13800138000"
        );
        assert_eq!(
            run(
                Normalizer::StripPrefix(vec!["+86".into(), "0086".into()]),
                "+8613800138000"
            ),
            "13800138000"
        );
        assert_eq!(
            run(Normalizer::StripSuffix(vec![".0".into()]), "13800138000.0"),
            "13800138000"
        );
        let map = BTreeMap::from([
            ("•".to_owned(), "·".to_owned()),
            (".".to_owned(), "·".to_owned()),
        ]);
        assert_eq!(
            run(Normalizer::Replace(map), "阿依古丽•买买提.托乎提"),
            "阿依古丽·买买提·托乎提"
        );
    }

    #[test]
    fn header_key_ignores_decoration() {
        assert_eq!(header_key("*证件\n号码 "), "证件号码");
        assert_eq!(header_key("联系电话（手机）*"), "联系电话(手机)");
        assert_eq!(header_key("ＩＤ"), "id");
    }

    #[test]
    fn normalizer_parses_from_toml() {
        #[derive(Deserialize)]
        struct T {
            normalize: Vec<Normalizer>,
        }
        let t: T = toml::from_str(
            r#"normalize = ["trim", "halfwidth", { strip = "-" }, { strip_prefix = ["+86"] }]"#,
        )
        .unwrap();
        assert_eq!(t.normalize.len(), 4);
        assert_eq!(t.normalize[2], Normalizer::Strip("-".into()));
    }
}
