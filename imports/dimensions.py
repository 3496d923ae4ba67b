"""Declared sheet sizes, read from the file before any grid is built.

python-calamine turns a sheet into a dense grid spanning its first to its
last non-empty cell before the first row reaches us.  The grid's size comes
from the cells' positions, not from what the file says about itself (an
xlsx ``<dimension>`` is not used, and is not trusted here either), so a
1.8 KB xlsx holding A1 and XFD1000000 asks for 16 billion cells and the Rust
side aborts the process; A1 + Z1000000 costs 0.8 GB for two values; an
.xls holding A1 and IV65536 1 GB; an 868-byte .ods repeats one cell into
gigabytes.  Each reader below finds, cheaply and without building anything,
how far the non-empty cells reach and how many there are, and
``check_extent`` refuses (``file_too_complex``) when

- the grid would exceed ``MAX_CELLS`` (30 million cells, twice a 1M-row,
  15-column ledger);
- the cells reach beyond ``MAX_COLUMNS`` (1,000) columns; or
- the grid is more than ``MAX_SPARSENESS`` (50) times the cells actually
  present and larger than ``SPARSE_FLOOR`` (a real ledger is dense; a few
  stray cells far away are not a ledger, and a small sparse sheet costs
  nothing).

What each format costs to measure:

- **xlsx/xlsm**: one streamed pass over each visible worksheet's XML (the
  same pass that looks for formulas without a cached value).  Columns are
  exact; rows are known to within their number of digits from the cells
  that raise them, and the last cell of the sheet gives the exact figure for
  a file written in order.  Only when that bound is inconclusive (a wide
  sheet of 100k+ rows) is every cell reference read.  Cells without an
  ``r`` attribute (rare writers) are placed by counting, as calamine does.
- **ods**: one SAX pass over ``content.xml``, expanding repeat counts
  arithmetically (``number-rows-repeated`` × ``number-columns-repeated``),
  never in memory.
- **xls**: the BIFF records of the workbook stream (via olefile), one per
  cell; an .xls holds at most 65,536 × 256 cells.
- **csv**: every line is at most ``MAX_LINE_CHARS`` characters and every row
  at most ``MAX_COLUMNS`` fields, checked as the lines stream by.

These checks give a clear message for the shapes we know; the child
process of ``imports.isolation`` (memory and time limits) catches anything
else a library might do.
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any
from xml.sax.handler import ContentHandler, feature_namespaces

from imports.issues import LedgerRejected, column_letter

MAX_CELLS = 30_000_000
MAX_COLUMNS = 1_000
MAX_SPARSENESS = 50
SPARSE_FLOOR = 1_000_000
# A CSV line longer than this is not a ledger row (1,000 fields of 1,000 characters).
MAX_LINE_CHARS = 1_000_000
XLSX_MAX_ROWS = 1_048_576
CHUNK = 1 << 22


@dataclass
class SheetExtent:
    """How far a sheet's non-empty cells reach (1-based, from A1) and how many there are."""

    sheet: str
    rows: int
    columns: int
    cells: int

    @property
    def grid(self) -> int:
        return self.rows * self.columns


def _amount(n: int) -> str:
    """1000000 → "100 万", 16384 → "16,384" (how a clerk reads sizes)."""
    if n >= 100_000_000 and n % 1_000_000 == 0:
        return f"{n / 100_000_000:g} 亿"
    if n >= 10_000 and n % 10_000 == 0:
        return f"{n // 10_000:,} 万"
    if n >= 100_000_000:
        return f"约 {n / 100_000_000:.1f} 亿"
    return f"{n:,}"


def extent_problem(extent: SheetExtent) -> str | None:
    """Why this sheet is refused (what is wrong), or None when it may be read."""
    e = extent
    size = f"{_amount(e.rows)} 行 × {_amount(e.columns)} 列"
    far = f"（范围 A1:{column_letter(e.columns - 1)}{e.rows}）" if e.rows and e.columns else ""
    if e.columns > MAX_COLUMNS:
        return (
            f"工作表“{e.sheet}”的内容延伸到第 {e.columns:,} 列（{column_letter(e.columns - 1)} 列）{far}，"
            f"读取时要按 {size} 构建表格，超过了 {MAX_COLUMNS:,} 列的上限"
        )
    if e.grid > MAX_CELLS:
        return (
            f"工作表“{e.sheet}”声明了 {size}{far}，共 {_amount(e.grid)} 个单元格，"
            f"超过了 {_amount(MAX_CELLS)} 个单元格的上限"
        )
    if e.grid > SPARSE_FLOOR and e.grid > MAX_SPARSENESS * max(e.cells, 1):
        return (
            f"工作表“{e.sheet}”声明了 {size}{far}，却只有 {e.cells:,} 个单元格有内容，"
            f"读取时要构建 {_amount(e.grid)} 个单元格的表格（超过实际内容的 {MAX_SPARSENESS} 倍）"
        )
    return None


