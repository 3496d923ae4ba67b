"""The database in production shape: pool settings, writers that take turns, fresh statistics.

The concurrency tests run on SQLite and PostgreSQL alike (``heating.locks``:
SQLite's write lock, PostgreSQL's advisory locks); the statistics test needs
PostgreSQL.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select, text

from geo.zone_derivations import derive_zones
from heating.config import ConfigError, load_config
from heating.models import ImportBatch, Village
from heating.runtime import open_runtime
from imports.batches import preview
from imports.commit import commit
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.ledgers import ledger_xlsx

PG = bool(os.environ.get("HEATING_TEST_DATABASE_URL", "").strip())
HEADER = ["村", "户号", "户主姓名", "身份证号", "联系电话", "改造状态", "改造方式", "完工日期"]


def test_pool_settings_come_from_the_environment_like_every_setting(tmp_path) -> None:
    env = {
        "HEATING_DATABASE_URL": "postgresql://heating@db.invalid/heating",
        "HEATING_DB_POOL_SIZE": "12",
        "HEATING_DB_MAX_OVERFLOW": "3",
        "HEATING_DB_POOL_TIMEOUT": "7",
        "HEATING_DB_POOL_RECYCLE": "0",
        "HEATING_ENCRYPTION_KEY_FILE": str(tmp_path / "none.key"),
    }
    config = load_config(environ=env)
    runtime = open_runtime(config)  # no connection is made until one is needed
    pool = runtime.engine.pool
    assert (pool.size(), pool._max_overflow, pool._timeout, pool._recycle) == (12, 3, 7, -1)

    defaults = open_runtime(load_config(environ={**env, "HEATING_DB_POOL_RECYCLE": ""}))
    assert defaults.engine.pool._recycle == 3600


@pytest.mark.parametrize(
    ("name", "value"), [("HEATING_DB_POOL_SIZE", "0"), ("HEATING_DB_MAX_OVERFLOW", "-1")]
)
def test_a_bad_pool_setting_stops_start_up_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name.removeprefix("HEATING_").lower()):
        load_config(environ={name: value})


def run_in_threads(*jobs: Any) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(job: Any) -> None:
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's assertion
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a writer never finished (deadlock?)"
    return errors


def test_two_derivations_at_once_take_turns_and_number_zones_consistently(
    runtime, tiny_district
) -> None:
    """The second derivation builds on the first: its new zone gets the next number."""
    profile = runtime.config.profile
    first_done = threading.Event()
    results: dict[str, Any] = {}

    def first() -> None:
        with runtime.session() as session:
            results["first"] = derive_zones(
                session, profile, as_of=date(2021, 10, 31), complete={NANJIE}
            ).as_json()
            first_done.set()
            time.sleep(1.0)  # still uncommitted while the second one starts

    def second() -> None:
        first_done.wait(10)
        with runtime.session() as session:
            results["second"] = derive_zones(
                session, profile, as_of=date(2021, 10, 31), complete={SHANGCUN}
            ).as_json()

    assert run_in_threads(first, second) == []
    one, two = results["first"], results["second"]
    assert [z["zone_id"] for z in one["zones"]] == ["JMQ-0001"]
    assert two["previous"] == one["derivation"]
    # Not a second "JMQ-0001" meaning another place: numbers are never issued twice.
    assert [(z["zone_id"], z["villages"]) for z in two["zones"]] == [("JMQ-0002", [SHANGCUN])]
    assert two["removed"] == [NANJIE] and two["added"] == [SHANGCUN]


def test_two_commits_of_one_township_take_turns(runtime, users) -> None:
    """The second commit waits for the first, then finds its preview expired; nothing half-written."""
    rows = [
        ["南街村", f"N{i:03d}", f"户主{i}", None, None, "已完工", "煤改电", "2021-06-30"]
        for i in range(300)
    ]
    ids = []
    for n, part in enumerate((rows, rows[:200])):
        with runtime.session() as session:
            batch, _ = preview(
                session,
                ledger_xlsx(part, header=HEADER),
                f"麟绛街道台账{n}.xlsx",
                user_id=users["bob"],
                township_code="140405001",
                config=runtime.config,
                today=date(2024, 1, 15),
            )
            ids.append(batch.id)
    barrier = threading.Barrier(2)

    def run(batch_id: int) -> Any:
        def job() -> None:
            barrier.wait()
            with runtime.session() as session:
                commit(session, batch_id, config=runtime.config)

        return job

    errors = run_in_threads(run(ids[0]), run(ids[1]))
    assert len(errors) == 1 and "已过期" in str(errors[0]), errors
    with runtime.session() as session:
        statuses = sorted(session.get(ImportBatch, i).status for i in ids)
        count = session.scalar(text("SELECT count(*) FROM households"))
    assert statuses == ["committed", "expired"]
    assert count in (300, 200)


@pytest.mark.skipif(not PG, reason="statistics of PostgreSQL's planner (HEATING_TEST_DATABASE_URL)")
def test_a_large_commit_refreshes_the_planner_statistics(runtime, users) -> None:
    rows = [
        ["南街村", f"N{i:04d}", f"户主{i}", None, None, "未改造", None, None] for i in range(1200)
    ]
    with runtime.session() as session:
        batch, _ = preview(
            session,
            ledger_xlsx(rows, header=HEADER),
            "麟绛街道台账.xlsx",
            user_id=users["bob"],
            township_code="140405001",
            config=runtime.config,
            today=date(2024, 1, 15),
        )
    with runtime.session() as session:
        commit(session, batch.id, config=runtime.config)
    reltuples = """SELECT reltuples FROM pg_class WHERE relname = :name"""
    with runtime.session() as session:
        for table in ("households", "household_versions"):
            assert session.scalar(text(reltuples), {"name": table}) == 1200, table
        assert session.scalar(select(ImportBatch.status)) == "committed"


@pytest.mark.skipif(not PG, reason="statistics of PostgreSQL's planner (HEATING_TEST_DATABASE_URL)")
def test_a_boundaries_load_refreshes_the_statistics_of_villages(runtime, tiny_district, tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from geo.boundaries import load_boundaries

    path = tmp_path / "村界.geojson"
    frame = gpd.GeoDataFrame(
        {"XZQDM": [NANJIE, SHANGCUN]},
        geometry=[box(112.80, 36.30, 112.81, 36.31), box(112.82, 36.30, 112.83, 36.31)],
        crs="EPSG:4490",
    )
    frame.to_file(path, driver="GeoJSON")
    reltuples = text("SELECT reltuples FROM pg_class WHERE relname = 'villages'")
    # Statistics that no longer fit: taken with a fifth village, which is then removed
    # (tests/conftest.py empties tables between tests, so earlier statistics may remain).
    with runtime.session() as session:
        township_id = session.scalar(select(Village.township_id).limit(1))
        session.add(Village(code="140405001299", name="临时村", township_id=township_id))
    with runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE villages"))
        conn.execute(text("DELETE FROM villages WHERE code = '140405001299'"))
    with runtime.session() as session:
        assert session.scalar(reltuples) == 5  # stale: the table holds 4 villages
        assert load_boundaries(session, path).matched == 2
    with runtime.session() as session:
        assert session.scalar(reltuples) == 4
