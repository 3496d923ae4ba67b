"""Benchmark: coverage by village, now, as of a date and as known at a time.

Generates districts of 300, 3,000 and 30,000 villages with about 200
households each (6 million at 30,000), each household with three history
versions over three ledger dates (2019-10-31, 2020-10-31, 2021-10-31; about
8% of households have their last version in a later ledger dated 2021-12-20,
and about 30% of townships back-filled their 2019 ledger after the 2020
one), then times in the same run:

- ``bare``: the per-village GROUP BY over ``households`` through the raw
  DB-API cursor — the least any implementation must do;
- ``coverage``: ``heating.measures.coverage(by="village")`` (current state);
- ``as_of``: the same as of 2021-10-31 (by ledger date);
- ``known_at``: the same as known at 2021-12-01 (before the 2021-12-20
  ledger was recorded).

Goals: coverage by village for 30,000 villages / 6 million households in
≤ 10 s (issue 4); as-of coverage ≤ 1.5 × the current coverage of the same
run, on SQLite and on PostgreSQL (issue 10).

Usage::

    python benchmarks/coverage.py --sizes 300,3000
    python benchmarks/coverage.py --sizes 30000 --db postgresql+psycopg://postgres@127.0.0.1/heating_bench

SQLite databases are built in a temporary directory (removed afterwards
unless ``--keep``).  A PostgreSQL database is emptied first, so it must be a
dedicated one: the script refuses a database holding any other district.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from heating.db import make_engine, upgrade
from heating.measures import coverage
from heating.models import Base
from heating.profile import DEFAULT_PROFILE
from heating.runtime import open_runtime

DISTRICT_CODE = "990100"  # not a real district: marks the benchmark's own data
DISTRICT_NAME = "基准测试区"
VILLAGES_PER_TOWNSHIP = 100
AS_OF = date(2021, 10, 31)
KNOWN_AT = datetime(2021, 12, 1)
LEDGERS = (date(2019, 10, 31), date(2020, 10, 31), date(2021, 10, 31), date(2021, 12, 20))
LATE_SHARE = 0.08  # households whose last version is in the 2021-12-20 ledger
BACKFILL_SHARE = 0.3  # townships that recorded their 2019 ledger after the 2020 one
CATEGORIES = ["city_core"] * 1 + ["county_core"] * 1 + ["fringe"] * 2 + ["rural"] * 16
STATUS_WEIGHTS = {
    "completed": 55,
    "accepted": 25,
    "pending": 6,
    "planned": 5,
    "in_progress": 5,
    "exempt": 4,
}
BARE_SQL = (
    "SELECT village_id, COUNT(*),"
    " SUM(CASE WHEN status = 'exempt' THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN status IN ('completed', 'accepted') THEN 1 ELSE 0 END),"
    " SUM(CASE WHEN status IN ('completed', 'accepted')"
    " AND operation IN ('coal_again', 'abandoned') THEN 1 ELSE 0 END)"
    " FROM households WHERE active = {true} GROUP BY village_id"
)

HOUSEHOLD_COLUMNS = ("id", "village_id", "key", "key_kind", "active", "head_name", "status")
HOUSEHOLD_COLUMNS += ("operation", "updated_at", "ledger_date")
VERSION_COLUMNS = ("id", "household_id", "ledger_date", "recorded_at", "change", "village_id")
VERSION_COLUMNS += ("active", "status", "operation", "prev_village_id", "prev_status")
VERSION_COLUMNS += ("prev_operation", "after")


# --------------------------------------------------------------------------
# Generated district
# --------------------------------------------------------------------------


def places(villages: int) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """District, township and village rows for a district of ``villages`` villages."""
    rng = random.Random(villages)
    district = [(1, DISTRICT_CODE, DISTRICT_NAME, f"{DISTRICT_CODE}001")]
    townships, village_rows = [], []
    for t in range((villages + VILLAGES_PER_TOWNSHIP - 1) // VILLAGES_PER_TOWNSHIP):
        tcode = f"{DISTRICT_CODE}{t + 1:03d}"
        townships.append((t + 1, tcode, f"测试{t + 1}镇", 1, t == 0))
        for v in range(min(VILLAGES_PER_TOWNSHIP, villages - t * VILLAGES_PER_TOWNSHIP)):
            vid = len(village_rows) + 1
            # Registry totals are set after the households (every tenth village
            # has none: its required count comes from the ledger).
            village_rows.append(
                (vid, f"{tcode}{v + 1:03d}", f"测试{vid}村", t + 1, rng.choice(CATEGORIES), None)
            )
    return district, townships, village_rows


def households(
    village_ids: list[int], per_village: int, seed: int
) -> Iterator[tuple[list[tuple], list[tuple], dict[int, int]]]:
    """Yield household rows, version rows and registry totals, one township at a time.

    Versions are written as ``heating.history`` would: in ledger order each one
    carries its predecessor's counted state (``prev_*``), whatever order the
    ledgers were recorded in.
    """
    rng = random.Random(seed)
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    hid = vid = 0
    for chunk_start in range(0, len(village_ids), VILLAGES_PER_TOWNSHIP):
        rows: list[tuple] = []
        versions: list[tuple] = []
        totals: dict[int, int] = {}
        # When this township recorded each ledger: days after its date; a back-filling
        # township recorded its 2019 ledger after its 2020 one.
        recorded = {day: datetime(day.year, day.month, day.day, 9) + timedelta(days=rng.randint(1, 25))
                    for day in LEDGERS}  # fmt: skip
        if rng.random() < BACKFILL_SHARE:
            recorded[LEDGERS[0]] = recorded[LEDGERS[1]] + timedelta(days=rng.randint(1, 20))
        for village in village_ids[chunk_start : chunk_start + VILLAGES_PER_TOWNSHIP]:
            n = rng.randint(per_village * 3 // 4, per_village * 5 // 4)
            totals[village] = n + (rng.random() < 0.2) * rng.randint(1, 5)
            for status in rng.choices(statuses, weights, k=n):
                hid += 1
                clean = status in ("completed", "accepted")
                operation = "coal_again" if clean and rng.random() < 0.02 else None
                days = LEDGERS[1:] if rng.random() < LATE_SHARE else LEDGERS[:3]
                steps = (("pending", None), ("planned", None), (status, operation))
                after = _after_json(hid, status, operation)
                prev: tuple[Any, Any, Any] = (None, None, None)
                for day, (step_status, step_op) in zip(days, steps, strict=True):
                    vid += 1
                    at = recorded[day] + timedelta(minutes=rng.randint(0, 600))
                    versions.append(
                        (vid, hid, day, at, "update" if prev[1] else "create", village, True,
                         step_status, step_op, *prev, after)
                    )  # fmt: skip
                    prev = (village, step_status, step_op)
                rows.append(
                    (hid, village, f"no:{hid}", "household_no", True, "户主", status, operation)
                    + (recorded[days[-1]], days[-1])
                )
        yield rows, versions, totals


def _after_json(hid: int, status: str, operation: str | None) -> str:
    """A history snapshot of realistic size (~350 bytes), so table scans cost what they would."""
    return json.dumps(
        {
            "household_no": str(hid),
            "head_name": "张三丰",
            "id_number": None,
            "phone": "139****0000",
            "address": "测试镇测试村幸福街一巷 12 号",
            "residents": 3,
            "status": status,
            "route": "electric",
            "device": "空气源热泵",
            "completed_on": "2020-10-15",
            "device_subsidy": "12000.00",
            "operation": operation,
            "note": None,
        },
        ensure_ascii=False,
    )


def load_sqlite(path: Path, villages: int, per_village: int) -> int:
    """Bulk-load the generated district with sqlite3 executemany; return households."""
    district, townships, village_rows = places(villages)
    con = sqlite3.connect(path)
    # A generated database can be rebuilt: no journal while loading (WAL again afterwards).
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    with con:
        con.executemany(
            "INSERT INTO districts (id, code, name, seat_township_code) VALUES (?,?,?,?)", district
        )
        con.executemany(
            "INSERT INTO townships (id, code, name, district_id, is_seat) VALUES (?,?,?,?,?)",
            townships,
        )
        con.executemany(
            "INSERT INTO villages (id, code, name, township_id, category, total_households,"
            " category_proposed, boundary_generated, updated_at)"
            " VALUES (?,?,?,?,?,?,0,0,'2021-01-01 00:00:00')",
            village_rows,
        )
        count = 0
        h_sql = _insert_sql("households", HOUSEHOLD_COLUMNS, "?")
        v_sql = _insert_sql("household_versions", VERSION_COLUMNS, "?")
        for rows, versions, totals in households([v[0] for v in village_rows], per_village, 1):
            con.executemany(h_sql, rows)
            con.executemany(v_sql, versions)
            con.executemany(
                "UPDATE villages SET total_households = ? WHERE id = ?",
                [(t, v) for v, t in totals.items() if v % 10],
            )
            count += len(rows)
    con.execute("ANALYZE")
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return count


def load_postgres(url: str, villages: int, per_village: int) -> int:
    """Bulk-load the generated district with COPY; return households."""
    import psycopg

    district, townships, village_rows = places(villages)
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo) as con, con.cursor() as cur:
        # Bulk load without per-row foreign-key triggers (the data is generated consistent).
        cur.execute("SET session_replication_role = replica")
        _copy(cur, "districts", ("id", "code", "name", "seat_township_code"), district)
        _copy(cur, "townships", ("id", "code", "name", "district_id", "is_seat"), townships)
        _copy(
            cur,
            "villages",
            ("id", "code", "name", "township_id", "category", "total_households")
            + ("category_proposed", "boundary_generated", "updated_at"),
            [v + (False, False, datetime(2021, 1, 1)) for v in village_rows],
        )
        count = 0
        all_totals: dict[int, int] = {}
        for rows, versions, totals in households([v[0] for v in village_rows], per_village, 1):
            _copy(cur, "households", HOUSEHOLD_COLUMNS, rows)
            _copy(cur, "household_versions", VERSION_COLUMNS, versions)
            all_totals.update((v, t) for v, t in totals.items() if v % 10)
            count += len(rows)
        cur.execute("CREATE TEMP TABLE totals (id integer, total integer)")
        _copy(cur, "totals", ("id", "total"), list(all_totals.items()))
        cur.execute(
            "UPDATE villages SET total_households = t.total FROM totals t WHERE t.id = villages.id"
        )
        for table in ("districts", "townships", "villages", "households", "household_versions"):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))"
            )
        con.commit()
        con.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return count


def _insert_sql(table: str, columns: tuple[str, ...], mark: str) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"


def _copy(cur: Any, table: str, columns: tuple[str, ...], rows: list[tuple]) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def empty_postgres(url: str) -> None:
    """Empty a dedicated PostgreSQL database, refusing one that holds real districts."""
    engine = make_engine(url)
    upgrade(engine)
    with engine.begin() as conn:
        others = conn.execute(
            text("SELECT code FROM districts WHERE code <> :code"), {"code": DISTRICT_CODE}
        ).all()
        if others:
            sys.exit(
                f"拒绝：{url} 中有其他区县（{', '.join(r[0] for r in others)}），"
                "基准测试会清空数据库，请使用专用数据库。"
            )
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


# --------------------------------------------------------------------------
# Timing
# --------------------------------------------------------------------------


def best_of(repeat: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs (the first warms the caches too)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def measure(url: str, repeat: int) -> dict[str, float]:
    """Time bare SQL, coverage now, as of AS_OF and known at KNOWN_AT; count changed shares."""
    runtime = open_runtime(database_url=url)
    true = "1" if url.startswith("sqlite") else "true"

    def bare() -> int:
        raw = runtime.engine.raw_connection()
        try:
            cur = raw.cursor()
            cur.execute(BARE_SQL.format(true=true))
            return len(cur.fetchall())
        finally:
            raw.close()

    def current() -> int:
        with runtime.session() as session:
            return len(coverage(session, DEFAULT_PROFILE, "village"))

    def as_of() -> int:
        with runtime.session() as session:
            return len(coverage(session, DEFAULT_PROFILE, "village", as_of=AS_OF))

    def known_at() -> int:
        with runtime.session() as session:
            return len(coverage(session, DEFAULT_PROFILE, "village", known_at=KNOWN_AT))

    with runtime.engine.connect() as conn:
        changed = conn.execute(
            text(
                "SELECT COUNT(DISTINCT household_id) FROM household_versions"
                " WHERE ledger_date > :day"
            ),
            {"day": AS_OF},
        ).scalar_one()
        later = conn.execute(
            text(
                "SELECT COUNT(DISTINCT household_id) FROM household_versions"
                " WHERE recorded_at > :at"
            ),
            {"at": KNOWN_AT},
        ).scalar_one()
    figures = {"changed": changed, "later": later}
    steps = (("bare", bare), ("coverage", current), ("as_of", as_of), ("known_at", known_at))
    for name, fn in steps:
        figures[name], _ = best_of(repeat, fn)
    runtime.engine.dispose()
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="300,3000,30000", help="villages per district")
    parser.add_argument("--households", type=int, default=200, help="households per village")
    parser.add_argument("--db", help="PostgreSQL URL of a dedicated database (default SQLite)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (best is kept)")
    parser.add_argument("--keep", type=Path, help="keep the SQLite files in this directory")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="heating-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    backend = "PostgreSQL" if args.db else "SQLite"
    print(f"coverage benchmark on {backend}, as of {AS_OF}, known at {KNOWN_AT}")
    print(
        f"{'villages':>9} {'households':>11} {'changed':>8} {'later':>6} {'load s':>7}"
        f" {'bare s':>7} {'coverage s':>10} {'as_of s':>8} {'ratio':>6}"
        f" {'known_at s':>10} {'ratio':>6}"
    )
    try:
        for size in sizes:
            t0 = time.perf_counter()
            if args.db:
                empty_postgres(args.db)
                count = load_postgres(args.db, size, args.households)
                url = args.db
            else:
                path = workdir / f"coverage-{size}.db"
                path.unlink(missing_ok=True)
                url = f"sqlite:///{path}"
                engine = make_engine(url)
                upgrade(engine)
                engine.dispose()
                count = load_sqlite(path, size, args.households)
            load = time.perf_counter() - t0
            # At least two runs: the first warms the caches after the load.
            f = measure(url, max(2, args.repeat if size < 30000 else 2))
            print(
                f"{size:>9,} {count:>11,} {f['changed'] / count:>8.1%} {f['later'] / count:>6.1%}"
                f" {load:>7.1f} {f['bare']:>7.2f} {f['coverage']:>10.2f}"
                f" {f['as_of']:>8.2f} {f['as_of'] / f['coverage']:>6.2f}"
                f" {f['known_at']:>10.2f} {f['known_at'] / f['coverage']:>6.2f}",
                flush=True,
            )
            if not args.db and not args.keep:
                for p in workdir.glob(f"coverage-{size}.db*"):
                    p.unlink()
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print("changed: households with a version dated after the as-of date;")
    print("later: households with a version recorded after the known-at time")
    print("ratio: time / current coverage of the same run; goal: as_of ≤ 1.5")
    print("goal (issue 4): coverage ≤ 10 s at 30,000 villages / 6,000,000 households")


if __name__ == "__main__":
    main()
