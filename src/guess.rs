//! Guesses for an export no profile recognises: which of the sheet's top rows holds the header
//! (title and export-time rows above it are passed over), and which column feeds each template
//! field, from the header text and from what the column holds (18-digit IDs, 11-digit phones,
//! dates, 阴性/阳性 ...), each with the reason shown to the clerk.

use crate::issue::Lang;
use crate::profile::{Kind, Profile};
use crate::rules::text::header_key;

/// What a column's values look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Looks {
    IdNumber,
    Phone,
    Datetime,
    Result,
    Sex,
    Age,
    IdType,
    Barcode,
    Name,
    Address,
    Lab,
    Site,
    /// Crowd categories (学校师生, 社区居民, 医护人员 ...).
    Category,
    /// The values are among the field's own list (`map` or `one_of`).
    Listed,
}

/// Why a column was guessed for a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The header is one of the field's names.
    SameHeader,
    /// The header contains one of the field's names (or the other way round).
    HeaderLike(String),
    /// The values look like the field.
    Values(Looks),
}

impl Reason {
    /// The reason as the clerk reads it ("像身份证号").
    pub fn text(&self, lang: Lang) -> String {
        match self {
            Reason::SameHeader => lang.pick("表头相同", "same header").into(),
            Reason::HeaderLike(a) => {
                lang.pick(format!("表头像“{a}”"), format!("header like \"{a}\""))
            }
            Reason::Values(l) => {
                let (zh, en) = match l {
                    Looks::IdNumber => ("像身份证号", "looks like ID numbers"),
                    Looks::Phone => ("像手机号", "looks like phone numbers"),
                    Looks::Datetime => ("像日期时间", "looks like dates"),
                    Looks::Result => ("像检测结果（阴性/阳性）", "looks like results"),
                    Looks::Sex => ("像性别（男/女）", "looks like sex"),
                    Looks::Age => ("像年龄", "looks like ages"),
                    Looks::IdType => ("像证件类型", "looks like document types"),
                    Looks::Barcode => ("像条码", "looks like barcodes"),
                    Looks::Name => ("像姓名", "looks like names"),
                    Looks::Address => ("像地址", "looks like addresses"),
                    Looks::Lab => ("像检测机构", "looks like labs"),
                    Looks::Site => ("像采样点", "looks like sampling sites"),
                    Looks::Category => ("像人群分类", "looks like crowd categories"),
                    Looks::Listed => ("取值在模板的列表里", "values are in the list"),
                };
                lang.pick(zh, en).into()
            }
        }
    }
}

/// A guessed column for one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Guess {
    pub column: usize,
    pub reason: Reason,
}

/// Which of `rows` (the sheet's top rows as shown, blank rows left out or not) holds the
/// header: the first row nearly as wide as the widest one whose cells are words, not numbers
/// or dates. Title rows (one merged cell) and "导出时间：…" rows are narrower and passed over.
///
/// ```
/// use sheetbridge::guess::header_row;
/// let rows: Vec<Vec<String>> = vec![
///     vec!["广州市核酸检测结果".into()],
///     vec!["导出时间：2022-01-10".into(), "".into(), "".into()],
///     vec!["受检人".into(), "身份证".into(), "电话".into()],
///     vec!["王伟".into(), "440106199001011234".into(), "13800000000".into()],
/// ];
/// assert_eq!(header_row(&rows), 2);
/// ```
pub fn header_row(rows: &[Vec<String>]) -> usize {
    let filled = |r: &Vec<String>| r.iter().filter(|c| !c.trim().is_empty()).count();
    let widest = rows.iter().map(filled).max().unwrap_or(0);
    let need = (widest * 3).div_ceil(5).max(2);
    let wordy = |r: &Vec<String>| {
        let cells: Vec<&str> = r
            .iter()
            .map(|c| c.trim())
            .filter(|c| !c.is_empty())
            .collect();
        let words = cells
            .iter()
            .filter(|c| c.chars().any(char::is_alphabetic) && !looks_date(c))
            .count();
        words * 10 >= cells.len() * 7
    };
    rows.iter()
        .position(|r| filled(r) >= need && wordy(r))
        .or_else(|| rows.iter().position(|r| filled(r) > 0))
        .unwrap_or(0)
}

