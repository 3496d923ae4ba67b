"""The original rows behind a batch's issues, as the clerk typed them, to fix and upload again.

The issue list says *what* is wrong; to fix it the clerk needs the rows
themselves.  The issue-list download (``imports.issue_list``) therefore adds,
for each sheet of the file with problem rows, a sheet of the same name
holding the sheet's title rows (they carry the ledger date, "截至……"), one
header row and every problem row with all its original cells, plus a last
column ``问题说明`` with the reasons.  The clerk corrects the cells and
uploads that workbook as it is: the reader recognises the tracker's own
issue sheet (``ISSUE_SHEET``) and reason column and skips them without a
note (``is_issue_sheet``, ``REASON_HEADER``), as it does the template's own
sheets.

The stored file is read again in the same limited child process as a
preview (``imports.isolation``): it is still an untrusted file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from imports.fields import LEDGER_LABELS, LEDGER_SCHEMA, TEMPLATE_EXTRA_SHEETS
from imports.header import find_header
from imports.readers import ReadLimits, read_workbook

# The issue list's own sheet, and the first cells of its header row (imports.issue_list).
ISSUE_SHEET = "问题清单"
ISSUE_HEADER_START = ("级别", "工作表", "行")
# The reason column added after a sheet's own columns; normalised like any header.
REASON_HEADER = "问题说明（下载时生成，修改后可保留此列）"
REASON_KEY = "问题说明"


@dataclass
class OriginalSheet:
    """One sheet's problem rows as they are in the file: title rows, header, rows by number."""

    name: str
    titles: list[list[Any]] = field(default_factory=list)
    header: list[str] = field(default_factory=list)
    rows: list[tuple[int, list[Any]]] = field(default_factory=list)  # (spreadsheet row, cells)


def is_issue_sheet(name: str, head: Sequence[Sequence[Any]]) -> bool:
    """Whether a sheet is the issue list this tracker wrote (skipped on upload, no note)."""
    if name != ISSUE_SHEET:
        return False
    return any(tuple(row[:3]) == ISSUE_HEADER_START for row in head)


def is_reason_column(label: str) -> bool:
    """Whether an ignored column is the reason column the download added."""
    return label.startswith(REASON_KEY)


def _header_labels(header: Any, width: int) -> list[str]:
    """One header row: each field column named so it matches again, other columns as written."""
    labels = []
    for c in range(width):
        name = header.fields.get(c)
        if name is not None:
            written = header.labels.get(c, "")
            labels.append(written if LEDGER_SCHEMA.match(written) == name else LEDGER_LABELS[name])
        else:
            labels.append(header.duplicates.get(c) or header.ignored.get(c) or "")
    return labels


def original_rows_file(
    data: bytes, file_name: str, limits: ReadLimits, wanted: Mapping[str, set[int]]
) -> list[OriginalSheet]:
    """The rows ``wanted`` (sheet → spreadsheet row numbers) of a ledger file, cells as read.

    Runs in the child process (no database).  Only data rows below a found
    header are returned; sheets without wanted rows are not kept.
    """
    out = []
    for sheet in read_workbook(data, file_name, limits).sheets:
        rows = wanted.get(sheet.name)
        if not rows or not sheet.visible or sheet.name in TEMPLATE_EXTRA_SHEETS:
            continue
        header = find_header(sheet.head, sheet.merged, LEDGER_SCHEMA)
        if header is None:
            continue
        original = OriginalSheet(sheet.name)
        last = max(rows)
        for r, raw in enumerate(sheet.iter_rows()):
            if r < header.first_row:
                original.titles.append(list(raw))
            elif r >= header.data_start and r + 1 in rows:
                original.rows.append((r + 1, list(raw)))
            if r + 1 >= last:
                break
        # Trailing blank cells are not columns of the sheet.
        used = max(
            (i + 1 for _, raw in original.rows for i, v in enumerate(raw) if v not in (None, "")),
            default=0,
        )
        width = max(used, max(header.fields, default=-1) + 1, max(header.ignored, default=-1) + 1)
        original.rows = [(n, raw[:width]) for n, raw in original.rows]
        original.header = _header_labels(header, width)
        out.append(original)
    return out


def original_rows(
    data: bytes, file_name: str, config: Any, wanted: Mapping[str, set[int]]
) -> list[OriginalSheet]:
    """``original_rows_file`` in a limited child process (the file is untrusted)."""
    from imports.isolation import ChildLimits, run_isolated

    if not wanted:
        return []
    return run_isolated(
        original_rows_file,
        data,
        file_name,
        ReadLimits.from_config(config),
        {k: set(v) for k, v in wanted.items()},
        limits=ChildLimits.from_config(config),
        file_name=file_name,
    )
