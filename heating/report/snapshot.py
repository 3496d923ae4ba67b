"""Every number of the annual report, gathered from one frozen as-of snapshot.

``take_snapshot`` reads the database once per question and returns plain
dataclasses; the sheet modules only lay them out.  The measures are
``heating.measures``' own functions over the village facts read once
(``heating.village_facts``); the sources, the zones and the household detail
are gathered by ``sources``, ``zone_section`` and ``household_detail``; the district and
the cut-off are settled by ``district_year``.  Household numbers are the
state as of the cut-off by ledger date, known at the report's known-at time
(``heating.history``; default: the moment it is generated), so a report
regenerated later with the same cut-off and known-at shows the same numbers
whatever was imported or back-filled since; completion decisions and zone
derivations are filtered by the time they were recorded too.  The village
registry (names, categories, registry totals), the boundaries and the
requirement profile are not versioned: they are read at generation time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.boilers import BoilerStatus, boiler_status
from heating.clock import end_of_second, local_date
from heating.coal_subsidy import coal_subsidies_in_zones
from heating.completion import decided_village_ids
from heating.config import Config, cutoff_of
from heating.inconsistencies import Inconsistency, inconsistencies
from heating.measures import (
    TOTAL_KEY,
    TOTAL_NAME,
    MeasureRow,
    aggregate_row,
    category_rows,
    complete_codes,
    township_category_rows,
    township_rows,
    village_row,
)
from heating.models import (
    Township,
    Village,
    utcnow,
)
from heating.profile import Profile
from heating.relapse import needing_plan
from heating.relapse_plans import plans_in_force, with_plans
from heating.report.district_year import (
    check_year,
    default_as_of,
    installed_districts,
    report_district_name,
    resolve_district,
)
from heating.report.heat_source_section import HeatSourceSection, heat_source_section
from heating.report.household_detail import (
    NoCompletionDate,
    ProblemHousehold,
    ProblemVillage,
    RouteLine,
    household_detail,
)
from heating.report.signoff_section import SignoffSection, gather
from heating.report.sources import Sources, read_sources
from heating.report.withheld import withhold
from heating.report.zone_section import ZoneSection, zone_section
from heating.session_memo import remember_reads
from heating.subsidy import schedule
from heating.targets import RULE_AGGREGATE, RULE_EVERY_VILLAGE, rule_for
from heating.trend import TrendPoint, coverage_trend, trend_years
from heating.usage import has_usage
from heating.usage_flags import flags_report
from heating.village_facts import village_facts

# --------------------------------------------------------------------------
# Result dataclasses
# --------------------------------------------------------------------------


NO_APPROVED_VILLAGE = "无已审核的村"


@dataclass(frozen=True)
class VillageLine:
    """A village's measures with what the report says beside them."""

    row: MeasureRow
    township_name: str
    has_boundary: bool
    complete: bool
    enclave: bool
    withheld: bool = False  # an approved-only report hides it: its township is not approved

    @property
    def outstanding(self) -> int:
        """Households required but not yet clean (what makes an enclave incomplete)."""
        return max(0, self.row.required - self.row.clean)


@dataclass(frozen=True)
class Comparison:
    """One township (or the district) at the previous and this year's cut-off."""

    key: str
    name: str
    previous: MeasureRow
    current: MeasureRow

    @property
    def clean_added(self) -> int:
        return self.current.clean - self.previous.clean

    @property
    def coverage_change(self) -> float | None:
        if self.current.coverage is None or self.previous.coverage is None:
            return None
        return self.current.coverage - self.previous.coverage


