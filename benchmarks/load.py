"""Load test: planners browsing while two clerks commit large ledgers (issue 17 item 3).

The production setup of README ("PostgreSQL 与生产部署"): the app under
gunicorn with several worker processes on PostgreSQL.  Steps:

1. ``--db`` (a dedicated database: it is emptied) gets the demo district
   (``heating demo``; ``--city`` for ``heating demo --city`` where that command
   exists), the load test's accounts (planners, city users, one clerk for each
   of two townships) and ANALYZE.  ``--reuse`` keeps what a previous run loaded.
   Every run works on copies of it (PostgreSQL: ``CREATE DATABASE … TEMPLATE``;
   SQLite: a file copy), so the commits always meet the same data.
2. Two ledgers of ``--rows`` new households (default 50,000), one per clerk's
   township, written like ``benchmarks/import_ledgers.py`` with the township's
   own village names.
3. *Alone*: on a fresh copy, each clerk in turn uploads its ledger through the
   web form, waits for the preview, commits, and waits for the commit
   (``/imports`` → ``/imports/jobs/…`` → ``/imports/<batch>/commit``), nothing
   else running.
4. *Under load*: on another fresh copy, ``--users`` simulated planners and
   city users (locust, headless, ``benchmarks/load_users.py``) browse for
   ``--minutes`` with 5–15 s think time and the page mix dashboard 30 %,
   village lists and pages 25 %, township maps 15 %, APIs 25 %, report
   download 5 %; a fifth into the run both clerks start at once.
5. Prints requests/s, p50/p95/p99 per page kind (as the users saw them), the
   app's CPU per request by page kind (gunicorn hooks in ``load_gunicorn.py``:
   on a shared machine the figure that sizes a server), errors, each clerk's preview
   and commit time under load against alone (goal: ≤ 2 ×), whether both
   commits landed (batch committed, every row a new household) and whether
   the counts every page shows (``heating.village_facts``) equal a replay of
   the household history (each household's newest live version by ledger
   date, recorded time and id — the definition ``tests/test_history.py`` and
   ``tests/test_measures.py`` test against).  Goals: 0 errors, p95 ≤ 1 s for
   every page kind but the report download.

Usage::

    pip install -e ".[bench]"
    python benchmarks/load.py --db postgresql+psycopg://postgres@127.0.0.1/heating_load
    python benchmarks/load.py --db … --users 10 --minutes 1 --reuse     # a quick run
    python benchmarks/load.py --db … --city                            # the generated city

The machine's load average is printed at the start and the end: on a shared
machine the wall times mean little without it.

One file of ~850 lines on purpose: a script that is run, never imported, whose steps
(load, ledgers, alone, under load, report) read top to bottom as the run goes; its
locust users and gunicorn hooks are the separate modules that other processes import.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

# The ledger's columns, statuses and routes as the import benchmark writes them.
from import_ledgers import HEADER, ROUTES, STATUSES, WEIGHTS  # noqa: E402

HERE = Path(__file__).resolve().parent
PASSWORD = "load-test-2021-pw"
LEDGER_DATE = "2022-10-31"  # after the demo's last ledger (2021-10-31)
REPORT_KIND = "report download"
LOGIN_KIND = "login"
# heating.figures_warmup's line when a worker's start-up computation ends.
WARM_MARK = "figures warm:"
P95_GOAL_MS = 1000
COMMIT_RATIO_GOAL = 2.0  # a clerk's commit under load ÷ the same commit alone
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --------------------------------------------------------------------------
# The data: a pristine database, copies of it, the ledgers
# --------------------------------------------------------------------------


@dataclass
class Plan:
    """What the simulated users and the clerks work with."""

    accounts: list[tuple[str, str]]
    clerks: list[tuple[str, str, str]]  # (username, township code, township name)
    townships: list[str]
    villages: list[str]
    districts: list[str]
    year: int
    as_of: str
    households: int

    def locust_plan(self, think: tuple[float, float]) -> dict[str, Any]:
        return {
            "accounts": self.accounts,
            "townships": self.townships,
            "villages": self.villages,
            "districts": self.districts if len(self.districts) > 1 else [],
            "year": self.year,
            "as_of": self.as_of,
            "think": list(think),
        }


def server_env(url: str, key_file: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HEATING_DATABASE_URL=url, HEATING_ENCRYPTION_KEY_FILE=str(key_file))
    env["HEATING_COMPUTE_FIGURES_AHEAD"] = "true"  # the production default, whatever the caller's
    env.pop("HEATING_CONFIG", None)
    return env


def load_dataset(url: str, key_file: Path, *, city: bool, reuse: bool, workdir: Path) -> None:
    """Empty ``url`` and load the demo (``--city``: the city demo) into it, unless reused."""
    from heating.db import make_engine, upgrade
    from heating.models import Base, Household

    engine = make_engine(url)
    upgrade(engine)
    with engine.connect() as conn:
        held = conn.scalar(select(func.count()).select_from(Household))
    if reuse and held:
        engine.dispose()
        print(f"保留已加载的数据：{held:,} 户")
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(t.name for t in Base.metadata.sorted_tables if t.name != "meta")
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                if table.name != "meta":
                    conn.execute(table.delete())
    engine.dispose()
    command = ["heating", "demo"] + (["--city"] if city else [])
    start = time.perf_counter()
    subprocess.run(
        command,
        env=server_env(url, key_file),
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"{' '.join(command)}：{time.perf_counter() - start:.0f} s")


def city_available() -> bool:
    """Whether this checkout's ``heating demo`` has ``--city`` (issue 17 item 2)."""
    out = subprocess.run(["heating", "demo", "--help"], capture_output=True, text=True)
    return "--city" in out.stdout


