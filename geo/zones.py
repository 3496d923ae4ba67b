"""Coal-ban zones (禁煤区): derived from complete villages (pure; storage in geo.zone_derivations).

A zone is one connected part of the dissolved union of complete villages'
polygons.  Its identifier ("JMQ-0001") stays the same across derivations
while its villages overlap the previous zone's: a part inherits the id of
the previous zone whose villages it holds most of; when zones merge the
oldest id survives; when a zone splits the part holding most of its
villages keeps the id and the others get new ones.  Incomplete villages
wholly surrounded by zone are enclaves (飞地) — priority gaps.

``derive`` is pure: a GeoDataFrame and a set of complete codes in, zones
out.  ``geo.zone_derivations`` stores and reads derivations.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import GEOSException
from shapely.geometry import MultiPolygon, Polygon

from geo.crs import STORAGE_CRS, areas_km2
from geo.repair import polygonal_part

ZONE_PREFIX = "JMQ-"
ZONE_ID_RE = re.compile(rf"^{ZONE_PREFIX}(\d+)$")
# A village within this distance (degrees, ≈ 10 cm) of a zone touches it: real
# boundary files are not perfectly noded, so exact touching would miss neighbours.
TOUCH_DEGREES = 1e-6
# An incomplete village is an enclave when this share of it lies inside a zone's outer ring.
ENCLAVE_SHARE = 0.999


@dataclass
class DerivedZone:
    """One connected part of the coal-ban zone."""

    zone_id: str
    villages: list[str]
    geometry: Polygon | MultiPolygon  # EPSG:4490
    area_km2: float
    touching: list[str]  # incomplete villages this zone touches
    households: int | None = None  # Σ registry total households of its villages

    def as_json(self) -> dict[str, Any]:
        return {
            "zone_id": self.zone_id,
            "villages": self.villages,
            "area_km2": round(self.area_km2, 6),
            "village_count": len(self.villages),
            "touching": self.touching,
            "households": self.households,
        }


@dataclass
class Derived:
    """What ``derive`` found: zones, enclaves, and the change since the previous zones."""

    zones: list[DerivedZone]
    enclaves: list[str]
    added: list[str]
    removed: list[str]
    method: str  # "coverage_union" (valid tessellation) or "union" (fallback)
    complete_without_boundary: list[str] = field(default_factory=list)


def zone_number(zone_id: str) -> int | None:
    """The sequence number of "JMQ-0007" (7); None for an id of another form."""
    found = ZONE_ID_RE.match(zone_id)
    return int(found.group(1)) if found else None


def format_zone_id(number: int) -> str:
    return f"{ZONE_PREFIX}{number:04d}"


def union_parts(
    geoms: np.ndarray, *, tessellation_valid: bool | None = None
) -> tuple[list[Polygon], str]:
    """Union polygons and split the result into connected parts.

    ``shapely.coverage_union_all`` is several times faster than ``union_all``
    but needs an exactly noded tessellation, so it is used only when
    ``shapely.coverage_is_valid`` holds; otherwise (overlaps, slivers,
    mismatched vertices) the geometries are made valid and unioned fully.
    ``tessellation_valid`` passes a validity already known (any subset of a
    valid tessellation is one), saving the check, which costs more than the union.
    """
    if len(geoms) == 0:
        return [], "coverage_union"
    union = None
    method = "coverage_union"
    try:
        valid = (
            tessellation_valid
            if tessellation_valid is not None
            else shapely.coverage_is_valid(geoms)
        )
        if valid:
            union = shapely.coverage_union_all(geoms)
    except GEOSException:
        union = None
    if union is None:
        method = "union"
        union = shapely.union_all(shapely.make_valid(geoms))
    parts = [
        p for p in shapely.get_parts(polygonal_part(union) or MultiPolygon()) if not p.is_empty
    ]
    return parts, method


def _successors(
    previous: Mapping[str, Collection[str]], members: list[set[str]], part_areas: np.ndarray
) -> dict[str, int]:
    """For each previous zone, the part holding most of its villages (ties: larger part)."""
    part_of: dict[str, int] = {code: i for i, codes in enumerate(members) for code in codes}
    successor: dict[str, int] = {}
    for zone_id, codes in previous.items():
        shared: dict[int, int] = defaultdict(int)
        for code in codes:
            if code in part_of:
                shared[part_of[code]] += 1
        if shared:
            successor[zone_id] = max(shared, key=lambda i: (shared[i], part_areas[i], -i))
    return successor


def age_key(zone_id: str) -> tuple[int, str]:
    number = zone_number(zone_id)
    return (number if number is not None else 10**9, zone_id)


def assign_zone_ids(
    previous: Mapping[str, Collection[str]],
    members: list[set[str]],
    part_areas: np.ndarray,
    next_number: int,
) -> list[str]:
    """Give every part an identifier that follows its villages from the previous zones.

    Each previous zone passes its id to its successor part (the one holding
    most of its villages); a part that receives several ids (a merge) keeps
    the oldest; parts receiving none get new sequential ids, in order of
    their smallest village code so a rerun gives the same ids.
    """
    inherited: dict[int, list[str]] = defaultdict(list)
    for zone_id, part in _successors(previous, members, part_areas).items():
        inherited[part].append(zone_id)
    ids: list[str | None] = [None] * len(members)
    for part, candidates in inherited.items():
        ids[part] = min(candidates, key=age_key)
    fresh = sorted((i for i, z in enumerate(ids) if z is None), key=lambda i: min(members[i]))
    for offset, part in enumerate(fresh):
        ids[part] = format_zone_id(next_number + offset)
    return [z for z in ids if z is not None]


def derive(
    villages: gpd.GeoDataFrame,
    complete: Collection[str],
    previous: Mapping[str, Collection[str]] | None = None,
    *,
    next_number: int = 1,
    tessellation_valid: bool | None = None,
) -> Derived:
    """Derive coal-ban zones from villages and the set of complete village codes.

    Parameters
    ----------
    villages : GeoDataFrame
        ``code`` and ``geometry`` (EPSG:4490; None where no boundary), and
        optionally ``total_households``.
    complete : collection of str
        Codes of complete villages.
    previous : mapping of str to collection of str, optional
        The previous derivation's zones: zone id → village codes.
    next_number : int, default 1
        The sequence number for the first new zone id.
    tessellation_valid : bool, optional
        Whether all of ``villages``' boundaries are known to form a valid
        tessellation (``shapely.coverage_is_valid``); checked on the complete
        villages when not given.

    Returns
    -------
    Derived
        Zones ordered by id, enclaves, and villages added/removed since ``previous``.

    Example
    -------
    >>> derived = derive(frame, {"140405001201"})
    >>> derived.zones[0].zone_id
    'JMQ-0001'
    """
    previous = previous or {}
    if villages.crs is not None and villages.crs != STORAGE_CRS:
        raise ValueError(f"villages should be in {STORAGE_CRS}, got {villages.crs}")
    complete = set(complete)
    geoms = villages.geometry.to_numpy()
    codes = villages["code"].to_numpy()
    has_geom = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    is_complete = np.array([c in complete for c in codes], dtype=bool)
    chosen = has_geom & is_complete
    others = has_geom & ~is_complete
    complete_codes, complete_geoms = codes[chosen], geoms[chosen]
    open_codes, open_geoms = codes[others], geoms[others]

    parts, method = union_parts(complete_geoms, tessellation_valid=tessellation_valid)
    members = _members(parts, complete_codes, complete_geoms)
    keep = [i for i, m in enumerate(members) if m]  # parts with no village's interior point: noise
    parts, members = [parts[i] for i in keep], [members[i] for i in keep]
    areas = areas_km2(np.array(parts, dtype=object))
    ids = assign_zone_ids(previous, members, areas, next_number)

    touching = _touching(parts, open_codes, open_geoms)
    enclaves = _enclaves(parts, open_codes, open_geoms, exact=method == "coverage_union")
    households = _households(villages)
    zones = [
        DerivedZone(
            zone_id=ids[i],
            villages=sorted(members[i]),
            geometry=parts[i],
            area_km2=float(areas[i]),
            touching=touching[i],
            households=_sum_households(members[i], households),
        )
        for i in range(len(parts))
    ]
    zones.sort(key=lambda z: age_key(z.zone_id))
    now = {c for z in zones for c in z.villages}
    before = {c for codes_ in previous.values() for c in codes_}
    return Derived(
        zones=zones,
        enclaves=enclaves,
        added=sorted(now - before),
        removed=sorted(before - now),
        method=method,
        complete_without_boundary=sorted(set(codes[~has_geom & is_complete])),
    )


def _members(parts: list[Polygon], codes: np.ndarray, geoms: np.ndarray) -> list[set[str]]:
    """Which part each complete village lies in (by a point inside it; else most overlap).

    The points go in the tree and the parts are the (prepared) query
    geometries: point-in-polygon against a few large parts is then fast.
    """
    members: list[set[str]] = [set() for _ in parts]
    if not parts:
        return members
    points = shapely.point_on_surface(geoms)
    part_idx, point_idx = shapely.STRtree(points).query(parts, predicate="contains")
    placed = np.zeros(len(codes), dtype=bool)
    for p, v in zip(part_idx, point_idx, strict=True):
        if not placed[v]:
            members[p].add(str(codes[v]))
            placed[v] = True
    if not placed.all():  # a point on a part's edge after a fallback union
        tree = shapely.STRtree(parts)
        for v in np.flatnonzero(~placed):
            candidates = tree.query(geoms[v], predicate="intersects")
            if len(candidates):
                shared = shapely.area(
                    shapely.intersection(geoms[v], np.asarray(parts, dtype=object)[candidates])
                )
                members[int(candidates[int(np.argmax(shared))])].add(str(codes[v]))
    return members


def _touching(parts: list[Polygon], codes: np.ndarray, geoms: np.ndarray) -> list[list[str]]:
    """For each part, the incomplete villages within TOUCH_DEGREES of it."""
    result: list[list[str]] = [[] for _ in parts]
    if not parts or len(geoms) == 0:
        return result
    part_idx, village_idx = shapely.STRtree(geoms).query(
        parts, predicate="dwithin", distance=TOUCH_DEGREES
    )
    for p, v in zip(part_idx, village_idx, strict=True):
        result[p].append(str(codes[v]))
    return [sorted(set(r)) for r in result]


def _enclaves(
    parts: list[Polygon], codes: np.ndarray, geoms: np.ndarray, *, exact: bool
) -> list[str]:
    """Incomplete villages lying in a hole of a zone part (wholly surrounded by zone).

    Candidates are the villages whose interior point falls in a hole.  In an
    exact tessellation that settles it (a village cannot overlap the zone);
    otherwise (``exact=False``) each is confirmed by the share of its area
    inside the hole (ENCLAVE_SHARE), which tolerates imperfect noding.
    """
    holes = np.array([Polygon(ring) for part in parts for ring in part.interiors], dtype=object)
    if len(holes) == 0 or len(geoms) == 0:
        return []
    points = shapely.point_on_surface(geoms)
    hole_idx, village_idx = shapely.STRtree(points).query(holes, predicate="contains")
    if exact:
        return sorted({str(codes[v]) for v in village_idx})
    inside = shapely.area(shapely.intersection(geoms[village_idx], holes[hole_idx]))
    own = shapely.area(geoms[village_idx])
    return sorted(
        {
            str(codes[v])
            for v, a, o in zip(village_idx, inside, own, strict=True)
            if o > 0 and a >= ENCLAVE_SHARE * o
        }
    )


def _households(villages: gpd.GeoDataFrame) -> dict[str, int]:
    if "total_households" not in villages:
        return {}
    return {
        str(c): int(t)
        for c, t in zip(villages["code"], villages["total_households"], strict=True)
        if not pd.isna(t)
    }


def _sum_households(codes: set[str], households: dict[str, int]) -> int | None:
    known = [households[c] for c in codes if c in households]
    return sum(known) if known else None
