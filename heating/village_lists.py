"""Finding and ordering villages in a list: search by name or code, sort by any column.

Planners look for "东脑" or "140405101" and want the largest gaps first.  The
rows are ``heating.measures`` rows already computed for the page, so this is
plain Python over them; an undefined measure (coverage "—") sorts last in
either direction, never as 0% or 100%.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from heating.collation import pinyin_key
from heating.measures import MeasureRow

# sort key → (label, value of a row; township names and category labels are given by the caller)
SORTS: dict[str, str] = {
    "code": "村代码",
    "name": "村名",
    "township": "乡镇",
    "category": "区域类别",
    "registry": "名录总户数",
    "ledger": "台账户数",
    "required": "应改户数",
    "clean": "已完成户数",
    "coverage": "覆盖率",
    "effective": "有效覆盖率",
    "verified": "核验后有效覆盖率",
    "target": "目标",
    "gap": "差距（户）",
}
DIRECTIONS = ("asc", "desc")


def search_rows(rows: Iterable[MeasureRow], query: str) -> list[MeasureRow]:
    """Rows whose name contains ``query`` or whose code starts with it (spaces ignored)."""
    needle = "".join(query.split())
    if not needle:
        return list(rows)
    return [r for r in rows if needle in r.name or r.key.startswith(needle)]


def sort_rows(
    rows: Iterable[MeasureRow],
    key: str,
    direction: str,
    *,
    township_names: Mapping[str, str],
    category_label: Callable[[str | None], str],
) -> list[MeasureRow]:
    """Rows ordered by ``key`` (one of ``SORTS``; unknown keys keep the code order).

    Ties keep the code order; missing values (no registry total, coverage "—")
    go last whichever the direction.
    """
    rows = sorted(rows, key=lambda r: r.key)
    value = _value_of(key, township_names, category_label)
    if value is None:
        return rows
    present = [r for r in rows if value(r) is not None]
    missing = [r for r in rows if value(r) is None]
    present.sort(key=value, reverse=direction == "desc")
    return present + missing


def _value_of(
    key: str, township_names: Mapping[str, str], category_label: Callable[[str | None], str]
) -> Callable[[MeasureRow], Any] | None:
    values: dict[str, Callable[[MeasureRow], Any]] = {
        "code": lambda r: r.key,
        "name": lambda r: pinyin_key(r.name),
        "township": lambda r: pinyin_key(
            township_names.get(r.township_code or "", r.township_code or "")
        ),
        "category": lambda r: pinyin_key(category_label(r.category)),
        "registry": lambda r: r.registry_households or None,
        "ledger": lambda r: r.ledger_rows,
        "required": lambda r: r.required,
        "clean": lambda r: r.clean,
        "coverage": lambda r: r.coverage,
        "effective": lambda r: r.effective_coverage,
        "verified": lambda r: r.verified_effective_coverage,
        "target": lambda r: r.target,
        "gap": lambda r: r.gap,
    }
    return values.get(key)
