"""Every number of the annual report, gathered from one frozen as-of snapshot.

``take_snapshot`` reads the database once per question and returns plain
dataclasses; the sheet modules only lay them out.  Household numbers are the
state as of the cut-off by ledger date, known at the report's known-at time
(``heating.history``; default: the moment it is generated), so a report
regenerated later with the same cut-off and known-at shows the same numbers
whatever was imported or back-filled since; completion decisions and zone
derivations are filtered by the time they were recorded too.  The village
registry (names, categories, registry totals), the boundaries and the
requirement profile are not versioned: they are read at generation time.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.boilers import BoilerStatus, boiler_status
from heating.config import Config, Profile
from heating.errors import NotFound, Refused
from heating.history import newest_ledger, newest_versions, state_as_of
from heating.inconsistencies import Inconsistency, inconsistencies
from heating.measures import (
    TOTAL_KEY,
    TOTAL_NAME,
    MeasureRow,
    VillageFacts,
    aggregate_row,
    category_rows,
    decisions_in_force,
    village_facts,
    village_row,
)
from heating.models import (
    CLEAN_STATUSES,
    District,
    HouseholdVersion,
    ImportBatch,
    Township,
    Village,
    ZoneDerivation,
    utcnow,
)
from heating.privacy import mask_id, mask_name, mask_phone

PROBLEM_OPERATIONS = ("unstable", "coal_again", "abandoned")
NO_ROUTE = ""  # households whose ledger row names no route


# --------------------------------------------------------------------------
# Result dataclasses
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class VillageLine:
    """A village's measures with what the report says beside them."""

    row: MeasureRow
    township_name: str
    has_boundary: bool
    complete: bool
    enclave: bool

    @property
    def outstanding(self) -> int:
        """Households required but not yet clean (what makes an enclave incomplete)."""
        return max(0, self.row.required - self.row.clean)


@dataclass(frozen=True)
class TownshipLedger:
    """A township's newest ledger on or before the cut-off, and households resting on older ones."""

    township_code: str
    township_name: str
    batch_id: int | None  # None: no ledger dated on or before the cut-off
    ledger_date: date | None
    older: int  # households of the township counted from older ledgers
    earliest_older: date | None


@dataclass(frozen=True)
class Sources:
    """Which imports the snapshot counts."""

    batches: int
    townships: int
    first_commit: datetime | None
    last_commit: datetime | None
    households: int  # active households as of the date (Σ ledger rows)
    villages_with_ledger: int
    ledgers: list[TownshipLedger] = field(default_factory=list)
    # Households recorded after the known-at time that would change the figures.
    recorded_later: int = 0


@dataclass(frozen=True)
class ZoneLine:
    zone_id: str
    villages: list[tuple[str, str]]  # (code, name)
    area_km2: float
    required: int
    clean: int
    touching: list[tuple[str, str]]
    change: str  # 新增 / 扩大 / 缩小 / 调整 / 不变 / "" (no previous derivation)


@dataclass(frozen=True)
class ZoneChange:
    kind: str  # 新增禁煤区 / 撤销禁煤区 / 新增村 / 移出村
    zone_id: str
    village_code: str
    village_name: str


@dataclass(frozen=True)
class ZoneSection:
    derivation_id: int
    derived_as_of: date
    derived_at: datetime
    zones: list[ZoneLine]
    enclaves: list[tuple[str, str]]
    previous_id: int | None
    previous_as_of: date | None
    changes: list[ZoneChange]

    @property
    def area_km2(self) -> float:
        return sum(z.area_km2 for z in self.zones)


@dataclass(frozen=True)
class RouteLine:
    """Clean households of one township by route (and device)."""

    township_code: str
    township_name: str
    clean: int
    by_route: dict[str, int]  # route key ("" = not given) → households
    devices: list[tuple[str, str, int]]  # (route, device, households), largest first


@dataclass(frozen=True)
class ProblemHousehold:
    """A household the look-back found not running clean heating stably (masked)."""

    township_name: str
    village_code: str
    village_name: str
    household_no: str | None
    head_name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    status: str
    route: str | None
    device: str | None
    operation: str
    note: str | None


@dataclass(frozen=True)
class ProblemVillage:
    village_code: str
    village_name: str
    township_name: str
    clean: int
    counts: dict[str, int]  # operation → households

    @property
    def total(self) -> int:
        return sum(self.counts.values())


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
class NoCompletionDate:
    village_code: str
    village_name: str
    township_name: str
    households: int


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
    failing: list[VillageLine]  # enclaves first, then by gap
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

    @property
    def total(self) -> MeasureRow:
        return self.categories[-1]


