"""The foundation: migrations, config, CLI exit codes, login redirect."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from heating.config import ConfigError, load_config
from heating.models import Base
from heating.profile import DEFAULT_PROFILE


def test_migrations_match_the_models(runtime) -> None:
    with runtime.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == [], "models changed without a migration: " + repr(diff)


def test_defaults_work_with_nothing_set(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(environ={})
    assert cfg.database_url == f"sqlite:///{tmp_path}/instance/heating.db"
    assert cfg.profile == DEFAULT_PROFILE
    assert [c.target for c in cfg.profile.categories] == [1.0, 1.0, 1.0, 0.8]


def test_bad_environment_value_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="upload_max_mb"):
        load_config(environ={"HEATING_UPLOAD_MAX_MB": "lots"})


def test_toml_profile_with_a_fifth_category(tmp_path) -> None:
    path = tmp_path / "heating.toml"
    path.write_text(
        """
[profile]
name = "山区细分"
categories = [
  {key = "city_core", name = "城市建成区", target = 1.0},
  {key = "county_core", name = "县城建成区", target = 1.0},
  {key = "fringe", name = "城乡结合部", target = "100%"},
  {key = "rural_plain", name = "平原农村", target = 0.85},
  {key = "rural_mountain", name = "山区农村", target = 0.6},
]
[profile.urban_rural]
"121" = "seat:county_core|rural_plain"
"220" = "rural_mountain"
""",
        encoding="utf-8",
    )
    cfg = load_config(environ={"HEATING_CONFIG": str(path)})
    assert cfg.profile.keys() == [
        "city_core",
        "county_core",
        "fringe",
        "rural_plain",
        "rural_mountain",
    ]
    assert cfg.profile.target("rural_mountain") == 0.6
    assert cfg.profile.propose_category("121", is_seat=False) == "rural_plain"
    assert cfg.profile.propose_category("220", is_seat=False) == "rural_mountain"


def test_profile_target_out_of_range_is_refused(tmp_path) -> None:
    path = tmp_path / "heating.toml"
    path.write_text(
        '[profile]\ncategories = [{key="rural", name="农村", target=1.5}]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="target"):
        load_config(environ={"HEATING_CONFIG": str(path)})


def test_default_mapping_of_urban_rural_codes() -> None:
    p = DEFAULT_PROFILE
    assert p.propose_category("111", is_seat=False) == "city_core"
    assert p.propose_category("121", is_seat=True) == "county_core"
    assert p.propose_category("121", is_seat=False) == "rural"
    assert p.propose_category("122", is_seat=False) == "fringe"
    assert p.propose_category("220", is_seat=True) == "rural"
    assert p.propose_category(None, is_seat=True) is None


def test_unreachable_database_is_a_message_not_a_traceback() -> None:
    from click.testing import CliRunner

    from heating.cli import cli

    result = CliRunner().invoke(
        cli, ["--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "init"]
    )
    assert result.exit_code == 1
    assert "无法连接数据库" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_uninitialised_database_says_to_run_init(tmp_path) -> None:
    from click.testing import CliRunner

    from heating.cli import cli

    result = CliRunner().invoke(
        cli,
        [
            "--db",
            f"sqlite:///{tmp_path}/x.db",
            "user",
            "add",
            "x",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="secret-pass\n",
    )
    assert result.exit_code == 1
    assert "heating init" in result.stderr


def test_wrong_usage_exits_2(run_cli) -> None:
    assert run_cli("no-such-command").exit_code == 2


def test_user_add_then_refuse_duplicate(run_cli, tiny_district) -> None:
    ok = run_cli(
        "user",
        "add",
        "frank",
        "--role",
        "clerk",
        "--township",
        "140405001",
        "--password-stdin",
        input="long-enough-pw\n",
    )
    assert ok.exit_code == 0, ok.stderr
    again = run_cli(
        "user", "add", "frank", "--role", "planner", "--password-stdin", input="long-enough-pw\n"
    )
    assert again.exit_code == 1
    assert "已存在" in again.stderr


def test_clerk_needs_a_known_township(run_cli, tiny_district) -> None:
    result = run_cli(
        "user",
        "add",
        "x1",
        "--role",
        "clerk",
        "--township",
        "999999999",
        "--password-stdin",
        input="long-enough-pw\n",
    )
    assert result.exit_code == 1
    assert "999999999" in result.stderr


def test_anonymous_dashboard_redirects_to_login(client) -> None:
    resp = client.get("/")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/login")
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.get_data(as_text=True)


def test_login_then_dashboard(login) -> None:
    client = login("alice")
    assert "总览" in client.get("/").get_data(as_text=True)


def test_login_form_without_csrf_token_is_refused(client, users) -> None:
    resp = client.post("/login", data={"username": "alice", "password": "correct-horse-1"})
    assert resp.status_code == 400
    assert "登录页已打开太久，已失效：请刷新页面后重新登录。" in resp.get_data(as_text=True)


def test_backup_is_a_consistent_copy(run_cli, tiny_district, tmp_path, database_url) -> None:
    from sqlalchemy import func, select

    from heating.models import Village
    from heating.runtime import open_runtime

    target = tmp_path / "备份" / "copy.db"
    result = run_cli("backup", "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert target.exists()
    if database_url.startswith("sqlite"):
        copy = open_runtime(database_url=f"sqlite:///{target}")
        with copy.session() as session:
            assert session.scalar(select(func.count()).select_from(Village)) == 4
        copy.engine.dispose()
    else:
        assert target.read_bytes()[:5] == b"PGDMP"
