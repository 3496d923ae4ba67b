"""Benchmark: the annual report's generation time against computing its measures alone.

For the demo district (``heating.demo``, loaded into a temporary SQLite
database) and for a generated district of 3,000 villages (households from
``benchmarks/coverage.py``'s generator, plus grid boundaries so the map
picture is drawn), times in the same run:

- ``measures``: what the report needs from ``heating.measures`` alone —
  coverage by village, township and category as of the cut-off, by township
  as of the previous cut-off, and the inconsistencies;
- ``report``: ``heating.report.build_report`` (snapshot + picture + workbook),
  with its parts.

Goals (issue 7): the demo district's report ≤ 5 s; 3,000 villages ≤ 30 s.

Usage::

    python benchmarks/report.py                 # demo and 3,000 villages
    python benchmarks/report.py --only generated --villages 300 --per-village 50
    python benchmarks/report.py --only generated \
        --db postgresql+psycopg://postgres@127.0.0.1:5432/heating_bench   # emptied first
"""

from __future__ import annotations

import argparse
import io
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from shapely.geometry import box
from sqlalchemy import bindparam

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heating.db import make_engine, upgrade  # noqa: E402
from heating.runtime import Runtime, open_runtime  # noqa: E402

YEAR = 2021
AS_OF = date(2021, 10, 31)
PREVIOUS = date(2020, 10, 31)
GRID_COLUMNS = 60
CELL_DEGREES = 0.01


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def new_database(folder: Path, name: str) -> str:
    url = f"sqlite:///{folder / name}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def load_demo_district(folder: Path) -> str:
    from heating.demo import load_demo
    from heating.keys import ensure_key

    url = new_database(folder, "demo.db")
    # The demo writes sealed ID numbers and files: a key of its own in the temporary folder.
    os.environ["HEATING_ENCRYPTION_KEY_FILE"] = str(folder / "demo.key")
    runtime = open_runtime(database_url=url)
    ensure_key(runtime.config)
    seconds, summary = timed(lambda: _load_demo(runtime, load_demo))
    print(f"demo district loaded: {summary.villages} villages, {summary.households:,} households "
          f"in {seconds:.1f} s")  # fmt: skip
    runtime.engine.dispose()
    return url


def _load_demo(runtime: Runtime, load_demo: Callable[..., Any]) -> Any:
    with runtime.session() as session:
        return load_demo(session, runtime.config.profile)


def load_generated_district(folder: Path, villages: int, per_village: int) -> str:
    import coverage as generator  # benchmarks/coverage.py: the shared household generator

    url = new_database(folder, f"generated-{villages}.db")
    path = Path(url.removeprefix("sqlite:///"))
    seconds, households = timed(lambda: generator.load_sqlite(path, villages, per_village))
    con = sqlite3.connect(path)
    with con:
        con.executemany(
            "UPDATE villages SET geometry = ? WHERE id = ?",
            [(_cell(i).wkb, i + 1) for i in range(villages)],
        )
    con.close()
    print(f"generated district loaded: {villages:,} villages, {households:,} households "
          f"in {seconds:.1f} s")  # fmt: skip
    return url


def load_generated_postgres(url: str, villages: int, per_village: int) -> str:
    """The generated district in a dedicated PostgreSQL database (emptied first)."""
    import coverage as generator
    from sqlalchemy import update

    from heating.models import Village

    generator.empty_postgres(url)
    seconds, households = timed(lambda: generator.load_postgres(url, villages, per_village))
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            update(Village).where(Village.id == bindparam("vid")).values(geometry=bindparam("g")),
            [{"vid": i + 1, "g": _cell(i).wkb} for i in range(villages)],
        )
    engine.dispose()
    print(f"generated district loaded into PostgreSQL: {villages:,} villages, "
          f"{households:,} households in {seconds:.1f} s")  # fmt: skip
    return url


