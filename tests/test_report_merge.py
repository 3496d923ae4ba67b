"""The report's own merge writes the very file openpyxl's ``merge_cells`` writes.

``heating.report.workbook.merge`` reuses each edge's border instead of letting
openpyxl derive it per cell; a printed header must still show every line, so the
saved XML of both ways is compared byte for byte, sheets and styles alike.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Border, Side
from openpyxl.worksheet.worksheet import Worksheet

from heating.report.workbook import BORDER, HEADER_FILL, merge

THICK = Side(style="medium", color="000000")
Merge = Callable[[Worksheet, int, int, int, int], None]


def openpyxl_merge(ws: Worksheet, min_row: int, min_col: int, max_row: int, max_col: int) -> None:
    ws.merge_cells(start_row=min_row, start_column=min_col, end_row=max_row, end_column=max_col)


def lay_out(merge_with: Merge) -> dict[str, bytes]:
    """Two sheets of headers, titles and odd borders, merged by ``merge_with``; the saved parts."""
    wb = Workbook()
    ws = wb.active
    for col in range(1, 9):  # a two-row grouped header, every cell bordered, as write_table does
        for row in (3, 4):
            cell = ws.cell(row=row, column=col, value=f"{row}-{col}")
            cell.border = BORDER
            cell.fill = HEADER_FILL
    ws.cell(row=1, column=1, value="标题")  # a title line: no border at all
    merge_with(ws, 1, 1, 1, 8)
    merge_with(ws, 3, 1, 4, 1)  # a column without a group: two rows
    merge_with(ws, 3, 2, 3, 4)  # a group of three
    merge_with(ws, 3, 5, 3, 6)  # the same shape again: the borders are reused
    merge_with(ws, 3, 7, 4, 8)  # a block
    ws.cell(row=6, column=1, value="起").border = BORDER
    ws.cell(row=8, column=3).border = Border(right=THICK, bottom=THICK)  # the last cell's lines
    merge_with(ws, 6, 1, 8, 3)
    ws.cell(row=10, column=2).border = Border(top=THICK)  # only a top line
    merge_with(ws, 10, 2, 12, 2)
    other = wb.create_sheet("二")
    other.cell(row=1, column=1, value="审核").border = BORDER
    merge_with(other, 1, 1, 1, 2)
    wb.properties.created = wb.properties.modified = datetime(2021, 10, 31)
    out = io.BytesIO()
    wb.save(out)
    with zipfile.ZipFile(out) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_the_file_is_byte_for_byte_the_one_openpyxl_merges() -> None:
    ours, theirs = lay_out(merge), lay_out(openpyxl_merge)
    assert ours.keys() == theirs.keys()
    for name in theirs:
        assert ours[name] == theirs[name], name
    assert b"<mergeCell " in ours["xl/worksheets/sheet1.xml"]
    assert ours["xl/styles.xml"].count(b"<border>") + ours["xl/styles.xml"].count(b"<border ") > 3
