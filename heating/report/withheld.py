"""An approved-only report (``heating report --approved-only``): unapproved figures withheld.

The villages of townships not approved for the report's period stay listed
but their figures are withheld (shown "—"); totals are the approved
townships' alone and are labelled 仅含已审核乡镇（n/N）; a category with any
withheld village has ``meets = None``, so a failing village of an
unapproved township cannot vanish into a category judged 达标.  Every
sheet reads the withheld snapshot, the map picture draws withheld villages
as 无数据, and the command's JSON carries the same totals, so they agree.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from heating.measures import TOTAL_KEY, TOTAL_NAME, aggregate_row, category_rows
from heating.trend import regroup

if TYPE_CHECKING:
    from heating.measures import MeasureRow
    from heating.report.snapshot import Comparison, Snapshot
    from heating.report.zone_section import ZoneSection


def withhold(s: Snapshot) -> Snapshot:
    """``s`` with the figures of townships that are not approved withheld (module docstring)."""
    section = s.signoff
    if section is None or not section.approved_only:
        return s
    keep = section.approved_codes
    label = f"{TOTAL_NAME}（{section.count_label}）"
    villages = [replace(v, withheld=v.row.township_code not in keep) for v in s.villages]
    shown = [v for v in villages if not v.withheld]
    hidden_categories = {v.row.category for v in villages if v.withheld}
    categories = []
    for r in category_rows(s.profile, [v.row for v in shown]):
        if r.key == TOTAL_KEY:
            r = replace(r, name=label, meets=None if hidden_categories else r.meets)
        elif r.key in hidden_categories or (r.key == "" and None in hidden_categories):
            r = replace(r, meets=None)
        categories.append(r)
    shown_codes = {v.row.key for v in shown}
    complete: dict[str, int] = {}
    for v in shown:
        if v.complete:
            complete[v.row.category or ""] = complete.get(v.row.category or "", 0) + 1
            complete[TOTAL_KEY] = complete.get(TOTAL_KEY, 0) + 1
    return replace(
        s,
        categories=categories,
        complete_by_category=complete,
        villages=villages,
        failing=[v for v in s.failing if v.row.township_code in keep],
        below_target=[v for v in s.below_target if v.row.township_code in keep],
        zones=_zones(s.zones, shown_codes),
        routes=[r for r in s.routes if r.township_code in keep],
        problem_villages=[v for v in s.problem_villages if v.village_code in shown_codes],
        problems=[p for p in s.problems if p.village_code in shown_codes],
        comparison=_comparison(s.comparison, keep, categories[-1], label),
        inconsistencies=[
            i for i in s.inconsistencies if i.village_code is None or i.village_code in shown_codes
        ],
        no_boundary=[v for v in s.no_boundary if v.row.township_code in keep],
        no_completion_date=[n for n in s.no_completion_date if n.village_code in shown_codes],
        # Earlier years over the approved townships too; this year's point is the totals above.
        trend=[
            *(regroup(p, s.profile, keep, label) for p in s.trend[:-1]),
            replace(s.trend[-1], rows=categories),
        ]
        if s.trend
        else [],
        heat_sources=s.heat_sources.only(keep) if s.heat_sources is not None else None,
    )


def _comparison(
    lines: list[Comparison], keep: frozenset[str], current_total: MeasureRow, label: str
) -> list[Comparison]:
    """Township lines stay (the sheet shows withheld ones as "—"); the total is the approved ones'."""
    townships = [c for c in lines if c.key != TOTAL_KEY]
    kept = [c for c in townships if c.key in keep]
    previous = aggregate_row(TOTAL_KEY, label, [c.previous for c in kept])
    total = next(c for c in lines if c.key == TOTAL_KEY)
    return [*townships, replace(total, name=label, previous=previous, current=current_total)]


def _zones(zones: ZoneSection | None, shown_codes: set[str]) -> ZoneSection | None:
    """Zones keep their shape; the households of a zone with a withheld village are withheld."""
    if zones is None:
        return None
    return replace(
        zones,
        zones=[
            z
            if all(code in shown_codes for code, _ in z.villages)
            else replace(z, required=None, clean=None)
            for z in zones.zones
        ],
    )
