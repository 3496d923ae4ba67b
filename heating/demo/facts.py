"""The real facts of 屯留区 the demo starts from: townships, villages, categories, outline.

Read from the files in ``heating/demo/data`` (provenance and licences in its
README).  Nothing here is generated except the categories, which are
*proposed* from the urban–rural codes by the configured profile.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources

from shapely.geometry import Polygon, shape

from heating.profile import Profile

DISTRICT_CODE = "140405"
DISTRICT_NAME = "屯留区"
SEAT_TOWNSHIP_CODE = "140405001"  # 麟绛街道
# The seat was renumbered and renamed between the 2016 and 2020 editions.
RENAMED_TOWNSHIPS = {"140405001": ("140424100", "麟绛镇")}
# Fallback urban–rural codes for villages whose 2016 code cannot be carried over.
FALLBACK_CODE_SEAT = "121"
FALLBACK_CODE_OTHER = "220"


@dataclass(frozen=True)
class TownshipFact:
    code: str
    name: str
    lon: float | None  # real centre (WGS84) or None for the development zones
    lat: float | None
    is_seat: bool


@dataclass(frozen=True)
class VillageFact:
    code: str
    name: str
    township_code: str
    urban_rural_code: str | None  # carried over from 2016, None when not matched
    category: str | None


def _rows(name: str) -> list[dict[str, str]]:
    text = resources.files("heating.demo.data").joinpath(name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def district_outline() -> Polygon:
    """The real district outline (WGS84, used as CGCS2000 EPSG:4490)."""
    text = (
        resources.files("heating.demo.data")
        .joinpath("district_boundary.geojson")
        .read_text(encoding="utf-8")
    )
    return shape(json.loads(text)["features"][0]["geometry"])


@cache
def townships() -> tuple[TownshipFact, ...]:
    """The 2020 township-level units with their 2016 centre points where known."""
    centres = {r["township_name"]: r for r in _rows("townships_2016.csv")}
    seen: dict[str, str] = {}
    for row in _rows("villages_2020.csv"):
        seen.setdefault(row["township_code"], row["township_name"])
    facts = []
    for code, name in seen.items():
        old_name = RENAMED_TOWNSHIPS.get(code, (None, name))[1]
        centre = centres.get(old_name)
        lon = float(centre["lon"]) if centre and centre["lon"] else None
        lat = float(centre["lat"]) if centre and centre["lat"] else None
        facts.append(TownshipFact(code, name, lon, lat, code == SEAT_TOWNSHIP_CODE))
    return tuple(facts)


def carried_urban_rural_codes() -> dict[str, str]:
    """2020 village code → 2016 urban–rural code, by the documented carry-over rules."""
    old = _rows("villages_2016.csv")
    by_suffix = {(r["village_code"][-6:], r["village_name"]): r["urban_rural_code"] for r in old}
    by_renamed = {
        (r["township_code"], r["village_code"][-3:], r["village_name"]): r["urban_rural_code"]
        for r in old
    }
    carried: dict[str, str] = {}
    for row in _rows("villages_2020.csv"):
        code, name = row["village_code"], row["village_name"]
        found = by_suffix.get((code[-6:], name))
        if found is None and row["township_code"] in RENAMED_TOWNSHIPS:
            old_township = RENAMED_TOWNSHIPS[row["township_code"]][0]
            found = by_renamed.get((old_township, code[-3:], name))
        if found:
            carried[code] = found
    return carried


def propose(profile: Profile, urban_rural_code: str | None, *, is_seat: bool) -> str:
    """Propose a category; a village without a code is treated as documented in data/README."""
    code = urban_rural_code or (FALLBACK_CODE_SEAT if is_seat else FALLBACK_CODE_OTHER)
    proposed = profile.propose_category(code, is_seat=is_seat)
    if proposed is None:
        # A custom profile without a mapping for the code: the least demanding category.
        proposed = min(profile.categories, key=lambda c: (c.target, c.key)).key
    return proposed


def villages(profile: Profile) -> tuple[VillageFact, ...]:
    """The 296 villages of 2020 with carried urban–rural codes and proposed categories."""
    carried = carried_urban_rural_codes()
    facts = []
    for row in _rows("villages_2020.csv"):
        code = row["village_code"]
        is_seat = row["township_code"] == SEAT_TOWNSHIP_CODE
        urc = carried.get(code)
        facts.append(
            VillageFact(
                code=code,
                name=row["village_name"],
                township_code=row["township_code"],
                urban_rural_code=urc,
                category=propose(profile, urc, is_seat=is_seat),
            )
        )
    return tuple(facts)
