//! HTML tables saved under an `.xls` name (what old web systems export): one sheet per table.
//!
//! HTML has no cell types, so every value is text. `colspan` and `rowspan` are laid out as a
//! browser does, and each spanned block becomes a merge with its value in the top-left cell.

// Over 600 lines: the parser is about 400; the rest are its tests, kept beside it.

use super::limits::{self, Limit, Place};
use super::{Cell, MemorySheet, Merge};
use crate::rules::text::is_space;
use scraper::{ElementRef, Html, Node};

/// Browsers clamp larger `colspan` values to this (HTML standard).
const MAX_COLSPAN: u32 = 1000;
/// Browsers clamp larger `rowspan` values to this (HTML standard).
const MAX_ROWSPAN: u32 = 65534;
/// Excel's column count: cells pushed beyond it are dropped.
const MAX_COLS: u32 = 16_384;
/// Grid positions allowed per document on top of one per input byte. Spans can push a few
/// bytes of markup far to the right; this keeps a hostile file from taking gigabytes.
const BASE_BUDGET: usize = 1 << 22;

/// Parses every top-level `<table>` with at least one row into a sheet named 表1, 表2, ...
/// Tables nested in another table's cell are part of that cell's text.
pub(super) fn parse(text: &str) -> Vec<MemorySheet> {
    let doc = Html::parse_document(text);
    let mut budget = Budget(BASE_BUDGET.saturating_add(text.len()));
    let mut sheets = Vec::new();
    for table in top_level_tables(&doc) {
        let rows = table_rows(table);
        if rows.is_empty() {
            continue;
        }
        let mut layout = Layout::default();
        let complete = layout.lay_out(&rows, &mut budget);
        sheets.push(MemorySheet {
            name: format!("表{}", sheets.len() + 1),
            rows: layout.rows,
            merges: layout.merges,
        });
        if !complete {
            break;
        }
    }
    sheets
}

/// Elements that never hold others (no end tag).
const VOID: &[&[u8]] = &[
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"param",
    b"source", b"track", b"wbr",
];
/// Elements whose end tag may be left out (a browser closes them at the next sibling): not
/// counted as nesting, so sloppy tables are not taken for deep ones.
const IMPLIED_END: &[&[u8]] = &[
    b"p",
    b"li",
    b"dt",
    b"dd",
    b"tr",
    b"td",
    b"th",
    b"thead",
    b"tbody",
    b"tfoot",
    b"option",
    b"optgroup",
    b"colgroup",
    b"caption",
    b"rb",
    b"rt",
    b"rp",
    b"html",
    b"head",
    b"body",
];

