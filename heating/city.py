"""The city summary: every district of the installation, ranked by gap, then coverage.

One line per district with villages, from the same village rows and the same
aggregation as every other measure (``heating.measures.aggregate_row``), so a
district's line equals the 合计 row of that district's report
(``heating.report``) and ``heating coverage --by district``.

Ranking: the largest gap (households still to convert to meet the targets)
first; among equal gaps the lower coverage first; districts where nothing is
required (coverage "—") last; then by code, so the order is total.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.measures import MeasureRow, aggregate_row, category_rows, village_row
from heating.models import District, Township
from heating.profile import Profile
from heating.village_facts import village_facts

# The keys of a district's (and the city's) line and of its categories in ``--json``.
TOTAL_KEYS = ("villages", "required", "clean", "coverage", "effective_coverage", "gap", "meets")
CATEGORY_KEYS = ("key", "name", "required", "clean", "coverage", "target", "gap", "meets")


def _figures(row: MeasureRow, keys: tuple[str, ...]) -> dict[str, Any]:
    """The row's figures under ``keys``, as ``MeasureRow.as_json`` names them."""
    data = row.as_json()
    return {k: data[k] for k in keys}


@dataclass(frozen=True)
class DistrictLine:
    """One district's standing in the city."""

    rank: int
    code: str
    name: str
    townships: int
    total: MeasureRow  # all its villages (the report's 合计 row)
    categories: list[MeasureRow]  # per category of the profile (and unknown ones), no total

    def as_json(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "district": self.code,
            "name": self.name,
            "townships": self.townships,
            **_figures(self.total, TOTAL_KEYS),
            "categories": [_figures(c, CATEGORY_KEYS) for c in self.categories],
        }


def rank_key(row: MeasureRow) -> tuple[Any, ...]:
    """Largest gap first, then lower coverage, "—" coverage last, then code."""
    return (-row.gap, row.coverage is None, row.coverage or 0.0, row.key)


@dataclass(frozen=True)
class CitySummary:
    lines: list[DistrictLine]  # ranked
    total: MeasureRow  # every village of the city

    def as_json(self) -> dict[str, Any]:
        return {
            "districts": [line.as_json() for line in self.lines],
            "total": _figures(self.total, TOTAL_KEYS),
        }


def city_summary(
    session: Session,
    profile: Profile,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
) -> CitySummary:
    """Rank every district that has villages (see the module docstring)."""
    facts = village_facts(session, as_of=as_of, known_at=known_at)
    rows: dict[str, list[MeasureRow]] = defaultdict(list)
    names: dict[str, str] = {}
    for f in facts:
        rows[f.district_code].append(village_row(f, profile))
        names[f.district_code] = f.district_name
    townships = dict(
        session.execute(
            select(District.code, func.count(Township.id))
            .join(Township, Township.district_id == District.id)
            .group_by(District.code)
        ).all()
    )
    totals = sorted(
        (aggregate_row(code, names[code], village_rows) for code, village_rows in rows.items()),
        key=rank_key,
    )
    lines = [
        DistrictLine(
            rank=i,
            code=total.key,
            name=total.name,
            townships=townships.get(total.key, 0),
            total=total,
            categories=[
                c for c in category_rows(profile, rows[total.key])[:-1] if c.required or c.villages
            ],
        )
        for i, total in enumerate(totals, start=1)
    ]
    every = [r for village_rows in rows.values() for r in village_rows]
    return CitySummary(lines, aggregate_row("city", "全市", every))