def make_plan(runtime: Any, users: int, rows: int) -> Plan:
    """Accounts for the simulated users and two clerks of the two largest townships."""
    from heating.history.span import last_ledger_date
    from heating.models import District, Household, Township, User, Village
    from heating.users import create_user

    with runtime.session() as session:
        by_size = session.execute(
            select(Township.code, Township.name, func.count(Village.id))
            .join(Village, Village.township_id == Township.id)
            .group_by(Township.code, Township.name)
            .order_by(func.count(Village.id).desc(), Township.code)
        ).all()
        accounts = []
        for i in range(max(2, min(users, 20))):  # a few users share an account, as colleagues do
            role = "planner" if i % 2 == 0 else "city"
            name = f"load_{role}_{i // 2 + 1}"
            accounts.append((name, PASSWORD))
            if session.scalar(select(User.id).where(User.username == name)) is None:
                create_user(session, name, role, PASSWORD)
        clerks = []
        for i, (code, name, _) in enumerate(by_size[:2]):
            username = f"load_clerk_{i + 1}"
            if session.scalar(select(User.id).where(User.username == username)) is None:
                create_user(session, username, "clerk", PASSWORD, code)
            clerks.append((username, code, name))
        villages = list(session.scalars(select(Village.code).order_by(Village.code)))
        districts = list(session.scalars(select(District.code).order_by(District.code)))
        last = last_ledger_date(session) or date.today()
        households = session.scalar(select(func.count()).select_from(Household)) or 0
    return Plan(
        accounts=accounts,
        clerks=clerks,
        townships=[code for code, _, _ in by_size],
        villages=villages,
        districts=districts,
        year=last.year,
        as_of=date(last.year - 1, 12, 31).isoformat(),
        households=households,
    )


