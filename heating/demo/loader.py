"""Writing the demo district into the database, once.

The whole load is one transaction: district, townships, villages with their
generated boundaries, heat sources, households with every version of their
history, demo users and a ``demo_version`` marker in ``meta``.  A second run
finds the marker and changes nothing; a database that already holds another
registry is refused rather than mixed with invented data.

The 2017–2021 history is written as the townships' ledgers would have
recorded it: year Y's changes up to the report cut-off (10-31) belong to a
ledger dated Y-10-31, later ones to a ledger dated Y-12-20, one committed
batch (kind ``demo``) per township and ledger date.  Households and versions
go through ``heating.history.load_histories`` (about 58,000 households and
200,000 versions in bulk).
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from geo.zone_derivations import derive_zones
from heating import clock, history
from heating.config import Config, load_config
from heating.db import analyze, get_meta
from heating.demo import cells, facts, registers, rollout
from heating.demo import usage as demo_usage
from heating.demo.rollout import VillagePlan
from heating.errors import Refused
from heating.households import household_key
from heating.models import (
    HOUSEHOLD_FIELDS,
    District,
    HeatSourceVersion,
    Household,
    HouseholdVersion,
    ImportBatch,
    Meta,
    StoredFile,
    Township,
    User,
    Village,
    audit,
)
from heating.profile import Profile
from heating.users import create_user

DEMO_VERSION = "3"  # 2: heated areas, utility accounts and use (issue 13); 3: heat sources, boilers
ZONE_DATES = (date(2020, 10, 31), date(2021, 10, 31))
DEMO_SEED = "tunliu-demo-1"
BOUNDARY_SOURCE = "演示数据：生成的边界（非真实边界）"
DEMO_PASSWORD = "demo-2021-tunliu"
# username, role, township code, description
DEMO_USERS = (
    ("admin", "admin", None, "管理员"),
    ("clerk_linjiang", "clerk", "140405001", "乡镇填报员（麟绛街道）"),
    ("clerk_yuwu", "clerk", "140405103", "乡镇填报员（余吾镇）"),
    ("planner", "planner", None, "规划人员"),
    ("city", "city", None, "市级用户"),
    ("reviewer", "reviewer", None, "区级审核"),
)


@dataclass
class DemoSummary:
    """What the demo database holds (after a load, or found already loaded)."""

    already_loaded: bool
    townships: int
    villages: int
    households: int
    versions: int
    categories: dict[str, int]
    users: list[tuple[str, str, str]] = field(default_factory=list)  # name, role label, note


def category_order(profile: Profile) -> dict[str, int]:
    """Rank categories most demanding first (built-up areas near the township centre)."""
    ranked = sorted(profile.categories, key=lambda c: (-c.target, profile.keys().index(c.key)))
    return {c.key: i for i, c in enumerate(ranked)}


def load_demo(session: Session, profile: Profile, config: Config | None = None) -> DemoSummary:
    """Load the demo district unless it is there already; refuse a foreign registry.

    ``config`` gives the file limits the register and boiler loaders apply
    (default: the settings in force).
    """
    version = get_meta(session, "demo_version")
    if version == DEMO_VERSION:
        return summarise(session, already_loaded=True)
    if version is not None:
        raise Refused(
            f"数据库中是另一版本（{version}）的演示数据，无法原样更新。"
            "请用一个空数据库（--db 或 HEATING_DATABASE_URL）重新运行 heating demo。"
        )
    existing = session.scalar(select(func.count()).select_from(Village))
    if existing or session.scalar(select(func.count()).select_from(District)):
        raise Refused(
            f"数据库中已有村庄名录（{existing} 个村），不是演示数据；演示数据不会与真实数据混在一起。"
            "请用一个空数据库（--db 或 HEATING_DATABASE_URL）运行 heating demo。"
        )
    village_facts = facts.villages(profile)
    used_ids: set[str] = set()
    plans = [rollout.plan_village(v, seed=DEMO_SEED, used_ids=used_ids) for v in village_facts]
    totals = {p.code: p.total_households for p in plans}
    village_ids = _load_places(session, profile, village_facts, totals)
    salt = get_meta(session, "id_salt") or ""
    _load_households(session, plans, village_ids, salt)
    _analyze_households(session)
    _load_registers(session, config or load_config(environ={}))
    demo_usage.load_usage(session, config or load_config(environ={}), DEMO_SEED, clock.today())
    users = _load_users(session)
    session.flush()
    for as_of in ZONE_DATES:  # two derivations, so the zones page has history
        derive_zones(session, profile, as_of=as_of)
    session.add(Meta(key="demo_version", value=DEMO_VERSION))
    audit(session, "demo_load", target="140405", detail={"version": DEMO_VERSION})
    session.flush()
    summary = summarise(session, already_loaded=False)
    summary.users = users
    return summary


def _load_places(
    session: Session,
    profile: Profile,
    village_facts: Iterable[facts.VillageFact],
    totals: dict[str, int],
) -> dict[str, int]:
    district = District(
        code=facts.DISTRICT_CODE,
        name=facts.DISTRICT_NAME,
        seat_township_code=facts.SEAT_TOWNSHIP_CODE,
    )
    session.add(district)
    session.flush()
    township_facts = sorted(facts.townships(), key=lambda t: (not t.is_seat, t.code))
    townships = {}
    for t in township_facts:
        row = Township(code=t.code, name=t.name, district_id=district.id, is_seat=t.is_seat)
        session.add(row)
        townships[t.code] = row
    session.flush()

    village_facts = list(village_facts)
    rank = category_order(profile)
    by_township: dict[str, list[str]] = defaultdict(list)
    for v in sorted(village_facts, key=lambda v: (rank.get(v.category, 99), v.code)):
        by_township[v.township_code].append(v.code)
    seeds = [
        cells.Seed(t.code, (t.lon, t.lat) if t.lon is not None else None) for t in township_facts
    ]
    polygons, _centres = cells.generate_boundaries(
        facts.district_outline(), seeds, by_township, seed=DEMO_SEED
    )
    rows = [
        {
            "code": v.code,
            "name": v.name,
            "township_id": townships[v.township_code].id,
            "category": v.category,
            "category_proposed": True,
            "total_households": totals[v.code],
            "urban_rural_code": v.urban_rural_code,
            "geometry": polygons[v.code].wkb,
            "boundary_source": BOUNDARY_SOURCE,
            "boundary_generated": True,
        }
        for v in village_facts
    ]
    session.execute(insert(Village), rows)
    return {code: vid for code, vid in session.execute(select(Village.code, Village.id))}


# The demo's register "was loaded" on this day (naive UTC; 10:00 in Shanghai): figures known
# before it have no register (every district household unverified), later ones apply the rule.
REGISTER_LOADED_AT = datetime(2021, 9, 20, 2, 0)


def _load_registers(session: Session, config: Config) -> None:
    """The generated register and boiler ledger, through the real loaders (``registers``)."""
    from imports.boilers import load_boilers
    from imports.heat_sources import load_heat_sources

    load_heat_sources(session, registers.register_xlsx(), registers.REGISTER_FILE, config=config)
    session.execute(update(HeatSourceVersion).values(recorded_at=REGISTER_LOADED_AT))
    session.execute(
        update(ImportBatch)
        .where(ImportBatch.kind == "heat_sources")
        .values(created_at=REGISTER_LOADED_AT, committed_at=REGISTER_LOADED_AT)
    )
    rows = registers.boiler_rows(boiler_places(session), seed=DEMO_SEED, last_day=rollout.LAST_DAY)
    load_boilers(
        session,
        registers.boilers_xlsx(rows),
        registers.BOILERS_FILE,
        config=config,
        today=rollout.LAST_DAY,
    )


def write_registers(session: Session, directory: Path) -> tuple[Path, Path]:
    """Write the demo register and boiler ledger (as loaded) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    register = directory / registers.REGISTER_FILE
    register.write_bytes(registers.register_xlsx())
    rows = registers.boiler_rows(boiler_places(session), seed=DEMO_SEED, last_day=rollout.LAST_DAY)
    boilers = directory / registers.BOILERS_FILE
    boilers.write_bytes(registers.boilers_xlsx(rows))
    return register, boilers