@dataclass(frozen=True)
class Snapshot:
    """Everything the workbook shows, for one district, year and as-of date."""

    district_code: str
    district_name: str
    year: int
    as_of: date
    previous_as_of: date
    generated_at: datetime  # naive UTC, to the second
    known_at: datetime  # naive UTC: only what was recorded by then counts
    timezone: str
    profile: Profile
    sources: Sources
    categories: list[MeasureRow]  # profile order, then unknown ones, then "total"
    complete_by_category: dict[str, int]  # category key (and "total") → complete villages
    townships: list[MeasureRow]
    township_categories: list[MeasureRow]  # per township × category
    villages: list[VillageLine]
    failing: list[VillageLine]  # 100%-category villages below it (they decide compliance)
    below_target: list[VillageLine]  # villages of categories judged as a whole, below target
    zones: ZoneSection | None
    routes: list[RouteLine]
    problem_villages: list[ProblemVillage]
    problems: list[ProblemHousehold]
    comparison: list[Comparison]  # per township, then the district ("total")
    inconsistencies: list[Inconsistency]
    no_boundary: list[VillageLine]
    no_completion_date: list[NoCompletionDate]
    village_names: dict[str, str] = field(default_factory=dict)  # code → name
    boilers: BoilerStatus | None = None  # coal 清零 and gas low-NOx as of the date
    trend: list[TrendPoint] = field(default_factory=list)  # each year's cut-off, this one last
    author_unit: str = ""  # 编制单位 (setting report_author_unit; blank: a line to fill in)
    reviewer: str = ""  # 审核人 (setting report_reviewer)
    signoff: SignoffSection | None = None  # the townships' sign-off states for the period
    # Evidence of use (heating.usage_flags) for the season the measures judge (Y−1 for
    # the default cut-off), and the subsidy schedule of season Y (None without rules).
    usage_flags: dict[str, Any] | None = None
    subsidy: dict[str, Any] | None = None
    # Households with a coal subsidy in complete villages or zones (heating.coal_subsidy).
    coal_subsidies: list[dict[str, Any]] = field(default_factory=list)
    # Villages and townships above relapse_share, each with its plan as known then
    # (heating.relapse_plans.with_plans; overdue judged on the day of known_at).
    relapse_places: list[dict[str, Any]] = field(default_factory=list)
    relapse_share: float = 0.1  # the threshold they exceed ([usage] relapse_share)
    heat_sources: HeatSourceSection | None = None  # 先立后破 check as of the date

    @property
    def draft(self) -> bool:
        """Not every township approved for the report's period: 草稿（未全部审核）."""
        return self.signoff is None or self.signoff.draft

    @property
    def total(self) -> MeasureRow:
        return self.categories[-1]

    @property
    def counts_unsupported(self) -> str | None:
        """Why village counts (未达标村, 低于目标的村) cannot be given, else None.

        An approved-only report with no approved village withholds every
        village: "0 个" would claim a count nobody checked, so it reads "—" with this reason.
        """
        section = self.signoff
        if section is not None and section.approved_only and all(v.withheld for v in self.villages):
            return NO_APPROVED_VILLAGE
        return None

    def village_count(self, villages: list[VillageLine]) -> str:
        """``len(villages)`` as "n 个", or "—（reason）" where the count is unsupported."""
        reason = self.counts_unsupported
        return f"—（{reason}）" if reason else f"{len(villages)} 个"


# --------------------------------------------------------------------------
# The snapshot
# --------------------------------------------------------------------------


def _usage_flags(
    session: Session, config: Config, as_of: date, known_at: datetime, district_code: str
) -> dict[str, Any] | None:
    """The 疑似改而不用 list of the season the measures judge as of the date (None: no use data)."""
    if not has_usage(session):
        return None
    year = config.usage.latest_ended(as_of)
    if year is None:
        return None
    return flags_report(
        session, year, config.usage, as_of=as_of, known_at=known_at, district_code=district_code
    )


def _relapse_places(
    session: Session,
    config: Config,
    rows: list[MeasureRow],
    townships: list[MeasureRow],
    known_at: datetime,
) -> list[dict[str, Any]]:
    """Townships, then villages, above relapse_share with their plans (``place_kind`` added)."""
    plans = plans_in_force(session, known_at)
    today = local_date(known_at, config.timezone)  # reproducible with the same --known-at
    threshold = config.usage.relapse_share
    return [
        p | {"place_kind": kind}
        for kind, of in (("township", townships), ("village", rows))
        for p in with_plans(needing_plan(of, threshold), kind, plans, today)
    ]


