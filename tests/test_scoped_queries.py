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

pytestmark = pytest.mark.skipif(
    not os.environ.get("HEATING_TEST_DATABASE_URL", "").strip(),
    reason="needs PostgreSQL (HEATING_TEST_DATABASE_URL)",
)

DISTRICT = "990300"
TOWNSHIPS = 20
VILLAGES_PER_TOWNSHIP = 50
HOUSEHOLDS_PER_VILLAGE = 200
WATCHED = ("households", "household_versions")

# Set-based generation: every household has a version dated 2020-10-31 and one
# dated 2021-10-31; one in ten a third dated 2021-12-20; one in a hundred moved
# into its village (from the district's first village) with its 2021 version.
GENERATE = [
    """
    INSERT INTO districts (code, name) VALUES (:district, '生成测试区')
    """,
    """
    INSERT INTO townships (code, name, district_id, is_seat)
    SELECT :district || lpad(t::text, 3, '0'), '生成' || t || '镇', d.id, false
    FROM districts d, generate_series(1, :townships) AS t WHERE d.code = :district
    """,
    """
    INSERT INTO villages (code, name, township_id, category, category_proposed,
                          total_households, boundary_generated, updated_at)
    SELECT t.code || lpad(v::text, 3, '0'), '生成' || v || '村委会', t.id, 'rural', false,
           :households, false, now()
    FROM townships t, generate_series(1, :villages) AS v
    WHERE t.code LIKE :district || '%'
    """,
    """
    INSERT INTO households (village_id, key, key_kind, active, household_no, head_name,
                            status, operation, updated_at, ledger_date)
    SELECT v.id, 'no:' || n, 'household_no', true, n::text, '户主' || n,
           CASE WHEN n % 10 = 0 THEN 'completed' WHEN n % 10 < 7 THEN 'completed'
                WHEN n % 10 = 7 THEN 'exempt' ELSE 'pending' END,
           CASE WHEN n % 10 < 7 THEN 'normal' END,
           now(),
           CASE WHEN n % 10 = 0 THEN DATE '2021-12-20' ELSE DATE '2021-10-31' END
    FROM villages v, generate_series(1, :households) AS n
    WHERE v.code LIKE :district || '%'
    """,
    # 2020: every household pending (one in a hundred then in the village before).
    """
    WITH first_village AS (SELECT min(id) AS id FROM villages WHERE code LIKE :district || '%')
    INSERT INTO household_versions (household_id, ledger_date, recorded_at, change,
                                    village_id, active, status)
    SELECT h.id, DATE '2020-10-31', TIMESTAMP '2020-11-02 09:00', 'create',
           CASE WHEN h.household_no::int % 100 = 1 THEN f.id ELSE h.village_id END,
           true, 'pending'
    FROM households h JOIN villages v ON v.id = h.village_id, first_village f
    WHERE v.code LIKE :district || '%'
    """,
    """
    WITH first_village AS (SELECT min(id) AS id FROM villages WHERE code LIKE :district || '%')
    INSERT INTO household_versions (household_id, ledger_date, recorded_at, change,
                                    village_id, active, status, operation,
                                    prev_village_id, prev_status, prev_operation)
    SELECT h.id, DATE '2021-10-31', TIMESTAMP '2021-11-02 09:00', 'update', h.village_id, true,
           CASE WHEN h.household_no::int % 10 = 0 THEN 'pending' ELSE h.status END,
           CASE WHEN h.household_no::int % 10 = 0 THEN NULL ELSE h.operation END,
           CASE WHEN h.household_no::int % 100 = 1 THEN f.id ELSE h.village_id END,
           'pending', NULL
    FROM households h JOIN villages v ON v.id = h.village_id, first_village f
    WHERE v.code LIKE :district || '%'
    """,
    """
    INSERT INTO household_versions (household_id, ledger_date, recorded_at, change,
                                    village_id, active, status, operation,
                                    prev_village_id, prev_status, prev_operation)
    SELECT h.id, DATE '2021-12-20', TIMESTAMP '2021-12-21 09:00', 'update', h.village_id, true,
           h.status, h.operation, h.village_id, 'pending', NULL
    FROM households h JOIN villages v ON v.id = h.village_id
    WHERE v.code LIKE :district || '%' AND h.household_no::int % 10 = 0
    """,
]


def generate_city_scale(runtime: Any) -> None:
    params = {
        "district": DISTRICT,
        "townships": TOWNSHIPS,
        "villages": VILLAGES_PER_TOWNSHIP,
        "households": HOUSEHOLDS_PER_VILLAGE,
    }
    with runtime.engine.begin() as conn:
        for statement in GENERATE:
            conn.execute(text(statement), params)
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE districts, townships, villages, households, household_versions"))


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
