"""Login slow-down, CSRF refusals, admin user management and the audit log over HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from heating import passwords
from heating.models import AuditEntry, User, utcnow
from heating.passwords import hash_method, hash_password
from heating.web.auth import LOGIN_REFUSED
from tests.support.users import PASSWORD, cast_hash
from tests.support.web import csrf_token, log_in, post


def _actions(runtime, username: str | None = None) -> list[str]:
    with runtime.session() as session:
        query = select(AuditEntry.action).order_by(AuditEntry.id)
        if username:
            query = query.where(AuditEntry.username == username)
        return list(session.scalars(query))


def test_repeated_failures_slow_logins_down_until_the_wait_is_over(
    app, client, runtime, users
) -> None:
    limit = runtime.config.login_max_failures
    for _ in range(limit):
        resp = log_in(client, "dave", "wrong-password")
        assert resp.status_code == 200 and LOGIN_REFUSED in resp.get_data(as_text=True)
    # Even the right password is refused while the wait lasts, with the same answer.
    resp = log_in(client, "dave", PASSWORD)
    assert resp.status_code == 200 and LOGIN_REFUSED in resp.get_data(as_text=True)
    # Once login_lockout_seconds have passed since the last failure, the right password works.
    with runtime.session() as session:
        user = session.scalar(select(User).where(User.username == "dave"))
        user.last_failed_at = utcnow() - timedelta(seconds=runtime.config.login_lockout_seconds + 1)
    resp = log_in(client, "dave", PASSWORD)
    assert resp.status_code == 302
    with runtime.session() as session:
        assert session.scalar(select(User.failed_logins).where(User.username == "dave")) == 0
    assert _actions(runtime, "dave") == ["login_failed"] * limit + ["login_locked", "login"]


def test_unknown_user_and_wrong_password_read_the_same(client, users) -> None:
    a = log_in(client, "nobody", "whatever-1").get_data(as_text=True)
    b = log_in(client, "alice", "whatever-1").get_data(as_text=True)
    assert "用户名或密码错误" in a and "用户名或密码错误" in b


@pytest.mark.parametrize("stored", ["cast", "production"])
def test_unknown_and_locked_users_cost_a_check_like_the_stored_hashes(
    client, runtime, users, monkeypatch, stored: str
) -> None:
    """Each refusal checks one hash made with the stored hashes' method and cost."""
    stored_hash = cast_hash() if stored == "cast" else hash_password(PASSWORD)
    with runtime.session() as session:
        session.execute(update(User).values(password_hash=stored_hash))
    checked: list[str] = []
    check = passwords.check_password_hash

    def record(password_hash: str, password: str) -> bool:
        checked.append(hash_method(password_hash))
        return check(password_hash, password)

    monkeypatch.setattr(passwords, "check_password_hash", record)
    log_in(client, "dave", "wrong-password")  # a real user's wrong password: the reference
    log_in(client, "nobody", "wrong-password")
    with runtime.session() as session:
        session.execute(
            update(User)
            .where(User.username == "dave")
            .values(failed_logins=runtime.config.login_max_failures, last_failed_at=utcnow())
        )
    log_in(client, "dave", PASSWORD)
    assert _actions(runtime)[-3:] == ["login_failed", "login_failed", "login_locked"]
    assert checked == [hash_method(stored_hash)] * 3
    assert stored != "production" or checked[0].startswith("scrypt:32768:")


def test_open_redirect_after_login_is_refused(client, users) -> None:
    token = csrf_token(client, "/login")
    resp = client.post(
        "/login?next=//evil.example/x",
        data={"username": "alice", "password": PASSWORD, "csrf_token": token},
    )
    assert resp.headers["Location"] == "/"


def test_posts_without_csrf_token_are_refused_400(login, runtime, users) -> None:
    client = login("alice")
    for path, data in [
        ("/logout", {}),
        ("/admin/users", {"username": "mallory", "role": "planner", "password": "long-enough-1"}),
        (f"/admin/users/{users['dave']}/active", {"active": "0"}),
        ("/imports/1/rollback", {}),
        ("/zones/derive", {}),
    ]:
        resp = client.post(path, data=data)
        assert resp.status_code == 400, path
        page = resp.get_data(as_text=True)
        assert "表单已失效：请刷新页面后重新" in page and "CSRF" not in page
    with runtime.session() as session:
        assert session.scalar(select(User).where(User.username == "mallory")) is None
        assert session.get(User, users["dave"]).active


