"""Point layers of the coverage map: heat sources and coal boilers, off by default.

``heat_source_points`` and ``boiler_points`` read what the map shows of the
heat-source register (``heating.heat_sources``) and of the ≤35 t/h coal
boilers as of today (``heating.boilers``, zones in force today); the
``*_layer`` builders turn the frames into layer specs of the map document
(``geo.maps``), drawn by ``kinds.points`` in ``heating/static/js/map.js``:
a circle per point, its fill by class (a source's type, a boiler's state),
a red rim where the seed plan's rule is broken — a non-compliant waste-heat
source, a coal boiler not yet cleared inside a coal-ban zone (larger too).
The specs carry raw text, like ``MapData``: ``geo.maps_document`` escapes
every tooltip value when it writes them into the document.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS
from geo.topojson import grid_points
from heating.boilers import UNKNOWN_STATE, UNKNOWN_STATE_LABEL, boiler_status
from heating.config import Config
from heating.coverage_classes import (
    BOILER_FILLS,
    BOILER_IN_ZONE,
    BOILER_STYLE,
    HEAT_SOURCE_FILLS,
    HEAT_SOURCE_STYLE,
    POINT_ALERT,
)
from heating.heat_sources import load_register
from heating.models import BOILER_STATE_LABELS, HEAT_SOURCE_KIND_LABELS, HeatSource

HEAT_SOURCE_FIELDS = ("热源", "类型", "环保绩效等级", "列入关停淘汰计划", "核查")
BOILER_FIELDS = ("锅炉编号", "单位", "乡镇", "蒸吨（t/h）", "状态", "状态日期", "位置", "最近检查")
BOILER_STATE_NAMES = {**BOILER_STATE_LABELS, UNKNOWN_STATE: UNKNOWN_STATE_LABEL}
# Sources lying this far (degrees, ≈ 5 km) outside the shown areas still belong on the map.
SOURCE_MARGIN = 0.05


def _frame(records: list[dict[str, Any]], lons: list[float], lats: list[float]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        records or None,
        geometry=gpd.points_from_xy(lons, lats, crs=STORAGE_CRS),
        crs=STORAGE_CRS,
    )


def heat_source_points(
    session: Session, bounds: tuple[float, float, float, float] | None
) -> gpd.GeoDataFrame:
    """Registered sources with coordinates near ``bounds`` (lon/lat), with their verdict."""
    register = load_register(session)
    located = {
        sid: (lon, lat)
        for sid, lon, lat in session.execute(select(HeatSource.id, HeatSource.lon, HeatSource.lat))
        if lon is not None and lat is not None
    }
    records, lons, lats = [], [], []
    for facts in register.sources.values():
        if facts.id not in located:
            continue
        lon, lat = located[facts.id]
        if bounds is not None and not (
            bounds[0] - SOURCE_MARGIN <= lon <= bounds[2] + SOURCE_MARGIN
            and bounds[1] - SOURCE_MARGIN <= lat <= bounds[3] + SOURCE_MARGIN
        ):
            continue
        records.append(
            {
                "name": facts.name,
                "kind": facts.kind or "other",
                "grade": facts.grade_label,
                "listed": facts.shutdown_listed,
                "noncompliant": facts.noncompliant,
                "reason": facts.reason,
            }
        )
        lons.append(lon)
        lats.append(lat)
    return _frame(records, lons, lats)


def boiler_points(
    session: Session,
    config: Config,
    *,
    township_code: str | None = None,
    district_code: str | None = None,
    as_of: date | None = None,
) -> gpd.GeoDataFrame:
    """Coal boilers in the 清零 scope with coordinates, their state and place as of today."""
    status = boiler_status(
        session,
        as_of=as_of,
        max_tph=config.boiler_max_tph,
        inspection_days=config.boiler_inspection_days,
        district_code=district_code,
    )
    chosen = [
        b
        for b in status.boilers
        if b.lon is not None and (township_code is None or b.township == township_code)
    ]
    records = [
        {
            "code": b.code,
            "unit": b.unit,
            "township_name": b.township_name,
            "tph": b.tph,
            "state": b.state,
            "state_date": b.state_date,
            "in_zone": b.in_zone,
            "in_enclave": b.in_enclave,
            "zone_id": b.zone_id,
            "remaining": b.remaining,
            "overdue": b.overdue,
            "last_inspection": b.last_inspection,
        }
        for b in chosen
    ]
    return _frame(records, [b.lon for b in chosen], [b.lat for b in chosen])


def _xy(frame: gpd.GeoDataFrame, topology: Mapping[str, Any]) -> list[list[int]]:
    xy = np.column_stack([frame.geometry.x.to_numpy(), frame.geometry.y.to_numpy()])
    return grid_points(xy, topology)


def heat_source_layer(
    frame: gpd.GeoDataFrame, topology: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The spec of the heat-source layer (None when no source has coordinates)."""
    if frame.empty:
        return None
    kinds = [k for k in HEAT_SOURCE_FILLS if k in set(frame["kind"])]
    bad = int(frame["noncompliant"].sum())
    points = []
    for (x, y), row in zip(_xy(frame, topology), frame.itertuples(index=False), strict=True):
        props: dict[str, Any] = {
            "cls": row.kind,
            "tip": [
                row.name,
                HEAT_SOURCE_KIND_LABELS.get(row.kind, row.kind),
                row.grade,
                "是" if row.listed else "否",
                f"不合规：{row.reason}" if row.noncompliant else "合规",
            ],
        }
        if row.noncompliant:
            props["alert"] = 1
        points.append([x, y, props])
    return {
        "key": "heat_sources",
        "kind": "points",
        "label": f"热源（{len(frame)} 个" + (f"，不合规 {bad} 个）" if bad else "）"),
        "hint": "红色外框：不合规（工业余热环保绩效低于 B 级、等级未知或列入关停淘汰计划）",
        "show": False,
        "fields": list(HEAT_SOURCE_FIELDS),
        "flags": [["alert", "先立后破：不合规热源"]],
        "styles": {k: {**HEAT_SOURCE_STYLE, "fillColor": HEAT_SOURCE_FILLS[k]} for k in kinds},
        "alert": POINT_ALERT,
        "classes": [
            {"key": k, "label": HEAT_SOURCE_KIND_LABELS[k], "fill": HEAT_SOURCE_FILLS[k]}
            for k in kinds
        ],
        "points": points,
    }


