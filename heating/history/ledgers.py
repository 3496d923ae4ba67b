"""Which ledger of a township is in force: the newest by ledger date, then by commit.

A ledger batch, not a household's state: the batches a clerk committed (or a
demo load), as they stand now or as they stood at a known-at time.  The
upload's "older than the newest ledger" warning, the village page, the
dashboard's list of townships and the report's sources read it here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.models import ImportBatch


def newest_ledger(
    session: Session,
    township_id: int | None,
    *,
    on_or_before: date | None = None,
    known_at: datetime | None = None,
    excluding: int | None = None,
) -> ImportBatch | None:
    """The township's newest ledger in force (latest ledger date, then latest commit).

    ``on_or_before`` limits the ledger date; ``known_at`` asks as things stood
    then (committed by then, not rolled back by then).
    """
    if township_id is None:
        return None
    b = ImportBatch
    query = select(b).where(
        b.township_id == township_id,
        b.kind.in_(("ledger", "demo")),
        b.ledger_date.is_not(None),
        b.committed_at.is_not(None),
    )
    if known_at is None:
        query = query.where(b.status == "committed")
    else:
        query = query.where(
            b.committed_at <= known_at, b.rolled_back_at.is_(None) | (b.rolled_back_at > known_at)
        )
    if on_or_before is not None:
        query = query.where(b.ledger_date <= on_or_before)
    if excluding is not None:
        query = query.where(b.id != excluding)
    return session.scalars(
        query.order_by(b.ledger_date.desc(), b.committed_at.desc(), b.id.desc()).limit(1)
    ).first()


def latest_ledgers(session: Session) -> dict[int, ImportBatch]:
    """Township id → its newest ledger in force (for the dashboard's list of townships)."""
    b = ImportBatch
    out: dict[int, ImportBatch] = {}
    for batch in session.scalars(
        select(b)
        .where(
            b.township_id.is_not(None),
            b.kind.in_(("ledger", "demo")),
            b.status == "committed",
            b.ledger_date.is_not(None),
        )
        .order_by(b.ledger_date, b.committed_at, b.id)
    ):
        out[batch.township_id] = batch
    return out
