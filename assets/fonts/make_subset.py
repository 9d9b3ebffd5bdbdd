#!/usr/bin/env python3
"""Build assets/fonts/NotoSansSC-GBK.otf, the CJK font SheetBridge bundles for egui.

It takes face 2 ("Noto Sans CJK SC", Regular) of Debian's NotoSansCJK-Regular.ttc,
keeps every character of GBK plus the punctuation, full-width forms and UI symbols
listed below, drops what egui does not use (hinting, vertical metrics, glyph
substitution, variation sequences), renames the family (see README.md) and writes
one OpenType/CFF font.

    python3 assets/fonts/make_subset.py [SOURCE.ttc]

The output depends only on the source file and the fontTools version (README.md
names the one used): the same inputs give the same bytes.
"""

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

DEFAULT_SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
FACE_INDEX = 2  # 0 JP, 1 KR, 2 SC, 3 TC, 4 HK, then the Mono faces
EXPECTED_FAMILY = "Noto Sans CJK SC"
OUTPUT = Path(__file__).resolve().parent / "NotoSansSC-GBK.otf"

# The subset is a Modified Version under the OFL, and "Noto" is a Google
# trademark (name ID 7), so it carries a name of its own.
FAMILY = "SheetBridge Sans SC"
STYLE = "Regular"
POSTSCRIPT_NAME = "SheetBridgeSansSC-Regular"
ORIGINAL_POSTSCRIPT_PREFIX = "NotoSansCJKjp-Regular"  # the TTC's faces share one CFF table

# Rare given-name characters outside GB2312 (inside GBK) that must be present.
RARE_NAME_CHARS = "喆堃昇珺玥淏犇镕"

# Ranges kept in full, beyond GBK (only code points the font has end up in the subset).
EXTRA_RANGES = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1 Supplement: punctuation, · (U+00B7), × ÷ ° ± etc.
    (0x2000, 0x206F),  # General Punctuation: • (U+2022), dashes, quotes, ‰ ※ …
    (0x2100, 0x214F),  # Letterlike Symbols: ℃ № ™
    (0x2150, 0x218F),  # Number Forms: Roman numerals
    (0x2190, 0x21FF),  # Arrows
    (0x2460, 0x24FF),  # Enclosed Alphanumerics: ① ②
    (0x2500, 0x257F),  # Box Drawing
    (0x2580, 0x259F),  # Block Elements
    (0x25A0, 0x25FF),  # Geometric Shapes: ▶ ● ■ ○ ◆
    (0x2600, 0x26FF),  # Miscellaneous Symbols: ⚠ ☐ ☑ ★
    (0x2700, 0x27BF),  # Dingbats: ✔ ✖ ✓ ✗
    (0x3000, 0x303F),  # CJK Symbols and Punctuation
    (0xFF00, 0xFFEF),  # Halfwidth and Fullwidth Forms
    (0xFFFD, 0xFFFD),  # Replacement character
]

# Symbols the UI may show; the script reports which ones the font lacks.
UI_SYMBOLS = "✔✖✓✗✘⚠▶◀▲▼●○■□◆◇★☆☐☑☒→←↑↓⇒·•…※√×÷°℃№①②③"


def gbk_code_points():
    """Every BMP code point that Python's 'gbk' codec can encode (ASCII included)."""
    points = set()
    for cp in range(0x10000):
        if 0xD800 <= cp <= 0xDFFF:  # surrogates are not characters
            continue
        try:
            chr(cp).encode("gbk")
        except UnicodeEncodeError:
            continue
        points.add(cp)
    return points


def wanted_code_points():
    points = gbk_code_points()
    for first, last in EXTRA_RANGES:
        points.update(range(first, last + 1))
    points.update(ord(c) for c in RARE_NAME_CHARS + UI_SYMBOLS)
    return points