/// Refuses, before parsing, HTML nested deeper than [`limits::MAX_DEPTH`] levels (the parser
/// takes time growing with the square of the depth) or with a cell over
/// [`limits::MAX_CELL_BYTES`], naming the line.
pub(super) fn check_limits(text: &str) -> Result<(), Limit> {
    let bytes = text.as_bytes();
    let mut stack: Vec<&[u8]> = Vec::new();
    let (mut i, mut line, mut cell) = (0usize, 1u64, 0usize);
    let place = |line: u64| Place {
        part: String::new(),
        row: None,
        line,
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b != b'<' {
            if b == b'\n' {
                line += 1;
            }
            cell += 1;
            if cell > limits::MAX_CELL_BYTES {
                return Err(Limit::Cell(place(line)));
            }
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        // The end of this markup: a comment, a tag; raw text of script and style is skipped.
        let end_mark: &[u8] = if rest.starts_with(b"<!--") {
            b"-->"
        } else {
            b">"
        };
        let Some(len) = memchr::memmem::find(rest, end_mark) else {
            return Ok(());
        };
        let tag = &rest[1..len];
        line += memchr::memchr_iter(b'\n', &rest[..len]).count() as u64;
        i += len + end_mark.len();
        if tag.starts_with(b"!") || tag.starts_with(b"?") {
            continue;
        }
        let (closing, name) = tag_name(tag);
        let lower = name.to_ascii_lowercase();
        if !closing && (lower == b"script" || lower == b"style") {
            let close: &[u8] = if lower == b"script" {
                b"</script"
            } else {
                b"</style"
            };
            let raw = &bytes[i..];
            let end = raw
                .windows(close.len())
                .position(|w| w.eq_ignore_ascii_case(close))
                .unwrap_or(raw.len());
            line += memchr::memchr_iter(b'\n', &raw[..end]).count() as u64;
            i += end;
            continue;
        }
        if !closing && (lower == b"td" || lower == b"th" || lower == b"tr") {
            cell = 0;
        }
        if VOID.contains(&lower.as_slice())
            || IMPLIED_END.contains(&lower.as_slice())
            || tag.ends_with(b"/")
            || name.is_empty()
        {
            continue;
        }
        if closing {
            if let Some(at) = stack.iter().rposition(|n| n.eq_ignore_ascii_case(name)) {
                stack.truncate(at);
            }
        } else {
            stack.push(name);
            if stack.len() > limits::MAX_DEPTH {
                return Err(Limit::Depth(place(line)));
            }
        }
    }
    Ok(())
}

/// A tag's name, and whether it closes one (`/td`): `tag` is what stands between `<` and `>`.
fn tag_name(tag: &[u8]) -> (bool, &[u8]) {
    let closing = tag.first() == Some(&b'/');
    let start = usize::from(closing);
    let len = tag[start..]
        .iter()
        .position(|c| c.is_ascii_whitespace() || *c == b'/')
        .unwrap_or(tag.len() - start);
    (closing, &tag[start..start + len])
}

/// Grid positions left to fill; spent as rows grow and as carried rowspans are scanned.
struct Budget(usize);

impl Budget {
    fn spend(&mut self, n: usize) -> bool {
        match self.0.checked_sub(n) {
            Some(left) => {
                self.0 = left;
                true
            }
            None => false,
        }
    }
}

/// `<table>` elements not inside another table, in document order.
fn top_level_tables(doc: &Html) -> Vec<ElementRef<'_>> {
    let mut tables = Vec::new();
    // An explicit stack: deeply nested markup must not overflow the call stack.
    let mut stack = vec![*doc.root_element()];
    while let Some(node) = stack.pop() {
        match ElementRef::wrap(node) {
            Some(el) if el.value().name() == "table" => tables.push(el),
            _ => stack.extend(node.children().rev()),
        }
    }
    tables
}

/// The table's own `<tr>` elements (directly or in thead/tbody/tfoot), in document order.
fn table_rows(table: ElementRef<'_>) -> Vec<ElementRef<'_>> {
    let mut rows = Vec::new();
    for child in table.child_elements() {
        match child.value().name() {
            "tr" => rows.push(child),
            "thead" | "tbody" | "tfoot" => rows.extend(
                child
                    .child_elements()
                    .filter(|el| el.value().name() == "tr"),
            ),
            _ => {}
        }
    }
    rows
}

/// The `<td>` and `<th>` elements of a row.
fn row_cells<'a>(tr: ElementRef<'a>) -> impl Iterator<Item = ElementRef<'a>> {
    tr.child_elements()
        .filter(|el| matches!(el.value().name(), "td" | "th"))
}

/// One table being laid out on a grid.
#[derive(Default)]
struct Layout {
    rows: Vec<(u32, Vec<Cell>)>,
    merges: Vec<Merge>,
    /// Blocks of cells with `rowspan` > 1 that still cover later rows, sorted by first column.
    carried: Vec<Merge>,
}