/// Per field of `profile`, a guessed column among `headers`, with `values` the rows below the
/// header (as shown). Each column is guessed for one field at most: first the headers the
/// profile knows, then headers that contain a known name, then the columns' values.
// Long: the three guessing passes (known headers, contained names, values) in order.
pub fn columns(
    profile: &Profile,
    headers: &[String],
    values: &[Vec<String>],
) -> Vec<Option<Guess>> {
    let matched = profile.match_headers(headers);
    let mut out: Vec<Option<Guess>> = matched
        .columns
        .iter()
        .map(|c| {
            c.map(|column| Guess {
                column,
                reason: Reason::SameHeader,
            })
        })
        .collect();
    let taken = |out: &[Option<Guess>], ci: usize| out.iter().flatten().any(|g| g.column == ci);
    // Headers that contain a known name ("本人电话" holds "电话").
    for (fi, field) in profile.fields.iter().enumerate() {
        if out[fi].is_some() {
            continue;
        }
        let found = headers.iter().enumerate().find_map(|(ci, h)| {
            let k = header_key(h);
            if k.is_empty() || taken(&out, ci) {
                return None;
            }
            field
                .alias_keys
                .iter()
                .find(|a| {
                    a.chars().count() >= 2 && (k.contains(a.as_str()) || a.contains(k.as_str()))
                })
                .map(|a| (ci, a.clone()))
        });
        if let Some((column, alias)) = found {
            out[fi] = Some(Guess {
                column,
                reason: Reason::HeaderLike(alias),
            });
        }
    }
    // The values: the most particular shapes first, so a column of 18-digit IDs is not
    // taken for barcodes, nor 男/女 for names.
    let profiles: Vec<Profile1> = (0..headers.len())
        .map(|ci| Profile1::of(values.iter().filter_map(|r| r.get(ci)).map(|v| v.trim())))
        .collect();
    let mut order: Vec<(usize, Looks)> = profile
        .fields
        .iter()
        .enumerate()
        .filter_map(|(fi, f)| looks_for(f).map(|l| (fi, l)))
        .collect();
    order.sort_by_key(|(fi, l)| (rank(*l), *fi));
    for (fi, look) in order {
        if out[fi].is_some() {
            continue;
        }
        let field = &profile.fields[fi];
        let mut best: Option<(usize, f32)> = None;
        for (ci, p) in profiles.iter().enumerate() {
            if taken(&out, ci) || p.values.is_empty() {
                continue;
            }
            // A birth date is not a sampling time.
            if look == Looks::Datetime && header_key(&headers[ci]).contains("出生") {
                continue;
            }
            let score = p.score(look, field);
            if score >= 0.6 && best.is_none_or(|(_, s)| score > s) {
                best = Some((ci, score));
            }
        }
        if let Some((column, _)) = best {
            out[fi] = Some(Guess {
                column,
                reason: Reason::Values(look),
            });
        }
    }
    out
}

/// The shape a field's values have, by its kind, its list or its key.
fn looks_for(f: &crate::profile::Field) -> Option<Looks> {
    Some(match f.kind {
        Kind::IdNumber => Looks::IdNumber,
        Kind::Phone => Looks::Phone,
        Kind::Datetime => Looks::Datetime,
        Kind::Sex => Looks::Sex,
        Kind::Age => Looks::Age,
        Kind::IdType => Looks::IdType,
        Kind::Text => match f.key.as_str() {
            "result" => Looks::Result,
            "barcode" => Looks::Barcode,
            "name" => Looks::Name,
            "address" => Looks::Address,
            "lab" => Looks::Lab,
            "site" => Looks::Site,
            // Optional free text (template.md): no list to check against, but the words
            // city systems put there tell the column.
            "category" => Looks::Category,
            _ if f.map.is_some() || f.one_of.is_some() => Looks::Listed,
            _ => return None,
        },
    })
}

fn rank(l: Looks) -> u8 {
    match l {
        Looks::IdNumber => 0,
        Looks::Phone => 1,
        Looks::Datetime => 2,
        Looks::Result => 3,
        Looks::Sex => 4,
        Looks::IdType => 5,
        Looks::Listed => 6,
        Looks::Age => 7,
        Looks::Barcode => 8,
        Looks::Lab => 9,
        Looks::Site => 10,
        Looks::Category => 11,
        Looks::Address => 12,
        Looks::Name => 13,
    }
}

