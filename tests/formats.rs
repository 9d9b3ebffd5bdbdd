//! Every kind of export in template.md section 1: formats, encodings, layouts.

use crate::support::*;
use sheetbridge::read::{Cell, Format, Workbook};

/// What every fixture of `tests/fixtures/` holds (see make_fixtures.py): header on row 3,
/// six people in rows 4-9, row 6 with a wrong check digit, merged 采样点名称 and 检测机构.
fn assert_city_fixture(file: &str, sheet: &str) {
    let path = repo().join("tests/fixtures").join(file);
    let batch = load(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
    assert_eq!(batch.source.sheet, sheet, "{file}");
    assert_eq!(batch.source.header_row, 3, "{file}");
    assert_eq!(batch.len(), 6, "{file}: footer and blank rows are not data");
    assert_eq!(codes(&batch), [(6, "id_checksum".to_owned())], "{file}");
    let site = batch.profile().field_index("site").unwrap();
    let lab = batch.profile().field_index("lab").unwrap();
    let sampled = batch.profile().field_index("sampled_at").unwrap();
    for i in 0..6 {
        assert_eq!(
            batch.value(i, lab),
            "广州金域医学检验中心有限公司",
            "{file} row {i}: merged block fills down"
        );
        assert_eq!(
            batch.value(i, sampled),
            "2022-01-10 08:30:00",
            "{file} row {i}"
        );
    }
    assert_eq!(batch.value(2, site), "天河南街道社区核酸采样点", "{file}");
    assert_eq!(batch.value(5, site), "华景社区临时采样点", "{file}");
}

#[test]
fn old_excel_xls_with_an_instructions_sheet_first() {
    assert_city_fixture("city.xls", "结果");
}

#[test]
fn xls_and_xlsx_in_the_1904_date_system() {
    assert_city_fixture("city_1904.xls", "结果");
    assert_city_fixture("city_1904.xlsx", "Sheet1");
}

#[test]
fn ods_with_merged_cells() {
    assert_city_fixture("city.ods", "Sheet1");
}

#[test]
fn ids_that_excel_turned_into_numbers_are_errors_phones_are_fine() {
    let path = repo().join("tests/fixtures/ids_as_numbers.xls");
    let batch = load(&path).unwrap();
    let c = codes(&batch);
    assert!(c.contains(&(4, "id_excel_number".to_owned())), "{c:?}");
    assert!(!c.iter().any(|(_, code)| code == "phone_format"), "{c:?}");
    let msg = batch.message(0, &batch.issues(0)[0], sheetbridge::issue::Lang::Zh);
    assert!(msg.contains("重新导出") && msg.contains("文本"), "{msg}");
}

fn csv_text(rows: u32) -> String {
    let mut s = String::from(
        "序号,姓名,身份证号,性别,手机号,采样时间,检测时间,检测结果,条码号,采样点,检测机构\n",
    );
    for i in 0..rows {
        let male = i % 2 == 0;
        s += &format!(
            "{},张喆{i},{},{},138 0013 {:04},2022/1/10 8:30,2022年1月10日 14时00分,阴性(-),TUBE{:06},天河南街道采样点,本院\n",
            i + 1,
            id("440106", "19900101", i, male),
            if male { "男" } else { "女" },
            i,
            i / 10
        );
    }
    s
}

#[test]
fn csv_in_gbk_utf8_and_utf8_with_bom() {
    let dir = tmp();
    let text = csv_text(12);
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&text);
    assert!(!unmappable);
    let variants: Vec<(&str, Vec<u8>)> = vec![
        ("gbk.csv", gbk.into_owned()),
        ("utf8.csv", text.clone().into_bytes()),
        (
            "bom.csv",
            [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat(),
        ),
    ];
    for (name, bytes) in variants {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let batch = load(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(batch.len(), 12, "{name}");
        assert_eq!(batch.source.header_row, 1, "{name}");
        assert_eq!(batch.line(0), 2, "{name}: CSV rows are line numbers");
        assert!(codes(&batch).is_empty(), "{name}: {:?}", codes(&batch));
        assert_eq!(
            batch.value(0, 0),
            "张喆0",
            "{name}: 喆 survives the decoding"
        );
    }
}

#[test]
fn html_table_saved_as_xls_in_gbk() {
    let dir = tmp();
    let mut html = String::from(
        "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; charset=gb2312\"></head><body>\
         <table border=1><tr><td colspan=11>核酸检测结果导出</td></tr>\
         <tr><th>姓名</th><th>证件号码</th><th>联系电话</th><th>采样时间</th><th>检测时间</th><th>检测结果</th><th>条码号</th><th>采样点</th><th>检测机构</th></tr>",
    );
    for i in 0..4u32 {
        html += &format!(
            "<tr><td>李珺{i}</td><td>{}</td><td>13900139000</td><td>2022-01-10 08:30</td><td>2022-01-10 15:00</td><td>阴性</td><td>HT000001</td>",
            id("440106", "19850505", i, false)
        );
        if i == 0 {
            html += "<td rowspan=4>华景社区&nbsp;临时采样点</td><td rowspan=4>本院检验科</td>";
        }
        html += "</tr>";
    }
    html += "<tr><td colspan=9>合计：4 人</td></tr></table></body></html>";
    let (bytes, _, _) = encoding_rs::GBK.encode(&html);
    let path = dir.path().join("web.xls");
    std::fs::write(&path, bytes).unwrap();
    let wb = Workbook::open(&path).unwrap();
    assert_eq!(wb.format(), Format::Html);
    let batch = load(&path).unwrap();
    assert_eq!(batch.source.header_row, 2);
    assert_eq!(batch.len(), 4);
    assert!(codes(&batch).is_empty(), "{:?}", codes(&batch));
    let site = batch.profile().field_index("site").unwrap();
    assert_eq!(batch.value(3, site), "华景社区 临时采样点");
    assert_eq!(batch.value(3, 0), "李珺3");
}

#[test]
fn excel_2003_xml_saved_as_xls() {
    let dir = tmp();
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet">
 <Worksheet ss:Name="检测结果"><Table>
  <Row><Cell ss:MergeAcross="8"><Data ss:Type="String">导出 2022-01-10</Data></Cell></Row>
  <Row><Cell><Data ss:Type="String">姓名</Data></Cell><Cell><Data ss:Type="String">证件号码</Data></Cell><Cell><Data ss:Type="String">手机号码</Data></Cell><Cell><Data ss:Type="String">采样时间</Data></Cell><Cell><Data ss:Type="String">报告时间</Data></Cell><Cell><Data ss:Type="String">结果</Data></Cell><Cell><Data ss:Type="String">样本编号</Data></Cell><Cell><Data ss:Type="String">检测单位</Data></Cell></Row>
"#,
    );
    for i in 0..3u32 {
        xml += &format!(
            "  <Row><Cell><Data ss:Type=\"String\">赵淏{i}</Data></Cell><Cell><Data ss:Type=\"String\">{}</Data></Cell><Cell><Data ss:Type=\"Number\">13700137000</Data></Cell><Cell><Data ss:Type=\"DateTime\">2022-01-10T08:30:00.000</Data></Cell><Cell><Data ss:Type=\"DateTime\">2022-01-10T16:00:00.000</Data></Cell><Cell><Data ss:Type=\"String\">阴</Data></Cell><Cell><Data ss:Type=\"String\">XM00000{i}</Data></Cell><Cell><Data ss:Type=\"String\">本院</Data></Cell></Row>\n",
            id("440106", "19700303", i, true)
        );
    }
    xml += " </Table></Worksheet></Workbook>\n";
    let path = dir.path().join("old.xls");
    std::fs::write(&path, xml).unwrap();
    assert_eq!(
        Workbook::open(&path).unwrap().format(),
        Format::SpreadsheetMl
    );
    let batch = load(&path).unwrap();
    assert_eq!(
        (
            batch.source.sheet.as_str(),
            batch.source.header_row,
            batch.len()
        ),
        ("检测结果", 2, 3)
    );
    assert!(codes(&batch).is_empty(), "{:?}", codes(&batch));
    let result = batch.profile().field_index("result").unwrap();
    assert_eq!(batch.value(0, result), "阴性");
}

#[test]
fn title_rows_merged_title_blank_rows_footer_and_extra_columns() {
    let dir = tmp();
    let mut rows = vec![
        vec![t("广州市核酸检测结果导出 2022-01-10")],
        vec![],
        vec![t("单位：天河区")],
    ];
    let mut header: Vec<V> = HEADER.iter().map(|h| t(&format!(" *{h}\n"))).collect();
    header.insert(0, t("序号"));
    header.push(t("备注"));
    rows.push(header);
    for i in 0..5 {
        let mut r = person(i, "T0000000001");
        r.insert(0, V::N(f64::from(i + 1)));
        r.push(t("无"));
        rows.push(r);
        rows.push(vec![]);
    }
    rows.push(vec![t("合计: 5")]);
    rows.push(vec![t("导出人: 张三")]);
    rows.push(vec![t("这一行在页脚之后")]);
    let mut spec = SheetSpec::new("Sheet1", rows);
    spec.merges.push((0, 0, 0, 15));
    let path = dir.path().join("messy.xlsx");
    write_xlsx(&path, &[spec]);
    let batch = load(&path).unwrap();
    assert_eq!(batch.source.header_row, 4);
    assert_eq!(batch.len(), 5);
    assert_eq!(
        (0..5).map(|i| batch.line(i)).collect::<Vec<_>>(),
        [5, 7, 9, 11, 13]
    );
    assert_eq!(batch.source.unused, ["序号", "备注"]);
    assert!(codes(&batch).is_empty(), "{:?}", codes(&batch));
}

#[test]
fn data_sheet_is_found_among_several_and_sheet_can_be_forced() {
    let dir = tmp();
    let path = dir.path().join("multi.xlsx");
    write_xlsx(
        &path,
        &[
            SheetSpec::new("封面", vec![vec![t("核酸检测结果")], vec![t("请勿修改")]]),
            SheetSpec::new(
                "统计",
                vec![vec![t("采样点"), t("人数")], vec![t("天河"), V::N(3.0)]],
            ),
            SheetSpec::new("明细", simple_rows(3)),
        ],
    );
    let batch = load(&path).unwrap();
    assert_eq!(batch.source.sheet, "明细");
    assert_eq!(batch.len(), 3);
    let opts = sheetbridge::pipeline::Options {
        sheet: Some("统计".into()),
        ..Default::default()
    };
    let err = sheetbridge::pipeline::load(
        &path,
        &sheetbridge::profile::Profiles::load(None),
        &opts,
        &(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("认不出"), "{err}");
}

#[test]
fn vertically_merged_cells_fill_their_block_in_xlsx() {
    let dir = tmp();
    let mut rows = simple_rows(6);
    for r in &mut rows[2..] {
        r[10] = V::Blank;
        r[11] = V::Blank;
    }
    let mut spec = SheetSpec::new("Sheet1", rows);
    spec.merges.push((1, 10, 6, 10));
    spec.merges.push((1, 11, 6, 11));
    let path = dir.path().join("merged.xlsx");
    write_xlsx(&path, &[spec]);
    let batch = load(&path).unwrap();
    assert!(codes(&batch).is_empty(), "{:?}", codes(&batch));
    assert_eq!(batch.value(5, 11), "广州金域医学检验中心有限公司");
}

#[test]
fn cells_keep_their_type() {
    let dir = tmp();
    let path = dir.path().join("types.xlsx");
    write_xlsx(
        &path,
        &[SheetSpec::new(
            "S",
            vec![vec![t("文本"), V::N(4.4e17), d("2022-01-10 08:30:00")]],
        )],
    );
    let mut wb = Workbook::open(&path).unwrap();
    let mut seen = Vec::new();
    wb.for_each_row("S", &mut |_, cells| {
        seen = cells;
        std::ops::ControlFlow::Continue(())
    })
    .unwrap();
    assert!(matches!(seen[0], Cell::Text(_)));
    assert!(matches!(seen[1], Cell::Number(_)));
    assert!(matches!(seen[2], Cell::Date(_)));
}
