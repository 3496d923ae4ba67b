"""Coal-boiler 清零 progress and gas boilers' low-NOx retrofit, as of a date (seed plan item 10).

Definitions (issue 14):

- **In scope**: a boiler whose fuel *first recorded* is coal, with a rated
  capacity ≤ ``boiler_max_tph`` (35 t/h by default; a rating in MW counts
  as MW / 0.7 t/h).  A boiler in the ledger is in scope at every as-of date.
- **State as of D**: the entry of the boiler's state history with the latest
  state date ≤ D (an undated entry is in force from the start).  Before its
  first state date a boiler's state is ``unknown`` (状态未知).
- **Cleared as of D**: state removed / deregistered / converted.  Every other
  in-scope boiler is **remaining** — in use, idle, flue cut, standby or
  unknown (idle and flue-cut boilers are not cleared: they can burn again).
- **In a zone**: the boiler's point intersects a coal-ban zone in force on D
  (``geo.locate``: the newest derivation on or before D; a point on a zone's
  edge is inside; a point in an enclave is not, and is flagged ``in_enclave``).
- **Inspection overdue**: an in-scope boiler that is idle, flue cut or standby
  as of D whose latest inspection on or before D is older than
  ``boiler_inspection_days`` (90) days before D, or that was never inspected.
- **Gas low-NOx**: boilers whose fuel as of D is gas, of any capacity, not
  removed or deregistered by D; done = 低氮改造 已完成 with a date ≤ D.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.locate import locate_as_of, points_frame
from heating.models import (
    BOILER_STATES,
    CLEARED_STATES,
    DORMANT_STATES,
    Boiler,
    BoilerInspection,
    BoilerState,
    District,
    Township,
    Village,
)

MW_PER_TPH = 0.7  # 1 t/h of steam ≈ 0.7 MW of heat
UNKNOWN_STATE = "unknown"
UNKNOWN_STATE_LABEL = "状态未知"
# Gas boilers gone by the as-of date leave the low-NOx count.
GONE_STATES = ("removed", "deregistered")


def tph_of_mw(mw: float) -> float:
    """A rating in MW as t/h (0.7 MW = 1 t/h), rounded so 24.5 MW is exactly 35 t/h."""
    return round(mw / MW_PER_TPH, 6)


@dataclass
class BoilerAsOf:
    """One boiler as it stood on the as-of date."""

    code: str
    unit: str | None
    township: str
    township_name: str
    village: str | None
    tph: float
    fuel: str  # first recorded: decides the coal scope
    fuel_now: str
    state: str  # BOILER_STATES or "unknown"
    state_date: date | None
    in_scope: bool
    lon: float | None
    lat: float | None
    last_inspection: date | None
    low_nox_done: bool
    zone_id: str | None = None
    in_zone: bool = False
    enclave: str | None = None
    in_enclave: bool = False
    overdue: bool = False

    @property
    def cleared(self) -> bool:
        return self.state in CLEARED_STATES

    @property
    def remaining(self) -> bool:
        return self.in_scope and not self.cleared

    @property
    def dormant(self) -> bool:
        return self.state in DORMANT_STATES

    def as_json(self) -> dict[str, Any]:
        """The issue's keys first, then what the pages also show."""
        return {
            "id": self.code,
            "unit": self.unit,
            "township": self.township,
            "tph": self.tph,
            "fuel": self.fuel,
            "state": self.state,
            "state_date": self.state_date.isoformat() if self.state_date else None,
            "in_zone": self.in_zone,
            "in_enclave": self.in_enclave,
            "last_inspection": self.last_inspection.isoformat() if self.last_inspection else None,
            "overdue": self.overdue,
            "remaining": self.remaining,
            "township_name": self.township_name,
            "village": self.village,
            "zone_id": self.zone_id,
            "enclave": self.enclave,
            "fuel_now": self.fuel_now,
            "lon": self.lon,
            "lat": self.lat,
        }


