//! The bundled sample export (`assets/sample/核酸结果导出样例.xlsx`): a small city export with
//! the usual mess, built with rust_xlsxwriter. Shared by `examples/make_sample.rs` (which
//! writes the committed file) and the tests (which check what the converter makes of it).

use chrono::NaiveDateTime;
use rust_xlsxwriter::{Format, FormatAlign, Workbook, XlsxError};
use std::path::Path;

/// A cell of the sample.
#[derive(Clone, Debug)]
pub enum V {
    T(String),
    N(f64),
    D(NaiveDateTime),
    Blank,
}

pub fn t(s: &str) -> V {
    V::T(s.to_owned())
}

pub fn d(s: &str) -> V {
    V::D(NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("test date"))
}

/// The GB 11643 check character for 17 digits.
pub fn check_char(first17: &str) -> char {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17
        .bytes()
        .zip(W)
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    b"10X98765432"[(sum % 11) as usize] as char
}

/// A valid 18-digit resident ID.
pub fn id(region: &str, birth: &str, seq: u32, male: bool) -> String {
    let seq = seq * 2 % 1000 + u32::from(male);
    let first17 = format!("{region}{birth}{seq:03}");
    format!("{first17}{}", check_char(&first17))
}

/// The sample's header (aliases the built-in profile knows, in the city system's order).
pub const HEADER: [&str; 15] = [
    "序号",
    "受检者姓名",
    "证件类别",
    "证件号码",
    "性别",
    "年龄",
    "联系方式",
    "采集时间",
    "检测时间",
    "核酸结果",
    "试管编码",
    "采样点名称",
    "检测单位",
    "人员类别",
    "现居住地址",
];

