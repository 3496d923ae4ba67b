"""The 疑似改而不用 list of a season: ``heating usage flags`` and the pages and report.

One object, the same for the CLI's ``--json``, the web page and the 用量核验
sheet: the season, households checked / flagged / without data in all and
per township, and each flagged household with its use, the peers' median
and the ratio (names masked).  All of them start from ``judged_households``,
kept until the data change.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import NotFound
from heating.evidence_cache import kept
from heating.models import Township
from heating.privacy import mask_name
from heating.seasons import UsageSettings
from heating.usage import Judgement, evaluate, household_states


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
) -> tuple[Judged, ...]:
    """Every household judged in the season (peers: the whole district), now or as of a date.

    Judging reads every household and the season's use: the answer is kept
    until the data change (``heating.evidence_cache``), so /usage, the
    village pages and the report's sheet judge once per commit.
    """

    def compute() -> tuple[Judged, ...]:
        states = household_states(session, as_of, known_at=known_at)
        evidence = evaluate(session, states, settings.season(year), settings, known_at)
        return tuple(_compact(j) for j in evidence.judgements)

    key = ("judged", year, settings, as_of, known_at)
    return kept(session, key, compute, shared=True)


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
    """Judge the season over the whole district (peers), report one township, district or all.

    Households as they are now, or as of a date (the annual report's cut-off).
    """
    names = dict(session.execute(select(Township.code, Township.name)).all())
    if township_code is not None and township_code not in names:
        raise NotFound(
            f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位统计用区划代码）。"
        )
    judgements = [
        j
        for j in judged_households(session, year, settings, as_of=as_of, known_at=known_at)
        if (township_code is None or j.township_code == township_code)
        and (district_code is None or j.township_code.startswith(district_code))
    ]
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
        for j in judged_households(session, year, settings)
        if j.village_id == village_id
    ]
    out.sort(key=lambda h: (not h["flagged"], h["use"] is None, h["household_no"] or ""))
    return out
