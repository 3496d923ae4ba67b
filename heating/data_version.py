"""The data version: a value in the database that changes with every commit that writes figures.

Caches of derived figures (``heating.evidence_cache``) must never serve a
figure after the data behind it changed, in any process: several gunicorn
workers share one database, and a clerk's commit in one must be seen by the
next page of every other.  So the cache is validated against this value,
read from the database (one primary-key row of ``meta``, key
``data_version``, created with the installation's secrets by
``heating.db.ensure_meta``) at the start of every cached read.

How it changes, without any writer having to remember it: every engine made
by ``heating.db.make_engine`` watches the statements it runs
(``track_writes``).  An INSERT, UPDATE, DELETE, TRUNCATE or DDL statement on
any table but the few that never feed a figure (sessions, audit log, job
progress, stored files, kept parses) marks the connection; when that
connection's transaction commits, a fresh random value is written to the
row just before the commit, in the same transaction.  A rolled-back
transaction writes nothing, so its figures never change the version either.
Writers that bypass SQLAlchemy's statements (PostgreSQL ``COPY`` through the
driver's cursor in ``heating.history.bulk``) call ``mark_written``.

**Per district.** Most commits under load are a clerk's township ledger: they
write households, their versions and batch rows of one district only, and
nothing another district's figures are read from.  Such a transaction says
so (``writes_districts``, from ``imports.commit``), and when every table it
wrote is one of ``DISTRICT_TABLES`` its commit rewrites that district's row
(``data_version:<code>``) instead of the installation's.  A reader keyed by
districts (``current(session, districts)``) is then unaffected by commits in
other districts; one reading everything (``districts=None``) follows every
row.  Any other write — the register, usage, the registry, zones, DDL, or a
transaction that did not name its districts — rewrites the installation's
row, which every reader follows.

**Chosen before the commit.** A ledger commit may choose its districts' new
values before it commits (``reserve``), so that figures computed inside its
transaction — which sees its own writes — can be stored for the other
processes under the version they will read once it commits
(``heating.figures_warmup``).  Within that transaction ``current`` then
answers with those values instead of None.  The choice holds only while
nothing more is written (any later write drops it) and while no other
commit changed those districts' rows meanwhile: the commit writes a chosen
value only over the value it was chosen against, else a fresh one, so
figures computed without another clerk's rows are never read as current.

**Dated.** A ledger commit writes versions dated on its ledger date, never
earlier (``writes_dated``, from ``imports.commit``), and a state as of an
earlier date is read from versions dated on or before that date only
(``heating.history``): figures as of a date before the ledger's are the
same after it as before.  So a district's row keeps its last
``LOG_ENTRIES`` values, newest first, each with the earliest ledger date its
commit wrote (``*`` when it did not say).  A reader of figures as of a date
(``current(..., as_of=)``) is keyed by the newest value whose commit could
change them — one with a date on or before the reader's, or undated — so
the planners' figures as of last winter stay kept while clerks commit this
winter's ledgers.  The same value means the same history up to that commit,
and every commit after it is dated after the reader's date.  Entries have a
fixed width, so the database prepends one and cuts the row to its length in
the same statement: two commits of one district never lose each other's
entry.

The value is random rather than a counter so that a database emptied and
loaded again (tests, the load benchmark) never repeats a value a process
may still hold; the bump only updates the row, so a database whose row
was deleted caches nothing rather than something stale.  The row is written at commit time, so it is locked only
for the commit itself: two clerks' commits of different townships do not
wait on each other for longer than that.
"""

from __future__ import annotations

import re
import secrets
import weakref
from collections.abc import Hashable, Iterable
from datetime import date
from typing import Any

from sqlalchemy import Connection, Engine, event, text
from sqlalchemy.orm import Session

