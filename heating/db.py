"""Database engine, sessions and migrations.

One code path for SQLite and PostgreSQL.  SQLite gets foreign keys, WAL and
a busy timeout on every connection, because without them a second clerk's
commit fails with "database is locked" instead of waiting its turn.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from heating.clock import DEFAULT_TIMEZONE
from heating.data_version import KEY as DATA_VERSION_KEY
from heating.data_version import track_writes

if TYPE_CHECKING:  # Alembic costs ≈ 0.5 s to import: only commands that migrate load it
    from alembic.config import Config as AlembicConfig


class DatabaseError(Exception):
    """The database cannot be reached or is not initialised; message in Chinese."""


@dataclass(frozen=True)
class PoolSettings:
    """PostgreSQL connection pool of one app process (settings ``db_pool_*``, ``db_max_overflow``).

    A process holds ``size`` connections and opens up to ``overflow`` more
    when all are busy; a request waits ``timeout`` seconds for a free one;
    connections older than ``recycle`` seconds are replaced (0: never), since
    firewalls and connection proxies drop idle ones.  SQLite ignores them.
    """

    size: int = 5
    overflow: int = 10
    timeout: int = 30
    recycle: int = 3600

    @classmethod
    def from_config(cls, config: Any) -> PoolSettings:
        return cls(
            config.db_pool_size,
            config.db_max_overflow,
            config.db_pool_timeout,
            config.db_pool_recycle,
        )


def make_engine(url: str, pool: PoolSettings | None = None) -> Engine:
    """Create an engine for ``url`` with the per-dialect settings we rely on."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(
            f"数据库地址无效：{url!r}（示例：sqlite:///instance/heating.db）"
        ) from None
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            try:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"无法创建数据库目录 {Path(database).parent}：{exc.strerror}"
                ) from None
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        track_writes(engine)  # caches of figures follow every commit (heating.data_version)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    pool = pool or PoolSettings()
    engine = create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.overflow,
        pool_timeout=pool.timeout,
        pool_recycle=pool.recycle or -1,
    )
    track_writes(engine)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def session_factory(engine: Engine, **info: Any) -> sessionmaker[Session]:
    """Sessions on ``engine``; ``info`` rides on each (``session.info``).

    The runtime puts the counting settings there (``heat_source_rule``,
    ``usage``: ``heating.seasons.counting_usage``), so
    every reader of household counts in that session counts the same way
    (``heating.village_facts``) without each caller passing them on.
    """
    return sessionmaker(bind=engine, expire_on_commit=False, info=info)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Run a unit of work: commit on success, roll back on any exception."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def describe(url: str) -> str:
    """Return the URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def check_connection(engine: Engine) -> None:
    """Connect once; turn driver errors into a DatabaseError a person can act on."""
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        raise DatabaseError(
            f"无法连接数据库 {describe(str(engine.url))}：{str(exc.orig).strip().splitlines()[0]}。"
            "请检查 HEATING_DATABASE_URL 或 --db，并确认数据库服务已启动。"
        ) from None


def alembic_config(engine: Engine, timezone: str = DEFAULT_TIMEZONE) -> AlembicConfig:
    """The Alembic configuration of our migrations for ``engine``.

    ``timezone`` is the configured zone: a migration that turns stored UTC
    times into days (``ledger_dates``) needs it.
    """
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.set_main_option("sqlalchemy.url", str(engine.url).replace("%", "%%"))
    cfg.attributes["timezone"] = timezone
    return cfg


def upgrade(engine: Engine, *, timezone: str = DEFAULT_TIMEZONE, revision: str = "head") -> None:
    """Create or upgrade the schema to the newest migration (or ``revision``) with Alembic."""
    from alembic import command

    check_connection(engine)
    cfg = alembic_config(engine, timezone)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    ensure_meta(engine)


def is_initialised(engine: Engine) -> bool:
    """True when the schema exists (``heating init`` has run)."""
    check_connection(engine)
    return inspect(engine).has_table("villages")


def require_initialised(engine: Engine) -> None:
    if not is_initialised(engine):
        raise DatabaseError(
            f"数据库 {describe(str(engine.url))} 尚未初始化。请先运行 heating init（或 heating demo）。"
        )


def ensure_meta(engine: Engine) -> None:
    """Create the installation's secrets (session key, ID-number salt) and data version once.

    Without the data version row (``heating.data_version``) nothing is cached.
    """
    from heating.models import Meta

    factory = session_factory(engine)
    with session_scope(factory) as session:
        for key in ("secret_key", "id_salt", DATA_VERSION_KEY):
            if session.get(Meta, key) is None:
                session.add(Meta(key=key, value=secrets.token_hex(32)))


def get_meta(session: Session, key: str) -> str | None:
    from heating.models import Meta

    row = session.scalar(select(Meta).where(Meta.key == key))
    return row.value if row else None


# A ledger commit writing at least this many households and versions analyses them.
ANALYZE_ROWS = 1000


def analyze(session: Session, *tables: str) -> None:
    """Refresh PostgreSQL's planner statistics of ``tables`` after a bulk load.

    Autovacuum analyses a table only after enough changes and some delay,
    and may be off: until then the planner plans for the table as it was
    (a scan of 200,000 fresh versions planned as a handful of rows).  It runs
    in the caller's transaction and counts the rows it inserted.  SQLite
    plans our queries from its indexes without statistics: nothing to do.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE " + ", ".join(tables)))
