"""The outcome of an import (import.md "Outcome of an import"), as JSON.

What the page, the command line and the batch record show of a ``LedgerDiff``:
the counts, the sheets, the issues with personal values masked again, the
rejected rows with their reasons and the 变更明细 (``change_details``).
Nothing here reads or writes the database.
"""

from __future__ import annotations

from typing import Any

from heating.history import to_json_value
from heating.privacy import mask_field
from imports.diff import NOT_IN_FILE_LISTED, LedgerDiff


def masked_issue(issue: Any) -> dict[str, Any]:
    """An issue as JSON with its value masked again when it is an ID number or phone."""
    data = issue.as_json()
    value = data.get("value")
    if isinstance(value, str) and "*" not in value:
        data["value"] = mask_field(data.get("field"), value)
    return data


def sheets_json(parsed: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "header_row": s.header_row,
            "columns": dict(s.columns),
            "ignored_columns": list(s.ignored_columns),
            "data_rows": s.data_rows,
        }
        for s in parsed.sheets
    ]


def outcome(diff: LedgerDiff) -> dict[str, Any]:
    """The structured outcome shown on the page, the command line and as JSON."""
    parsed = diff.parsed
    return {
        "file": parsed.file_name,
        "sha256": parsed.sha256,
        "township": diff.township_code,
        "sheets": sheets_json(parsed),
        "counts": diff.counts(),
        "issues": [masked_issue(i) for i in diff.issues()],
        "not_in_file": len(diff.not_in_file),
        "not_in_file_households": diff.not_in_file[:NOT_IN_FILE_LISTED],
    }


# 变更明细: the updated households listed with their fields before → after.
CHANGES_LISTED = 2000
# Stored fields that are bookkeeping, not something the clerk typed.
_INTERNAL = frozenset({"completed_on_precision", "id_hash", "village_id", "active"})


def change_details(diff: LedgerDiff, limit: int | None = None) -> dict[str, Any]:
    """What an import changes in the households it updates, field by field (变更明细).

    ``{"total": n, "listed": [{"sheet", "row", "household_no", "head_name",
    "village_id", "fields": [[field, before, after], …]}, …]}`` for the first
    ``limit`` (``CHANGES_LISTED``) updated rows in file order; values as JSON,
    raw (the column is sealed; pages mask them as the reader's role requires).
    """
    limit = CHANGES_LISTED if limit is None else limit
    listed = []
    total = 0
    for change in diff.changes:
        if change.kind != "updated" or not change.changes:
            continue
        total += 1
        if len(listed) >= limit:
            continue
        before = change.before or {}
        fields = [
            [name, to_json_value(before.get(name)), to_json_value(value)]
            for name, value in change.changes.items()
            if name not in _INTERNAL and before.get(name) != value
        ]
        if not fields:
            continue
        row = change.row
        values = row.values
        listed.append(
            {
                "sheet": row.sheet,
                "row": row.row,
                "household_no": values.get("household_no") or before.get("household_no"),
                "head_name": values.get("head_name") or before.get("head_name"),
                "village_id": row.village_id,
                "fields": fields,
            }
        )
    return {"total": total, "listed": listed, "limit": limit}


def rejected_rows_json(rows: list[Any]) -> list[dict[str, Any]]:
    """Rejected rows with their reasons, for the batch record (values kept so nothing is lost)."""
    out = []
    for row in rows:
        out.append(
            {
                "sheet": row.sheet,
                "row": row.row,
                "values": {k: to_json_value(v) for k, v in row.values.items()},
                "extra": dict(row.extra or {}),
                "issues": [masked_issue(i) for i in row.issues],
            }
        )
    return out