# --------------------------------------------------------------------------
# Dates and the district
# --------------------------------------------------------------------------


def default_as_of(config: Config, year: int) -> date:
    """The configured report cut-off (``report_cutoff``, e.g. 10-31) of ``year``."""
    month, day = (int(x) for x in config.report_cutoff.split("-"))
    return date(year, month, min(day, calendar.monthrange(year, month)[1]))


def check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise Refused(f"报告年度应在 2000 到 2100 之间，得到 {year}。")


def resolve_district(session: Session, code: str | None) -> District:
    """The district to report on: the one given, or the only one there is."""
    if code:
        district = session.scalar(select(District).where(District.code == code))
        if district is None:
            raise NotFound(f"区县代码 {code} 不在村庄名录中：请检查 6 位区县代码。")
        return district
    districts = list(session.scalars(select(District).order_by(District.code)))
    if not districts:
        raise Refused(
            "村庄名录为空：请先用 heating registry load 导入村庄名录（或 heating demo）。"
        )
    if len(districts) > 1:
        listed = "、".join(f"{d.name}（{d.code}）" for d in districts)
        raise Refused(f"数据库中有多个区县：{listed}。请用 --district 指定要出报告的区县。")
    return districts[0]


# --------------------------------------------------------------------------
# The snapshot
# --------------------------------------------------------------------------


def take_snapshot(
    session: Session,
    config: Config,
    year: int,
    *,
    as_of: date | None = None,
    district_code: str | None = None,
    now: datetime | None = None,
    known_at: datetime | None = None,
) -> Snapshot:
    """Gather every number of the report for ``year`` as of ``as_of`` (default: cut-off).

    ``now`` (naive UTC) is the generation time; ``known_at`` (naive UTC)
    defaults to it, truncated to the second.
    """
    check_year(year)
    profile = config.profile
    district = resolve_district(session, district_code)
    as_of = as_of or default_as_of(config, year)
    previous_as_of = default_as_of(config, year - 1)
    if previous_as_of >= as_of:
        previous_as_of = default_as_of(config, as_of.year - 1)
    generated_at = (now or utcnow()).replace(microsecond=0)
    known_at = known_at or generated_at

    facts = village_facts(session, as_of=as_of, known_at=known_at, district_code=district.code)
    rows = [village_row(f, profile) for f in facts]
    complete = _complete_codes(session, facts, as_of, known_at)
    boundary = _villages_with_boundary(session, district.id)
    zones = _zone_section(session, facts, rows, as_of, previous_as_of, known_at)
    enclaves = {code for code, _ in zones.enclaves} if zones else set()
    villages = [
        VillageLine(r, f.township_name, f.code in boundary, f.code in complete, r.key in enclaves)
        for f, r in zip(facts, rows, strict=True)
    ]
    townships = _township_rows(session, district.id, facts, rows)
    previous_facts = village_facts(
        session, as_of=previous_as_of, known_at=known_at, district_code=district.code
    )
    previous_rows = [village_row(f, profile) for f in previous_facts]
    previous_townships = _township_rows(session, district.id, previous_facts, previous_rows)
    categories = category_rows(profile, rows)
    household_detail = _household_detail(session, facts, as_of, known_at)

    return Snapshot(
        district_code=district.code,
        district_name=config.district_name or district.name,
        year=year,
        as_of=as_of,
        previous_as_of=previous_as_of,
        generated_at=generated_at,
        known_at=known_at,
        timezone=config.timezone,
        profile=profile,
        sources=_sources(session, district.id, facts, as_of, previous_as_of, known_at),
        categories=categories,
        complete_by_category=_complete_by_category(villages),
        townships=townships,
        township_categories=_township_category_rows(profile, facts, rows),
        villages=villages,
        failing=_failing(villages),
        zones=zones,
        routes=household_detail["routes"],
        problem_villages=household_detail["problem_villages"],
        problems=household_detail["problems"],
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
        no_completion_date=household_detail["no_completion_date"],
        village_names={f.code: f.name for f in facts},
        boilers=boiler_status(
            session,
            as_of=as_of,
            max_tph=config.boiler_max_tph,
            inspection_days=config.boiler_inspection_days,
            district_code=district.code,
        ),
    )


def _complete_codes(
    session: Session, facts: list[VillageFacts], as_of: date, known_at: datetime
) -> set[str]:
    """measures.complete_village_codes' rule, on the facts already read."""
    codes = {f.code for f in facts if f.required > 0 and f.clean >= f.required}
    by_id = {f.village_id: f.code for f in facts}
    codes.update(
        by_id[d.village_id]
        for d in decisions_in_force(session, as_of=as_of, known_at=known_at)
        if d.village_id in by_id
    )
    return codes


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