def take_snapshot(
    session: Session,
    config: Config,
    year: int,
    *,
    as_of: date | None = None,
    district_code: str | None = None,
    now: datetime | None = None,
    known_at: datetime | None = None,
    approved_only: bool = False,
) -> Snapshot:
    """Gather every number of the report for ``year`` as of ``as_of`` (default: cut-off).

    ``now`` (naive UTC) is the generation time; ``known_at`` (naive UTC)
    defaults to the end of its second (``clock.end_of_second``: the cover prints it to the
    second, and a time typed to the second covers the whole second).  ``approved_only`` withholds
    the figures of townships not approved for the period (``withheld``).
    """
    check_year(year)
    # It only reads: the district's household states, read for the use evidence, are
    # remembered for the coal subsidies (heating.session_memo).
    remember_reads(session)
    profile = config.profile
    district = resolve_district(session, district_code)
    as_of = as_of or default_as_of(config, year)
    previous_as_of = default_as_of(config, year - 1)
    if previous_as_of >= as_of:
        previous_as_of = default_as_of(config, as_of.year - 1)
    generated_at = (now or utcnow()).replace(microsecond=0)
    known_at = known_at or end_of_second(generated_at)

    facts = village_facts(
        session, as_of=as_of, known_at=known_at, district_code=district.code, usage=config.usage
    )
    rows = [village_row(f, profile) for f in facts]
    complete = complete_codes(facts, decided_village_ids(session, as_of=as_of, known_at=known_at))
    boundary = _villages_with_boundary(session, district.id)
    zones = zone_section(session, facts, rows, as_of, previous_as_of, known_at)
    enclaves = {code for code, _ in zones.enclaves} if zones else set()
    villages = [
        VillageLine(r, f.township_name, f.code in boundary, f.code in complete, r.key in enclaves)
        for f, r in zip(facts, rows, strict=True)
    ]
    district_townships = _townships_of(session, district.id)
    townships = township_rows(facts, rows, district_townships)
    previous_facts = village_facts(
        session,
        as_of=previous_as_of,
        known_at=known_at,
        district_code=district.code,
        usage=config.usage,
    )
    previous_rows = [village_row(f, profile) for f in previous_facts]
    previous_townships = township_rows(previous_facts, previous_rows, district_townships)
    categories = category_rows(profile, rows)
    household = household_detail(session, facts, as_of, known_at)

    snapshot = Snapshot(
        district_code=district.code,
        district_name=report_district_name(config, district, installed_districts(session)),
        year=year,
        as_of=as_of,
        previous_as_of=previous_as_of,
        generated_at=generated_at,
        known_at=known_at,
        timezone=config.timezone,
        profile=profile,
        sources=read_sources(session, district.id, facts, as_of, previous_as_of, known_at),
        categories=categories,
        complete_by_category=_complete_by_category(villages),
        townships=townships,
        township_categories=township_category_rows(profile, facts, rows),
        villages=villages,
        failing=_failing(villages),
        below_target=_below_target(villages),
        zones=zones,
        routes=household["routes"],
        problem_villages=household["problem_villages"],
        problems=household["problems"],
        comparison=_comparison(
            townships,
            previous_townships,
            categories[-1],
            aggregate_row(TOTAL_KEY, TOTAL_NAME, previous_rows),
        ),
        inconsistencies=inconsistencies(
            session,
            as_of=as_of,
            known_at=known_at,
            profile=profile,
            district_code=district.code,
            facts=facts,
        ),
        no_boundary=[v for v in villages if not v.has_boundary],
        no_completion_date=household["no_completion_date"],
        village_names={f.code: f.name for f in facts},
        trend=_trend(session, config, district.code, as_of, known_at, categories, rows),
        author_unit=config.report_author_unit,
        reviewer=config.report_reviewer,
        boilers=boiler_status(
            session,
            as_of=as_of,
            max_tph=config.boiler_max_tph,
            inspection_days=config.boiler_inspection_days,
            district_code=district.code,
        ),
        signoff=gather(
            session,
            config,
            district_code=district.code,
            as_of=as_of,
            known_at=known_at,
            townships=townships,
            approved_only=approved_only,
        ),
        # The district's own households only, in a city of several districts.
        usage_flags=_usage_flags(session, config, as_of, known_at, district.code),
        coal_subsidies=coal_subsidies_in_zones(
            session, profile, as_of=as_of, known_at=known_at, district_code=district.code
        ),
        relapse_places=_relapse_places(session, config, rows, townships, known_at),
        relapse_share=config.usage.relapse_share,
        subsidy=(
            schedule(
                session,
                year,
                config.subsidy,
                config.usage,
                as_of=as_of,
                known_at=known_at,
                district_code=district.code,
            )
            if config.subsidy
            else None
        ),
        heat_sources=heat_source_section(session, facts, as_of, known_at),
    )
    return withhold(snapshot)