def boiler_places(session: Session) -> dict[str, list[registers.Place]]:
    """Township code → a point inside each of its villages (seeded), for the demo boilers."""
    query = (
        select(Township.code, Township.name, Village.code, Village.name, Village.geometry)
        .join(Township, Village.township_id == Township.id)
        .where(Village.geometry.is_not(None))
        .order_by(Village.code)
    )
    places: dict[str, list[registers.Place]] = defaultdict(list)
    for tcode, tname, vcode, vname, wkb in session.execute(query):
        polygon = shapely.from_wkb(wkb)
        rng = random.Random(f"{DEMO_SEED}:boiler-place:{vcode}")
        xmin, ymin, xmax, ymax = polygon.bounds
        point = polygon.representative_point()
        for _ in range(50):
            candidate = shapely.Point(rng.uniform(xmin, xmax), rng.uniform(ymin, ymax))
            if polygon.contains(candidate):
                point = candidate
                break
        places[tcode].append(registers.Place(tname, vname, round(point.x, 6), round(point.y, 6)))
    return dict(places)


# Fields that never change in a demo household's history: serialised once per household.
FIXED = (
    "household_no",
    "head_name",
    "id_number",
    "phone",
    "address",
    "residents",
    "lon",
    "lat",
    "heated_area_m2",
    "power_account",
    "gas_account",
)
DEMO_FILE = "演示数据：由生成的台账历史写入，没有原始文件。".encode()


