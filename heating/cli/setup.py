"""Set-up commands: init, user add, serve, backup."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from heating import users
from heating.cli.context import emit_json, get_runtime
from heating.db import describe, upgrade
from heating.models import ROLE_LABELS, ROLES, audit
from heating.runtime import Runtime
from heating.users import create_user


@click.command("init")
def init_command() -> None:
    """创建或升级数据库结构（Alembic 迁移）；没有加密密钥文件时创建，并加密之前以明文保存的个人信息。"""
    runtime = get_runtime(initialised=False)
    upgrade(runtime.engine, timezone=runtime.config.timezone)
    click.echo(f"数据库已就绪：{describe(runtime.config.database_url)}")
    prepare_key(runtime)


def prepare_key(runtime: Runtime) -> None:
    """Create the key file where none exists (saying where); seal personal data still in clear."""
    from heating.keys import ensure_key, holds_plain_values, reseal_all

    ring, created = ensure_key(runtime.config)
    if created:
        click.echo(
            f"已创建加密密钥文件：{ring.path}（身份证号、电话、错误行和上传原文件用它加密）。"
            "它不在数据库中，也不在 heating backup 的备份中：请另行妥善保存，丢失后这些数据无法读取。"
        )
    with runtime.session() as session:
        if holds_plain_values(session):
            done = reseal_all(session)
            click.echo(
                f"已加密之前以明文保存的个人信息：{done.households} 户，{done.versions} 条历史记录，"
                f"{done.batches} 个批次的错误行，{done.files} 个上传文件。"
            )


@click.group("keys")
def keys_group() -> None:
    """加密密钥。"""


@keys_group.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def keys_rotate(as_json: bool) -> None:
    """换用新的加密密钥并用它重新加密全部个人信息（旧密钥保留在密钥文件中，以便读取旧备份）。"""
    from heating.keys import rotate
    from heating.sealing import Keyring

    runtime = get_runtime()
    ring = Keyring.load(runtime.config.encryption_key_file)
    with runtime.session() as session:
        new, done = rotate(session, ring)
    if as_json:
        emit_json({"key": new.current, "key_file": str(new.path), **done.as_json()})
        return
    click.echo(
        f"已换用新密钥 {new.current}（密钥文件 {new.path}）并重新加密：{done.households} 户，"
        f"{done.versions} 条历史记录，{done.batches} 个批次的错误行，{done.files} 个上传文件。"
        "请重新备份密钥文件。"
    )


@click.group("user")
def user_group() -> None:
    """用户管理。"""


@user_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    type=click.Choice(ROLES),
    required=True,
    help="角色：admin/clerk/planner/city/reviewer",
)
@click.option("--township", "township_code", help="乡镇代码（9 位，clerk 必填）")
@click.option(
    "--district",
    "district_code",
    help="区县代码（6 位；planner/reviewer 可选：只能查看和办理该区县）",
)
@click.option("--password-stdin", is_flag=True, help="从标准输入读取密码（脚本使用）")
def user_add(
    name: str, role: str, township_code: str | None, district_code: str | None, password_stdin: bool
) -> None:
    """创建用户（密码交互输入，或 --password-stdin）；密码至少 10 位、不能与用户名相同、不能是常见密码。"""
    password = _read_password(password_stdin)
    runtime = get_runtime()
    with runtime.session() as session:
        user = create_user(session, name, role, password, township_code, district_code)
        detail = {"role": role, "via": "cli"}
        if district_code:
            detail["district"] = district_code
        audit(session, "user_add", target=user.username, detail=detail)
    click.echo(f"已创建用户 {name}（{ROLE_LABELS.get(role, role)}）")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("密码", hide_input=True, confirmation_prompt="再次输入密码")


@user_group.command("disable")
@click.argument("name")
def user_disable(name: str) -> None:
    """停用用户（其所有登录立即失效）。"""
    with get_runtime().session() as session:
        users.set_active(session, users.find_user(session, name), False)
    click.echo(f"已停用用户 {name}，其所有登录已退出。")


@user_group.command("enable")
@click.argument("name")
def user_enable(name: str) -> None:
    """启用用户。"""
    with get_runtime().session() as session:
        users.set_active(session, users.find_user(session, name), True)
    click.echo(f"已启用用户 {name}。")


@user_group.command("reset-password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="从标准输入读取新密码（脚本使用）")
def user_reset_password(name: str, password_stdin: bool) -> None:
    """重置密码（同时解除登录等待，其所有登录立即失效）。"""
    password = _read_password(password_stdin)
    with get_runtime().session() as session:
        users.reset_password(session, users.find_user(session, name), password)
    click.echo(f"已重置用户 {name} 的密码，其所有登录已退出。")


@user_group.command("unlock")
@click.argument("name")
def user_unlock(name: str) -> None:
    """解除连续登录失败后的等待（不改密码）。"""
    with get_runtime().session() as session:
        users.unlock(session, users.find_user(session, name))
    click.echo(f"已解除用户 {name} 的登录等待。")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址")
@click.option("--port", default=5000, show_default=True, type=int, help="端口")
@click.option("--threads", default=8, show_default=True, type=int, help="工作线程数")
def serve_command(host: str, port: int, threads: int) -> None:
    """启动网页应用（waitress 生产级 WSGI 服务器）。"""
    serve(host, port, threads)


def serve(host: str, port: int, threads: int = 8) -> None:
    """Start waitress on the app; the database must be initialised."""
    from waitress import serve as waitress_serve

    from heating.web import create_app, server_options
    from imports.isolation import start_fork_server

    runtime = get_runtime()
    app = create_app(runtime=runtime)
    # The process that reads uploads starts now, not with the first upload (one process:
    # nothing forks after this, which would leave the fork server behind).
    start_fork_server()
    click.echo(f"网页应用已启动：http://{host}:{port}/  （Ctrl+C 停止）")
    waitress_serve(app, host=host, port=port, **server_options(runtime.config, threads=threads))


@click.command("backup")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="备份文件路径",
)
def backup_command(output: Path) -> None:
    """在系统运行时备份数据库（SQLite 在线备份；PostgreSQL 用 pg_dump）。"""
    from heating.backup import backup

    runtime = get_runtime()
    kind = backup(runtime.engine, output)
    click.echo(f"已备份到 {output}（{kind}）")
    click.echo(
        f"注意：加密密钥文件 {runtime.config.encryption_key_file} 不在备份中。"
        "请另行妥善保存（与备份分开存放）；没有它，备份中的身份证号、电话、错误行和上传原文件无法读取。",
        err=True,
    )


COMMANDS: list[click.Command] = [
    init_command,
    keys_group,
    user_group,
    serve_command,
    backup_command,
]
