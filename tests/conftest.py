"""Shared fixtures: a real database per test, the app, a client, a CLI runner, a cast.

Two template databases are prepared once per session: an empty migrated one,
and one that also holds the tiny district and the cast of users (creating a
user costs ~0.12 s of scrypt, so they are made once, not per test).  A test
that asks for ``tiny_district``, ``users`` or ``login`` (directly or through
another fixture) starts from the second, every other test from the first.

SQLite by default: each test gets a copy of the template file.  With
``HEATING_TEST_DATABASE_URL`` set to a PostgreSQL URL the same tests run
there: the schema is migrated once, every table is emptied before each test
(DELETE, or TRUNCATE after a test that wrote many rows)
and the prepared rows of the tiny district and the cast are inserted again
(no re-hashing).  Shared helpers live in ``tests/support/`` (one module per kind).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, update
from sqlalchemy.engine import make_url
from werkzeug.routing import Rule
from werkzeug.security import generate_password_hash

from heating.db import ensure_meta, make_engine, session_factory, session_scope, upgrade
from heating.models import Base, User
from heating.runtime import Runtime, open_runtime
from heating.sealing import Keyring, activate
from tests.support.browser import add_map_scene
from tests.support.compiled import (
    COMPILED_TEMPLATES,
    share_compiled_statements,
)
from tests.support.database import (
    KEY_FILE,
    empty_all,
    on_server,
    restore_rows,
    truncate_all,
)
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN, load_tiny_district
from tests.support.households import add_many, write_household
from tests.support.registers import add_district_heated_nanjie
from tests.support.routing import compile_builder_once
from tests.support.usage import LEDGER_DAY, MONTHS, usage_file
from tests.support.users import CAST_HASH_METHOD, PASSWORD, load_cast
from tests.support.web import log_in


def _worker_database(url: str) -> str:
    """Under pytest-xdist, each worker's own PostgreSQL database (``<name>_gw0``…), created empty.

    Set in the environment before any test module reads it, so tests that
    derive further databases from the URL, and ``heating`` subprocesses,
    follow the worker's database too.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    # Once per worker, even if this file were ever imported a second time (as ``tests.conftest``).
    if not url or not worker or os.environ.get("HEATING_TEST_WORKER") == worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"
    on_server(parsed, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    worker_url = parsed.set(database=name).render_as_string(hide_password=False)
    os.environ["HEATING_TEST_DATABASE_URL"] = worker_url
    os.environ["HEATING_TEST_WORKER"] = worker
    return worker_url


PG_URL = _worker_database(os.environ.get("HEATING_TEST_DATABASE_URL", "").strip())

# One encryption key for the whole run, outside the repository (also for `heating`
# subprocesses, which inherit the environment); its path is tests/support.KEY_FILE.
os.environ["HEATING_ENCRYPTION_KEY_FILE"] = str(KEY_FILE)
activate(Keyring.create(KEY_FILE))
# Figures computed ahead (by each commit, by each app at start) only where a test asks
# (tests/test_shared_figures.py): on PostgreSQL every other commit would pay for them,
# also in the CLI and in subprocesses.
os.environ["HEATING_COMPUTE_FIGURES_AHEAD"] = "false"

# Fixtures that need the tiny district and the cast in the database.
CAST_FIXTURES = frozenset({"tiny_district", "users", "login"})


@dataclass
class Templates:
    """The prepared starting points of every test."""

    empty: str  # SQLite file path, or the PostgreSQL URL
    cast: str  # SQLite file path, or the PostgreSQL URL
    village_ids: dict[str, int]
    user_ids: dict[str, int]
    # PostgreSQL only: the rows of the cast template, table by table, to insert again.
    rows: list[tuple[Any, list[dict[str, Any]]]] = field(default_factory=list)


def _fill_cast(engine: Engine) -> tuple[dict[str, int], dict[str, int]]:
    with session_scope(session_factory(engine)) as session:
        villages = load_tiny_district(session)
        users = load_cast(session)
        # The cast logs in a few hundred times per run.  Its users are made by the production
        # ``create_user`` (scrypt at werkzeug's default cost, ~0.12 s per check); their stored
        # hashes are then re-made at a cost of 2**10, which werkzeug reads from the hash, so a
        # login runs the same code for ~1/30 of the CPU.  Users a test creates itself keep the
        # production cost (tests/test_users.py checks it and logs them in).
        cheap = generate_password_hash(PASSWORD, method=CAST_HASH_METHOD)
        session.execute(update(User).values(password_hash=cheap))
        # (Users bound to a second district are added per test with that hash:
        # tests.support.users.add_district_user.)
    return villages, users


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Templates:
    """Migrate once; prepare the empty and the cast starting points."""
    if PG_URL:
        engine = make_engine(PG_URL)
        upgrade(engine)
        truncate_all(engine)
        ensure_meta(engine)
        villages, users = _fill_cast(engine)
        with engine.connect() as conn:
            rows = [
                (table, [dict(r) for r in conn.execute(table.select()).mappings()])
                for table in Base.metadata.sorted_tables
            ]
        engine.dispose()
        return Templates(PG_URL, PG_URL, villages, users, [(t, d) for t, d in rows if d])
    folder = tmp_path_factory.mktemp("template")
    empty, cast = folder / "empty.db", folder / "cast.db"
    engine = make_engine(f"sqlite:///{empty}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    shutil.copyfile(empty, cast)
    engine = make_engine(f"sqlite:///{cast}")
    villages, users = _fill_cast(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return Templates(str(empty), str(cast), villages, users)


@pytest.fixture
def database_url(
    _templates: Templates, request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[str]:
    """The URL of a migrated database for this test: empty, or with the district and cast."""
    with_cast = not CAST_FIXTURES.isdisjoint(request.fixturenames)
    if PG_URL:
        engine = make_engine(PG_URL)
        empty_all(engine)
        if with_cast:
            restore_rows(engine, _templates.rows)
        else:
            ensure_meta(engine)
        engine.dispose()
        yield PG_URL
        return
    path = tmp_path / "heating.db"
    shutil.copyfile(_templates.cast if with_cast else _templates.empty, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def settings() -> dict[str, Any]:
    """Setting overrides for this test's runtime: ``@pytest.mark.parametrize("settings", [{…}])``."""
    return {}


@pytest.fixture
def runtime(database_url: str, settings: dict[str, Any]) -> Iterator[Runtime]:
    # A web download waits for its report (a loaded CI machine may take longer than the
    # default's 5 s); tests/test_report_web_cli.py sets 0 to see the 报告生成中 page.
    rt = open_runtime(database_url=database_url, **{"report_wait_seconds": 600, **settings})
    yield rt
    rt.engine.dispose()


# Every connection of every engine (the tests' runtimes, the CLI's in-process runs, the apps')
# takes the run's compiled statements.
event.listen(Engine, "engine_connect", share_compiled_statements)

# werkzeug compiles two URL builders per rule of every test's app: compile each once per run.
Rule._compile_builder = compile_builder_once  # type: ignore[method-assign]


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    from heating.web import create_app

    flask_app = create_app(runtime=runtime)
    flask_app.config.update(TESTING=True)
    flask_app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
    return flask_app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(database_url: str) -> Callable[..., CliResult]:
    """Run ``heating --db URL ARGS…`` in-process and return exit code, stdout, stderr."""
    from heating.cli import cli

    def run(*args: str, input: str | None = None) -> CliResult:
        runner = CliRunner()
        result = runner.invoke(
            cli, ["--db", database_url, *args], input=input, catch_exceptions=False
        )
        return CliResult(result.exit_code, result.stdout, result.stderr)

    return run


# --------------------------------------------------------------------------
# The tiny district (tests.support.districts.TINY) and the cast, both in the template
# --------------------------------------------------------------------------


@pytest.fixture
def tiny_district(runtime: Runtime, _templates: Templates) -> dict[str, int]:
    """The tiny district is in this test's database; return village code → id."""
    return dict(_templates.village_ids)


@pytest.fixture
def users(tiny_district: dict[str, int], _templates: Templates) -> dict[str, int]:
    """The cast (tests.support.users.CAST) is in this test's database; return username → id."""
    return dict(_templates.user_ids)


@pytest.fixture
def login(client: FlaskClient, users: dict[str, int]) -> Callable[[str], FlaskClient]:
    """Log ``client`` in as one of the cast (CSRF is on: take the token from the form)."""

    def do(username: str) -> FlaskClient:
        resp = log_in(client, username, PASSWORD)
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return do


@pytest.fixture
def standard(runtime: Runtime, tiny_district: dict[str, int]) -> dict[str, int]:
    """The worked example of tests/test_measures.py (see test_village_measures)."""
    ids = tiny_district
    with runtime.session() as s:
        # 南街 (total 10): 9 completed, one of them burns coal again; 1 pending.
        add_many(s, ids[NANJIE], 8, "completed", operation="normal")
        add_many(s, ids[NANJIE], 1, "completed", operation="coal_again")
        add_many(s, ids[NANJIE], 1, "pending")
        # 东街 (total 8): 2 exempt, 6 accepted.
        add_many(s, ids[DONGJIE], 2, "exempt", exempt_reason="空置")
        add_many(s, ids[DONGJIE], 6, "accepted")
        # 上村 (total 20): the ledger lists only the 15 completed households.
        add_many(s, ids[SHANGCUN], 15, "completed")
        # 下村 (no registry total): 8 completed, 2 planned → required from the ledger.
        add_many(s, ids[XIACUN], 8, "completed")
        add_many(s, ids[XIACUN], 2, "planned")
    return ids


@pytest.fixture
def nanjie(runtime: Runtime, tiny_district: dict[str, int]) -> int:
    """南街 heated by the register's sources (``add_district_heated_nanjie``); its id."""
    return add_district_heated_nanjie(runtime, tiny_district)


@pytest.fixture
def map_scene(runtime: Runtime, users: dict[str, int], tiny_district: dict[str, int]) -> None:
    """Four villages in four coverage classes, one with a hostile name, a zone (``add_map_scene``)."""
    add_map_scene(runtime, tiny_district)


# --------------------------------------------------------------------------
# A live server and a real headless browser (Debian's chromium via Playwright)
# --------------------------------------------------------------------------

CHROMIUM = os.environ.get("HEATING_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` with waitress on a free loopback port; yield its base URL."""
    import threading

    from waitress.server import create_server

    from heating.web import server_options

    options = server_options(app.extensions["heating"].config, threads=4)
    server = create_server(app, host="127.0.0.1", port=0, **options)
    port = server.effective_port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"

    # Let queued requests finish first: closing sockets under a busy task raises in its thread.
    deadline = time.monotonic() + 30
    while (server.task_dispatcher.queue or server.task_dispatcher.active_count) and (
        time.monotonic() < deadline
    ):
        time.sleep(0.05)

    # Stop waitress inside its own loop thread: closing its sockets from here while the loop
    # sits in select() raises EBADF in that thread, which pytest reports as an error (seen
    # under load after a browser test with keep-alive connections).  With every socket
    # closed the loop's map is empty and run() returns.
    def stop() -> None:
        for dispatcher in list(server._map.values()):
            dispatcher.close()

    server.trigger.pull_trigger(stop)
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()


@dataclass
class BrowserSession:
    """A Playwright page whose requests leave only for the app; errors are collected."""

    page: object
    blocked: list[str]
    console_errors: list[str]


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """A headless Debian chromium, one per worker; skip with a reason where it is absent.

    Started once (about a second of CPU each time): every test gets its own
    browser context from ``page``, with its own cookies, storage and cache.
    """
    if not Path(CHROMIUM).exists():
        if os.environ.get("HEATING_REQUIRE_BROWSER"):
            pytest.fail(f"chromium not found at {CHROMIUM} but HEATING_REQUIRE_BROWSER is set")
        pytest.skip(f"Debian chromium not installed at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        b = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield b
        b.close()


@pytest.fixture
def page(browser) -> Iterator[BrowserSession]:
    """A fresh page at 1366×768 that refuses every request not to 127.0.0.1 or file://."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True
    )
    blocked: list[str] = []
    errors: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if url.startswith(("http://127.0.0.1", "file://", "data:", "blob:", "about:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield BrowserSession(pg, blocked, errors)
    context.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop an xdist worker's own PostgreSQL database (``_worker_database``) when it is done."""
    if not PG_URL or not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    name = make_url(PG_URL).database
    on_server(make_url(PG_URL), f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------
# Spreading the tests over the xdist workers (--dist loadgroup in pyproject.toml)
# --------------------------------------------------------------------------

# Modules whose tests share one expensive module-scoped fixture: each runs whole on one
# worker, so the fixture is made once (test_demo.py loads the full demo, ≈ 45 s of CPU).
SHARED_FIXTURE_MODULES = frozenset({"tests/test_demo.py"})


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Hand tests out one by one, except the modules of ``SHARED_FIXTURE_MODULES``, whole.

    xdist's own ``xdist_group`` mark is silently ignored under pytest 9.2 (it
    tags node ids through a field pytest no longer reads: pytest-xdist issue
    #1386), which had the demo loaded on both workers; the scheduler here
    groups by the node id's module path, which needs no tagging.
    """
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class ModuleGroups(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            module = nodeid.split("::", 1)[0]
            return module if module in SHARED_FIXTURE_MODULES else nodeid

    return ModuleGroups(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the ``slow`` tests first (stable order otherwise).

    Each takes a minute or more of one core; started last, one of them would
    keep a worker busy after the other has finished.  xdist hands the largest
    group (the demo module) out first, then single tests in this order.
    """
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture
def usage_district(runtime, tiny_district):
    """麟绛街道: 12 judged 煤改电 households; 上村镇: 3 (fewer than min_peers)."""
    v = tiny_district
    with runtime.session() as session:

        def add(village, no, account, **fields):
            fields.setdefault("completed_on", date(2020, 9, 1))
            fields.setdefault("status", "completed")
            status = fields.pop("status")
            write_household(
                session,
                v[village],
                no,
                status,
                route="electric",
                power_account=account,
                ledger_date=LEDGER_DAY,
                **fields,
            )

        for i in range(10):
            add(NANJIE if i < 6 else DONGJIE, f"A{i}", f"10{i}")
        add(DONGJIE, "LOW", "200", operation="normal")  # 200 < 30% of 1000: flagged
        add(DONGJIE, "ZERO", "300", operation="coal_again")  # zero: flagged, lapsed
        add(NANJIE, "NOACC", None)  # judged, no account: no data
        add(NANJIE, "LATE", "400", completed_on=date(2021, 12, 20))  # not judged
        add(NANJIE, "SHORT", "500")  # two months only: no data
        add(SHANGCUN, "B1", "601")
        add(SHANGCUN, "B2", "602")
        add(XIACUN, "B3", "603")
    return v


@pytest.fixture
def usage_imported(run_cli, usage_district, users, tmp_path):
    uses = {f"10{i}": 1000.0 + 10 * i for i in range(10)}
    uses |= {"200": 200.0, "300": 0.0, "400": 10.0, "601": 250.0, "602": 260.0, "603": 270.0}
    result = run_cli(
        "usage", "import", usage_file(tmp_path / "u.xlsx", uses), "--kind", "electric", "--commit"
    )
    assert result.exit_code == 0, result.stderr
    short = usage_file(tmp_path / "s.xlsx", {"500": 0.0}, months=MONTHS[:2])
    assert run_cli("usage", "import", short, "--kind", "electric", "--commit").exit_code == 0
    return uses
