"""HTTP hardening: headers on every page type, ``next`` after login, bad query values, body limit."""

from __future__ import annotations

import contextlib
import re
import socket
import time
from datetime import date
from urllib.parse import quote, urlsplit

import pytest
from flask.testing import FlaskClient

from heating.runtime import Runtime
from tests.support.districts import NANJIE
from tests.support.households import add_households_by_status
from tests.support.ledgers import add_batch
from tests.support.users import PASSWORD
from tests.support.web import csrf_token, log_in, post

# (who, path, expected status): one of each kind of response the app gives.
PAGES = [
    (None, "/login", 200),
    (None, "/", 302),
    (None, "/api/coverage", 401),
    (None, "/static/app.css", 200),
    ("alice", "/", 200),
    ("alice", "/villages", 200),
    ("alice", f"/villages/{NANJIE}", 200),
    ("alice", "/imports", 200),
    ("alice", "batch", 200),
    ("alice", "/zones", 200),
    ("alice", "/zones/download/geojson", 200),
    ("alice", "/map", 200),
    ("alice", "/map/script.js", 200),
    ("alice", "/reports", 200),
    ("alice", "/reports/download?year=2021", 200),
    ("alice", "/template?township=140405001", 200),
    ("alice", "/admin/users", 200),
    ("alice", "/admin/audit", 200),
    ("alice", "/admin/registry", 200),
    ("alice", "/account", 200),
    ("alice", "/api/coverage?by=township", 200),
    ("alice", "/api/villages.geojson", 200),
    ("alice", "/no/such/page", 404),
    ("alice", "/api/coverage?by=river", 400),
    ("bob", "/admin/users", 403),
]


@pytest.fixture
def scene(runtime: Runtime, tiny_district: dict[str, int]) -> int:
    """A complete village, a derivation of zones and a batch; return the batch id."""
    from geo.zone_derivations import derive_zones

    add_households_by_status(runtime, tiny_district[NANJIE], clean=10)
    with runtime.session() as session:
        derive_zones(session, runtime.config.profile, as_of=date(2021, 10, 31))
    return add_batch(runtime, "140405001")


def test_every_kind_of_page_carries_the_security_headers(app, scene: int, users) -> None:
    browsers: dict[str | None, FlaskClient] = {None: app.test_client()}
    for who in ("alice", "bob"):
        browsers[who] = app.test_client()
        assert log_in(browsers[who], who, PASSWORD).status_code == 302
    for who, path, status in PAGES:
        url = f"/imports/{scene}" if path == "batch" else path
        resp = browsers[who].get(url)
        assert resp.status_code == status, (who, url, resp.status_code)
        headers = resp.headers
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in csp and "default-src 'self'" in csp, url
        assert re.search(r"script-src ([^;]+)", csp).group(1) == "'self'", url
        assert headers["X-Content-Type-Options"] == "nosniff", url
        assert headers["X-Frame-Options"] == "SAMEORIGIN", url
        assert headers["Referrer-Policy"] == "same-origin", url
        if url.startswith("/static/"):
            assert "no-store" not in headers.get("Cache-Control", ""), url
        else:
            assert headers["Cache-Control"] == "no-store", url
        if resp.mimetype == "text/html":
            body = resp.get_data(as_text=True)
            inline = [s for s in re.findall(r"<script\b[^>]*>", body) if "src=" not in s]
            assert not inline, (url, inline)
            assert not re.search(r"\son[a-z]+\s*=", body), (url, "inline event handler")


def test_csrf_refusal_and_server_error_pages_carry_the_headers(app, users) -> None:
    client = app.test_client()
    resp = client.post("/login", data={"username": "bob", "password": PASSWORD})
    assert resp.status_code == 400
    assert "frame-ancestors 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_the_map_pages_may_load_the_configured_basemap_only(runtime: Runtime) -> None:
    from heating.web.headers import content_security_policy

    url = "http://tiles.intranet.example:8080/{z}/{x}/{y}.png"
    assert "img-src 'self' data: blob: http://tiles.intranet.example:8080" in (
        content_security_policy("map.page", url)
    )
    assert "tiles.intranet.example" in content_security_policy("zones.index", url)
    assert "tiles.intranet.example" not in content_security_policy("dashboard.index", url)


