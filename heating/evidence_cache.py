"""Figures of the usage evidence kept per process until the data change (issue 17).

Judging use (``heating.usage.evaluate``) reads and judges every household of
a district: 1.6–3.5 s of CPU per page wherever a district has usage data,
for any page showing measures.  Its result changes only when a ledger, a
usage file, the register, the registry or a boundary is committed or rolled
back, so it is kept here, keyed by everything the result depends on besides
the data (the caller's key: districts, date, known-at time, season,
settings, heat-source rule), and by the data version
(``heating.data_version``) read from the database on each use — of the
districts the caller names (``districts``), or of the whole installation.
Every commit that writes figures changes that version, in whichever process
it ran, so the next read in every worker computes again: a kept figure is
never older than the data its reader's transaction sees.  A clerk's ledger
commit changes only its district's version, so the other districts' kept
figures stay.

Nothing is kept when the reader's own transaction has written figures (a
commit computing its before → after): those figures are not yet everyone's.

Where figures are shared (``heating.shared_figures``: on PostgreSQL by
default), a figure this process does not hold is looked for in the database
first, at the same key and data version, and one computed here is stored
there for the other processes; so after a commit one process computes it,
not every worker and report process.

One store per engine (a worker has one; each test app its own), holding at
most ``MAX_ENTRIES`` results, each with the version it was computed at, the
least recently used dropped first.  Kept values are shared between
requests: callers get a deep copy unless they promise only to read
(``shared=True``: frozen dataclasses and tuples).
"""

from __future__ import annotations

import copy
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Collection, Hashable
from datetime import date
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from heating import data_version, shared_figures

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ENTRIES = 256  # per district and scope: 12 districts × their pages, dates and reports


class _Store:
    """One engine's kept results, each with the data version it was computed at."""

    def __init__(self) -> None:
        self.entries: OrderedDict[Hashable, tuple[Hashable, Any]] = OrderedDict()
        self.lock = threading.Lock()
        self.computing: dict[Hashable, threading.Lock] = {}
        self.hits = 0
        self.shared_hits = 0  # found in the database, computed by another process
        self.misses = 0

    def get(self, version: Hashable, key: Hashable) -> tuple[bool, Any]:
        with self.lock:
            found = self.entries.get(key)
            if found is None or found[0] != version:
                return False, None
            self.entries.move_to_end(key)
            self.hits += 1
            return True, found[1]

    def put(self, version: Hashable, key: Hashable, value: Any) -> None:
        with self.lock:
            self.entries[key] = (version, value)
            self.entries.move_to_end(key)
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)
            if len(self.computing) > 4 * MAX_ENTRIES:  # keys of dates and scopes come and go
                self.computing = {k: lock for k, lock in self.computing.items() if lock.locked()}

    def computing_lock(self, key: Hashable) -> threading.Lock:
        """The lock one thread holds while it computes ``key`` (the others wait for its result)."""
        with self.lock:
            return self.computing.setdefault(key, threading.Lock())


_stores: WeakKeyDictionary[Engine, _Store] = WeakKeyDictionary()
_stores_lock = threading.Lock()


def engine_of(session: Session) -> Engine:
    """The engine a session reads through (also when it is bound to one connection)."""
    engine = session.get_bind()
    return engine if isinstance(engine, Engine) else engine.engine  # bound to a connection


def _store(session: Session) -> _Store:
    engine = engine_of(session)
    with _stores_lock:
        store = _stores.get(engine)
        if store is None:
            store = _stores[engine] = _Store()
        return store


