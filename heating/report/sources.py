"""The report's sources: which imports it counts, and each township's newest ledger.

Batches count when dated on or before the cut-off and in force at the
report's known-at time; ``recorded_later`` says how many households were
back-filled or rolled back since, which would change the figures
(``heating.history`` answers every history question).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.history import counting_known_at, newest_ledger, recorded_later, state_as_of
from heating.models import ImportBatch, Township
from heating.village_facts import VillageFacts


@dataclass(frozen=True)
class TownshipLedger:
    """A township's newest ledger on or before the cut-off, and households resting on older ones."""

    township_code: str
    township_name: str
    batch_id: int | None  # None: no ledger dated on or before the cut-off
    ledger_date: date | None
    older: int  # households of the township counted from older ledgers
    earliest_older: date | None


@dataclass(frozen=True)
class Sources:
    """Which imports the snapshot counts."""

    batches: int
    townships: int
    first_commit: datetime | None
    last_commit: datetime | None
    households: int  # active households as of the date (Σ ledger rows)
    villages_with_ledger: int
    ledgers: list[TownshipLedger] = field(default_factory=list)
    # Households recorded after the known-at time that would change the figures.
    recorded_later: int = 0
    # Batches in force at the known-at time whose ledger date is after the cut-off
    # (imported, but describing a later day: they cannot count for this cut-off).
    after_cutoff: int = 0


def read_sources(
    session: Session,
    district_id: int,
    facts: list[VillageFacts],
    as_of: date,
    previous_as_of: date,
    known_at: datetime,
) -> Sources:
    """Household-data batches dated on or before the cut-off and in force at the known-at."""
    townships = list(
        session.execute(
            select(Township.id, Township.code, Township.name)
            .where(Township.district_id == district_id)
            .order_by(Township.code)
        )
    )
    b = ImportBatch
    rows = session.execute(
        select(b.township_id, b.committed_at).where(
            b.kind != "registry",
            b.ledger_date.is_not(None),
            b.ledger_date <= as_of,
            b.committed_at.is_not(None),
            b.committed_at <= known_at,
            b.rolled_back_at.is_(None) | (b.rolled_back_at > known_at),
            b.township_id.is_(None) | b.township_id.in_([t.id for t in townships]),
        )
    ).all()
    commits = [at for _, at in rows]
    after_cutoff = session.scalar(
        select(func.count()).where(
            b.kind != "registry",
            b.ledger_date > as_of,
            b.committed_at.is_not(None),
            b.committed_at <= known_at,
            b.rolled_back_at.is_(None) | (b.rolled_back_at > known_at),
            b.township_id.is_(None) | b.township_id.in_([t.id for t in townships]),
        )
    )
    ledgers = []
    for tid, code, name in townships:
        batch = newest_ledger(session, tid, on_or_before=as_of, known_at=known_at)
        if batch is None:
            ledgers.append(TownshipLedger(code, name, None, None, 0, None))
            continue
        older = _older_households(session, batch, as_of, known_at)
        ledgers.append(
            TownshipLedger(
                code, name, batch.id, batch.ledger_date, len(older), min(older, default=None)
            )
        )
    return Sources(
        batches=len(rows),
        townships=len({t for t, _ in rows if t is not None}),
        first_commit=min(commits) if commits else None,
        last_commit=max(commits) if commits else None,
        households=sum(f.ledger_rows for f in facts),
        villages_with_ledger=sum(1 for f in facts if f.ledger_rows),
        ledgers=ledgers,
        recorded_later=recorded_later(
            session, {f.village_id for f in facts}, (as_of, previous_as_of), known_at
        ),
        after_cutoff=after_cutoff or 0,
    )


def _older_households(
    session: Session, batch: ImportBatch, as_of: date, known_at: datetime
) -> list[date]:
    """Ledger dates of the households the batch's file did not name, still on older ledgers."""
    ids = list(batch.not_in_file_ids or [])
    found: list[date] = []
    state = state_as_of(as_of, counting_known_at(session, known_at))
    for start in range(0, len(ids), 5000):
        part = ids[start : start + 5000]
        found.extend(
            day
            for day in session.scalars(
                select(state.c.ledger_date).where(
                    state.c.household_id.in_(part), state.c.ledger_date < batch.ledger_date
                )
            )
            if day is not None
        )
    return found
