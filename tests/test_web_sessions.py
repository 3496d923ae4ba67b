"""Server-side sessions: a saved cookie dies with logout, reset, deactivation, 退出所有设备, time."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from heating.models import AuditEntry, UserSession, utcnow
from heating.runtime import Runtime
from tests.support.users import PASSWORD
from tests.support.web import log_in, post


def signed_in(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    """A new browser, logged in."""
    browser = app.test_client()
    assert log_in(browser, username, password).status_code == 302
    return browser


def replay(app: Flask, browser: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``browser``'s session cookie, saved now."""
    copy = app.test_client()
    copy.set_cookie("session", browser.get_cookie("session").value)
    return copy


def is_in(browser: FlaskClient) -> bool:
    resp = browser.get("/")
    assert resp.status_code in (200, 302)
    return resp.status_code == 200


def test_a_cookie_saved_before_logout_no_longer_works(app: Flask, users: dict[str, int]) -> None:
    bob = signed_in(app, "bob")
    saved = replay(app, bob)
    assert is_in(saved)
    assert post(bob, "/logout").status_code == 302
    assert not is_in(bob)
    assert not is_in(saved)  # the copy died on the server, not only in the browser


def test_logout_ends_only_that_session(app: Flask, users: dict[str, int]) -> None:
    office, home = signed_in(app, "bob"), signed_in(app, "bob")
    post(office, "/logout")
    assert not is_in(office) and is_in(home)


def test_admin_password_reset_ends_every_session_of_the_user(
    app: Flask, login, runtime: Runtime, users: dict[str, int]
) -> None:
    office, home = signed_in(app, "dave"), signed_in(app, "dave")
    saved = replay(app, office)
    admin = login("alice")
    resp = post(admin, f"/admin/users/{users['dave']}/password", {"password": "new-secret-2021"})
    assert resp.status_code == 302
    assert not any(is_in(b) for b in (office, home, saved))
    assert is_in(admin)
    assert is_in(signed_in(app, "dave", "new-secret-2021"))


def test_deactivation_ends_sessions_and_enabling_again_does_not_revive_them(
    app: Flask, login, users: dict[str, int]
) -> None:
    dave = signed_in(app, "dave")
    admin = login("alice")
    post(admin, f"/admin/users/{users['dave']}/active", {"active": "0"})
    assert not is_in(dave)
    post(admin, f"/admin/users/{users['dave']}/active", {"active": "1"})
    assert not is_in(dave)


def test_logout_everywhere_ends_all_sessions_including_this_one(
    app: Flask, runtime: Runtime, users: dict[str, int]
) -> None:
    office, home = signed_in(app, "carol"), signed_in(app, "carol")
    page = home.get("/account").get_data(as_text=True)
    assert "退出所有设备" in page and "2 个设备" in page
    resp = post(home, "/account/logout-all")
    assert resp.status_code == 302 and resp.headers["Location"] == "/login"
    assert not is_in(office) and not is_in(home)
    with runtime.session() as session:
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "logout_all"))
        assert entry.username == "carol" and entry.detail == {"sessions": 2}


def _age(runtime: Runtime, *, created: timedelta, seen: timedelta) -> None:
    now = utcnow()
    with runtime.session() as session:
        session.execute(
            update(UserSession).values(created_at=now - created, last_seen_at=now - seen)
        )


def test_idle_timeout(app: Flask, runtime: Runtime, users: dict[str, int]) -> None:
    idle = runtime.config.session_idle_minutes
    assert idle == 30
    bob = signed_in(app, "bob")
    _age(runtime, created=timedelta(minutes=idle - 1), seen=timedelta(minutes=idle - 1))
    assert is_in(bob)  # and the visit counts as activity
    _age(runtime, created=timedelta(minutes=2 * idle), seen=timedelta(minutes=idle + 1))
    assert not is_in(bob)


def test_absolute_lifetime_even_when_active(app: Flask, runtime: Runtime, users) -> None:
    hours = runtime.config.session_max_hours
    assert hours == 12
    bob = signed_in(app, "bob")
    _age(runtime, created=timedelta(hours=hours, minutes=-1), seen=timedelta(0))
    assert is_in(bob)
    _age(runtime, created=timedelta(hours=hours, minutes=1), seen=timedelta(0))
    assert not is_in(bob)


def test_visits_keep_an_idle_session_alive(app: Flask, runtime: Runtime, users) -> None:
    bob = signed_in(app, "bob")
    _age(runtime, created=timedelta(minutes=50), seen=timedelta(minutes=25))
    assert is_in(bob)
    with runtime.session() as session:
        seen = session.scalar(select(UserSession.last_seen_at))
    assert utcnow() - seen < timedelta(minutes=1)
    _age(runtime, created=timedelta(minutes=50), seen=timedelta(minutes=25))
    assert is_in(bob)


def test_only_a_hash_of_the_token_is_stored(app: Flask, runtime: Runtime, users) -> None:
    bob = signed_in(app, "bob")
    cookie = bob.get_cookie("session").value
    with runtime.session() as session:
        (row,) = session.scalars(select(UserSession)).all()
    assert row.user_id == users["bob"] and len(row.token_hash) == 64
    assert row.token_hash not in cookie


def test_a_login_replaces_whatever_session_the_browser_had(app: Flask, users) -> None:
    browser = signed_in(app, "bob")
    before = browser.get_cookie("session").value
    assert log_in(browser, "carol", PASSWORD).status_code == 302
    assert browser.get_cookie("session").value != before
    assert "carol" in browser.get("/").get_data(as_text=True)


def test_self_service_password_change(app: Flask, runtime: Runtime, users) -> None:
    here, there = signed_in(app, "erin"), signed_in(app, "erin")

    def change(current: str, new: str, again: str | None = None):
        return post(
            here,
            "/account",
            {
                "current_password": current,
                "new_password": new,
                "new_password_again": new if again is None else again,
            },
        )

    for current, new, again, message in [
        ("wrong-password-1", "a-good-new-one-7", None, "当前密码不正确"),
        (PASSWORD, "short-1", None, "密码至少 10 位"),
        (PASSWORD, "password123", None, "太常见"),
        (PASSWORD, "a-good-new-one-7", "a-good-new-one-8", "两次输入的新密码不一致"),
    ]:
        resp = change(current, new, again)
        assert resp.status_code == 400 and message in resp.get_data(as_text=True), message
    with runtime.session() as session:
        assert not session.scalars(
            select(AuditEntry).where(AuditEntry.action == "password_change")
        ).all()
    resp = change(PASSWORD, "a-good-new-one-7")
    assert resp.status_code == 302
    assert "已退出其他 1 个设备" in here.get("/account").get_data(as_text=True)
    assert is_in(here) and not is_in(there)
    assert log_in(app.test_client(), "erin", PASSWORD).status_code == 200
    assert log_in(app.test_client(), "erin", "a-good-new-one-7").status_code == 302


def test_account_page_needs_a_login(client: FlaskClient, users) -> None:
    resp = client.get("/account")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