def copy_database(url: str, name: str) -> str:
    """A fresh copy of the database at ``url`` under ``name`` (dropped first if it exists)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        target = Path(parsed.database).with_name(f"{name}.db")
        shutil.copyfile(parsed.database, target)
        return str(parsed.set(database=str(target)))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database).unlink(missing_ok=True)
        return
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def id_number(n: int) -> str:
    """A valid 18-digit ID number (GB 11643 check digit), distinct for each n < 3,650,000."""
    born = date(1930, 1, 1).toordinal() + n // 1000
    body = f"140405{date.fromordinal(born):%Y%m%d}{n % 1000:03d}"
    total = sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True))
    return body + "10X98765432"[total % 11]


def write_ledger(path: Path, township: str, villages: list[str], rows: int, first: int) -> None:
    """A township ledger of ``rows`` new households (numbers from ``first``) over ``villages``."""
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    ws = wb.add_worksheet("台账")
    ws.write_row(0, 0, [f"{township}清洁取暖改造台账（负载测试生成）"])
    ws.write_row(1, 0, HEADER)
    for i in range(rows):
        n = first + i
        village = villages[i % len(villages)]
        status = STATUSES[n % len(STATUSES)]
        done = status in ("已完工", "已验收")
        row = [
            i + 1,
            village,
            f"FZ{n:08d}",
            f"户主{n}",
            id_number(n),
            f"139{n:08d}",
            f"{village}{n % 500}号",
            1 + n % 6,
            status,
            ROUTES[n % len(ROUTES)] if status != "未改造" else None,
            "空气源热泵" if n % 4 == 0 else None,
            f"2022-{1 + n % 9:02d}-{1 + n % 28:02d}" if done else None,
            24000 if done else None,
            1200 if done else None,
            None,
        ]
        for c, value in enumerate(row):
            if value is None:
                continue
            if isinstance(value, str):
                ws.write_string(i + 2, c, value)
            else:
                ws.write_number(i + 2, c, value)
    wb.close()


def write_ledgers(runtime: Any, plan: Plan, rows: int, workdir: Path) -> list[Path]:
    from heating.models import Township, Village

    paths = []
    with runtime.session() as session:
        for i, (_, code, name) in enumerate(plan.clerks):
            path = workdir / f"{code}_{name}_{rows}户.xlsx"
            if not path.exists():
                villages = list(
                    session.scalars(
                        select(Village.name)
                        .join(Township, Village.township_id == Township.id)
                        .where(Township.code == code)
                        .order_by(Village.code)
                    )
                )
                write_ledger(path, name, villages, rows, first=i * rows)
            paths.append(path)
    return paths


# --------------------------------------------------------------------------
# The server and the clerks
# --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """gunicorn with ``workers`` processes (× ``threads``) on ``url``, as README runs it."""

    def __init__(self, url: str, key_file: Path, workdir: Path, workers: int, threads: int):
        self.workers = workers
        self.warm_s: float | None = None
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(workers),
            "--timeout",
            "120",
            "-c",
            str(HERE / "load_gunicorn.py"),
            "-b",
            f"127.0.0.1:{self.port}",
            "--access-logfile",
            "-",
            "--access-logformat",
            '%(t)s %(p)s "%(r)s" %(s)s %(B)s %(M)sms',
        ]
        if threads > 1:
            command += ["-k", "gthread", "--threads", str(threads)]
        command.append("heating.web:create_app()")
        self.url = url
        self.log_path = workdir / f"gunicorn-{self.port}.log"
        self.log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            command,
            env=server_env(url, key_file),
            cwd=workdir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def __enter__(self) -> Server:
        try:
            self._wait_until_up()
            self._wait_until_warm()
        except BaseException:
            self.__exit__()  # never leave a server behind
            raise
        return self

    def _wait_until_up(self) -> None:
        import requests

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn 未能启动，见 {self.log.name}")
            try:
                if requests.get(f"{self.base}/login", timeout=120).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise SystemExit(f"gunicorn 120 s 内未响应，见 {self.log.name}")

    def _wait_until_warm(self) -> None:
        """Wait for every worker's start-up computation of the districts' figures
        (``heating.figures_warmup``, logged at INFO through ``load_gunicorn.post_fork``):
        users arrive at a server that has started, as they do in production.  Only where
        figures are shared (PostgreSQL): elsewhere nothing is computed at start."""
        if not self.url.startswith("postgresql"):
            return
        started = time.monotonic()
        while time.monotonic() - started < 300:
            self.log.flush()
            text = self.log_path.read_text("utf-8", errors="replace")
            if text.count(WARM_MARK) >= self.workers:
                self.warm_s = time.monotonic() - started
                return
            time.sleep(0.5)
        raise SystemExit(f"启动预热 300 s 内未完成，见 {self.log.name}")

    def __exit__(self, *exc: object) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@dataclass
class ClerkRun:
    """One clerk's upload, preview and commit through the web app."""

    username: str
    township: str
    rows: int
    preview_s: float | None = None
    commit_s: float | None = None
    batch_id: int | None = None
    error: str | None = None
    started_at: float = 0.0

    @property
    def total_s(self) -> float | None:
        if self.preview_s is None or self.commit_s is None:
            return None
        return self.preview_s + self.commit_s


