"""Kept figures shared by the app's processes through the database (issue 17).

``heating.evidence_cache`` keeps a figure per process until the data change.
Under the load test that was still one recomputation per worker (and one in
the report process) after every commit: 4 s of CPU each for a district's
judgement of use on the city demo, all of them at once.  Here the first
process to miss a figure *claims* it (a row of ``kept_figures`` without a
payload), computes it and stores it; the others, finding the claim, wait for
the payload instead of computing the same seconds again, then keep it in
their own store as before.

A row is found only by a digest of everything the figure depends on: the
caller's key (encoded by ``stable_key``, which refuses anything whose text is
not its value — such a figure stays per process), the data version the
reader's transaction saw, and the code (``code_digest``: the source of the
``heating``, ``geo`` and ``imports`` packages; a new release never reads an
old release's figures).  So a stored figure is never served for other data,
other settings or other code.

The payload is pickled, compressed and sealed with the installation's key
(``heating.sealing``): figures hold household rows; and a payload is only
unpickled once its seal opened, so nobody who may write to the database but
lacks the key file can make the app unpickle bytes of their choosing.

Only on PostgreSQL by default — the production shape, several workers
(``share_between_processes`` switches it for an engine; the tests use it on
SQLite too).  A SQLite installation runs one process, and a claim written
while a clerk's commit holds the write lock would wait for it.

Claims older than ``CLAIM_SECONDS`` (a process that died computing) are
taken over, a waiter gives up after ``WAIT_SECONDS`` and computes the figure itself,
and a process running below normal priority (a report build) never claims: pages
would wait for it.  Rows are deleted ``KEEP_SECONDS`` after their claim.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import decimal
import enum
import hashlib
import logging
import os
import pickle
import time
import weakref
from collections.abc import Hashable
from pathlib import Path
from typing import Any

from isal import isal_zlib
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from heating.models import KeptFigure
from heating.models.base import utcnow
from heating.sealing import FILE_MAGIC, active_or_none

log = logging.getLogger(__name__)

CLAIM_SECONDS = 300.0  # a report of the city at load takes minutes; a claim older is abandoned
KEEP_SECONDS = 3600.0
POLL_SECONDS = 0.2
WAIT_SECONDS = 30.0  # then a waiting process computes the figure itself
MAX_BYTES = 64 * 1024 * 1024  # a bigger figure stays per process
_PACKAGES = ("heating", "geo", "imports")
_TABLE = KeptFigure.__table__
_switched: weakref.WeakKeyDictionary[Engine, bool] = weakref.WeakKeyDictionary()
_code: list[str] = []


class Unshareable(TypeError):
    """A key part whose text may not say everything it holds."""


def share_between_processes(engine: Engine, on: bool) -> None:
    """Share ``engine``'s kept figures through its database (``on``) or keep them per process."""
    _switched[engine] = on


def enabled(engine: Engine) -> bool:
    """Whether figures kept for ``engine`` are shared (default: on PostgreSQL, with a key)."""
    on = _switched.get(engine)
    if on is None:
        on = engine.dialect.name == "postgresql"
    return on and active_or_none() is not None


def code_digest() -> str:
    """SHA-256 of the source files of the packages that compute figures (once per process)."""
    if not _code:
        digest = hashlib.sha256()
        root = Path(__file__).resolve().parent.parent
        for package in _PACKAGES:
            for path in sorted((root / package).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode())
                digest.update(path.read_bytes())
        _code.append(digest.hexdigest())
    return _code[0]


def stable_key(value: Any) -> str:
    """A text that two processes make alike exactly when ``value`` is the same.

    Only types whose text is their whole value: numbers, text, dates and
    times, None, Enum members, and tuples, lists, sets, dicts and dataclasses
    of them (sets and dicts in sorted order: their iteration order depends on
    each process's hash seed).  Anything else raises ``Unshareable``.
    """
    kind = type(value)
    if value is None or kind in (bool, int, float, str, bytes, decimal.Decimal):
        return repr(value)
    if kind in (dt.date, dt.datetime, dt.time, dt.timedelta):
        return repr(value)
    if isinstance(value, enum.Enum):
        return f"{kind.__module__}.{kind.__qualname__}.{value.name}"
    if kind in (tuple, list):
        return f"{kind.__name__}({','.join(stable_key(item) for item in value)})"
    if kind in (set, frozenset):
        return f"set({','.join(sorted(stable_key(item) for item in value))})"
    if kind is dict:
        items = sorted(f"{stable_key(k)}:{stable_key(v)}" for k, v in value.items())
        return f"dict({','.join(items)})"
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = ",".join(
            f"{field.name}={stable_key(getattr(value, field.name))}"
            for field in dataclasses.fields(value)
        )
        return f"{kind.__module__}.{kind.__qualname__}({fields})"
    raise Unshareable(f"{kind.__module__}.{kind.__qualname__}")


def digest_of(key: Hashable, version: Hashable) -> str | None:
    """The row key of ``key`` at ``version`` under this code, or None when it cannot be shared."""
    try:
        text = stable_key((code_digest(), stable_key(version), key))
    except Unshareable as refused:
        log.debug("kept figure not shared (%s in its key)", refused)
        return None
    return hashlib.sha256(text.encode()).hexdigest()


