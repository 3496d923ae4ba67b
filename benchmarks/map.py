"""Benchmark: the coverage map's size and build time for 300, 3,000 and 30,000 villages.

Generates a district whose villages are a Voronoi tessellation (each cell
~1.7 km across, edges wiggled so a village has ~60–100 vertices, shared
borders exactly shared), stores it in a temporary SQLite database with
registry totals and a few households per village, then measures in the same run:

- ``raw``: the same villages as plain GeoJSON (full precision, unsimplified);
- ``geojson``: the villages as the page would carry them without TopoJSON —
  the same 20 m simplification, 6 decimals, each border written twice (the
  baseline of the arcs' gain);
- ``page``: what a browser downloads for the map of every village (forced, no
  township overview): ``/map/script.js`` (``geo.maps.map_data`` +
  ``map_document`` + ``geo.maps_folium.build_map`` + ``map_script``: DB read,
  measures, priority gaps, simplification, TopoJSON, folium) plus map.js,
  map.css and the topojson client (Leaflet, cached and unchanged, is left
  out as before); its time is the server's, from the database to the script,
  the first time and again (simplified shapes and arcs memoised by content,
  ``geo.display_memo``; measures are always computed afresh);
- ``overview``: the default document without a filter, which switches to
  township shapes above 2,000 villages;
- ``standalone``: the file ``heating map`` writes (Leaflet and all inlined).

Goals: the 3,000-village page ≤ 2.5 MB uncompressed, built in ≤ 1 s (issue 17;
it was 4.31 MB / 0.98 s with GeoJSON on integer coordinates in an iframe).

Usage::

    python benchmarks/map.py --sizes 300,3000
    python benchmarks/map.py            # 300, 3,000 and 30,000
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely
from shapely.geometry import box
from sqlalchemy import insert

from geo.display import simplify
from geo.maps import map_data
from geo.maps_document import MapLinks, map_document
from geo.maps_folium import STATIC_DIR, build_map, map_script, standalone_html
from heating.db import upgrade
from heating.models import District, Household, Township, Village
from heating.runtime import open_runtime

CELL_M = 1700.0  # typical village width in metres (~3 km²)
PROJECTED = "EPSG:4547"  # CGCS2000 3-degree Gauss–Krüger, CM 114°E (Shanxi)
VILLAGES_PER_TOWNSHIP = 25
HOUSEHOLDS_PER_VILLAGE = 4


def synthetic_villages(n: int, *, seed: int = 0, vertices: int = 80) -> gpd.GeoDataFrame:
    """A coverage of about ``n`` village polygons in EPSG:4490 near 112.9°E, 36.1°N.

    Voronoi edges are noded once, segmentized and displaced by a smooth
    wiggle (endpoints fixed), then polygonized: neighbours share exactly the
    same edge coordinates, as in a clean boundary file.
    """
    rng = np.random.default_rng(seed)
    side = CELL_M * np.sqrt(n)
    x0, y0 = 400_000.0, 4_000_000.0
    frame = box(x0, y0, x0 + side, y0 + side)
    points = rng.uniform([x0, y0], [x0 + side, y0 + side], size=(n, 2))
    edges = shapely.voronoi_polygons(shapely.multipoints(points), extend_to=frame, only_edges=True)
    inner = shapely.get_parts(shapely.union_all([shapely.intersection(edges, frame)]))
    noded = shapely.get_parts(shapely.union_all([*inner, frame.boundary]))
    step = CELL_M / (vertices / 4.5)
    border = frame.boundary.buffer(1e-6)
    shapely.prepare(border)
    lines = []
    for line in noded:
        coords = shapely.get_coordinates(shapely.segmentize(line, step))
        d = coords[-1] - coords[0]
        length = float(np.hypot(*d))
        on_frame = border.contains(line)
        if len(coords) > 2 and length > 0 and not on_frame:
            normal = np.array([-d[1], d[0]]) / length
            t = np.linspace(0.0, 1.0, len(coords))
            amplitude = min(length, CELL_M) * 0.04
            wiggle = amplitude * np.sin(np.pi * t) * np.sin(t * length / 97.0 + rng.uniform(0, 6))
            coords = coords + np.outer(wiggle, normal)
        lines.append(shapely.linestrings(coords))
    polygons = np.asarray(shapely.get_parts(shapely.polygonize(lines)))
    return gpd.GeoDataFrame(geometry=polygons, crs=PROJECTED).to_crs("EPSG:4490")


def load_district(url: str, villages: gpd.GeoDataFrame) -> None:
    """Store the villages (with totals and a few households each) under one district."""
    runtime = open_runtime(database_url=url)
    upgrade(runtime.engine)
    n = len(villages)
    # Townships are contiguous blocks of about VILLAGES_PER_TOWNSHIP villages, as on the ground.
    k = max(1, round(np.sqrt(n / VILLAGES_PER_TOWNSHIP)))
    centres = shapely.get_coordinates(shapely.centroid(np.asarray(villages.geometry.values)))
    lo, hi = centres.min(axis=0), centres.max(axis=0) + 1e-9
    cells = np.floor((centres - lo) / (hi - lo) * k).astype(int)
    block = cells[:, 0] * k + cells[:, 1]
    order = np.argsort(block, kind="stable")
    townships = k * k
    wkb = shapely.to_wkb(np.asarray(villages.geometry.values))
    rng = np.random.default_rng(1)
    with runtime.session() as session:
        district = District(code="149901", name="基准区")
        session.add(district)
        session.flush()
        session.execute(
            insert(Township),
            [
                {"code": f"149901{t:03d}", "name": f"第{t}镇", "district_id": district.id}
                for t in range(townships)
            ],
        )
        ids = {t.code: t.id for t in session.query(Township)}
        rows = []
        for rank, i in enumerate(order):
            tcode = f"149901{block[i]:03d}"
            rows.append(
                {
                    "code": f"{tcode}{rank % 1000:03d}",
                    "name": f"第{rank}村村委会",
                    "township_id": ids[tcode],
                    "category": "rural" if i % 5 else "fringe",
                    "total_households": int(rng.integers(4, 8)),
                    "geometry": wkb[i],
                    "boundary_generated": True,
                }
            )
        session.execute(insert(Village), rows)
        village_ids = [v for (v,) in session.query(Village.id).order_by(Village.id)]
        statuses = ["completed", "accepted", "pending", "planned"]
        session.execute(
            insert(Household),
            [
                {
                    "village_id": vid,
                    "key": f"no:{k}",
                    "key_kind": "household_no",
                    "head_name": "户主",
                    "status": statuses[int(rng.integers(0, 4))] if k else "completed",
                }
                for vid in village_ids
                for k in range(HOUSEHOLDS_PER_VILLAGE)
            ],
        )
    runtime.engine.dispose()


LINKS = MapLinks(village="/villages/{code}", township="/map?township={code}")
# The page's own assets besides Leaflet (cached, unchanged, left out as before).
PAGE_ASSETS = sum(
    (STATIC_DIR / name).stat().st_size
    for name in ("js/map.js", "css/map.css", "vendor/topojson-client-3.1.0/topojson-client.min.js")
)


def timed_document(runtime, **kwargs) -> tuple[float, int, str]:
    """Seconds from the database to the text of /map/script.js, its bytes, the map's mode."""
    start = time.perf_counter()
    with runtime.session() as session:
        data = map_data(session, runtime.config, **kwargs)
        text = map_script(build_map(map_document(data, links=LINKS)))
    return time.perf_counter() - start, len(text.encode("utf-8")), data.mode


