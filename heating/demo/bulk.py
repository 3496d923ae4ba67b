"""Fast bulk inserts for the demo load: COPY on PostgreSQL, executemany on SQLite.

Writing 58,000 households and 200,000 versions through SQLAlchemy's
parameter processing takes most of a minute; the demo must load in seconds.
Values are passed through each column's own bind processor (so dates,
booleans and decimals are stored exactly as the ORM would store them), except
JSON values, which the caller serialises once (a version's ``before`` is the
previous version's ``after``: the same string).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import JSON, Table, text
from sqlalchemy.orm import Session


def dump_json(value: Any) -> str:
    """Serialise a JSON-safe value compactly (Chinese kept as UTF-8)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in the session's transaction.

    JSON columns take a string from ``dump_json`` or None (stored as JSON
    ``null``, as the ORM does).
    """
    conn = session.connection()
    dialect = conn.dialect
    converters: list[tuple[int, Any, Any]] = []  # (index, processor, value for None)
    for index, name in enumerate(columns):
        col = table.c[name]
        proc = col.type._cached_bind_processor(dialect)
        if isinstance(col.type, JSON):
            converters.append((index, None, proc(None) if proc else None))
        elif proc is not None:
            converters.append((index, proc, None))

    def prepared() -> Iterable[Sequence[Any]]:
        for row in rows:
            row = list(row)
            for index, proc, null in converters:
                value = row[index]
                if value is None:
                    row[index] = null
                elif proc is not None:
                    row[index] = proc(value)
            yield tuple(row)

    column_list = ", ".join(columns)
    if dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({column_list}) FROM STDIN") as copy,
        ):
            for row in prepared():
                copy.write_row(row)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    conn.exec_driver_sql(
        f"INSERT INTO {table.name} ({column_list}) VALUES ({marks})", list(prepared())
    )


def next_id(session: Session, table: Table) -> int:
    """The first free primary key of ``table`` (for rows inserted with explicit ids)."""
    current = session.execute(text(f"SELECT MAX(id) FROM {table.name}")).scalar()
    return (current or 0) + 1


def sync_sequence(session: Session, table: Table) -> None:
    """After explicit ids on PostgreSQL, move the id sequence past them."""
    if session.connection().dialect.name != "postgresql":
        return
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
        )
    )
