"""Writers that must not interleave: zone derivations, and commits of one township.

Two zone derivations running at once would both read the same previous
derivation and both issue the same new zone numbers (``geo.zone_derivations``);
two commits or rollbacks of one township would judge the same households
against a state the other is changing (``imports.commit``).  Each takes a
lock before it reads anything, held until its transaction ends:

- PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``)
  keyed by (what, which), so commits of different townships still run side
  by side.  A file that spans townships takes the all-townships key
  exclusively; a township's commit takes it shared, then its own key.
- SQLite allows one writer at a time anyway: the lock is its write lock,
  taken by a first write (the busy timeout makes the second writer wait its
  turn rather than read a state the first is about to change).
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

# The first key of each advisory lock: what is locked.
ZONE_DERIVATION = 17001
TOWNSHIP_WRITES = 17002
EVERY_TOWNSHIP = 0  # the second key of a write spanning townships


def hold(session: Session, what: int, which: int = 0, *, shared: bool = False) -> None:
    """Wait for and hold the lock on (``what``, ``which``) until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        session.execute(text(f"SELECT {function}(:what, :which)"), {"what": what, "which": which})
        return
    # A write to no row still takes SQLite's write lock for the transaction.
    session.execute(text("UPDATE meta SET value = value WHERE key = 'lock'"))


def hold_township_writes(session: Session, township_id: int | None) -> None:
    """Hold the write lock of one township's data (None: of every township)."""
    if township_id is None:
        hold(session, TOWNSHIP_WRITES, EVERY_TOWNSHIP)
        return
    hold(session, TOWNSHIP_WRITES, EVERY_TOWNSHIP, shared=True)
    hold(session, TOWNSHIP_WRITES, township_id)