impl Layout {
    /// Lays out all rows. False when the budget ran out and the table was cut short.
    fn lay_out(&mut self, rows: &[ElementRef<'_>], budget: &mut Budget) -> bool {
        let Ok(total) = u32::try_from(rows.len()) else {
            return false;
        };
        (0..total)
            .zip(rows)
            .all(|(row, tr)| self.lay_out_row(row, total - row, *tr, budget))
    }

    /// Lays out row `row`, with `rows_left` rows (this one included) left in the table.
    fn lay_out_row(
        &mut self,
        row: u32,
        rows_left: u32,
        tr: ElementRef<'_>,
        budget: &mut Budget,
    ) -> bool {
        self.carried.retain(|block| block.last_row >= row);
        if !budget.spend(self.carried.len()) {
            return false;
        }
        let mut cells = Vec::new();
        let mut new_blocks = Vec::new();
        let mut from_above = self.carried.iter().peekable();
        let mut col = 0;
        for td in row_cells(tr) {
            // Skip the columns taken by rowspans from rows above.
            while let Some(block) = from_above.next_if(|b| b.first_col <= col) {
                col = col.max(block.last_col + 1);
            }
            if col >= MAX_COLS {
                break;
            }
            // A colspan running into a rowspan from above stops short of it, so merges
            // never overlap (browsers draw overlapping cells; Excel refuses them).
            let room = from_above.peek().map_or(MAX_COLS, |b| b.first_col) - col;
            let width = span(td.attr("colspan"), MAX_COLSPAN).min(room);
            let height = span(td.attr("rowspan"), MAX_ROWSPAN).min(rows_left);
            let block = Merge {
                first_row: row,
                last_row: row + height - 1,
                first_col: col,
                last_col: col + width - 1,
            };
            if width > 1 || height > 1 {
                self.merges.push(block);
            }
            if height > 1 {
                new_blocks.push(block);
            }
            let text = cell_text(td);
            if !text.is_empty() && !place(&mut cells, col, Cell::Text(text), budget) {
                return false;
            }
            col += width;
        }
        self.carried.extend(new_blocks);
        self.carried.sort_by_key(|block| block.first_col);
        if !cells.is_empty() {
            self.rows.push((row, cells));
        }
        true
    }
}

/// Puts `value` at column `col`, padding with empty cells; false when over budget.
fn place(cells: &mut Vec<Cell>, col: u32, value: Cell, budget: &mut Budget) -> bool {
    let col = col as usize;
    if !budget.spend((col + 1).saturating_sub(cells.len())) {
        return false;
    }
    if cells.len() <= col {
        cells.resize(col + 1, Cell::Empty);
    }
    cells[col] = value;
    true
}

/// A `colspan`/`rowspan` value read as browsers do ("2px" is 2; missing, bad or 0 is 1),
/// clamped to `max`.
fn span(value: Option<&str>, max: u32) -> u32 {
    let Some(value) = value else {
        return 1;
    };
    let value = value.trim_start_matches(|c: char| c.is_ascii_whitespace());
    let value = value.strip_prefix('+').unwrap_or(value);
    let digits = value
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(value.len());
    match value[..digits].parse::<u64>() {
        Ok(0) => 1,
        Ok(n) => u32::try_from(n).unwrap_or(u32::MAX).min(max),
        // No digits at all; or so many that they overflow, which means "huge".
        Err(_) if digits == 0 => 1,
        Err(_) => max,
    }
}

/// A step of the walk over a cell's content.
enum Step<N> {
    Visit(N),
    /// The end of a block element: words on either side stay apart.
    Space,
}

/// The text of a cell: `<br>` and block boundaries become spaces, runs of white space
/// (`&nbsp;` included) collapse to one space, and the ends are trimmed.
fn cell_text(cell: ElementRef<'_>) -> String {
    let mut raw = String::new();
    let mut stack: Vec<_> = cell.children().rev().map(Step::Visit).collect();
    while let Some(step) = stack.pop() {
        let node = match step {
            Step::Visit(node) => node,
            Step::Space => {
                raw.push(' ');
                continue;
            }
        };
        match node.value() {
            Node::Text(text) => raw.push_str(text),
            Node::Element(el) => match el.name() {
                "br" => raw.push(' '),
                "script" | "style" | "template" => {}
                name => {
                    if is_block(name) {
                        raw.push(' ');
                        stack.push(Step::Space);
                    }
                    stack.extend(node.children().rev().map(Step::Visit));
                }
            },
            _ => {}
        }
    }
    collapse_spaces(&raw)
}

/// Elements a browser shows on a line of their own.
fn is_block(name: &str) -> bool {
    matches!(
        name,
        "address"
            | "blockquote"
            | "dd"
            | "div"
            | "dl"
            | "dt"
            | "h1"
            | "h2"
            | "h3"
            | "h4"
            | "h5"
            | "h6"
            | "hr"
            | "li"
            | "ol"
            | "p"
            | "pre"
            | "table"
            | "td"
            | "th"
            | "tr"
            | "ul"
    )
}

/// Collapses runs of white space to one ASCII space and trims both ends.
fn collapse_spaces(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for word in raw.split(is_space).filter(|w| !w.is_empty()) {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }

    #[test]
    fn nesting_over_the_limit_is_refused_before_parsing() {
        let deep = |n: usize| {
            format!(
                "<html><body>\n<table><tr><td>{}x</td></tr></table>",
                "<div>".repeat(n)
            )
        };
        assert_eq!(check_limits(&deep(limits::MAX_DEPTH - 1)), Ok(()));
        let e = check_limits(&deep(200_000)).unwrap_err();
        assert!(matches!(e, Limit::Depth(Place { line: 2, .. })), "{e:?}");
        let zh = e.message().zh;
        assert!(zh.contains("1000 层"), "{zh}");
        // Closed elements, unclosed cells and void elements do not add up.
        let flat = "<table>".to_owned()
            + &"<tr><td><div>a</div><br><img src=x><p>b".repeat(5_000)
            + "</table>";
        assert_eq!(check_limits(&flat), Ok(()));
        let script = format!("<script>{}</script><table><tr><td>1", "<div>".repeat(5_000));
        assert_eq!(check_limits(&script), Ok(()));
    }

    #[test]
    fn a_cell_over_the_limit_names_its_line() {
        let html = format!(
            "<table>\n<tr><td>a</td></tr>\n<tr><td>{}</td></tr></table>",
            "x".repeat(limits::MAX_CELL_BYTES + 1)
        );
        assert!(matches!(
            check_limits(&html),
            Err(Limit::Cell(Place { line: 3, .. }))
        ));
        // A 40,000-character cell is within the limit (the row gets text_too_long later).
        let long = format!("<table><tr><td>{}</td></tr></table>", "址".repeat(40_000));
        assert_eq!(check_limits(&long), Ok(()));
    }

    fn merge(first_row: u32, last_row: u32, first_col: u32, last_col: u32) -> Merge {
        Merge {
            first_row,
            last_row,
            first_col,
            last_col,
        }
    }

    fn only_sheet(html: &str) -> MemorySheet {
        let mut sheets = parse(html);
        assert_eq!(sheets.len(), 1, "expected one sheet");
        sheets.remove(0)
    }

    #[test]
    fn plain_table_with_thead_and_tbody() {
        let sheet = only_sheet(
            "<html><head><meta charset=gbk></head><body><table>\
             <thead><tr><th>姓名</th><th>证件号码</th></tr></thead>\
             <tbody><tr><td>张三</td><td>110101199003071234</td></tr>\
             <tr><td>李四</td><td></td></tr></tbody></table></body></html>",
        );
        assert_eq!(sheet.name, "表1");
        assert_eq!(
            sheet.rows,
            vec![
                (0, vec![text("姓名"), text("证件号码")]),
                (1, vec![text("张三"), text("110101199003071234")]),
                (2, vec![text("李四")]),
            ]
        );
        assert!(sheet.merges.is_empty());
    }

    #[test]
    fn rowspan_pushes_later_cells_right() {
        // Row 0: A spans rows 0-1, B spans columns 1-2, C.
        // Row 1: D and E land after A's column.
        // Row 2: F spans columns 0-1 and rows 2-3, G. Row 3: H lands in column 2.
        let sheet = only_sheet(
            "<table>\
             <tr><td rowspan=2>A</td><td colspan=2>B</td><td>C</td></tr>\
             <tr><td>D</td><td>E</td><td>e2</td></tr>\
             <tr><td colspan=2 rowspan=2>F</td><td>G</td></tr>\
             <tr><td>H</td></tr>\
             </table>",
        );
        assert_eq!(
            sheet.rows,
            vec![
                (0, vec![text("A"), text("B"), Cell::Empty, text("C")]),
                (1, vec![Cell::Empty, text("D"), text("E"), text("e2")]),
                (2, vec![text("F"), Cell::Empty, text("G")]),
                (3, vec![Cell::Empty, Cell::Empty, text("H")]),
            ]
        );
        assert_eq!(
            sheet.merges,
            vec![merge(0, 1, 0, 0), merge(0, 0, 1, 2), merge(2, 3, 0, 1)]
        );
    }

    #[test]
    fn rowspan_in_the_middle_and_empty_spanned_cell() {
        let sheet = only_sheet(
            "<table>\
             <tr><td>1</td><td rowspan=3></td><td>3</td></tr>\
             <tr><td>4</td><td>6</td></tr>\
             <tr><td>7</td><td>9</td></tr>\
             </table>",
        );
        assert_eq!(
            sheet.rows,
            vec![
                (0, vec![text("1"), Cell::Empty, text("3")]),
                (1, vec![text("4"), Cell::Empty, text("6")]),
                (2, vec![text("7"), Cell::Empty, text("9")]),
            ]
        );
        assert_eq!(sheet.merges, vec![merge(0, 2, 1, 1)]);
    }

    #[test]
    fn rowspan_is_clamped_to_the_rows_left() {
        let sheet = only_sheet(
            "<table><tr><td rowspan=99999999999>A</td><td>B</td></tr><tr><td>C</td></tr></table>",
        );
        assert_eq!(sheet.merges, vec![merge(0, 1, 0, 0)]);
        assert_eq!(sheet.rows[1], (1, vec![Cell::Empty, text("C")]));
    }

    #[test]
    fn span_values_are_read_like_a_browser() {
        assert_eq!(span(None, 1000), 1);
        assert_eq!(span(Some(""), 1000), 1);
        assert_eq!(span(Some("0"), 1000), 1);
        assert_eq!(span(Some("abc"), 1000), 1);
        assert_eq!(span(Some("-3"), 1000), 1);
        assert_eq!(span(Some(" 3"), 1000), 3);
        assert_eq!(span(Some("+2px"), 1000), 2);
        assert_eq!(span(Some("5000"), 1000), 1000);
        assert_eq!(span(Some("99999999999999999999999"), 1000), 1000);
    }

    #[test]
    fn nested_markup_br_and_nbsp() {
        let sheet = only_sheet(
            "<table><tr>\
             <td>  <b>张</b><span>三</span>\n\t </td>\
             <td>line1<br>line2<br/>line3</td>\
             <td>&nbsp;</td>\
             <td>&nbsp;110101199003071234&nbsp;</td>\
             <td><div>a</div><div>b</div><p>c</p></td>\
             <td><font color=red>阳性</font><script>var x = 1;</script></td>\
             </tr></table>",
        );
        assert_eq!(
            sheet.rows,
            vec![(
                0,
                vec![
                    text("张三"),
                    text("line1 line2 line3"),
                    Cell::Empty,
                    text("110101199003071234"),
                    text("a b c"),
                    text("阳性"),
                ]
            )]
        );
    }

    #[test]
    fn several_tables_become_several_sheets() {
        let sheets = parse(
            "<p>title</p><table><tr><td>a</td></tr></table>\
             <table></table>\
             <table><tr><td>b</td></tr></table>",
        );
        let names: Vec<&str> = sheets.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["表1", "表2"]);
        assert_eq!(sheets[0].rows, vec![(0, vec![text("a")])]);
        assert_eq!(sheets[1].rows, vec![(0, vec![text("b")])]);
    }

