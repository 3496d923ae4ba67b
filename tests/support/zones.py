"""Coal-ban zones stored as a derivation would leave them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from shapely.geometry import box

from heating.models import Zone, ZoneDerivation
from heating.runtime import Runtime


def add_zone(
    runtime: Runtime,
    villages: list[str],
    touching: list[str],
    bounds: tuple[float, float, float, float] = (112.80, 36.30, 112.81, 36.31),
    *,
    as_of: date = date(2021, 10, 31),
    zone_id: str = "JMQ-0001",
    geometry: Any = None,
    enclaves: Iterable[str] = (),
) -> None:
    """Store a derivation as of ``as_of`` holding one zone (default: a box over 南街)."""
    with runtime.session() as session:
        derivation = ZoneDerivation(as_of=as_of, summary={"enclaves": list(enclaves)})
        session.add(derivation)
        session.flush()
        session.add(
            Zone(
                derivation_id=derivation.id,
                zone_id=zone_id,
                geometry=(geometry if geometry is not None else box(*bounds)).wkb,
                area_km2=1.0,
                village_codes=villages,
                touching=touching,
            )
        )
