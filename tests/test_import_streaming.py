"""The streaming .xlsx reader gives exactly what the python-calamine path gives.

Sheets above ``STREAM_ROWS`` rows are read from their XML (``imports.streaming_xlsx``)
so that a 1M-row import never holds calamine's whole grid.  Every workbook here is
written by a real tool (openpyxl, xlsxwriter, LibreOffice) and read twice through
``read_workbook``: once with the threshold at 0 (every sheet streamed) and once above
any sheet (calamine); names, visibility, heights, merged ranges, formula gaps and
every row must be equal.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
import xlsxwriter
from openpyxl.styles import Font
from python_calamine import CalamineWorkbook

from heating.config import load_config
from imports import streaming_xlsx
from imports.formula_gaps import formulas_without_value
from imports.issues import LedgerRejected
from imports.readers import RawSheet, ReadLimits, read_workbook

NEVER = 10**9


def limits(stream_rows: int) -> ReadLimits:
    return ReadLimits(50, 1_000_000, 500, stream_rows=stream_rows)


def read(data: bytes, stream_rows: int) -> list[tuple[Any, ...]]:
    out = []
    for sheet in read_workbook(data, "台账.xlsx", limits(stream_rows)).sheets:
        rows = list(sheet.iter_rows()) if sheet.visible else None
        out.append(
            (
                sheet.name,
                sheet.visible,
                sheet.height,
                sheet.merged,
                sorted(sheet.formulas_without_value),
                rows,
            )
        )
    return out


def streamed_flags(data: bytes, stream_rows: int) -> dict[str, bool]:
    flags = {}
    for sheet in read_workbook(data, "台账.xlsx", limits(stream_rows)).sheets:
        flags[sheet.name] = sheet.streamed
        if sheet.visible:
            list(sheet.iter_rows())
    return flags


def assert_same(data: bytes) -> None:
    """Both readers give the same sheets; the streaming one really was used."""
    calamine, streamed = read(data, NEVER), read(data, 0)
    for a, b in zip(calamine, streamed, strict=True):
        assert a[:5] == b[:5]
        assert a[5] is None or len(a[5]) == len(b[5]), a[0]
        for number, (x, y) in enumerate(zip(a[5] or [], b[5] or [], strict=True), 1):
            assert x == y, f"{a[0]} row {number}"
            assert [type(v) for v in x] == [type(v) for v in y], f"{a[0]} row {number}"
    visible = {name for name, visible, height, *_ in calamine if visible and height}
    assert {n for n, s in streamed_flags(data, 0).items() if s} == visible
    assert not any(streamed_flags(data, NEVER).values())


# --------------------------------------------------------------------------
# Workbooks as clerks' tools write them
# --------------------------------------------------------------------------


def cell_zoo(ws: Any) -> None:
    """Every kind of cell a ledger holds, with title rows, merged header and blank rows."""
    ws.append(["麟绛街道清洁取暖改造台账"])
    ws.merge_cells("A1:J1")
    ws.append([])
    ws.append(
        ["户号", "身份证号", "完工日期", "时间", "户主", "人口", "补贴(元)", None, "是否", "备注"]
    )
    ws.append([None, None, None, None, None, None, "设备补贴", "运行补贴", None, None])
    ws.merge_cells("G3:H3")
    rows = [
        ["0012", "14040519900101123X", date(2021, 6, 30), datetime(2021, 6, 30, 12, 30)],
        ["A&B<C>", "'140405", datetime(2021, 7, 1, 0, 0), time(8, 30, 15)],
        ["  空格 ", "1.40405E+17", date(1999, 12, 31), timedelta(hours=30, minutes=5)],
        [None, 140405199001011230, date(1900, 2, 28), 0.5],
        ["全角１２３", "行\n换", date(2035, 1, 1), None],
    ]
    for i, (a, b, c, d) in enumerate(rows):
        ws.append(
            [a, b, c, d, f"户主{i}", i + 1, 8000.5 * i, -0.0 if i == 2 else 1e20, i % 2 == 0, ""]
        )
    ws.append([])
    ws.append(["合计", None, None, None, None, "=SUM(F5:F9)", 1 / 3, None, False, "注：……"])
    ws.row_dimensions[6].hidden = True
    ws.column_dimensions["B"].hidden = True
    ws["K12"].font = Font(bold=True)  # styled, empty: outside the grid
    for row in ws.iter_rows(min_row=5, max_row=9, min_col=3, max_col=3):
        row[0].number_format = "yyyy年m月d日"
    ws["D6"].number_format = "h:mm:ss"
    ws["D7"].number_format = "[h]:mm"
    ws["D8"].number_format = 'm"月"d"日"'
    ws["G5"].number_format = '#,##0.00"元"'
    ws["G6"].number_format = "0.00%"


def openpyxl_book() -> bytes:
    wb = openpyxl.Workbook()
    cell_zoo(wb.active)
    wb.active.title = "台账"
    hidden = wb.create_sheet("隐藏")
    hidden.append(["不读"])
    hidden.sheet_state = "hidden"
    late = wb.create_sheet("从中间开始")
    late["C4"] = "左上角不是 A1"
    late["E7"] = 7
    wb.create_sheet("空表")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def xlsxwriter_book(**options: Any) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True, **options})
    ws = wb.add_worksheet("台账")
    dated = wb.add_format({"num_format": "yyyy-mm-dd"})
    bold = wb.add_format({"bold": True})
    ws.write_row(0, 0, ["户号", "完工日期", "户主", "人口", "说明", "公式"])
    for r in range(1, 40):
        ws.write_string(r, 0, f"{r:05d}")
        ws.write_datetime(r, 1, datetime(2021, 1 + r % 12, 1 + r % 28), dated)
        ws.write_string(r, 2, f"户主{r}" if r % 7 else "")
        ws.write_number(r, 3, r * 1.25)
        if r % 5 == 0:
            ws.write_rich_string(r, 4, "前", bold, "加粗", "后")
        ws.write_formula(r, 5, f"=D{r + 1}*2", None, r * 2.5)
    ws.write_boolean(41, 0, True)
    ws.write_formula(41, 1, "=1/0", None, "#DIV/0!")
    ws.write_blank(45, 8, None, bold)  # styled blank far away
    wb.close()
    return buf.getvalue()


def test_openpyxl_workbook_reads_the_same_both_ways():
    assert_same(openpyxl_book())


def test_xlsxwriter_workbooks_read_the_same_both_ways():
    assert_same(xlsxwriter_book())  # shared strings
    assert_same(xlsxwriter_book(constant_memory=True))  # inline strings, as the benchmark
    assert_same(xlsxwriter_book(date_1904=True))


@pytest.fixture(scope="module")
def libreoffice_book(tmp_path_factory) -> bytes:
    """The openpyxl workbook saved again by LibreOffice (shared strings, its own styles)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.skip("LibreOffice (soffice) not installed")
    folder = tmp_path_factory.mktemp("lo")
    (folder / "in").mkdir()
    (folder / "in" / "台账.xlsx").write_bytes(openpyxl_book())
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{folder}/profile",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(folder),
            str(folder / "in" / "台账.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (folder / "台账.xlsx").read_bytes()


@pytest.mark.slow  # a LibreOffice conversion (soffice, 2-4 s): not in the quick run, always in CI
def test_libreoffice_workbook_reads_the_same_both_ways(libreoffice_book):
    assert b"sharedStrings" in libreoffice_book
    assert_same(libreoffice_book)


def test_sample_ledger_reads_the_same_both_ways():
    folder = Path(__file__).parent / "data" / "ledgers"
    for path in folder.glob("*.xlsx"):
        assert_same(path.read_bytes())


def rewrite_sheet(data: bytes, change: Any, name: str = "xl/worksheets/sheet1.xml") -> bytes:
    """The same workbook with one worksheet's XML changed."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            body = src.read(item.filename)
            dst.writestr(item, change(body) if item.filename == name else body)
    return out.getvalue()


def test_prefixed_namespace_phonetic_runs_and_escapes_read_the_same():
    """A sheet in the x: namespace, a phonetic (rPh) run, _x000D_ and entity escapes."""
    data = xlsxwriter_book()

    def prefixed(body: bytes) -> bytes:
        body = body.replace(b"<worksheet xmlns=", b"<x:worksheet xmlns:x=")
        body = body.replace(b"</worksheet>", b"</x:worksheet>")
        return re.sub(
            rb"<(/?)(sheetData|row|c|v|f|is|t|mergeCells|mergeCell|cols|col)\b", rb"<\1x:\2", body
        )

    assert_same(rewrite_sheet(data, prefixed))
    phonetic = rewrite_sheet(
        data,
        lambda body: body,
    )
    sst = zipfile.ZipFile(io.BytesIO(phonetic)).read("xl/sharedStrings.xml")
    first = re.search(rb"<si><t>([^<]*)</t></si>", sst)
    assert first
    changed = sst.replace(
        first.group(0),
        b'<si><r><t>A&amp;B_x000D_</t></r><r><t xml:space="preserve"> \xe5\xbc\xa0</t></r>'
        b'<rPh sb="0" eb="1"><t>zhang</t></rPh></si>',
        1,
    )
    assert_same(rewrite_sheet(phonetic, lambda _: changed, "xl/sharedStrings.xml"))


# --------------------------------------------------------------------------
# Which reader
# --------------------------------------------------------------------------


def tall_sheet(last_row: int) -> bytes:
    """A1 and A{last_row}: a sheet as tall as a big ledger, small to write and to read."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws["A1"] = "户号"
    ws["B2"] = "0012"
    ws[f"A{last_row}"] = 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_sheets_above_the_threshold_are_streamed_and_read_the_same():
    # Every read's limits carry the default threshold unless told otherwise ...
    assert ReadLimits(1, 1, 1).stream_rows == streaming_xlsx.STREAM_ROWS == 200_000
    assert ReadLimits.from_config(load_config(environ={})).stream_rows == 200_000
    # ... and the boundary is the limits' ``stream_rows``, whatever its value: shown at 60
    # rows (at 200,000 the same four reads of mostly empty rows took 3.4 s of CPU).
    limit = 60
    for last_row, streamed in ((limit, False), (limit + 1, True)):
        data = tall_sheet(last_row)
        (sheet,) = read_workbook(data, "台账.xlsx", limits(limit)).sheets
        assert sheet.streamed is streamed
        assert sheet.height == last_row
        rows = list(sheet.iter_rows())
        assert len(rows) == last_row and rows[1] == ["", "0012"] and rows[-1] == [1.0, ""]
    assert_same(tall_sheet(limit + 1))


def mixed_book(tall_first: bool) -> bytes:
    """A 60-row sheet (streamed above 50 rows) beside a 5-row one (calamine), shared strings."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf)
    sheets = [("大表", 60), ("小表", 5)]
    for name, height in sheets if tall_first else sheets[::-1]:
        ws = wb.add_worksheet(name)
        for r in range(height):
            ws.write_row(r, 0, [f"{name}{r}", r, f"{r:04d}"])
    wb.close()
    return buf.getvalue()


@pytest.mark.parametrize("tall_first", [True, False])
def test_calamine_reads_the_sheets_beside_a_streamed_one(tall_first):
    """calamine's workbook is closed while a sheet streams and opened again for the next."""
    data = mixed_book(tall_first)
    sheets = {s.name: s for s in read_workbook(data, "台账.xlsx", limits(50)).sheets}
    assert sheets["大表"].streamed and not sheets["小表"].streamed
    wanted = {"大表": 60, "小表": 5}
    for name, sheet in sheets.items():
        rows = list(sheet.iter_rows())
        assert rows == [[f"{name}{r}", float(r), f"{r:04d}"] for r in range(wanted[name])]


def test_a_sheet_whose_cells_lack_references_is_left_to_calamine():
    """Cells placed by counting (no r="…"): calamine reads it, whatever its size."""
    data = rewrite_sheet(
        xlsxwriter_book(), lambda body: re.sub(rb'<c r="[A-Z]+[0-9]+"', b"<c", body)
    )
    assert not any(streamed_flags(data, 0).values())
    assert read(data, 0) == read(data, NEVER)


def test_rows_out_of_order_are_refused_not_misread():
    def swap(body: bytes) -> bytes:
        rows = re.findall(rb'<row r="[0-9]+".*?</row>', body, re.S)
        return body.replace(rows[1], b"\0").replace(rows[2], rows[1]).replace(b"\0", rows[2])

    data = rewrite_sheet(xlsxwriter_book(), swap)
    with pytest.raises(LedgerRejected) as refused:
        read(data, 0)
    assert refused.value.code == "file_corrupt"


def test_number_formats_are_dates_by_calamines_rules():
    kinds = {"yyyy-mm-dd": 1, "yyyy年m月d日": 1, '0.00"元"': 0, "[h]:mm:ss": 2, "h:mm AM/PM": 1}
    kinds |= {'"Y: "0.00': 0, "#,##0_);[Red](#,##0)": 0, "0*y": 0, "General": 0, "[$-404]e/m/d": 1}
    assert {code: streaming_xlsx.format_kind(code) for code in kinds} == kinds


def test_serial_dates_and_times_match_calamine_to_the_millisecond():
    serials = [0.0, 0.25, 0.999999, 1, 59, 60, 61, 44377, 44377.5208333333, 2958465.9999]
    serials += [36525 + i / 997 for i in range(200)]
    wb = xlsxwriter.Workbook(buf := io.BytesIO(), {"in_memory": True})
    ws = wb.add_worksheet()
    fmt = wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
    for r, serial in enumerate(serials):
        ws.write_number(r, 0, serial, fmt)
    wb.close()
    sheet = CalamineWorkbook.from_filelike(io.BytesIO(buf.getvalue())).get_sheet_by_index(0)
    expected = [row[0] for row in sheet.to_python()]
    assert [streaming_xlsx.excel_date(s, 1, False) for s in serials] == expected


def test_shared_strings_are_kept_compact():
    strings = streaming_xlsx.SharedStrings()
    for i in range(1000):
        strings.append(f"户主{i}")
    assert len(strings) == 1000 and strings[999] == "户主999" and strings[0] == "户主0"


def test_a_streamed_sheet_is_a_raw_sheet():
    (sheet,) = read_workbook(tall_sheet(10), "台账.xlsx", limits(0)).sheets
    assert isinstance(sheet, RawSheet) and sheet.streamed and sheet.head[0] == ["户号", ""]


# --------------------------------------------------------------------------
# Formula cells without a cached value, found a chunk at a time
# --------------------------------------------------------------------------


def formula_book() -> bytes:
    """openpyxl saves formulas without cached values; xlsxwriter's below carry one."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["序号", "户号", "说明"])
    for r in range(2, 300):
        ws.append(
            [
                f'=IF(C{r}="row>",ROW(),ROW()-1)' if r % 3 else r - 1,
                f"{r:05d}",
                "a>b c> row>" if r % 7 else "",
            ]
        )
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def sheet_xml(data: bytes) -> bytes:
    """The first sheet's XML, its text's '>' unescaped (legal XML): 'c>' and 'row>' in text."""
    xml = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    return xml.replace(b"c&gt; row&gt;", b"c> row>").replace(b'"row&gt;"', b'"row>"')


@pytest.mark.parametrize("chunk", [1, 7, 64, 1000, 1 << 20])
def test_formulas_without_value_are_found_across_chunk_boundaries(chunk):
    """Every formula cell without a value, wherever the chunks cut the XML (text holds 'row>')."""
    expected = {(r - 1, 0) for r in range(2, 300) if r % 3}
    xml = sheet_xml(formula_book())
    assert b"<t>a&gt;b c> row></t>" in xml
    assert formulas_without_value(io.BytesIO(xml), chunk) == expected
    prefixed = re.sub(rb"<(/?)(sheetData|row|c|v|f|is|t)\b", rb"<\1x:\2", xml)
    assert formulas_without_value(io.BytesIO(prefixed), chunk) == expected


def test_formulas_with_a_cached_value_are_no_gap():
    xml = sheet_xml(xlsxwriter_book())
    assert b"<f>" in xml
    assert formulas_without_value(io.BytesIO(xml), 50) == set()


def test_formula_gaps_reach_the_sheet_on_both_read_paths():
    data = formula_book()
    assert_same(data)
    [sheet] = read_workbook(data, "台账.xlsx", limits(0)).sheets
    assert sheet.streamed and (1, 0) in sheet.formulas_without_value
    assert (2, 0) not in sheet.formulas_without_value  # row 3 holds a number