def check_extent(extent: SheetExtent, file_name: str) -> None:
    """Raise ``file_too_complex`` when reading this sheet would build an absurd grid."""
    problem = extent_problem(extent)
    if problem is None:
        return
    raise LedgerRejected(
        f"文件“{file_name}”无法读取：{problem}，已拒绝。"
        "请在 Excel 或 WPS 中打开这张工作表，删除数据区域以外的行和列（选中多余的行或列 → 右键 → 删除，"
        "不要只清除内容），保存后再上传；数据确实很多时，请按乡镇或村拆分成多个文件。",
        code="file_too_complex",
    )


# --------------------------------------------------------------------------
# xlsx / xlsm
# --------------------------------------------------------------------------

_ROOT_PREFIX = re.compile(rb"<(\w+):worksheet")
_REF = re.compile(rb'([A-Z]{1,3})([0-9]{1,7})"')
_LAST_REF = re.compile(rb'<(?:\w+:)?c\s[^>]*?\br="([A-Z]{1,3})([0-9]{1,7})"')


def _letters_above(letters: str) -> str:
    """A regex for column letters (as in a cell reference) that come after ``letters``."""
    n = len(letters)
    options = [f"[A-Z]{{{n + 1},3}}"] if n < 3 else []
    for i, ch in enumerate(letters):
        if ch != "Z":
            options.append(
                re.escape(letters[:i])
                + f"[{chr(ord(ch) + 1)}-Z]"
                + (f"[A-Z]{{{n - i - 1}}}" if n - i - 1 else "")
            )
    return "|".join(options)


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ch - 64
    return n


@dataclass
class _XlsxState:
    """What the cheap pass over one worksheet has found so far."""

    prefix: bytes = b""  # namespace prefix of the main elements, e.g. b"x:"
    max_col: int = 0
    col_letters: str = ""
    digits: int = 0  # most digits seen in a row number
    max_row: int = 0  # largest row number among the references that raised a bound
    cells: int = 0
    odd: bool = False  # some cell has no r="…" as its first attribute
    has_formula: bool = False

    def pattern(self) -> re.Pattern[bytes] | None:
        """One regex for everything still worth finding (None: nothing is).

        A reference beyond what is known (a later column, or a row with more
        digits), a cell without ``r`` first, a formula.  Every match is rare
        in a real sheet, so one pass of the regex engine over the XML finds
        them all.
        """
        p = re.escape(self.prefix).decode()
        options = []
        if not self.odd:
            cols = _letters_above(self.col_letters) if self.col_letters else "[A-Z]{1,3}"
            refs = f"(?:{cols})[0-9]"
            if self.digits < 7:
                refs += f"|[A-Z]{{1,3}}[0-9]{{{self.digits + 1},7}}"
            options.append(f'{p}c r="(?:{refs})')
            options.append(f'{p}c(?:[>/]|\\s++(?!r="))')
        if not self.has_formula:
            options.append(f"{p}f[\\s>/]")
        return re.compile(("<(?:" + "|".join(options) + ")").encode()) if options else None


@dataclass
class XlsxScan:
    """One worksheet after the cheap pass: its extent as far as known, and formulas."""

    extent: SheetExtent
    conclusive: bool  # False: count every cell (``count_xlsx_sheet``) before judging
    has_formula: bool


def scan_xlsx_sheet(fh: IO[bytes], sheet: str) -> XlsxScan:
    """Stream one worksheet XML once: how far its cells reach, and whether it has formulas.

    Columns are exact; rows are exact for a sheet written in order (its last
    cell) and otherwise bounded by their number of digits.  The result is
    conclusive when even that bound passes ``extent_problem``.  Cost: the
    decompression, one ``bytes.count`` and one regex pass (about 0.2 s
    beyond decompressing 65 MB of XML, a 100k-row ledger).
    """
    state = _XlsxState()
    carry = b""
    first = True
    cell_token = b'<c r="'
    pattern = state.pattern()
    last_block = b""
    while True:
        chunk = fh.read(CHUNK)
        if not chunk and not carry:
            break
        buf = carry + chunk
        if chunk:
            # Cut after the last complete tag: no token we look for spans a ">".
            cut = buf.rfind(b">") + 1 or max(0, len(buf) - 64)
            block, carry = buf[:cut], buf[cut:]
        else:
            block, carry = buf, b""
        if first:
            first = False
            root = _ROOT_PREFIX.search(block[:4000])
            if root:
                state.prefix = root.group(1) + b":"
                cell_token = b"<" + state.prefix + b'c r="'
                pattern = state.pattern()
        state.cells += block.count(cell_token)
        pos = 0
        while pattern is not None and (match := pattern.search(block, pos)):
            pos = match.end()
            found = match.group(0)
            if found.startswith(cell_token):
                ref = _REF.match(block, match.start() + len(cell_token))
                if ref is None:
                    continue
                col = _col_number(ref.group(1))
                if col > state.max_col:
                    state.max_col, state.col_letters = col, ref.group(1).decode()
                state.digits = max(state.digits, len(ref.group(2)))
                state.max_row = max(state.max_row, int(ref.group(2)))
            elif found[1 + len(state.prefix) : 2 + len(state.prefix)] == b"f":
                state.has_formula = True
            else:
                state.odd = True
            pattern = state.pattern()
        if block:
            last_block = block[-4096:]
    # A sheet written in order ends with its largest row.
    tail = list(_LAST_REF.finditer(last_block))
    if tail:
        state.max_row = max(state.max_row, int(tail[-1].group(2)))
    extent = SheetExtent(sheet, state.max_row, state.max_col, state.cells)
    upper = SheetExtent(sheet, min(10**state.digits - 1, XLSX_MAX_ROWS), state.max_col, state.cells)
    conclusive = not state.odd and (state.digits == 0 or extent_problem(upper) is None)
    return XlsxScan(extent, conclusive, state.has_formula)


