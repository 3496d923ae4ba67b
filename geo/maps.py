"""The coverage map: prepared frames, then the document the map is drawn from.

Three steps, each testable on its own:

1. ``map_data(session, config, …)`` reads villages, their measures, the
   latest coal-ban zones and the dates, and returns ``MapData``: plain
   GeoDataFrames in EPSG:4490, already simplified for display
   (``geo.display``), with each village's coverage class (``heating.
   coverage_classes``), whether it is a priority gap and its tooltip
   values (``geo.map_tips``).
2. ``geo.maps_document.map_document(data, links=…, basemap=…)`` turns them into the map
   *document*: a JSON-ready dict holding one TopoJSON topology (shared
   borders written once, ``geo.topojson``), the legend, the dates and a list
   of layer specs.  Tests assert on these two.
3. ``geo.maps_folium.build_map(document)`` builds the folium map; the
   functions it calls in ``heating/static/js/map.js`` draw each layer.  The
   web page ``/map`` serves the map's script as a file of its own (no
   inline script: the page runs under ``script-src 'self'``); ``heating map
   -o FILE.html`` writes folium's whole page with every asset inlined.

**Escaping.**  Every text that came from a spreadsheet, a boundary file or
the configuration passes through ``geo.maps_document.display_text``, once,
as the document is made: HTML-escaped, and backtick, ``$``, backslash
and braces turned into character references, so it can become neither
markup, nor JavaScript, nor a Jinja expression (branca renders element
output a second time as a template).  map.js may then put document values
into the page as HTML; the document reaches the page verbatim as HTML-safe
JSON, never through a template.

**Priority gaps (重点缺口)** are villages that are incomplete *today*
(``heating.measures.complete_codes``) and touch or lie within the
latest derivation's zones (within ``geo.zones.TOUCH_DEGREES``, as the
derivation itself judges touching).  The legend states both dates: the data
date (the newest ledger date of the shown households, ``data_date``) and the
zones' derivation date.

**Adding a layer** (heat sources, coal boilers, usage flags…):

- polygons that belong to the villages (a flag, a class): add a property in
  ``maps_document._area_properties`` and a spec in ``maps_document._layers`` — e.g.
  ``{"key": "flagged", "kind": "outlines", "object": "areas",
  "where": "flagged", "label": "疑似改而不用", "styles": [...]}``; nothing
  new in JS or folium;
- points: ``geo.map_points`` reads the registered heat sources and the
  ≤35 t/h coal boilers into ``MapData.heat_sources``/``boilers`` and builds
  their specs (``kind: "points"``, off by default: ``"show": False``),
  appended in ``maps_document._layers`` (which escapes their tooltips);
  ``kinds.points`` in map.js draws a circle per point, filled by
  ``styles[cls]``, with ``alert`` where the seed plan's rule is broken, and
  lists ``classes`` in the legend.

Every spec gets a pane in list order (later layers are drawn above), an
entry in the layer switch (``"toggle": False`` keeps it fixed) and a legend
symbol from its ``styles``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS
from geo.display import DEFAULT_TOLERANCE_M, dissolve, label_points, simplify
from geo.map_points import boiler_points, heat_source_points
from geo.map_tips import township_tip, village_tip
from geo.villages import villages_frame
from geo.zone_derivations import current_derivation
from geo.zones import TOUCH_DEGREES
from heating.completion import decided_village_ids
from heating.config import Config
from heating.counties import district_name
from heating.coverage_classes import (
    CLASS_KEYS,
    GENERATED_NOTE,
    coverage_class,
)
from heating.heat_sources import counting_rule
from heating.measures import MeasureRow, aggregate_row, complete_codes, village_row
from heating.models import District, Household, Township, Village, Zone
from heating.targets import needed
from heating.village_facts import village_facts

OVERVIEW_THRESHOLD = 2000  # without a filter, more villages than this are shown as townships
OVERVIEW_TOLERANCE_FACTOR = 5  # township overview: 5 × the village tolerance (100 m)


@dataclass(frozen=True)
class MapDates:
    """The two dates a reader needs to trust the colours and the outlines together."""

    data: date | None  # the newest ledger date of the shown households (数据截至)
    zones: date | None  # the as-of date of the zones' derivation
    zones_derivation: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "data": self.data.isoformat() if self.data else None,
            "zones": self.zones.isoformat() if self.zones else None,
        }


@dataclass
class MapData:
    """What one map shows, prepared: frames in EPSG:4490, simplified for display.

    ``areas`` are the coloured polygons — villages, or townships in the
    overview of a large deployment (``mode``) — with the columns
    ``code, name, cls`` and the tooltip values (``tip``, in the order of
    ``VILLAGE_FIELDS``/``TOWNSHIP_FIELDS``); villages also carry
    ``township_code`` and ``priority``.  ``townships`` holds each township's
    ``code, name, x, y`` (a label point), ``zones`` the shown zones
    (``zone_id, villages, area_km2``).
    """

    title: str
    mode: str  # "villages" or "townships"
    areas: gpd.GeoDataFrame
    townships: gpd.GeoDataFrame
    zones: gpd.GeoDataFrame
    dates: MapDates
    villages: int  # villages with a boundary in the selection
    without_boundary: int
    generated_boundaries: bool
    single_township: bool
    notes: list[str] = field(default_factory=list)
    # Point layers (``geo.map_points``): registered heat sources, ≤35 t/h coal boilers.
    heat_sources: gpd.GeoDataFrame | None = None
    boilers: gpd.GeoDataFrame | None = None
    # The overview draws townships only; its search still finds villages: each village
    # (``code, name, township_code``, by code) to point at its township.  None for villages.
    village_index: list[tuple[str, str, str]] | None = None

    def class_counts(self) -> dict[str, int]:
        """How many areas fall in each class (every class listed, in legend order)."""
        counts = self.areas["cls"].value_counts().to_dict() if len(self.areas) else {}
        return {key: int(counts.get(key, 0)) for key in CLASS_KEYS}

    @property
    def priority(self) -> int:
        return int(self.areas["priority"].sum()) if "priority" in self.areas else 0


@dataclass(frozen=True)
class MapSummary:
    """What the map shows, for the page around it and the CLI."""

    mode: str
    villages: int
    without_boundary: int
    classes: dict[str, int]
    generated_boundaries: bool
    priority: int
    zones: int
    dates: MapDates


# --------------------------------------------------------------------------
# Reading the database
# --------------------------------------------------------------------------


def current_zones(session: Session) -> tuple[gpd.GeoDataFrame, Any]:
    """The latest derivation's zones (EPSG:4490) and that derivation (None if there is none)."""
    derivation = current_derivation(session)
    zones = (
        list(
            session.scalars(
                select(Zone).where(Zone.derivation_id == derivation.id).order_by(Zone.zone_id)
            )
        )
        if derivation is not None
        else []
    )
    frame = gpd.GeoDataFrame(
        {
            "zone_id": [z.zone_id for z in zones],
            "area_km2": [z.area_km2 for z in zones],
            "villages": [list(z.village_codes or []) for z in zones],
            "touching": [list(z.touching or []) for z in zones],
        },
        geometry=shapely.from_wkb([z.geometry for z in zones]) if zones else [],
        crs=STORAGE_CRS,
    )
    return frame, derivation


