"""What every test's engine and app would compile again, kept once per test process.

``tests/conftest.py`` gives ``COMPILED_STATEMENTS`` to every connection of every engine
(``share_compiled_statements``, listening on ``Engine`` "engine_connect") and
``COMPILED_TEMPLATES`` to every test app's Jinja environment.
"""

from __future__ import annotations

from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from sqlalchemy import Connection
from sqlalchemy.util import LRUCache


class _CompiledStatements:
    """SQLAlchemy's compiled statements kept for the whole run (per process), for every test's engine.

    Each test opens a new engine, whose own cache of compiled SQL starts empty:
    about a seventh of the suite's CPU went to compiling the same statements
    again.  SQLAlchemy keys a compiled statement by the dialect *object*; here
    by what the compiled SQL depends on — the dialect's class, its server's
    version and its parameter style — which every engine of a run shares
    (one SQLite library, or one PostgreSQL server, through ``make_engine``).
    Given to every connection of every engine (the tests' runtimes, the CLI's
    in-process runs, the apps') as the documented ``compiled_cache`` execution
    option; the ORM's flushes keep using each mapper's own cache.
    """

    def __init__(self) -> None:
        self.compiled: LRUCache[Any, Any] = LRUCache(20_000)

    @staticmethod
    def _key(key: tuple[Any, ...]) -> tuple[Any, ...]:
        dialect = key[0]
        same_sql = (type(dialect), dialect.server_version_info, dialect.paramstyle)
        return (same_sql, *key[1:])

    def get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        return self.compiled.get(self._key(key), default)

    def __setitem__(self, key: tuple[Any, ...], value: Any) -> None:
        self.compiled[self._key(key)] = value


COMPILED_STATEMENTS = _CompiledStatements()


def share_compiled_statements(connection: Connection) -> None:
    connection.execution_options(compiled_cache=COMPILED_STATEMENTS)  # in place (SQLAlchemy 2)


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates kept in memory for the whole run (per process).

    Every test makes its own app and so its own Jinja environment, which would
    compile each template it renders again (about a fifth of a web test's CPU).
    Jinja checks each entry against its template's source checksum.
    """

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()
