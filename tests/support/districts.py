"""Places: the tiny district (in the template database) and a second district beside it."""

from __future__ import annotations

from shapely.geometry import box
from sqlalchemy.orm import Session

from heating.models import District, Township, Village
from tests.support.households import add_many

# The tiny district's villages (codes)
NANJIE, DONGJIE, SHANGCUN, XIACUN = (
    "140405001201",
    "140405001202",
    "140405101201",
    "140405101202",
)

# A tiny hand-built district: 2 townships, 4 villages, unit-square polygons.
TINY = {
    "district": ("140405", "屯留区"),
    "townships": [("140405001", "麟绛街道", True), ("140405101", "上村镇", False)],
    # code, name, township, category, total households, polygon (lon/lat box)
    "villages": [
        (NANJIE, "南街村委会", "140405001", "county_core", 10, (112.80, 36.30, 112.81, 36.31)),
        (DONGJIE, "东街村委会", "140405001", "fringe", 8, (112.81, 36.30, 112.82, 36.31)),
        (SHANGCUN, "上村村委会", "140405101", "rural", 20, (112.82, 36.30, 112.83, 36.31)),
        (XIACUN, "下村村委会", "140405101", "rural", None, (112.83, 36.30, 112.84, 36.31)),
    ],
}


def load_tiny_district(session: Session) -> dict[str, int]:
    """Write TINY; return village code → id."""
    district = District(
        code=TINY["district"][0], name=TINY["district"][1], seat_township_code="140405001"
    )
    session.add(district)
    session.flush()
    townships = {}
    for code, name, seat in TINY["townships"]:
        township = Township(code=code, name=name, district_id=district.id, is_seat=seat)
        session.add(township)
        townships[code] = township
    session.flush()
    ids: dict[str, int] = {}
    for code, name, tcode, category, total, bounds in TINY["villages"]:
        village = Village(
            code=code,
            name=name,
            township_id=townships[tcode].id,
            category=category,
            total_households=total,
            geometry=box(*bounds).wkb,
        )
        session.add(village)
        session.flush()
        ids[code] = village.id
    return ids


# A second district (multi-district tests): 潞城区, one township, two villages
LUCHENG = "140406"
LUCHENG_TOWNSHIP = "140406001"
LUCHENG_VILLAGES = ("140406001201", "140406001202")


def add_second_district(session: Session) -> dict[str, int]:
    """Add 潞城区 beside the tiny district: 2 rural villages with households.

    Village 1: 10 required, 4 clean (gap 4 at 80%); village 2: 5 required, 5 clean.
    Returns village code → id.
    """
    district = District(code=LUCHENG, name="潞城区", seat_township_code=LUCHENG_TOWNSHIP)
    session.add(district)
    session.flush()
    township = Township(
        code=LUCHENG_TOWNSHIP, name="潞华街道", district_id=district.id, is_seat=True
    )
    session.add(township)
    session.flush()
    ids = {}
    for i, code in enumerate(LUCHENG_VILLAGES):
        village = Village(
            code=code,
            name=f"{'东西'[i]}关村委会",
            township_id=township.id,
            category="rural",
            total_households=None,
            geometry=box(113.10 + i * 0.01, 36.30, 113.11 + i * 0.01, 36.31).wkb,
        )
        session.add(village)
        session.flush()
        ids[code] = village.id
    add_many(session, ids[LUCHENG_VILLAGES[0]], 4, "completed", operation="normal")
    add_many(session, ids[LUCHENG_VILLAGES[0]], 6, "pending")
    add_many(session, ids[LUCHENG_VILLAGES[1]], 5, "completed", operation="normal")
    return ids
