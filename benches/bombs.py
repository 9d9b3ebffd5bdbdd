#!/usr/bin/env python3
"""Zip bombs for the benchmark (benches/convert.sh): .xlsx files of a few megabytes whose one
part inflates to GIGS gigabytes. The peak memory of `sheetbridge check` on each must stay under
1 GiB (cli.md). The same kinds are built in Rust by tests/hostile.rs, smaller.

    python3 benches/bombs.py OUT_DIR [GIGS]
"""
import sys
import zipfile
import zlib
from pathlib import Path

NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
CT = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>"""
RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"""
WB = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook {NS} xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"""
WB_RELS = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>"""
SST = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst {NS} count="1" uniqueCount="1"><si><t>姓名</t></si></sst>'
SHEET_HEAD = f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {NS}><sheetData>'
SHEET = SHEET_HEAD + '<row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>'


def write(path: Path, big_name: str, head: str, unit: str, total: int, tail: str) -> None:
    """A workbook whose part big_name is head + unit repeated to total bytes + tail."""
    parts = {"[Content_Types].xml": CT, "_rels/.rels": RELS, "xl/workbook.xml": WB,
             "xl/_rels/workbook.xml.rels": WB_RELS, "xl/sharedStrings.xml": SST,
             "xl/worksheets/sheet1.xml": SHEET}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as z:
        for name, text in parts.items():
            if name != big_name:
                z.writestr(name, text)
        block = (unit * max(1, (1 << 20) // len(unit))).encode()
        with z.open(big_name, "w", force_zip64=True) as f:
            f.write(head.encode())
            for _ in range(total // len(block)):
                f.write(block)
            f.write(tail.encode())


def main() -> None:
    out = Path(sys.argv[1])
    gigs = float(sys.argv[2]) if len(sys.argv) > 2 else 2
    total = int(gigs * (1 << 30))
    out.mkdir(parents=True, exist_ok=True)
    sheet = "xl/worksheets/sheet1.xml"
    end = "</sheetData></worksheet>"
    write(out / "bomb_whitespace.xlsx", sheet, SHEET_HEAD, " " * 64, total, end)
    write(out / "bomb_cell.xlsx", sheet, SHEET_HEAD + '<row r="1"><c r="A1" t="inlineStr"><is><t>',
          "x" * 64, total, "</t></is></c></row>" + end)
    write(out / "bomb_shared_string.xlsx", "xl/sharedStrings.xml",
          f'<?xml version="1.0" encoding="UTF-8"?>\n<sst {NS} count="1" uniqueCount="1"><si><t>',
          "y" * 64, total, "</t></si></sst>")
    write(out / "bomb_merges_first.xlsx", sheet,
          f'<?xml version="1.0" encoding="UTF-8"?>\n<worksheet {NS}><mergeCells>',
          '<mergeCell ref="A1:B2"/>', total,
          '</mergeCells><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>')
    write(out / "bomb_many_cells.xlsx", sheet, SHEET_HEAD, '<row><c t="s"><v>0</v></c></row>',
          total, end)
    for p in sorted(out.glob("bomb_*.xlsx")):
        print(f"{p.name}: {p.stat().st_size / 1e6:.1f} MB", file=sys.stderr)


if __name__ == "__main__":
    main()