def _csrf(html: str) -> str:
    match = TOKEN_RE.search(html)
    if not match:
        raise RuntimeError("页面上没有 CSRF 令牌")
    return match[1]


def _wait_for_job(session: Any, base: str, location: str, timeout: float) -> int:
    """Follow a job's progress page until it sends the clerk to its batch; the batch id."""
    deadline = time.monotonic() + timeout
    url = location if location.startswith("http") else base + location
    while time.monotonic() < deadline:
        resp = session.get(url, allow_redirects=False, timeout=120)
        if resp.status_code == 302:
            target = resp.headers["Location"]
            match = re.search(r"/imports/(\d+)$", target.split("?")[0])
            if not match:
                raise RuntimeError(f"进度页跳转到意外的地址 {target}")
            return int(match[1])
        if resp.status_code != 200 or 'id="job-failed"' in resp.text:
            found = re.search(r"<strong>.*?</strong>(.*?)\s*</p>", resp.text, re.S)
            raise RuntimeError(f"任务失败（{resp.status_code}）：{found[1] if found else url}")
        time.sleep(1.0)
    raise RuntimeError(f"任务 {timeout:.0f} s 内未完成：{url}")


def clerk_commit(base: str, username: str, township: str, ledger: Path, rows: int) -> ClerkRun:
    """Log in as the clerk, upload the ledger, wait for the preview, commit, wait."""
    import requests

    run = ClerkRun(username, township, rows, started_at=time.monotonic())
    try:
        with requests.Session() as http:
            # A new connection per request: a reused one that the server's keep-alive timer
            # closes at the moment a request goes out is reset (a browser would resend it).
            http.headers["Connection"] = "close"
            page = http.get(f"{base}/login", timeout=120)
            resp = http.post(
                f"{base}/login",
                data={"username": username, "password": PASSWORD, "csrf_token": _csrf(page.text)},
                allow_redirects=False,
                timeout=120,
            )
            if resp.status_code != 302:
                raise RuntimeError(f"填报员 {username} 登录失败：{resp.status_code}")
            form = http.get(f"{base}/imports", timeout=120)
            start = time.perf_counter()
            with ledger.open("rb") as fh:
                resp = http.post(
                    f"{base}/imports",
                    data={"csrf_token": _csrf(form.text), "ledger_date": LEDGER_DATE},
                    files={"file": (ledger.name, fh)},
                    allow_redirects=False,
                    timeout=120,
                )
            if resp.status_code != 302:
                raise RuntimeError(f"上传未被接受：{resp.status_code}")
            run.batch_id = _wait_for_job(http, base, resp.headers["Location"], 1800)
            run.preview_s = time.perf_counter() - start
            shown = http.get(f"{base}/imports/{run.batch_id}", timeout=120)
            start = time.perf_counter()
            resp = http.post(
                f"{base}/imports/{run.batch_id}/commit",
                data={"csrf_token": _csrf(shown.text), "mode": "strict"},
                allow_redirects=False,
                timeout=120,
            )
            if resp.status_code != 302 or "/imports/jobs/" not in resp.headers["Location"]:
                raise RuntimeError(f"写入未开始：{resp.status_code} {resp.headers.get('Location')}")
            _wait_for_job(http, base, resp.headers["Location"], 1800)
            run.commit_s = time.perf_counter() - start
    except Exception as exc:  # reported, and counted as a failed commit
        run.error = f"{type(exc).__name__}: {exc}"
    return run


