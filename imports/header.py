"""Find the header of a sheet: the row (or pair of rows) that best names known columns.

Clerks put titles, dates and units above the header and often use two header
rows with merged cells (``补贴(元)`` above ``设备补贴`` and ``运行补贴``).
Columns are matched by normalised name and synonyms, never by position.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from imports.fields import Schema

SCAN_ROWS = 20
MIN_FIELDS = 3

Merged = Sequence[tuple[tuple[int, int], tuple[int, int]]]


@dataclass
class HeaderMatch:
    """Where the header is (0-based rows) and what each column means."""

    first_row: int
    last_row: int
    fields: dict[int, str] = field(default_factory=dict)  # column index → field
    labels: dict[int, str] = field(default_factory=dict)  # column index → header as written
    ignored: dict[int, str] = field(default_factory=dict)  # unknown columns: index → header
    duplicates: dict[int, str] = field(default_factory=dict)  # index → field already taken
    texts: frozenset[str] = frozenset()  # raw header cell strings (to spot repeated headers)

    @property
    def data_start(self) -> int:
        return self.last_row + 1

    @cached_property
    def probe(self) -> int:
        """A column whose header text a repeated header row would show again."""
        return min(self.fields) if self.fields else 0

    def repeats(self, raw: Sequence[Any]) -> bool:
        """True for a repeated header row (a header printed again on each page)."""
        probe = self.probe
        return (
            probe < len(raw)
            and raw[probe] in self.texts
            and sum(1 for v in raw if v in self.texts) * 2 >= len(self.fields)
        )


def _text(value: Any) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return " ".join(str(value).split())


def _expanded(rows: Sequence[Sequence[Any]], merged: Merged | None, limit: int) -> list[list[str]]:
    """Header-area rows as text, each merged range filled with its top-left value."""
    area = [[_text(c) for c in rows[i]] for i in range(limit)]
    for (r0, c0), (r1, c1) in merged or ():
        if r0 >= limit:
            continue
        value = area[r0][c0] if c0 < len(area[r0]) else ""
        for r in range(r0, min(r1, limit - 1) + 1):
            row = area[r]
            for c in range(c0, min(c1, len(row) - 1) + 1):
                if not row[c]:
                    row[c] = value
    return area


def _vertical_links(merged: Merged | None) -> set[int]:
    """Rows whose merged cells continue into the next row (a two-row header's top)."""
    linked: set[int] = set()
    for (r0, _c0), (r1, _c1) in merged or ():
        for r in range(r0, min(r1, SCAN_ROWS)):
            linked.add(r)
    return linked


def _single(schema: Schema, row: list[str]) -> tuple[dict[int, str], dict[int, str]]:
    matched: dict[int, str] = {}
    labels: dict[int, str] = {}
    for c, text in enumerate(row):
        name = schema.match(text) if text else None
        if name:
            matched[c] = name
            labels[c] = text
    return matched, labels


def _pair(
    schema: Schema, top: list[str], bottom: list[str], fill_groups: bool
) -> tuple[dict[int, str], dict[int, str]]:
    matched: dict[int, str] = {}
    labels: dict[int, str] = {}
    group = ""
    for c in range(max(len(top), len(bottom))):
        t = top[c] if c < len(top) else ""
        b = bottom[c] if c < len(bottom) else ""
        if fill_groups:
            # Without merge information a group title sits only in its first column.
            if t:
                group = t if b else ""
            elif b and group:
                t = group
        name = None
        label = ""
        if b and b != t:
            name = schema.match(b)
            label = b
            if not name and t:
                name = schema.match(t + b)
                label = f"{t}/{b}"
        elif t:
            name = schema.match(t)
            label = t
        if name:
            matched[c] = name
            labels[c] = label
    return matched, labels


def find_header(
    rows: Sequence[Sequence[Any]],
    merged: Merged | None,
    schema: Schema,
    *,
    scan: int = SCAN_ROWS,
    min_fields: int = MIN_FIELDS,
) -> HeaderMatch | None:
    """Return the best header within the first ``scan`` rows, or None when none names enough fields."""
    limit = min(scan, len(rows))
    if limit == 0:
        return None
    area = _expanded(rows, merged, limit)
    linked = _vertical_links(merged)
    # (score, prefer, -first_row) → candidate; higher is better.
    best: tuple[tuple[int, int, int], int, int, dict[int, str], dict[int, str]] | None = None
    for i in range(limit):
        matched, labels = _single(schema, area[i])
        score = len(set(matched.values()))
        cand = ((score, 1, -i), i, i, matched, labels)
        if best is None or cand[0] > best[0]:
            best = cand
        if i + 1 < limit:
            pm, pl = _pair(schema, area[i], area[i + 1], fill_groups=merged is None)
            pscore = len(set(pm.values()))
            # A pair beats a single row on a tie only when merged cells tie its rows together.
            prefer = 2 if i in linked else 0
            cand = ((pscore, prefer, -i), i, i + 1, pm, pl)
            if cand[0] > best[0]:
                best = cand
    assert best is not None
    (score, _p, _i), first, last, matched, labels = best
    if score < min_fields:
        return None
    result = HeaderMatch(first, last)
    seen: set[str] = set()
    for c in sorted(matched):
        name = matched[c]
        if name in seen:
            result.duplicates[c] = labels[c]
            continue
        seen.add(name)
        result.fields[c] = name
        result.labels[c] = labels[c]
    width = max(len(area[first]), len(area[last]))
    for c in range(width):
        if c in matched:
            continue
        top = area[first][c] if c < len(area[first]) else ""
        bottom = area[last][c] if c < len(area[last]) else ""
        text = "/".join(dict.fromkeys(t for t in (top, bottom) if t))
        if text:
            result.ignored[c] = text
    texts = set()
    for r in range(first, last + 1):
        texts.update(v for v in rows[r] if isinstance(v, str) and v)
    result.texts = frozenset(texts)
    return result