/// One column's non-blank values.
struct Profile1 {
    values: Vec<String>,
}

impl Profile1 {
    fn of<'a>(values: impl Iterator<Item = &'a str>) -> Profile1 {
        Profile1 {
            values: values
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }

    fn share(&self, test: impl Fn(&str) -> bool) -> f32 {
        let n = self.values.iter().filter(|v| test(v)).count();
        n as f32 / self.values.len().max(1) as f32
    }

    /// Distinct values over all values (names are mostly different, categories repeat).
    fn variety(&self) -> f32 {
        let mut v: Vec<&String> = self.values.iter().collect();
        v.sort();
        v.dedup();
        v.len() as f32 / self.values.len().max(1) as f32
    }

    // Long: one arm per kind of look; the table reads better whole.
    fn score(&self, look: Looks, field: &crate::profile::Field) -> f32 {
        match look {
            Looks::IdNumber => self.share(looks_id),
            Looks::Phone => self.share(looks_phone),
            Looks::Datetime => self.share(looks_date),
            Looks::Result => self.share(|v| {
                [
                    "阴性",
                    "阳性",
                    "弱阳性",
                    "待复核",
                    "可疑",
                    "negative",
                    "positive",
                ]
                .iter()
                .any(|w| v.to_lowercase().contains(w))
            }),
            Looks::Sex => self.share(|v| ["男", "女", "男性", "女性", "未知"].contains(&v)),
            Looks::Age if !self.counts_up() => self.share(|v| {
                v.trim_end_matches('岁')
                    .parse::<f64>()
                    .is_ok_and(|n| (0.0..=120.0).contains(&n) && n.fract() == 0.0)
            }),
            Looks::Age => 0.0,
            Looks::IdType => self.share(|v| {
                [
                    "身份证",
                    "护照",
                    "港澳",
                    "台湾",
                    "台胞",
                    "通行证",
                    "军官",
                    "居住证",
                ]
                .iter()
                .any(|w| v.contains(w))
            }),
            Looks::Barcode => self.share(|v| {
                let n = v.chars().count();
                (6..=24).contains(&n)
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && v.chars().any(|c| c.is_ascii_digit())
                    && !looks_id(v)
                    && !looks_phone(v)
                    && !looks_date(v)
            }),
            Looks::Name if self.variety() >= 0.5 => self.share(|v| {
                let n = v.chars().count();
                (2..=10).contains(&n) && v.chars().all(|c| is_cjk(c) || c == '·') && !is_place(v)
            }),
            Looks::Name => 0.0,
            // Short repeated words of a group of people; a column of names is too varied.
            Looks::Category if self.variety() <= 0.5 || self.values.len() < 3 => self.share(|v| {
                v.chars().count() <= 10
                    && CROWDS.iter().any(|w| v.contains(w))
                    && !v.contains("采样")
            }),
            Looks::Category => 0.0,
            Looks::Address => self.share(|v| {
                v.chars().filter(|c| is_cjk(*c)).count() >= 6
                    && ["省", "市", "区", "县", "路", "街", "号", "镇", "村"]
                        .iter()
                        .filter(|w| v.contains(*w))
                        .count()
                        >= 2
            }),
            Looks::Lab => self.share(|v| {
                ["医院", "中心", "公司", "检验所", "实验室", "卫生院"]
                    .iter()
                    .any(|w| v.ends_with(w))
            }),
            Looks::Site => self.share(|v| {
                [
                    "采样点",
                    "采样站",
                    "采样屋",
                    "社区",
                    "街道",
                    "核酸点",
                    "卫生站",
                ]
                .iter()
                .any(|w| v.contains(w))
            }),
            Looks::Listed => {
                let keys: Vec<String> = match (&field.map, &field.one_of) {
                    (Some(m), _) => m.keys().cloned().collect(),
                    (None, Some(o)) => o.clone(),
                    (None, None) => return 0.0,
                };
                self.share(|v| keys.iter().any(|k| k == v))
            }
        }
    }

    /// 1, 2, 3, ...: a row counter, not ages.
    fn counts_up(&self) -> bool {
        self.values.len() >= 3
            && self
                .values
                .iter()
                .enumerate()
                .all(|(i, v)| v.parse::<usize>().is_ok_and(|n| n == i + 1 || n == i))
    }
}