def timed_standalone(runtime, **kwargs) -> tuple[float, int]:
    start = time.perf_counter()
    with runtime.session() as session:
        document = map_document(map_data(session, runtime.config, **kwargs))
        page = standalone_html(build_map(document, standalone=True))
    return time.perf_counter() - start, len(page.encode("utf-8"))


def simplified_geojson_bytes(villages: gpd.GeoDataFrame) -> int:
    """The villages at the page's simplification and precision, as plain GeoJSON."""
    small = simplify(villages, 20.0)
    small["geometry"] = shapely.set_precision(np.asarray(small.geometry.values), 1e-6)
    return len(json.dumps(small.to_geo_dict(), separators=(",", ":")).encode("utf-8"))


def run(n: int, workdir: Path) -> dict[str, float]:
    start = time.perf_counter()
    villages = synthetic_villages(n)
    generated = time.perf_counter() - start
    raw = len(villages.to_json().encode("utf-8"))
    geojson = simplified_geojson_bytes(villages)
    url = f"sqlite:///{workdir / f'map_{n}.db'}"
    load_district(url, villages)
    runtime = open_runtime(database_url=url)
    # Warm-up on one township: pyproj's CRS database loads once per process
    # (a web worker pays it on its first map, not on every page).
    timed_document(runtime, township_code="149901000")
    page_s, page_b, _ = timed_document(runtime, overview_threshold=10**9)
    again_s, _, _ = timed_document(runtime, overview_threshold=10**9)  # shapes memoised
    over_s, over_b, mode = timed_document(runtime)
    alone_s, alone_b = timed_standalone(runtime, overview_threshold=10**9)
    runtime.engine.dispose()
    vertices = float(shapely.get_num_coordinates(np.asarray(villages.geometry.values)).mean())
    return {
        "villages": len(villages),
        "vertices": vertices,
        "generate_s": generated,
        "raw_mb": raw / 1e6,
        "geojson_mb": geojson / 1e6,
        "document_mb": page_b / 1e6,
        "page_mb": (page_b + PAGE_ASSETS) / 1e6,
        "page_s": page_s,
        "again_s": again_s,
        "overview_mode": mode,
        "overview_s": over_s,
        "overview_mb": (over_b + PAGE_ASSETS) / 1e6,
        "standalone_mb": alone_b / 1e6,
        "standalone_s": alone_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,3000,30000", help="village counts, comma-separated")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="heating-map-bench-"))
    results = []
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            results.append(run(n, workdir))
            r = results[-1]
            print(
                f"{r['villages']:>6} villages ({r['vertices']:.0f} vertices avg): "
                f"raw GeoJSON {r['raw_mb']:.2f} MB | "
                f"simplified GeoJSON {r['geojson_mb']:.2f} MB | "
                f"page {r['page_mb']:.2f} MB in {r['page_s']:.2f} s (again {r['again_s']:.2f} s) "
                f"(script {r['document_mb']:.2f} MB = {r['document_mb'] / r['geojson_mb']:.0%} "
                f"of the simplified GeoJSON, {r['document_mb'] / r['raw_mb']:.1%} of raw) | "
                f"standalone {r['standalone_mb']:.2f} MB in {r['standalone_s']:.2f} s | "
                f"default page ({r['overview_mode']}) {r['overview_mb']:.2f} MB "
                f"in {r['overview_s']:.2f} s",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"load average at the end: {' / '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for r in results:
        if 2500 <= r["villages"] <= 3500:
            ok = r["page_mb"] <= 2.5 and r["page_s"] <= 1
            print(
                f"goal 3,000 villages ≤ 2.5 MB and ≤ 1 s: {r['page_mb']:.2f} MB, "
                f"{r['page_s']:.2f} s → {'met' if ok else 'NOT met'}"
            )
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