/// What the converter should make of the sample.
pub struct Expect {
    pub header_row: u32,
    pub total: usize,
    pub rejected: usize,
    pub duplicate: usize,
    /// (Excel row, code) of every error, sorted.
    pub errors: Vec<(u32, &'static str)>,
}

const NAMES: [&str; 40] = [
    "王伟",
    "李娜",
    "张喆",
    "刘堃",
    "陈昇",
    "杨珺",
    "黄玥",
    "赵淏",
    "吴犇",
    "周镕",
    "徐静",
    "孙磊",
    "马丽",
    "朱军",
    "胡洋",
    "郭勇",
    "何艳",
    "林杰",
    "罗娟",
    "高涛",
    "梁明",
    "郑霞",
    "谢超",
    "宋秀英",
    "阿依古丽•买买提",
    "许玲",
    "韩辉",
    "冯燕",
    "邓鹏",
    "曹红",
    "彭华",
    "曾梅",
    "肖飞",
    "田琳",
    "董鑫",
    "袁雪",
    "潘波",
    "欧阳宇",
    "唐斌",
    "蒋浩",
];

/// The rows of the sample, with the expected outcome.
pub fn rows() -> (Vec<Vec<V>>, Expect) {
    let sampled = |m: u32| format!("2022-01-10 {:02}:{:02}:00", 8 + m / 60, m % 60);
    let tested = |m: u32| format!("2022-01-10 {:02}:{:02}:00", 14 + m / 60, m % 60);
    let mut rows = Vec::new();
    for (i, name) in NAMES.iter().enumerate() {
        let i = i as u32;
        let male = i.is_multiple_of(2);
        let year = 1950 + (i * 7) % 60;
        let birth = format!("{year}{:02}{:02}", 1 + i % 12, 1 + i % 28);
        let age = 2022 - year as i32 - i32::from((1 + i % 12, 1 + i % 28) > (1, 10));
        let tube = format!("44010600{:08}", 1000 + i / 10);
        let site = if i < 20 {
            "天河南街道社区核酸采样点"
        } else {
            "华景社区临时采样点"
        };
        rows.push(vec![
            V::N(f64::from(i + 1)),
            t(name),
            t("居民身份证"),
            t(&id("440106", &birth, i, male)),
            t(if male { "男" } else { "女" }),
            V::N(f64::from(age)),
            t(&format!("1{}{:09}", 3 + i % 7, 800_138_000 + i)),
            d(&sampled(i)),
            d(&tested(i)),
            t("阴性"),
            t(&tube),
            t(site),
            t("天河区人民医院检验科"),
            t("社区居民"),
            t(&format!("广州市天河区天河路{}号", 100 + i)),
        ]);
    }
    // The mess a clerk meets, row by row (data starts on Excel row 4).
    let at = |k: usize| k - 4;
    // Fixable shapes: these rows stay valid.
    rows[at(5)][6] = t("+86 138-0013-8001");
    rows[at(6)][6] = V::N(13_900_139_002.0);
    rows[at(7)][7] = t("2022/1/10 8:03");
    rows[at(8)][7] = t("2022年1月10日 8时04分");
    rows[at(9)][9] = t("阴性(-)");
    rows[at(10)][9] = t("NEG");
    rows[at(11)][2] = t("身份证");
    let fw: String = match &rows[at(12)][3] {
        V::T(s) => s
            .chars()
            .map(|c| char::from_u32(c as u32 + 0xFEE0).unwrap_or(c))
            .collect(),
        _ => String::new(),
    };
    rows[at(12)][3] = t(&fw);
    rows[at(13)][1] = t(" 孙\u{3000}磊 ");
    // Warnings: still written.
    rows[at(14)][7] = t("2022-01-10"); // date_only
    // Errors.
    if let V::T(good) = &rows[at(15)][3] {
        // The right ID with a wrong last character: id_checksum.
        let wrong = if good.ends_with('0') { '1' } else { '0' };
        rows[at(15)][3] = t(&format!("{}{wrong}", &good[..17]));
    }
    rows[at(16)][3] = V::N(440_106_199_001_011_000.0); // id_excel_number
    rows[at(17)][6] = t("1380013800"); // phone_format
    rows[at(18)][6] = V::Blank; // required
    rows[at(19)][10] = t("4401-0600-0011"); // barcode_format
    rows[at(20)][8] = d("2022-01-10 07:00:00"); // date_order
    rows[at(21)][9] = t("弱阳"); // result_value
    // Two sites scanned the same tube: every row of tube ...1003 gets barcode_conflict.
    rows[at(34)][11] = t("棠下街道社区核酸采样点");
    // The same person scanned twice into tube ...1002: the repeat (Excel row 44) is dropped.
    let mut repeat = rows[at(30)].clone();
    repeat[0] = V::N(41.0);
    rows.push(repeat);
    let mut errors = vec![
        (15, "id_checksum"),
        (16, "id_excel_number"),
        (17, "phone_format"),
        (18, "required"),
        (19, "barcode_format"),
        (20, "date_order"),
        (21, "result_value"),
    ];
    // Tube 4401060000001003 holds Excel rows 34..43.
    for r in 34..=43 {
        errors.push((r, "barcode_conflict"));
    }
    errors.sort();
    let rejected = {
        let mut rows: Vec<u32> = errors.iter().map(|e| e.0).collect();
        rows.dedup();
        rows.len()
    };
    let expect = Expect {
        header_row: 3,
        total: rows.len(),
        rejected,
        duplicate: 1,
        errors,
    };
    (rows, expect)
}

/// Writes the sample export to `path`.
pub fn write_sample(path: &Path) -> Result<Expect, XlsxError> {
    let (rows, expect) = rows();
    let mut wb = Workbook::new();
    let ws = wb.add_worksheet();
    ws.set_name("核酸检测结果")?;
    let title = Format::new()
        .set_bold()
        .set_font_size(16)
        .set_align(FormatAlign::Center);
    let bold = Format::new().set_bold();
    let date = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    ws.merge_range(
        0,
        0,
        0,
        14,
        "广州市天河区核酸检测结果导出 2022-01-10",
        &title,
    )?;
    ws.write_string(
        1,
        0,
        "导出时间：2022-01-10 18:00    导出机构：天河区人民医院",
    )?;
    for (c, h) in HEADER.iter().enumerate() {
        ws.write_string_with_format(2, c as u16, *h, &bold)?;
    }
    let widths = [
        6.0, 10.0, 10.0, 22.0, 6.0, 6.0, 16.0, 20.0, 20.0, 10.0, 19.0, 28.0, 22.0, 10.0, 30.0,
    ];
    for (c, w) in widths.iter().enumerate() {
        ws.set_column_width(c as u16, *w)?;
    }
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 3;
        for (c, v) in row.iter().enumerate() {
            let c = c as u16;
            match v {
                V::T(s) => {
                    ws.write_string(r, c, s)?;
                }
                V::N(n) => {
                    ws.write_number(r, c, *n)?;
                }
                V::D(dt) => {
                    ws.write_datetime_with_format(r, c, dt, &date)?;
                }
                V::Blank => {}
            }
        }
    }
    let end = rows.len() as u32 + 3;
    ws.write_string(end + 1, 0, format!("合计：{} 人", rows.len()))?;
    ws.write_string(end + 2, 0, "导出人：李护士")?;
    wb.save(path)?;
    Ok(expect)
}
