"""The locust users of ``benchmarks/load.py``: planners and city users browsing.

Run by ``load.py`` as ``locust -f benchmarks/load_users.py --headless …`` with
``HEATING_LOAD_PLAN`` naming a JSON file written by ``load.py`` (accounts,
township and village codes, the report year, the think time).  Each simulated
user logs in once through the login form, then opens a page every 5–15 s with
the page mix of issue 17: dashboard 30 %, village lists and pages 25 %,
township maps 15 %, APIs 25 %, report download 5 %.  Requests are named by
page kind (the name is what locust's statistics group by); a response counts
as an error unless it is a 200 of the expected kind (a login page where a
page was asked for, an error page or a report that is not a workbook fail).
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from pathlib import Path
from typing import Any

from locust import HttpUser, between, task

PLAN: dict[str, Any] = json.loads(Path(os.environ["HEATING_LOAD_PLAN"]).read_text("utf-8"))
TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_accounts = itertools.cycle(PLAN["accounts"])

# Page kinds (the names locust groups by) and their share of the visits.
DASHBOARD = "dashboard"
VILLAGE_LIST = "village list"
VILLAGE_PAGE = "village page"
MAP_PAGE = "township map"
MAP_SCRIPT = "township map script"
API_TOWNSHIPS = "api coverage by township"
API_VILLAGES = "api coverage of a township"
API_AS_OF = "api township as of"
API_GEOJSON = "api villages.geojson of a township"
REPORT = "report download"
REPORT_ASK = "report download (each request)"
REPORT_ASKS = 120  # × Refresh 5 s: ten minutes
LOGIN = "login"


class Browser(HttpUser):
    """A planner or city user: logs in, then clicks through the pages with think time."""

    wait_time = between(*PLAN["think"])

    def on_start(self) -> None:
        username, password = next(_accounts)
        # A new connection per request (see load.py's clerks): no keep-alive race counted as an error.
        self.client.headers["Connection"] = "close"
        self.rng = random.Random()
        page = self.client.get("/login", name=LOGIN)
        match = TOKEN_RE.search(page.text)
        data = {"username": username, "password": password, "csrf_token": match and match[1]}
        with self.client.post(
            "/login", data=data, name=LOGIN, allow_redirects=False, catch_response=True
        ) as resp:
            if resp.status_code != 302:
                resp.failure(f"登录失败：{username} 得到 {resp.status_code}")

    def _get(self, url: str, name: str, kind: str = "html") -> None:
        with self.client.get(url, name=name, catch_response=True, allow_redirects=False) as resp:
            ok = resp.status_code == 200
            if ok and kind == "xlsx":
                ok = resp.headers.get("Content-Type", "").startswith(XLSX)
            elif ok and kind == "json":
                ok = "json" in resp.headers.get("Content-Type", "")
            if not ok:
                resp.failure(f"{resp.status_code} {resp.headers.get('Content-Type', '')}")

    def _township(self) -> str:
        return self.rng.choice(PLAN["townships"])

    @task(30)
    def dashboard(self) -> None:
        self._get("/", DASHBOARD)

    @task(10)
    def village_list(self) -> None:
        self._get(f"/villages?township={self._township()}", VILLAGE_LIST)

    @task(15)
    def village_page(self) -> None:
        self._get(f"/villages/{self.rng.choice(PLAN['villages'])}", VILLAGE_PAGE)

    @task(15)
    def township_map(self) -> None:
        # A browser opens the page, then fetches the map's script (Leaflet itself is cached).
        township = self._township()
        self._get(f"/map?township={township}", MAP_PAGE)
        self._get(f"/map/script.js?township={township}", MAP_SCRIPT, "js")

    @task(7)
    def api_townships(self) -> None:
        self._get("/api/coverage?by=township", API_TOWNSHIPS, "json")

    @task(7)
    def api_villages(self) -> None:
        self._get(f"/api/coverage?by=village&township={self._township()}", API_VILLAGES, "json")

    @task(6)
    def api_as_of(self) -> None:
        url = f"/api/coverage?by=village&township={self._township()}&as_of={PLAN['as_of']}"
        self._get(url, API_AS_OF, "json")

    @task(5)
    def api_geojson(self) -> None:
        self._get(f"/api/villages.geojson?township={self._township()}", API_GEOJSON, "json")

    @task(5)
    def report(self) -> None:
        # With several districts a report is one district's (the city's is a CLI command).
        district = f"&district={self.rng.choice(PLAN['districts'])}" if PLAN["districts"] else ""
        url = f"/reports/download?year={PLAN['year']}{district}"
        # A report not built within report_wait_seconds comes as the 报告生成中 page (202,
        # Refresh: 5): as a browser, ask again after the seconds it names until the file comes.
        # Each ask is recorded as REPORT_ASK; the whole wait, to the file, as REPORT.
        started = time.perf_counter()
        failure = None
        for _ in range(REPORT_ASKS):
            with self.client.get(url, name=REPORT_ASK, catch_response=True) as resp:
                if resp.status_code == 202:
                    resp.success()
                    refresh = float(resp.headers.get("Refresh", "5"))
                else:
                    ok = resp.status_code == 200 and resp.headers.get(
                        "Content-Type", ""
                    ).startswith(XLSX)
                    if not ok:  # counted once, as REPORT's failure below
                        failure = f"{resp.status_code} {resp.headers.get('Content-Type', '')}"
                    resp.success()
                    break
            time.sleep(refresh)
        else:
            failure = f"报告 {REPORT_ASKS} 次仍在生成"
        self.environment.events.request.fire(
            request_type="GET",
            name=REPORT,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=RuntimeError(failure) if failure else None,
            context={},
        )