KEY = "data_version"
# The row of one district: ``data_version:<district code>``.
DISTRICT_KEY = KEY + ":{}"
# Connection.info flag: this transaction wrote something figures depend on.
WRITTEN = "heating.data_written"
# Connection.info: the districts this transaction declared it writes (writes_districts).
DISTRICTS = "heating.data_districts"
# Connection.info flag: a write outside DISTRICT_TABLES (or of unknown table) was seen.
BEYOND = "heating.data_beyond_districts"
# Connection.info: {district row key: (its value when chosen, the value the commit writes)}.
RESERVED = "heating.data_reserved"
# Connection.info: the earliest ledger date this transaction's district writes carry (writes_dated).
DATED = "heating.data_dated"
# A district row's entries: "<16 hex>@<YYYY-MM-DD or **********>;", newest first.
LOG_ENTRIES = 16
_UNDATED = "*" * 10
_ENTRY_WIDTH = len(f"{'0' * 16}@{_UNDATED};")
_LOG_WIDTH = LOG_ENTRIES * _ENTRY_WIDTH
# Tables whose rows belong to one district through their village or township, and
# that a reader of another district never reads: a ledger commit writes only these.
DISTRICT_TABLES = frozenset({"households", "household_versions", "import_batches"})
# Tables whose writes never change a figure: written on ordinary page views or
# while a job runs, so they must not empty every cache.
QUIET_TABLES = frozenset(
    {
        "user_sessions",
        "audit_log",
        "import_jobs",
        "stored_files",
        "parsed_ledgers",
        "kept_figures",
        "users",
        # Secrets, versions, and the row SQLite commits update to take the write lock
        # first (heating.locks): none is read by a figure.
        "meta",
    }
)
_WRITE = re.compile(
    r"""^\s*(?:
        (?:INSERT|REPLACE)\s+(?:OR\s+\w+\s+)?INTO
        |UPDATE(?:\s+OR\s+\w+)?
        |DELETE\s+FROM
        |COPY
    )\s+(?:ONLY\s+)?"?(\w+)""",
    re.IGNORECASE | re.VERBOSE,
)
# DDL, and a CTE that writes (a reading CTE must not count: readers would empty caches).
_OTHER_WRITE = re.compile(
    r"^\s*(?:(?:CREATE|DROP|ALTER|TRUNCATE)\b|WITH\b.*\b(?:INSERT|UPDATE|DELETE)\b)",
    re.IGNORECASE | re.DOTALL,
)
_BUMP = "UPDATE meta SET value = ? WHERE key = 'data_version'"
# A district's row is made by its first commit (the installation's row always exists); a
# later commit prepends its entry and cuts the log to its width in one statement.
_BUMP_DISTRICT = (
    "INSERT INTO meta (key, value) VALUES (?, ?) "
    f"ON CONFLICT (key) DO UPDATE SET value = substr(excluded.value || meta.value, 1, {_LOG_WIDTH})"
)
# The chosen value is written only over the value it was chosen against (module docstring).
_BUMP_RESERVED = "UPDATE meta SET value = ? WHERE key = ? AND value = ?"
_MAKE_RESERVED = "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING"
_READ = "SELECT key, value FROM meta WHERE key = 'data_version' OR key LIKE 'data_version:%'"
# Engines whose database is known to hold ``meta`` (``_has_meta``).
_ENGINES_WITH_META: weakref.WeakSet[Engine] = weakref.WeakSet()
# A batch row changes a figure only when it is committed or rolled back: history
# and use count by the batch's state.  A preview inserts the row and fills in its
# outcome (counts, sheets, issues): under load every clerk's preview would otherwise
# empty every worker's kept figures.  A commit in the same transaction as its insert
# writes households, records or the registry, which count on their own.
_BATCH_STATE = re.compile(r"\b(?:status|committed_at|rolled_back_at)\s*=", re.IGNORECASE)


def writes_figures(statement: str) -> bool:
    """Whether a statement may change what a figure is computed from (a cheap textual test).

    DDL and a CTE naming INSERT, UPDATE or DELETE count as writes whatever
    their tables: an extra change of version only costs one recomputation.
    """
    return written_table(statement) is not None


def written_table(statement: str) -> str | None:
    """The table a statement writes figures to; ``""`` when it writes an unknown one (DDL, CTE),
    None when it writes no figure."""
    found = _WRITE.match(statement)
    if found is not None:
        table = found.group(1).lower()
        if table == "import_batches":
            verb = statement.lstrip()[:6].upper()
            changes = verb == "DELETE" or (verb == "UPDATE" and _changes_batch_state(statement))
            return table if changes else None
        return None if table in QUIET_TABLES else table
    return "" if _OTHER_WRITE.match(statement) is not None else None