def count_xlsx_sheet(fh: IO[bytes], sheet: str) -> SheetExtent:
    """Every cell's position, as calamine places it (exact, slower): SAX over the sheet XML."""
    handler = _XlsxCells(sheet)
    _sax(fh, handler)
    return handler.extent()


class _XlsxCells(ContentHandler):
    """Rows and cells with or without ``r``, as calamine numbers them; empty cells ignored."""

    def __init__(self, sheet: str) -> None:
        super().__init__()
        self.sheet = sheet
        self.row = 0
        self.col = 0
        self.max_row = 0
        self.max_col = 0
        self.cells = 0
        self.in_cell = False
        self.cell_has_value = False

    def startElementNS(self, name: tuple[str | None, str], qname: Any, attrs: Any) -> None:  # noqa: N802
        local = name[1]
        if local == "row":
            ref = _attr(attrs, "r")
            self.row = int(ref) if ref and ref.isdigit() else self.row + 1
            self.col = 0
        elif local == "c":
            ref = _attr(attrs, "r")
            m = re.fullmatch(r"([A-Z]{1,3})([0-9]+)", ref or "")
            if m:
                self.col = _col_number(m.group(1).encode())
                self.row = int(m.group(2))
            else:
                self.col += 1
            self.in_cell = True
            self.cell_has_value = False
        elif self.in_cell and local in ("v", "is", "f"):
            self.cell_has_value = True

    def endElementNS(self, name: tuple[str | None, str], qname: Any) -> None:  # noqa: N802
        if name[1] == "c" and self.in_cell:
            self.in_cell = False
            if self.cell_has_value:
                self.cells += 1
                self.max_row = max(self.max_row, self.row)
                self.max_col = max(self.max_col, self.col)

    def extent(self) -> SheetExtent:
        return SheetExtent(self.sheet, self.max_row, self.max_col, self.cells)


def _attr(attrs: Any, local: str) -> str | None:
    for (_, name), value in attrs.items():
        if name == local:
            return value
    return None


def _sax(fh: IO[bytes], handler: ContentHandler) -> None:
    """Feed a stream to a namespace-aware SAX handler with defusedxml's protections."""
    from defusedxml.sax import make_parser

    parser = make_parser()
    parser.setFeature(feature_namespaces, True)
    parser.setContentHandler(handler)
    while chunk := fh.read(CHUNK):
        parser.feed(chunk)
    parser.close()


# --------------------------------------------------------------------------
# ods
# --------------------------------------------------------------------------

_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"