def _township_rows(
    session: Session, district_id: int, facts: list[VillageFacts], rows: list[MeasureRow]
) -> list[MeasureRow]:
    """One row per township of the district (also those without villages), by code."""
    groups: dict[str, list[MeasureRow]] = defaultdict(list)
    for f, r in zip(facts, rows, strict=True):
        groups[f.township_code].append(r)
    townships = session.execute(
        select(Township.code, Township.name)
        .where(Township.district_id == district_id)
        .order_by(Township.code)
    )
    return [
        aggregate_row(code, name, groups.get(code, []), township_code=code)
        for code, name in townships
    ]


def _township_category_rows(
    profile: Profile, facts: list[VillageFacts], rows: list[MeasureRow]
) -> list[MeasureRow]:
    """Per township, one row per category present (profile order), like compliance()."""
    groups: dict[tuple[str, str | None], list[MeasureRow]] = defaultdict(list)
    names: dict[str, str] = {}
    for f, r in zip(facts, rows, strict=True):
        groups[(f.township_code, f.category)].append(r)
        names[f.township_code] = f.township_name
    order = {k: i for i, k in enumerate(profile.keys())}
    keys = sorted(groups, key=lambda k: (k[0], order.get(k[1] or "", len(order)), k[1] or ""))
    result = []
    for tcode, cat in keys:
        row = aggregate_row(
            tcode, names[tcode], groups[(tcode, cat)], category=cat, township_code=tcode
        )
        result.append(replace(row, target=profile.target(cat)))
    return result


def _failing(villages: list[VillageLine]) -> list[VillageLine]:
    """Villages below their target, and enclaves; enclaves first, then largest gap."""
    chosen = [v for v in villages if v.row.meets is False or (v.enclave and not v.complete)]
    return sorted(chosen, key=lambda v: (not v.enclave, -v.row.gap, -v.outstanding, v.row.key))


# --------------------------------------------------------------------------
# Sources
# --------------------------------------------------------------------------


def _sources(
    session: Session,
    district_id: int,
    facts: list[VillageFacts],
    as_of: date,
    previous_as_of: date,
    known_at: datetime,
) -> Sources:
    """Household-data batches dated on or before the cut-off and in force at the known-at."""
    townships = list(
        session.execute(
            select(Township.id, Township.code, Township.name)
            .where(Township.district_id == district_id)
            .order_by(Township.code)
        )
    )
    b = ImportBatch
    rows = session.execute(
        select(b.township_id, b.committed_at).where(
            b.kind != "registry",
            b.ledger_date.is_not(None),
            b.ledger_date <= as_of,
            b.committed_at.is_not(None),
            b.committed_at <= known_at,
            b.rolled_back_at.is_(None) | (b.rolled_back_at > known_at),
            b.township_id.is_(None) | b.township_id.in_([t.id for t in townships]),
        )
    ).all()
    commits = [at for _, at in rows]
    ledgers = []
    for tid, code, name in townships:
        batch = newest_ledger(session, tid, on_or_before=as_of, known_at=known_at)
        if batch is None:
            ledgers.append(TownshipLedger(code, name, None, None, 0, None))
            continue
        older = _older_households(session, batch, as_of, known_at)
        ledgers.append(
            TownshipLedger(
                code, name, batch.id, batch.ledger_date, len(older), min(older, default=None)
            )
        )
    return Sources(
        batches=len(rows),
        townships=len({t for t, _ in rows if t is not None}),
        first_commit=min(commits) if commits else None,
        last_commit=max(commits) if commits else None,
        households=sum(f.ledger_rows for f in facts),
        villages_with_ledger=sum(1 for f in facts if f.ledger_rows),
        ledgers=ledgers,
        recorded_later=_recorded_later(
            session, {f.village_id for f in facts}, (as_of, previous_as_of), known_at
        ),
    )


def _older_households(
    session: Session, batch: ImportBatch, as_of: date, known_at: datetime
) -> list[date]:
    """Ledger dates of the households the batch's file did not name, still on older ledgers."""
    ids = list(batch.not_in_file_ids or [])
    found: list[date] = []
    state = state_as_of(as_of, known_at)
    for start in range(0, len(ids), 5000):
        part = ids[start : start + 5000]
        found.extend(
            day
            for day in session.scalars(
                select(state.c.ledger_date).where(
                    state.c.household_id.in_(part), state.c.ledger_date < batch.ledger_date
                )
            )
            if day is not None
        )
    return found