def _cell(i: int) -> Any:
    """Village i's boundary: a cell of a grid of touching squares near 112.9°E, 36.3°N."""
    x = 112.5 + (i % GRID_COLUMNS) * CELL_DEGREES
    y = 36.0 + (i // GRID_COLUMNS) * CELL_DEGREES
    return box(x, y, x + CELL_DEGREES, y + CELL_DEGREES)


def measures_alone(runtime: Runtime) -> float:
    from heating.inconsistencies import inconsistencies
    from heating.measures import coverage

    profile = runtime.config.profile

    def run() -> None:
        with runtime.session() as s:
            for by in ("village", "township", "category"):
                coverage(s, profile, by, as_of=AS_OF)
            coverage(s, profile, "township", as_of=PREVIOUS)
            inconsistencies(s, as_of=AS_OF, profile=profile)

    return timed(run)[0]


def report_parts(runtime: Runtime) -> dict[str, float]:
    from heating.report import write_workbook
    from heating.report.picture import coverage_map_png
    from heating.report.snapshot import take_snapshot

    parts: dict[str, float] = {}
    with runtime.session() as s:
        parts["snapshot"], snap = timed(lambda: take_snapshot(s, runtime.config, YEAR))
        parts["picture"], png = timed(lambda: coverage_map_png(s, snap))
        parts["workbook"], _ = timed(lambda: write_workbook(snap, png, io.BytesIO()))
    parts["report"] = sum(parts.values())
    parts["merge_cells"], parts["merge"] = workbook_by_merge(snap, png)
    return parts


def workbook_by_merge(snap: Any, png: bytes | None) -> tuple[float, float]:
    """The workbook's CPU, best of three alternating, with openpyxl's ``merge_cells`` and with ours.

    ``heating.report.workbook.merge`` writes the same bytes (``tests/test_report_merge.py``);
    this is the figure that keeps it.
    """
    import heating.report.sheets.cover as cover
    import heating.report.sheets.signoff_states as states
    import heating.report.workbook as layout
    from heating.report import write_workbook

    ours = layout.merge

    def openpyxl_merge(ws: Any, min_row: int, min_col: int, max_row: int, max_col: int) -> None:
        ws.merge_cells(start_row=min_row, start_column=min_col, end_row=max_row, end_column=max_col)

    best = {"merge_cells": float("inf"), "merge": float("inf")}
    try:
        for _ in range(3):
            for name, fn in (("merge_cells", openpyxl_merge), ("merge", ours)):
                layout.merge = cover.merge = states.merge = fn
                start = time.process_time()
                write_workbook(snap, png, io.BytesIO())
                best[name] = min(best[name], time.process_time() - start)
    finally:
        layout.merge = cover.merge = states.merge = ours
    return best["merge_cells"], best["merge"]


def report_total(runtime: Runtime) -> tuple[float, int]:
    from heating.report import build_report

    def run() -> int:
        with runtime.session() as s:
            return len(build_report(s, runtime.config, YEAR).content)

    return timed(run)


def bench(label: str, url: str, goal: float) -> dict[str, Any]:
    runtime = open_runtime(database_url=url)
    report_total(runtime)  # warm-up: imports, font registration, SQLite page cache
    measures = measures_alone(runtime)
    parts = report_parts(runtime)
    total, size = report_total(runtime)
    runtime.engine.dispose()
    verdict = "meets" if total <= goal else "MISSES"
    print(
        f"{label}: report {total:.2f} s ({size / 1024:.0f} KiB; snapshot {parts['snapshot']:.2f} s, "
        f"picture {parts['picture']:.2f} s, workbook {parts['workbook']:.2f} s) · "
        f"measures alone {measures:.2f} s · report/measures {total / measures:.1f}× · "
        f"goal ≤ {goal:.0f} s: {verdict}"
    )
    print(
        f"{label}: workbook CPU with openpyxl's merge_cells {parts['merge_cells']:.2f} s, "
        f"with heating's merge {parts['merge']:.2f} s "
        f"({parts['merge_cells'] / parts['merge']:.2f}×)"
    )
    return {"label": label, "report": total, "measures": measures, **parts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("demo", "generated"), help="run one dataset only")
    parser.add_argument("--villages", type=int, default=3000, help="generated district size")
    parser.add_argument("--per-village", type=int, default=150, help="households per village")
    parser.add_argument(
        "--db", help="also run the generated district on this dedicated PostgreSQL database"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="heating-report-bench-") as folder:
        tmp = Path(folder)
        if args.only in (None, "demo"):
            bench("demo district", load_demo_district(tmp), goal=5)
        if args.only in (None, "generated"):
            url = load_generated_district(tmp, args.villages, args.per_village)
            bench(f"generated {args.villages:,} villages", url, goal=30)
            if args.db:
                url = load_generated_postgres(args.db, args.villages, args.per_village)
                bench(f"generated {args.villages:,} villages, PostgreSQL", url, goal=30)


if __name__ == "__main__":
    main()
