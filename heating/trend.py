"""Coverage by category at each year's cut-off, over the years with data (历年趋势).

Each point is ``heating.measures.coverage`` by category (its own grouping
over the village rows) as of one year's
report cut-off (``report_cutoff``, e.g. 10-31) — the history's own as-of
rule, so a year's point equals that year's report (with the same known-at)
and a ledger back-filled later moves the years it describes, not today.

The points leave the usage evidence out (``village_facts(evidence=False)``):
the trend shows households required and clean only, and judging use as of
every year cost seconds per year.

"Years with data": from the first year whose cut-off is on or after the
earliest ledger date to the last year whose cut-off is on or before the
newest ledger date (``last`` caps it, e.g. at a report's year).  Ledgers
dated after the last cut-off show in the current state, not as a year.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from heating.config import cutoff_of
from heating.evidence_cache import kept
from heating.history import first_ledger_date, last_ledger_date
from heating.measures import TOTAL_KEY, MeasureRow, category_rows, village_row
from heating.profile import Profile
from heating.village_facts import village_facts


@dataclass(frozen=True)
class TrendPoint:
    """The category rows (profile order, then "total") as of one year's cut-off.

    ``villages`` keeps the village rows they were grouped from, so a report
    that withholds some townships can regroup a year without the database.
    """

    year: int
    as_of: date
    rows: list[MeasureRow]
    villages: tuple[MeasureRow, ...] = ()

    def row(self, key: str) -> MeasureRow | None:
        return next((r for r in self.rows if r.key == key), None)


def regroup(
    point: TrendPoint, profile: Profile, townships: frozenset[str], total_name: str
) -> TrendPoint:
    """The point over the villages of ``townships`` only, its total row named ``total_name``."""
    kept = [v for v in point.villages if v.township_code in townships]
    rows = [
        replace(r, name=total_name) if r.key == TOTAL_KEY else r
        for r in category_rows(profile, kept)
    ]
    return replace(point, rows=rows, villages=tuple(kept))


def trend_years(
    session: Session,
    report_cutoff: str,
    *,
    last: date | None = None,
    known_at: datetime | None = None,
) -> list[int]:
    """The years whose cut-off falls between the first and the newest ledger date (≤ ``last``),
    counting only what was known at ``known_at`` (a report's years stay put after back-fills)."""
    first = first_ledger_date(session, known_at)
    newest = last_ledger_date(session, known_at)
    if first is None or newest is None:
        return []
    end = min(newest, last) if last else newest
    years = []
    for year in range(first.year, end.year + 1):
        day = cutoff_of(year, report_cutoff)
        if first <= day <= end:
            years.append(year)
    return years


def coverage_trend(
    session: Session,
    profile: Profile,
    report_cutoff: str,
    *,
    years: list[int] | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
) -> list[TrendPoint]:
    """Coverage by category at each year's cut-off (``trend_years`` unless given).

    Kept until the data change (``heating.evidence_cache``): each year is an
    as-of count over the history.
    """
    if years is None:
        years = trend_years(session, report_cutoff)
    key = (
        "trend",
        (profile.name, profile.categories, tuple(sorted(profile.urban_rural.items()))),
        report_cutoff,
        tuple(years),
        known_at,  # as given: the register and usage batches have times of their own
        township_code,
        district_code,
    )
    points = kept(
        session,
        key,
        lambda: _points(
            session, profile, report_cutoff, years, known_at, township_code, district_code
        ),
        shared=True,  # frozen points; the list is copied
        # One district's points read its households only (the years are in the key).
        districts=None if district_code is None or township_code else (district_code,),
    )
    return list(points)


def _points(
    session: Session,
    profile: Profile,
    report_cutoff: str,
    years: list[int],
    known_at: datetime | None,
    township_code: str | None,
    district_code: str | None,
) -> tuple[TrendPoint, ...]:
    points = []
    for year in years:
        day = cutoff_of(year, report_cutoff)
        facts = village_facts(
            session,
            as_of=day,
            known_at=known_at,
            township_code=township_code,
            district_code=district_code,
            evidence=False,  # the trend shows required and clean only
        )
        villages = [village_row(f, profile) for f in facts]
        points.append(TrendPoint(year, day, category_rows(profile, villages), tuple(villages)))
    return tuple(points)