    #[test]
    fn nested_table_is_text_of_the_outer_cell() {
        let sheets = parse(
            "<table><tr><td>outer</td><td><table><tr><td>x</td><td>y</td></tr></table></td></tr>\
             <tr><td>next</td></tr></table>",
        );
        assert_eq!(sheets.len(), 1);
        assert_eq!(
            sheets[0].rows,
            vec![
                (0, vec![text("outer"), text("x y")]),
                (1, vec![text("next")])
            ]
        );
    }

    #[test]
    fn fragment_without_html_or_body_still_parses() {
        let sheet = only_sheet("<tr><td>loose</td></tr><table><tr><td>ok");
        assert_eq!(sheet.rows, vec![(0, vec![text("ok")])]);
    }

    #[test]
    fn colspan_stops_before_a_rowspan_from_above() {
        let sheet = only_sheet(
            "<table><tr><td>a</td><td rowspan=2>b</td></tr>\
             <tr><td colspan=5>c</td><td>d</td></tr></table>",
        );
        assert_eq!(sheet.rows[1], (1, vec![text("c"), Cell::Empty, text("d")]));
        assert_eq!(sheet.merges, vec![merge(0, 1, 1, 1)]);
    }

    #[test]
    fn huge_spans_stay_small() {
        // Every row starts right of the previous row's block: the grid would run to
        // millions of columns without the column limit.
        let mut html = String::from("<table>");
        for _ in 0..2000 {
            html.push_str("<tr><td colspan=1000 rowspan=65534>x</td><td>y</td>");
        }
        let sheet = only_sheet(&html);
        assert!(
            sheet
                .rows
                .iter()
                .all(|(_, cells)| cells.len() <= MAX_COLS as usize)
        );
        assert!(
            sheet
                .merges
                .iter()
                .all(|m| m.last_col < MAX_COLS && m.last_row < 2000)
        );
    }

