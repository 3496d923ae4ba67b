"""An import's 变更明细 as people read it: which household, which field, before → after.

``imports.outcome.change_details`` keeps, with the batch, the fields each updated
household changes (raw values, sealed); this turns them into rows with the
ledger's own column headers, status/route/operation words instead of keys,
the village's name, and personal data masked unless the reader may see it
(``heating.village_history.shown_value``, the same as the village history).
The batch page and its download both call it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.models import Village
from heating.privacy import mask_name
from heating.village_history import FIELD_LABELS, shown_value


@dataclass(frozen=True)
class HouseholdChange:
    """One updated household: where its row is, who it is, (label, before, after) per field."""

    sheet: str
    row: int
    village: str
    household_no: str | None
    head_name: str | None
    fields: list[tuple[str, Any, Any]]


def change_rows(
    session: Session, details: dict[str, Any] | None, visible: bool
) -> list[HouseholdChange]:
    """The stored 变更明细 as shown; names and ID numbers masked unless ``visible``."""
    listed = (details or {}).get("listed") or []
    ids = {item.get("village_id") for item in listed if item.get("village_id") is not None}
    names: dict[int, str] = {}
    if ids:
        names = dict(
            session.execute(select(Village.id, Village.name).where(Village.id.in_(ids))).all()
        )
    out = []
    for item in listed:
        head = item.get("head_name")
        out.append(
            HouseholdChange(
                sheet=item.get("sheet") or "",
                row=int(item.get("row") or 0),
                village=names.get(item.get("village_id"), ""),
                household_no=item.get("household_no"),
                head_name=head if visible else mask_name(head),
                fields=[
                    (
                        FIELD_LABELS.get(name, name),
                        shown_value(name, before, visible),
                        shown_value(name, after, visible),
                    )
                    for name, before, after in item.get("fields") or []
                ],
            )
        )
    return out
