"""Fast bulk inserts of households and versions: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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
    session: Session,
    table: Table,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    ready: frozenset[str] = frozenset(),
) -> None:
    """Insert ``rows`` (tuples in ``columns`` order) in the session's transaction, fast.

    COPY on PostgreSQL, one driver-level executemany on SQLite; values go
    through each column's own bind processor, applied here a column at a time
    (instead of through SQLAlchemy's per-row parameter machinery, which costs
    more than the insert itself at 100k rows in benchmarks/import_ledgers.py),
    memoised for dates and booleans, which repeat.  JSON columns take a
    ``dump_json`` string or None (JSON null).  Columns named in ``ready`` hold
    values already in their stored form (sealed personal data sealed by the
    caller) and skip their processor.

    On SQLite a column that is None in every row and has no server default is
    left out of the INSERT: it is NULL all the same, and binding a NULL costs
    the driver as much as binding a value (a ledger leaves a dozen of the 45
    household columns empty: ≈ 25 % of SQLite's CPU for 100k new households).
    """
    batch = rows if isinstance(rows, list) else list(rows)
    if not batch:
        return
    conn = session.connection()
    dialect = conn.dialect
    sqlite = dialect.name == "sqlite"
    names: list[str] = []
    values: list[Sequence[Any]] = []
    for name, column in zip(columns, zip(*batch, strict=True), strict=True):
        col = table.c[name]
        col_type = col.type
        proc = None if name in ready else col_type._cached_bind_processor(dialect)
        if isinstance(col_type, JSON) or isinstance(getattr(col_type, "impl", None), JSON):
            # Arrives already dumped (sealed where it must be): only None needs its text.
            null = proc(None) if proc else None
            if null is not None and None in column:
                column = [null if value is None else value for value in column]
        elif proc is not None:
            if isinstance(col_type, Date | DateTime | Boolean):
                proc = functools.cache(proc)  # they repeat; their count is bounded
            column = list(map(proc, column))  # every processor here passes None through
        if (
            sqlite
            and column[0] is None
            and col.server_default is None
            and column.count(None) == len(column)
        ):
            continue
        names.append(name)
        values.append(column)
    prepared = list(zip(*values, strict=True))
    column_list = ", ".join(names)
    if dialect.name == "postgresql":
        # COPY bypasses SQLAlchemy: caches must still follow (heating.data_version)
        mark_written(conn, table.name)
        raw = conn.connection.driver_connection
        with (
            raw.cursor() as cur,
            cur.copy(f"COPY {table.name} ({column_list}) FROM STDIN") as copy,
        ):
            for row in prepared:
                copy.write_row(row)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in names)
    insert = f"INSERT INTO {table.name} ({column_list}) VALUES ({marks})"
    if len(prepared) < BIG_INSERT_ROWS:
        conn.exec_driver_sql(insert, prepared)
        return
    # SQLite's default page cache (2 MB) is small for a table with several indexes taking
    # thousands of rows: a larger one for this insert (≈ 10 % less CPU per 100k households).
    previous = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size=-{BIG_INSERT_CACHE_KB}")
    try:
        conn.exec_driver_sql(insert, prepared)
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size={int(previous)}")


@contextmanager
def indexes_deferred(session: Session, tables: Sequence[Table], adding: int) -> Iterator[None]:
    """On SQLite, build the plain indexes of ``tables`` after ``adding`` new rows, not during.

    Inserting into ten b-trees (two partial) row by row costs SQLite more than sorting the
    rows once per index: for 100k new households into empty tables ≈ 0.2-0.45 s of
    CPU less (benchmarks/import_ledgers.py, issue 17).  Done only for a table whose
    rows so far (its highest id, an upper bound read from the primary key) are no
    more than those added, so that rebuilding never costs more than it saves.  Indexes
    that enforce a constraint (the households' unique key) stay; the others are
    dropped and created again from their own stored SQL, in the same transaction:
    the schema after the commit is the one before it, and a failed write rolls
    the drops back with everything else.  PostgreSQL (COPY) is left as it is.
    """
    conn = session.connection()
    if conn.dialect.name != "sqlite" or adding < BIG_INSERT_ROWS:
        yield
        return
    dropped: list[str] = []
    for table in tables:
        held = conn.exec_driver_sql(f"SELECT coalesce(max(id), 0) FROM {table.name}").scalar()
        if held > adding:
            continue
        found = conn.exec_driver_sql(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL ORDER BY name",
            (table.name,),
        ).all()
        for name, sql in found:
            conn.exec_driver_sql(f'DROP INDEX "{name}"')
            dropped.append(sql)
    try:
        yield
    except BaseException:
        # Also after a failure, so that a caller that goes on and commits keeps every
        # index; the failure itself is what the caller must see.
        with contextlib.suppress(Exception):
            for sql in dropped:
                conn.exec_driver_sql(sql)
        raise
    for sql in dropped:
        conn.exec_driver_sql(sql)


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


def next_id(session: Session, table: Table) -> int:
    """The first id after the table's largest (explicit ids; then ``sync_sequence``)."""
    return (session.execute(select(func.max(table.c.id))).scalar() or 0) + 1


def sync_sequence(session: Session, table: Table) -> None:
    """After explicit ids on PostgreSQL, move the table's id sequence past them."""
    if session.connection().dialect.name != "postgresql":
        return
    session.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"(SELECT COALESCE(MAX(id), 1) FROM {table.name}))"
        )
    )