def data_date(
    session: Session, township_code: str | None = None, district_code: str | None = None
) -> date | None:
    """The newest ledger date (台账日期) of the shown villages' current households.

    The colours show the current state, which is the state as of the newest
    ledger date (``heating.history``): this is the "数据截至" the legend states.
    None while no ledger has been committed.
    """
    query = (
        select(func.max(Household.ledger_date))
        .join(Village, Household.village_id == Village.id)
        .where(Household.active.is_(True))
    )
    if township_code or district_code:
        query = query.join(Township, Village.township_id == Township.id)
    if township_code:
        query = query.where(Township.code == township_code)
    if district_code:
        query = query.join(District, Township.district_id == District.id).where(
            District.code == district_code
        )
    return session.scalar(query)


def _title(session: Session, township_code: str | None, district_code: str | None) -> str:
    if township_code:
        name = session.scalar(select(Township.name).where(Township.code == township_code))
        return f"{name or township_code} 清洁取暖覆盖率"
    if district_code:
        name = session.scalar(select(District.name).where(District.code == district_code))
        return f"{district_name(district_code, name)} 清洁取暖覆盖率"
    names = session.scalars(select(District.name).order_by(District.code)).all()
    return f"{'、'.join(names[:3]) or '全部村庄'} 清洁取暖覆盖率"