def ledger_date_of(recorded_at: datetime) -> date:
    """The demo ledger a change belongs to: Y-10-31 up to the cut-off, else Y-12-20."""
    year = recorded_at.year
    cutoff = date(year, 10, 31)
    return cutoff if recorded_at.date() <= cutoff else date(year, 12, 20)


def _demo_batches(
    session: Session, plans: list[VillagePlan], township_of: dict[str, tuple[int, str]]
) -> dict[tuple[int, date], int]:
    """One committed batch per township and ledger date; (township id, date) → batch id."""
    sha256 = hashlib.sha256(DEMO_FILE).hexdigest()
    if session.get(StoredFile, sha256) is None:
        session.add(StoredFile(sha256=sha256, size=len(DEMO_FILE), content=DEMO_FILE))
        session.flush()
    stats: dict[tuple[int, date], dict[str, Any]] = {}
    for plan in plans:
        township_id, _name = township_of[plan.code]
        for household in plan.households:
            steps = sorted(step.recorded_at for step in household.steps)
            for i, recorded_at in enumerate(steps):
                key = (township_id, ledger_date_of(recorded_at))
                entry = stats.setdefault(key, {"new": 0, "updated": 0, "last": recorded_at})
                entry["new" if i == 0 else "updated"] += 1
                entry["last"] = max(entry["last"], recorded_at)
    names = {tid: name for tid, name in township_of.values()}
    ids = {}
    for (township_id, day), entry in sorted(stats.items()):
        batch = ImportBatch(
            kind="demo",
            township_id=township_id,
            file_name=f"演示数据：{names[township_id]}台账（截至{day:%Y年%m月%d日}）",
            sha256=sha256,
            size=len(DEMO_FILE),
            status="committed",
            ledger_date=day,
            ledger_date_source="option",
            created_at=entry["last"],
            committed_at=entry["last"],
            counts={
                "rows": entry["new"] + entry["updated"],
                "new": entry["new"],
                "updated": entry["updated"],
                "unchanged": 0,
                "rejected": 0,
            },
        )
        session.add(batch)
        session.flush()
        ids[(township_id, day)] = batch.id
    return ids