def subset_options():
    options = subset.Options()
    options.layout_features = ["kern"]  # egui shapes nothing; keep only Latin kerning
    options.drop_tables += ["BASE", "VORG", "vhea", "vmtx", "GSUB", "DSIG"]
    options.hinting = False  # egui rasterises unhinted outlines
    options.desubroutinize = False  # keeping CFF subroutines makes the file smaller
    options.notdef_outline = True  # a visible box for characters outside the subset
    options.glyph_names = False
    options.name_IDs = ["*"]  # keep copyright, trademark and licence records
    options.name_languages = [0x0409]
    options.name_legacy = False
    options.recalc_timestamp = False  # keep head.modified from the source
    options.recalc_bounds = True
    options.prune_unicode_ranges = True
    options.canonical_order = True
    return options


def drop_variation_sequences(font):
    """Remove the cmap format 14 subtable so the subset keeps no IVS-only glyphs."""
    cmap = font["cmap"]
    cmap.tables = [t for t in cmap.tables if t.format != 14]


def rename(font):
    name = font["name"]
    version = f"{font['head'].fontRevision:.3f}"
    records = {
        1: FAMILY,
        2: STYLE,
        3: f"{version};SheetBridge;{POSTSCRIPT_NAME}",
        4: f"{FAMILY} {STYLE}" if STYLE != "Regular" else FAMILY,
        6: POSTSCRIPT_NAME,
        16: FAMILY,
        17: STYLE,
    }
    for name_id, text in records.items():
        name.removeNames(nameID=name_id)
        name.setName(text, name_id, 3, 1, 0x409)
    description = (
        "Subset of Noto Sans CJK SC Regular (GBK plus UI symbols) made for "
        "SheetBridge; renamed as a Modified Version under the SIL OFL 1.1."
    )
    name.removeNames(nameID=10)
    name.setName(description, 10, 3, 1, 0x409)

    cff = font["CFF "].cff
    cff.fontNames = [POSTSCRIPT_NAME]
    top = cff.topDictIndex[0]
    top.FullName = f"{FAMILY} {STYLE}"
    top.FamilyName = FAMILY
    for fd in getattr(top, "FDArray", []):
        if fd.FontName.startswith(ORIGINAL_POSTSCRIPT_PREFIX):
            fd.FontName = POSTSCRIPT_NAME + fd.FontName[len(ORIGINAL_POSTSCRIPT_PREFIX):]


def main(argv):
    source = argv[1] if len(argv) > 1 else DEFAULT_SOURCE
    font = TTFont(source, fontNumber=FACE_INDEX, recalcTimestamp=False)
    family = font["name"].getDebugName(1)
    if family != EXPECTED_FAMILY:
        sys.exit(f"face {FACE_INDEX} of {source} is {family!r}, expected {EXPECTED_FAMILY!r}")

    drop_variation_sequences(font)
    wanted = wanted_code_points()
    have = set(font.getBestCmap())
    printable_gbk = (cp for cp in gbk_code_points() if cp >= 0x20 and cp != 0x7F)
    missing_gbk = sorted(cp for cp in printable_gbk if cp not in have)

    subsetter = subset.Subsetter(options=subset_options())
    subsetter.populate(unicodes=sorted(wanted & have))
    subsetter.subset(font)
    rename(font)
    font.save(OUTPUT, reorderTables=True)

    out = TTFont(OUTPUT)
    cmap = out.getBestCmap()
    lost = [c for c in RARE_NAME_CHARS if ord(c) not in cmap]
    if lost:
        sys.exit(f"rare name characters missing from the subset: {''.join(lost)}")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes, "
          f"{out['maxp'].numGlyphs} glyphs, {len(cmap)} characters)")
    if missing_gbk:
        shown = " ".join(f"U+{cp:04X}" for cp in missing_gbk[:40])
        more = " ..." if len(missing_gbk) > 40 else ""
        print(f"printable GBK characters the source font lacks ({len(missing_gbk)}): {shown}{more}")
    absent = [c for c in UI_SYMBOLS if ord(c) not in cmap]
    print("UI symbols the font lacks:", " ".join(f"{c} U+{ord(c):04X}" for c in absent) or "none")


if __name__ == "__main__":
    main(sys.argv)
