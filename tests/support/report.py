"""The annual report's material: a two-year history of the tiny district, reading its sheets."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from heating.models import utcnow
from heating.runtime import Runtime
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_ledger_household, at, change_household

AS_OF = date(2021, 10, 31)
INJECTION = '=HYPERLINK("http://x","y")'


def later() -> datetime:
    """A report time a second on: the report's known-at is truncated to the second."""
    return utcnow() + timedelta(seconds=1)


def build_history(runtime: Runtime, ids: dict[str, int]) -> None:
    """Two years of ledgers in the tiny district; the report tests state the numbers."""
    add, change = add_ledger_household, change_household
    south, east, up, down = ids[NANJIE], ids[DONGJIE], ids[SHANGCUN], ids[XIACUN]
    with runtime.session() as s:
        # 2020: 南街 4 clean of 6 rows (1 exempt); 上村 6 clean of 10.
        for i in range(1, 5):
            add(s, south, f"S{i}", "completed", "2020-06-01 10:00")
        add(s, south, "S5", "pending", "2020-06-01 10:00")
        add(s, south, "S6", "exempt", "2020-06-01 10:00", exempt_reason="空置")
        for i in range(1, 11):
            add(s, up, f"U{i}", "completed" if i <= 6 else "planned", "2020-07-01 10:00")
    with runtime.session() as s:
        # 2021: 南街 S5 done but burning coal again, S7–S9 done (S9 undated), S10 pending.
        change(s, south, "S5", at("2021-05-01 10:00"), status="completed", route="gas",
               device="燃气壁挂炉", completed_on=date(2021, 4, 1), operation="coal_again")  # fmt: skip
        for i in (7, 8):
            add(
                s, south, f"S{i}", "completed", "2021-05-01 10:00", route="gas", device="燃气壁挂炉"
            )
        add(s, south, "S9", "completed", "2021-05-01 10:00", completed_on=None)
        add(s, south, "S10", "pending", "2021-05-01 10:00")
        # 东街: all 8 done (one unstable with a note that looks like a formula).
        for i in range(1, 9):
            extra: dict[str, Any] = {}
            if i == 1:
                extra = {"operation": "unstable", "note": INJECTION, "head_name": "=cmd|' /C calc'!A0",
                         "id_number": "140405199001011234", "phone": "13812345678"}  # fmt: skip
            add(s, east, f"E{i}", "accepted", "2021-06-01 10:00", **extra)
        # 上村: 6 more clean, 2 of the old planned now clean → 14 clean of 16 rows (registry 20).
        for i in range(11, 17):
            add(s, up, f"U{i}", "completed", "2021-06-15 10:00", route="biomass",
                device=" 生物质炉 ")  # fmt: skip
        change(s, up, "U7", at("2021-06-15 10:00"), status="completed", route="electric",
               device="空气源热泵", completed_on=date(2021, 6, 1))  # fmt: skip
        change(s, up, "U8", at("2021-06-15 10:00"), status="completed")  # no completion date
        # 下村 (no registry total): 5 rows, 2 clean, one abandoned.
        for i in range(1, 6):
            status = "completed" if i <= 2 else "pending"
            op = "abandoned" if i == 1 else None
            add(s, down, f"D{i}", status, "2021-07-01 10:00", operation=op)


def read_table(ws: Any, first_header: str, occurrence: int = 1) -> list[dict[str, Any]]:
    """Rows of the worksheet table whose first header cell reads ``first_header``.

    Grouped columns are keyed "group|header", others by their header.  Reads the
    sheet's values once, so a read-only worksheet serves as well as a loaded one.
    """
    grid = [list(row) for row in ws.iter_rows(values_only=True)]
    ncols = max((len(row) for row in grid), default=0)
    grid = [row + [None] * (ncols - len(row)) for row in grid]
    found = [i for i, row in enumerate(grid) if row and row[0] == first_header]
    top = found[occurrence - 1]
    below = grid[top + 1] if top + 1 < len(grid) else [None] * ncols
    two_level = below[0] is None and any(below[1:])
    keys, group = [], None
    for head, sub in zip(grid[top], below, strict=True):
        if not two_level:
            keys.append(head)
            continue
        if head is not None:
            group = head
        keys.append(head if sub is None else f"{group}|{sub}")
    rows = []
    for values in grid[top + (2 if two_level else 1) :]:
        if all(v is None for v in values[1:]):
            break
        rows.append({k: v for k, v in zip(keys, values, strict=True) if k is not None})
    return rows