    #[test]
    fn budget_cuts_off_a_hostile_table() {
        let mut budget = Budget(10);
        let doc = Html::parse_document(
            "<table><tr><td colspan=8>a</td><td>b</td></tr><tr><td>c</td></tr></table>",
        );
        let tables = top_level_tables(&doc);
        let rows = table_rows(tables[0]);
        let mut layout = Layout::default();
        assert!(layout.lay_out(&rows, &mut budget));
        let mut budget = Budget(5);
        let mut layout = Layout::default();
        assert!(!layout.lay_out(&rows, &mut budget));
    }

    #[test]
    fn garbage_does_not_panic() {
        for input in [
            "",
            "not html at all",
            "<table>",
            "<table><tr>",
            "<table><tr><td colspan=-1 rowspan=abc>x",
            "<table><td rowspan=0>a<td colspan=99999999999999>b</table>",
            "</table></tr></td><td><tr>",
            "<table><tr><td>\u{0}\u{FFFF}</td></tr></table>",
            "<<<>>>&&&;;;<table<tr<td",
            "<table><caption>c</caption><colgroup><col></colgroup><tfoot><tr><td>f</td></tr></tfoot></table>",
        ] {
            let _ = parse(input);
        }
        // html5ever itself is slow on very deep nesting, so keep this moderate.
        let deep = "<div>".repeat(2000) + "<table><tr><td>" + &"<span>".repeat(2000) + "x";
        assert_eq!(parse(&deep).len(), 1);
    }
}