def _where(row: Any) -> str:
    if row.in_zone:
        return f"禁煤区 {row.zone_id} 内"
    if row.in_enclave:
        return "飞地内（被禁煤区包围）"
    return "禁煤区外"


def boiler_layer(frame: gpd.GeoDataFrame, topology: Mapping[str, Any]) -> dict[str, Any] | None:
    """The spec of the coal-boiler layer (None when no boiler has coordinates)."""
    if frame.empty:
        return None
    states = [s for s in BOILER_FILLS if s in set(frame["state"])]
    alarming = int((frame["remaining"] & frame["in_zone"]).sum())
    points = []
    for (x, y), row in zip(_xy(frame, topology), frame.itertuples(index=False), strict=True):
        props: dict[str, Any] = {
            "cls": row.state,
            "tip": [
                row.code,
                row.unit or "",
                row.township_name,
                f"{row.tph:g}",
                BOILER_STATE_NAMES.get(row.state, row.state),
                row.state_date.isoformat() if row.state_date else "",
                _where(row),
                row.last_inspection.isoformat() if row.last_inspection else "",
            ],
        }
        if row.remaining and row.in_zone:
            props["alert"] = 1
        if row.overdue:
            props["overdue"] = 1
        points.append([x, y, props])
    return {
        "key": "boilers",
        "kind": "points",
        "label": f"燃煤锅炉（{len(frame)} 台"
        + (f"，禁煤区内未清零 {alarming} 台）" if alarming else "）"),
        "hint": "按状态着色；红色大圈：禁煤区内仍未清零",
        "show": False,
        "fields": list(BOILER_FIELDS),
        "flags": [["alert", "禁煤区内仍未清零"], ["overdue", "检查逾期"]],
        "styles": {s: {**BOILER_STYLE, "fillColor": BOILER_FILLS[s]} for s in states},
        "alert": BOILER_IN_ZONE,
        "classes": [
            {"key": s, "label": BOILER_STATE_NAMES[s], "fill": BOILER_FILLS[s]} for s in states
        ],
        "points": points,
    }
