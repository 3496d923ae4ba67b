"""Display geometry and TopoJSON: lighter shapes that still tile, borders written once.

Shapes are drawn by hand (as geopandas' own tests do) and the topology is
decoded back here, the way topojson-client does it in the browser.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from geo.display import dissolve, label_points, simplify
from geo.display_memo import DisplayMemo, shapes_digest
from geo.topojson import QUANTUM, grid_points, to_topology


def decode(topology: dict, name: str) -> list[MultiPolygon | None]:
    """Rebuild each geometry of object ``name`` from the arcs (topojson-client's algorithm)."""
    (sx, sy), (ox, oy) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = [np.cumsum(np.asarray(a), axis=0) * [sx, sy] + [ox, oy] for a in topology["arcs"]]

    def ring(refs: list[int]) -> np.ndarray:
        points: list[np.ndarray] = []
        for ref in refs:
            arc = arcs[ref] if ref >= 0 else arcs[~ref][::-1]
            points.append(arc if not points else arc[1:])
        return np.concatenate(points)

    out: list[MultiPolygon | None] = []
    for geometry in topology["objects"][name]["geometries"]:
        if geometry["type"] is None:
            out.append(None)
            continue
        polygons = [geometry["arcs"]] if geometry["type"] == "Polygon" else geometry["arcs"]
        out.append(MultiPolygon([Polygon(ring(p[0]), [ring(h) for h in p[1:]]) for p in polygons]))
    return out


def test_two_neighbours_share_their_border_as_one_arc() -> None:
    west, east = box(112.80, 36.30, 112.81, 36.31), box(112.81, 36.30, 112.82, 36.31)
    topo = to_topology({"v": ([west, east], [{"code": "w"}, {"code": "e"}])})
    assert len(topo["arcs"]) == 3  # the shared border, and each village's outer path
    refs = [set(g["arcs"][0]) for g in topo["objects"]["v"]["geometries"]]
    shared = {r if r >= 0 else ~r for r in refs[0]} & {r if r >= 0 else ~r for r in refs[1]}
    assert len(shared) == 1
    (arc,) = shared
    assert (arc in refs[0]) != (arc in refs[1])  # walked forwards once, backwards once
    rebuilt = decode(topo, "v")
    for original, back in zip([west, east], rebuilt, strict=True):
        assert back.symmetric_difference(original).area < 1e-12
    assert [g["properties"] for g in topo["objects"]["v"]["geometries"]] == [
        {"code": "w"},
        {"code": "e"},
    ]


def test_an_enclave_and_the_hole_around_it_are_one_arc() -> None:
    outer = box(112.80, 36.30, 112.83, 36.33)
    inner = box(112.81, 36.31, 112.82, 36.32)
    ring = outer.difference(inner)
    topo = to_topology({"v": ([ring, inner], [{}, {}])})
    assert len(topo["arcs"]) == 2  # the outer ring, and the ring both share
    (hole_ring_refs,) = topo["objects"]["v"]["geometries"][1]["arcs"]
    assert len(hole_ring_refs) == 1
    assert decode(topo, "v")[0].symmetric_difference(ring).area < 1e-12


def test_coordinates_are_delta_encoded_integers_on_the_grid() -> None:
    square = box(112.80001, 36.30002, 112.81004, 36.31)
    topo = to_topology({"v": ([square], [{}])})
    assert topo["transform"] == {"scale": [QUANTUM, QUANTUM], "translate": [112.0, 36.0]}
    (arc,) = topo["arcs"]
    assert all(isinstance(v, int) for point in arc for v in point)
    assert abs(arc[1][0]) + abs(arc[1][1]) in (1000, 1003, 998)  # one side, not absolute
    assert grid_points(np.array([[112.80001, 36.30002]]), topo) == [[80001, 30002]]


def test_rings_that_collapse_on_the_grid_are_dropped() -> None:
    speck = box(112.8, 36.3, 112.8 + QUANTUM / 4, 36.3 + QUANTUM / 4)
    topo = to_topology({"v": ([box(112.7, 36.2, 112.71, 36.21), speck, None], [{}, {}, {}])})
    types = [g["type"] for g in topo["objects"]["v"]["geometries"]]
    assert types == ["Polygon", None, None]


def test_multipolygons_and_several_layers_share_one_topology() -> None:
    parts = MultiPolygon([box(0.1, 0.1, 0.2, 0.2), box(0.3, 0.1, 0.4, 0.2)])
    touching = box(0.2, 0.1, 0.3, 0.2)
    topo = to_topology({"a": ([parts], [{}]), "b": ([touching], [{}])})
    assert topo["objects"]["a"]["geometries"][0]["type"] == "MultiPolygon"
    assert decode(topo, "a")[0].symmetric_difference(parts).area < 1e-12
    assert decode(topo, "b")[0].symmetric_difference(touching).area < 1e-12
    # Two shared borders, the outer paths of the two parts, the middle square's top and bottom.
    assert len(topo["arcs"]) == 6


def test_simplification_keeps_shared_borders() -> None:
    # Two neighbours sharing a finely zig-zagged border (metres, Gauss–Krüger 38).
    xs = [500_000 + i * 5.0 for i in range(201)]
    border = [(x, 4_000_000 + (3.0 if i % 2 else 0.0)) for i, x in enumerate(xs)]
    north = Polygon([*border, (xs[-1], 4_001_000), (xs[0], 4_001_000)])
    south = Polygon([*border, (xs[-1], 3_999_000), (xs[0], 3_999_000)])
    frame = gpd.GeoDataFrame({"code": ["a", "b"]}, geometry=[north, south], crs="EPSG:4547").to_crs(
        "EPSG:4490"
    )
    small = simplify(frame, 20.0)
    assert small.crs == frame.crs and list(small["code"]) == ["a", "b"]
    geoms = small.to_crs("EPSG:4547").geometry.values
    assert (
        shapely.get_num_coordinates(geoms).sum()
        < shapely.get_num_coordinates(frame.geometry.values).sum() / 10
    )
    overlap = shapely.intersection(geoms[0], geoms[1]).area
    gap = shapely.union_all(geoms).area - geoms[0].area - geoms[1].area
    assert overlap < 1e-3 and abs(gap) < 1e-3
    # …and the simplified border is still one arc in the topology.
    topo = to_topology({"v": (small.geometry.values, [{}, {}])})
    assert len(topo["arcs"]) == 3


def test_dissolve_unions_each_group_and_survives_unnoded_input() -> None:
    frame = gpd.GeoDataFrame(
        {"township": ["t1", "t1", "t2"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)],
        crs="EPSG:4490",
    )
    out = dissolve(frame, "township")
    assert list(out["township"]) == ["t1", "t2"]
    assert out.geometry.iloc[0].equals(box(0, 0, 2, 1))
    # Overlapping, not exactly noded: the coverage union refuses; a full union is used.
    messy = frame.assign(geometry=[box(0, 0, 1.1, 1), box(1, 0, 2, 1), box(2, 0, 3, 1)])
    out = dissolve(messy, "township")
    assert out.geometry.iloc[0].equals(box(0, 0, 2, 1)) and out.is_valid.all()


def test_label_points_are_inside_even_for_a_crescent() -> None:
    crescent = box(0, 0, 3, 3).difference(box(1, 1, 3, 2))
    frame = gpd.GeoDataFrame(geometry=[crescent], crs="EPSG:4490")
    ((x, y),) = label_points(frame)
    assert crescent.contains(shapely.Point(x, y))


def test_display_results_are_memoised_by_the_shapes_content() -> None:
    calls: list[int] = []
    memo = DisplayMemo(max_points=10)
    square, other = [box(0, 0, 1, 1)], [box(0, 0, 2, 1)]

    def compute(value: int):
        return lambda: calls.append(value) or value

    key = shapes_digest(square, extra=("t", 20.0))
    assert memo.get(key, 5, compute(1)) == 1
    assert memo.get(shapes_digest([box(0, 0, 1, 1)], extra=("t", 20.0)), 5, compute(2)) == 1
    assert shapes_digest(square, extra=("t", 30.0)) != key  # parameters are part of the key
    assert memo.get(shapes_digest(other, extra=("t", 20.0)), 5, compute(3)) == 3
    assert calls == [1, 3]
    # A third entry exceeds the 10-point budget: the oldest goes.
    memo.get(shapes_digest([box(0, 0, 3, 1)]), 5, compute(4))
    assert memo.get(key, 5, compute(5)) == 5 and calls == [1, 3, 4, 5]
    # Too large to keep: computed every time.
    big = shapes_digest([box(0, 0, 9, 9)])
    memo.get(big, 11, compute(6))
    memo.get(big, 11, compute(7))
    assert calls[-2:] == [6, 7]


def test_memoised_topologies_carry_each_callers_properties() -> None:
    shapes = [box(112.80, 36.30, 112.81, 36.31), box(112.81, 36.30, 112.82, 36.31)]
    first = to_topology({"v": (shapes, [{"n": 1}, {"n": 2}])})
    second = to_topology({"v": (list(shapes), [{"n": 3}, {"n": 4}])})
    assert second["arcs"] is first["arcs"]  # the same shapes: encoded once
    assert [g["properties"] for g in first["objects"]["v"]["geometries"]] == [{"n": 1}, {"n": 2}]
    assert [g["properties"] for g in second["objects"]["v"]["geometries"]] == [{"n": 3}, {"n": 4}]