def priority_gaps(
    villages: gpd.GeoDataFrame, zones: gpd.GeoDataFrame, complete: set[str]
) -> np.ndarray:
    """Which villages are priority gaps: incomplete and touching or inside a zone.

    Parameters
    ----------
    villages, zones : GeoDataFrame
        Unsimplified polygons in EPSG:4490; villages with a ``code`` column.
    complete : set of str
        Codes of the villages complete today.

    Returns
    -------
    numpy.ndarray of bool
        One flag per village.  "Touching" allows ``TOUCH_DEGREES`` (≈ 10 cm),
        as the zone derivation does; an enclave touches its hole's ring.
    """
    flags = np.zeros(len(villages), dtype=bool)
    if villages.empty or zones.empty:
        return flags
    incomplete = ~villages["code"].isin(complete).to_numpy()
    geoms = np.asarray(villages.geometry.values)
    _, hit = shapely.STRtree(geoms).query(
        np.asarray(zones.geometry.values), predicate="dwithin", distance=TOUCH_DEGREES
    )
    flags[np.unique(hit)] = True
    return flags & incomplete


def _near(zones: gpd.GeoDataFrame, villages: gpd.GeoDataFrame) -> np.ndarray:
    """Positions of the zones that hold or touch at least one of the villages."""
    if villages.empty:
        return np.arange(0)
    hit, _ = shapely.STRtree(np.asarray(villages.geometry.values)).query(
        np.asarray(zones.geometry.values), predicate="dwithin", distance=TOUCH_DEGREES
    )
    return np.unique(hit)


