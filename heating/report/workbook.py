"""Writing tables into openpyxl worksheets the way an office expects them.

One function, ``write_table``, lays out a titled table: a merged title row,
a subtitle, one or two rows of bold (merged) headers, typed data cells
(thousands and percent formats, "—" for an undefined measure), column widths
that fit Chinese text, frozen header panes and an A4 landscape print setup.

Every string goes through ``heating.formulas.neutralise`` (``put_text``, or
``_bind_text`` for table cells): it is written as a text cell, never a formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from weakref import WeakKeyDictionary

from openpyxl import Workbook
from openpyxl.cell.cell import Cell, MergedCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.styles.cell_style import StyleArray
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.cell_range import CellRange
from openpyxl.worksheet.merge import MergedCellRange
from openpyxl.worksheet.worksheet import Worksheet

from heating.formulas import neutralise, put_text
from heating.textwidth import display_width

FONT_NAME = "宋体"
TITLE_FONT = Font(name=FONT_NAME, size=16, bold=True)
SUBTITLE_FONT = Font(name=FONT_NAME, size=10, color="555555")
HEADER_FONT = Font(name=FONT_NAME, size=11, bold=True)
BODY_FONT = Font(name=FONT_NAME, size=11)
BOLD_FONT = Font(name=FONT_NAME, size=11, bold=True)
NOTE_FONT = Font(name=FONT_NAME, size=10, color="555555")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
TOTAL_FILL = PatternFill("solid", fgColor="F2F2F2")
BAD_FONT = Font(name=FONT_NAME, size=11, color="C00000")
THIN = Side(style="thin", color="999999")
BORDER = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
LEFT = Alignment(horizontal="left", vertical="center", wrap_text=False)
LEFT_WRAP = Alignment(horizontal="left", vertical="top", wrap_text=True)
RIGHT = Alignment(horizontal="right", vertical="center")

FORMATS = {
    "int": "#,##0",
    "pct": "0.0%",
    "pct0": "0%",
    "pct_change": "+0.0%;-0.0%;0.0%",
    "int_change": "+#,##0;-#,##0;0",
    "area": "#,##0.00",
    "date": "yyyy-mm-dd",
}
UNDEFINED = "—"  # a measure that is undefined (required = 0): never 0% or 100%
MET = "达标"
NOT_MET = "未达标"
MAX_WIDTH = 60
MAX_CELL_TEXT = 32767  # Excel's limit; openpyxl truncates longer strings the same way
MIN_WIDTH = 6
FOOTER = "第 &P 页 共 &N 页"

# Built cell styles per workbook (style ids are only valid within their workbook).
_STYLES: WeakKeyDictionary[Workbook, dict[tuple[Any, ...], Any]] = WeakKeyDictionary()
# The tables written into each workbook, for heating.report.reconcile's sum check.
WRITTEN: WeakKeyDictionary[Workbook, list[tuple[str, Table]]] = WeakKeyDictionary()
# (border id of a cell, edge, border id of the merge's first cell) -> the cell's border id after.
_EDGE_BORDERS: WeakKeyDictionary[Workbook, dict[tuple[int, str, int], int]] = WeakKeyDictionary()
_EDGES = ("top", "left", "right", "bottom")  # the order openpyxl's MergedCellRange.format takes
_HEADER_KEY = ("header",)  # the header cells' entry of _STYLES


def value_format(value: Any, kind: str) -> tuple[str | None, Alignment | None]:
    """The number format and alignment a value of ``kind`` is shown with."""
    if value is None:
        return None, (RIGHT if kind != "text" else None)
    if isinstance(value, bool):
        return None, CENTER
    if isinstance(value, str):
        return None, LEFT
    if isinstance(value, datetime):
        return "yyyy-mm-dd hh:mm", None
    if isinstance(value, date):
        return "yyyy-mm-dd", None
    return FORMATS.get(kind), None


def put_value(cell: Cell, value: Any, kind: str = "text") -> None:
    """Write the value alone: text as text, None in a measure column as "—", bools as 是/否."""
    if value is None:
        if kind != "text":
            put_text(cell, UNDEFINED)
    elif isinstance(value, bool):
        put_text(cell, "是" if value else "否")
    elif isinstance(value, str):
        put_text(cell, value)
    else:
        cell.value = value


def put(cell: Cell, value: Any, kind: str = "text") -> None:
    """Write ``value`` typed by ``kind`` (see FORMATS) with its format and alignment."""
    put_value(cell, value, kind)
    number_format, alignment = value_format(value, kind)
    if number_format:
        cell.number_format = number_format
    if alignment is not None:
        cell.alignment = alignment


def shown(value: Any, kind: str) -> str:
    """Roughly how a value appears in its cell (to size the column)."""
    if value is None:
        return UNDEFINED
    if isinstance(value, bool):
        return "是"
    if isinstance(value, str):
        return max(value.split("\n"), key=display_width) if value else ""
    if kind in ("pct", "pct_change"):
        return f"{value:+.1%}" if kind == "pct_change" else f"{value:.1%}"
    if kind == "pct0":
        return f"{value:.0%}"
    if kind == "area":
        return f"{value:,.2f}"
    if isinstance(value, datetime):
        return "2021-10-31 12:00"
    if isinstance(value, date):
        return "2021-10-31"
    if isinstance(value, int | float):
        return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"
    return str(value)


@dataclass(frozen=True)
class Column:
    """One table column: header, value kind, an optional group header above it."""

    header: str
    kind: str = "text"  # text / int / pct / pct0 / pct_change / int_change / area / date
    group: str | None = None
    width: int | None = None  # fixed width (wrapped text), else fitted
    wrap: bool = False
    # An int/area column whose 合计/小计 row is the sum of the rows above it
    # (checked by heating.report.reconcile); False for gaps judged on a total.
    sums: bool = True


@dataclass
class Row:
    """One data row: values aligned to the columns, and how to emphasise it."""

    values: Sequence[Any]
    total: bool = False  # a 合计/小计 row: bold, shaded


@dataclass
class Table:
    """A titled table for ``write_table``."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Row]
    subtitle: str | None = None
    notes: Sequence[str] = field(default_factory=tuple)
    empty_text: str = "（无）"


