"""A page's table as an .xlsx file (导出 Excel): the report's layout, formula-safe cells.

The pages' tables are exported with ``heating.report.workbook.write_table``:
a title, a subtitle saying what was filtered and as of when, bold headers,
typed numbers ("—" for an undefined measure), frozen panes and an A4 print
setup.  Every text cell goes through ``heating.formulas`` (a village name or
note starting with "=" stays text).  Callers pass values already masked for
the user's role (``heating.privacy``): this module never sees more than the
page shows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

from heating.report.workbook import Column, Row, Table, write_table

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SHEET_TITLE_MAX = 31  # Excel's limit


def table_xlsx(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    subtitle: str | None = None,
    notes: Sequence[str] = (),
    sheet: str | None = None,
) -> bytes:
    """One titled table in a workbook of one sheet; returns the file's bytes."""
    wb = Workbook()
    ws = wb.active
    ws.title = _sheet_title(sheet or title)
    write_table(
        ws,
        Table(title, columns, [Row(list(r)) for r in rows], subtitle=subtitle, notes=notes),
    )
    wb.properties.title = title
    wb.properties.creator = "heating"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _sheet_title(text: str) -> str:
    """A legal sheet name: no []:*?/\\ and at most 31 characters."""
    cleaned = "".join("_" if ch in "[]:*?/\\" else ch for ch in text).strip("'") or "表"
    return cleaned[:SHEET_TITLE_MAX]
