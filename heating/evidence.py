"""Evidence counts per village for the measures: use flags and heated floor area.

``with_evidence`` adds to each village's facts (``heating.village_facts``)
the counts that ``heating.measures`` turns into ``usage_checked``,
``usage_flagged``, ``verified_effective_coverage`` and the area measures,
so that the coverage command, the village page, the map and the report
take them from one place.  Both read every household's state (as of the
date), so they are skipped outright where there is nothing to count: no
usage record and no heated area recorded.

- the season judged is the latest that ended on or before the date;
  without a date (the current state), the latest ended by today that the
  usage data reach (``season_judged``); ``heating.usage`` judges it, one
  district at a time (``heating.usage_flags.judged_households``, kept with
  the village page's and /usage's judgements);
- ``area_known`` counts required households (not exempt) with a heated
  area; ``area_required_m2`` sums their areas, ``area_clean_m2`` those of
  the clean ones — clean as the measures count it: ``not_clean`` names the
  households clean by status that the heat-source rule leaves out
  (``heating.village_facts``; use flags go by status and judge no
  district-heated household, so they need no such correction).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from heating import clock
from heating.evidence_cache import kept
from heating.models import District, Household, Township, Village
from heating.seasons import UsageSettings
from heating.usage import HouseholdState, has_usage, household_states, latest_use_day
from heating.usage_flags import flags_by_village, judged_households

if TYPE_CHECKING:
    from heating.village_facts import VillageFacts


def _of_districts(query: Select, districts: Iterable[str]) -> Select:
    """``query`` over households, limited to those of ``districts``."""
    return (
        query.join(Village, Household.village_id == Village.id)
        .join(Township, Village.township_id == Township.id)
        .join(District, Township.district_id == District.id)
        .where(District.code.in_(sorted(districts)))
    )


def has_areas(session: Session, districts: Iterable[str]) -> bool:
    """True when any household of ``districts`` has a heated area recorded.

    Facts kept per district (``heating.village_facts``) ask about their own
    district only, so that a commit elsewhere cannot change what they depend on.
    """
    query = select(Household.id).where(Household.heated_area_m2.is_not(None)).limit(1)
    return session.scalar(_of_districts(query, districts)) is not None


def season_judged(session: Session, as_of: date | None, settings: UsageSettings) -> int | None:
    """The season measures judge: the latest ended by ``as_of``; without a date, the latest
    ended by today that the usage data reach (a district imports last winter's use in spring)."""
    if as_of is not None:
        return settings.latest_ended(as_of)
    ended = settings.latest_ended(clock.today())
    newest = latest_use_day(session)
    if newest is None or ended is None:
        return ended
    reached = settings.season_of(newest)
    if reached is None:
        reached = settings.latest_ended(newest)
    return ended if reached is None else min(ended, reached)


def default_season(session: Session, settings: UsageSettings, tz: str) -> int:
    """The season shown when none is asked (/usage, ``usage flags``, ``subsidy schedule``).

    The one the measures judge now (``season_judged`` without a date: the latest
    ended by today that the usage data reach); last year's without any.
    """
    judged = season_judged(session, None, settings)
    return judged if judged is not None else clock.today(tz).year - 1


def evidence_districts(session: Session, districts: Iterable[str]) -> frozenset[str]:
    """Those of ``districts`` with a household holding a utility account or a heated area.

    Kept until the data change (``heating.evidence_cache``), per district under
    its own data version: in a district without any, the query reads every
    household (0.3–0.55 s of PostgreSQL per call on the city demo, asked by each
    page's facts and several times by each report: ``benchmarks/load.py``, README
    "Load test"), and a commit in one district need not read the others again.
    """
    return frozenset(
        code
        for code in districts
        if kept(
            session,
            ("evidence district", code),
            lambda code=code: _has_evidence(session, code),
            shared=True,
            districts=(code,),
        )
    )


def _has_evidence(session: Session, district_code: str) -> bool:
    h = Household
    query = (
        select(h.id)
        .where(
            or_(
                h.power_account.is_not(None),
                h.gas_account.is_not(None),
                h.heated_area_m2.is_not(None),
            )
        )
        .limit(1)
    )
    return session.scalar(_of_districts(query, (district_code,))) is not None


def with_evidence(
    session: Session,
    facts: list[VillageFacts],
    as_of: date | None,
    settings: UsageSettings,
    known_at: datetime | None = None,
    not_clean: Callable[[HouseholdState], bool] | None = None,
    rule: str | None = None,
) -> list[VillageFacts]:
    """The facts with their evidence counts (unchanged when there is no evidence at all).

    The counts are kept per process until the data change
    (``heating.evidence_cache``) when ``rule`` names what ``not_clean``
    judges by (the heat-source rule): with it, every argument the counts
    depend on is part of the key.
    """
    usage = has_usage(session)
    in_facts = {f.district_code for f in facts}
    areas = has_areas(session, in_facts)
    if not facts or not (usage or areas):
        return facts
    # Peers are judged within a district (heating.usage.flag_against_peers), so only the
    # districts of these facts that hold any use or area evidence need reading: in a city
    # of 600,000 households, the generated districts without evidence cost nothing.
    districts = evidence_districts(session, in_facts)
    year = season_judged(session, as_of, settings) if usage else None

    def compute() -> tuple[dict[int, tuple[int, int, int]], dict[int, tuple[int, float, float]]]:
        return _evidence_counts(
            session, districts, as_of, known_at, settings, year, areas, not_clean
        )

    if rule is None and not_clean is not None:
        flags, area = compute()
    else:
        key = (
            "evidence",
            districts,
            as_of,
            known_at,  # as given: the register and usage batches have times of their own
            year,
            areas,
            settings,
            rule,
        )
        flags, area = kept(session, key, compute, shared=True, districts=districts, as_of=as_of)
    out = []
    for f in facts:
        checked, flagged, live = flags.get(f.village_id, (0, 0, 0))
        known, required_m2, clean_m2 = area.get(f.village_id, (0, 0.0, 0.0))
        out.append(
            replace(
                f,
                usage_season=year,
                usage_checked=checked,
                usage_flagged=flagged,
                usage_flagged_live=live,
                area_known=int(known),
                area_required_m2=required_m2,
                area_clean_m2=clean_m2,
            )
        )
    return out


def _evidence_counts(
    session: Session,
    districts: frozenset[str],
    as_of: date | None,
    known_at: datetime | None,
    settings: UsageSettings,
    year: int | None,
    areas: bool,
    not_clean: Callable[[HouseholdState], bool] | None,
) -> tuple[dict[int, tuple[int, int, int]], dict[int, tuple[int, float, float]]]:
    """village id → (checked, flagged, flagged and not lapsed), and → (area known,
    required m², clean m²): the districts' households read and judged."""
    states = (
        household_states(session, as_of, known_at=known_at, district_codes=districts)
        if areas and districts
        else None
    )
    flags: dict[int, tuple[int, int, int]] = {}
    if year is not None:
        # Each district judged as the village page and /usage judge it, and kept with
        # them: after a commit a district is judged once per worker, not once per reader
        # (from the states read here for the areas, when they are).
        of_district: dict[str, list[HouseholdState]] = defaultdict(list)
        for s in states or ():
            of_district[s.district_code].append(s)
        flags = flags_by_village(
            j
            for code in sorted(districts)
            for j in judged_households(
                session,
                year,
                settings,
                as_of=as_of,
                known_at=known_at,
                district_code=code,
                states=None if states is None else of_district[code],
            )
        )
    area: dict[int, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    if states is not None:
        for s in states:
            value = s["heated_area_m2"]
            if value is None or s["status"] == "exempt":
                continue
            counts = area[s.village_id]
            counts[0] += 1
            counts[1] += float(value)
            if s.clean and not (not_clean and not_clean(s)):
                counts[2] += float(value)
    return flags, {vid: (int(c[0]), c[1], c[2]) for vid, c in area.items()}
