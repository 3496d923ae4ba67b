"""Benchmark: what the first clicks after a clerk's commit cost, with a data version per district.

On a database holding ``heating demo --city`` (e.g. the one ``benchmarks/load.py``
loaded), logged in as the demo's planner through the real app (Flask's test
client), every page below is read until its figures are kept.  Then, in turns,
a commit writes one household of the district with usage evidence (屯留区)
either as a ledger commit does now — declaring its district
(``heating.data_version.writes_districts``), so only that district's version
changes — or as every commit did before: the installation's version.  After
each commit each page is clicked once, and its app CPU (``time.process_time``)
and wall time are taken.  Both kinds run in the same process, alternating,
so the ratio holds on a noisy machine.  A third kind (``dated``) is a ledger
commit as it is now: its district declared and its ledger date too
(``writes_dated``, after the date the as-of page asks for), so figures as of
that earlier date stay kept.  The database is left as it was but for the
data version rows (the written household keeps its values).

Usage::

    HEATING_ENCRYPTION_KEY_FILE=/tmp/loadwork/heating_load.key \\
        python benchmarks/district_versions.py --db postgresql+psycopg://postgres@127.0.0.1/heating_load
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from heating import data_version  # noqa: E402
from heating.runtime import open_runtime  # noqa: E402
from heating.web import create_app  # noqa: E402
from tests.support import log_in  # noqa: E402

DEMO_PASSWORD = "demo-2021-tunliu"
ROUNDS = 3
KINDS = ("dated", "district", "installation")
AS_OF = "2020-12-31"  # what benchmarks/load.py's "api township as of" asks
LEDGER_DATE = date(2022, 10, 31)  # the date of a commit of this winter's ledger


def places(runtime) -> dict[str, str]:
    """The district with evidence, one of its townships, and a township of another district."""
    with runtime.session() as s:
        evidence = s.scalar(
            text(
                "SELECT d.code FROM districts d JOIN townships t ON t.district_id = d.id "
                "JOIN villages v ON v.township_id = t.id JOIN households h ON h.village_id = v.id "
                "WHERE h.power_account IS NOT NULL OR h.gas_account IS NOT NULL LIMIT 1"
            )
        )

        def first(sql: str, **params: str) -> str:
            return s.scalar(text(sql), params)

        township = first(
            "SELECT t.code FROM townships t JOIN districts d ON d.id = t.district_id "
            "WHERE d.code = :d ORDER BY t.code LIMIT 1",
            d=evidence,
        )
        other = first(
            "SELECT code FROM districts WHERE code <> :d ORDER BY code LIMIT 1", d=evidence
        )
        other_township = first(
            "SELECT t.code FROM townships t JOIN districts d ON d.id = t.district_id "
            "WHERE d.code = :d ORDER BY t.code LIMIT 1",
            d=other,
        )
        other_village = first(
            "SELECT v.code FROM villages v JOIN townships t ON t.id = v.township_id "
            "WHERE t.code = :t ORDER BY v.code LIMIT 1",
            t=other_township,
        )
        household = s.scalar(
            text(
                "SELECT h.id FROM households h JOIN villages v ON v.id = h.village_id "
                "JOIN townships t ON t.id = v.township_id WHERE t.code = :t LIMIT 1"
            ),
            {"t": township},
        )
    return {
        "evidence": evidence,
        "township": township,
        "other": other,
        "other_township": other_township,
        "other_village": other_village,
        "household": str(household),
    }


def commit_one(runtime, where: dict[str, str], kind: str) -> None:
    """A commit that writes one household of the evidence district (its values unchanged)."""
    with runtime.session() as s:
        if kind in ("district", "dated"):
            data_version.writes_districts(s.connection(), [where["evidence"]])
        if kind == "dated":
            data_version.writes_dated(s.connection(), LEDGER_DATE)
        s.execute(
            text("UPDATE households SET status = status WHERE id = :id"),
            {"id": int(where["household"])},
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database holding heating demo --city")
    args = parser.parse_args()
    runtime = open_runtime(database_url=args.db)
    where = places(runtime)
    client = create_app(runtime=runtime).test_client()
    assert log_in(client, "planner", DEMO_PASSWORD).status_code == 302
    pages = {
        "dashboard, whole city": "/",
        "dashboard, another district": f"/?district={where['other']}",
        "village list, another district": f"/villages?township={where['other_township']}",
        "village page, another district": f"/villages/{where['other_village']}",
        "api township, another district": f"/api/coverage?by=village&township={where['other_township']}",
        "api township, 屯留区 (written)": f"/api/coverage?by=village&township={where['township']}",
        f"api township as of {AS_OF}, 屯留区": (
            f"/api/coverage?by=village&township={where['township']}&as_of={AS_OF}"
        ),
    }
    print(
        f"load average {os.getloadavg()[0]:.1f}; written: district {where['evidence']} "
        f"(township {where['township']}); another district {where['other']}"
    )
    for path in pages.values():  # keep every page's figures
        assert client.get(path).status_code == 200, path
    cpu: dict[tuple[str, str], list[float]] = {}
    wall: dict[tuple[str, str], list[float]] = {}
    for _ in range(ROUNDS):
        for kind in KINDS:
            commit_one(runtime, where, kind)
            for label, path in pages.items():
                c, w = time.process_time(), time.perf_counter()
                assert client.get(path).status_code == 200, path
                cpu.setdefault((label, kind), []).append(time.process_time() - c)
                wall.setdefault((label, kind), []).append(time.perf_counter() - w)
    print(
        f"{'first click after the commit':<40} {'dated':>9} {'district':>9} "
        f"{'installation':>12}   (app CPU, median of {ROUNDS}; wall)"
    )
    for label in pages:
        mid = [statistics.median(cpu[(label, kind)]) * 1000 for kind in KINDS]
        walls = [statistics.median(wall[(label, kind)]) * 1000 for kind in KINDS]
        print(
            f"{label:<40} {mid[0]:6.0f} ms {mid[1]:6.0f} ms {mid[2]:9.0f} ms   "
            f"wall {' / '.join(f'{w:.0f}' for w in walls)} ms"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