def _township_areas(
    villages: gpd.GeoDataFrame, rows: Mapping[str, MeasureRow], rule: str
) -> gpd.GeoDataFrame:
    """Townships (dissolved villages) with their measures, for the overview.

    A township mixes categories, so its colour compares its coverage with
    the share of households every village needs to reach its own target:
    Σ needed(target, required) / Σ required.
    """
    shapes = dissolve(villages, "township_code")
    names = dict(zip(villages["township_code"], villages["township_name"], strict=False))
    groups: dict[str, list[MeasureRow]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    for code, township in zip(villages["code"], villages["township_code"], strict=True):
        counts[township] += 1
        if code in rows:
            groups[township].append(rows[code])
    records = []
    for code in shapes["township_code"]:
        parts = groups.get(code, [])
        agg = aggregate_row(code, names[code], parts, township_code=code)
        need = sum(needed(r.target, r.required) for r in parts if r.target is not None)
        target = need / agg.required if agg.required > 0 else None
        records.append(
            {
                "code": code,
                "name": names[code],
                "cls": coverage_class(agg.coverage, target),
                "tip": township_tip(agg, counts[code], parts, target, rule),
            }
        )
    return gpd.GeoDataFrame(records, geometry=shapes.geometry.values, crs=villages.crs)


def _township_labels(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """One label point per township of a village frame (inside the dissolved township)."""
    if frame.empty:
        return gpd.GeoDataFrame({"code": [], "name": [], "x": [], "y": []}, geometry=[])
    shapes = dissolve(frame, "township_code")
    names = dict(zip(frame["township_code"], frame["township_name"], strict=False))
    xy = label_points(shapes)
    return gpd.GeoDataFrame(
        {
            "code": shapes["township_code"],
            "name": [names[c] for c in shapes["township_code"]],
            "x": xy[:, 0],
            "y": xy[:, 1],
        },
        geometry=shapes.geometry.values,
        crs=frame.crs,
    )


def map_data(
    session: Session,
    config: Config,
    *,
    township_code: str | None = None,
    district_code: str | None = None,
    overview_threshold: int = OVERVIEW_THRESHOLD,
    tolerance: float = DEFAULT_TOLERANCE_M,
    title: str | None = None,
) -> MapData:
    """Read and prepare everything one coverage map shows.

    Parameters
    ----------
    session : Session
    config : Config
        Settings; the requirement profile gives each village its target.
    township_code, district_code : str, optional
        Limit the map to one township or district.
    overview_threshold : int, default 2000
        Without a filter, more villages than this are shown as townships.
    tolerance : float, default 20.0
        Simplification tolerance in metres (the overview uses 5 ×).
    title : str, optional
        Defaults to the name of what is shown.

    Returns
    -------
    MapData

    Example
    -------
    >>> data = map_data(session, config, township_code="140405001")  # doctest: +SKIP
    >>> data.class_counts()  # doctest: +SKIP
    {'meets': 12, 'near': 3, 'far': 5, 'no_data': 0}
    """
    profile = config.profile
    scope = {"township_code": township_code, "district_code": district_code}
    frame = villages_frame(session, township_code, district_code)
    has_boundary = frame.geometry.notna() & ~frame.geometry.is_empty
    villages = frame[has_boundary].reset_index(drop=True)
    # Read once: measures and completeness.
    facts = village_facts(session, **scope)
    rule = counting_rule(session)  # the rule the facts were counted by
    rows = {f.code: village_row(f, profile) for f in facts}
    zones, derivation = current_zones(session)
    if len(zones):
        zones = zones.iloc[_near(zones, villages)]
    overview = not township_code and not district_code and len(villages) > overview_threshold
    villages["cls"] = [
        coverage_class(rows[c].coverage if c in rows else None, profile.target(cat))
        for c, cat in zip(villages["code"], villages["category"], strict=True)
    ]
    if not overview:  # the overview shows townships: no village tooltips or gaps to draw
        complete = complete_codes(facts, decided_village_ids(session)) if len(zones) else set()
        villages["priority"] = priority_gaps(villages, zones, complete)
        villages["tip"] = [
            village_tip(v, rows.get(v.code), profile, rule)
            for v in villages.drop(columns="geometry").itertuples(index=False)
        ]
    if overview:
        areas = simplify(
            _township_areas(villages, rows, rule), tolerance * OVERVIEW_TOLERANCE_FACTOR
        )
        townships = _labels_of(areas)
    else:
        areas = simplify(villages, tolerance)
        townships = _township_labels(areas)
    newest = data_date(session, township_code, district_code)
    notes = []
    if overview:
        notes.append(f"村庄较多（{len(villages)} 个），按乡镇汇总显示；点击乡镇查看其村庄。")
    without = int((~has_boundary).sum())
    if without:
        notes.append(f"{without} 个村暂无边界，未在图上显示。")
    generated = bool(villages["boundary_generated"].any()) if len(villages) else False
    if generated:
        notes.append(GENERATED_NOTE)
    return MapData(
        title=title or _title(session, township_code, district_code),
        mode="townships" if overview else "villages",
        areas=areas,
        townships=townships,
        zones=simplify(zones, tolerance),
        dates=MapDates(
            data=newest,
            zones=derivation.as_of if derivation is not None else None,
            zones_derivation=derivation.id if derivation is not None else None,
        ),
        villages=len(villages),
        without_boundary=without,
        generated_boundaries=generated,
        single_township=villages["township_code"].nunique() == 1,
        notes=notes,
        heat_sources=heat_source_points(
            session, tuple(float(b) for b in villages.total_bounds) if len(villages) else None
        ),
        boilers=boiler_points(session, config, **scope),
        village_index=sorted(
            zip(villages["code"], villages["name"], villages["township_code"], strict=True)
        )
        if overview
        else None,
    )


def _labels_of(areas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    xy = label_points(areas)
    return gpd.GeoDataFrame(
        {"code": areas["code"], "name": areas["name"], "x": xy[:, 0], "y": xy[:, 1]},
        geometry=areas.geometry.values,
        crs=areas.crs,
    )


def summary(data: MapData) -> MapSummary:
    """The counts the page and the CLI print beside the map."""
    return MapSummary(
        mode=data.mode,
        villages=data.villages,
        without_boundary=data.without_boundary,
        classes=data.class_counts(),
        generated_boundaries=data.generated_boundaries,
        priority=data.priority,
        zones=len(data.zones),
        dates=data.dates,
    )