@dataclass
class BoilerStatus:
    """The 清零 progress as of a date (``heating boilers status``)."""

    as_of: date
    max_tph: float
    inspection_days: int
    boilers: list[BoilerAsOf]  # coal boilers in scope
    gas: list[BoilerAsOf]  # gas boilers counted for low-NOx
    township_names: dict[str, str] = field(default_factory=dict)
    derivation: tuple[int, date] | None = None  # the zones used (id, as_of)

    @property
    def remaining(self) -> list[BoilerAsOf]:
        return [b for b in self.boilers if b.remaining]

    @property
    def remaining_in_zones(self) -> list[BoilerAsOf]:
        return [b for b in self.boilers if b.remaining and b.in_zone]

    @property
    def dormant(self) -> list[BoilerAsOf]:
        return [b for b in self.boilers if b.dormant]

    @property
    def overdue(self) -> list[BoilerAsOf]:
        return [b for b in self.boilers if b.overdue]

    @property
    def gas_remaining(self) -> list[BoilerAsOf]:
        return [b for b in self.gas if not b.low_nox_done]

    def by_state(self) -> dict[str, int]:
        counts = Counter(b.state for b in self.boilers)
        out = {s: counts.get(s, 0) for s in BOILER_STATES}
        out[UNKNOWN_STATE] = counts.get(UNKNOWN_STATE, 0)
        return out

    def by_township(self) -> list[dict[str, Any]]:
        groups: dict[str, list[BoilerAsOf]] = defaultdict(list)
        for b in self.boilers:
            groups[b.township].append(b)
        return [
            {
                "township": code,
                "in_scope": len(groups[code]),
                "cleared": sum(1 for b in groups[code] if b.cleared),
                "remaining": sum(1 for b in groups[code] if b.remaining),
                "name": self.township_names.get(code, code),
                "remaining_in_zones": sum(1 for b in groups[code] if b.remaining and b.in_zone),
                "inspection_overdue": sum(1 for b in groups[code] if b.overdue),
            }
            for code in sorted(groups)
        ]

    def as_json(self) -> dict[str, Any]:
        """The object ``heating boilers status --json`` prints (issue 14's keys first)."""
        done = sum(1 for b in self.gas if b.low_nox_done)
        return {
            "as_of": self.as_of.isoformat(),
            "max_tph": self.max_tph,
            "in_scope": len(self.boilers),
            "cleared": sum(1 for b in self.boilers if b.cleared),
            "remaining": len(self.remaining),
            "remaining_in_zones": len(self.remaining_in_zones),
            "by_state": self.by_state(),
            "by_township": self.by_township(),
            "boilers": [b.as_json() for b in self.boilers],
            "inspection_overdue": len(self.overdue),
            "inspection_days": self.inspection_days,
            "inspections": [
                {
                    "id": b.code,
                    "township": b.township,
                    "state": b.state,
                    "last_inspection": b.last_inspection.isoformat() if b.last_inspection else None,
                    "overdue": b.overdue,
                }
                for b in self.dormant
            ],
            "gas_low_nox": {
                "total": len(self.gas),
                "done": done,
                "remaining": len(self.gas) - done,
                "boilers": [b.as_json() for b in self.gas_remaining],
            },
            "zones": (
                {"derivation": self.derivation[0], "as_of": self.derivation[1].isoformat()}
                if self.derivation
                else None
            ),
        }


def _state_as_of(
    history: list[tuple[str, date | None, str]], day: date
) -> tuple[str, date | None, str] | None:
    """The (state, state_date, fuel) in force on ``day``; None before the first entry."""
    current = None
    for entry in history:  # ordered by date, undated first
        if entry[1] is None or entry[1] <= day:
            current = entry
    return current


def boiler_status(
    session: Session,
    *,
    as_of: date | None = None,
    max_tph: float = 35,
    inspection_days: int = 90,
    district_code: str | None = None,
) -> BoilerStatus:
    """Read every boiler (of one district when given), its history and inspections, as of a date."""
    day = as_of or date.today()
    history: dict[int, list[tuple[str, date | None, str]]] = defaultdict(list)
    for boiler_id, state, state_date, fuel in session.execute(
        select(BoilerState.boiler_id, BoilerState.state, BoilerState.state_date, BoilerState.fuel)
        .order_by(BoilerState.boiler_id, BoilerState.state_date, BoilerState.id)
        .execution_options(yield_per=5000)
    ):
        history[boiler_id].append((state, state_date, fuel))
    for entries in history.values():  # undated (from the start) before dated; stable otherwise
        entries.sort(key=lambda e: e[1] or date.min)
    inspected: dict[int, date] = {}
    for boiler_id, day_inspected in session.execute(
        select(BoilerInspection.boiler_id, BoilerInspection.inspected_on).where(
            BoilerInspection.inspected_on <= day
        )
    ):
        if boiler_id not in inspected or day_inspected > inspected[boiler_id]:
            inspected[boiler_id] = day_inspected
    query = (
        select(Boiler, Township.code, Township.name, Village.code)
        .join(Township, Boiler.township_id == Township.id)
        .outerjoin(Village, Boiler.village_id == Village.id)
        .order_by(Township.code, Boiler.code)
    )
    if district_code is not None:
        query = query.join(District, Township.district_id == District.id).where(
            District.code == district_code
        )
    rows = session.execute(query).all()
    limit = day - timedelta(days=inspection_days)
    views: list[BoilerAsOf] = []
    names: dict[str, str] = {}
    for boiler, tcode, tname, vcode in rows:
        names[tcode] = tname
        entry = _state_as_of(history.get(boiler.id, []), day)
        state, state_date, fuel_now = entry if entry else (UNKNOWN_STATE, None, boiler.fuel)
        last = inspected.get(boiler.id)
        view = BoilerAsOf(
            code=boiler.code,
            unit=boiler.unit,
            township=tcode,
            township_name=tname,
            village=vcode,
            tph=boiler.tph,
            fuel=boiler.fuel,
            fuel_now=fuel_now,
            state=state,
            state_date=state_date,
            in_scope=boiler.fuel == "coal" and boiler.tph <= max_tph,
            lon=boiler.lon,
            lat=boiler.lat,
            last_inspection=last,
            low_nox_done=boiler.low_nox == "done"
            and boiler.low_nox_on is not None
            and boiler.low_nox_on <= day,
        )
        view.overdue = view.in_scope and view.dormant and (last is None or last < limit)
        views.append(view)
    derivation = None
    if views:
        located, used = locate_as_of(
            session, points_frame([v.lon for v in views], [v.lat for v in views]), day
        )
        for view, zone_id, enclave in zip(
            views, located["zone_id"], located["enclave"], strict=True
        ):
            view.zone_id, view.in_zone = zone_id, zone_id is not None
            view.enclave, view.in_enclave = enclave, enclave is not None
        derivation = (used.id, used.as_of) if used is not None else None
    return BoilerStatus(
        as_of=day,
        max_tph=max_tph,
        inspection_days=inspection_days,
        boilers=[v for v in views if v.in_scope],
        gas=[v for v in views if v.fuel_now == "gas" and v.state not in GONE_STATES],
        township_names=names,
        derivation=derivation,
    )