def _recorded_later(
    session: Session, village_ids: set[int], days: tuple[date, ...], known_at: datetime
) -> int:
    """Households whose state as of a report date differs now from what was known then.

    ``days`` are the cut-off and the comparison year's cut-off: a back-fill
    recorded after ``known_at`` for either would change the report's figures.
    """
    v = HouseholdVersion
    changed: set[int] = set()
    for day in days:
        candidates = select(v.household_id).where(v.recorded_at > known_at, v.ledger_date <= day)
        states = []
        for known in (known_at, None):
            newest = newest_versions(day, known, households=candidates)
            states.append(
                {
                    hid: (vid, village)
                    for hid, vid, village in session.execute(
                        select(newest.c.household_id, newest.c.version_id, newest.c.village_id)
                    )
                }
            )
        then, now = states
        for hid in set(then) | set(now):
            a, b = then.get(hid), now.get(hid)
            if a != b and ((a and a[1] in village_ids) or (b and b[1] in village_ids)):
                changed.add(hid)
    return len(changed)


# --------------------------------------------------------------------------
# Coal-ban zones
# --------------------------------------------------------------------------


def _derivation_by(session: Session, day: date, known_at: datetime) -> ZoneDerivation | None:
    """The newest derivation with as_of ≤ ``day`` made by ``known_at`` (latest made wins a tie)."""
    return session.scalar(
        select(ZoneDerivation)
        .where(ZoneDerivation.as_of <= day, ZoneDerivation.created_at <= known_at)
        .order_by(
            ZoneDerivation.as_of.desc(), ZoneDerivation.created_at.desc(), ZoneDerivation.id.desc()
        )
        .limit(1)
    )


def _zone_section(
    session: Session,
    facts: list[VillageFacts],
    rows: list[MeasureRow],
    as_of: date,
    previous_as_of: date,
    known_at: datetime,
) -> ZoneSection | None:
    derivation = _derivation_by(session, as_of, known_at)
    if derivation is None:
        return None
    previous = _derivation_by(session, previous_as_of, known_at)
    if previous is not None and previous.id == derivation.id:
        previous = None
    in_district = {f.code for f in facts}
    names = _village_names(session)
    by_code = {r.key: r for r in rows}

    def members(zone: Any) -> set[str]:
        return {c for c in (zone.village_codes or []) if c in in_district}

    current_zones = {z.zone_id: members(z) for z in derivation.zones if members(z)}
    previous_zones = (
        {z.zone_id: members(z) for z in previous.zones if members(z)} if previous else {}
    )
    lines = []
    for zone in derivation.zones:
        codes = current_zones.get(zone.zone_id)
        if not codes:
            continue
        lines.append(
            ZoneLine(
                zone_id=zone.zone_id,
                villages=[(c, names.get(c, c)) for c in sorted(codes)],
                area_km2=float(zone.area_km2 or 0.0),
                required=sum(by_code[c].required for c in codes if c in by_code),
                clean=sum(by_code[c].clean for c in codes if c in by_code),
                touching=[(c, names.get(c, c)) for c in sorted(zone.touching or [])],
                change=_zone_change(codes, previous_zones.get(zone.zone_id), previous is not None),
            )
        )
    lines.sort(key=lambda z: z.zone_id)
    summary = derivation.summary or {}
    enclaves = sorted(c for c in summary.get("enclaves", []) if c in in_district)
    changes = _zone_changes(current_zones, previous_zones, names) if previous else []
    return ZoneSection(
        derivation_id=derivation.id,
        derived_as_of=derivation.as_of,
        derived_at=derivation.created_at,
        zones=lines,
        enclaves=[(c, names.get(c, c)) for c in enclaves],
        previous_id=previous.id if previous else None,
        previous_as_of=previous.as_of if previous else None,
        changes=changes,
    )


def _village_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Village.code, Village.name)).all())


def _zone_change(current: set[str], previous: set[str] | None, has_previous: bool) -> str:
    if not has_previous:
        return ""
    if previous is None:
        return "新增"
    if current == previous:
        return "不变"
    if current > previous:
        return "扩大"
    if current < previous:
        return "缩小"
    return "调整"


def _zone_changes(
    current: dict[str, set[str]], previous: dict[str, set[str]], names: dict[str, str]
) -> list[ZoneChange]:
    """Zones and villages added or removed since the previous year's derivation."""
    changes = []
    now_in = {c: z for z, codes in current.items() for c in codes}
    then_in = {c: z for z, codes in previous.items() for c in codes}
    for zone_id in sorted(set(current) - set(previous)):
        changes.append(ZoneChange("新增禁煤区", zone_id, "", ""))
    for zone_id in sorted(set(previous) - set(current)):
        changes.append(ZoneChange("撤销禁煤区", zone_id, "", ""))
    for code in sorted(set(now_in) - set(then_in)):
        changes.append(ZoneChange("新增村", now_in[code], code, names.get(code, code)))
    for code in sorted(set(then_in) - set(now_in)):
        changes.append(ZoneChange("移出村", then_in[code], code, names.get(code, code)))
    return changes


