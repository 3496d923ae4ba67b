"""Households, always through the production history writer.

Every test household has its versions exactly as an import would leave them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import clock
from heating.db import get_meta
from heating.history import record_create, record_update
from heating.households import household_key, id_hash
from heating.models import Household, Village
from heating.runtime import Runtime

MAY = datetime(2021, 5, 1, 9, 0)
_serial = itertools.count(1)


def write_household(
    session: Session,
    village_id: int,
    no: str,
    status: str,
    *,
    recorded_at: datetime | None = None,
    ledger_date: date | None = None,
    **fields: Any,
) -> Household:
    """Create one household with 户号 ``no`` and its first version, as an import would.

    The ledger date defaults to the day of ``recorded_at`` (today without it).
    """
    key, key_kind = household_key(
        household_no=no, id_number=None, head_name=None, address=None, salt=""
    )
    fields.setdefault("head_name", f"户主{no}")
    if fields.get("id_number"):
        fields["id_hash"] = id_hash(fields["id_number"], get_meta(session, "id_salt") or "")
    household = Household(
        village_id=village_id,
        key=key,
        key_kind=key_kind,
        household_no=no,
        status=status,
        **fields,
    )
    record_create(
        session, household, ledger_date=ledger_date or day_of(recorded_at), recorded_at=recorded_at
    )
    return household


def day_of(recorded_at: datetime | None) -> date:
    """A test change's default ledger date: the day it was recorded (today without one)."""
    return recorded_at.date() if recorded_at is not None else clock.today()


def change_household(
    session: Session,
    village_id: int,
    no: str,
    when: datetime | None,
    *,
    ledger_date: date | None = None,
    **changes: Any,
) -> None:
    """Change the household with 户号 ``no`` through the history writer."""
    household = session.scalar(
        select(Household).where(Household.village_id == village_id, Household.key == f"no:{no}")
    )
    record_update(
        session, household, changes, ledger_date=ledger_date or day_of(when), recorded_at=when
    )


def add_many(
    session: Session,
    village_id: int,
    count: int,
    status: str,
    *,
    operation: str | None = None,
    at: datetime | None = MAY,
    **fields: Any,
) -> list[Household]:
    """Add ``count`` households of one status, each with a fresh 户号."""
    return [
        write_household(
            session,
            village_id,
            str(next(_serial)),
            status,
            operation=operation,
            recorded_at=at,
            **fields,
        )
        for _ in range(count)
    ]


def add_households_by_status(
    runtime: Runtime,
    village_id: int,
    *,
    clean: int = 0,
    pending: int = 0,
    exempt: int = 0,
    lapsed: int = 0,
) -> None:
    """Add ledger rows: clean (of which ``lapsed`` burn coal again), pending, exempt."""
    plan = (
        [("completed", "coal_again")] * lapsed
        + [("accepted", "normal")] * (clean - lapsed)
        + [("pending", None)] * pending
        + [("exempt", None)] * exempt
    )
    with runtime.session() as session:
        for i, (status, operation) in enumerate(plan):
            write_household(
                session,
                village_id,
                str(i),
                status,
                head_name="户主",
                operation=operation,
                exempt_reason="空置" if status == "exempt" else None,
            )


def add_households(
    runtime: Runtime,
    village_code: str,
    rows: Iterable[tuple[str, str, str | None, str | None]],
) -> None:
    """Create households (户号, status, id_number, phone) in a village with their history."""
    with runtime.session() as session:
        village_id = session.scalar(select(Village.id).where(Village.code == village_code))
        for no, status, number, phone in rows:
            write_household(
                session,
                village_id,
                no,
                status,
                id_number=number,
                phone=phone,
                route="electric" if status in ("completed", "accepted") else None,
                completed_on=date(2021, 6, 30) if status == "completed" else None,
            )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def add_ledger_household(
    session: Session, village_id: int, no: str, status: str, when: str, **fields: Any
) -> Household:
    """Create a household as a ledger import on ``when`` would (with route and device)."""
    defaults: dict[str, Any] = {"head_name": f"户主{no}", "address": f"{no}号院"}
    if status in ("completed", "accepted"):
        defaults.update(route="electric", device="空气源热泵", completed_on=date(2020, 9, 1))
    defaults.update(fields)
    return write_household(session, village_id, no, status, recorded_at=at(when), **defaults)
