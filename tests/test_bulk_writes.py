"""Bulk writes of new households keep the schema and the values as they were.

``heating.history.bulk_insert`` leaves out of SQLite's INSERT the columns that
are empty in every row, and a commit of many new households into (nearly)
empty tables builds their indexes after the rows (``indexes_deferred``).
Neither may change what is stored or which indexes exist afterwards.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import inspect, select, text

from heating import history
from heating.models import Household, HouseholdVersion
from heating.sealing import TEXT_PREFIX, Keyring
from imports.batches import preview
from imports.commit import commit

ROWS = 1_500  # above BIG_INSERT_ROWS: the bulk path with deferred indexes


def ledger(rows: int) -> bytes:
    lines = ["村,户号,户主姓名,身份证号,联系电话,改造状态,改造方式,完工日期,设备补贴"]
    villages = ("南街村", "东街村")
    for n in range(rows):
        done = n % 3 != 0
        lines.append(
            f"{villages[n % 2]},H{n:06d},户主{n},,138{n:08d},"
            + ("已完工,煤改电,2021-06-30,24000" if done else "未改造,,,")
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


def indexes(runtime) -> dict[str, list[tuple[str, tuple[str, ...]]]]:
    found = inspect(runtime.engine)
    return {
        table: sorted((ix["name"], tuple(ix["column_names"])) for ix in found.get_indexes(table))
        for table in ("households", "household_versions")
    }


def commit_ledger(runtime, rows: int) -> int:
    with runtime.session() as session:
        batch, out = preview(
            session,
            ledger(rows),
            "麟绛街道台账.csv",
            user_id=None,
            township_code="140405001",
            config=runtime.config,
            today=date(2024, 1, 15),
        )
        batch_id = batch.id
    assert out["counts"]["new"] == rows
    with runtime.session() as session:
        commit(session, batch_id, config=runtime.config)
    return batch_id


def test_a_bulk_commit_into_empty_tables_keeps_every_index(runtime, tiny_district):
    before = indexes(runtime)
    assert any(name == "ix_households_id_hash" for name, _ in before["households"])
    commit_ledger(runtime, ROWS)
    assert indexes(runtime) == before
    with runtime.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    "EXPLAIN QUERY PLAN SELECT id FROM household_versions "
                    "WHERE household_id = 5 ORDER BY ledger_date"
                )
            )
            assert "ix_household_versions_asof" in plan
        # The indexes hold every row: counted through the index as through the table.
        by_index = conn.execute(
            text("SELECT count(*) FROM households WHERE village_id > 0 AND active IN (0, 1)")
            if conn.dialect.name == "sqlite"
            else text("SELECT count(*) FROM households WHERE village_id > 0")
        ).scalar()
    assert by_index == ROWS


def test_a_failed_write_puts_the_dropped_indexes_back(runtime, tiny_district):
    before = indexes(runtime)
    tables = (Household.__table__, HouseholdVersion.__table__)
    with (
        runtime.session() as session,  # goes on and commits after the failure
        pytest.raises(RuntimeError, match="写入失败"),
        history.indexes_deferred(session, tables, 10_000),
    ):
        if session.get_bind().dialect.name == "sqlite":
            names = session.execute(
                text("SELECT name FROM sqlite_master WHERE name = 'ix_households_id_hash'")
            ).all()
            assert names == []  # dropped for the writes
        raise RuntimeError("写入失败")
    # A caller that goes on and commits keeps every index.
    assert indexes(runtime) == before


def test_columns_empty_in_every_row_are_stored_as_null(runtime, tiny_district):
    batch_id = commit_ledger(runtime, ROWS)
    with runtime.session() as session:
        rows = session.execute(
            select(
                Household.note,
                Household.id_number,
                Household.phone,
                Household.heat_source,
                Household.device_subsidy,
                Household.completed_on,
                Household.active,
                Household.created_batch_id,
            ).order_by(Household.id)
        ).all()
        raw_phone = session.execute(text("SELECT phone FROM households ORDER BY id")).scalar()
    assert len(rows) == ROWS
    assert {(r.note, r.id_number, r.heat_source) for r in rows} == {(None, None, None)}
    assert rows[0].phone == "13800000000" and rows[1].device_subsidy == 24000
    assert rows[1].completed_on == date(2021, 6, 30) and rows[0].completed_on is None
    assert {r.active for r in rows} == {True} and {r.created_batch_id for r in rows} == {batch_id}
    assert raw_phone.startswith(TEXT_PREFIX)  # sealed once, by the writer


def test_the_bulk_sealer_seals_each_value_with_a_nonce_of_its_own(tmp_path):
    ring = Keyring.create(tmp_path / "key.json")
    seal = ring.text_sealer()
    sealed = [seal("110101199003077777") for _ in range(5_000)]
    assert len(set(sealed)) == len(sealed)
    assert {ring.open_text(value) for value in sealed} == {"110101199003077777"}
    assert seal(sealed[0]) == sealed[0]  # a sealed value is left as it is
