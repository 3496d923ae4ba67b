"""Personal data at rest: ciphertext in the database, the key outside it, init, rotate, backup."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from heating.models import Household, HouseholdVersion, ImportBatch
from heating.runtime import Runtime, open_runtime
from heating.sealing import FILE_MAGIC, TEXT_PREFIX, KeyFileError, Keyring, activate
from imports.batches import preview
from imports.commit import commit
from tests.support.database import KEY_FILE
from tests.support.districts import load_tiny_district
from tests.support.households import write_household
from tests.support.ledgers import id_number, ledger_xlsx

PERSON = id_number(42)
PHONE = "13912345678"
REFUSED_PERSON = id_number(43)


@pytest.fixture
def own_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the run's key file for a test that rotates or creates keys."""
    path = tmp_path / "keys" / "heating.key"
    path.parent.mkdir()
    shutil.copy(KEY_FILE, path)
    monkeypatch.setenv("HEATING_ENCRYPTION_KEY_FILE", str(path))
    yield path
    activate(Keyring.load(KEY_FILE))


@pytest.fixture
def committed(runtime: Runtime, tiny_district: dict[str, int]) -> int:
    """A ledger with a person's ID number and phone, plus a refused row, committed."""
    rows = [
        ["南街村委会", "A001", "张三", PERSON, PHONE, "已完工", "煤改电", "2021-06-30"],
        ["南街村委会", "A002", "李四", REFUSED_PERSON, "13800000000", "搞定了", None, None],
    ]
    with runtime.session() as session:
        batch, _ = preview(
            session, ledger_xlsx(rows), "台账.xlsx", user_id=None,
            township_code="140405001", config=runtime.config,
        )  # fmt: skip
        batch_id = batch.id
    with runtime.session() as session:
        commit(session, batch_id, config=runtime.config, accept_valid=True)
    return batch_id


def raw(runtime: Runtime, sql: str) -> list[tuple]:
    """Rows exactly as the database holds them (no column types applied)."""
    with runtime.engine.connect() as conn:
        return list(conn.exec_driver_sql(sql))


def test_personal_data_is_ciphertext_in_the_database(runtime: Runtime, committed: int) -> None:
    ((number, phone, digest),) = raw(runtime, "SELECT id_number, phone, id_hash FROM households")
    assert number.startswith(TEXT_PREFIX) and phone.startswith(TEXT_PREFIX)
    assert PERSON not in number and digest  # the salted hash stays for matching
    for before, after in raw(runtime, "SELECT before, after FROM household_versions"):
        stored = f"{before} {after}"
        assert PERSON not in stored and PHONE not in stored and TEXT_PREFIX in stored
    ((rejected,),) = raw(runtime, "SELECT rejected_rows FROM import_batches")
    assert REFUSED_PERSON not in str(rejected) and TEXT_PREFIX in str(rejected)
    for (content,) in raw(runtime, "SELECT content FROM stored_files"):
        assert bytes(content).startswith(FILE_MAGIC)
    # Read through the application, everything is there.
    with runtime.session() as session:
        household = session.scalar(select(Household))
        assert (household.id_number, household.phone) == (PERSON, PHONE)
        version = session.scalar(select(HouseholdVersion))
        assert version.after["id_number"] == PERSON
        batch = session.get(ImportBatch, committed)
        assert REFUSED_PERSON in json.dumps(batch.rejected_rows, ensure_ascii=False)


def test_the_sqlite_file_holds_no_id_number(runtime: Runtime, committed: int) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("the database file test reads a SQLite file")
    with runtime.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    data = Path(runtime.engine.url.database).read_bytes()
    for secret in (PERSON, PHONE, REFUSED_PERSON):
        assert secret.encode() not in data, secret


def test_a_clerk_still_sees_the_full_number_and_a_planner_the_masked_one(
    login,
    runtime: Runtime,
    committed: int,
) -> None:
    page = login("bob").get("/villages/140405001201").get_data(as_text=True)
    assert PERSON in page
    page = login("dave").get("/villages/140405001201").get_data(as_text=True)
    assert PERSON not in page and TEXT_PREFIX not in page


