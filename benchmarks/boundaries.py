"""Benchmark: boundaries load against a bare pyogrio read of the same file, in the same run.

The villages are ``benchmarks/zones.py``'s: an exact tessellation of ~65-vertex
polygons (300 / 3,000 / 30,000 villages), written to a GeoPackage, with a
registry of the same codes.  For each size:

- ``read``: a bare ``pyogrio.read_dataframe`` of the file (the floor);
- ``load``: ``geo.boundaries.load_boundaries`` — read in the limited child,
  repair check, match by code, write WKB, overlap/gap findings, ANALYZE —
  with the child's fork server already running (as in the web app, which
  starts it with the server); its CPU time, parent + child;
- ``reload``: the same file loaded again (every boundary replaced).

The fork server's own start (once per process: ``heating boundaries load``
pays it, the web app pays it at start-up) is timed once, on a 10-village file.

Goal (issue 17): 30,000 villages ≤ 5 s on SQLite and PostgreSQL.

Usage::

    python benchmarks/boundaries.py --sizes 300,3000
    python benchmarks/boundaries.py --sizes 30000 --db postgresql+psycopg://postgres@127.0.0.1/heating_bench
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyogrio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.zones import build_registry, generate  # noqa: E402
from geo.boundaries import load_boundaries  # noqa: E402
from heating.runtime import open_runtime  # noqa: E402
from imports import isolation  # noqa: E402

GOAL_S = 5.0


def cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def load(url: str, path: Path) -> tuple[float, float, float]:
    """One load: wall seconds, parent CPU seconds, child CPU seconds."""
    runtime = open_runtime(database_url=url)
    start, cpu = time.perf_counter(), cpu_s()
    with runtime.session() as session:
        report = load_boundaries(session, path)
    wall, parent = time.perf_counter() - start, cpu_s() - cpu
    runtime.engine.dispose()
    assert report.features == report.matched, report.as_json()
    return wall, parent, isolation.last_child_cpu_s


def prepare(n: int, url: str | None, folder: Path) -> tuple[str, Path]:
    frame = generate(n)
    path = folder / f"villages_{n}.gpkg"
    frame.to_file(path, engine="pyogrio")
    db_url = url or f"sqlite:///{folder / f'boundaries_{n}.db'}"
    build_registry(db_url, frame)
    return db_url, path


def run(n: int, url: str | None, folder: Path) -> dict[str, Any]:
    db_url, path = prepare(n, url, folder)
    start = time.perf_counter()
    pyogrio.read_dataframe(path)
    read_s = time.perf_counter() - start
    first = load(db_url, path)
    again = load(db_url, path)
    db = "PostgreSQL" if db_url.startswith("postgresql") else "SQLite"
    print(
        f"{n:>6} villages, {db}: read {read_s:5.2f} s | load {first[0]:5.2f} s "
        f"(×{first[0] / read_s:4.1f}; CPU {first[1]:4.2f} + child {first[2]:4.2f} s) | "
        f"reload {again[0]:5.2f} s (×{again[0] / read_s:4.1f}) | "
        f"goal ≤ {GOAL_S:.0f} s: {'met' if max(first[0], again[0]) <= GOAL_S else 'MISSED'}",
        flush=True,
    )
    return {"read": read_s, "load": first[0], "reload": again[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,3000,30000", help="comma-separated village counts")
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file per size)")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="heating-boundaries-bench-"))
    try:
        print(f"load average {os.getloadavg()[0]:.1f} at start", flush=True)
        url, path = prepare(10, args.db, folder)
        start = time.perf_counter()
        load(url, path)
        print(f"fork server start + a 10-village load: {time.perf_counter() - start:.2f} s")
        for n in (int(s) for s in args.sizes.split(",")):
            run(n, args.db, folder)
        print(f"load average {os.getloadavg()[0]:.1f} at end")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
