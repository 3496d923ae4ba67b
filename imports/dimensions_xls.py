"""The declared size of each worksheet of an .xls, from its BIFF cell records.

The workbook stream is read via olefile, one record per cell; an .xls holds
at most 65,536 × 256 cells.  Limits and the refusal: ``imports.dimensions``.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Iterator

from imports.dimensions import SheetExtent

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