def test_rotate_re_encrypts_everything_with_a_new_key(
    run_cli,
    runtime: Runtime,
    committed: int,
    own_key: Path,
) -> None:
    old = Keyring.load(own_key).current
    result = run_cli("keys", "rotate", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["key"] != old and out["households"] == 1 and out["files"] >= 1
    ring = Keyring.load(own_key)
    assert ring.current == out["key"] and old in ring.keys  # the old key stays for old backups
    ((number,),) = raw(runtime, "SELECT id_number FROM households")
    assert number.startswith(f"{TEXT_PREFIX}{ring.current}:")
    for before, after in raw(runtime, "SELECT before, after FROM household_versions"):
        assert f"{TEXT_PREFIX}{old}:" not in f"{before}{after}"
    activate(ring)
    with runtime.session() as session:
        assert session.scalar(select(Household.id_number)) == PERSON
    assert os.stat(own_key).st_mode & 0o077 == 0  # readable by its owner only


def test_init_creates_the_key_where_configured_and_seals_plain_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, own_key: Path
) -> None:
    from click.testing import CliRunner

    from heating.cli import cli

    key = tmp_path / "new" / "heating.key"
    monkeypatch.setenv("HEATING_ENCRYPTION_KEY_FILE", str(key))
    db = f"sqlite:///{tmp_path / 'fresh.db'}"
    runner = CliRunner()
    first = runner.invoke(cli, ["--db", db, "init"])
    assert first.exit_code == 0, first.output
    assert str(key) in first.output and "不在数据库中" in first.output
    assert key.exists() and os.stat(key).st_mode & 0o077 == 0
    # A household written in clear (as before encryption existed) is sealed by the next init.
    fresh = open_runtime(database_url=db)
    with fresh.session() as session:
        ids = load_tiny_district(session)
        write_household(session, ids["140405001201"], "1", "pending")
    fresh.engine.dispose()
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        conn.execute(f"UPDATE households SET id_number = '{PERSON}', phone = '{PHONE}'")
    again = runner.invoke(cli, ["--db", db, "init"])
    assert again.exit_code == 0, again.output
    assert "已加密之前以明文保存的个人信息：1 户" in again.output
    with sqlite3.connect(tmp_path / "fresh.db") as conn:
        (number,) = conn.execute("SELECT id_number FROM households").fetchone()
    assert number.startswith(TEXT_PREFIX)


def test_backup_says_the_key_is_not_in_it(run_cli, runtime: Runtime, tmp_path: Path) -> None:
    if runtime.engine.dialect.name != "sqlite":
        pytest.skip("pg_dump is covered by the backup tests")
    result = run_cli("backup", "-o", str(tmp_path / "copy.db"))
    assert result.exit_code == 0
    assert "不在备份中" in result.stderr and str(KEY_FILE) in result.stderr


def test_no_key_file_no_web_app(runtime: Runtime, tmp_path: Path) -> None:
    from heating.web import create_app

    missing = runtime.config.with_overrides(encryption_key_file=str(tmp_path / "none.key"))
    with pytest.raises(KeyFileError, match="heating init"):
        create_app(missing, database_url=runtime.config.database_url)


def test_a_wrong_key_file_is_said_so(runtime: Runtime, committed: int, tmp_path: Path) -> None:
    stranger = Keyring.create(tmp_path / "other.key")
    activate(stranger)
    try:
        with pytest.raises(KeyFileError, match="没有这个密钥"), runtime.session() as session:
            session.scalar(select(Household.id_number))
    finally:
        activate(Keyring.load(KEY_FILE))


def test_a_cli_import_without_the_key_file_is_refused_in_words(
    run_cli, runtime: Runtime, tiny_district, tmp_path: Path, monkeypatch
) -> None:
    """Not a traceback: the clerk's ledger carries ID numbers, which are sealed on the way in."""
    ledger = tmp_path / "台账.csv"
    ledger.write_text("户号,户主姓名,村,改造状态\nK001,张三,南街村委会,未改造\n", encoding="utf-8")
    monkeypatch.setenv("HEATING_ENCRYPTION_KEY_FILE", str(tmp_path / "none.key"))
    try:
        result = run_cli("import", str(ledger), "--township", "140405001", "--commit")
    finally:
        activate(Keyring.load(KEY_FILE))
    assert result.exit_code == 1
    assert "没有加载加密密钥" in result.stderr and "encryption_key_file" in result.stderr
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 0
