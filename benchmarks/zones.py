"""Benchmark: boundaries load and zones derive, each against a bare baseline in the same run.

Generates districts of 300, 3,000 and 30,000 villages whose boundaries form
an exact coverage: a grid of ~1.7 km cells (about 3 km², a typical village)
whose shared edges are wiggly polylines of 16 segments each, so a village
has about 64 vertices and neighbours share every vertex exactly.  Then, in
the same run:

- ``read``: a bare ``pyogrio`` read of the GeoPackage — the baseline for
- ``load``: ``geo.boundaries.load_boundaries`` (read, match by code, repair
  check, overlap/gap findings, write WKB to the database);
- ``union``: a bare ``shapely.coverage_union_all`` of the complete villages'
  polygons — the baseline for
- ``derive``: ``geo.zone_derivations.derive_zones`` (first derivation) and ``rederive``
  (a second one after 2% of villages change, with identifier inheritance).

``derive`` is given the complete set (70% of villages, random) directly:
the measures that decide completeness are benchmarked in
``benchmarks/coverage.py``.

Goal (issue 4): zones derive ≤ 3 × bare union + 1 s.

Usage::

    python benchmarks/zones.py --sizes 300,3000
    python benchmarks/zones.py --sizes 30000 --db postgresql+psycopg://postgres@127.0.0.1/heating_bench
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyogrio
import shapely
from sqlalchemy import insert, text

from geo.boundaries import load_boundaries
from geo.zone_derivations import derive_zones
from heating.db import make_engine, upgrade
from heating.models import Base, District, Township, Village
from heating.runtime import open_runtime

DISTRICT_CODE = "990200"  # not a real district: marks the benchmark's own data
CELL_DEG = 0.018  # ~1.6 km × 2.0 km at 36°N
SEGMENTS = 16  # per shared edge → ~64 vertices per village
WIGGLE = 0.2  # of a cell, tapered to zero at the corners so edges never cross
VILLAGES_PER_TOWNSHIP = 100
ORIGIN = (112.0, 35.5)


def edge(start: tuple[float, float], end: tuple[float, float], rng: random.Random) -> np.ndarray:
    """A wiggly polyline between two corners, offset across its direction."""
    t = np.linspace(0.0, 1.0, SEGMENTS + 1)
    points = np.outer(1 - t, start) + np.outer(t, end)
    offsets = np.array([rng.uniform(-WIGGLE, WIGGLE) for _ in t]) * np.sin(np.pi * t) * CELL_DEG
    vertical = start[0] == end[0]
    points[:, 0 if vertical else 1] += offsets
    return points


def generate(n: int, seed: int = 4) -> gpd.GeoDataFrame:
    """``n`` villages on a near-square grid whose edges are shared exactly."""
    rng = random.Random(seed)
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    x0, y0 = ORIGIN

    def corner(i: int, j: int) -> tuple[float, float]:
        return (x0 + i * CELL_DEG, y0 + j * CELL_DEG)

    horizontal = {
        (i, j): edge(corner(i, j), corner(i + 1, j), rng)
        for i in range(cols)
        for j in range(rows + 1)
    }
    vertical = {
        (i, j): edge(corner(i, j), corner(i, j + 1), rng)
        for i in range(cols + 1)
        for j in range(rows)
    }
    geoms, codes = [], []
    for k in range(n):
        i, j = k % cols, k // cols
        ring = np.vstack(
            [
                horizontal[(i, j)][:-1],
                vertical[(i + 1, j)][:-1],
                horizontal[(i, j + 1)][::-1][:-1],
                vertical[(i, j)][::-1],
            ]
        )
        geoms.append(shapely.Polygon(ring))
        township = k // VILLAGES_PER_TOWNSHIP
        codes.append(f"{DISTRICT_CODE}{township + 1:03d}{k % VILLAGES_PER_TOWNSHIP + 1:03d}")
    return gpd.GeoDataFrame(
        {"XZQDM": codes, "MC": [f"村{k}" for k in range(n)]}, geometry=geoms, crs="EPSG:4490"
    )


def build_registry(url: str, frame: gpd.GeoDataFrame) -> None:
    """A migrated database holding the generated villages (no boundaries yet)."""
    engine = make_engine(url)
    upgrade(engine)
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(insert(District), [{"id": 1, "code": DISTRICT_CODE, "name": "基准测试区"}])
        townships = sorted({c[:9] for c in frame.XZQDM})
        conn.execute(
            insert(Township),
            [
                {
                    "id": i + 1,
                    "code": t,
                    "name": f"测试{i + 1}镇",
                    "district_id": 1,
                    "is_seat": False,
                }
                for i, t in enumerate(townships)
            ],
        )
        ids = {t: i + 1 for i, t in enumerate(townships)}
        conn.execute(
            insert(Village),
            [
                {
                    "code": c,
                    "name": f"{m}村委会",
                    "township_id": ids[c[:9]],
                    "category": "rural",
                    "total_households": 200,
                    "category_proposed": False,
                    "boundary_generated": False,
                }
                for c, m in zip(frame.XZQDM, frame.MC, strict=True)
            ],
        )
    engine.dispose()


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def run(n: int, url: str | None, folder: Path) -> dict[str, float]:
    frame = generate(n)
    assert frame.is_valid.all() and shapely.coverage_is_valid(frame.geometry.to_numpy())
    vertices = shapely.get_num_coordinates(frame.geometry.to_numpy()).mean()
    path = folder / f"villages_{n}.gpkg"
    frame.to_file(path, engine="pyogrio")
    db_url = url or f"sqlite:///{folder / f'zones_{n}.db'}"
    build_registry(db_url, frame)
    runtime = open_runtime(database_url=db_url)

    read_s, _ = timed(lambda: pyogrio.read_dataframe(path))

    def load() -> Any:
        with runtime.session() as session:
            return load_boundaries(session, path)

    load_s, report = timed(load)
    assert report.matched == n, report.as_json()

    rng = random.Random(7)
    complete = {c for c in frame.XZQDM if rng.random() < 0.7}
    complete_geoms = frame.geometry[frame.XZQDM.isin(complete)].to_numpy()
    union_s, _ = timed(lambda: shapely.coverage_union_all(complete_geoms))

    def derive(codes: set[str]) -> Any:
        with runtime.session() as session:
            return derive_zones(
                session, runtime.config.profile, as_of=date(2021, 10, 31), complete=codes
            ).as_json()

    derive_s, first = timed(lambda: derive(complete))
    changed = set(complete)
    for code in rng.sample(sorted(frame.XZQDM), max(1, n // 50)):
        changed ^= {code}
    rederive_s, second = timed(lambda: derive(changed))
    runtime.engine.dispose()
    goal = 3 * union_s + 1
    print(
        f"{n:>6} villages ({vertices:.0f} vertices each): "
        f"read {read_s:6.2f} s  load {load_s:6.2f} s  (×{load_s / read_s:5.1f})  | "
        f"union {union_s:6.3f} s  derive {derive_s:6.2f} s  rederive {rederive_s:6.2f} s  "
        f"(goal ≤ {goal:5.2f} s: {'met' if max(derive_s, rederive_s) <= goal else 'MISSED'}; "
        f"{len(first['zones'])} → {len(second['zones'])} zones, {len(first['enclaves'])} enclaves)"
    )
    return {"read": read_s, "load": load_s, "union": union_s, "derive": derive_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,3000,30000", help="comma-separated village counts")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file per size)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="heating-zones-bench-"))
    try:
        for n in (int(s) for s in args.sizes.split(",")):
            run(n, args.db, folder)
    finally:
        if args.keep:
            print(f"files kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