# --------------------------------------------------------------------------
# next= after login
# --------------------------------------------------------------------------

HOSTILE_NEXT = [
    "//evil.example/x",
    "/\t/evil.example",
    "/%09/evil.example",
    "/\n/evil.example",
    "/%0A/evil.example",
    "/%0D%0A/evil.example",
    "\r\n//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/%5Cevil.example",
    "https://evil.example/",
    "http:evil.example",
    "HTTPS://evil.example",
    "javascript:alert(1)",
    " JaVaScRiPt:alert(1)",
    "/%2F/evil.example",
    "%2F%2Fevil.example",
    "evil.example",
    "\u3000//evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_leaving_the_site_is_replaced_by_the_dashboard(
    app,
    users,
    target: str,
) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login")
    # The browser sends next percent-encoded; %-sequences in the case list stay as typed.
    query = quote(target, safe="%")
    resp = client.post(
        f"/login?next={query}",
        data={"username": "bob", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    assert resp.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/villages?township=140405001", "/imports", "/map#x"])
def test_next_on_the_site_is_followed(app, users, target: str) -> None:
    client = app.test_client()
    token = csrf_token(client, "/login")
    resp = client.post(
        f"/login?next={quote(target)}",
        data={"username": "bob", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.status_code == 302
    location = urlsplit(resp.headers["Location"])
    assert (
        not location.netloc
        and resp.headers["Location"] == target.split("#")[0]
        or (resp.headers["Location"] == target)
    )


# --------------------------------------------------------------------------
# Query values out of range
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/api/coverage?by=village&as_of=9999-12-31", "之间"),
        ("/api/coverage?by=village&as_of=0001-01-01", "之间"),
        ("/api/coverage?by=village&as_of=2021-02-30", "应为日期"),
        ("/reports/download?year=2021&as_of=9999-12-31", "之间"),
        ("/reports/download?year=99999", "报告年度"),
        ("/reports?year=99999", "报告年度"),
        ("/reports?year=-1", "报告年度"),
        ("/admin/audit?page=abc", "页码"),
        ("/admin/audit?page=-3", "页码"),
        ("/villages?page=0", "页码"),
        ("/villages?page=99999999999999999999999", "页码"),
    ],
)
def test_out_of_range_query_values_are_a_400_in_chinese(login, path: str, message: str) -> None:
    resp = login("alice").get(path)
    assert resp.status_code == 400, (path, resp.status_code)
    body = resp.get_data(as_text=True)
    assert message in body and "Traceback" not in body


def test_out_of_range_form_date_is_a_400(login, runtime: Runtime) -> None:
    client = login("alice")
    resp = post(client, "/zones/derive", {"as_of": "9999-12-31"})
    assert resp.status_code == 400 and "之间" in resp.get_data(as_text=True)
    resp = post(
        client, "/admin/decisions", {"village": NANJIE, "reason": "x", "decided_on": "9999-1-1"}
    )
    assert resp.status_code == 400


def test_a_page_past_the_last_shows_the_last(login) -> None:
    assert login("alice").get("/admin/audit?page=50").status_code == 200


# --------------------------------------------------------------------------
# waitress stops reading a body over the upload limit
# --------------------------------------------------------------------------


@pytest.mark.parametrize("settings", [{"upload_max_mb": 1}])
def test_waitress_refuses_a_body_over_the_upload_limit_without_reading_it(
    live_server: str,
    users,
) -> None:
    host, port = urlsplit(live_server).hostname, urlsplit(live_server).port
    declared = 200 * 1024 * 1024
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            (
                "POST /imports HTTP/1.1\r\n"
                f"Host: {host}\r\n"
                "Content-Type: application/octet-stream\r\n"
                f"Content-Length: {declared}\r\n\r\n"
            ).encode()
        )
        started = time.monotonic()
        with contextlib.suppress(OSError):  # the server may close first: that is the point
            sock.sendall(b"x" * (256 * 1024))
        answer = sock.recv(4096).decode("latin-1")
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5
