"""What the history spans and what was recorded after a time.

The report's cover and sources (the ledger dates it covers, what was back-filled
or rolled back after its known-at time), the trend's range and a village's
list of changes.  Rows are chosen by ``heating.history.asof``'s rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from heating.history.asof import NEWEST_FIRST, live, newest_versions
from heating.models import Household, HouseholdVersion, ImportBatch, User

_V = HouseholdVersion.__table__


def village_changes(session: Session, village_id: int, limit: int) -> list[Any]:
    """The village's newest versions in ledger order (newest first), with who and from where.

    Rows: (version, head name, batch file name, username).  Retracted versions
    are included (the page says so).
    """
    v = HouseholdVersion
    return list(
        session.execute(
            select(v, Household.head_name, ImportBatch.file_name, User.username)
            .join(Household, Household.id == v.household_id)
            .outerjoin(ImportBatch, ImportBatch.id == v.batch_id)
            .outerjoin(User, User.id == v.user_id)
            .where(v.village_id == village_id)
            .order_by(*NEWEST_FIRST)
            .limit(limit)
        ).all()
    )


def recorded_later(
    session: Session, village_ids: Iterable[int], days: Sequence[date], known_at: datetime
) -> int:
    """Households whose state as of one of ``days`` differs now from what was known at ``known_at``.

    Counts those in ``village_ids`` (then or now): what was back-filled or
    rolled back after ``known_at`` that would change figures as of those days.
    """
    in_scope = set(village_ids)
    v = _V.c
    changed: set[int] = set()
    for day in days:
        candidates = select(v.household_id).where(v.recorded_at > known_at, v.ledger_date <= day)
        then = _chosen_versions(session, day, known_at, candidates)
        now = _chosen_versions(session, day, None, candidates)
        for hid in set(then) | set(now):
            a, b = then.get(hid), now.get(hid)
            if a != b and ((a and a[1] in in_scope) or (b and b[1] in in_scope)):
                changed.add(hid)
    return len(changed)


def _chosen_versions(
    session: Session, day: date, known_at: datetime | None, households: Select
) -> dict[int, tuple[int, int]]:
    """Household id → (version id, village id) of the version counting as of ``day``."""
    newest = newest_versions(day, known_at, households=households)
    return {
        hid: (vid, village)
        for hid, vid, village in session.execute(
            select(newest.c.household_id, newest.c.version_id, newest.c.village_id)
        )
    }


def first_ledger_date(session: Session, known_at: datetime | None = None) -> date | None:
    """The earliest ledger date any version describes (None before the first import).

    With ``known_at``, only versions that count at that time (``live``), so a
    report regenerated with its known-at sees the same range after back-fills.
    """
    query = select(func.min(_V.c.ledger_date))
    return session.scalar(query if known_at is None else query.where(live(known_at)))


def last_ledger_date(session: Session, known_at: datetime | None = None) -> date | None:
    """The newest ledger date any version describes (``known_at`` as in ``first_ledger_date``)."""
    query = select(func.max(_V.c.ledger_date))
    return session.scalar(query if known_at is None else query.where(live(known_at)))


def last_recorded(session: Session) -> datetime | None:
    """When the newest version was recorded (naive UTC; None before the first import)."""
    return session.scalar(select(func.max(_V.c.recorded_at)))
