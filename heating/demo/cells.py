"""Generated demo boundaries: township cells around the real centres, village cells inside.

No openly licensed village boundaries exist for 屯留区, so the demo makes
them up — plausibly, deterministically, and labelled as generated wherever
shown.  Cells are built in metres (3-degree Gauss–Krüger zone 38, EPSG:4547)
so that they are not stretched by the degree grid, then turned into
CGCS2000 degrees and *noded together*: every village polygon is a union of
faces of one shared linework, so neighbours share their borders vertex for
vertex and the result is a valid coverage (``shapely.coverage_is_valid``),
which the coal-ban zone union relies on.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPoint, Point, Polygon
from shapely.strtree import STRtree

# Tunliu lies around 112.8°E: Gauss–Krüger zone 38 (central meridian 114°E).
PROJECTED_CRS = "EPSG:4547"
STORAGE_CRS = "EPSG:4490"
DEGREE_DECIMALS = 7  # about 1 cm: plenty, and keeps WKB compact and stable


@dataclass(frozen=True)
class Seed:
    """A township (or village) to place: its code and, if known, its real centre."""

    code: str
    centre: tuple[float, float] | None = None  # lon, lat


def _transformers() -> tuple[Transformer, Transformer]:
    forward = Transformer.from_crs(STORAGE_CRS, PROJECTED_CRS, always_xy=True)
    back = Transformer.from_crs(PROJECTED_CRS, STORAGE_CRS, always_xy=True)
    return forward, back


def _to_metres(geom: Polygon, forward: Transformer) -> Polygon:
    return shapely.transform(geom, lambda xy: np.column_stack(forward.transform(*xy.T)))


def _to_degrees(geom: Polygon, back: Transformer) -> Polygon:
    def fn(xy: np.ndarray) -> np.ndarray:
        lon, lat = back.transform(*xy.T)
        return np.round(np.column_stack([lon, lat]), DEGREE_DECIMALS)

    return shapely.transform(geom, fn)


def _random_point_in(area: Polygon, rng: random.Random) -> Point:
    minx, miny, maxx, maxy = area.bounds
    for _ in range(10_000):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if area.contains(p):
            return p
    return area.representative_point()


def spread_points(
    area: Polygon, count: int, rng: random.Random, *, fixed: Sequence[Point] = (), tries: int = 24
) -> list[Point]:
    """Place ``count`` points in ``area``, each the best of ``tries`` random candidates.

    Best-candidate sampling (Mitchell): the candidate farthest from the points
    already placed wins, which spreads points evenly without a grid look.
    """
    placed: list[Point] = list(fixed)
    new: list[Point] = []
    for _ in range(count):
        best, best_d = None, -1.0
        for _ in range(tries):
            p = _random_point_in(area, rng)
            d = min((p.distance(q) for q in placed), default=math.inf)
            d = min(d, area.boundary.distance(p) * 2)  # keep off the very edge
            if d > best_d:
                best, best_d = p, d
        placed.append(best)
        new.append(best)
    return new


def voronoi_cells(points: Sequence[Point], clip: Polygon) -> list[Polygon]:
    """Voronoi cells of ``points`` clipped to ``clip``, in the order of ``points``."""
    if len(points) == 1:
        return [clip]
    envelope = clip.envelope.buffer(clip.length)
    regions = shapely.voronoi_polygons(MultiPoint(points), extend_to=envelope)
    regions = list(regions.geoms)
    tree = STRtree(regions)
    cells = []
    for p in points:
        idx = tree.query(p, predicate="intersects")
        region = regions[int(idx[0])]
        # A clip may split a cell in parts; node_coverage gives stray parts to neighbours.
        cells.append(region.intersection(clip))
    return cells


def relax(points: list[Point], clip: Polygon, rounds: int = 2) -> list[Point]:
    """Lloyd relaxation: move points to their cell centroids for rounder cells."""
    for _ in range(rounds):
        if len(points) < 2:
            break
        points = [cell.centroid for cell in voronoi_cells(points, clip)]
    return points


def node_coverage(cells: dict[str, Polygon]) -> dict[str, Polygon]:
    """Rebuild ``cells`` from one noded linework so shared borders match exactly.

    Each face of the polygonized linework goes to the cell it overlaps most
    (slivers from floating-point clipping included); a cell's faces are then
    dissolved with ``coverage_union_all``, which keeps the shared vertices.
    """
    codes = list(cells)
    geoms = [cells[c] for c in codes]
    lines = shapely.union_all(shapely.boundary(geoms))
    faces = list(shapely.polygonize(list(getattr(lines, "geoms", [lines]))).geoms)
    tree = STRtree(geoms)
    owned: dict[str, list[Polygon]] = defaultdict(list)
    for face in faces:
        candidates = tree.query(face)
        if len(candidates) == 0:
            candidates = [tree.nearest(face)]
        best = max(candidates, key=lambda i: (face.intersection(geoms[i]).area, -int(i)))
        owned[codes[int(best)]].append(face)
    for code in codes:
        if not owned.get(code):
            raise ValueError(f"generated cell {code} vanished while noding")
    for _ in range(3):
        if not _hand_over_stray_parts(owned):
            break
    return {code: _dissolve(owned[code]) for code in codes}


def _dissolve(faces: list[Polygon]) -> Polygon:
    return faces[0] if len(faces) == 1 else shapely.coverage_union_all(faces)


def _hand_over_stray_parts(owned: dict[str, list[Polygon]]) -> bool:
    """Give faces cut off from a cell's main part to the neighbour with the longest shared border.

    Clipping Voronoi cells to a ragged outline can leave a cell in pieces; a
    village in two pieces would look wrong on the map.  Returns True when a
    face moved (the caller repeats until nothing moves).
    """
    moved = False
    for code in sorted(owned):
        whole = _dissolve(owned[code])
        if whole.geom_type == "Polygon":
            continue
        main = max(whole.geoms, key=lambda g: g.area)
        for face in list(owned[code]):
            if main.covers(face.representative_point()):
                continue
            best, best_len = None, 0.0
            for other in sorted(owned):
                if other == code:
                    continue
                shared = face.boundary.intersection(_dissolve(owned[other]).boundary).length
                if shared > best_len:
                    best, best_len = other, shared
            if best is not None:
                owned[code].remove(face)
                owned[best].append(face)
                moved = True
    return moved


def generate_boundaries(
    outline: Polygon,
    townships: Sequence[Seed],
    villages_by_township: dict[str, Sequence[str]],
    *,
    seed: str,
) -> tuple[dict[str, Polygon], dict[str, tuple[float, float]]]:
    """Generate village polygons (EPSG:4490) and the township centres used.

    ``townships[0]`` is the district seat and must have a real centre.

    ``villages_by_township`` lists each township's village codes in the order
    their cells should be placed: the first nearest the township centre (the
    caller puts built-up villages first).  Returns village code → polygon and
    township code → (lon, lat) centre (generated for townships without one).
    """
    forward, back = _transformers()
    district = _to_metres(outline, forward).buffer(0)
    rng = random.Random(f"{seed}:townships")

    centres: dict[str, Point] = {}
    for t in townships:
        if t.centre is not None:
            centres[t.code] = _to_metres(Point(t.centre), forward)
    seat = centres[townships[0].code]
    for t in townships:  # development zones without a centre in the source
        if t.code not in centres:
            # A zone of one or two (virtual) communities sits by the seat, not in open country.
            small = len(villages_by_township.get(t.code, ())) <= 2
            area = seat.buffer(7000).intersection(district) if small else district.buffer(-3000)
            centres[t.code] = spread_points(area, 1, rng, fixed=list(centres.values()))[0]

    order = [t.code for t in townships]
    township_cells = dict(
        zip(order, voronoi_cells([centres[c] for c in order], district), strict=True)
    )

    village_cells: dict[str, Polygon] = {}
    for code in order:
        cell = township_cells[code]
        village_codes = list(villages_by_township.get(code, ()))
        if not village_codes:
            continue
        vrng = random.Random(f"{seed}:villages:{code}")
        points = relax(spread_points(cell, len(village_codes), vrng), cell)
        centre = centres[code]
        points.sort(key=lambda p: (p.distance(centre), p.x, p.y))
        for vcode, vcell in zip(village_codes, voronoi_cells(points, cell), strict=True):
            village_cells[vcode] = vcell

    in_degrees = {code: _to_degrees(g, back) for code, g in village_cells.items()}
    noded = node_coverage(in_degrees)
    centres_ll = {code: _to_degrees(p, back).coords[0] for code, p in centres.items()}
    return noded, centres_ll
