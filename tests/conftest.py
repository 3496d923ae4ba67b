"""Shared fixtures: a real database per test, the app, a client, a CLI runner, a cast.

SQLite by default: the schema is migrated once into a template file and
copied per test.  With ``HEATING_TEST_DATABASE_URL`` set to a PostgreSQL URL
the same tests run there: the schema is migrated once per session and every
table is emptied before each test.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from shapely.geometry import box
from sqlalchemy import text

from heating.db import ensure_meta, make_engine, upgrade
from heating.models import Base, District, Township, Village
from heating.runtime import Runtime, open_runtime

PG_URL = os.environ.get("HEATING_TEST_DATABASE_URL", "").strip()
PASSWORD = "correct-horse-1"


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database to start every test from (file path or PG URL)."""
    if PG_URL:
        engine = make_engine(PG_URL)
        upgrade(engine)
        engine.dispose()
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return str(path)


@pytest.fixture
def database_url(_template_db: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated database for this test."""
    if PG_URL:
        engine = make_engine(PG_URL)
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        ensure_meta(engine)
        engine.dispose()
        yield PG_URL
        return
    path = tmp_path / "heating.db"
    shutil.copyfile(_template_db, path)
    yield f"sqlite:///{path}"


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    rt = open_runtime(database_url=database_url)
    yield rt
    rt.engine.dispose()


@pytest.fixture
def app(runtime: Runtime) -> Flask:
    from heating.web import create_app

    flask_app = create_app(runtime=runtime)
    flask_app.config.update(TESTING=True)
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
# A tiny hand-built district: 2 townships, 4 villages, unit-square polygons
# --------------------------------------------------------------------------

TINY = {
    "district": ("140405", "屯留区"),
    "townships": [("140405001", "麟绛街道", True), ("140405101", "上村镇", False)],
    # code, name, township, category, total households, polygon (lon/lat box)
    "villages": [
        (
            "140405001201",
            "南街村委会",
            "140405001",
            "county_core",
            10,
            (112.80, 36.30, 112.81, 36.31),
        ),
        ("140405001202", "东街村委会", "140405001", "fringe", 8, (112.81, 36.30, 112.82, 36.31)),
        ("140405101201", "上村村委会", "140405101", "rural", 20, (112.82, 36.30, 112.83, 36.31)),
        ("140405101202", "下村村委会", "140405101", "rural", None, (112.83, 36.30, 112.84, 36.31)),
    ],
}


@pytest.fixture
def tiny_district(runtime: Runtime) -> dict[str, int]:
    """Load TINY into the database; return village code → id."""
    ids: dict[str, int] = {}
    with runtime.session() as session:
        district = District(
            code=TINY["district"][0], name=TINY["district"][1], seat_township_code="140405001"
        )
        session.add(district)
        session.flush()
        townships = {}
        for code, name, seat in TINY["townships"]:
            t = Township(code=code, name=name, district_id=district.id, is_seat=seat)
            session.add(t)
            townships[code] = t
        session.flush()
        for code, name, tcode, cat, total, bounds in TINY["villages"]:
            v = Village(
                code=code,
                name=name,
                township_id=townships[tcode].id,
                category=cat,
                total_households=total,
                geometry=box(*bounds).wkb,
            )
            session.add(v)
            session.flush()
            ids[code] = v.id
    return ids


# --------------------------------------------------------------------------
# The cast: one user per role, clerks of two townships
# --------------------------------------------------------------------------

CAST = {
    "alice": ("admin", None),
    "bob": ("clerk", "140405001"),
    "carol": ("clerk", "140405101"),
    "dave": ("planner", None),
    "erin": ("city", None),
}


@pytest.fixture
def users(runtime: Runtime, tiny_district: dict[str, int]) -> dict[str, int]:
    """Create the cast in the tiny district; return username → user id."""
    from heating.users import create_user

    ids = {}
    with runtime.session() as session:
        for name, (role, township) in CAST.items():
            ids[name] = create_user(session, name, role, PASSWORD, township).id
    return ids


@pytest.fixture
def login(client: FlaskClient, users: dict[str, int]) -> Callable[[str], FlaskClient]:
    """Log ``client`` in as one of the cast (CSRF is on: take the token from the form)."""
    import re

    def do(username: str) -> FlaskClient:
        page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
        resp = client.post(
            "/login", data={"username": username, "password": PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 302, resp.get_data(as_text=True)
        return client

    return do


# --------------------------------------------------------------------------
# A live server and a real headless browser (Debian's chromium via Playwright)
# --------------------------------------------------------------------------

CHROMIUM = os.environ.get("HEATING_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    """Serve ``app`` with waitress on a free loopback port; yield its base URL."""
    import threading

    from waitress.server import create_server

    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    port = server.effective_port
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    # waitress' loop does not return on close(); the daemon thread ends with the process.
    server.close()


@dataclass
class BrowserSession:
    """A Playwright page whose requests leave only for the app; errors are collected."""

    page: object
    blocked: list[str]
    console_errors: list[str]


@pytest.fixture
def browser() -> Iterator[object]:
    """A headless Debian chromium; skip with a reason where it is absent (never in CI)."""
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
def page(browser) -> Iterator[BrowserSession]:  # noqa: ANN001
    """A fresh page at 1366×768 that refuses every request not to 127.0.0.1 or file://."""
    context = browser.new_context(
        viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True
    )
    blocked: list[str] = []
    errors: list[str] = []

    def guard(route) -> None:  # noqa: ANN001
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