def kept(
    session: Session,
    key: Hashable,
    compute: Callable[[], T],
    *,
    shared: bool = False,
    districts: Collection[str] | None = None,
    as_of: date | None = None,
) -> T:
    """``compute()``, or the result kept for ``key`` at the data version ``session`` sees.

    ``districts``: the districts whose data (households, their versions,
    ledger batches) the result is computed from — a promise; None when it may
    read any district's.  The version is read again after computing and the result kept only if it
    has not changed meanwhile (on PostgreSQL each statement sees the newest
    commits, so a result computed across a commit may mix both states).
    ``as_of``: the result is figures as of that date (its households read as of it), so
    commits of ledgers dated after it leave it kept (``heating.data_version``, "Dated").
    """
    version = data_version.current(session, districts, as_of=as_of)
    if version is None:
        return compute()
    store = _store(session)
    found, value = store.get(version, key)
    if not found:
        # After a commit every thread of a worker asks at once: one computes, the
        # others wait for it rather than each spending the same seconds of CPU.
        # Keys nest in one order only (report → trend → the installation's facts → a district's
        # facts with evidence → without → evidence → judged → season uses; an evidence district
        # computes nothing kept), so waits cannot cycle.
        with store.computing_lock(key):
            found, value = store.get(version, key)
            if not found:
                value = _kept_elsewhere(session, store, key, version, districts, as_of, compute)
    return value if shared else copy.deepcopy(value)


def _kept_elsewhere(
    session: Session,
    store: _Store,
    key: Hashable,
    version: Hashable,
    districts: Collection[str] | None,
    as_of: date | None,
    compute: Callable[[], T],
) -> T:
    """The figure another process stored, else ``compute()``; kept here (and stored for the
    other processes, ``heating.shared_figures``) when the data did not change meanwhile."""
    engine = engine_of(session)
    digest = shared_figures.digest_of(key, version) if shared_figures.enabled(engine) else None
    claimed = False
    if digest is not None:
        try:
            found, value, claimed = shared_figures.fetch_or_claim(engine, digest)
        except SQLAlchemyError as failed:  # a database not upgraded, a lock: compute here
            log.warning("kept figures not shared: %s", failed)
            digest = None
        else:
            if found:
                store.shared_hits += 1
                store.put(version, key, value)
                return value
    store.misses += 1
    try:
        value = compute()
    except BaseException:
        if claimed:
            _quietly(shared_figures.release, engine, digest)
        raise
    unchanged = data_version.current(session, districts, as_of=as_of) == version
    if unchanged:
        store.put(version, key, value)
    if digest is not None:
        if unchanged:
            _quietly(shared_figures.store, engine, digest, value)
        elif claimed:
            _quietly(shared_figures.release, engine, digest)
    return value


def _quietly(step: Callable[..., None], *args: Any) -> None:
    """A step of sharing whose failure costs only the sharing (the reader has its figure)."""
    try:
        step(*args)
    except SQLAlchemyError as failed:
        log.warning("kept figure not stored for other processes: %s", failed)


def peek(
    session: Session, key: Hashable, *, districts: Collection[str] | None = None
) -> tuple[bool, Any]:
    """(True, the kept result) for ``key`` at the data version ``session`` sees, else (False, None);
    never computes (a caller that computes elsewhere, ``heating.web.reports``).  The result is
    shared: the caller only reads it."""
    version = data_version.current(session, districts)
    if version is None:
        return False, None
    store = _store(session)
    found, value = store.get(version, key)
    engine = engine_of(session)
    if found or not shared_figures.enabled(engine):
        return found, value
    digest = shared_figures.digest_of(key, version)
    try:
        found, value = (False, None) if digest is None else shared_figures.peek(engine, digest)
    except SQLAlchemyError as failed:
        log.warning("kept figures not shared: %s", failed)
        return False, None
    if found:
        store.shared_hits += 1
        store.put(version, key, value)
    return found, value


def stats(session: Session) -> dict[str, int]:
    """Hits, misses and entries of ``session``'s engine (benchmarks, tests)."""
    store = _store(session)
    return {
        "hits": store.hits,
        "shared_hits": store.shared_hits,
        "misses": store.misses,
        "entries": len(store.entries),
    }


def clear(session: Session) -> None:
    """Drop every kept result of ``session``'s engine (a benchmark's cold start)."""
    store = _store(session)
    with store.lock:
        store.entries.clear()
