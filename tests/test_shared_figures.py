"""Figures kept once for every process (heating.shared_figures), on SQLite and PostgreSQL.

Two runtimes on one database stand in for two gunicorn workers (each has its
own engine, so its own kept figures).  The first to miss a figure computes and
stores it; the second reads it instead of judging every household again — and
after a commit both see the new figure, never the stored one.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select, text, update

from heating import evidence_cache, shared_figures
from heating.config import ConfigError, load_config
from heating.models import District, KeptFigure, utcnow
from heating.runtime import Runtime, open_runtime
from heating.village_facts import village_facts
from heating.web import create_app
from tests.support import DONGJIE, NANJIE, PASSWORD, change_household
from tests.support.districts import LUCHENG, LUCHENG_VILLAGES, add_second_district
from tests.support.ledgers import ledger_xlsx
from tests.support.usage import LEDGER_DAY
from tests.support.web import batch_id_of, csrf_token, follow_job, log_in, upload


@pytest.fixture
def workers(database_url: str) -> Iterator[tuple[Runtime, Runtime]]:
    """Two runtimes on the test database, each sharing its kept figures through it."""
    pair = (open_runtime(database_url=database_url), open_runtime(database_url=database_url))
    for runtime in pair:
        shared_figures.share_between_processes(runtime.engine, True)
    yield pair
    for runtime in pair:
        runtime.engine.dispose()


def flagged(runtime: Runtime) -> int:
    with runtime.session() as session:
        return next(f for f in village_facts(session) if f.code == DONGJIE).usage_flagged


def stats(runtime: Runtime) -> dict[str, int]:
    with runtime.session() as session:
        return evidence_cache.stats(session)


def started_warming(start: Callable[[], object]) -> list[threading.Thread]:
    """The start-up computations of figures that ``start()`` began (not other tests' apps')."""
    before = set(threading.enumerate())
    start()
    return [t for t in threading.enumerate() if t.name == "figures-warmup" and t not in before]


def stored_rows(runtime: Runtime) -> list[tuple[bool, int | None]]:
    with runtime.session() as session:
        rows = session.execute(select(KeptFigure.payload, KeptFigure.size)).all()
    return [(payload is not None, size) for payload, size in rows]


def test_the_second_worker_reads_the_figure_the_first_computed(workers, usage_imported) -> None:
    one, two = workers
    assert flagged(one) == 2
    computed = stats(one)["misses"]
    assert computed >= 1
    stored = stored_rows(one)
    assert len(stored) == computed and all(has and size for has, size in stored)
    assert flagged(two) == 2
    assert stats(two)["misses"] == 0  # nothing judged again
    assert stats(two)["shared_hits"] >= 1
    # The payload is sealed: household rows never lie in the table as plain pickles.
    with one.session() as session:
        payloads = session.scalars(select(KeptFigure.payload)).all()
    assert all(payload.startswith(b"HEATENC1") for payload in payloads)


def test_after_a_commit_every_worker_computes_the_new_figure(workers, usage_imported) -> None:
    one, two = workers
    assert flagged(one) == 2 and flagged(two) == 2
    with two.session() as session:
        village = session.execute(
            text(f"SELECT id FROM villages WHERE code = '{DONGJIE}'")
        ).scalar()
        change_household(session, village, "LOW", None, ledger_date=LEDGER_DAY, status="pending")
        session.commit()
    assert flagged(one) == 1
    assert flagged(two) == 1
    assert stats(two)["misses"] == 0  # the new figure too was computed once, by the first


def test_a_payload_nobody_sealed_is_never_unpickled(workers, usage_imported) -> None:
    one, two = workers
    assert flagged(one) == 2
    # Someone who may write to the database but has no key file replaces the payloads
    # with pickles of their own: the reader must not load them.
    planted = pickle.dumps(("planted",))
    with one.session() as session:
        session.execute(update(KeptFigure).values(payload=planted))
        session.commit()
    assert flagged(two) == 2  # computed again, not read
    assert stats(two)["misses"] >= 1
    with two.session() as session:
        payloads = session.scalars(select(KeptFigure.payload)).all()
    assert payloads and all(payload != planted for payload in payloads)


def test_a_fresh_claim_is_waited_for_and_an_abandoned_one_taken_over(runtime) -> None:
    engine = runtime.engine
    shared_figures.share_between_processes(engine, True)
    digest = shared_figures.digest_of(("figure", date(2026, 1, 1)), ("v1",))
    assert digest is not None
    assert shared_figures.fetch_or_claim(engine, digest) == (False, None, True)  # ours to compute
    # Another worker asking meanwhile waits for the payload instead of computing it too.
    answers: list[tuple[bool, object]] = []
    waiting = threading.Thread(
        target=lambda: answers.append(shared_figures.fetch_or_claim(engine, digest))
    )
    waiting.start()
    time.sleep(3 * shared_figures.POLL_SECONDS)
    assert answers == []
    shared_figures.store(engine, digest, {"clean": 7})
    waiting.join(timeout=10)
    assert answers == [(True, {"clean": 7}, False)]
    # A claim whose process died long ago is taken over.
    other = shared_figures.digest_of(("figure", date(2026, 1, 2)), ("v1",))
    assert shared_figures.fetch_or_claim(engine, other) == (False, None, True)
    with runtime.session() as session:
        session.execute(
            update(KeptFigure)
            .where(KeptFigure.key == other)
            .values(claimed_at=utcnow() - timedelta(seconds=shared_figures.CLAIM_SECONDS + 5))
        )
        session.commit()
    assert shared_figures.fetch_or_claim(engine, other) == (False, None, True)
    shared_figures.release(engine, other)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(KeptFigure)) == 1


def test_rows_are_dropped_an_hour_after_their_claim(runtime) -> None:
    engine = runtime.engine
    old, new = (shared_figures.digest_of(("f", n), ("v",)) for n in (1, 2))
    shared_figures.fetch_or_claim(engine, old)
    shared_figures.store(engine, old, 1)
    with runtime.session() as session:
        session.execute(
            update(KeptFigure).values(
                claimed_at=utcnow() - timedelta(seconds=shared_figures.KEEP_SECONDS + 1)
            )
        )
        session.commit()
    shared_figures.fetch_or_claim(engine, new)
    shared_figures.store(engine, new, 2)
    with runtime.session() as session:
        assert session.scalars(select(KeptFigure.key)).all() == [new]


def test_keys_are_alike_in_every_process_and_only_when_their_values_are() -> None:
    key = (
        "facts",
        frozenset({"140405", "140404", "140403"}),
        {"b": 2, "a": 1},
        date(2026, 1, 1),
        None,
        1.5,
    )
    script = (
        "import json, datetime; from heating.shared_figures import stable_key;"
        "print(json.dumps(stable_key(('facts', frozenset({'140405', '140404', '140403'}),"
        "{'b': 2, 'a': 1}, datetime.date(2026, 1, 1), None, 1.5))))"
    )
    for seed in ("1", "2"):  # set order follows the hash seed; the key must not
        printed = subprocess.run(
            [sys.executable, "-c", script],
            env={"PYTHONHASHSEED": seed, "PATH": ""},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert json.loads(printed) == shared_figures.stable_key(key)
    assert shared_figures.stable_key((1,)) != shared_figures.stable_key(("1",))
    assert shared_figures.stable_key((1,)) != shared_figures.stable_key((True,))
    assert shared_figures.digest_of(("k",), "v1") != shared_figures.digest_of(("k",), "v2")

    class Opaque:
        pass

    with pytest.raises(shared_figures.Unshareable):
        shared_figures.stable_key(("facts", Opaque()))
    assert shared_figures.digest_of(("facts", Opaque()), "v1") is None


@pytest.mark.parametrize("setting", ["on", "off"])
def test_the_setting_switches_sharing_on_either_database(
    runtime: Runtime, usage_imported, setting: str
) -> None:
    pair = [open_runtime(runtime.config, share_kept_figures=setting) for _ in range(2)]
    try:
        assert flagged(pair[0]) == flagged(pair[1]) == 2
        with pair[0].session() as session:
            rows = session.scalar(select(func.count()).select_from(KeptFigure))
        if setting == "on":
            assert rows >= 1 and stats(pair[1])["misses"] == 0
        else:
            assert rows == 0 and stats(pair[1])["misses"] >= 1
    finally:
        for one in pair:
            one.engine.dispose()


def test_a_bad_sharing_setting_stops_start_up_naming_it() -> None:
    with pytest.raises(ConfigError, match="share_kept_figures"):
        load_config(environ={"HEATING_SHARE_KEPT_FIGURES": "sometimes"})


NICED_WORKER = """
import sys, time
from heating import shared_figures
from heating.runtime import open_runtime
runtime = open_runtime(database_url=sys.argv[1])
shared_figures.share_between_processes(runtime.engine, True)
started = time.monotonic()
answer = shared_figures.fetch_or_claim(runtime.engine, sys.argv[2])
print(answer, round(time.monotonic() - started))
shared_figures.store(runtime.engine, sys.argv[2], {"clean": 8})
"""


def test_a_niced_process_never_makes_a_page_wait_for_its_claim(
    runtime: Runtime, database_url: str
) -> None:
    """A report process (nice 10) computes slowly while the pages take the cores: it neither
    claims nor waits for a claim, and what it computes is stored for the others."""
    engine = runtime.engine
    shared_figures.share_between_processes(engine, True)
    digest = shared_figures.digest_of(("figure", "niced"), ("v1",))
    assert shared_figures.fetch_or_claim(engine, digest)[2]  # a worker computing it
    printed = subprocess.run(
        ["nice", "-n", "10", sys.executable, "-c", NICED_WORKER, database_url, digest],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    assert printed == ["(False,", "None,", "False)", "0"]  # did not wait, holds no claim
    assert shared_figures.fetch_or_claim(engine, digest) == (True, {"clean": 8}, False)
    assert os.getpriority(os.PRIO_PROCESS, 0) == 0 and not shared_figures.stores_without_claim()


@pytest.mark.parametrize(
    ("settings", "ahead"),
    [
        ({"share_kept_figures": "on", "compute_figures_ahead": True}, True),
        ({"share_kept_figures": "on", "compute_figures_ahead": False}, False),
    ],
)
def test_a_web_commit_computes_its_districts_figures_before_the_pages_ask(
    runtime: Runtime, login, settings, ahead: bool
) -> None:
    """The import process that writes a ledger computes its district's figures before it
    commits (heating.figures_warmup): the first planner's page after the commit reads them,
    with no moment in between in which it would judge the district again."""
    if runtime.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only: on SQLite the commit holds the one write lock")
    bob = login("bob")
    rows = [
        ["南街村委会", f"W{i:03d}", f"甲{i}", None, None, "已完工", "煤改电", "2021-06-30"]
        for i in range(5)
    ]
    planner = open_runtime(runtime.config)
    try:
        with planner.session() as session:
            before = village_facts(session, district_code="140405")
        batch = batch_id_of(upload(bob, ledger_xlsx(rows), "麟绛.xlsx"))
        form = {"mode": "strict", "csrf_token": csrf_token(bob, "/imports")}
        done = follow_job(bob, bob.post(f"/imports/{batch}/commit", data=form))
        assert "台账已写入" in done.get_data(as_text=True)
        misses = stats(planner)["misses"]
        with planner.session() as session:
            facts = village_facts(session, district_code="140405")  # the district's pages ask this
        assert sum(f.clean for f in facts if f.code == NANJIE) == 5 + sum(
            f.clean for f in before if f.code == NANJIE
        )
        # Nothing judged again: read what the job stored (unless told not to compute ahead).
        assert (stats(planner)["misses"] == misses) is ahead
        with planner.session() as session:
            evidence_cache.clear(session)
            assert village_facts(session, district_code="140405") == facts  # as a fresh count
    finally:
        planner.engine.dispose()


@pytest.mark.parametrize("settings", [{"share_kept_figures": "on", "compute_figures_ahead": True}])
def test_an_app_computes_every_districts_figures_as_it_starts(
    runtime: Runtime, usage_imported, settings
) -> None:
    """The first planner of each district after a restart reads figures the app computed
    at start (heating.figures_warmup) instead of judging the district: its dashboard's
    facts, and a village page's judged households — also in a district without use
    evidence (潞城区 here), whose facts judge nothing."""
    with runtime.session() as session:
        add_second_district(session)
    warming = started_warming(lambda: create_app(runtime=runtime))
    assert warming, "no start-up computation"
    for thread in warming:
        thread.join(120)
    planner = open_runtime(runtime.config)
    try:
        client = create_app(runtime=planner).test_client()
        assert log_in(client, "dave", PASSWORD).status_code == 302
        for village in (LUCHENG_VILLAGES[0], DONGJIE):
            assert client.get(f"/villages/{village}").status_code == 200
        with planner.session() as session:
            codes = session.scalars(select(District.code)).all()
            assert len(codes) == 2 and all(village_facts(session, district_code=c) for c in codes)
            assert stats(planner)["misses"] == 0
            lucheng = village_facts(session, district_code=LUCHENG)
            evidence_cache.clear(session)
            assert village_facts(session, district_code=LUCHENG) == lucheng  # as a fresh count
    finally:
        planner.engine.dispose()


@pytest.mark.parametrize("settings", [{"share_kept_figures": "off", "compute_figures_ahead": True}])
def test_an_app_that_does_not_share_computes_nothing_at_start(runtime: Runtime, settings) -> None:
    """Per-process figures (SQLite by default, or sharing off): computing them at start in
    another process would serve no page."""
    assert not started_warming(lambda: create_app(runtime=runtime))


def test_a_cli_commit_computes_its_districts_figures_before_it_commits(
    runtime: Runtime, users, run_cli, tmp_path, monkeypatch
) -> None:
    """``heating import --commit`` computes the district's figures as the web commit does, for
    the web app's workers (PostgreSQL, where figures are shared by default)."""
    if runtime.engine.dialect.name == "sqlite":
        pytest.skip("PostgreSQL only: on SQLite the commit holds the one write lock")
    monkeypatch.setenv("HEATING_COMPUTE_FIGURES_AHEAD", "true")
    rows = [
        ["南街村委会", f"C{i:03d}", f"乙{i}", None, None, "已完工", "煤改电", "2021-06-30"]
        for i in range(3)
    ]
    path = tmp_path / "麟绛.xlsx"
    path.write_bytes(ledger_xlsx(rows))
    result = run_cli("import", str(path), "--township", "140405001", "--commit")
    assert result.exit_code == 0, result.stderr
    planner = open_runtime(runtime.config)
    try:
        with planner.session() as session:
            facts = village_facts(session, district_code="140405")
        assert stats(planner)["misses"] == 0  # read what the CLI stored
        with planner.session() as session:
            evidence_cache.clear(session)
            assert village_facts(session, district_code="140405") == facts
    finally:
        planner.engine.dispose()
