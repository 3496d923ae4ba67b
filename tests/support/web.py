"""Forms over HTTP with Flask's client: CSRF tokens, logging in, uploads and their jobs."""

from __future__ import annotations

import io
import re
import time
from typing import Any

from flask.testing import FlaskClient

TOKEN_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|name="csrf-token" content="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = TOKEN_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def post(client: FlaskClient, path: str, data: dict | None = None, **kwargs: Any) -> Any:
    """POST a form with the session's CSRF token."""
    form = dict(data or {})
    form.setdefault("csrf_token", csrf_token(client))
    return client.post(path, data=form, **kwargs)


def log_in(client: FlaskClient, username: str, password: str) -> Any:
    """Submit the login form as a browser would (CSRF token from the form)."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )


def upload(
    client: FlaskClient,
    data: bytes,
    name: str,
    township: str | None = None,
    ledger_date: str | None = None,
) -> Any:
    """Upload a ledger through the form; follow the job page until the preview is ready."""
    form = {"file": (io.BytesIO(data), name), "csrf_token": csrf_token(client, "/imports")}
    if township is not None:
        form["township"] = township
    if ledger_date is not None:
        form["ledger_date"] = ledger_date
    resp = client.post("/imports", data=form, content_type="multipart/form-data")
    return follow_job(client, resp)


def follow_job(client: FlaskClient, resp: Any, timeout: float = 600.0) -> Any:
    """Follow redirects through the progress page until it stops refreshing."""
    deadline = time.monotonic() + timeout
    while True:
        while resp.status_code in (301, 302, 303):
            resp = client.get(resp.headers["Location"])
        body = resp.get_data(as_text=True)
        if 'http-equiv="refresh"' not in body:
            return resp
        assert time.monotonic() < deadline, "job did not finish"
        time.sleep(0.3)
        resp = client.get(resp.request.path)


def batch_id_of(resp: Any) -> int:
    """The batch id of the page ``resp`` ended on (/imports/<id>)."""
    match = re.search(r"/imports/(\d+)$", resp.request.path)
    assert match, resp.request.path
    return int(match.group(1))
