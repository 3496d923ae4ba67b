"""A consistent copy of the database while it is in use.

SQLite: the online backup API copies a consistent snapshot even while the
web app writes (WAL).  PostgreSQL: ``pg_dump`` in custom format, which reads
one consistent snapshot; it must be installed (it comes with the client).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.engine import make_url

from heating.errors import Refused


def backup(engine: Engine, target: Path) -> str:
    """Write a copy of the database to ``target``; return a description of the format."""
    url = make_url(str(engine.url))
    target.parent.mkdir(parents=True, exist_ok=True)
    backend = url.get_backend_name()
    if backend == "sqlite":
        return _backup_sqlite(url.database or "", target)
    if backend == "postgresql":
        return _backup_postgres(engine, target)
    raise Refused(f"不支持备份 {backend} 数据库。")


def _backup_sqlite(database: str, target: Path) -> str:
    if not database or database == ":memory:":
        raise Refused("内存数据库无法备份。")
    if target.resolve() == Path(database).resolve():
        raise Refused("备份文件不能与数据库文件相同，请换一个文件名。")
    tmp = target.with_name(target.name + ".part")
    source = sqlite3.connect(database)
    try:
        dest = sqlite3.connect(tmp)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    tmp.replace(target)
    return "SQLite 数据库文件"


def _backup_postgres(engine: Engine, target: Path) -> str:
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise Refused(
            "找不到 pg_dump：请安装 PostgreSQL 客户端（如 apt-get install postgresql-client）后重试。"
        )
    url = engine.url
    cmd = [
        pg_dump,
        "--format=custom",
        "--no-owner",
        f"--file={target}",
        "--host",
        url.host or "localhost",
        "--port",
        str(url.port or 5432),
        "--username",
        url.username or "postgres",
        url.database or "postgres",
    ]
    env = None
    if url.password:
        import os

        env = {**os.environ, "PGPASSWORD": str(url.password)}
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        target.unlink(missing_ok=True)
        raise Refused(f"pg_dump 备份失败：{result.stderr.strip()[:500]}")
    return "PostgreSQL 自定义格式（用 pg_restore 恢复）"