def _changes_batch_state(statement: str) -> bool:
    """Whether an UPDATE of import_batches sets its state (in the SET list, not the WHERE)."""
    head = re.split(r"\bWHERE\b", statement, maxsplit=1, flags=re.IGNORECASE)[0]
    return _BATCH_STATE.search(head) is not None


def mark_written(conn: Connection, table: str) -> None:
    """Say that ``conn``'s transaction wrote figures to ``table`` by a path SQLAlchemy does not see."""
    _note(conn, table)


def writes_districts(conn: Connection, districts: Iterable[str]) -> None:
    """Declare that ``conn``'s transaction writes figures of ``districts`` only.

    A promise by the caller (``imports.commit``: the districts of every
    township the ledger writes to or moves households from).  It narrows the
    new version to those districts only while every table written is one of
    ``DISTRICT_TABLES``; otherwise the installation's version changes as before.
    """
    conn.info[DISTRICTS] = conn.info.get(DISTRICTS, frozenset()) | frozenset(districts)


def writes_dated(conn: Connection, ledger_date: date) -> None:
    """Declare that every district row ``conn``'s transaction writes is dated on or after
    ``ledger_date``: versions written or retracted, households rows of households given
    such a version, batches of that date (module docstring, "Dated").

    A promise by the caller (``imports.commit``: one ledger date per commit).
    """
    known = conn.info.get(DATED)
    conn.info[DATED] = ledger_date if known is None else min(known, ledger_date)


def _entry(token: str, dated: date | None) -> str:
    return f"{token}@{dated.isoformat() if dated is not None else _UNDATED};"


def _district_key(value: str | None, as_of: date | None) -> str | None:
    """The part of a district row's value that figures as of ``as_of`` depend on: the newest
    entry whose commit was undated or dated on or before it (the newest entry when no
    date is given, or when the log holds none such)."""
    entries = [e for e in value.split(";") if e] if value else []
    if not entries:
        return value
    if as_of is None:
        return entries[0]
    day = as_of.isoformat()
    for entry in entries:
        _, at, dated = entry.partition("@")
        if not at or len(dated) != len(_UNDATED):  # a row written before dates, or cut short
            break
        if dated == _UNDATED or dated <= day:
            return entry
    return entries[0]


def has_written(conn: Connection) -> bool:
    """Whether ``conn``'s open transaction has written figures (not yet committed)."""
    return bool(conn.info.get(WRITTEN))


def reserve(session: Session) -> frozenset[str]:
    """Choose now the values ``session``'s commit will write to its districts' rows.

    The districts chosen for, or none: the transaction has written only
    ``DISTRICT_TABLES`` of the districts it declared (``writes_districts``).
    Until the commit, ``current`` in this transaction answers with the chosen
    values; a later write drops them (module docstring).
    """
    session.flush()
    conn = session.connection()
    districts = conn.info.get(DISTRICTS)
    if not conn.info.get(WRITTEN) or not districts or conn.info.get(BEYOND):
        return frozenset()
    rows = {key: value for key, value in session.execute(text(_READ))}
    if rows.get(KEY) is None:
        return frozenset()
    keys = [DISTRICT_KEY.format(code) for code in sorted(districts)]
    entry = _entry(secrets.token_hex(8), conn.info.get(DATED))
    # A district's first commit makes its row: chosen against None.
    conn.info[RESERVED] = {
        key: (rows.get(key), (entry + (rows.get(key) or ""))[:_LOG_WIDTH]) for key in keys
    }
    return frozenset(districts)


def _note(conn: Connection, table: str) -> None:
    conn.info.pop(RESERVED, None)  # figures computed before this write would miss it
    conn.info[WRITTEN] = True
    if table not in DISTRICT_TABLES:
        conn.info[BEYOND] = True