# --------------------------------------------------------------------------
# Households as of the date: routes, look-back problems, missing dates
# --------------------------------------------------------------------------


def _household_detail(
    session: Session, facts: list[VillageFacts], as_of: date, known_at: datetime
) -> dict[str, Any]:
    """Clean households by route/device and without completion date, as of the date."""
    by_id = {f.village_id: f for f in facts}
    state = state_as_of(as_of, known_at, ("route", "device", "completed_on"))
    s = state.c
    undated_expr = s.completed_on.is_(None)
    stmt = (
        select(s.village_id, s.route, s.device, undated_expr, func.count())
        .where(s.status.in_(CLEAN_STATUSES))
        .group_by(s.village_id, s.route, s.device, undated_expr)
    )
    routes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    devices: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    undated: dict[int, int] = defaultdict(int)
    for village_id, route, device, is_undated, count in session.execute(stmt):
        f = by_id.get(village_id)
        if f is None:
            continue
        route = route or NO_ROUTE
        routes[f.township_code][route] += count
        devices[f.township_code][(route, (device or "").strip())] += count
        if is_undated:
            undated[village_id] += count
    return {
        "routes": _route_lines(facts, routes, devices),
        "no_completion_date": [
            NoCompletionDate(f.code, f.name, f.township_name, undated[f.village_id])
            for f in facts
            if undated.get(f.village_id)
        ],
        **_problems(session, facts, as_of, known_at),
    }


def _route_lines(
    facts: list[VillageFacts],
    routes: dict[str, dict[str, int]],
    devices: dict[str, dict[tuple[str, str], int]],
) -> list[RouteLine]:
    townships: dict[str, str] = {}
    clean: dict[str, int] = defaultdict(int)
    for f in facts:
        townships.setdefault(f.township_code, f.township_name)
        clean[f.township_code] += f.clean
    lines = []
    for code in sorted(townships):
        device_list = sorted(
            ((r, d, n) for (r, d), n in devices.get(code, {}).items()),
            key=lambda t: (t[0], -t[2], t[1]),
        )
        lines.append(
            RouteLine(code, townships[code], clean[code], dict(routes.get(code, {})), device_list)
        )
    return lines


def _problems(
    session: Session, facts: list[VillageFacts], as_of: date, known_at: datetime
) -> dict[str, Any]:
    """Households whose look-back operation is unstable, coal_again or abandoned (masked)."""
    by_id = {f.village_id: f for f in facts}
    fields = (
        "household_no",
        "head_name",
        "id_number",
        "phone",
        "address",
        "route",
        "device",
        "note",
    )
    state = state_as_of(as_of, known_at, fields)
    s = state.c
    found = [
        (hid, vid, status, op, dict(zip(fields, values, strict=True)))
        for hid, vid, status, op, *values in session.execute(
            select(
                s.household_id, s.village_id, s.status, s.operation, *(s[f] for f in fields)
            ).where(s.operation.in_(PROBLEM_OPERATIONS))
        )
    ]
    order = {op: i for i, op in enumerate(PROBLEM_OPERATIONS)}
    households = []
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PROBLEM_OPERATIONS, 0))
    for household_id, village_id, status, operation, after in found:
        f = by_id.get(village_id)
        if f is None:
            continue
        after = after or {}
        counts[village_id][operation] += 1
        households.append(
            (
                (
                    f.township_code,
                    f.code,
                    order[operation],
                    after.get("household_no") or "",
                    household_id,
                ),
                ProblemHousehold(
                    township_name=f.township_name,
                    village_code=f.code,
                    village_name=f.name,
                    household_no=after.get("household_no"),
                    head_name=mask_name(after.get("head_name")),
                    id_number=mask_id(after.get("id_number")),
                    phone=mask_phone(after.get("phone")),
                    address=after.get("address"),
                    status=status,
                    route=after.get("route"),
                    device=after.get("device"),
                    operation=operation,
                    note=after.get("note"),
                ),
            )
        )
    households.sort(key=lambda t: t[0])
    villages = [
        ProblemVillage(f.code, f.name, f.township_name, f.clean, counts[f.village_id])
        for f in facts
        if f.village_id in counts
    ]
    return {"problems": [h for _, h in households], "problem_villages": villages}


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