def fetch_or_claim(engine: Engine, digest: str) -> tuple[bool, Any, bool]:
    """(True, the stored figure, False), or (False, None, claimed): compute it — holding the
    claim when ``claimed`` (not in a process that may not make others wait,
    ``stores_without_claim``, nor after a wait given up).

    Waits while another process holds a fresh claim — computing the same figure beside
    it would only cost the same CPU twice — but no longer than ``WAIT_SECONDS``: then
    it computes the figure itself (the first payload stored stays).
    """
    if stores_without_claim():
        return (*peek(engine, digest), False)
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found, value, claimed_at, abandoned = _read(engine, digest)
        if found:
            return True, value, False
        if claimed_at is None and _claim(engine, digest):
            return False, None, True
        if abandoned and _take_over(engine, digest, claimed_at):
            return False, None, True
        if time.monotonic() > deadline:
            log.warning("kept figure %s: waited %.0f s for its claim", digest[:12], WAIT_SECONDS)
            return False, None, False
        time.sleep(POLL_SECONDS)


def stores_without_claim() -> bool:
    """Whether this process runs below normal priority (the report processes, ``nice`` 10).

    A page must not wait for a figure that a niced process computes slowly while the
    pages take the cores: such a process reads what is stored and stores what it
    computed, but never claims.
    """
    return os.getpriority(os.PRIO_PROCESS, 0) > 0


def peek(engine: Engine, digest: str) -> tuple[bool, Any]:
    """(True, the stored figure) or (False, None); never claims, never waits."""
    found, value, _claimed_at, _abandoned = _read(engine, digest)
    return found, value


def store(engine: Engine, digest: str, value: Any) -> None:
    """Store a figure this process computed: into its claim, or as a new row when it held none
    (a niced process, a wait given up); a payload already stored stays.  Too big a figure
    only gives its claim up."""
    keyring = active_or_none()
    packed = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    sealed = None if keyring is None else keyring.seal_bytes(isal_zlib.compress(packed, 1))
    if sealed is None or len(sealed) > MAX_BYTES:
        release(engine, digest)
        return
    now = utcnow()
    stored = {"payload": sealed, "size": len(sealed), "computed_at": now}
    with engine.begin() as conn:
        filled = conn.execute(
            update(_TABLE)
            .where(_TABLE.c.key == digest, _TABLE.c.payload.is_(None))
            .values(**stored)
        )
        conn.execute(
            delete(_TABLE).where(_TABLE.c.claimed_at < now - dt.timedelta(seconds=KEEP_SECONDS))
        )
    if filled.rowcount == 0:
        try:
            with engine.begin() as conn:
                conn.execute(insert(_TABLE).values(key=digest, claimed_at=now, **stored))
        except IntegrityError:
            pass  # stored by another process meanwhile


def release(engine: Engine, digest: str) -> None:
    """Give up this process's claim (the computation failed or its data changed meanwhile)."""
    with engine.begin() as conn:
        conn.execute(delete(_TABLE).where(_TABLE.c.key == digest, _TABLE.c.payload.is_(None)))


def _read(engine: Engine, digest: str) -> tuple[bool, Any, dt.datetime | None, bool]:
    """(found, figure, claimed_at, abandoned): found only when a payload is stored and its seal
    opens; abandoned when the claim is older than ``CLAIM_SECONDS`` or its payload does not open."""
    with engine.connect() as conn:
        row = conn.execute(
            select(_TABLE.c.payload, _TABLE.c.claimed_at).where(_TABLE.c.key == digest)
        ).first()
    if row is None:
        return False, None, None, False
    if row.payload is None:
        return False, None, row.claimed_at, _age(row.claimed_at) > CLAIM_SECONDS
    keyring, payload = active_or_none(), bytes(row.payload)
    try:  # open_bytes passes unsealed bytes through: those are refused here
        opened = keyring.open_bytes(payload) if keyring and payload.startswith(FILE_MAGIC) else None
    except Exception:  # sealed by another key, or not sealed at all: never unpickle it
        opened = None
    if opened is None:
        log.warning("kept figure %s does not open with this key: computed again", digest[:12])
        return False, None, row.claimed_at, True
    return True, pickle.loads(isal_zlib.decompress(opened)), row.claimed_at, False


def _claim(engine: Engine, digest: str) -> bool:
    try:
        with engine.begin() as conn:
            conn.execute(insert(_TABLE).values(key=digest, claimed_at=utcnow()))
    except IntegrityError:
        return False  # another process claimed it first
    return True


def _take_over(engine: Engine, digest: str, claimed_at: dt.datetime) -> bool:
    """Claim a figure whose claim was abandoned (or whose payload does not open)."""
    with engine.begin() as conn:
        taken = conn.execute(
            update(_TABLE)
            .where(_TABLE.c.key == digest, _TABLE.c.claimed_at == claimed_at)
            .values(claimed_at=utcnow(), payload=None, size=None, computed_at=None)
        )
    return taken.rowcount == 1


def _age(claimed_at: dt.datetime) -> float:
    return (utcnow() - claimed_at).total_seconds()
