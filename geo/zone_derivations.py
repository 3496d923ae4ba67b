"""Stored coal-ban zone derivations: derive and store, and read back.

Every derivation is kept with its zones and a summary (enclaves, villages
added and removed since the previous one, the union method), and audited;
``derive_zones`` is the one writer.  The zones in force on a day are the
newest derivation dated on or before it (``derivation_as_of``), which the
annual report and the boiler locator read.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import shapely
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.tessellation import stored_tessellation_validity
from geo.villages import villages_frame
from geo.zones import DerivedZone, age_key, derive, zone_number
from heating import locks
from heating.completion import complete_village_codes
from heating.errors import Refused
from heating.models import Zone, ZoneDerivation, audit
from heating.profile import Profile


@dataclass
class DerivationResult:
    """A stored derivation and its zones, as ``heating zones derive --json`` prints it."""

    derivation: ZoneDerivation
    zones: list[DerivedZone]
    enclaves: list[str]
    added: list[str]
    removed: list[str]
    method: str
    previous: int | None
    complete_without_boundary: list[str]

    @classmethod
    def from_row(cls, row: ZoneDerivation) -> DerivationResult:
        """Rebuild the result of a stored derivation (for the web page and export)."""
        summary = row.summary or {}
        zones = [
            DerivedZone(
                zone_id=z.zone_id,
                villages=list(z.village_codes),
                geometry=shapely.from_wkb(z.geometry),
                area_km2=z.area_km2,
                touching=list(z.touching or []),
                households=z.households,
            )
            for z in sorted(row.zones, key=lambda z: age_key(z.zone_id))
        ]
        return cls(
            derivation=row,
            zones=zones,
            enclaves=list(summary.get("enclaves", [])),
            added=list(summary.get("added", [])),
            removed=list(summary.get("removed", [])),
            method=summary.get("method", ""),
            previous=summary.get("previous"),
            complete_without_boundary=list(summary.get("complete_without_boundary", [])),
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "derivation": self.derivation.id,
            "as_of": self.derivation.as_of.isoformat(),
            "zones": [z.as_json() for z in self.zones],
            "enclaves": self.enclaves,
            "added": self.added,
            "removed": self.removed,
            "previous": self.previous,
            "method": self.method,
            "created_at": self.derivation.created_at.isoformat(timespec="seconds"),
            "complete_without_boundary": self.complete_without_boundary,
        }


def current_derivation(session: Session) -> ZoneDerivation | None:
    """The most recently stored derivation (the zones in force), or None."""
    return session.scalar(select(ZoneDerivation).order_by(ZoneDerivation.id.desc()).limit(1))


def derivation_as_of(
    session: Session, day: date, known_at: datetime | None = None
) -> ZoneDerivation | None:
    """The zones in force on ``day``: the newest derivation with ``as_of`` ≤ day.

    A tie on ``as_of`` goes to the derivation created last.  With
    ``known_at`` (naive UTC), only derivations made by then count.
    """
    query = select(ZoneDerivation).where(ZoneDerivation.as_of <= day)
    if known_at is not None:
        query = query.where(ZoneDerivation.created_at <= known_at)
    return session.scalar(
        query.order_by(
            ZoneDerivation.as_of.desc(), ZoneDerivation.created_at.desc(), ZoneDerivation.id.desc()
        ).limit(1)
    )


def derivation_history(session: Session) -> list[ZoneDerivation]:
    """Every stored derivation, newest first."""
    return list(session.scalars(select(ZoneDerivation).order_by(ZoneDerivation.id.desc())))


def next_zone_number(session: Session) -> int:
    """One past the highest zone number ever issued in this installation."""
    numbers = [zone_number(z) for z in session.scalars(select(Zone.zone_id).distinct())]
    return max((n for n in numbers if n is not None), default=0) + 1


def derive_zones(
    session: Session,
    profile: Profile,
    *,
    as_of: date,
    user_id: int | None = None,
    complete: Collection[str] | None = None,
) -> DerivationResult:
    """Derive the coal-ban zones as of a date and store the derivation.

    Parameters
    ----------
    session : Session
        The unit of work the derivation is added to (the caller commits).
    profile : Profile
        The requirement profile (passed to the measures).
    as_of : date
        Villages complete as of this date form the zones.
    user_id : int, optional
        Who derived it (stored and audited).
    complete : collection of str, optional
        Complete village codes; by default ``heating.completion.complete_village_codes``.

    Returns
    -------
    DerivationResult
        The stored derivation with zones, enclaves and the change since the previous one.
    """
    # Two derivations at once would both build on the same previous one and
    # issue the same new zone numbers: the second waits for the first to commit.
    locks.hold(session, locks.ZONE_DERIVATION)
    if complete is None:
        complete = complete_village_codes(session, profile, as_of=as_of)
    before = current_derivation(session)
    previous = {z.zone_id: list(z.village_codes) for z in before.zones} if before else {}
    villages = villages_frame(session)
    if villages.geometry.isna().all():
        raise Refused(
            "还没有任何村界，无法推导禁煤区：请先用 heating boundaries load 加载村界"
            "（或在“管理 → 村界”上传）。"
        )
    derived = derive(
        villages,
        complete,
        previous,
        next_number=next_zone_number(session),
        tessellation_valid=stored_tessellation_validity(session, villages),
    )
    row = ZoneDerivation(
        as_of=as_of,
        user_id=user_id,
        summary={
            "enclaves": derived.enclaves,
            "added": derived.added,
            "removed": derived.removed,
            "method": derived.method,
            "previous": before.id if before else None,
            "complete_without_boundary": derived.complete_without_boundary,
        },
    )
    row.zones = [
        Zone(
            zone_id=z.zone_id,
            geometry=shapely.to_wkb(z.geometry),
            area_km2=z.area_km2,
            village_codes=z.villages,
            touching=z.touching,
            households=z.households,
        )
        for z in derived.zones
    ]
    session.add(row)
    session.flush()
    audit(
        session,
        "zones_derive",
        user=user_id,
        target=f"derivation:{row.id}",
        detail={"as_of": as_of.isoformat(), "zones": len(derived.zones)},
    )
    return DerivationResult(
        derivation=row,
        zones=derived.zones,
        enclaves=derived.enclaves,
        added=derived.added,
        removed=derived.removed,
        method=derived.method,
        previous=before.id if before else None,
        complete_without_boundary=derived.complete_without_boundary,
    )


def derivation_result(
    session: Session, derivation_id: int | None = None
) -> DerivationResult | None:
    """A stored derivation (default: the current one) as a result; None if there is none."""
    row = (
        session.get(ZoneDerivation, derivation_id)
        if derivation_id is not None
        else current_derivation(session)
    )
    return DerivationResult.from_row(row) if row is not None else None
