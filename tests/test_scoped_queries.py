"""PostgreSQL at city scale: the pages' scoped queries use indexes, not sequential scans.

A generated district of 1,000 villages and 200,000 households (about
420,000 history rows) is written with set-based SQL, then ANALYZE; the
pages a planner opens for one township and one village (and the as-of
coverage of one township, which reads the history's deltas) run through the
real app while every statement is recorded, and each statement touching
households or their history is EXPLAINed with its own parameters.  A
sequential scan of ``households`` or ``household_versions`` fails the test:
at city scale (a million households) it would read every household for one
township's page.  District-wide aggregates are not opened here (they may scan).

Skipped on SQLite, which has no cost-based choice of this kind to check.
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from sqlalchemy import event, text

from tests.support.city_scale import DISTRICT, generate_city_scale

pytestmark = pytest.mark.skipif(
    not os.environ.get("HEATING_TEST_DATABASE_URL", "").strip(),
    reason="needs PostgreSQL (HEATING_TEST_DATABASE_URL)",
)

WATCHED = ("households", "household_versions")


def record_statements(engine: Any) -> list[tuple[str, Any]]:
    """Start recording every statement sent to ``engine``; return the (live) list."""
    recorded: list[tuple[str, Any]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if not executemany:
            recorded.append((statement, parameters))

    return recorded


def sequential_scans(plan: dict[str, Any]) -> list[str]:
    """Relations of ``WATCHED`` read by a Seq Scan anywhere in an EXPLAIN (FORMAT JSON) plan."""
    found = []
    if plan.get("Node Type") == "Seq Scan" and plan.get("Relation Name") in WATCHED:
        found.append(plan["Relation Name"])
    for child in plan.get("Plans", []):
        found.extend(sequential_scans(child))
    return found


@pytest.mark.slow  # 200,000 households written and analysed: the size is the point
def test_pages_scoped_to_a_township_or_village_use_indexes(runtime, login) -> None:
    generate_city_scale(runtime)
    with runtime.engine.connect() as conn:
        households = conn.scalar(text("SELECT count(*) FROM households"))
        versions = conn.scalar(text("SELECT count(*) FROM household_versions"))
    assert households >= 200_000 and versions >= 400_000
    township = f"{DISTRICT}005"
    village = f"{township}017"

    client = login("dave")  # a planner: every township, every page below
    recorded = record_statements(runtime.engine)
    pages = [
        f"/villages?township={township}",
        f"/villages/{village}",
        f"/villages/{village}?page=3",
        f"/api/coverage?by=village&township={township}&as_of=2021-10-31",
        f"/api/coverage?by=village&township={township}&as_of=2020-12-31",
    ]
    for page in pages:
        resp = client.get(page)
        assert resp.status_code == 200, (page, resp.get_data(as_text=True)[:500])
    # The figures are right too: as of 2020-12-31 every household was pending and two
    # were still in the district's first village; as of 2021-10-31 six in ten were clean.
    for day, rows, clean in (("2020-12-31", 198, 0), ("2021-10-31", 200, 120)):
        api = client.get(f"/api/coverage?by=village&township={township}&as_of={day}").get_json()
        row = next(r for r in api if r["key"] == village)
        assert (row["ledger_rows"], row["clean"]) == (rows, clean)

    watched = [
        (sql, params)
        for sql, params in recorded
        if sql.lstrip().upper().startswith(("SELECT", "WITH"))
        and any(f" {name} " in f" {sql} ".replace("\n", " ") for name in WATCHED)
    ]
    assert len(watched) >= 8, "the pages no longer read households? check what is recorded"
    failures = []
    seen = set()
    with runtime.engine.connect() as conn:
        for sql, params in watched:
            if sql in seen:
                continue
            seen.add(sql)
            plan = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params).scalar()
            plan = plan if isinstance(plan, list) else json.loads(plan)
            scans = sequential_scans(plan[0]["Plan"])
            if scans:
                failures.append(
                    f"Seq Scan on {', '.join(scans)}:\n{sql}\n{json.dumps(plan)[:1500]}"
                )
    assert not failures, "\n\n".join(failures)