def _trend(
    session: Session,
    config: Config,
    district_code: str,
    as_of: date,
    known_at: datetime,
    categories: list[MeasureRow],
    village_rows: list[MeasureRow],
) -> list[TrendPoint]:
    """Earlier years' cut-offs with data (same known-at), then this report's cut-off."""
    years = [
        y
        for y in trend_years(session, config.report_cutoff, last=as_of, known_at=known_at)
        if cutoff_of(y, config.report_cutoff) < as_of
    ]
    earlier = coverage_trend(
        session,
        config.profile,
        config.report_cutoff,
        years=years,
        known_at=known_at,
        district_code=district_code,
    )
    return [*earlier, TrendPoint(as_of.year, as_of, categories, tuple(village_rows))]


def _complete_by_category(villages: list[VillageLine]) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for v in villages:
        if v.complete:
            counts[v.row.category or ""] += 1
            counts[TOTAL_KEY] += 1
    return dict(counts)


def _villages_with_boundary(session: Session, district_id: int) -> set[str]:
    return set(
        session.scalars(
            select(Village.code)
            .join(Township, Village.township_id == Township.id)
            .where(Township.district_id == district_id, Village.geometry.is_not(None))
        )
    )


def _townships_of(session: Session, district_id: int) -> list[tuple[str, str]]:
    """(code, name) of every township of the district (also those without villages), by code."""
    return [
        (code, name)
        for code, name in session.execute(
            select(Township.code, Township.name)
            .where(Township.district_id == district_id)
            .order_by(Township.code)
        )
    ]


def _failing(villages: list[VillageLine]) -> list[VillageLine]:
    """The villages that decide compliance: those of a 100% ("every village") category
    below it; enclaves first, then largest gap.  Their gaps add up to the 100%
    categories' gaps of 总体情况."""
    chosen = [
        v for v in villages if v.row.meets is False and rule_for(v.row.target) == RULE_EVERY_VILLAGE
    ]
    return _priority_order(chosen)


def _below_target(villages: list[VillageLine]) -> list[VillageLine]:
    """Context, not compliance: villages of a category judged as a whole (target below
    100%) that are below the target, and incomplete enclaves that fail no rule
    (nothing required).  Their gaps to the target do not add up to the
    category's gap, which the category's total decides."""
    failing = {v.row.key for v in _failing(villages)}
    chosen = [
        v
        for v in villages
        if v.row.key not in failing
        and (
            (v.row.meets is False and rule_for(v.row.target) == RULE_AGGREGATE)
            or (v.enclave and not v.complete)
        )
    ]
    return _priority_order(chosen)


def _priority_order(chosen: list[VillageLine]) -> list[VillageLine]:
    """Enclaves first, then the largest gap, the most households outstanding, the code."""
    return sorted(chosen, key=lambda v: (not v.enclave, -v.row.gap, -v.outstanding, v.row.key))


# --------------------------------------------------------------------------
# Year against year
# --------------------------------------------------------------------------


def _comparison(
    current: list[MeasureRow],
    previous: list[MeasureRow],
    current_total: MeasureRow,
    previous_total: MeasureRow,
) -> list[Comparison]:
    before = {r.key: r for r in previous}
    result = [Comparison(r.key, r.name, before[r.key], r) for r in current if r.key in before]
    result.append(Comparison(TOTAL_KEY, TOTAL_NAME, previous_total, current_total))
    return result
