"""Writing one household at a time: hand edits and test fixtures (the ORM path).

Slower than the bulk writers and simpler: each change is applied to the
household's state as of its ledger date, and ``settle`` keeps the row and the
predecessor chain right when it goes under newer versions.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from heating.history.asof import shows_state_at, states_as_of
from heating.history.values import (
    IDENTITY,
    counted,
    state_json,
)
from heating.history.writing import settle
from heating.models import (
    HOUSEHOLD_FIELDS,
    Household,
    HouseholdVersion,
    utcnow,
)


def _row_state(household: Household) -> dict[str, Any]:
    state = {name: getattr(household, name) for name in (*IDENTITY, *HOUSEHOLD_FIELDS)}
    return state


def record_create(
    session: Session,
    household: Household,
    *,
    ledger_date: date,
    batch_id: int | None = None,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
) -> HouseholdVersion:
    """Add a new household (an ORM object) and its first version."""
    when = recorded_at or utcnow()
    household.created_batch_id = household.created_batch_id or batch_id
    household.updated_batch_id = batch_id
    household.updated_at = when
    household.ledger_date = ledger_date
    household.active = True
    session.add(household)
    session.flush()
    state = _row_state(household)
    version = HouseholdVersion(
        household_id=household.id,
        batch_id=batch_id,
        user_id=user_id,
        ledger_date=ledger_date,
        recorded_at=when,
        change="create",
        village_id=household.village_id,
        active=True,
        status=household.status,
        operation=household.operation,
        before=None,
        after=state_json(state),
    )
    session.add(version)
    session.flush()
    return version


def record_update(
    session: Session,
    household: Household,
    changes: Mapping[str, Any],
    *,
    ledger_date: date,
    change: str = "update",
    batch_id: int | None = None,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
) -> HouseholdVersion | None:
    """Record ``changes`` (field → value, ``active`` too) to a household as of ``ledger_date``.

    The changes apply to the household's state as of that date (its row's
    values when it had none then); the row moves only when nothing newer
    counts.  Returns the version, or None when nothing changed.
    """
    session.flush()
    when = recorded_at or utcnow()
    row = _row_state(household)
    before = states_as_of(
        session, [household.id], ledger_date, rows={household.id: row}, inactive=True
    )[household.id]
    base = dict(before) if before is not None else dict(row)
    after = {**base, **changes}
    after = {k: after.get(k) for k in (*HOUSEHOLD_FIELDS, "village_id")}
    after["active"] = bool(changes.get("active", True))
    if before is not None and state_json(before) == state_json(after):
        return None
    current = not row["active"] or shows_state_at(row, ledger_date)
    pv, ps, po = counted(before)
    version = HouseholdVersion(
        household_id=household.id,
        batch_id=batch_id,
        user_id=user_id,
        ledger_date=ledger_date,
        recorded_at=when,
        change=change,
        village_id=after["village_id"],
        active=after["active"],
        status=after["status"],
        operation=after["operation"],
        prev_village_id=pv,
        prev_status=ps,
        prev_operation=po,
        before=state_json(before) if before is not None else None,
        after=state_json(after),
    )
    session.add(version)
    if current:
        for name in (*HOUSEHOLD_FIELDS, "village_id", "active"):
            setattr(household, name, after[name])
        household.ledger_date = ledger_date
        household.updated_batch_id = batch_id
        household.updated_at = when
        session.flush()
    else:
        session.flush()
        settle(session, [household.id], rows=True)
        session.refresh(household)
    return version
