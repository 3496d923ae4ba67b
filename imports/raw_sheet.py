"""A worksheet as the readers hand it over: rows streamed, the head kept for the header search.

Shared by the spreadsheet readers (``imports.readers``) and the CSV reader
(``imports.csv_reading``), with the refusals both make.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from imports.issues import LedgerRejected

# Rows read ahead of the rest of a sheet: the header is searched in the first 20.
HEAD_ROWS = 200
# Rows a sheet may hold beyond the data-row limit before it is even read:
# titles, header, subtotals and footers (the exact count of data rows is
# made while parsing, see ``imports.pipeline``).
ROW_HEADROOM = 1000


@dataclass
class RawSheet:
    """One worksheet, its rows streamed (absolute: the first row is spreadsheet row 1).

    ``head`` holds the first ``HEAD_ROWS`` rows (for finding the header);
    ``iter_rows()`` yields every row once, from the first, each padded to the
    sheet's width.  A 1M-row sheet is therefore never held as Python lists:
    the parser keeps only what it cleaned.
    """

    name: str
    visible: bool
    head: list[list[Any]] = field(default_factory=list)
    height: int = 0  # number of rows, blank ones included
    # Merged ranges as ((first_row, first_col), (last_row, last_col)), 0-based; None if unknown.
    merged: list[tuple[tuple[int, int], tuple[int, int]]] | None = None
    # (row, col) of formula cells that have no cached value (xlsx only).
    formulas_without_value: set[tuple[int, int]] = field(default_factory=set)
    rest: Iterator[list[Any]] | None = None  # the rows after ``head``
    # Read by the streaming reader (``imports.streaming_xlsx``): no copy of the whole sheet
    # exists anywhere, so its rows need not be held back (``ReadLimits.hold_rows``).
    streamed: bool = False

    def iter_rows(self) -> Iterator[list[Any]]:
        """Every row, once (the rows after the head are not kept)."""
        rest, self.rest = self.rest, None
        return chain(self.head, rest or ())

    @property
    def rows(self) -> list[list[Any]]:
        """All rows as a list (for small sheets such as the village registry)."""
        if self.rest is not None:
            self.head = list(self.iter_rows())
        return self.head


def too_many_rows(file_name: str, rows: int, max_rows: int) -> LedgerRejected:
    return LedgerRejected(
        f"文件“{file_name}”约有 {rows} 行，超过上限 {max_rows} 行数据。"
        "请按乡镇或村拆分成多个文件后分别上传。",
        code="file_too_many_rows",
    )


def padded(rows: Iterator[list[Any]], left: int, width: int) -> Iterator[list[Any]]:
    """Rows as lists of exactly ``width`` cells, ``left`` blank cells first."""
    pad = [""] * left
    for row in rows:
        if left:
            row = pad + row
        if len(row) < width:
            row.extend([""] * (width - len(row)))
        yield row
