"""Benchmark: what one request of each scoped page costs at city scale (PostgreSQL).

Generates ``tests/test_scoped_queries.py``'s district (1,000 villages, 200
households each, 420,000 history rows; ``--scale 5`` for 1,000,000 households),
runs ANALYZE, logs a planner in through the real app (Flask's test client, no
network) and times each page: one township's village list, one village's page
(households and history), one township's measures as of a date (JSON), and
for comparison the district-wide dashboard and measures.  Prints the median
wall time and the server's CPU time per request: the figures README's "limits
of one machine" reasons from.

Usage::

    python benchmarks/scoped_pages.py --db postgresql+psycopg://postgres@127.0.0.1/heating_bench

``--demo`` instead times the pages of a database that already holds ``heating
demo`` (or ``heating demo --city``, e.g. the one ``benchmarks/load.py``
loaded; SQLite or PostgreSQL, left unchanged but for the data version row),
logged in as the demo's planner, with the kept usage evidence
(``heating.evidence_cache``) emptied before each page ("cold": what the first
click after a commit costs) and then three times more ("warm": every other
click until the next commit), app CPU per request::

    HEATING_ENCRYPTION_KEY_FILE=instance/heating.key \
        python benchmarks/scoped_pages.py --demo --db sqlite:///instance/heating.db
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heating.db import ensure_meta, make_engine, upgrade  # noqa: E402
from heating.models import Base  # noqa: E402
from heating.sealing import Keyring  # noqa: E402

REPEAT = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a PostgreSQL URL (the database is emptied)")
    parser.add_argument("--scale", type=int, default=1, help="× 20 townships (200,000 households)")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the district a previous run generated"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="time the pages of a database holding heating demo: kept evidence cold vs warm",
    )
    args = parser.parse_args()
    if args.demo:
        demo_pages(args.db)
        return
    key = Path(tempfile.mkdtemp(prefix="heating-bench-key-")) / "heating.key"
    Keyring.create(key)
    os.environ["HEATING_ENCRYPTION_KEY_FILE"] = str(key)

    from heating.runtime import open_runtime
    from heating.users import create_user
    from heating.web import create_app
    from tests.support import city_scale as city
    from tests.support.web import log_in

    engine = make_engine(args.db)
    upgrade(engine)
    if not args.reuse:
        with engine.begin() as conn:
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    ensure_meta(engine)
    engine.dispose()
    runtime = open_runtime(database_url=args.db)
    start = time.perf_counter()
    if not args.reuse:
        city.generate_city_scale(runtime, scale=args.scale)
    with runtime.engine.connect() as conn:
        households = conn.scalar(text("SELECT count(*) FROM households"))
    made = "kept" if args.reuse else f"generated in {time.perf_counter() - start:.1f} s"
    print(f"load average {os.getloadavg()[0]:.1f}; {households:,} households ({made})")
    with runtime.session() as session:
        if not session.scalar(text("SELECT 1 FROM users WHERE username = 'planner1'")):
            create_user(session, "planner1", "planner", "correct-horse-1", None)
    client = create_app(runtime=runtime).test_client()
    assert log_in(client, "planner1", "correct-horse-1").status_code == 302
    township = f"{city.DISTRICT}005"
    village = f"{township}017"
    pages = {
        "township's village list": f"/villages?township={township}",
        "village page": f"/villages/{village}",
        "township as of (JSON)": f"/api/coverage?by=village&township={township}&as_of=2020-12-31",
        "dashboard (district-wide)": "/",
        "measures by township (district-wide JSON)": "/api/coverage?by=township",
    }
    for label, url in pages.items():
        walls, cpus = [], []
        for _ in range(REPEAT):
            cpu, wall = time.process_time(), time.perf_counter()
            resp = client.get(url)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert resp.status_code == 200, (url, resp.status_code)
        print(
            f"{label:<44} median {statistics.median(walls) * 1000:7.0f} ms wall, "
            f"{statistics.median(cpus) * 1000:6.0f} ms app CPU"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


DEMO_PASSWORD = "demo-2021-tunliu"


def demo_pages(url: str) -> None:
    """Each page of the demo (district or city) cold and warm: app CPU per request."""
    from heating import evidence_cache
    from heating.runtime import open_runtime
    from heating.web import create_app
    from tests.support import log_in

    engine = make_engine(url)
    ensure_meta(engine)  # the data version row, for a demo loaded before it existed
    engine.dispose()
    runtime = open_runtime(database_url=url)
    with runtime.session() as session:
        district = session.scalar(
            text(
                "SELECT d.code FROM districts d JOIN townships t ON t.district_id = d.id "
                "JOIN villages v ON v.township_id = t.id JOIN households h ON h.village_id = v.id "
                "WHERE h.power_account IS NOT NULL OR h.gas_account IS NOT NULL LIMIT 1"
            )
        )
        township = session.scalar(
            text(
                "SELECT t.code FROM townships t JOIN districts d ON d.id = t.district_id "
                "WHERE d.code = :d ORDER BY t.code LIMIT 1"
            ),
            {"d": district},
        )
        village = session.scalar(
            text(
                "SELECT v.code FROM villages v JOIN townships t ON t.id = v.township_id "
                "WHERE t.code = :t ORDER BY v.code LIMIT 1"
            ),
            {"t": township},
        )
        districts = session.scalar(text("SELECT count(*) FROM districts"))
    client = create_app(runtime=runtime).test_client()
    assert log_in(client, "planner", DEMO_PASSWORD).status_code == 302
    scope = f"district={district}" if districts > 1 else ""
    pages = {
        "dashboard": f"/?{scope}",
        "village list (all)": f"/villages?{scope}",
        "village list (township)": f"/villages?township={township}",
        "village page": f"/villages/{village}",
        "用量核验 /usage": f"/usage?{scope}",
        "趋势 /trend": f"/trend?{scope}",
        "township map script": f"/map/script.js?township={township}",
        "api coverage by township": f"/api/coverage?by=township&{scope}",
        "api coverage of a township": f"/api/coverage?by=village&township={township}",
        "api township as of": f"/api/coverage?by=village&township={township}&as_of=2021-10-31",
        "api villages.geojson": f"/api/villages.geojson?township={township}",
    }
    print(
        f"load average {os.getloadavg()[0]:.1f}; district with usage evidence {district}, "
        f"township {township}, village {village}"
    )
    print(f"{'page':<28} {'cold CPU':>9} {'warm CPU':>9} {'warm wall':>10}")
    for label, url_path in pages.items():
        with runtime.session() as session:
            evidence_cache.clear(session)
        cpu = time.process_time()
        assert client.get(url_path).status_code == 200, url_path
        cold = time.process_time() - cpu
        cpus, walls = [], []
        for _ in range(3):
            cpu, wall = time.process_time(), time.perf_counter()
            assert client.get(url_path).status_code == 200, url_path
            cpus.append(time.process_time() - cpu)
            walls.append(time.perf_counter() - wall)
        print(
            f"{label:<28} {cold * 1000:7.0f}ms {statistics.median(cpus) * 1000:7.0f}ms "
            f"{statistics.median(walls) * 1000:8.0f}ms"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