@dataclass(frozen=True)
class Placed:
    """Where ``write_table`` put things (1-based rows)."""

    header_first: int
    header_last: int
    data_first: int
    last_row: int  # the last row used (data or notes)


def write_table(ws: Worksheet, table: Table, *, start_row: int = 1, main: bool = True) -> Placed:
    """Lay out ``table`` from ``start_row``; the main table sets panes and print titles."""
    columns = list(table.columns)
    ncols = len(columns)
    WRITTEN.setdefault(ws.parent, []).append((ws.title, table))
    row = start_row
    _merged_line(ws, row, ncols, table.title, TITLE_FONT if main else HEADER_FONT, CENTER)
    ws.row_dimensions[row].height = 28 if main else 20
    row += 1
    if table.subtitle:
        _merged_line(ws, row, ncols, table.subtitle, SUBTITLE_FONT, CENTER)
        row += 1
    header_first = row
    header_last = _write_headers(ws, columns, row)
    row = header_last + 1
    data_first = row
    if not table.rows:
        _merged_line(ws, row, ncols, table.empty_text, BODY_FONT, CENTER)
        row += 1
    for data in table.rows:
        _write_row(ws, row, columns, data)
        row += 1
    for note in table.notes:
        _merged_line(ws, row, ncols, note, NOTE_FONT, LEFT_WRAP)
        ws.row_dimensions[row].height = 15 * (1 + display_width(note) // 150)
        row += 1
    fit_columns(ws, columns, table)
    if main:
        ws.freeze_panes = ws.cell(row=data_first, column=1)
        setup_print(ws, header_first, header_last)
    return Placed(header_first, header_last, data_first, row - 1)


def _merged_line(
    ws: Worksheet, row: int, ncols: int, text: str, font: Font, align: Alignment
) -> None:
    cell = ws.cell(row=row, column=1)
    put_text(cell, text)
    cell.font = font
    cell.alignment = align
    if ncols > 1:
        merge(ws, row, 1, row, ncols)


def merge(ws: Worksheet, min_row: int, min_col: int, max_row: int, max_col: int) -> None:
    """``ws.merge_cells`` with the same cells, borders and XML, each edge's border derived once.

    openpyxl's ``MergedCellRange.format`` adds a ``Border`` to every edge cell of
    every merge, hashing and comparing nested style objects each time
    (``benchmarks/report.py``: 300 villages' workbook 0.81 → 0.56 s of CPU; a
    report with few rows is mostly headers, ≈ 13 s of the test suite's CPU).
    The result of one addition depends only on the cell's border, the edge and the
    first cell's border, so it is computed once per workbook and the index reused.
    ``tests/test_report_merge.py`` compares the saved XML with openpyxl's own merge.
    """
    coord = CellRange(min_col=min_col, min_row=min_row, max_col=max_col, max_row=max_row).coord
    mcr = MergedCellRange(ws, coord)  # the first cell takes the last one's right and bottom
    ws.merged_cells.add(mcr)
    first = (min_row, min_col)
    cells: dict[tuple[int, int], Cell | MergedCell] = {first: mcr.start_cell}
    for row in range(min_row, max_row + 1):
        for col in range(min_col, max_col + 1):
            if (row, col) != first:
                cells[row, col] = ws._cells[row, col] = MergedCell(ws, row, col)
    borders = ws.parent._borders
    known = _EDGE_BORDERS.setdefault(ws.parent, {})
    ids = {at: cell._style.borderId if cell._style else 0 for at, cell in cells.items()}
    for edge in _EDGES:
        first_id = ids[first]
        side = getattr(borders[first_id], edge)
        if side and side.style is None:
            continue  # openpyxl's own test: an edge without a line changes nothing
        for at in getattr(mcr, edge):
            key = (ids[at], edge, first_id)
            if key not in known:
                known[key] = borders.add(borders[ids[at]] + Border(**{edge: side}))
            ids[at] = known[key]
    for at, cell in cells.items():
        if ids[at]:
            if not cell._style:
                cell._style = StyleArray()
            cell._style.borderId = ids[at]


def _header_cell(ws: Worksheet, row: int, col: int, text: str) -> None:
    """A header cell: bold, shaded, centred and bordered, its style array built once per workbook.

    Setting the four styles one by one hashed each style object per cell: a report of the
    tiny district is mostly headers (0.87 s of 19 reports' 4 s of writing, cProfile).
    """
    cell = ws.cell(row=row, column=col)
    put_text(cell, text)
    styles = _STYLES.setdefault(ws.parent, {})
    built = styles.get(_HEADER_KEY)
    if built is None:
        built = styles[_HEADER_KEY] = _build_style(ws, HEADER_FONT, HEADER_FILL, None, CENTER)
    cell._style = copy(built)  # merge() changes a cell's border id in place


def _write_headers(ws: Worksheet, columns: list[Column], row: int) -> int:
    """One header row, or two when some columns are grouped; returns the last header row."""
    if not any(c.group for c in columns):
        for i, col in enumerate(columns, start=1):
            _header_cell(ws, row, i, col.header)
        return row
    i = 0
    while i < len(columns):
        col = columns[i]
        if col.group is None:
            _header_cell(ws, row, i + 1, col.header)
            _header_cell(ws, row + 1, i + 1, "")
            merge(ws, row, i + 1, row + 1, i + 1)
            i += 1
            continue
        j = i
        while j < len(columns) and columns[j].group == col.group:
            _header_cell(ws, row, j + 1, col.group if j == i else "")
            _header_cell(ws, row + 1, j + 1, columns[j].header)
            j += 1
        if j - i > 1:
            merge(ws, row, i + 1, row, j)
        i = j
    return row + 1


def _write_row(ws: Worksheet, row: int, columns: list[Column], data: Row) -> None:
    """Write one data row: each cell is created with its (cached) style and typed value.

    The largest sheets (every village, every problem household) hold tens of
    thousands of cells, so this builds each cell once with its style array
    instead of going through ``ws.cell`` and the per-attribute style setters.
    """
    styles = _STYLES.setdefault(ws.parent, {})
    total = data.total
    for i, (col, value) in enumerate(zip(columns, data.values, strict=True), start=1):
        # value_format depends on the value's type alone, so the type keys the style.
        bad = value == NOT_MET
        key = (type(value), col.kind, col.wrap, total, bad)
        built = styles.get(key)
        if built is None:
            number_format, alignment = value_format(value, col.kind)
            if col.wrap:
                alignment = LEFT_WRAP
            font = BOLD_FONT if total else BAD_FONT if bad else BODY_FONT
            fill = TOTAL_FILL if total else None
            built = styles[key] = _build_style(ws, font, fill, number_format, alignment)
        cell = Cell(ws, row=row, column=i, style_array=built)
        _bind(cell, value, col.kind)
        ws._add_cell(cell)


def _bind(cell: Cell, value: Any, kind: str) -> None:
    """``put_value`` for a fresh cell; text and numbers skip openpyxl's type inference."""
    if type(value) is str:
        _bind_text(cell, value)
    elif type(value) in (int, float):
        cell._value = value  # data_type stays "n"
    else:
        put_value(cell, value, kind)


def _bind_text(cell: Cell, text: str) -> None:
    """``put_text`` without re-checking what ``neutralise`` already cleaned."""
    cell._value = neutralise(text)[:MAX_CELL_TEXT]
    cell.data_type = "s"


def _build_style(
    ws: Worksheet,
    font: Font,
    fill: PatternFill | None,
    number_format: str | None,
    alignment: Alignment | None,
) -> Any:
    """A bordered cell's style array, built once per workbook and distinct style.

    Setting font, fill, border and format one by one hashes each style object
    (most of the time of a large sheet); creating cells from a built style
    array does not.  The scratch cell is never added to the sheet.
    """
    cell = Cell(ws)
    cell.border = BORDER
    cell.font = font
    if fill is not None:
        cell.fill = fill
    if number_format:
        cell.number_format = number_format
    if alignment is not None:
        cell.alignment = alignment
    return copy(cell._style)


def fit_columns(ws: Worksheet, columns: Sequence[Column], table: Table) -> None:
    """Widen each column to its longest header or value (CJK counts 2); never narrow."""
    for i, col in enumerate(columns, start=1):
        letter = get_column_letter(i)
        if col.width is not None:
            width = col.width
        else:
            texts = [col.header, *_candidate_texts((r.values[i - 1] for r in table.rows), col.kind)]
            width = max(display_width(t) for t in texts) + 2
            width = max(MIN_WIDTH, min(MAX_WIDTH, width))
        current = ws.column_dimensions[letter].width or 0
        if width > current:
            ws.column_dimensions[letter].width = width


def _candidate_texts(values: Iterable[Any], kind: str) -> list[str]:
    """The shown texts that can be a column's widest: every non-number, and the
    smallest and largest number of each type (a number's shown width only grows
    with its magnitude and its sign), so that a column of thousands of numbers
    is not formatted value by value."""
    texts = []
    extremes: dict[type, list[Any]] = {}
    for value in values:
        kind_of = type(value)
        if kind_of is int or kind_of is float:
            low_high = extremes.get(kind_of)
            if low_high is None:
                extremes[kind_of] = [value, value]
            elif value < low_high[0]:
                low_high[0] = value
            elif value > low_high[1]:
                low_high[1] = value
        else:
            texts.append(shown(value, kind))
    for low, high in extremes.values():
        texts += (shown(low, kind), shown(high, kind))
    return texts


def setup_print(ws: Worksheet, header_first: int, header_last: int) -> None:
    """A4 landscape, one page wide, header rows repeated, page numbers in the footer."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.horizontalCentered = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.page_margins.top = ws.page_margins.bottom = 0.6
    ws.print_title_rows = f"{header_first}:{header_last}"
    ws.oddFooter.center.text = FOOTER
    ws.oddFooter.center.size = 9
    ws.evenFooter.center.text = FOOTER


def stamp(ws: Worksheet, text: str) -> None:
    """Put ``text`` (e.g. 草稿（未全部审核）) in every printed page's header and after
    the sheet's visible title, which every sheet writes in A1."""
    for header in (ws.oddHeader, ws.evenHeader, ws.firstHeader):
        header.center.text = text.replace("&", "&&")
        header.center.size = 12
        header.center.font = f"{FONT_NAME},Bold"
        header.center.color = "C00000"
    title = ws.cell(row=1, column=1)
    put_text(title, f"{title.value or ''}【{text}】")


def key_value_rows(
    ws: Worksheet,
    pairs: Sequence[tuple[str, Any]],
    *,
    start_row: int,
    label_font: Font = HEADER_FONT,
    value_kind: Callable[[Any], str] | None = None,
) -> int:
    """Two columns of label → value (the cover sheet); returns the next free row."""
    row = start_row
    for label, value in pairs:
        a = ws.cell(row=row, column=1)
        put_text(a, label)
        a.font = label_font
        a.fill = HEADER_FILL
        a.alignment = CENTER
        a.border = BORDER
        b = ws.cell(row=row, column=2)
        put(b, value, value_kind(value) if value_kind else "text")
        b.font = BODY_FONT
        b.alignment = LEFT_WRAP
        b.border = BORDER
        if isinstance(value, str):
            lines = sum(1 + display_width(line) // 90 for line in value.split("\n"))
            ws.row_dimensions[row].height = max(18, 16 * lines)
        row += 1
    return row
