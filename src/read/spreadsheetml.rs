//! Excel 2003 XML workbooks ("SpreadsheetML") saved under an `.xls` name: one sheet per
//! `<Worksheet>`, with cell types, `ss:Index` jumps and merged cells kept.

// Over 600 lines: the parser is under 400; the rest are its tests, kept beside it.

use super::{Cell, MemorySheet, Merge};
use crate::rules::datetime;
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Reader, XmlVersion};
use std::collections::HashSet;

/// Excel's row count.
const MAX_ROWS: u32 = 1_048_576;
/// Excel's column count.
const MAX_COLS: u32 = 16_384;
/// Cell slots allowed on top of one per input byte. `ss:Index` can put a value at column
/// 16,384 with a few bytes of markup; this keeps a hostile file from taking gigabytes.
const BASE_BUDGET: usize = 1 << 22;

/// Parses a SpreadsheetML workbook. Errors are short English descriptions (malformed XML,
/// out-of-range or backward `ss:Index`, no worksheet at all).
pub(super) fn parse(text: &str) -> Result<Vec<MemorySheet>, String> {
    let mut reader = Reader::from_str(text.trim_start_matches('\u{feff}'));
    let mut book = Book::new(BASE_BUDGET.saturating_add(text.len()));
    loop {
        let event = match reader.read_event() {
            Ok(event) => event,
            Err(e) => {
                return Err(format!(
                    "malformed XML at byte {}: {e}",
                    reader.error_position()
                ));
            }
        };
        match event {
            Event::Eof => return book.finish(),
            event => book
                .handle(event)
                .map_err(|e| format!("{e} (at byte {})", reader.buffer_position()))?,
        }
    }
}

/// The SpreadsheetML elements that matter, each recognised only under its proper parent
/// (so the `<Data>` of a cell comment is not taken for the cell's value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tag {
    Workbook,
    Worksheet,
    Table,
    Row,
    Cell,
    Data,
    Other,
}

impl Tag {
    /// Classifies an element by its local name (any prefix: `ss:Row` and `Row` alike).
    fn of(parent: Option<Tag>, local_name: &str) -> Tag {
        match (parent, local_name) {
            (None, "Workbook") => Tag::Workbook,
            (Some(Tag::Workbook), "Worksheet") => Tag::Worksheet,
            (Some(Tag::Worksheet), "Table") => Tag::Table,
            (Some(Tag::Table), "Row") => Tag::Row,
            (Some(Tag::Row), "Cell") => Tag::Cell,
            (Some(Tag::Cell), "Data") => Tag::Data,
            _ => Tag::Other,
        }
    }
}

/// An open `<Data>` element: its `ss:Type` and the text gathered so far.
struct Data {
    kind: String,
    text: String,
}

/// The workbook being read, event by event.
struct Book {
    /// Open elements.
    stack: Vec<Tag>,
    sheets: Vec<MemorySheet>,
    names: HashSet<String>,
    /// Cell slots left to fill.
    budget: usize,
    /// Where a `<Row>` without `ss:Index` goes (0-based; may pass the limit, checked on use).
    next_row: u64,
    /// The open row: its index and cells.
    row: u32,
    cells: Vec<Cell>,
    /// Where a `<Cell>` without `ss:Index` goes (0-based).
    next_col: u64,
    /// The open cell: its column and value.
    col: u32,
    value: Cell,
    data: Option<Data>,
}

impl Book {
    fn new(budget: usize) -> Book {
        Book {
            stack: Vec::new(),
            sheets: Vec::new(),
            names: HashSet::new(),
            budget,
            next_row: 0,
            row: 0,
            cells: Vec::new(),
            next_col: 0,
            col: 0,
            value: Cell::Empty,
            data: None,
        }
    }

