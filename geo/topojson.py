"""TopoJSON: polygons whose shared borders are written once, on an integer grid.

A village map in GeoJSON writes every border twice (once for each village on
either side) as decimal degrees.  TopoJSON (https://github.com/topojson/
topojson-specification) cuts the rings into *arcs* at the points where three
or more polygons meet, stores each arc once, and lets each ring list the arcs
it follows (``~i`` for arc ``i`` walked backwards).  Coordinates are integers
on a grid of ``QUANTUM`` degrees (~1 m; ``transform``), each arc delta-encoded.
The browser turns it back into GeoJSON with the vendored topojson-client
(``topojson.feature``) and can draw borders between chosen neighbours without
any extra data (``topojson.mesh``).

The encoder here is hand-written: the ``topojson`` package took 1.8 s for
3,000 villages (and wrote 4.2 MB), which alone breaks the 1 s budget of the
map page (benchmarks/map.py, issue 17); this one takes a fraction of that by
finding junctions with one sort over all points (numpy) and cutting rings in
a Python loop over rings, not over points.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import shapely

from geo.display_memo import DisplayMemo, shapes_digest

QUANTUM = 1e-5  # degrees (~1.1 m north–south, ~0.9 m east–west at 36°N)
# The same shapes encode the same way; the memo (geo.display_memo) skips the work on a
# second page of unchanged boundaries.  Callers never mutate the arcs it hands out.
_SKELETONS = DisplayMemo()


class _Arcs:
    """The arcs found so far, each stored once; a ring asks for the reference of each piece."""

    def __init__(self) -> None:
        self.arcs: list[np.ndarray] = []
        self._index: dict[bytes, int] = {}

    def ref(self, arc: np.ndarray) -> int:
        """The index of ``arc`` (``~index`` when it is a stored arc walked backwards)."""
        key = arc.tobytes()
        found = self._index.get(key)
        if found is not None:
            return found
        backwards = self._index.get(np.ascontiguousarray(arc[::-1]).tobytes())
        if backwards is not None:
            return ~backwards
        self._index[key] = len(self.arcs)
        self.arcs.append(arc)
        return len(self.arcs) - 1


def _ring_arcs(
    points: np.ndarray, keys: np.ndarray, junction: np.ndarray, arcs: _Arcs
) -> list[int]:
    """Cut one closed ring (open form: last point not repeated) at its junctions."""
    where = np.flatnonzero(junction)
    if len(where) == 0:
        # No junction: the whole ring is one arc, started at its smallest point so that
        # the same ring seen from the other side (an enclave's hole) is found again.
        start = int(np.argmin(keys))
        return [arcs.ref(np.concatenate([points[start:], points[: start + 1]]))]
    # Start at the first junction and walk once round, back to it.
    first = int(where[0])
    closed = np.concatenate([points[first:], points[: first + 1]])
    cuts = [*(where - first).tolist(), len(points)]
    return [arcs.ref(closed[a : b + 1]) for a, b in zip(cuts[:-1], cuts[1:], strict=True)]


def _flatten(
    layers: Mapping[str, Sequence[Any]],
) -> tuple[np.ndarray, list[tuple[str, int, int, int]], np.ndarray]:
    """All rings of all layers: coordinates, (layer, geometry, part, ring) per ring, offsets."""
    coords: list[np.ndarray] = [np.empty((0, 2))]
    owners: list[tuple[str, int, int, int]] = []
    offsets = [np.array([0])]
    for name, geoms in layers.items():
        geoms = np.asarray(geoms, dtype=object)
        present = np.flatnonzero(~shapely.is_missing(geoms) & ~shapely.is_empty(geoms))
        if len(present) == 0:
            continue
        kind, xy, levels = shapely.to_ragged_array(geoms[present])
        ring_offsets, part_offsets = levels[0], levels[1]
        part_of_ring = np.repeat(np.arange(len(part_offsets) - 1), np.diff(part_offsets))
        ring_in_part = np.arange(len(ring_offsets) - 1) - part_offsets[part_of_ring]
        if kind == shapely.GeometryType.MULTIPOLYGON:
            geom_offsets = levels[2]
            geom_of_part = np.repeat(np.arange(len(geom_offsets) - 1), np.diff(geom_offsets))
            part_in_geom = np.arange(len(geom_of_part)) - geom_offsets[geom_of_part]
        else:
            geom_of_part = part_in_geom = np.arange(len(part_offsets) - 1)
        owners += [
            (name, g, p, r)
            for g, p, r in zip(
                present[geom_of_part[part_of_ring]].tolist(),
                part_in_geom[part_of_ring].tolist(),
                ring_in_part.tolist(),
                strict=True,
            )
        ]
        coords.append(xy)
        offsets.append(ring_offsets[1:] + sum(len(c) for c in coords[:-1]))
    return np.concatenate(coords), owners, np.concatenate(offsets)


def to_topology(
    layers: Mapping[str, tuple[Sequence[Any], Sequence[dict[str, Any]]]],
    *,
    quantum: float = QUANTUM,
) -> dict[str, Any]:
    """Encode polygon layers as one TopoJSON topology.

    Parameters
    ----------
    layers : mapping of name → (geometries, properties)
        Polygons or MultiPolygons in degrees (lon/lat) and one property dict
        per geometry.  Layers share arcs where their borders coincide exactly.
    quantum : float, default 1e-5
        Grid step in degrees.  Consecutive points that fall on one grid point
        are merged; a ring left with fewer than three points is dropped (a
        polygon whose outer ring is dropped becomes a null geometry).

    Returns
    -------
    dict
        ``{"type": "Topology", "transform": …, "objects": {name:
        GeometryCollection}, "arcs": […]}`` with delta-encoded integer arcs.
        The arcs and arc references are memoised by the shapes' content
        (``geo.display_memo``) and shared between results: do not mutate them.

    Example
    -------
    >>> topo = to_topology({"villages": (frame.geometry.values, props)})  # doctest: +SKIP
    """
    shapes = {name: geoms for name, (geoms, _) in layers.items()}
    key = shapes_digest(*shapes.values(), extra=("topology", quantum, *shapes.keys()))
    points = int(
        sum(shapely.get_num_coordinates(np.asarray(g, dtype=object)).sum() for g in shapes.values())
    )
    skeleton = _SKELETONS.get(key, points, lambda: _skeleton(shapes, quantum))
    objects: dict[str, Any] = {}
    for name, (_, props) in layers.items():
        objects[name] = {
            "type": "GeometryCollection",
            "geometries": [
                {**geometry, "properties": properties}
                for geometry, properties in zip(skeleton["objects"][name], props, strict=True)
            ],
        }
    return {
        "type": "Topology",
        "transform": skeleton["transform"],
        "objects": objects,
        "arcs": skeleton["arcs"],
    }


def _skeleton(shapes: Mapping[str, Sequence[Any]], quantum: float) -> dict[str, Any]:
    """The arcs and each geometry's arc references (no properties), memoised by content."""
    coords, owners, offsets = _flatten(shapes)
    if len(coords):
        origin = np.floor(coords.min(axis=0))
        grid = np.round((coords - origin) / quantum).astype(np.int64)
    else:
        origin = np.zeros(2)
        grid = np.empty((0, 2), dtype=np.int64)
    ring_of = np.repeat(np.arange(len(owners)), np.diff(offsets))
    # Drop each ring's closing point and every point equal to the one before it.
    closing = np.zeros(len(grid), dtype=bool)
    closing[offsets[1:] - 1] = True
    repeated = np.zeros(len(grid), dtype=bool)
    repeated[1:] = (grid[1:] == grid[:-1]).all(axis=1) & (ring_of[1:] == ring_of[:-1])
    keep = ~closing & ~repeated
    grid, ring_of = grid[keep], ring_of[keep]
    counts = np.bincount(ring_of, minlength=len(owners))
    starts = np.concatenate([[0], np.cumsum(counts)])
    keys = (grid[:, 0] << 32) | grid[:, 1]

    # A point is a junction where its neighbours differ between the rings passing it
    # (three or more polygons meet, or a border leaves the outline).  One sort by point.
    n = len(keys)
    position = np.arange(n) - starts[ring_of]
    size = counts[ring_of]
    before = keys[starts[ring_of] + (position - 1) % np.maximum(size, 1)]
    after = keys[starts[ring_of] + (position + 1) % np.maximum(size, 1)]
    low, high = np.minimum(before, after), np.maximum(before, after)
    order = np.lexsort((high, low, keys))
    k, lo, hi = keys[order], low[order], high[order]
    differs = (k[1:] == k[:-1]) & ((lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1]))
    spikes = keys[before == after]
    junction = np.isin(keys, np.union1d(k[1:][differs], spikes))

    arcs = _Arcs()
    rings: dict[tuple[str, int], dict[int, list[list[int]]]] = {}
    for i, (name, g, p, r) in enumerate(owners):
        a, b = starts[i], starts[i + 1]
        if b - a < 3:
            continue  # collapsed onto the grid
        parts = rings.setdefault((name, g), {})
        if r > 0 and p not in parts:
            continue  # a hole whose outer ring collapsed
        parts.setdefault(p, []).append(_ring_arcs(grid[a:b], keys[a:b], junction[a:b], arcs))

    objects: dict[str, list[dict[str, Any]]] = {}
    for name, geoms in shapes.items():
        geometries = []
        for g in range(len(geoms)):
            parts = list(rings.get((name, g), {}).values())
            if not parts:
                geometries.append({"type": None})
            elif len(parts) == 1:
                geometries.append({"type": "Polygon", "arcs": parts[0]})
            else:
                geometries.append({"type": "MultiPolygon", "arcs": parts})
        objects[name] = geometries
    return {
        "transform": {"scale": [quantum, quantum], "translate": origin.tolist()},
        "objects": objects,
        "arcs": _delta_encoded(arcs.arcs),
    }


def _delta_encoded(arcs: list[np.ndarray]) -> list[list[list[int]]]:
    """Each arc as its first point then the steps between points (small integers)."""
    if not arcs:
        return []
    lengths = np.array([len(a) for a in arcs])
    flat = np.concatenate(arcs)
    steps = flat.copy()
    steps[1:] -= flat[:-1]
    firsts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    steps[firsts] = flat[firsts]
    pairs = steps.tolist()
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    return [pairs[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def grid_points(xy: np.ndarray, topology: Mapping[str, Any]) -> list[list[int]]:
    """Points (lon, lat rows) on the topology's grid, for labels placed with it."""
    transform = topology["transform"]
    origin = np.asarray(transform["translate"])
    scale = np.asarray(transform["scale"])
    if len(xy) == 0:
        return []
    return np.round((np.asarray(xy) - origin) / scale).astype(np.int64).tolist()