def test_ajax_post_with_csrf_header_is_accepted(login, users) -> None:
    client = login("alice")
    token = csrf_token(client)
    resp = client.post(
        f"/admin/users/{users['erin']}/active", data={"active": "0"}, headers={"X-CSRFToken": token}
    )
    assert resp.status_code == 302


def test_session_cookie_is_httponly_and_samesite(client, users) -> None:
    resp = log_in(client, "alice", PASSWORD)
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_admin_adds_disables_and_resets_users_and_it_is_audited(login, client, runtime) -> None:
    admin = login("alice")
    resp = post(
        admin,
        "/admin/users",
        {
            "username": "张文书",
            "role": "clerk",
            "township": "140405101",
            "password": "first-pass-1",
        },
    )
    assert resp.status_code == 302
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "张文书" in page and "上村镇" in page
    # A weak password is refused with the reason, nothing created.
    resp = post(admin, "/admin/users", {"username": "weak", "role": "planner", "password": "123"})
    assert resp.status_code == 400 and "密码至少" in resp.get_data(as_text=True)
    with runtime.session() as session:
        new = session.scalar(select(User).where(User.username == "张文书"))
        new_id = new.id
        assert new.township.code == "140405101" and new.password_hash.startswith("scrypt:")
    assert post(admin, f"/admin/users/{new_id}/active", {"active": "0"}).status_code == 302
    assert (
        post(admin, f"/admin/users/{new_id}/password", {"password": "second-pass-2"}).status_code
        == 302
    )
    assert post(admin, f"/admin/users/{new_id}/active", {"active": "1"}).status_code == 302

    other = admin.application.test_client()
    assert log_in(other, "张文书", "first-pass-1").status_code == 200  # old password gone
    assert log_in(other, "张文书", "second-pass-2").status_code == 302

    log = admin.get("/admin/audit").get_data(as_text=True)
    for label in ("新增用户", "停用用户", "重置密码", "启用用户", "登录"):
        assert label in log
    with runtime.session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.target == "张文书").order_by(AuditEntry.id)
        ).all()
        assert [e.action for e in entries] == [
            "user_add",
            "user_disable",
            "user_reset",
            "user_enable",
        ]
        assert all(e.username == "alice" for e in entries)


def test_admin_cannot_disable_itself(login, runtime, users) -> None:
    admin = login("alice")
    resp = post(admin, f"/admin/users/{users['alice']}/active", {"active": "0"})
    assert resp.status_code == 302
    with runtime.session() as session:
        assert session.get(User, users["alice"]).active


def test_disabled_user_cannot_log_in(login, client, runtime, users) -> None:
    with runtime.session() as session:
        session.get(User, users["erin"]).active = False
    resp = log_in(client, "erin", PASSWORD)
    # The same answer as a wrong password: the page does not tell which accounts exist.
    assert resp.status_code == 200 and LOGIN_REFUSED in resp.get_data(as_text=True)
    assert _actions(runtime, "erin")[-1] == "login_disabled"


def test_audit_log_filters_by_action(login) -> None:
    admin = login("alice")
    page = admin.get("/admin/audit?action=login").get_data(as_text=True)
    assert "alice" in page
    assert "停用用户" not in page.split("<tbody>")[1]


def test_upload_after_the_login_expired_says_so_in_plain_words(login, users) -> None:
    """The form's token outlived the login: the message names the login, not a token."""
    import io

    client = login("bob")
    token = csrf_token(client, "/imports")
    client.delete_cookie(client.application.config["SESSION_COOKIE_NAME"])  # expired: dropped
    resp = client.post(
        "/imports",
        data={"csrf_token": token, "file": (io.BytesIO(b"x"), "台账.xlsx")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400
    page = resp.get_data(as_text=True)
    assert "登录已过期，请重新登录后再上传。" in page and "CSRF" not in page