class _OdsTables(ContentHandler):
    """Each table's extent with repeat counts expanded arithmetically (never in memory)."""

    def __init__(self) -> None:
        super().__init__()
        self.extents: list[SheetExtent] = []
        self.depth = 0  # nesting of tables (a sub-table counts toward its sheet)
        self.current: SheetExtent | None = None
        self.row = 0
        self.row_repeat = 1
        self.row_has_value = False
        self.row_max_col = 0
        self.col = 0
        self.cell_repeat = 0
        self.cell_has_value = False
        self.in_cell = False

    def startElementNS(self, name: tuple[str | None, str], qname: Any, attrs: Any) -> None:  # noqa: N802
        ns, local = name
        if ns == _TABLE_NS:
            if local == "table":
                self.depth += 1
                if self.depth == 1:
                    self.current = SheetExtent(attrs.get((_TABLE_NS, "name"), ""), 0, 0, 0)
                    self.row = 0
                return
            if self.depth != 1:
                return
            if local == "table-row":
                self.row_repeat = _repeat(attrs.get((_TABLE_NS, "number-rows-repeated")))
                self.row_has_value = False
                self.row_max_col = 0
                self.col = 0
                return
            if local in ("table-cell", "covered-table-cell"):
                self.in_cell = True
                self.cell_repeat = _repeat(attrs.get((_TABLE_NS, "number-columns-repeated")))
                self.cell_has_value = (_OFFICE_NS, "value-type") in attrs
                return
        if self.in_cell and self.depth == 1:
            self.cell_has_value = True  # text:p or any content inside the cell

    def endElementNS(self, name: tuple[str | None, str], qname: Any) -> None:  # noqa: N802
        ns, local = name
        if ns != _TABLE_NS:
            return
        if local == "table":
            if self.depth == 1 and self.current is not None:
                self.extents.append(self.current)
                self.current = None
            self.depth -= 1
        elif self.depth != 1 or self.current is None:
            return
        elif local in ("table-cell", "covered-table-cell") and self.in_cell:
            self.in_cell = False
            self.col += self.cell_repeat
            if self.cell_has_value:
                self.current.cells += 1
                self.row_has_value = True
                self.row_max_col = self.col
        elif local == "table-row":
            self.row += self.row_repeat
            if self.row_has_value:
                cur = self.current
                cur.rows = self.row
                if self.row_max_col > cur.columns:
                    cur.columns = self.row_max_col


def _repeat(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 1
    except ValueError:
        return 1


def scan_ods(fh: IO[bytes]) -> list[SheetExtent]:
    """The extent of every table in an .ods ``content.xml`` stream."""
    handler = _OdsTables()
    _sax(fh, handler)
    return handler.extents


# --------------------------------------------------------------------------
# xls (BIFF5/BIFF8)
# --------------------------------------------------------------------------

# Records that put a value in one cell (row, column as the first two u16).
_CELL_RECORDS = frozenset({0x0203, 0x00FD, 0x027E, 0x0006, 0x0205, 0x0204, 0x00D6})
_MULRK = 0x00BD
_BOF = 0x0809
_EOF = 0x000A
_BOUNDSHEET = 0x0085


def scan_xls(data: bytes) -> list[tuple[SheetExtent, bool]]:
    """(extent, visible) of every worksheet of an .xls, from its BIFF cell records."""
    import olefile

    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        name = "Workbook" if ole.exists("Workbook") else "Book"
        stream = ole.openstream(name).read()
    sheets = list(_boundsheets(stream))
    out = []
    for offset, visible, kind, sheet_name in sheets:
        if kind != 0:  # 0 = worksheet (charts, macro sheets are not read)
            continue
        out.append((_xls_extent(stream, offset, sheet_name), visible))
    return out


def _records(stream: bytes, offset: int) -> Iterator[tuple[int, int, int]]:
    """(type, start of data, length) from ``offset`` to the end of the substream."""
    end = len(stream)
    unpack = struct.unpack_from
    while offset + 4 <= end:
        kind, length = unpack("<HH", stream, offset)
        yield kind, offset + 4, length
        offset += 4 + length
        if kind == _EOF:
            return


def _boundsheets(stream: bytes) -> Iterator[tuple[int, bool, int, str]]:
    for kind, start, length in _records(stream, 0):
        if kind != _BOUNDSHEET or length < 8:
            continue
        offset, state, sheet_type = struct.unpack_from("<IBB", stream, start)
        text = stream[start + 6 : start + length]
        yield offset, (state & 0x03) == 0, sheet_type, _xls_sheet_name(text)


def _xls_sheet_name(raw: bytes) -> str:
    if len(raw) < 2:
        return ""
    n, flags = raw[0], raw[1]
    if flags & 0x01:
        return raw[2 : 2 + 2 * n].decode("utf-16-le", errors="replace")
    return raw[2 : 2 + n].decode("latin-1")


def _xls_extent(stream: bytes, offset: int, sheet: str) -> SheetExtent:
    max_row = max_col = cells = 0
    unpack = struct.unpack_from
    records = _records(stream, offset)
    next(records, None)  # the sheet's own BOF
    for kind, start, length in records:
        if kind in _CELL_RECORDS and length >= 4:
            row, col = unpack("<HH", stream, start)
            cells += 1
        elif kind == _MULRK and length >= 6:
            row, col = unpack("<HH", stream, start)
            (last,) = unpack("<H", stream, start + length - 2)
            cells += max(1, last - col + 1)
            col = max(col, last)
        elif kind == _BOF:
            # An embedded substream (a chart): skip to its EOF.
            for inner, _, _ in records:
                if inner == _EOF:
                    break
            continue
        else:
            continue
        if row + 1 > max_row:
            max_row = row + 1
        if col + 1 > max_col:
            max_col = col + 1
    return SheetExtent(sheet, max_row, max_col, cells)
