"""The demo city (``heating demo --city``): 屯留区 as in ``heating demo``, plus the other
county-level units of 长治市 with generated townships, villages and households.

The district names and codes are real (``heating/data/counties_2024.csv``:
长治市 140403–140431); everything inside them is generated and says so:
townships are named "N号镇（生成）", villages "…村（生成）", boundaries are
squares laid out on a grid east of 屯留区 ("演示数据：生成的村界（非真实边界）"),
and every household has the 户主 "演示户主".  About 250 villages and 50,000
households per district, so the city holds about 3,000 villages and
600,000 households: enough to see the city pages, the ranking and the map at
scale.

Households are written through the history writer's bulk path
(``heating.history.load_histories``, COPY on PostgreSQL, one executemany on
SQLite), one district at a time so memory stays bounded: each household has a
2017–2021 history of one to three versions in the townships' yearly ledgers
(one committed ``demo`` batch per township and ledger date, as in the demo).
Districts differ in how far the rollout has come (seeded), so the ranking by
gap and coverage has something to show.  Fixed seed: every run is the same.
"""

from __future__ import annotations

import csv
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time
from importlib import resources
from typing import Any

from shapely.geometry import box
from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from heating import history
from heating.db import analyze, get_meta
from heating.models import (
    HOUSEHOLD_FIELDS,
    District,
    Household,
    ImportBatch,
    Meta,
    StoredFile,
    Township,
    User,
    Village,
    audit,
)
from heating.users import create_user

CITY_VERSION = "1"
ZONE_DATE = date(2021, 10, 31)  # the city's zones are derived once, as of this day
CITY_SEED = "changzhi-city-1"
PREFECTURE = "1404"  # 长治市
DEMO_DISTRICT = "140405"  # 屯留区: the full demo district
GENERATED_MARK = "（生成）"
BOUNDARY_SOURCE = "演示数据：生成的村界（非真实边界）"
HEAD_NAME = "演示户主"
VILLAGES_PER_DISTRICT = 250
TOWNSHIPS_PER_DISTRICT = 10
HOUSEHOLDS_PER_VILLAGE = (140, 260)
LEDGER_YEARS = (2017, 2018, 2019, 2020, 2021)
DEMO_FILE = "演示数据：生成的全市台账历史，没有原始文件。".encode()
# No district heating in the generated districts: it would need a heat-source register.
ROUTES = (("electric", 64), ("gas", 24), ("biomass", 12))
DEVICES = {"electric": "空气源热泵", "gas": "燃气壁挂炉", "biomass": "生物质炉具"}
# Grid of generated districts east of 屯留区 (lon, lat of the lower-left corner; size in °).
GRID_ORIGIN = (113.15, 35.75)
GRID_COLUMNS = 4
DISTRICT_SIZE = 0.28
# username, role, district code, description (password: the demo's)
CITY_USERS = (
    ("planner_luzhou", "planner", "140403", "规划人员（只看潞州区）"),
    ("reviewer_tunliu", "reviewer", DEMO_DISTRICT, "区级审核（只看屯留区）"),
)


@dataclass(frozen=True)
class CityCounty:
    code: str
    name: str


@dataclass
class CitySummary:
    already_loaded: bool
    districts: int
    villages: int
    households: int
    users: list[tuple[str, str, str]]


def counties() -> list[CityCounty]:
    """The county-level units of 长治市 (real names and codes), 屯留区 excluded."""
    with resources.files("heating.data").joinpath("counties_2024.csv").open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["prefecture_code"] == PREFECTURE]
    return [
        CityCounty(r["county_code"], r["county_name"])
        for r in sorted(rows, key=lambda r: r["county_code"])
        if r["county_code"] != DEMO_DISTRICT
    ]


