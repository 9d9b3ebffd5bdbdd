//! Matching a source sheet to a profile: header cells to template fields, the header row among
//! a sheet's top rows, the sheet among a workbook's, and the footer rows that end the data.

use super::{Field, Profile};
use crate::read::{Cell, ReadError, Workbook};
use crate::rules::text::header_key;
use std::ops::ControlFlow;
use std::sync::Arc;

/// How many non-blank rows at the top of a sheet are searched for the header.
pub(crate) const HEAD_ROWS: usize = 30;

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
}

fn before_bracket(k: &str) -> &str {
    k.find(['(', '[']).map_or(k, |i| &k[..i])
}

/// Where the header is and which profile reads it.
pub(crate) struct HeaderChoice {
    /// Position in the head rows.
    pub(crate) pos: usize,
    pub(crate) profile: usize,
    pub(crate) m: HeaderMatch,
}

/// The best (profile, row) among the head rows: most required fields matched, then most
/// fields; the earlier row and the earlier profile win ties. A row needs two matches.
pub(crate) fn find_header(
    head: &[(u32, Vec<Cell>)],
    candidates: &[Arc<Profile>],
) -> Option<HeaderChoice> {
    let mut best: Option<(HeaderChoice, (usize, usize))> = None;
    for (pos, (_, cells)) in head.iter().enumerate() {
        if cells.iter().all(Cell::is_blank) {
            continue;
        }
        let texts: Vec<String> = cells.iter().map(Cell::display).collect();
        for (pi, p) in candidates.iter().enumerate() {
            let m = p.match_headers(&texts);
            let score = m.score(p);
            if score.1 < 2 {
                continue;
            }
            if best.as_ref().is_none_or(|(_, s)| score > *s) {
                best = Some((
                    HeaderChoice {
                        pos,
                        profile: pi,
                        m,
                    },
                    score,
                ));
            }
        }
    }
    best.map(|(c, _)| c)
}

/// The sheet whose head matches a profile best; `None` when every sheet is empty.
pub(crate) fn choose_sheet(
    wb: &mut Workbook,
    names: &[String],
    candidates: &[Arc<Profile>],
) -> Result<Option<String>, ReadError> {
    if names.len() <= 1 {
        return Ok(names.first().cloned());
    }
    let mut best: Option<(String, (usize, usize))> = None;
    let mut first_nonempty = None;
    for name in names {
        let mut head = Vec::new();
        let r = wb.for_each_row(name, &mut |r, cells| {
            if !cells.iter().all(Cell::is_blank) {
                head.push((r, cells));
            }
            if head.len() >= HEAD_ROWS {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        });
        // A sheet that cannot be read is passed over if another one holds the data.
        if r.is_err() || head.is_empty() {
            continue;
        }
        first_nonempty.get_or_insert_with(|| name.clone());
        if let Some(c) = find_header(&head, candidates) {
            let score = c.m.score(&candidates[c.profile]);
            if best.as_ref().is_none_or(|(_, s)| score > *s) {
                best = Some((name.clone(), score));
            }
        }
    }
    Ok(best.map(|b| b.0).or(first_nonempty))
}

/// A footer: its first filled cell starts with a marker such as 合计 or 导出人, and the row
/// has few filled cells (a data row never looks like that).
pub(crate) fn is_footer(cells: &[Cell], markers: &[String]) -> bool {
    if cells.iter().filter(|c| !c.is_blank()).nth(3).is_some() {
        return false;
    }
    let Some(first) = cells.iter().find(|c| !c.is_blank()) else {
        return false;
    };
    let text = first.display();
    let text = text.trim();
    markers.iter().any(|m| text.starts_with(m.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cdc() -> Profile {
        Profile::builtin("cdc-nat").expect("built-in profile parses")
    }

    #[test]
    fn footer_rows() {
        let markers = vec!["合计".to_owned(), "导出人".to_owned()];
        assert!(is_footer(&[Cell::Text("合计: 1234".into())], &markers));
        assert!(is_footer(
            &[
                Cell::Empty,
                Cell::Text("导出人：张三".into()),
                Cell::Text("2022-01-10".into())
            ],
            &markers
        ));
        let data: Vec<Cell> = ["合计", "a", "b", "c"]
            .iter()
            .map(|s| Cell::Text((*s).into()))
            .collect();
        assert!(!is_footer(&data, &markers));
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
}
