"""The report's coal-ban zones: the derivation in force at the cut-off and its change.

The derivation counted is the newest one dated on or before the cut-off and
made by the known-at time; the previous year's is found the same way, and
the section lists zones and villages added or removed since.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.zone_derivations import derivation_as_of
from heating.measures import MeasureRow
from heating.models import Village
from heating.village_facts import VillageFacts


@dataclass(frozen=True)
class ZoneLine:
    zone_id: str
    villages: list[tuple[str, str]]  # (code, name)
    area_km2: float
    required: int | None  # None: withheld by an approved-only report (heating.report.withheld)
    clean: int | None
    touching: list[tuple[str, str]]
    change: str  # 新增 / 扩大 / 缩小 / 调整 / 不变 / "" (no previous derivation)


@dataclass(frozen=True)
class ZoneChange:
    kind: str  # 新增禁煤区 / 撤销禁煤区 / 新增村 / 移出村
    zone_id: str
    village_code: str
    village_name: str


@dataclass(frozen=True)
class ZoneSection:
    derivation_id: int
    derived_as_of: date
    derived_at: datetime
    zones: list[ZoneLine]
    enclaves: list[tuple[str, str]]
    previous_id: int | None
    previous_as_of: date | None
    changes: list[ZoneChange]

    @property
    def area_km2(self) -> float:
        return sum(z.area_km2 for z in self.zones)


def zone_section(
    session: Session,
    facts: list[VillageFacts],
    rows: list[MeasureRow],
    as_of: date,
    previous_as_of: date,
    known_at: datetime,
) -> ZoneSection | None:
    derivation = derivation_as_of(session, as_of, known_at)
    if derivation is None:
        return None
    previous = derivation_as_of(session, previous_as_of, known_at)
    if previous is not None and previous.id == derivation.id:
        previous = None
    in_district = {f.code for f in facts}
    names = _village_names(session)
    by_code = {r.key: r for r in rows}

    def members(zone: Any) -> set[str]:
        return {c for c in (zone.village_codes or []) if c in in_district}

    current_zones = {z.zone_id: members(z) for z in derivation.zones if members(z)}
    previous_zones = (
        {z.zone_id: members(z) for z in previous.zones if members(z)} if previous else {}
    )
    lines = []
    for zone in derivation.zones:
        codes = current_zones.get(zone.zone_id)
        if not codes:
            continue
        lines.append(
            ZoneLine(
                zone_id=zone.zone_id,
                villages=[(c, names.get(c, c)) for c in sorted(codes)],
                area_km2=float(zone.area_km2 or 0.0),
                required=sum(by_code[c].required for c in codes if c in by_code),
                clean=sum(by_code[c].clean for c in codes if c in by_code),
                touching=[(c, names.get(c, c)) for c in sorted(zone.touching or [])],
                change=_zone_change(codes, previous_zones.get(zone.zone_id), previous is not None),
            )
        )
    lines.sort(key=lambda z: z.zone_id)
    summary = derivation.summary or {}
    enclaves = sorted(c for c in summary.get("enclaves", []) if c in in_district)
    changes = _zone_changes(current_zones, previous_zones, names) if previous else []
    return ZoneSection(
        derivation_id=derivation.id,
        derived_as_of=derivation.as_of,
        derived_at=derivation.created_at,
        zones=lines,
        enclaves=[(c, names.get(c, c)) for c in enclaves],
        previous_id=previous.id if previous else None,
        previous_as_of=previous.as_of if previous else None,
        changes=changes,
    )


def _village_names(session: Session) -> dict[str, str]:
    return dict(session.execute(select(Village.code, Village.name)).all())


def _zone_change(current: set[str], previous: set[str] | None, has_previous: bool) -> str:
    if not has_previous:
        return ""
    if previous is None:
        return "新增"
    if current == previous:
        return "不变"
    if current > previous:
        return "扩大"
    if current < previous:
        return "缩小"
    return "调整"


def _zone_changes(
    current: dict[str, set[str]], previous: dict[str, set[str]], names: dict[str, str]
) -> list[ZoneChange]:
    """Zones and villages added or removed since the previous year's derivation."""
    changes = []
    now_in = {c: z for z, codes in current.items() for c in codes}
    then_in = {c: z for z, codes in previous.items() for c in codes}
    for zone_id in sorted(set(current) - set(previous)):
        changes.append(ZoneChange("新增禁煤区", zone_id, "", ""))
    for zone_id in sorted(set(previous) - set(current)):
        changes.append(ZoneChange("撤销禁煤区", zone_id, "", ""))
    for code in sorted(set(now_in) - set(then_in)):
        changes.append(ZoneChange("新增村", now_in[code], code, names.get(code, code)))
    for code in sorted(set(then_in) - set(now_in)):
        changes.append(ZoneChange("移出村", then_in[code], code, names.get(code, code)))
    return changes
