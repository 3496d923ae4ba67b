"""The declared size of each table of an .ods, from one SAX pass over ``content.xml``.

Repeat counts (``number-rows-repeated`` × ``number-columns-repeated``) are
expanded arithmetically, never in memory: an 868-byte .ods can repeat one
cell into gigabytes.  Limits and the refusal: ``imports.dimensions``.
"""

from __future__ import annotations

from typing import IO, Any
from xml.sax.handler import ContentHandler

from imports.dimensions import SheetExtent, sax_stream

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
    sax_stream(fh, handler)
    return handler.extents
