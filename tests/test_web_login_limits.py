"""Login limits: exact counting under parallel guesses, per address (429), global delay, one answer."""

from __future__ import annotations

import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.cookiejar import CookieJar
from typing import Any

import pytest
from sqlalchemy import func, select

from heating.models import AuditEntry, User
from heating.runtime import Runtime
from heating.web.auth import LOGIN_REFUSED
from tests.support.users import PASSWORD
from tests.support.web import TOKEN_RE, csrf_token


class Browser:
    """A real HTTP client with its own cookies, talking to the live waitress server."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def login_form(self) -> str:
        with self.opener.open(self.base + "/login") as resp:
            match = TOKEN_RE.search(resp.read().decode())
        return match.group(1) or match.group(2)

    def post_login(self, token: str, username: str, password: str) -> int:
        data = urllib.parse.urlencode(
            {"username": username, "password": password, "csrf_token": token}
        ).encode()
        try:
            with self.opener.open(self.base + "/login", data=data) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def guess_in_parallel(base: str, username: str, count: int) -> list[int]:
    """``count`` browsers each submit one wrong password for ``username`` at the same moment."""
    browsers = [Browser(base) for _ in range(count)]
    tokens = [b.login_form() for b in browsers]
    start = threading.Barrier(count)
    statuses: list[int] = [0] * count

    def guess(i: int) -> None:
        start.wait()
        statuses[i] = browsers[i].post_login(tokens[i], username, f"wrong-guess-{i}")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return statuses


def actions(runtime: Runtime, action: str) -> int:
    with runtime.session() as session:
        return session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)
        )


def failures(runtime: Runtime, username: str) -> int:
    with runtime.session() as session:
        return session.scalar(select(User.failed_logins).where(User.username == username))


@pytest.mark.parametrize("settings", [{"login_max_failures": 100, "login_address_limit": 0}])
def test_forty_parallel_guesses_are_all_counted(live_server: str, runtime: Runtime, users) -> None:
    statuses = guess_in_parallel(live_server, "dave", 40)
    assert statuses == [200] * 40
    assert failures(runtime, "dave") == 40  # no lost update
    assert actions(runtime, "login_failed") == 40


@pytest.mark.parametrize("settings", [{"login_address_limit": 0}])
def test_parallel_guesses_check_no_more_passwords_than_the_limit(
    live_server: str,
    runtime: Runtime,
    users,
) -> None:
    limit = runtime.config.login_max_failures
    statuses = guess_in_parallel(live_server, "dave", 20)
    assert statuses == [200] * 20  # locked looks like wrong
    assert actions(runtime, "login_failed") == limit  # only these passwords were checked
    assert actions(runtime, "login_locked") == 20 - limit
    assert failures(runtime, "dave") == limit


def login_from(client, address: str, username: str, password: str, forwarded: str = ""):
    """Log in as a browser at ``address`` would (``forwarded``: an X-Forwarded-For header)."""
    token = csrf_token(client, "/login")
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        environ_base={"REMOTE_ADDR": address},
        headers={"X-Forwarded-For": forwarded} if forwarded else {},
    )


@pytest.mark.parametrize("settings", [{"login_address_limit": 5}])
def test_spraying_user_names_from_one_address_gets_429_with_retry_after(
    app,
    runtime: Runtime,
    users,
) -> None:
    client = app.test_client()
    for i in range(5):
        resp = login_from(client, "198.51.100.7", f"user{i}", "whatever-123")
        assert resp.status_code == 200
    resp = login_from(client, "198.51.100.7", "user5", "whatever-123")
    assert resp.status_code == 429
    retry = int(resp.headers["Retry-After"])
    assert 0 < retry <= runtime.config.login_address_window_seconds
    assert f"请在 {retry} 秒后重试" in resp.get_data(as_text=True)
    # Even a right password waits; another address is not affected.
    assert login_from(client, "198.51.100.7", "bob", PASSWORD).status_code == 429
    assert login_from(app.test_client(), "198.51.100.8", "bob", PASSWORD).status_code == 302
    assert actions(runtime, "login_throttled") == 2


@pytest.mark.parametrize("settings", [{"login_address_limit": 2}])
def test_successful_logins_do_not_use_up_the_address_allowance(app, users) -> None:
    for _ in range(4):
        assert login_from(app.test_client(), "198.51.100.9", "bob", PASSWORD).status_code == 302


@pytest.mark.parametrize(
    ("settings", "limited"),
    [
        ({"login_address_limit": 2, "trusted_proxies": "127.0.0.1"}, "203.0.113.5"),
        ({"login_address_limit": 2}, "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_only_from_a_trusted_proxy(
    app,
    runtime: Runtime,
    users,
    limited: str,
) -> None:
    client = app.test_client()
    for _ in range(2):
        resp = login_from(client, "127.0.0.1", "bob", "wrong-pass-1", forwarded="203.0.113.5")
        assert resp.status_code == 200
    other = login_from(client, "127.0.0.1", "bob", PASSWORD, forwarded="203.0.113.6")
    # Behind the trusted proxy 203.0.113.6 is another client; without it, the same 127.0.0.1.
    assert other.status_code == (302 if limited == "203.0.113.5" else 429)
    with runtime.session() as session:
        ips = set(session.scalars(select(AuditEntry.ip).where(AuditEntry.action == "login_failed")))
    assert ips == {limited}


@pytest.mark.parametrize("settings", [{"login_global_limit": 2, "login_address_limit": 0}])
def test_the_global_limit_only_delays(app, users) -> None:
    client = app.test_client()
    for i in range(2):
        assert login_from(client, f"192.0.2.{i}", "nobody", "whatever-123").status_code == 200
    started = time.monotonic()
    resp = login_from(client, "192.0.2.50", "bob", PASSWORD)
    assert resp.status_code == 302  # still let in
    assert time.monotonic() - started >= 1.0


def _page(resp) -> str:
    """The answer without its form values (the CSRF token and the name typed differ)."""
    return re.sub(r'(value|content)="[^"]*"', "", resp.get_data(as_text=True))


@pytest.mark.parametrize("settings", [{"login_max_failures": 1}])
def test_unknown_locked_wrong_and_disabled_get_one_answer(app, runtime: Runtime, users) -> None:
    with runtime.session() as session:
        session.get(User, users["erin"]).active = False
    answers = {
        "unknown": login_from(app.test_client(), "10.0.0.1", "nobody", "whatever-123"),
        "wrong": login_from(app.test_client(), "10.0.0.2", "bob", "wrong-pass-1"),
        "locked": login_from(app.test_client(), "10.0.0.3", "bob", PASSWORD),
        "disabled": login_from(app.test_client(), "10.0.0.4", "erin", PASSWORD),
    }
    assert {k: r.status_code for k, r in answers.items()} == dict.fromkeys(answers, 200)
    pages = {k: _page(r) for k, r in answers.items()}
    assert LOGIN_REFUSED in pages["unknown"]
    assert len(set(pages.values())) == 1, "the answers differ"
