"""Users in the domain: the password policy everywhere, the CLI's user commands, the sessions table."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import select, text

import heating.migrations
from heating.db import make_engine, session_factory, session_scope, upgrade
from heating.errors import Refused
from heating.migrations.versions import user_sessions
from heating.models import AuditEntry, User, UserSession
from heating.passwords import check_password_policy, common_passwords
from heating.runtime import Runtime
from heating.sessions import open_session
from tests.support.users import PASSWORD
from tests.support.web import log_in, post


@pytest.mark.parametrize(
    ("password", "username", "message"),
    [
        ("", "zhangsan", "不能为空"),
        (" " * 12, "zhangsan", "不能为空"),
        ("\t\u3000 \n" * 4, "zhangsan", "不能为空"),
        ("12345678", "zhangsan", "至少 10 位"),
        ("password", "zhangsan", "至少 10 位"),
        ("short-9ch", "zhangsan", "至少 10 位"),
        ("zhangsan01", "zhangsan01", "与用户名相同"),
        ("ZhangSan01", "zhangsan01", "与用户名相同"),
        ("1234567890", "zhangsan", "太常见"),
        ("Password123", "zhangsan", "太常见"),
        ("qwertyuiop", "zhangsan", "太常见"),
        ("woaini1314520", "zhangsan", "太常见"),
        ("Admin@123456", "zhangsan", "太常见"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(
    password: str, username: str, message: str
) -> None:
    with pytest.raises(Refused, match=message):
        check_password_policy(password, username)


@pytest.mark.parametrize(
    "password", ["demo-2021-tunliu", "麟绛街道-填报员-2021", "correct-horse-1"]
)
def test_good_passwords_pass(password: str) -> None:
    check_password_policy(password, "zhangsan")


def test_the_common_list_ships_with_the_package() -> None:
    words = common_passwords()
    assert len(words) > 1000
    assert all(len(w) >= 10 and w == w.lower() for w in words)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("frank", "12345678", "至少 10 位"),
        ("frank", "password", "至少 10 位"),
        ("frank12345", "frank12345", "与用户名相同"),
        ("frank", " " * 8, "不能为空"),
        ("frank", "1234567890", "太常见"),
    ],
)
def test_user_add_refuses_weak_passwords(
    run_cli, runtime: Runtime, name: str, password: str, message: str
) -> None:
    result = run_cli("user", "add", name, "--role", "planner", "--password-stdin", input=password)
    assert result.exit_code == 1 and message in result.stderr
    with runtime.session() as session:
        assert session.scalar(select(User).where(User.username == name)) is None


def test_admin_reset_applies_the_policy(login, runtime: Runtime, users: dict[str, int]) -> None:
    admin = login("alice")
    resp = post(admin, f"/admin/users/{users['dave']}/password", {"password": "dave"})
    assert resp.status_code == 302
    page = admin.get("/admin/users").get_data(as_text=True)
    assert "至少 10 位" in page
    resp = post(admin, f"/admin/users/{users['dave']}/password", {"password": "qwertyuiop123"})
    assert "太常见" in admin.get("/admin/users").get_data(as_text=True)
    with runtime.session() as session:
        assert not session.scalars(
            select(AuditEntry).where(AuditEntry.action == "user_reset")
        ).all()


def test_cli_disables_enables_resets_and_unlocks(
    run_cli,
    app,
    runtime: Runtime,
    users: dict[str, int],
) -> None:
    browser = app.test_client()
    assert log_in(browser, "dave", PASSWORD).status_code == 302
    assert run_cli("user", "disable", "dave").exit_code == 0
    assert browser.get("/").status_code == 302  # its session ended
    assert log_in(app.test_client(), "dave", PASSWORD).status_code == 200
    assert run_cli("user", "enable", "dave").exit_code == 0
    result = run_cli("user", "reset-password", "dave", "--password-stdin", input="short\n")
    assert result.exit_code == 1 and "至少 10 位" in result.stderr
    result = run_cli(
        "user", "reset-password", "dave", "--password-stdin", input="a-fresh-secret-9\n"
    )
    assert result.exit_code == 0, result.stderr
    with runtime.session() as session:
        session.get(User, users["dave"]).failed_logins = 99
    assert run_cli("user", "unlock", "dave").exit_code == 0
    assert log_in(app.test_client(), "dave", "a-fresh-secret-9").status_code == 302
    result = run_cli("user", "disable", "nobody")
    assert result.exit_code == 1 and "不存在" in result.stderr
    with runtime.session() as session:
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == "dave").order_by(AuditEntry.id)
        ).all()
    assert actions == ["user_disable", "user_enable", "user_reset", "user_unlock"]


def test_user_sessions_migration_keeps_users(tmp_path) -> None:
    """Build the schema at the revision before (SQLite file), add a user, upgrade, open a session."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(heating.migrations.__file__).parent))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, user_sessions.down_revision)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (username, role, password_hash, active, created_at, "
                "failed_logins) VALUES ('old', 'planner', 'x', 1, '2021-01-01', 2)"
            )
        )
    upgrade(engine)
    with session_scope(session_factory(engine)) as session:
        user = session.scalar(select(User).where(User.username == "old"))
        assert user.failed_logins == 2
        open_session(session, user)
    with session_scope(session_factory(engine)) as session:
        assert session.scalar(select(UserSession.user_id)) == user.id
    engine.dispose()


def test_users_made_by_the_app_are_hashed_at_the_production_cost(
    run_cli, app, runtime: Runtime, users: dict[str, int]
) -> None:
    """The cast's stored hashes are cheap (tests/conftest.py); a user the app makes is not."""
    result = run_cli(
        "user", "add", "frank", "--role", "planner", "--password-stdin", input="long-enough-pw\n"
    )
    assert result.exit_code == 0, result.stderr
    with runtime.session() as session:
        stored = session.scalar(select(User.password_hash).where(User.username == "frank"))
    method, cost = stored.split("$")[0].split(":")[:2]
    assert method == "scrypt" and int(cost) >= 2**15  # werkzeug's default, 32768
    assert log_in(app.test_client(), "frank", "long-enough-pw").status_code == 302
    assert log_in(app.test_client(), "frank", "long-enough-pX").status_code == 200
