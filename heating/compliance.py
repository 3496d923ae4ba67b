"""Compliance with the requirement profile ("3个100%，1个80%" by default).

domain.md: for a category with target 100% every village of that category
must reach 100% — the failing villages are the gap; for a target below 100%
the aggregate over the category's villages is compared, and each township's
aggregate is shown too.  The rules themselves (gap, meets per part) live in
``heating.measures`` so that every aggregate row follows them; this module
arranges the result per category.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from heating.measures import MeasureRow, aggregate_row, township_category_rows, village_rows
from heating.profile import Profile
from heating.targets import rule_for
from heating.village_facts import kept_village_facts


@dataclass(frozen=True)
class CategoryCompliance:
    """How one category of the profile stands against its target."""

    key: str
    name: str
    target: float
    rule: str  # "every_village" | "aggregate"
    meets: bool | None  # None when nothing is required in the category
    failing: list[MeasureRow]  # villages below target, largest gap first
    townships: list[MeasureRow]  # the category's villages aggregated per township
    aggregate: MeasureRow  # the whole category

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "target": self.target,
            "rule": self.rule,
            "meets": self.meets,
            "gap": self.aggregate.gap,
            "aggregate": self.aggregate.as_json(),
            "failing": [r.as_json() for r in self.failing],
            "townships": [r.as_json() for r in self.townships],
        }


def compliance(
    session: Session,
    profile: Profile,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
) -> list[CategoryCompliance]:
    """Judge every category of the profile, in the profile's order.

    ``failing`` lists the villages that do not meet their target (for an
    "aggregate" category they are shown for planning; the category may still
    meet).  Villages whose category the profile does not know are not judged
    here; ``heating.inconsistencies`` lists them.
    """
    kept_facts = kept_village_facts(
        session,
        as_of=as_of,
        known_at=known_at,
        township_code=township_code,
        district_code=district_code,
    )
    facts, rows_of_villages = list(kept_facts), village_rows(kept_facts, profile)
    by_category: dict[str | None, list[MeasureRow]] = defaultdict(list)
    for row in rows_of_villages:
        by_category[row.category].append(row)
    per_township: dict[str | None, list[MeasureRow]] = defaultdict(list)
    for row in township_category_rows(profile, facts, rows_of_villages):
        per_township[row.category].append(row)
    result = []
    for cat in profile.categories:
        rows = by_category.get(cat.key, [])
        aggregate = aggregate_row(cat.key, cat.name, rows, category=cat.key)
        townships = per_township.get(cat.key, [])
        failing = sorted((r for r in rows if r.meets is False), key=lambda r: (-r.gap, r.key))
        result.append(
            CategoryCompliance(
                key=cat.key,
                name=cat.name,
                target=cat.target,
                rule=rule_for(cat.target) or "",
                meets=aggregate.meets,
                failing=failing,
                townships=townships,
                aggregate=replace(aggregate, target=cat.target),
            )
        )
    return result