    fn handle(&mut self, event: Event<'_>) -> Result<(), String> {
        match event {
            Event::Start(start) => self.open(&start),
            Event::Empty(start) => {
                self.open(&start)?;
                self.close()
            }
            Event::End(_) => self.close(),
            Event::Text(text) if self.data.is_some() => {
                self.push_text(&text.xml10_content());
                Ok(())
            }
            Event::CData(text) if self.data.is_some() => {
                self.push_text(&text.xml10_content());
                Ok(())
            }
            Event::GeneralRef(reference) if self.data.is_some() => {
                self.push_text(&resolve(&reference));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    fn open(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        let tag = Tag::of(self.stack.last().copied(), start.local_name().into_inner());
        match tag {
            Tag::Worksheet => self.open_sheet(attribute(start, "Name")?),
            Tag::Row => self.open_row(start)?,
            Tag::Cell => self.open_cell(start)?,
            Tag::Data => {
                self.data = Some(Data {
                    kind: attribute(start, "Type")?.unwrap_or_default(),
                    text: String::new(),
                });
            }
            Tag::Workbook | Tag::Table | Tag::Other => {}
        }
        self.stack.push(tag);
        Ok(())
    }

    fn close(&mut self) -> Result<(), String> {
        match self.stack.pop() {
            Some(Tag::Data) => {
                if let Some(data) = self.data.take() {
                    self.value = typed_value(&data.kind, data.text);
                }
            }
            Some(Tag::Cell) => self.close_cell()?,
            Some(Tag::Row) => self.close_row(),
            Some(_) => {}
            None => return Err("closing tag without an opening one".into()),
        }
        Ok(())
    }

    fn finish(self) -> Result<Vec<MemorySheet>, String> {
        if !self.stack.is_empty() {
            return Err("the file ends before the workbook is closed (cut short?)".into());
        }
        if self.sheets.is_empty() {
            return Err("no Worksheet element in the workbook".into());
        }
        Ok(self.sheets)
    }

    fn push_text(&mut self, text: &str) {
        if let Some(data) = &mut self.data {
            data.text.push_str(text);
        }
    }

    /// Starts a sheet. A missing or repeated name gets a made-up one so every sheet can be
    /// found by name.
    fn open_sheet(&mut self, name: Option<String>) {
        let number = self.sheets.len() + 1;
        let wanted = name
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| format!("Sheet{number}"));
        let mut name = wanted.clone();
        let mut suffix = number;
        while self.names.contains(&name) {
            name = format!("{wanted} ({suffix})");
            suffix += 1;
        }
        self.names.insert(name.clone());
        self.sheets.push(MemorySheet {
            name,
            rows: Vec::new(),
            merges: Vec::new(),
        });
        self.next_row = 0;
    }

    /// Starts a row at its `ss:Index` or after the previous one (and its `ss:Span`).
    fn open_row(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        let row = match attribute(start, "Index")? {
            Some(index) => one_based(&index, "row", MAX_ROWS)?,
            None => self.next_row,
        };
        if row < self.next_row {
            return Err(format!("row {} comes after row {}", row + 1, self.next_row));
        }
        let row = u32::try_from(row)
            .ok()
            .filter(|r| *r < MAX_ROWS)
            .ok_or("more than 1,048,576 rows")?;
        let span = match attribute(start, "Span")? {
            Some(span) => count(&span, "Span")?,
            None => 0,
        };
        self.next_row = u64::from(row).saturating_add(span).saturating_add(1);
        self.row = row;
        self.cells = Vec::new();
        self.next_col = 0;
        Ok(())
    }

    /// Starts a cell at its `ss:Index` or after the previous one (and its merge), and
    /// records its merge.
    fn open_cell(&mut self, start: &BytesStart<'_>) -> Result<(), String> {
        let col = match attribute(start, "Index")? {
            Some(index) => one_based(&index, "column", MAX_COLS)?,
            None => self.next_col,
        };
        if col < self.next_col {
            return Err(format!(
                "column {} comes after column {}",
                col + 1,
                self.next_col
            ));
        }
        let col = u32::try_from(col)
            .ok()
            .filter(|c| *c < MAX_COLS)
            .ok_or("more than 16,384 columns")?;
        let across = merge_extent(start, "MergeAcross", MAX_COLS - 1 - col)?;
        let down = merge_extent(start, "MergeDown", MAX_ROWS - 1 - self.row)?;
        if across > 0 || down > 0 {
            let merge = Merge {
                first_row: self.row,
                last_row: self.row + down,
                first_col: col,
                last_col: col + across,
            };
            if let Some(sheet) = self.sheets.last_mut() {
                sheet.merges.push(merge);
            }
        }
        self.col = col;
        self.next_col = u64::from(col) + u64::from(across) + 1;
        self.value = Cell::Empty;
        Ok(())
    }

    /// Puts the cell's value in the row, padding the columns skipped with empty cells.
    fn close_cell(&mut self) -> Result<(), String> {
        let value = std::mem::take(&mut self.value);
        if value == Cell::Empty {
            return Ok(());
        }
        let col = self.col as usize;
        let growth = (col + 1).saturating_sub(self.cells.len());
        self.budget = self
            .budget
            .checked_sub(growth)
            .ok_or("too many cells for the size of the file")?;
        if self.cells.len() <= col {
            self.cells.resize(col + 1, Cell::Empty);
        }
        self.cells[col] = value;
        Ok(())
    }

    /// Adds the row to the sheet (rows without values are left out).
    fn close_row(&mut self) {
        let cells = std::mem::take(&mut self.cells);
        if let Some(sheet) = self.sheets.last_mut()
            && !cells.is_empty()
        {
            sheet.rows.push((self.row, cells));
        }
    }
}

/// The value of an attribute by local name (`ss:Index` and `Index` alike), entities resolved.
fn attribute(start: &BytesStart<'_>, local_name: &str) -> Result<Option<String>, String> {
    for attr in start.attributes() {
        let attr = attr.map_err(|e| format!("malformed attribute: {e}"))?;
        if attr.key.local_name().into_inner() == local_name {
            let value = attr
                .normalized_value(XmlVersion::Implicit1_0)
                .unwrap_or_else(|_| attr.value.clone());
            return Ok(Some(value.into_owned()));
        }
    }
    Ok(None)
}

/// A 1-based `ss:Index` (at most `max`) as a 0-based position.
fn one_based(value: &str, what: &str, max: u32) -> Result<u64, String> {
    match value.trim().parse::<u64>() {
        Ok(n) if (1..=u64::from(max)).contains(&n) => Ok(n - 1),
        _ => Err(format!(
            "{what} ss:Index=\"{value}\" is not between 1 and {max}"
        )),
    }
}

/// A non-negative count attribute (`ss:Span`, `ss:MergeAcross`, `ss:MergeDown`).
fn count(value: &str, name: &str) -> Result<u64, String> {
    value
        .trim()
        .parse::<u64>()
        .map_err(|_| format!("ss:{name}=\"{value}\" is not a count"))
}

/// `ss:MergeAcross` or `ss:MergeDown` (0 when missing), clamped to the cells left on the sheet.
fn merge_extent(start: &BytesStart<'_>, name: &str, room: u32) -> Result<u32, String> {
    let extent = match attribute(start, name)? {
        Some(value) => count(&value, name)?,
        None => 0,
    };
    Ok(u32::try_from(extent).unwrap_or(u32::MAX).min(room))
}

/// The text of `&...;`: a character reference or one of the five XML entities. Anything
/// else is kept as written, and an invalid character reference becomes U+FFFD.
fn resolve(reference: &BytesRef<'_>) -> String {
    match reference.resolve_char_ref() {
        Ok(Some(c)) => c.to_string(),
        Ok(None) => match resolve_xml_entity(reference) {
            Some(text) => text.to_owned(),
            None => format!("&{};", &**reference),
        },
        Err(_) => char::REPLACEMENT_CHARACTER.to_string(),
    }
}

/// A cell value from `ss:Type` and the text of `<Data>`. Text that does not fit the type
/// stays text, so nothing is lost.
fn typed_value(kind: &str, text: String) -> Cell {
    if text.is_empty() {
        return Cell::Empty;
    }
    match kind {
        "Number" => match text.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Cell::Number(n),
            _ => Cell::Text(text),
        },
        "DateTime" => match datetime::parse_text(&text) {
            Some(parsed) => Cell::Date(parsed.at),
            None => Cell::Text(text),
        },
        "Boolean" => match text.trim() {
            "1" => Cell::Bool(true),
            "0" => Cell::Bool(false),
            _ => Cell::Text(text),
        },
        "Error" => Cell::Error(text),
        _ => Cell::Text(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    const HEAD: &str = r#"<?xml version="1.0" encoding="gb2312"?>
<?mso-application progid="Excel.Sheet"?>
<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:o="urn:schemas-microsoft-com:office:office"
 xmlns:x="urn:schemas-microsoft-com:office:excel"
 xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"
 xmlns:html="http://www.w3.org/TR/REC-html40">
 <Styles><Style ss:ID="Default" ss:Name="Normal"><Font ss:FontName="宋体"/></Style></Styles>
"#;

    /// A workbook with the given worksheets.
    fn book(worksheets: &str) -> String {
        format!("{HEAD}{worksheets}</Workbook>")
    }

    /// A workbook with one worksheet holding the given rows.
    fn sheet_xml(rows: &str) -> String {
        book(&format!(
            r#"<Worksheet ss:Name="Sheet1"><Table ss:ExpandedColumnCount="9">{rows}</Table>
<WorksheetOptions xmlns="urn:schemas-microsoft-com:office:excel"><Selected/></WorksheetOptions>
</Worksheet>"#
        ))
    }

    fn only_sheet(rows: &str) -> MemorySheet {
        let mut sheets = parse(&sheet_xml(rows)).unwrap();
        assert_eq!(sheets.len(), 1);
        sheets.remove(0)
    }

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn types_are_kept() {
        let sheet = only_sheet(
            r#"<Row>
  <Cell><Data ss:Type="String">张三</Data></Cell>
  <Cell><Data ss:Type="String">110101199003071234</Data></Cell>
  <Cell><Data ss:Type="Number">42.5</Data></Cell>
  <Cell ss:StyleID="s21"><Data ss:Type="DateTime">2022-01-10T08:30:00.000</Data></Cell>
  <Cell><Data ss:Type="Boolean">1</Data></Cell>
  <Cell><Data ss:Type="Boolean">0</Data></Cell>
  <Cell ss:Formula="=1/0"><Data ss:Type="Error">#DIV/0!</Data></Cell>
  <Cell><Data ss:Type="String"></Data></Cell>
  <Cell><Data ss:Type="String">  keep  spaces </Data></Cell>
 </Row>"#,
        );
        let at = NaiveDate::from_ymd_opt(2022, 1, 10)
            .unwrap()
            .and_hms_opt(8, 30, 0)
            .unwrap();
        assert_eq!(
            sheet.rows,
            vec![(
                0,
                vec![
                    text("张三"),
                    text("110101199003071234"),
                    Cell::Number(42.5),
                    Cell::Date(at),
                    Cell::Bool(true),
                    Cell::Bool(false),
                    Cell::Error("#DIV/0!".into()),
                    Cell::Empty,
                    text("  keep  spaces "),
                ]
            )]
        );
    }

    #[test]
    fn values_that_do_not_fit_their_type_stay_text() {
        assert_eq!(typed_value("Number", "12abc".into()), text("12abc"));
        assert_eq!(typed_value("Number", "NaN".into()), text("NaN"));
        assert_eq!(typed_value("Number", " 7 ".into()), Cell::Number(7.0));
        assert_eq!(
            typed_value("DateTime", "not a date".into()),
            text("not a date")
        );
        assert_eq!(typed_value("Boolean", "yes".into()), text("yes"));
        assert_eq!(typed_value("Mystery", "x".into()), text("x"));
        assert_eq!(typed_value("Number", String::new()), Cell::Empty);
    }

    #[test]
    fn index_on_rows_and_cells_jumps() {
        let sheet = only_sheet(
            r#"<Row><Cell><Data ss:Type="String">a</Data></Cell></Row>
<Row ss:Index="4"><Cell ss:Index="3"><Data ss:Type="String">c</Data></Cell><Cell><Data ss:Type="String">d</Data></Cell></Row>
<Row><Cell><Data ss:Type="String">e</Data></Cell></Row>
<Row ss:Span="2"/>
<Row><Cell><Data ss:Type="Number">1</Data></Cell></Row>"#,
        );
        assert_eq!(
            sheet.rows,
            vec![
                (0, vec![text("a")]),
                (3, vec![Cell::Empty, Cell::Empty, text("c"), text("d")]),
                (4, vec![text("e")]),
                (8, vec![Cell::Number(1.0)]),
            ]
        );
    }

    #[test]
    fn merges_and_the_cells_after_them() {
        // Row 1: A across columns 1-2 and down rows 1-2, then B lands in column 3.
        // Row 2: Excel writes ss:Index to skip the columns merged from above.
        let sheet = only_sheet(
            r#"<Row><Cell ss:MergeAcross="1" ss:MergeDown="1"><Data ss:Type="String">A</Data></Cell><Cell><Data ss:Type="String">B</Data></Cell></Row>
<Row><Cell ss:Index="3"><Data ss:Type="String">C</Data></Cell></Row>
<Row><Cell ss:MergeDown="99999999"/><Cell><Data ss:Type="String">D</Data></Cell></Row>"#,
        );
        assert_eq!(
            sheet.rows,
            vec![
                (0, vec![text("A"), Cell::Empty, text("B")]),
                (1, vec![Cell::Empty, Cell::Empty, text("C")]),
                (2, vec![Cell::Empty, text("D")]),
            ]
        );
        assert_eq!(
            sheet.merges,
            vec![
                Merge {
                    first_row: 0,
                    last_row: 1,
                    first_col: 0,
                    last_col: 1
                },
                Merge {
                    first_row: 2,
                    last_row: MAX_ROWS - 1,
                    first_col: 0,
                    last_col: 0
                },
            ]
        );
    }

    #[test]
    fn rich_text_entities_and_comments() {
        let sheet = only_sheet(
            r##"<Row>
<Cell><ss:Data ss:Type="String" xmlns="http://www.w3.org/TR/REC-html40"><B>阳</B><Font html:Color="#FF0000">性</Font></ss:Data></Cell>
<Cell><Data ss:Type="String">A&amp;B &lt;1&gt; &#x4E2D;&#25991; &nbsp;</Data><Comment ss:Author="x"><ss:Data><B>note</B></ss:Data></Comment></Cell>
<Cell><Data ss:Type="String">line1&#10;line2</Data></Cell>
<Cell><Data ss:Type="String"><![CDATA[<raw>]]></Data></Cell>
</Row>"##,
        );
        assert_eq!(
            sheet.rows,
            vec![(
                0,
                vec![
                    text("阳性"),
                    text("A&B <1> 中文 &nbsp;"),
                    text("line1\nline2"),
                    text("<raw>"),
                ]
            )]
        );
    }

    #[test]
    fn two_worksheets_with_prefixed_names() {
        let xml = book(
            r#"<ss:Worksheet ss:Name="结果&amp;明细"><ss:Table><ss:Row><ss:Cell><ss:Data ss:Type="String">x</ss:Data></ss:Cell></ss:Row></ss:Table></ss:Worksheet>
<Worksheet ss:Name="汇总"><Table><Row><Cell><Data ss:Type="Number">3</Data></Cell></Row></Table></Worksheet>
<Worksheet ss:Name="汇总"/><Worksheet ss:Name="汇总 (4)"/><Worksheet/><Worksheet ss:Name="汇总"/>"#,
        );
        let sheets = parse(&xml).unwrap();
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "结果&明细",
                "汇总",
                "汇总 (3)",
                "汇总 (4)",
                "Sheet5",
                "汇总 (6)"
            ]
        );
        assert_eq!(sheets[0].rows, vec![(0, vec![text("x")])]);
        assert_eq!(sheets[1].rows, vec![(0, vec![Cell::Number(3.0)])]);
        assert!(sheets[2].rows.is_empty());
    }

    #[test]
    fn malformed_input_is_an_error() {
        for bad in [
            sheet_xml("<Row><Cell><Data ss:Type=\"String\">x</Cell></Row>"),
            sheet_xml("<Row><Cell></Row>"),
            format!("{HEAD}<Worksheet ss:Name=\"a\"><Table><Row>"),
            sheet_xml("<Row><Cell ss:Index=\"0\"/></Row>"),
            sheet_xml("<Row><Cell ss:Index=\"16385\"/></Row>"),
            sheet_xml("<Row ss:Index=\"1048577\"/>"),
            sheet_xml("<Row ss:Index=\"abc\"/>"),
            sheet_xml("<Row ss:Index=\"5\"/><Row ss:Index=\"2\"/>"),
            sheet_xml("<Row><Cell ss:Index=\"5\"/><Cell ss:Index=\"2\"/></Row>"),
            sheet_xml("<Row><Cell ss:MergeAcross=\"-1\"/></Row>"),
            sheet_xml("<Row><Cell a=\"1\" a=\"2\"/></Row>"),
            book(""),
            String::new(),
            "just text".into(),
            "<html><table></table></html>".into(),
        ] {
            assert!(parse(&bad).is_err(), "should fail: {bad}");
        }
    }

    #[test]
    fn rows_past_the_last_excel_row_are_an_error() {
        let Err(err) = parse(&sheet_xml(r#"<Row ss:Index="1048576" ss:Span="3"/><Row/>"#)) else {
            panic!("a row past 1,048,576 was accepted");
        };
        assert!(err.contains("1,048,576"), "{err}");
        assert!(
            parse(&sheet_xml(
                r#"<Row ss:Index="1048576"><Cell ss:Index="16384"/></Row>"#
            ))
            .is_ok()
        );
    }

    #[test]
    fn far_apart_cells_run_out_of_budget() {
        let row = r#"<Row><Cell ss:Index="16384"><Data ss:Type="Number">1</Data></Cell></Row>"#;
        let xml = sheet_xml(&row.repeat(200));
        let mut book = Book::new(10 * MAX_COLS as usize);
        let mut reader = Reader::from_str(&xml);
        let mut result = Ok(());
        while let Ok(event) = reader.read_event() {
            if event == Event::Eof || result.is_err() {
                break;
            }
            result = book.handle(event);
        }
        assert!(result.is_err());
        // The real budget allows this small file.
        assert!(parse(&xml).is_ok());
    }

    #[test]
    fn garbage_does_not_panic() {
        for input in [
            "\u{feff}",
            "<",
            "<Workbook",
            "<Workbook><Worksheet><Table><Row><Cell><Data ss:Type=\"Number\">1e999</Data></Cell></Row></Table></Worksheet></Workbook>",
            "<Workbook><Worksheet><Table><Row><Cell><Data>&#0;&#xD800;&#99999999999;&unknown;</Data></Cell></Row></Table></Worksheet></Workbook>",
            "<Workbook><Worksheet><Table><Row ss:Span=\"18446744073709551615\"/><Row/></Table></Worksheet></Workbook>",
            "<Workbook><Worksheet><Table><Row><Cell ss:MergeAcross=\"18446744073709551615\" ss:Index=\"16384\"/></Row></Table></Worksheet></Workbook>",
            "<Workbook></Workbook><Workbook></Workbook>",
            "<!DOCTYPE x [<!ENTITY a \"aaaa\">]><Workbook><Worksheet><Table><Row><Cell><Data>&a;&a;</Data></Cell></Row></Table></Worksheet></Workbook>",
            "</Workbook>",
            "<a:b:c/>",
            "<Workbook ss:=\"\"/>",
        ] {
            let _ = parse(input);
        }
        let deep = "<Workbook><Worksheet>".to_owned() + &"<x>".repeat(100_000);
        assert!(parse(&deep).is_err());
    }
}