def load_city(
    session: Session,
    *,
    password: str,
    districts: int | None = None,
    villages_per_district: int = VILLAGES_PER_DISTRICT,
    households_per_village: tuple[int, int] = HOUSEHOLDS_PER_VILLAGE,
) -> CitySummary:
    """Add the generated districts once (``heating demo`` loads 屯留区 before).

    ``districts`` (the first n), ``villages_per_district`` (a multiple of the
    townships' 10 × 5) and ``households_per_village`` make a smaller city for tests.
    """
    if get_meta(session, "demo_city_version") == CITY_VERSION:
        return _summary(session, already_loaded=True, users=[])
    if villages_per_district % (TOWNSHIPS_PER_DISTRICT * 5):
        raise ValueError("villages_per_district must be a multiple of 50")
    sha256 = hashlib.sha256(DEMO_FILE).hexdigest()
    if session.get(StoredFile, sha256) is None:
        session.add(StoredFile(sha256=sha256, size=len(DEMO_FILE), content=DEMO_FILE))
        session.flush()
    for index, county in enumerate(counties()[:districts]):
        _load_county(session, county, index, sha256, villages_per_district, households_per_village)
    analyze(session, "villages", "households", "household_versions", "import_batches")
    users = _load_users(session, password)
    session.add(Meta(key="demo_city_version", value=CITY_VERSION))
    audit(session, "demo_city_load", target=PREFECTURE, detail={"version": CITY_VERSION})
    session.flush()
    return _summary(session, already_loaded=False, users=users)


def _summary(session: Session, *, already_loaded: bool, users: list) -> CitySummary:
    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    return CitySummary(already_loaded, count(District), count(Village), count(Household), users)


def _load_users(session: Session, password: str) -> list[tuple[str, str, str]]:
    out = []
    for name, role, district, label in CITY_USERS:
        if session.scalar(select(User.id).where(User.username == name)) is None:
            create_user(session, name, role, password, district_code=district)
        out.append((name, label, password))
    return out


def _category(rng: random.Random, township: int, village: int, county: CityCounty) -> str:
    """The seat township's first villages are built-up; a few fringe villages; rural otherwise."""
    if township == 0 and village < 6:
        return "city_core" if county.name.endswith("区") else "county_core"
    if township == 0 and village < 12:
        return "fringe"
    return "fringe" if rng.random() < 0.04 else "rural"


