"""The tooltip values of the coverage map: what a reader reads over a village or a township.

One list of texts per area, in the order of ``geo.maps_document.VILLAGE_FIELDS``
and ``TOWNSHIP_FIELDS``; counts and percentages say "—" where unknown, never a
false 0 (``heating.targets.percent``).  ``geo.maps_document`` escapes them.
"""

from __future__ import annotations

from typing import Any

from heating.heat_sources import noncompliant_note
from heating.measures import MeasureRow
from heating.profile import Profile
from heating.targets import percent


def count_text(value: int | None) -> str:
    """A count, or "—" where it is unknown."""
    return "—" if value is None else str(value)


def village_tip(row: Any, m: MeasureRow | None, profile: Profile, rule: str) -> list[str]:
    """The tooltip values of one village, in the order of ``geo.maps_document.VILLAGE_FIELDS``."""
    return [
        row.name,
        row.township_name,
        profile.label(row.category),
        count_text(m.required if m else None),
        count_text(m.clean if m else None),
        percent(m.coverage if m else None),
        percent(m.effective_coverage if m else None),
        percent(profile.target(row.category)),
        count_text(m.gap if m else None),
        *evidence_tip(m),
        noncompliant_note(m.heat_source_noncompliant, rule) if m else "",
    ]


def evidence_tip(m: MeasureRow | None) -> list[str]:
    """Flagged by use, verified effective coverage, coverage by floor area ("—" where unknown)."""
    return [
        count_text(m.usage_flagged_shown if m else None),
        percent(m.verified_effective_coverage if m else None),
        percent(m.area_coverage if m else None),
    ]


def township_tip(
    agg: MeasureRow, villages: int, parts: list[MeasureRow], target: float | None, rule: str
) -> list[str]:
    """The tooltip values of one township of the overview, in the order of ``TOWNSHIP_FIELDS``.

    ``agg`` sums the township's villages ``parts``; ``target`` is the share every
    village needs to reach its own target (``geo.maps._township_areas``).
    """
    return [
        agg.name,
        str(villages),
        str(agg.required),
        str(agg.clean),
        percent(agg.coverage),
        percent(agg.effective_coverage),
        percent(target),
        str(agg.gap),
        str(sum(1 for r in parts if r.meets is False)),
        *evidence_tip(agg),
        noncompliant_note(agg.heat_source_noncompliant, rule),
    ]
