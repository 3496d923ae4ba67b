"""Kept evidence figures (heating.evidence_cache) follow every commit, in every process.

The usage judgement is kept per process until the data version
(heating.data_version) changes.  These tests warm the kept figures through
the pages, change the data by the real paths — a usage import and its
rollback through the CLI, a household change through the history writer on
another engine (another worker), a write rolled back — and read the pages
again at once: the figures must be the new ones, never the kept ones.  Two
Flask apps on one database stand in for two gunicorn workers.
"""

from __future__ import annotations

import io
import json
import time
from datetime import date

import openpyxl
from flask import Flask
from sqlalchemy import text

from heating import data_version, evidence_cache
from heating.models import utcnow
from heating.runtime import open_runtime
from heating.village_facts import village_facts
from heating.web import create_app
from tests.support import DONGJIE, PASSWORD, change_household, log_in
from tests.support.ledgers import id_number, ledger_xlsx
from tests.support.usage import LEDGER_DAY, usage_file


def flagged_in(client, code: str = DONGJIE) -> int:
    """usage_flagged of one village as /api/coverage shows it."""
    rows = client.get("/api/coverage?by=village").get_json()
    return next(r["usage_flagged"] for r in rows if r["key"] == code)


def usage_page_flagged(client) -> set[str]:
    page = client.get("/usage?season=2021").get_data(as_text=True)
    return {no for no in ("LOW", "ZERO", "B1", "B2", "B3") if f">{no}<" in page}


def planner_app(database_url: str) -> tuple[Flask, object]:
    """An app of its own (its own engine and kept figures): one worker."""
    app = create_app(runtime=open_runtime(database_url=database_url))
    app.config.update(TESTING=True)
    client = app.test_client()
    assert log_in(client, "dave", PASSWORD).status_code == 302
    return app, client


def kept_stats(app: Flask) -> dict[str, int]:
    with app.extensions["heating"].session() as session:
        return evidence_cache.stats(session)


def test_statements_that_change_figures_are_told_from_those_that_do_not() -> None:
    writes = data_version.writes_figures
    assert writes("INSERT INTO households (id) VALUES (?)")
    assert writes('UPDATE "import_batches" SET status=%(status)s')
    assert writes("DELETE FROM usage_records WHERE batch_id = ?")
    assert writes("COPY household_versions (id) FROM STDIN")
    assert writes("TRUNCATE users, households RESTART IDENTITY CASCADE")
    assert writes("WITH x AS (SELECT 1) UPDATE villages SET name = 'a'")
    assert not writes("SELECT * FROM households")
    assert not writes("WITH ranked AS (SELECT id FROM household_versions) SELECT * FROM ranked")
    # Page views and job progress write these: they must not empty every cache.
    assert not writes("UPDATE user_sessions SET last_seen = ?")
    assert not writes("INSERT INTO audit_log (action) VALUES (?)")
    assert not writes("UPDATE import_jobs SET done = ?")
    # A preview's batch row and its outcome change no figure; its commit or rollback does.
    assert not writes("INSERT INTO import_batches (kind, township_id, status) VALUES (?, ?, ?)")
    assert not writes("UPDATE import_batches SET counts=?, sheets=? WHERE import_batches.id = ?")
    assert not writes("UPDATE import_batches SET counts=? WHERE import_batches.status = ?")
    assert writes("UPDATE import_batches SET status=?, committed_at=? WHERE import_batches.id = ?")
    assert writes("UPDATE import_batches SET rolled_back_at=? WHERE import_batches.id = ?")
    assert writes("DELETE FROM import_batches WHERE import_batches.id = ?")


def test_the_version_changes_with_commits_that_write_and_only_with_them(
    runtime, usage_district
) -> None:
    with runtime.session() as s:
        first = data_version.current(s)
    with runtime.session() as s:
        s.execute(text("SELECT count(*) FROM households"))
        s.commit()
        s.execute(text("UPDATE import_jobs SET done = 1"))
        s.commit()
    with runtime.session() as s:
        assert data_version.current(s) == first  # reads and job progress change nothing
        change_household(
            s, usage_district[DONGJIE], "LOW", None, ledger_date=LEDGER_DAY, status="pending"
        )
        assert data_version.current(s) is None  # own uncommitted writes: nothing is kept
        s.rollback()
        assert data_version.current(s) == first  # rolled back: as before
        change_household(
            s, usage_district[DONGJIE], "LOW", None, ledger_date=LEDGER_DAY, status="pending"
        )
        s.commit()
        second = data_version.current(s)
    assert second not in (first, None)


