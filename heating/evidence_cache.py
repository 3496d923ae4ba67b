"""Figures of the usage evidence kept per process until the data change (issue 17).

Judging use (``heating.usage.evaluate``) reads and judges every household of
a district: 1.6–3.5 s of CPU per page wherever a district has usage data,
for any page showing measures.  Its result changes only when a ledger, a
usage file, the register, the registry or a boundary is committed or rolled
back, so it is kept here, keyed by everything the result depends on besides
the data (the caller's key: districts, date, known-at time, season,
settings, heat-source rule), and by the data version
(``heating.data_version``) read from the database on each use.  Every
commit that writes figures changes that version, in whichever process it
ran, so the next read in every worker computes again: a kept figure is never
older than the data its reader's transaction sees.

Nothing is kept when the reader's own transaction has written figures (a
commit computing its before → after): those figures are not yet everyone's.

One store per engine (a worker has one; each test app its own), holding at
most ``MAX_ENTRIES`` results, the least recently used dropped first, all of
them dropped when the version changes.  Kept values are shared between
requests: callers get a deep copy unless they promise only to read
(``shared=True``: frozen dataclasses and tuples).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from heating import data_version

T = TypeVar("T")
MAX_ENTRIES = 64


class _Store:
    """One engine's kept results, all of one data version."""

    def __init__(self) -> None:
        self.version: str | None = None
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.lock = threading.Lock()
        self.computing: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.misses = 0

    def get(self, version: str, key: Hashable) -> tuple[bool, Any]:
        with self.lock:
            if version != self.version or key not in self.entries:
                return False, None
            self.entries.move_to_end(key)
            self.hits += 1
            return True, self.entries[key]

    def put(self, version: str, key: Hashable, value: Any) -> None:
        with self.lock:
            if version != self.version:
                self.entries.clear()
                self.computing.clear()  # a lock still held is only dropped from the map
                self.version = version
            self.entries[key] = value
            self.entries.move_to_end(key)
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)

    def computing_lock(self, key: Hashable) -> threading.Lock:
        """The lock one thread holds while it computes ``key`` (the others wait for its result)."""
        with self.lock:
            return self.computing.setdefault(key, threading.Lock())


_stores: WeakKeyDictionary[Engine, _Store] = WeakKeyDictionary()
_stores_lock = threading.Lock()


def _store(session: Session) -> _Store:
    engine = session.get_bind()
    if not isinstance(engine, Engine):  # a session bound to a connection
        engine = engine.engine
    with _stores_lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = _Store()
        return store


def kept(session: Session, key: Hashable, compute: Callable[[], T], *, shared: bool = False) -> T:
    """``compute()``, or the result kept for ``key`` at the data version ``session`` sees.

    The version is read again after computing and the result kept only if it
    has not changed meanwhile (on PostgreSQL each statement sees the newest
    commits, so a result computed across a commit may mix both states).
    """
    version = data_version.current(session)
    if version is None:
        return compute()
    store = _store(session)
    found, value = store.get(version, key)
    if not found:
        # After a commit every thread of a worker asks at once: one computes, the
        # others wait for it rather than each spending the same seconds of CPU.
        # Keys nest in one order only (report → trend → facts with evidence → facts without →
        # evidence → judged; evidence districts computes nothing kept), so waits cannot cycle.
        with store.computing_lock(key):
            found, value = store.get(version, key)
            if not found:
                store.misses += 1
                value = compute()
                if data_version.current(session) == version:
                    store.put(version, key, value)
    return value if shared else copy.deepcopy(value)


def stats(session: Session) -> dict[str, int]:
    """Hits, misses and entries of ``session``'s engine (benchmarks, tests)."""
    store = _store(session)
    return {"hits": store.hits, "misses": store.misses, "entries": len(store.entries)}


def clear(session: Session) -> None:
    """Drop every kept result of ``session``'s engine (a benchmark's cold start)."""
    store = _store(session)
    with store.lock:
        store.entries.clear()
        store.version = None
