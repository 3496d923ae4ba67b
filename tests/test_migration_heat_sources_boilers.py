"""Migration ``heat_sources_boilers``: from its down_revision with data, to the new schema.

Run on a scratch SQLite file, and on a scratch PostgreSQL database next to
the test database when ``HEATING_TEST_DATABASE_URL`` is set.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

import heating.db
from heating.db import make_engine

MIGRATION = importlib.import_module("heating.migrations.versions.heat_sources_boilers")
PG_URL = os.environ.get("HEATING_TEST_DATABASE_URL", "").strip()


def _alembic(engine, target: str) -> None:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(heating.db.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, target)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch_url(request, tmp_path) -> Iterator[str]:
    """An empty database of each dialect (PostgreSQL only when a test URL is given)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    if not PG_URL:
        pytest.skip("HEATING_TEST_DATABASE_URL not set: PostgreSQL upgrade not run")
    name = f"{make_url(PG_URL).database}_migration_hsb"

    def recreate(create: bool) -> None:
        admin = make_engine(PG_URL)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            if create:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()

    recreate(True)
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    recreate(False)


def test_upgrade_renames_boiler_kind_and_versions_every_source(scratch_url) -> None:
    engine = make_engine(scratch_url)
    _alembic(engine, MIGRATION.down_revision)
    assert not inspect(engine).has_table("boilers")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO heat_sources (name, kind, env_grade, shutdown_listed) VALUES "
                "('城区热电联产集中供热站', 'chp', 'A', false), "
                "('麟绛街道燃气锅炉房', 'boiler', 'A', false), "
                "('兴旺钢铁余热', 'waste_heat', NULL, true)"
            )
        )
    _alembic(engine, "heads")
    with engine.connect() as conn:
        kinds = dict(conn.execute(text("SELECT name, kind FROM heat_sources")).all())
        versions = conn.execute(
            text(
                "SELECT s.name, v.kind, v.env_grade, v.shutdown_listed, v.recorded_at"
                " FROM heat_source_versions v JOIN heat_sources s ON s.id = v.heat_source_id"
                " ORDER BY s.id"
            )
        ).all()
        unstamped = conn.execute(
            text("SELECT COUNT(*) FROM heat_sources WHERE updated_at IS NULL")
        ).scalar()
    engine.dispose()
    assert kinds == {
        "城区热电联产集中供热站": "chp",
        "麟绛街道燃气锅炉房": "gas_boiler",
        "兴旺钢铁余热": "waste_heat",
    }
    assert [(n, k, g, bool(listed)) for n, k, g, listed, _at in versions] == [
        ("城区热电联产集中供热站", "chp", "A", False),
        ("麟绛街道燃气锅炉房", "gas_boiler", "A", False),
        ("兴旺钢铁余热", "waste_heat", None, True),
    ]
    assert all(at is not None for *_rest, at in versions)
    assert unstamped == 0


def test_new_tables_exist_after_upgrade(scratch_url) -> None:
    engine = make_engine(scratch_url)
    _alembic(engine, "heads")
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"boilers", "boiler_states", "boiler_inspections", "heat_source_versions"} <= tables
