"""Formula cells saved without a cached value, found in a worksheet's XML before its rows are read.

python-calamine reads such a cell as blank, so the parse reports it instead
(``imports.row_steps.formula_problems``).  The scan serves every read path —
calamine's and the streaming reader's (``imports.streaming_xlsx``) alike —
which is why it is not part of either reader; ``imports.readers`` runs it
on the sheets whose dimension scan saw a formula.
"""

from __future__ import annotations

import re
from typing import Any

from imports.issues import column_index
from imports.streaming_xlsx import CHUNK

_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")
_CELL_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')
_VALUE_BYTES = re.compile(rb"<(?:\w+:)?v>[^<]")
_ROW_END_PREFIX = re.compile(rb"</(?:\w+:)?")


def formulas_without_value(fh: Any, chunk: int = CHUNK) -> set[tuple[int, int]]:
    """(row, col), 0-based, of a worksheet's formula cells saved without a cached value.

    calamine reads such a cell as blank, so the parse reports it instead.
    Read a chunk at a time up to the last complete row (``</row>`` cannot
    occur inside text, where ``<`` is escaped): reading the whole XML at once
    cost ≈ 650 MB for a 1M-row sheet with a formula column.
    """
    gaps: set[tuple[int, int]] = set()
    carry = b""
    while True:
        data = fh.read(chunk)
        buf = carry + data if carry else data
        if data:
            cut = _last_row_end(buf)
            block, carry = (buf[:cut], buf[cut:]) if cut > 0 else (b"", buf)
        else:
            block, carry = buf, b""
        if block:
            _gaps_in(block, gaps)
        if not data:
            return gaps


def _last_row_end(buf: bytes) -> int:
    """The offset just after the last ``</row>`` (any prefix) in ``buf``, or -1."""
    i = len(buf)
    while True:
        i = buf.rfind(b"row>", 0, i)
        if i < 0:
            return -1
        j = buf.rfind(b"<", 0, i)
        if j >= 0 and _ROW_END_PREFIX.fullmatch(buf, j, i):
            return i + 4


def _gaps_in(xml: bytes, gaps: set[tuple[int, int]]) -> None:
    for m in _FORMULA.finditer(xml):
        start = max(xml.rfind(b"<c ", 0, m.start()), xml.rfind(b":c ", 0, m.start()))
        end = xml.find(b"c>", m.end())
        if start < 0 or end < 0:
            continue
        cell = xml[start:end]
        if _VALUE_BYTES.search(cell) or b"<is>" in cell:
            continue
        ref = _CELL_REF.search(cell)
        if ref:
            gaps.add((int(ref.group(2)) - 1, column_index(ref.group(1))))
