"""The test run's database side: its encryption key file, rows per table, emptying and refilling."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Integer, func, select, text
from sqlalchemy.engine import URL

from heating.db import make_engine
from heating.models import Base
from heating.runtime import Runtime

# The run's encryption key file, outside the repository; tests/conftest.py creates
# the key there and points HEATING_ENCRYPTION_KEY_FILE at it.
KEY_FILE = Path(tempfile.mkdtemp(prefix="heating-test-key-")) / "heating.key"


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Rows per table: compare before and after a refused request to prove nothing was stored.

    Not ``kept_figures``: reading a page fills it (figures computed once for every app
    process, ``heating.shared_figures``), as it fills each process's memory.
    """
    with runtime.session() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name != "kept_figures"
        }


def on_server(url: URL, *statements: str) -> None:
    """Run statements outside any transaction on the server of ``url`` (its postgres database)."""
    admin = make_engine(url.set(database="postgres").render_as_string(hide_password=False))
    with admin.execution_options(isolation_level="AUTOCOMMIT").connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    admin.dispose()


def truncate_all(engine: Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


# Above this many bytes in the tables (a test that wrote thousands of rows, or the dead rows
# of many deletions), the next reset truncates instead of deleting.
DELETE_LIMIT_BYTES = 4 << 20


def empty_all(engine: Engine) -> None:
    """Empty every table and restart every id sequence, as ``truncate_all`` does (PostgreSQL).

    TRUNCATE gives every table and index a new file and syncs them at commit:
    ~0.1–1 s per test on 24 tables, most of PostgreSQL's extra time per test.
    A test leaves a few dozen rows, which DELETE removes in milliseconds; a
    test that wrote many is truncated as before.
    """
    tables = [t.name for t in Base.metadata.sorted_tables]
    with engine.begin() as conn:
        size = conn.scalar(
            text(
                "SELECT sum(pg_total_relation_size(quote_ident(name))) "
                "FROM unnest(CAST(:t AS text[])) AS name"
            ),
            {"t": tables},
        )
        if size > DELETE_LIMIT_BYTES:
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            return
        for name in reversed(tables):  # referencing tables first
            conn.execute(text(f"DELETE FROM {name}"))
        with_ids = [t.name for t in Base.metadata.sorted_tables if "id" in t.columns]
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence(quote_ident(name), 'id'), 1, false) "
                "FROM unnest(CAST(:t AS text[])) AS name"
            ),
            {"t": with_ids},
        )


def restore_rows(engine: Engine, rows: list[tuple[Any, list[dict[str, Any]]]]) -> None:
    """Insert prepared rows and move each id sequence past them (PostgreSQL)."""
    with engine.begin() as conn:
        for table, data in rows:
            conn.execute(table.insert(), data)
            id_column = table.columns.get("id")
            if id_column is not None and isinstance(id_column.type, Integer):
                conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                        f"(SELECT MAX(id) FROM {table.name}))"
                    )
                )
