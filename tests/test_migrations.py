"""Migrations: one chain, a schema equal to the models, and each upgrade keeps the data.

Every new revision adds an upgrade test here: build a database at the
revision's ``down_revision`` (read from the module, so the test survives
re-pointing), put representative rows in, upgrade, check the data.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Iterator
from datetime import date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from heating.db import alembic_config, make_engine, upgrade
from heating.measures import coverage
from heating.models import Base
from heating.profile import DEFAULT_PROFILE
from heating.runtime import open_runtime

PG_URL = __import__("os").environ.get("HEATING_TEST_DATABASE_URL", "").strip()
LEDGER_DATES = importlib.import_module("heating.migrations.versions.ledger_dates")


@pytest.fixture
def empty_url(tmp_path) -> Iterator[str]:
    """A database with no schema at all (its own PostgreSQL database when testing there)."""
    if not PG_URL:
        yield f"sqlite:///{tmp_path / 'migrate.db'}"
        return
    url = make_url(PG_URL)
    name = f"{url.database}_migrations"
    admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield url.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_one_head_and_the_migrated_schema_is_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    script = ScriptDirectory.from_config(alembic_config(engine))
    assert len(script.get_heads()) == 1, script.get_heads()
    with engine.connect() as conn:
        differences = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    engine.dispose()
    assert differences == []


def _rows(engine: Engine) -> None:
    """What revision 0001 could hold: a village, households, a rolled-back batch."""
    with engine.begin() as conn:
        ex = conn.execute
        ex(text("INSERT INTO districts (id, code, name) VALUES (1, '140405', '屯留区')"))
        ex(
            text(
                "INSERT INTO townships (id, code, name, district_id, is_seat)"
                " VALUES (1, '140405001', '麟绛街道', 1, :t)"
            ),
            {"t": True},
        )
        ex(
            text(
                "INSERT INTO villages (id, code, name, township_id, category, category_proposed,"
                " total_households, boundary_generated, updated_at)"
                " VALUES (1, '140405001201', '南街村委会', 1, 'rural', :f, 3, :f, :at)"
            ),
            {"f": False, "at": datetime(2021, 1, 1)},
        )
        ex(
            text(
                "INSERT INTO stored_files (sha256, size, content, created_at)"
                " VALUES ('s', 1, :c, :at)"
            ),
            {"c": b"x", "at": datetime(2021, 1, 1)},
        )
        batches = [
            # id, status, created, committed, rolled back
            (1, "committed", datetime(2021, 5, 1, 1), datetime(2021, 5, 1, 2), None),
            (2, "rolled_back", datetime(2021, 10, 31, 16), datetime(2021, 10, 31, 17), None),
            (3, "preview", datetime(2021, 12, 1, 2), None, None),
        ]
        for bid, status, created, committed, _ in batches:
            ex(
                text(
                    "INSERT INTO import_batches (id, kind, township_id, file_name, sha256, size,"
                    " status, accept_valid, created_at, committed_at, rolled_back_at)"
                    " VALUES (:id, 'ledger', 1, '台账.xlsx', 's', 1, :status, :f, :created,"
                    " :committed, :rolled)"
                ),
                {
                    "id": bid,
                    "status": status,
                    "f": False,
                    "created": created,
                    "committed": committed,
                    "rolled": datetime(2021, 11, 2, 3) if status == "rolled_back" else None,
                },
            )

        def household(hid: int, status: str, active: bool = True) -> None:
            ex(
                text(
                    "INSERT INTO households (id, village_id, key, key_kind, active, head_name,"
                    " status, updated_at) VALUES (:id, 1, :key, 'household_no', :active, '户主',"
                    " :status, :at)"
                ),
                {"id": hid, "key": f"no:{hid}", "active": active, "status": status,
                 "at": datetime(2021, 11, 2)},
            )  # fmt: skip

        def version(vid: int, hid: int, batch: int | None, at: datetime, change: str,
                    status: str, active: bool = True) -> None:  # fmt: skip
            after = json.dumps({"status": status, "village_id": 1, "active": active,
                                "head_name": "户主", "household_no": str(hid)})  # fmt: skip
            ex(
                text(
                    "INSERT INTO household_versions (id, household_id, batch_id, recorded_at,"
                    " change, village_id, active, status, after)"
                    " VALUES (:id, :hid, :batch, :at, :change, 1, :active, :status, :after)"
                ),
                {"id": vid, "hid": hid, "batch": batch, "at": at, "change": change,
                 "active": active, "status": status, "after": after},
            )  # fmt: skip

        # 1: pending in May, completed at 2021-10-31 17:00 UTC = 2021-11-01 01:00 in Beijing.
        household(1, "completed")
        version(1, 1, 1, datetime(2021, 5, 1, 2), "create", "pending")
        version(2, 1, None, datetime(2021, 10, 31, 17), "update", "completed")
        # 2: completed at 2021-10-31 15:59 UTC = 23:59 in Beijing, the same day.
        household(2, "completed")
        version(3, 2, 1, datetime(2021, 5, 1, 2), "create", "pending")
        version(4, 2, None, datetime(2021, 10, 31, 15, 59), "update", "completed")
        # 3: created by batch 2 (rolled back on 2021-11-02): removed, kept inactive.
        household(3, "completed", active=False)
        version(5, 3, 2, datetime(2021, 10, 31, 17), "create", "completed")
        version(6, 3, 2, datetime(2021, 11, 2, 3), "rollback", "completed", active=False)


def _clean_as_of(url: str, day: date) -> int:
    runtime = open_runtime(database_url=url)
    try:
        with runtime.session() as session:
            (row,) = coverage(session, DEFAULT_PROFILE, "village", as_of=day)
            return row.clean
    finally:
        runtime.engine.dispose()


def test_ledger_dates_upgrade_dates_versions_in_beijing_and_retracts_rollbacks(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=LEDGER_DATES.down_revision)
    _rows(engine)
    # Before the upgrade "as of 2021-10-31" meant recorded before 2021-11-01 00:00 UTC:
    # households 1 and 2 were both clean that day.  Their ledger dates are Beijing days.
    upgrade(engine)
    with engine.connect() as conn:
        versions = {
            r.id: r
            for r in conn.execute(
                text("SELECT id, ledger_date, retracted_at, prev_status FROM household_versions")
            )
        }
        households = dict(conn.execute(text("SELECT id, ledger_date FROM households")).all())
        batches = {
            r.id: (r.ledger_date, r.ledger_date_source)
            for r in conn.execute(
                text("SELECT id, ledger_date, ledger_date_source FROM import_batches")
            )
        }
    engine.dispose()

    def day(value: object) -> date:
        return value if isinstance(value, date) else date.fromisoformat(str(value))

    assert day(versions[2].ledger_date) == date(2021, 11, 1)  # 17:00 UTC is the next day
    assert day(versions[4].ledger_date) == date(2021, 10, 31)  # 23:59 Beijing, same day
    assert versions[2].prev_status == "pending" and versions[1].prev_status is None
    assert versions[5].retracted_at is not None and versions[6].retracted_at is not None
    assert versions[2].retracted_at is None
    assert day(households[1]) == date(2021, 11, 1) and households[3] is None
    assert {k: (day(d), s) for k, (d, s) in batches.items()} == {
        1: (date(2021, 5, 1), "upload_day"),
        2: (date(2021, 11, 1), "upload_day"),
        3: (date(2021, 12, 1), "upload_day"),
    }
    # Pinned at the day boundary: as of 2021-10-31 only household 2 is clean (household 1
    # completed on 11-01 Beijing time); as of 11-01 both; the rolled-back one never.
    assert _clean_as_of(empty_url, date(2021, 10, 31)) == 1
    assert _clean_as_of(empty_url, date(2021, 11, 1)) == 2
    assert _clean_as_of(empty_url, date(2021, 11, 30)) == 2


SIGNOFF = importlib.import_module("heating.migrations.versions.signoff")


def test_signoff_upgrade_keeps_users_and_leaves_every_period_unsubmitted(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=SIGNOFF.down_revision)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO districts (id, code, name) VALUES (1, '140405', '屯留区')"))
        conn.execute(
            text(
                "INSERT INTO townships (id, code, name, district_id, is_seat)"
                " VALUES (1, '140405001', '麟绛街道', 1, :t)"
            ),
            {"t": True},
        )
        conn.execute(
            text(
                "INSERT INTO users (id, username, role, township_id, password_hash, active,"
                " created_at, failed_logins) VALUES (1, 'clerk1', 'clerk', 1, 'x', :t, :at, 0)"
            ),
            {"t": True, "at": datetime(2021, 1, 1)},
        )
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT username, role FROM users")).all() == [("clerk1", "clerk")]
        assert conn.execute(text("SELECT count(*) FROM signoffs")).scalar() == 0
        conn.execute(
            text(
                "INSERT INTO users (id, username, role, password_hash, active, created_at,"
                " failed_logins) VALUES (2, 'reviewer1', 'reviewer', 'x', :t, :at, 0)"
            ),
            {"t": True, "at": datetime(2021, 1, 1)},
        )
        conn.execute(
            text(
                "INSERT INTO signoffs (id, township_id, period, state, updated_at)"
                " VALUES (1, 1, :p, 'submitted', :at)"
            ),
            {"p": date(2021, 10, 31), "at": datetime(2021, 11, 2)},
        )
        conn.execute(
            text(
                "INSERT INTO signoff_events (signoff_id, action, from_state, to_state, user_id,"
                " username, at, text) VALUES (1, 'submit', 'unsubmitted', 'submitted', 1,"
                " 'clerk1', :at, '备注')"
            ),
            {"at": datetime(2021, 11, 2)},
        )
    engine.dispose()
    runtime = open_runtime(database_url=empty_url)
    try:
        from heating.signoff import statuses

        with runtime.session() as session:
            (row,) = statuses(session, date(2021, 10, 31))
            assert (row.township, row.state, row.by, row.note) == (
                "140405001",
                "submitted",
                "clerk1",
                "备注",
            )
    finally:
        runtime.engine.dispose()


LEDGER_DELTA_INDEX = importlib.import_module("heating.migrations.versions.ledger_delta_index")


def test_ledger_delta_index_reorders_the_index_and_keeps_the_rows(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=LEDGER_DELTA_INDEX.down_revision)
    _rows_at_ledger_dates(engine)
    upgrade(engine)
    from sqlalchemy import inspect

    (index,) = [
        i
        for i in inspect(engine).get_indexes("household_versions")
        if i["name"] == "ix_household_versions_ledger"
    ]
    assert index["column_names"][:3] == ["ledger_date", "village_id", "household_id"]
    engine.dispose()
    assert _clean_as_of(empty_url, date(2021, 10, 31)) == 0
    assert _clean_as_of(empty_url, date(2021, 11, 1)) == 1


def _rows_at_ledger_dates(engine: Engine) -> None:
    """A village and one household pending on 2021-10-31, completed on 2021-11-01."""
    with engine.begin() as conn:
        ex = conn.execute
        ex(text("INSERT INTO districts (id, code, name) VALUES (1, '140405', '屯留区')"))
        ex(
            text(
                "INSERT INTO townships (id, code, name, district_id, is_seat)"
                " VALUES (1, '140405001', '麟绛街道', 1, :f)"
            ),
            {"f": False},
        )
        ex(
            text(
                "INSERT INTO villages (id, code, name, township_id, category, category_proposed,"
                " total_households, boundary_generated, updated_at)"
                " VALUES (1, '140405001201', '南街村委会', 1, 'rural', :f, 1, :f, :at)"
            ),
            {"f": False, "at": datetime(2021, 1, 1)},
        )
        ex(
            text(
                "INSERT INTO households (id, village_id, key, key_kind, active, head_name,"
                " status, updated_at, ledger_date) VALUES (1, 1, 'no:1', 'household_no', :t,"
                " '户主', 'completed', :at, :day)"
            ),
            {"t": True, "at": datetime(2021, 11, 2), "day": date(2021, 11, 1)},
        )
        for vid, day, status, prev in (
            (1, date(2021, 10, 31), "pending", None),
            (2, date(2021, 11, 1), "completed", "pending"),
        ):
            ex(
                text(
                    "INSERT INTO household_versions (id, household_id, ledger_date, recorded_at,"
                    " change, village_id, active, status, prev_village_id, prev_status, after)"
                    " VALUES (:id, 1, :day, :at, 'update', 1, :t, :status, :pv, :ps, :after)"
                ),
                {
                    "id": vid,
                    "day": day,
                    "at": datetime(2021, 11, 2),
                    "t": True,
                    "status": status,
                    "pv": 1 if prev else None,
                    "ps": prev,
                    "after": json.dumps({"status": status, "village_id": 1}),
                },
            )


RELAPSE_PLANS = importlib.import_module("heating.migrations.versions.relapse_plans")


def test_relapse_plans_upgrade_keeps_villages_and_every_place_reads_unplanned(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=RELAPSE_PLANS.down_revision)
    _rows_at_ledger_dates(engine)
    upgrade(engine)
    engine.dispose()
    runtime = open_runtime(database_url=empty_url)
    try:
        from heating.relapse_plans import plan_view, plans_in_force, record_plan

        with runtime.session() as session:
            assert plans_in_force(session) == {}
            assert plan_view(None, date(2021, 11, 1))["state_label"] == "未制定"
            record_plan(
                session,
                "village",
                "140405001201",
                state="已制定",
                text="改为集中供热",
                unit="麟绛街道",
                due_on=date(2021, 10, 31),
            )
        with runtime.session() as session:
            plan = plans_in_force(session)[("village", "140405001201")]
            view = plan_view(plan, date(2021, 11, 1))
            assert (view["state_label"], view["overdue"]) == ("已制定", True)
        assert _clean_as_of(empty_url, date(2021, 11, 1)) == 1
    finally:
        runtime.engine.dispose()


USER_DISTRICT = importlib.import_module("heating.migrations.versions.user_district")


def test_user_district_upgrade_leaves_users_unbound_and_binds_new_ones(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=USER_DISTRICT.down_revision)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO districts (id, code, name) VALUES (1, '140405', '屯留区')"))
        conn.execute(
            text(
                "INSERT INTO users (id, username, role, password_hash, active, created_at,"
                " failed_logins) VALUES (1, 'planner1', 'planner', 'x', :t, :at, 0)"
            ),
            {"t": True, "at": datetime(2021, 1, 1)},
        )
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT username, district_id FROM users")).all() == [
            ("planner1", None)
        ]
        conn.execute(text("UPDATE users SET district_id = 1 WHERE id = 1"))
        assert conn.execute(text("SELECT district_id FROM users")).scalar() == 1
    engine.dispose()


BATCH_CHANGES = importlib.import_module("heating.migrations.versions.batch_changes")


def test_batch_changes_upgrade_keeps_batches_without_details(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=BATCH_CHANGES.down_revision)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stored_files (sha256, size, content, created_at)"
                " VALUES ('s', 1, :c, :at)"
            ),
            {"c": b"x", "at": datetime(2021, 1, 1)},
        )
        conn.execute(
            text(
                "INSERT INTO import_batches (id, kind, file_name, sha256, size, status,"
                " accept_valid, created_at) VALUES (7, 'ledger', '台账.xlsx', 's', 1, 'committed',"
                " :f, :at)"
            ),
            {"f": False, "at": datetime(2021, 1, 1)},
        )
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, status, changes FROM import_batches")).all() == [
            (7, "committed", None)
        ]
    engine.dispose()


PARSED_LEDGERS = importlib.import_module("heating.migrations.versions.parsed_ledgers")


def test_parsed_ledgers_upgrade_keeps_batches_and_starts_with_no_kept_parse(empty_url: str) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=PARSED_LEDGERS.down_revision)
    at = datetime(2024, 1, 15)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO stored_files (sha256, size, content, created_at) VALUES (:s, 1, :c, :at)"
            ),
            {"s": "a" * 64, "c": b"x", "at": at},
        )
        conn.execute(
            text(
                "INSERT INTO import_batches (id, kind, file_name, sha256, size, status,"
                " accept_valid, created_at) VALUES (1, 'ledger', '台账.xlsx', :s, 1, 'preview', :f, :at)"
            ),
            {"s": "a" * 64, "f": False, "at": at},
        )
    upgrade(engine)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, status FROM import_batches")).all() == [(1, "preview")]
        assert conn.execute(text("SELECT count(*) FROM parsed_ledgers")).scalar() == 0
        conn.execute(
            text(
                "INSERT INTO parsed_ledgers (batch_id, fingerprint, size, content, created_at)"
                " VALUES (1, :f, 1, :c, :at)"
            ),
            {"f": "b" * 64, "c": b"y", "at": at},
        )
    engine.dispose()


KEPT_FIGURES = importlib.import_module("heating.migrations.versions.kept_figures")


def test_kept_figures_upgrade_keeps_the_installation_and_starts_with_nothing_shared(
    empty_url: str,
) -> None:
    engine = make_engine(empty_url)
    upgrade(engine, revision=KEPT_FIGURES.down_revision)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('kept_test', 'before')"))
        before = conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).scalar()
    upgrade(engine)
    with engine.begin() as conn:
        meta = dict(conn.execute(text("SELECT key, value FROM meta")).all())
        assert meta["kept_test"] == "before"
        # The DDL is a write: figures any process kept before the upgrade are not served after.
        assert meta["data_version"] != before
        assert conn.execute(text("SELECT count(*) FROM kept_figures")).scalar() == 0
        conn.execute(
            text("INSERT INTO kept_figures (key, claimed_at) VALUES (:k, :at)"),
            {"k": "c" * 64, "at": datetime(2026, 12, 2)},
        )
        assert conn.execute(text("SELECT payload FROM kept_figures")).scalar() is None
    engine.dispose()