/// Words of the crowd categories city systems export (人群分类 / 人员分组).
const CROWDS: [&str; 24] = [
    "师生",
    "学生",
    "教师",
    "教职工",
    "居民",
    "村民",
    "医护",
    "医务",
    "员工",
    "职工",
    "工作人员",
    "从业人员",
    "人群",
    "密接",
    "隔离",
    "入境",
    "来穗",
    "返穗",
    "外来",
    "重点",
    "司机",
    "快递",
    "冷链",
    "愿检",
];

fn is_cjk(c: char) -> bool {
    ('\u{4e00}'..='\u{9fff}').contains(&c) || ('\u{3400}'..='\u{4dbf}').contains(&c)
}

fn is_place(v: &str) -> bool {
    [
        "社区", "街道", "医院", "中心", "居民", "人员", "公司", "阴性", "阳性",
    ]
    .iter()
    .any(|w| v.contains(w))
}

fn looks_id(v: &str) -> bool {
    let b = v.as_bytes();
    (b.len() == 18
        && b[..17].iter().all(u8::is_ascii_digit)
        && (b[17].is_ascii_digit() || b[17] == b'X' || b[17] == b'x'))
        || (b.len() == 15 && b.iter().all(u8::is_ascii_digit))
}

fn looks_phone(v: &str) -> bool {
    let digits: String = v.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    let digits = digits.strip_prefix("+86").unwrap_or(&digits);
    digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit())
}

