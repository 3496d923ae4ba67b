"""Fast bulk inserts of households and versions: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    Table,
    func,
    select,
    text,
)
from sqlalchemy.orm import Session

from heating.data_version import mark_written

# --------------------------------------------------------------------------
# Writing in bulk (imports, demo)
# --------------------------------------------------------------------------

BIG_INSERT_ROWS = 1000
BIG_INSERT_CACHE_KB = 65536  # SQLite page cache during a big insert (64 MB)


def bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in the session's transaction, fast.

    COPY on PostgreSQL, one driver-level executemany on SQLite; values go
    through each column's own bind processor (applied here once per value
    instead of through SQLAlchemy's per-row parameter machinery, which costs
    more than the insert itself at 100k rows in benchmarks/import_ledgers.py),
    memoised for dates, which repeat.  JSON columns take a ``dump_json`` string or None (JSON null).
    """
    conn = session.connection()
    dialect = conn.dialect
    converters: list[tuple[int, Any, Any]] = []  # (index, processor, value for None)
    for index, name in enumerate(columns):
        col_type = table.c[name].type
        proc = col_type._cached_bind_processor(dialect)
        # JSON (also a sealed JSON column) arrives already dumped, sealed where it must be.
        if isinstance(col_type, JSON) or isinstance(getattr(col_type, "impl", None), JSON):
            converters.append((index, None, proc(None) if proc else None))
        elif proc is not None:
            if isinstance(col_type, Date | DateTime):
                proc = functools.cache(proc)  # dates repeat; their count is bounded
            converters.append((index, proc, None))

    def prepared() -> Iterator[Sequence[Any]]:
        for row in rows:
            if converters:
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
        mark_written(
            conn
        )  # COPY bypasses SQLAlchemy: caches must still follow (heating.data_version)
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({column_list}) FROM STDIN") as copy,
        ):
            for row in prepared():
                copy.write_row(row)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    batch = list(prepared())
    if not batch:
        return
    insert = f"INSERT INTO {table.name} ({column_list}) VALUES ({marks})"
    if len(batch) < BIG_INSERT_ROWS:
        conn.exec_driver_sql(insert, batch)
        return
    # SQLite's default page cache (2 MB) is small for a table with several indexes taking
    # thousands of rows: a larger one for this insert (≈ 10 % less CPU per 100k households).
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{BIG_INSERT_CACHE_KB}")
    try:
        conn.exec_driver_sql(insert, batch)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


def allocate_ids(session: Session, table: Table, count: int) -> list[int]:
    """Primary keys for ``count`` new rows of ``table``, taken before inserting.

    Inserting with known ids lets one plain executemany (or COPY) write the
    rows and another their versions.  On SQLite this runs under the writer's
    lock (the caller has written already); on PostgreSQL the ids come from the
    table's own sequence, so concurrent writers never collide.
    """
    if count == 0:
        return []
    if session.get_bind().dialect.name == "postgresql":
        ids = session.execute(
            text(
                f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": count},
        ).scalars()
        return sorted(ids)
    start = session.scalar(select(func.coalesce(func.max(table.c.id), 0))) + 1
    return list(range(start, start + count))


def _next_id(session: Session, table: Table) -> int:
    return (session.execute(select(func.max(table.c.id))).scalar() or 0) + 1


def _sync_sequence(session: Session, table: Table) -> None:
    """After explicit ids on PostgreSQL, move the table's id sequence past them."""
    if session.connection().dialect.name != "postgresql":
        return
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
        )
    )
