"""Benchmark: what the second worker's first clicks after a commit cost, figures shared or not.

On a database holding ``heating demo --city`` (e.g. the one ``benchmarks/load.py``
loaded), two apps stand in for two gunicorn workers (each its own engine, so its
own kept figures), logged in as the demo's planner through Flask's test client.
In each round a commit writes one household of the district with usage evidence
(屯留区, as a ledger commit does: its district's data version changes); then worker
A clicks the district's pages (it computes their figures) and worker B clicks the
same pages.  Rounds alternate between figures shared through the database
(``heating.shared_figures``, B reads what A stored) and kept per process only (B
computes again, as before).  App CPU (``time.process_time``, both workers run in this
process, one after the other) and wall time per click; both kinds in the same run,
so the ratio holds on a noisy machine.  The database is left as it was but for the
data version rows and the ``kept_figures`` table.

Usage::

    HEATING_ENCRYPTION_KEY_FILE=/tmp/loadwork/heating_load.key \\
        python benchmarks/shared_figures.py --db postgresql+psycopg://postgres@127.0.0.1/heating_load
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.district_versions import DEMO_PASSWORD, commit_one, places  # noqa: E402
from heating import shared_figures  # noqa: E402
from heating.runtime import open_runtime  # noqa: E402
from heating.web import create_app  # noqa: E402
from tests.support import log_in  # noqa: E402

ROUNDS = 3
KINDS = ("shared", "per process")


def worker(url: str):
    """An app of its own engine (one gunicorn worker), logged in as the planner."""
    runtime = open_runtime(database_url=url)
    client = create_app(runtime=runtime).test_client()
    assert log_in(client, "planner", DEMO_PASSWORD).status_code == 302
    return runtime, client


def click(client, path: str) -> tuple[float, float]:
    c, w = time.process_time(), time.perf_counter()
    assert client.get(path).status_code == 200, path
    return time.process_time() - c, time.perf_counter() - w


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="a database holding heating demo --city")
    args = parser.parse_args()
    (one, first), (two, second) = worker(args.db), worker(args.db)
    where = places(one)
    pages = {
        "dashboard of 屯留区": f"/?district={where['evidence']}",
        "village list, a 屯留区 township": f"/villages?township={where['township']}",
        "api township, 屯留区": f"/api/coverage?by=village&township={where['township']}",
    }
    print(f"load average {os.getloadavg()[0]:.1f}; district {where['evidence']}")
    for path in pages.values():  # warm both (imports, templates, other districts' figures)
        click(first, path)
        click(second, path)
    taken: dict[tuple[str, str, str], list[tuple[float, float]]] = {}
    for _ in range(ROUNDS):
        for kind in KINDS:
            for runtime in (one, two):
                shared_figures.share_between_processes(runtime.engine, kind == "shared")
            commit_one(one, where, "district")
            for label, path in pages.items():
                taken.setdefault((label, kind, "A"), []).append(click(first, path))
                taken.setdefault((label, kind, "B"), []).append(click(second, path))

    def median(label: str, kind: str, who: str, part: int) -> float:
        return statistics.median(t[part] for t in taken[(label, kind, who)]) * 1000

    print(
        f"{'first click after a commit':<32} {'A shared':>9} {'A alone':>8} "
        f"{'B shared':>9} {'B alone':>8} {'B ratio':>8}   (app CPU ms, median of {ROUNDS}; wall)"
    )
    for label in pages:
        a_s, a_p = median(label, "shared", "A", 0), median(label, "per process", "A", 0)
        b_s, b_p = median(label, "shared", "B", 0), median(label, "per process", "B", 0)
        print(
            f"{label:<32} {a_s:9.0f} {a_p:8.0f} {b_s:9.0f} {b_p:8.0f} "
            f"{b_p / b_s if b_s else float('inf'):7.1f}×   wall B "
            f"{median(label, 'shared', 'B', 1):.0f} / {median(label, 'per process', 'B', 1):.0f} ms"
        )
    total_shared = sum(median(label, "shared", who, 0) for label in pages for who in ("A", "B"))
    total_alone = sum(median(label, "per process", who, 0) for label in pages for who in ("A", "B"))
    print(
        f"both workers, every page: {total_shared:.0f} ms shared, {total_alone:.0f} ms alone "
        f"({total_alone / total_shared:.2f}×)"
    )
    print(f"load average {os.getloadavg()[0]:.1f} at end")


if __name__ == "__main__":
    main()