def _load_county(
    session: Session,
    county: CityCounty,
    index: int,
    sha256: str,
    villages_per_district: int,
    households_per_village: tuple[int, int],
) -> None:
    rng = random.Random(f"{CITY_SEED}:{county.code}")
    district = District(code=county.code, name=county.name, seat_township_code=f"{county.code}001")
    session.add(district)
    session.flush()
    x0 = GRID_ORIGIN[0] + (index % GRID_COLUMNS) * (DISTRICT_SIZE + 0.02)
    y0 = GRID_ORIGIN[1] + (index // GRID_COLUMNS) * (DISTRICT_SIZE + 0.02)
    per_township = villages_per_district // TOWNSHIPS_PER_DISTRICT
    side = 5  # villages per row in a township's strip
    strip = DISTRICT_SIZE / TOWNSHIPS_PER_DISTRICT
    cell_w, cell_h = strip / side, DISTRICT_SIZE / (per_township // side)
    townships: list[Township] = []
    for t in range(TOWNSHIPS_PER_DISTRICT):
        townships.append(
            Township(
                code=f"{county.code}{t + 1:03d}",
                name=f"{t + 1}号镇{GENERATED_MARK}",
                district_id=district.id,
                is_seat=t == 0,
            )
        )
    session.add_all(townships)
    session.flush()
    villages = []
    for t, township in enumerate(townships):
        for v in range(per_township):
            x = x0 + t * strip + (v % side) * cell_w
            y = y0 + (v // side) * cell_h
            villages.append(
                {
                    "code": f"{township.code}{200 + v + 1:03d}",
                    "name": f"{t + 1}-{v + 1}村{GENERATED_MARK}",
                    "township_id": township.id,
                    "category": _category(rng, t, v, county),
                    "category_proposed": False,
                    "total_households": None,
                    "geometry": box(x, y, x + cell_w, y + cell_h).wkb,
                    "boundary_source": BOUNDARY_SOURCE,
                    "boundary_generated": True,
                }
            )
    session.execute(insert(Village), villages)
    ids = dict(
        session.execute(
            select(Village.code, Village.id).where(Village.code.startswith(county.code))
        ).all()
    )
    # How far this district has come: its clean share in 2021 and the year it started.
    progress = rng.uniform(0.72, 0.97)
    start = rng.choice(LEDGER_YEARS[:3])
    batches = {
        (township.id, year): _batch(session, township, year, sha256)
        for township in townships
        for year in LEDGER_YEARS
        if year >= start
    }
    totals: dict[int, int] = {}
    for township in townships:  # one township at a time: memory stays bounded
        mine = [v for v in villages if v["township_id"] == township.id]
        households = _households(
            rng, mine, ids, batches, progress, start, totals, households_per_village
        )
        history.load_histories(session, households, fixed=FIXED)
    # The registry's totals: a few more households than the ledgers list.
    session.execute(
        update(Village), [{"id": vid, "total_households": n} for vid, n in totals.items()]
    )


FIXED = ("household_no", "head_name", "address", "residents")
EMPTY = dict.fromkeys(HOUSEHOLD_FIELDS)


def _batch(session: Session, township: Township, year: int, sha256: str) -> int:
    day = date(year, 10, 31)
    at = datetime.combine(date(year, 11, 5), time(2, 0))
    batch = ImportBatch(
        kind="demo",
        township_id=township.id,
        file_name=f"演示数据：{township.name}台账（截至{day:%Y年%m月%d日}）",
        sha256=sha256,
        size=len(DEMO_FILE),
        status="committed",
        ledger_date=day,
        ledger_date_source="option",
        created_at=at,
        committed_at=at,
        counts={"rows": 0, "new": 0, "updated": 0, "unchanged": 0, "rejected": 0},
    )
    session.add(batch)
    session.flush()
    return batch.id


def _households(
    rng: random.Random,
    villages: list[dict[str, Any]],
    ids: dict[str, int],
    batches: dict[tuple[int, int], int],
    progress: float,
    start: int,
    totals: dict[int, int],
    households_per_village: tuple[int, int],
) -> Iterator[history.History]:
    """Each village's households with their yearly ledger steps (pure, seeded)."""
    years = [y for y in LEDGER_YEARS if y >= start]
    routes = [r for r, _ in ROUTES]
    weights = [w for _, w in ROUTES]
    for village in villages:
        vid = ids[village["code"]]
        tid = village["township_id"]
        built_up = village["category"] != "rural"
        share = min(1.0, progress + (0.05 if built_up else 0.0) + rng.uniform(-0.12, 0.08))
        n = rng.randint(*households_per_village)
        totals[vid] = n + (rng.random() < 0.15) * rng.randint(1, 4)
        for i in range(n):
            number = f"{village['code'][-6:]}{i + 1:04d}"
            base = {
                **EMPTY,
                "household_no": number,
                "head_name": HEAD_NAME,
                "address": f"{village['name']}{i + 1}号",
                "residents": rng.randint(1, 6),
            }
            first = years[0]
            steps: list[tuple[int, dict[str, Any]]] = []
            roll = rng.random()
            if roll < 0.03:
                steps.append((first, {**base, "status": "exempt", "exempt_reason": "空置"}))
            else:
                steps.append((first, {**base, "status": "planned", "plan_year": years[-1]}))
                if roll < share:
                    year = rng.choice(years)
                    route = rng.choices(routes, weights)[0]
                    done = {
                        **steps[-1][1],
                        "status": "completed",
                        "route": route,
                        "device": DEVICES[route],
                        "completed_on": date(year, rng.randint(6, 10), rng.randint(1, 28)),
                        "completed_on_precision": "day",
                        "operation": "normal",
                        "plan_year": year,
                    }
                    if year == first:
                        steps[-1] = (first, done)
                    else:
                        steps.append((year, done))
                    if rng.random() < 0.03:  # the 2021 look-back found coal again
                        steps.append((2021, {**done, "operation": "coal_again"}))
                        if steps[-2][0] == 2021:
                            steps.pop(-2)
            stamps = []
            for year, state in steps:
                at = datetime.combine(date(year, 11, 5), time(2, 0))
                stamp = history.Stamp(date(year, 10, 31), at, batches[(tid, year)])
                stamps.append((stamp, state))
            yield history.History(vid, f"no:{number}", "household_no", None, stamps)
