"""A generated district at city scale on PostgreSQL (200,000 households per 20 townships).

Written with set-based SQL for ``tests/test_scoped_queries.py`` and
``benchmarks/scoped_pages.py``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

DISTRICT = "990300"
TOWNSHIPS = 20
VILLAGES_PER_TOWNSHIP = 50
HOUSEHOLDS_PER_VILLAGE = 200

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


def generate_city_scale(runtime: Any, scale: int = 1) -> None:
    """Write the district (``TOWNSHIPS`` × ``scale`` townships) with set-based SQL; ANALYZE."""
    params = {
        "district": DISTRICT,
        "townships": TOWNSHIPS * scale,
        "villages": VILLAGES_PER_TOWNSHIP,
        "households": HOUSEHOLDS_PER_VILLAGE,
    }
    with runtime.engine.begin() as conn:
        for statement in GENERATE:
            conn.execute(text(statement), params)
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE districts, townships, villages, households, household_versions"))