def clerks_at_once(base: str, plan: Plan, ledgers: list[Path], rows: int) -> list[ClerkRun]:
    results: list[ClerkRun | None] = [None] * len(ledgers)

    def one(i: int) -> None:
        username, code, _ = plan.clerks[i]
        results[i] = clerk_commit(base, username, code, ledgers[i], rows)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(ledgers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


# --------------------------------------------------------------------------
# The browsing users (locust) and what they measured
# --------------------------------------------------------------------------


@dataclass
class PageStats:
    kind: str
    requests: int
    failures: int
    p50: float
    p95: float
    p99: float
    rps: float


@dataclass
class LoadResult:
    pages: list[PageStats]
    total: PageStats
    failures: list[str] = field(default_factory=list)


def start_locust(
    base: str, plan_file: Path, users: int, seconds: int, csv_prefix: Path, spawn_seconds: float
) -> subprocess.Popen[bytes]:
    env = dict(os.environ, HEATING_LOAD_PLAN=str(plan_file))
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(HERE / "load_users.py"),
        "--headless",
        "--host",
        base,
        "-u",
        str(users),
        "-r",
        f"{max(users / spawn_seconds, 0.1):.3f}",
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "30",
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    log = csv_prefix.with_suffix(".log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def read_locust(csv_prefix: Path) -> LoadResult:
    """Per page kind: requests, failures, p50/p95/p99 (ms) and requests/s from locust's CSV."""

    def number(value: str) -> float:
        return float(value) if value not in ("", "N/A") else 0.0

    pages, total = [], None
    with Path(f"{csv_prefix}_stats.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            # locust keeps GET and POST of one name apart (the login form and its post)
            kind = row["Name"]
            if kind == LOGIN_KIND and row.get("Type"):
                kind = f"{kind} ({row['Type']})"
            stats = PageStats(
                kind=kind,
                requests=int(row["Request Count"]),
                failures=int(row["Failure Count"]),
                p50=number(row["50%"]),
                p95=number(row["95%"]),
                p99=number(row["99%"]),
                rps=number(row["Requests/s"]),
            )
            if row["Name"] == "Aggregated":
                total = stats
            else:
                pages.append(stats)
    failures = []
    failures_csv = Path(f"{csv_prefix}_failures.csv")
    if failures_csv.exists():
        with failures_csv.open(encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                failures.append(f"{row['Name']}: {row['Error']} × {row['Occurrences']}")
    if total is None:
        total = PageStats("Aggregated", 0, 0, 0, 0, 0, 0)
    return LoadResult(pages, total, failures)


def page_kind(method: str, uri: str) -> str:
    """The locust name (``load_users.py``) of a request the server logged."""
    path, _, query = uri.partition("?")
    if method != "GET":
        return "clerk or login"
    if path == "/":
        return "dashboard"
    if path == "/villages":
        return "village list"
    if path.startswith("/villages/"):
        return "village page"
    if path == "/map":
        return "township map"
    if path == "/map/script.js":
        return "township map script"
    if path == "/api/coverage":
        if "by=township" in query:
            return "api coverage by township"
        return "api township as of" if "as_of=" in query else "api coverage of a township"
    if path == "/api/villages.geojson":
        return "api villages.geojson of a township"
    if path == "/reports/download":
        return REPORT_KIND
    return "clerk or login"


def read_cpu(log: Path) -> dict[str, list[float]]:
    """Milliseconds of app CPU per request, by page kind, from the server's log."""
    pattern = re.compile(r"request-cpu (\S+) (\S+) ([\d.]+)$")
    spent: dict[str, list[float]] = {}
    for line in log.read_text("utf-8", errors="replace").splitlines():
        match = pattern.search(line)
        if match:
            spent.setdefault(page_kind(match[1], match[2]), []).append(float(match[3]))
    return spent


def print_cpu(spent: dict[str, list[float]], seconds: float) -> None:
    print(f"{'app CPU per request (server side)':<36} {'n':>5} {'median':>8} {'p95':>8}")
    total = 0.0
    for kind in sorted(spent):
        values = sorted(spent[kind])
        total += sum(values)
        p95 = values[min(len(values) - 1, int(0.95 * len(values)))]
        print(f"{kind:<36} {len(values):>5} {statistics.median(values):>6.0f}ms {p95:>6.0f}ms")
    print(
        f"app CPU of the requests: {total / 1000:.0f} s in {seconds:.0f} s = {total / 1000 / seconds:.2f} cores"
    )


# --------------------------------------------------------------------------
# After the run: did both commits land, and do the counts equal a replay?
# --------------------------------------------------------------------------

REPLAY = text(
    """
    SELECT village_id,
           count(*) AS ledger_rows,
           sum(CASE WHEN status = 'exempt' THEN 1 ELSE 0 END) AS exempt,
           sum(CASE WHEN status IN ('completed', 'accepted') THEN 1 ELSE 0 END) AS clean,
           sum(CASE WHEN status IN ('completed', 'accepted')
                     AND operation IN ('coal_again', 'abandoned') THEN 1 ELSE 0 END) AS lapsed
    FROM (
        SELECT village_id, active, status, operation,
               row_number() OVER (PARTITION BY household_id
                                  ORDER BY ledger_date DESC, recorded_at DESC, id DESC) AS newest
        FROM household_versions
        WHERE retracted_at IS NULL
    ) AS v
    WHERE newest = 1 AND active
    GROUP BY village_id
    """
)


def replay_matches(runtime: Any) -> tuple[bool, list[str]]:
    """Compare the counts the pages show with a replay of every household's versions."""
    from heating.village_facts import village_facts

    with runtime.session() as session:
        replayed = {
            r.village_id: (r.ledger_rows, r.exempt, r.clean, r.lapsed)
            for r in session.execute(REPLAY)
        }
        shown = {
            f.village_id: (f.ledger_rows, f.exempt, f.clean, f.lapsed)
            for f in village_facts(session, heat_source_rule="warn")
        }
    differ = []
    for village_id, counts in shown.items():
        expected = replayed.get(village_id, (0, 0, 0, 0))
        if counts != expected:
            differ.append(f"村 id {village_id}：页面 {counts} ≠ 重放 {expected}")
    return not differ, differ


def landed(runtime: Any, run: ClerkRun) -> tuple[bool, str]:
    """Whether the clerk's batch is committed with every row a new household."""
    from heating.models import HouseholdVersion, ImportBatch

    if run.batch_id is None:
        return False, run.error or "没有批次"
    with runtime.session() as session:
        batch = session.get(ImportBatch, run.batch_id)
        created = session.scalar(
            select(func.count())
            .select_from(HouseholdVersion)
            .where(HouseholdVersion.batch_id == run.batch_id, HouseholdVersion.change == "create")
        )
        status = batch.status if batch else "无"
    ok = status == "committed" and created == run.rows
    return ok, f"批次 {run.batch_id} 状态 {status}，新增 {created:,} 户（应为 {run.rows:,}）"


# --------------------------------------------------------------------------
# The whole test
# --------------------------------------------------------------------------


def load_average() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def held_to_p95(kind: str) -> bool:
    """Whether a page kind has the p95 goal (the report download and the login do not)."""
    return not kind.startswith((REPORT_KIND, LOGIN_KIND))


def missed_goals(
    result: LoadResult,
    errors: int,
    same: bool,
    commits: list[tuple[bool, str]],
    ratios: list[float | None],
) -> list[str]:
    """Every goal of issue 17's load test the run missed, in words (empty: all met).

    The exit status follows this list, so a script (or CI) reading it sees the goals the
    table shows: 0 errors, p95 ≤ 1 s for every page kind but the report download, both
    commits landed within ``COMMIT_RATIO_GOAL`` × their time alone, counts equal a replay.
    """
    missed = [
        f"{p.kind} p95 {p.p95:.0f} ms > {P95_GOAL_MS} ms"
        for p in sorted(result.pages, key=lambda p: p.kind)
        if held_to_p95(p.kind) and p.p95 > P95_GOAL_MS
    ]
    if errors:
        missed.append(f"错误 {errors} 个")
    if not same:
        missed.append("覆盖率与历史重放不一致")
    missed += [f"未写入：{what}" for ok, what in commits if not ok]
    missed += [
        f"写入为单独的 {ratio:.2f} × > {COMMIT_RATIO_GOAL:.0f} ×"
        for ratio in ratios
        if ratio is not None and ratio > COMMIT_RATIO_GOAL
    ]
    return missed


def print_pages(result: LoadResult, seconds: float) -> None:
    print(f"{'page kind':<36} {'requests':>8} {'errors':>6} {'p50':>7} {'p95':>7} {'p99':>7}")
    for p in sorted(result.pages, key=lambda p: p.kind):
        mark = ""
        if held_to_p95(p.kind):
            mark = "  ✓" if p.p95 <= P95_GOAL_MS else "  ✗ p95 > 1 s"
        print(
            f"{p.kind:<36} {p.requests:>8} {p.failures:>6} {p.p50:>5.0f}ms {p.p95:>5.0f}ms "
            f"{p.p99:>5.0f}ms{mark}"
        )
    t = result.total
    print(
        f"{'all':<36} {t.requests:>8} {t.failures:>6} {t.p50:>5.0f}ms {t.p95:>5.0f}ms "
        f"{t.p99:>5.0f}ms   {t.requests / seconds:.2f} requests/s"
    )
    for line in result.failures[:20]:
        print(f"  错误：{line}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="PostgreSQL (or SQLite) URL; it is emptied")
    parser.add_argument("--users", type=int, default=50, help="simulated planners and city users")
    parser.add_argument("--minutes", type=float, default=5.0, help="how long they browse")
    parser.add_argument("--rows", type=int, default=50_000, help="rows of each clerk's ledger")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per worker (gthread; 1: sync workers)"
    )
    parser.add_argument("--think", default="5,15", help="think time between clicks, s (min,max)")
    parser.add_argument("--city", action="store_true", help="the city demo (heating demo --city)")
    parser.add_argument("--reuse", action="store_true", help="keep the data a previous run loaded")
    parser.add_argument("--skip-alone", action="store_true", help="do not time the commits alone")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "heating-load",
        help="ledgers, key file, logs (kept between runs)",
    )
    args = parser.parse_args(argv)
    think = tuple(float(x) for x in args.think.split(","))
    if args.city and not city_available():
        raise SystemExit(
            "此版本的 heating demo 还没有 --city（城市演示数据）：去掉 --city 用区县演示。"
        )
    workdir = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    base_name = make_url(args.db).database
    key_file = workdir / f"{Path(base_name).stem}.key"
    os.environ["HEATING_ENCRYPTION_KEY_FILE"] = str(key_file)
    os.environ.pop("HEATING_CONFIG", None)
    from heating.runtime import open_runtime

    print(f"load average {load_average()} at start")
    load_dataset(args.db, key_file, city=args.city, reuse=args.reuse, workdir=workdir)
    runtime = open_runtime(database_url=args.db)
    plan = make_plan(runtime, args.users, args.rows)
    if runtime.engine.dialect.name == "postgresql":
        with runtime.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
            # The server's memory settings decide whether the pages are read from its own
            # buffers or again and again from the OS (README, "PostgreSQL and production").
            shown = {
                name: conn.execute(text(f"SHOW {name}")).scalar()
                for name in ("shared_buffers", "work_mem", "effective_cache_size")
            }
            size = conn.execute(text("SELECT pg_size_pretty(pg_database_size(current_database()))"))
            print(
                "PostgreSQL：" + "，".join(f"{k} {v}" for k, v in shown.items()),
                f"；数据库 {size.scalar()}",
            )
    ledgers = write_ledgers(runtime, plan, args.rows, workdir)
    runtime.engine.dispose()
    print(
        f"数据：{len(plan.villages):,} 村，{len(plan.townships)} 个乡镇，{plan.households:,} 户；"
        f"填报员 {', '.join(f'{u}（{n} {c}）' for u, c, n in plan.clerks)} 各写入 {args.rows:,} 户"
    )
    stem = Path(base_name).stem

    alone: list[ClerkRun] = []
    if not args.skip_alone:
        url = copy_database(args.db, f"{stem}_alone")
        try:
            with Server(url, key_file, workdir, args.workers, args.threads) as server:
                for (username, code, _), ledger in zip(plan.clerks, ledgers, strict=True):
                    alone.append(clerk_commit(server.base, username, code, ledger, args.rows))
        finally:
            drop_database(url)
        for run in alone:
            print(
                f"单独：{run.username} 预览 {run.preview_s or 0:.1f} s，写入 {run.commit_s or 0:.1f} s"
                + (f"，失败：{run.error}" if run.error else "")
            )

    seconds = int(args.minutes * 60)
    url = copy_database(args.db, f"{stem}_run")
    plan_file = workdir / "plan.json"
    plan_file.write_text(json.dumps(plan.locust_plan(think), ensure_ascii=False), "utf-8")
    csv_prefix = workdir / f"locust-{int(time.time())}"
    loads: list[str] = []
    with Server(url, key_file, workdir, args.workers, args.threads) as server:
        if server.warm_s is not None:
            print(f"启动预热（各区县村级数字）：{server.warm_s:.1f} s 后开始模拟用户")
        started = time.monotonic()
        locust = start_locust(
            server.base, plan_file, args.users, seconds, csv_prefix, min(30, seconds / 5)
        )
        time.sleep(seconds / 5)
        loads.append(load_average())
        under_load = clerks_at_once(server.base, plan, ledgers, args.rows)
        loads.append(load_average())
        locust.wait()
        elapsed = time.monotonic() - started
        loads.append(load_average())
    result = read_locust(csv_prefix)
    spent = read_cpu(server.log_path)

    runtime = open_runtime(database_url=url)
    commits = [landed(runtime, run) for run in under_load]
    same, differ = replay_matches(runtime)
    runtime.engine.dispose()

    print("")
    print(
        f"{args.users} 个用户浏览 {seconds} s（思考 {think[0]:g}–{think[1]:g} s），"
        f"gunicorn {args.workers} 进程 × {args.threads} 线程，{make_url(args.db).get_backend_name()}；"
        f"load average（1/5/15 min）在填报员开始、写入完成、结束时：{'；'.join(loads)}"
    )
    print_pages(result, seconds)
    print_cpu(spent, elapsed)
    errors = result.total.failures + sum(1 for r in under_load if r.error)
    print(
        f"错误：{errors}（页面 {result.total.failures}，填报员 {sum(1 for r in under_load if r.error)}）"
    )
    ratios: list[float | None] = []
    for run, (ok, what) in zip(under_load, commits, strict=True):
        alone_run = next((a for a in alone if a.username == run.username), None)
        timed = alone_run is not None and alone_run.commit_s and run.commit_s
        share = run.commit_s / alone_run.commit_s if timed else None
        ratios.append(share)
        ratio = ""
        if share is not None:
            ratio = (
                f"；单独 {alone_run.preview_s:.1f} + {alone_run.commit_s:.1f} s，"
                f"写入为单独的 {share:.2f} ×，"
                f"预览+写入为 {run.total_s / alone_run.total_s:.2f} ×"
            )
        print(
            f"{run.username}（{run.township}）负载下 预览 {run.preview_s or 0:.1f} s + "
            f"写入 {run.commit_s or 0:.1f} s{ratio}；{'已写入' if ok else '未写入'}：{what}"
            + (f"；{run.error}" if run.error else "")
        )
    print(
        f"覆盖率与历史重放一致：{'是' if same else '否'}" + "".join(f"\n  {d}" for d in differ[:10])
    )
    print(f"（locust 统计 {csv_prefix}_stats.csv；实际时长 {elapsed:.0f} s）")
    drop_database(url)
    missed = missed_goals(result, errors, same, commits, ratios)
    print("目标：全部达到" if not missed else "目标未达到：" + "；".join(missed))
    return 0 if not missed else 1


if __name__ == "__main__":
    sys.exit(main())
