"""The 疑似改而不用 list of a season: ``heating usage flags`` and the pages and report.

One object, the same for the CLI's ``--json``, the web page and the 用量核验
sheet: the season, households checked / flagged / without data in all and
per township, and each flagged household with its use, the peers' median
and the ratio (names masked).  All of them start from ``judged_households``,
kept until the data change.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import NotFound
from heating.evidence_cache import kept
from heating.models import District, Township, Village
from heating.privacy import mask_name
from heating.seasons import UsageSettings
from heating.usage import HouseholdState, Judgement, evaluate, household_states


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True)
class Judged:
    """What the pages show of one judged household (``heating.usage.Judgement``, compact).

    Kept per process until the data change (``judged_households``), so it
    holds plain values only.
    """

    village_id: int
    village_code: str
    township_code: str
    household_no: str | None
    head_name: str | None
    route: str
    use: float | None
    median: float | None
    flagged: bool
    lapsed: bool
    heated_area_m2: float | None

    @property
    def ratio(self) -> float | None:
        if self.use is None or not self.median:
            return None
        return self.use / self.median


def judged_households(
    session: Session,
    year: int,
    settings: UsageSettings,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    district_code: str | None = None,
    states: list[HouseholdState] | None = None,
) -> tuple[Judged, ...]:
    """The households judged in the season, of one district or of every district.

    Peers and shared accounts are a district's (``heating.usage``), so a
    district is judged from its own households and their accounts' records
    alone: a page of one district reads that district, not the city.  Every
    district is the districts one after another.  Each district's answer is
    kept until the data change (``heating.evidence_cache``), so /usage, the
    village pages and the report's sheet judge once per commit.  A caller
    that has read the district's ``household_states`` (same date and known-at
    time, same transaction) passes them as ``states`` rather than have them
    read again.
    """
    if district_code is not None:
        return _judged_in_district(session, year, settings, as_of, known_at, district_code, states)
    codes = session.scalars(select(District.code).order_by(District.code))
    return tuple(
        j
        for code in codes.all()
        for j in _judged_in_district(session, year, settings, as_of, known_at, code)
    )


def _judged_in_district(
    session: Session,
    year: int,
    settings: UsageSettings,
    as_of: date | None,
    known_at: datetime | None,
    district_code: str,
    states: list[HouseholdState] | None = None,
) -> tuple[Judged, ...]:
    """One district's households judged in the season (kept until the data change)."""

    def compute() -> tuple[Judged, ...]:
        read = states
        if read is None:
            read = household_states(
                session, as_of, known_at=known_at, district_codes=(district_code,)
            )
        evidence = evaluate(session, read, settings.season(year), settings, known_at)
        return tuple(_compact(j) for j in evidence.judgements)

    key = ("judged", year, settings, as_of, known_at, district_code)
    # Peers and shared accounts are the district's own: kept under its data version.
    return kept(session, key, compute, shared=True, districts=(district_code,), as_of=as_of)


def flags_by_village(judged: Iterable[Judged]) -> dict[int, tuple[int, int, int]]:
    """village id → (checked, flagged, flagged and not lapsed): the measures' use counts."""
    out: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    for j in judged:
        if j.use is None:
            continue
        counts = out[j.village_id]
        counts[0] += 1
        if j.flagged:
            counts[1] += 1
            if not j.lapsed:
                counts[2] += 1
    return {vid: (c[0], c[1], c[2]) for vid, c in out.items()}


def _compact(j: Judgement) -> Judged:
    h = j.household
    area = h["heated_area_m2"]
    return Judged(
        h.village_id,
        h.village_code,
        h.township_code,
        h["household_no"],
        h["head_name"],
        j.route,
        j.use,
        j.median,
        j.flagged,
        h.lapsed,
        None if area is None else float(area),
    )


def flags_report(
    session: Session,
    year: int,
    settings: UsageSettings,
    *,
    township_code: str | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
    district_code: str | None = None,
) -> dict[str, Any]:
    """Judge the season by district (peers), report one township, district or all.

    Only the district asked for (or the township's) is read and judged.

    Households as they are now, or as of a date (the annual report's cut-off).
    """
    names = dict(session.execute(select(Township.code, Township.name)).all())
    if township_code is not None and township_code not in names:
        raise NotFound(
            f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位统计用区划代码）。"
        )
    if township_code is not None and district_code is None:
        district_code = session.scalar(
            select(District.code)
            .join(Township, Township.district_id == District.id)
            .where(Township.code == township_code)
        )
    judged = judged_households(
        session, year, settings, as_of=as_of, known_at=known_at, district_code=district_code
    )
    judgements = [j for j in judged if township_code is None or j.township_code == township_code]
    by_township: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    flagged: list[Judged] = []
    for j in judgements:
        counts = by_township[j.township_code]
        if j.use is None:
            counts[2] += 1
            continue
        counts[0] += 1
        if j.flagged:
            counts[1] += 1
            flagged.append(j)
    flagged.sort(key=lambda j: (j.village_code, j.household_no or ""))
    totals = [sum(c[i] for c in by_township.values()) for i in range(3)]
    season = settings.season(year)
    return {
        "season": str(year),
        "season_start": season.start.isoformat(),
        "season_end": season.end.isoformat(),
        "rule": {
            "ratio": settings.ratio,
            "min_peers": settings.min_peers,
            "min_kwh_per_m2": settings.min_kwh_per_m2,
            "min_m3_per_m2": settings.min_m3_per_m2,
        },
        "checked": totals[0],
        "flagged": totals[1],
        "no_data": totals[2],
        "by_township": [
            {
                "township": code,
                "name": names.get(code),
                "checked": c[0],
                "flagged": c[1],
                "no_data": c[2],
            }
            for code, c in sorted(by_township.items())
        ],
        "households": [
            {
                "village": j.village_code,
                "township": j.township_code,
                "household_no": j.household_no,
                "head_name": mask_name(j.head_name),
                "route": j.route,
                "use": _rounded(j.use),
                "median": _rounded(j.median),
                "ratio": _rounded(j.ratio, 3),
                "lapsed": j.lapsed,
                "heated_area_m2": j.heated_area_m2,
            }
            for j in flagged
        ],
    }


def village_evidence(
    session: Session,
    village_id: int,
    year: int,
    settings: UsageSettings,
) -> list[dict[str, Any]]:
    """The judged households of one village in a season (peers: the whole district), flagged first."""
    district_code = session.scalar(
        select(District.code)
        .join(Township, Township.district_id == District.id)
        .join(Village, Village.township_id == Township.id)
        .where(Village.id == village_id)
    )
    if district_code is None:
        return []
    out = [
        {
            "household_no": j.household_no,
            "head_name": j.head_name,
            "route": j.route,
            "use": _rounded(j.use),
            "median": _rounded(j.median),
            "ratio": _rounded(j.ratio, 3),
            "flagged": j.flagged,
            "lapsed": j.lapsed,
        }
        for j in judged_households(session, year, settings, district_code=district_code)
        if j.village_id == village_id
    ]
    out.sort(key=lambda h: (not h["flagged"], h["use"] is None, h["household_no"] or ""))
    return out