/// 2022-01-10, 2022/1/10 08:30, 2022年1月10日, 20220110 083000.
fn looks_date(v: &str) -> bool {
    let mut parts = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|p| !p.is_empty());
    let Some(first) = parts.next() else {
        return false;
    };
    let year = |y: &str| y.parse::<u32>().is_ok_and(|y| (1900..=2100).contains(&y));
    match first.len() {
        4 => {
            year(first)
                && parts
                    .next()
                    .is_some_and(|m| m.parse::<u32>().is_ok_and(|m| (1..=12).contains(&m)))
                && parts
                    .next()
                    .is_some_and(|d| d.parse::<u32>().is_ok_and(|d| (1..=31).contains(&d)))
        }
        8 => {
            year(&first[..4])
                && first[4..6]
                    .parse::<u32>()
                    .is_ok_and(|m| (1..=12).contains(&m))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profiles;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn the_header_is_found_below_a_title_and_an_export_time() {
        let rows = vec![
            s(&["广州市核酸检测结果导出"]),
            s(&["导出时间：2022-01-10 10:00", "", "", "导出人：李"]),
            s(&[]),
            s(&["受检人", "证件", "联系号码", "时间"]),
            s(&["王伟", "440106199001011234", "13800000000", "2022-01-10"]),
        ];
        assert_eq!(header_row(&rows), 3);
    }

    #[test]
    fn a_row_of_dates_and_numbers_is_not_a_header() {
        let rows = vec![s(&["2022-01-10", "13800000000", "12"]), s(&["a", "b", "c"])];
        assert_eq!(header_row(&rows), 1);
        assert_eq!(header_row(&[]), 0);
    }

    #[test]
    fn shapes() {
        assert!(looks_id("44010619900101123X") && looks_id("440106900101123"));
        assert!(!looks_id("4401061990010112") && !looks_id("44010619900101123Y"));
        assert!(looks_phone("138 0000 0000") && looks_phone("+8613800000000"));
        assert!(!looks_phone("23800000000") && !looks_phone("1380000000"));
        assert!(
            looks_date("2022-01-10 08:30:00")
                && looks_date("2022/1/9")
                && looks_date("2022年1月10日")
        );
        assert!(looks_date("20220110") && !looks_date("13800000000") && !looks_date("阴性"));
    }

    /// An export whose headers the profile does not know: every field is found by its values.
    #[test]
    fn columns_are_guessed_from_their_values_with_reasons() {
        let profiles = Profiles::load(None);
        let p = &profiles.list[0];
        let headers = s(&[
            "序号",
            "受检人",
            "证照",
            "ID",
            "男女",
            "岁数",
            "TEL",
            "T1",
            "T2",
            "结论",
            "tube",
            "点位",
            "实验室",
            "分组",
            "住处",
        ]);
        let row = |i: usize, name: &str, id: &str, sex: &str, phone: &str, tube: &str| {
            s(&[
                &i.to_string(),
                name,
                "居民身份证",
                id,
                sex,
                "33",
                phone,
                "2022-01-10 08:30:00",
                "2022-01-10 14:00:00",
                "阴性",
                tube,
                "天河南街道社区核酸采样点",
                "广州金域医学检验中心有限公司",
                "社区居民",
                "广东省广州市天河区天河路1号",
            ])
        };
        let values = vec![
            row(
                1,
                "王伟",
                "440106199001011234",
                "男",
                "13800000001",
                "T0000000001",
            ),
            row(
                2,
                "李娜",
                "44010619900101124X",
                "女",
                "13800000002",
                "T0000000001",
            ),
            row(
                3,
                "欧阳修",
                "440106199001011258",
                "男",
                "13800000003",
                "T0000000002",
            ),
        ];
        let g = columns(p, &headers, &values);
        let col = |key: &str| g[p.field_index(key).unwrap()].clone();
        let want = [
            ("name", 1, Looks::Name),
            ("id_type", 2, Looks::IdType),
            ("id_number", 3, Looks::IdNumber),
            ("sex", 4, Looks::Sex),
            ("age", 5, Looks::Age),
            ("phone", 6, Looks::Phone),
            ("sampled_at", 7, Looks::Datetime),
            ("tested_at", 8, Looks::Datetime),
            ("result", 9, Looks::Result),
            ("barcode", 10, Looks::Barcode),
            ("site", 11, Looks::Site),
            ("lab", 12, Looks::Lab),
            ("address", 14, Looks::Address),
        ];
        for (key, column, look) in want {
            assert_eq!(
                col(key),
                Some(Guess {
                    column,
                    reason: Reason::Values(look)
                }),
                "{key}"
            );
        }
        // 分组 holds 社区居民: the words of a crowd category, not a name.
        assert_eq!(
            col("category"),
            Some(Guess {
                column: 13,
                reason: Reason::Values(Looks::Category)
            })
        );
        assert_eq!(Reason::Values(Looks::IdNumber).text(Lang::Zh), "像身份证号");
    }

    #[test]
    fn known_headers_win_over_values_and_a_column_is_guessed_once() {
        let profiles = Profiles::load(None);
        let p = &profiles.list[0];
        let headers = s(&["本人电话", "备用号"]);
        let values = vec![s(&["13800000001", "13900000001"])];
        let g = columns(p, &headers, &values);
        let phone = g[p.field_index("phone").unwrap()].clone().unwrap();
        assert_eq!(phone.column, 0);
        assert_eq!(phone.reason, Reason::HeaderLike("电话".into()));
        let used: Vec<usize> = g.iter().flatten().map(|g| g.column).collect();
        assert_eq!(used, vec![0], "备用号 is not taken for another field");
    }

    #[test]
    fn a_column_of_crowd_words_is_the_category_whatever_its_header() {
        let profiles = Profiles::load(None);
        let p = &profiles.list[0];
        let headers = s(&["人员分组", "受检人", "备注"]);
        let names = [
            "王伟",
            "李娜",
            "欧阳修",
            "张三丰",
            "陈静",
            "刘洋",
            "赵敏",
            "周杰",
        ];
        let crowds = ["学校师生", "社区居民", "医护人员", "外来人员"];
        // Every mix of two to four categories over eight rows, the names all different.
        for n in 2..=crowds.len() {
            let values: Vec<Vec<String>> = names
                .iter()
                .enumerate()
                .map(|(i, name)| s(&[crowds[i % n], name, ""]))
                .collect();
            let g = columns(p, &headers, &values);
            let category = g[p.field_index("category").unwrap()].clone();
            assert_eq!(
                category,
                Some(Guess {
                    column: 0,
                    reason: Reason::Values(Looks::Category)
                }),
                "{n} categories"
            );
            assert!(
                g.iter()
                    .flatten()
                    .all(|g| g.column != 1 || g.reason != Reason::Values(Looks::Category))
            );
        }
        // A column of different names is never taken for the category.
        let values: Vec<Vec<String>> = names.iter().map(|n| s(&["", n, ""])).collect();
        let g = columns(p, &headers, &values);
        assert_eq!(g[p.field_index("category").unwrap()], None);
    }
}
