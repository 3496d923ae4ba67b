"""Writing household changes together with their history.

Every writer (ledger commit, rollback, demo generator, an admin edit) goes
through ``record_create`` / ``record_update`` so that a ``HouseholdVersion``
is written for each change; that is what makes measures as of a past date
and whole-batch rollback possible.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from heating.models import HOUSEHOLD_FIELDS, Household, HouseholdVersion, utcnow


def id_hash(id_number: str, salt: str) -> str:
    """Salted SHA-256 of an ID number: a stable key that does not reveal the number."""
    return hashlib.sha256(f"{salt}:{id_number.upper()}".encode()).hexdigest()


def normalise_text(value: str) -> str:
    """NFKC, no whitespace: how names and addresses are compared."""
    return "".join(unicodedata.normalize("NFKC", value).split())


def name_base(value: str, suffixes: Iterable[str]) -> str:
    """A normalised name without office or company suffixes (removed repeatedly), never emptied.

    One rule for every name matched across files: villages drop 村委会/社区…,
    heat sources drop 有限公司/分公司…; the longest suffix is tried first so
    社区居委会 goes before 居委会 and 有限责任公司 before 公司.
    """
    s = normalise_text(value)
    ordered = sorted((normalise_text(x) for x in suffixes), key=len, reverse=True)
    changed = True
    while changed:
        changed = False
        for suffix in ordered:
            if s.endswith(suffix) and len(s) > len(suffix):
                s = s[: -len(suffix)]
                changed = True
                break
    return s


def household_key(
    *,
    household_no: str | None,
    id_number: str | None,
    head_name: str | None,
    address: str | None,
    salt: str,
) -> tuple[str, str]:
    """Return (key, key_kind) by domain.md's order: 户号, ID hash, name + address."""
    if household_no:
        return "no:" + normalise_text(household_no), "household_no"
    if id_number:
        return "id:" + id_hash(id_number, salt), "id_hash"
    return "name:" + normalise_text(head_name or "") + "|" + normalise_text(address or ""), (
        "name_address"
    )


def to_json_value(value: Any) -> Any:
    """Dates as ISO strings, decimals as strings: JSON-safe and exact."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def snapshot(household: Household) -> dict[str, Any]:
    """The household's importable fields (plus village and active), JSON-safe."""
    data = {f: to_json_value(getattr(household, f)) for f in HOUSEHOLD_FIELDS}
    data["village_id"] = household.village_id
    data["active"] = household.active
    return data


def _version(
    household: Household,
    change: str,
    before: dict[str, Any] | None,
    *,
    batch_id: int | None,
    user_id: int | None,
    recorded_at: datetime | None,
) -> HouseholdVersion:
    return HouseholdVersion(
        household_id=household.id,
        batch_id=batch_id,
        user_id=user_id,
        recorded_at=recorded_at or utcnow(),
        change=change,
        village_id=household.village_id,
        active=household.active,
        status=household.status,
        operation=household.operation,
        before=before,
        after=snapshot(household),
    )


def record_create(
    session: Session,
    household: Household,
    *,
    batch_id: int | None = None,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
) -> HouseholdVersion:
    """Add a new household and its first version."""
    household.created_batch_id = household.created_batch_id or batch_id
    household.updated_batch_id = batch_id
    household.updated_at = recorded_at or utcnow()
    session.add(household)
    session.flush()
    version = _version(
        household, "create", None, batch_id=batch_id, user_id=user_id, recorded_at=recorded_at
    )
    session.add(version)
    return version


def record_update(
    session: Session,
    household: Household,
    changes: dict[str, Any],
    *,
    change: str = "update",
    batch_id: int | None = None,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
) -> HouseholdVersion | None:
    """Apply ``changes`` (field → new value); write a version only if something changed."""
    before = snapshot(household)
    for name, value in changes.items():
        setattr(household, name, value)
    session.flush()
    after = snapshot(household)
    if after == before:
        return None
    household.updated_batch_id = batch_id
    household.updated_at = recorded_at or utcnow()
    version = _version(
        household, change, before, batch_id=batch_id, user_id=user_id, recorded_at=recorded_at
    )
    session.add(version)
    return version