def _histories(
    plans: list[VillagePlan],
    village_ids: dict[str, int],
    township_of: dict[str, tuple[int, str]],
    batches: dict[tuple[int, date], int],
    salt: str,
) -> Iterator[history.History]:
    for plan in plans:
        village_id = village_ids[plan.code]
        township_id = township_of[plan.code][0]
        for household in plan.households:
            states = household.states()
            final = states[-1][1]
            key, kind = household_key(
                household_no=final["household_no"],
                id_number=final["id_number"],
                head_name=final["head_name"],
                address=final["address"],
                salt=salt,
            )
            steps = []
            for recorded_at, state in states:
                day = ledger_date_of(recorded_at)
                stamp = history.Stamp(day, recorded_at, batches[(township_id, day)])
                steps.append((stamp, state))
            yield history.History(
                village_id, key, kind, key[3:] if kind == "id_hash" else None, steps
            )


def _load_households(
    session: Session, plans: list[VillagePlan], village_ids: dict[str, int], salt: str
) -> None:
    """Write every household (final state), its history and the ledgers it came in."""
    township_of = {
        code: (tid, name)
        for code, tid, name in session.execute(
            select(Village.code, Township.id, Township.name).join(
                Township, Township.id == Village.township_id
            )
        )
    }
    batches = _demo_batches(session, plans, township_of)
    history.load_histories(
        session, _histories(plans, village_ids, township_of, batches, salt), fixed=FIXED
    )


def _analyze_households(session: Session) -> None:
    """Give PostgreSQL's planner the row counts of the tables just bulk-loaded.

    Without statistics it plans the zone derivations below and the first
    reports for near-empty tables (nested loops over 200,000 versions): the
    demo report's snapshot took 2.9 s instead of 0.8 s until autovacuum got to
    it, and it never did where autovacuum is off.  ANALYZE counts the rows this
    transaction inserted.  SQLite plans these queries well without statistics.
    """
    analyze(session, "villages", "households", "household_versions")


def _load_users(session: Session) -> list[tuple[str, str, str]]:
    users = []
    for name, role, township, label in DEMO_USERS:
        if session.scalar(select(User).where(User.username == name)) is not None:
            users.append((name, label, "已存在，密码未改动"))
            continue
        create_user(session, name, role, DEMO_PASSWORD, township)
        users.append((name, label, DEMO_PASSWORD))
    return users


def demo_users(session: Session) -> list[tuple[str, str, str]]:
    """The demo logins as they stand (for a second run's printout)."""
    names = {u for u, *_ in DEMO_USERS}
    present = set(session.scalars(select(User.username).where(User.username.in_(names))))
    return [(n, label, DEMO_PASSWORD) for n, _r, _t, label in DEMO_USERS if n in present]


def summarise(session: Session, *, already_loaded: bool) -> DemoSummary:
    """Count what the database holds."""

    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    query = select(Village.category, func.count()).group_by(Village.category)
    categories = {key: n for key, n in session.execute(query)}
    return DemoSummary(
        already_loaded=already_loaded,
        townships=count(Township),
        villages=count(Village),
        households=count(Household),
        versions=count(HouseholdVersion),
        categories=categories,
        users=demo_users(session),
    )


def households_checksum(session: Session) -> str:
    """SHA-256 over every household's fields in a fixed order (keys excluded: salted)."""
    digest = hashlib.sha256()
    columns = [Village.code, *(Household.__table__.c[f] for f in HOUSEHOLD_FIELDS)]
    query = (
        select(*columns)
        .join(Village, Village.id == Household.village_id)
        .order_by(Village.code, Household.household_no, Household.id_number)
    )
    for row in session.execute(query):
        values = [history.to_json_value(v) for v in row]
        # Decimals and floats compare by value on both databases.
        digest.update(repr([str(v) if isinstance(v, float) else v for v in values]).encode())
    return digest.hexdigest()
