"""A village's change history as people read it: which ledger, when, what changed.

``heating.history.village_changes`` gives the newest versions; this turns
each into a line with the ledger's own column headers (the one schema,
``imports.fields.LEDGER_LABELS``), status/route/operation words instead of
keys, village names instead of ids, and personal data masked unless the
reader may see it (``heating.privacy``).  Internal fields (the completion
date's precision, ids) are never shown.  The village page renders it; any
other face (a CLI, an export) can call the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.history import village_changes
from heating.models import (
    HOUSEHOLD_FIELDS,
    OPERATION_LABELS,
    ROUTE_LABELS,
    STATUS_LABELS,
    HouseholdVersion,
    Village,
)
from heating.privacy import mask_field
from imports.fields import LEDGER_LABELS

# Every stored household field by its ledger header, then the moves between villages.
FIELD_LABELS = {name: LEDGER_LABELS[name] for name in HOUSEHOLD_FIELDS if name in LEDGER_LABELS}
FIELD_LABELS |= {"village_id": "所属村", "active": "有效"}
CHANGE_LABELS = {"create": "新增", "update": "更新", "rollback": "撤销", "edit": "修改"}
VALUE_LABELS = {"status": STATUS_LABELS, "route": ROUTE_LABELS, "operation": OPERATION_LABELS}


@dataclass(frozen=True)
class VillageChange:
    """One version of a household in the village, as shown."""

    ledger_date: date | None
    retracted: bool  # rolled back later (the rollback's own record is not)
    at: datetime  # recorded (naive UTC)
    change: str  # 新增 / 更新 / 撤销 / 修改
    head_name: str | None
    batch_id: int | None
    file_name: str | None
    user: str | None
    changes: list[tuple[str, Any, Any]]  # (label, old, new) as shown


def village_history(
    session: Session, village: Village, visible: bool, limit: int
) -> list[VillageChange]:
    """The village's newest ``limit`` changes by ledger date, masked unless ``visible``."""
    rows = village_changes(session, village.id, limit)
    names = _village_names(session, [row[0] for row in rows])
    return [
        VillageChange(
            ledger_date=version.ledger_date,
            retracted=version.retracted_at is not None and version.change != "rollback",
            at=version.recorded_at,
            change=CHANGE_LABELS.get(version.change, version.change),
            head_name=head_name,
            batch_id=version.batch_id,
            file_name=file_name,
            user=username,
            changes=_changes(version, names, visible),
        )
        for version, head_name, file_name, username in rows
    ]


def _changes(
    version: HouseholdVersion, names: dict[int, str], visible: bool
) -> list[tuple[str, Any, Any]]:
    """(label, old, new) of each field the version set or changed."""
    before = version.before or {}
    after = version.after or {}
    changes = []
    for field, label in FIELD_LABELS.items():
        old, new = before.get(field), after.get(field)
        if version.before is None and (new in (None, "") or field == "village_id"):
            continue
        if version.before is not None and old == new:
            continue
        if field == "village_id":
            old, new = names.get(old, old), names.get(new, new)
        changes.append((label, shown_value(field, old, visible), shown_value(field, new, visible)))
    return changes


def shown_value(field: str, value: Any, visible: bool) -> Any:
    """A history value as shown: labels for keys, personal data masked unless visible."""
    if field in VALUE_LABELS and value is not None:
        return VALUE_LABELS[field].get(value, value)
    if field == "active" and value is not None:
        return "是" if value else "否"
    return value if visible else mask_field(field, value)


def _village_names(session: Session, versions: list[HouseholdVersion]) -> dict[int, str]:
    """Names of the villages a household moved between (history stores their ids)."""
    ids = {
        v
        for version in versions
        for v in ((version.before or {}).get("village_id"), (version.after or {}).get("village_id"))
        if isinstance(v, int)
    }
    if not ids:
        return {}
    return dict(session.execute(select(Village.id, Village.name).where(Village.id.in_(ids))).all())