def _seen(conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
    if conn.info.get(BEYOND):
        return  # the widest version change is already due: nothing more to learn
    table = written_table(statement)
    if table is None:
        return
    _note(conn, table)
    if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        _bump(conn)  # no commit will follow: the write is already in force


def _bump(conn: Connection) -> None:
    """Write new versions on the connection's own transaction (through the driver's cursor):
    the declared districts' rows when only their tables were written, else the installation's."""
    districts = conn.info.get(DISTRICTS)
    beyond = conn.info.get(BEYOND)
    reserved = conn.info.get(RESERVED, {})
    dated = conn.info.get(DATED)
    _forget(conn)
    dbapi = conn.connection.dbapi_connection
    qmark = conn.dialect.paramstyle == "qmark"
    cursor = dbapi.cursor()
    try:
        if not _has_meta(conn, cursor):
            return
        if districts and not beyond:
            statement = _BUMP_DISTRICT if qmark else _BUMP_DISTRICT.replace("?", "%s")
            for code in sorted(districts):
                key = DISTRICT_KEY.format(code)
                if key in reserved:
                    was, value = reserved[key]
                    chosen, args = (
                        (_MAKE_RESERVED, (key, value))
                        if was is None
                        else (_BUMP_RESERVED, (value, key, was))
                    )
                    cursor.execute(chosen if qmark else chosen.replace("?", "%s"), args)
                    if cursor.rowcount == 1:
                        continue  # written as chosen
                # Not chosen, or another commit of the district came between: a fresh value.
                cursor.execute(statement, (key, _entry(secrets.token_hex(8), dated)))
        else:
            statement = _BUMP if qmark else _BUMP.replace("?", "%s")
            cursor.execute(statement, (secrets.token_hex(8),))
    finally:
        cursor.close()


def _has_meta(conn: Connection, cursor: Any) -> bool:
    """Whether the ``meta`` table exists yet: not while the migrations of a fresh database run.

    Asked of the database until it says yes, then remembered for the engine
    (a table the migrations made does not go away), so a commit pays it once.
    """
    if conn.engine in _ENGINES_WITH_META:
        return True
    cursor.execute(
        "SELECT 1 FROM sqlite_master WHERE name = 'meta'"
        if conn.dialect.name == "sqlite"
        else "SELECT to_regclass('meta')"
    )
    found = cursor.fetchone()
    if not found or found[0] is None:
        return False
    _ENGINES_WITH_META.add(conn.engine)
    return True


def _on_commit(conn: Connection) -> None:
    if conn.info.get(WRITTEN):
        _bump(conn)


def _forget(conn: Connection) -> None:
    for flag in (WRITTEN, DISTRICTS, BEYOND, RESERVED, DATED):
        conn.info.pop(flag, None)


def track_writes(engine: Engine) -> None:
    """Make ``engine``'s commits that write figures change the data version (module docstring)."""
    event.listen(engine, "after_cursor_execute", _seen)
    event.listen(engine, "commit", _on_commit)
    event.listen(engine, "rollback", _forget)
    event.listen(engine, "begin", _forget)


def current(
    session: Session, districts: Iterable[str] | None = None, *, as_of: date | None = None
) -> Hashable | None:
    """The data version ``session`` sees for ``districts`` (None: all), or None when figures
    must not be kept.

    With districts: the installation's row and those districts' rows, so a
    commit that wrote only another district's figures leaves it unchanged.
    None when its own transaction has written figures — figures computed
    inside a writing transaction (a commit's before → after) include changes
    other sessions cannot see yet, and may be rolled back; the read flushes
    the session first, so pending ORM changes count as written — and when
    the installation's row is missing (a database not upgraded since:
    ``heating.db.ensure_meta`` creates it), since then no commit could change it.
    After ``reserve``, a writing transaction's version is the one its commit will
    make, while the rows still hold the values the choice was made against.
    ``as_of``: for figures read as of that date only — commits dated after it do not
    change the districts' part (module docstring, "Dated").
    """
    rows = {key: value for key, value in session.execute(text(_READ))}
    if rows.get(KEY) is None:
        return None
    conn = session.connection()
    if has_written(conn):
        reserved = conn.info.get(RESERVED)
        if not reserved or any(rows.get(key) != was for key, (was, _) in reserved.items()):
            return None
        rows |= {key: value for key, (_, value) in reserved.items()}
    if districts is None:
        return tuple(
            sorted(
                (key, value if key == KEY else _district_key(value, as_of))
                for key, value in rows.items()
            )
        )
    return (
        rows[KEY],
        *(_district_key(rows.get(DISTRICT_KEY.format(code)), as_of) for code in sorted(districts)),
    )