def test_usage_import_and_rollback_change_the_pages_at_once(
    database_url, usage_imported, run_cli, tmp_path
) -> None:
    app, client = planner_app(database_url)
    assert flagged_in(client) == 2  # LOW and ZERO
    assert flagged_in(client) == 2
    assert usage_page_flagged(client) == {"LOW", "ZERO", "B1", "B2", "B3"}
    assert usage_page_flagged(client) == {"LOW", "ZERO", "B1", "B2", "B3"}
    assert kept_stats(app)["hits"] >= 2  # the second reads were served from the kept figures

    # LOW used as much as its peers after all: another upload replaces its months.
    more = usage_file(tmp_path / "more.xlsx", {"200": 1000.0})
    result = run_cli("usage", "import", more, "--kind", "electric", "--commit", "--json")
    assert result.exit_code == 0, result.stderr
    assert flagged_in(client) == 1
    assert "LOW" not in usage_page_flagged(client)

    batch = json.loads(result.stdout)["batch"]
    assert run_cli("batches", "rollback", str(batch)).exit_code == 0
    assert flagged_in(client) == 2
    assert "LOW" in usage_page_flagged(client)


def test_two_apps_on_one_database_never_serve_a_stale_figure(database_url, usage_imported) -> None:
    one, first = planner_app(database_url)
    two, second = planner_app(database_url)
    for client in (first, second, first, second):
        assert flagged_in(client) == 2
    assert kept_stats(one)["hits"] and kept_stats(two)["hits"]
    # A ledger change committed by the second worker's engine (the history writer) ...
    with two.extensions["heating"].session() as s:
        change_household(
            s, imported_village(s), "LOW", None, ledger_date=LEDGER_DAY, status="pending"
        )
        s.commit()
    # ... is on the first worker's very next page, and on the second's.
    assert flagged_in(first) == 1
    assert flagged_in(second) == 1


def trend_values(client) -> list[tuple]:
    book = openpyxl.load_workbook(io.BytesIO(client.get("/trend?export=xlsx").data))
    return [row for row in book.active.iter_rows(values_only=True) if isinstance(row[0], int)]


def imported_village(session) -> int:
    return session.execute(text(f"SELECT id FROM villages WHERE code = '{DONGJIE}'")).scalar()


def test_figures_inside_a_writing_transaction_are_its_own_and_are_not_kept(
    runtime, usage_imported
) -> None:
    with runtime.session() as s:
        before = next(f for f in village_facts(s) if f.code == DONGJIE).usage_flagged
        assert before == 2
        change_household(
            s, imported_village(s), "LOW", None, ledger_date=LEDGER_DAY, status="pending"
        )
        s.flush()
        inside = next(f for f in village_facts(s) if f.code == DONGJIE).usage_flagged
        assert inside == 1  # the commit's own before → after sees its change
        s.rollback()
    with runtime.session() as s:
        assert next(f for f in village_facts(s) if f.code == DONGJIE).usage_flagged == 2


def test_the_trend_follows_a_back_filled_ledger(database_url, usage_imported) -> None:
    app, client = planner_app(database_url)
    before = trend_values(client)
    assert trend_values(client) == before
    with app.extensions["heating"].session() as s:
        change_household(
            s, imported_village(s), "A9", None, ledger_date=date(2021, 10, 31), status="pending"
        )
        s.commit()
    after = trend_values(client)
    assert after != before and len(after) == len(before)


def test_a_known_at_time_before_a_usage_import_is_its_own_key(
    runtime, usage_imported, run_cli, tmp_path
) -> None:
    # No household changed after ``before``: only the usage batch's commit time tells
    # the two apart, so the key must hold the known-at time as given.
    time.sleep(0.01)
    before = utcnow()
    time.sleep(0.01)
    more = usage_file(tmp_path / "more.xlsx", {"200": 1000.0})
    assert run_cli("usage", "import", more, "--kind", "electric", "--commit").exit_code == 0
    with runtime.session() as s:
        for _ in range(2):  # computed, then kept
            now = next(f for f in village_facts(s) if f.code == DONGJIE)
            then = next(f for f in village_facts(s, known_at=before) if f.code == DONGJIE)
            assert (now.usage_flagged, then.usage_flagged) == (1, 2)


def test_a_ledger_preview_keeps_the_figures_and_its_commit_changes_them(
    runtime, usage_imported, run_cli, tmp_path
) -> None:
    """A clerk's preview writes a batch, a stored file and a kept parse, and no figure:
    every worker's kept figures must survive it (under load, previews emptied every cache)."""
    path = tmp_path / "台账.xlsx"
    rows = [["南街村", "P001", "张三", id_number(1), None, "已完工", "煤改电", "2021-06-30"]]
    path.write_bytes(ledger_xlsx(rows))
    with runtime.session() as s:
        before = data_version.current(s)
    result = run_cli("import", str(path), "--township", "140405001", "--json")
    assert result.exit_code == 0, result.stderr
    with runtime.session() as s:
        assert data_version.current(s) == before
    result = run_cli("import", str(path), "--township", "140405001", "--commit")
    assert result.exit_code == 0, result.stderr
    with runtime.session() as s:
        assert data_version.current(s) not in (before, None)
