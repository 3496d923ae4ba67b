"""The coverage map: prepared frames, then the document the map is drawn from.

Three steps, each testable on its own:

1. ``map_data(session, config, …)`` reads villages, their measures, the
   latest coal-ban zones and the dates, and returns ``MapData``: plain
   GeoDataFrames in EPSG:4490, already simplified for display
   (``geo.display``), with each village's coverage class (``heating.
   coverage_classes``) and whether it is a priority gap.
2. ``map_document(data, links=…, basemap=…)`` turns them into the map
   *document*: a JSON-ready dict holding one TopoJSON topology (shared
   borders written once, ``geo.topojson``), the legend, the dates and a list
   of layer specs.  Tests assert on these two.
3. ``geo.maps_folium.build_map(document)`` builds the folium map; the
   functions it calls in ``heating/static/js/map.js`` draw each layer.  The
   web page ``/map`` serves the map's script as a file of its own (no
   inline script: the page runs under ``script-src 'self'``); ``heating map
   -o FILE.html`` writes folium's whole page with every asset inlined.

**Escaping.**  Every text that came from a spreadsheet, a boundary file or
the configuration passes through ``display_text`` here, once, before the
document leaves this module: HTML-escaped, and backtick, ``$``, backslash
and braces turned into character references, so it can become neither
markup, nor JavaScript, nor a Jinja expression (branca renders element
output a second time as a template).  map.js may then put document values
into the page as HTML; the document reaches the page verbatim as HTML-safe
JSON, never through a template.

**Priority gaps (重点缺口)** are villages that are incomplete *today*
(``heating.measures.complete_village_codes``) and touch or lie within the
latest derivation's zones (within ``geo.zones.TOUCH_DEGREES``, as the
derivation itself judges touching).  The legend states both dates: the data
date (the newest date the data describes) and the zones' derivation date.

**Adding a layer** (heat sources, coal boilers, usage flags…):

- polygons that belong to the villages (a flag, a class): add a property in
  ``_area_properties`` and a spec in ``_layers`` — e.g.
  ``{"key": "flagged", "kind": "outlines", "object": "areas",
  "where": "flagged", "label": "疑似改而不用", "styles": [...]}``; nothing
  new in JS or folium;
- points (a heat source, a boiler): a builder returning a spec
  ``{"key": "boilers", "kind": "points", "label": "燃煤锅炉",
  "show": False, "points": [[x, y, {"name": display_text(…), "cls": …}], …]}``
  with ``x, y`` from ``geo.topojson.grid_points``, appended in
  ``_layers``; then one kind in map.js: ``kinds.points = function (spec,
  ctx) {…}`` returning a Leaflet layer (``ctx.table`` builds a tooltip).

Every spec gets a pane in list order (later layers are drawn above), an
entry in the layer switch (``"toggle": False`` keeps it fixed) and a legend
symbol from its ``styles``.
"""

from __future__ import annotations

import html
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

from geo.boundaries import villages_frame
from geo.crs import STORAGE_CRS
from geo.display import DEFAULT_TOLERANCE_M, dissolve, label_points, simplify
from geo.topojson import grid_points, to_topology
from geo.zones import TOUCH_DEGREES, current_derivation
from heating.config import Config, Profile
from heating.coverage_classes import (
    CLASS_KEYS,
    COVERAGE_CLASSES,
    GENERATED_NOTE,
    OVERLAY_STYLES,
    coverage_class,
)
from heating.errors import Refused
from heating.measures import (
    MeasureRow,
    aggregate_row,
    complete_village_codes,
    coverage,
    needed,
    percent,
)
from heating.models import District, HouseholdVersion, Township, Zone

OVERVIEW_THRESHOLD = 2000  # without a filter, more villages than this are shown as townships
OVERVIEW_TOLERANCE_FACTOR = 5  # township overview: 5 × the village tolerance (100 m)
LABEL_ZOOM = 13  # village names from this zoom on (a 1.7 km village is ~90 px wide)

VILLAGE_FIELDS = (
    "村",
    "乡镇",
    "类别",
    "应改户数",
    "已改户数",
    "覆盖率",
    "有效覆盖率",
    "目标",
    "缺口",
)
TOWNSHIP_FIELDS = (
    "乡镇",
    "村数",
    "应改户数",
    "已改户数",
    "覆盖率",
    "有效覆盖率",
    "目标（按村加权）",
    "缺口",
    "未达标村数",
)
CLASS_NOTE = "按所属类别目标着色（覆盖率 = 已改户数 ÷ 应改户数）"
PRIORITY_HINT = "今日尚未全部改造完成（可能已达标）、与最新禁煤区相接或被其包围的村"


@dataclass(frozen=True)
class MapDates:
    """The two dates a reader needs to trust the colours and the outlines together."""

    data: date | None  # the newest date the data describes
    data_basis: str  # "ledger" (台账日期) or "recorded" (录入日期, until ledgers carry dates)
    zones: date | None  # the as-of date of the zones' derivation
    zones_derivation: int | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "data": self.data.isoformat() if self.data else None,
            "data_basis": self.data_basis,
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


@dataclass(frozen=True)
class MapLinks:
    """Where a click goes: URL patterns with ``{code}`` (None: no click action)."""

    village: str | None = None
    township: str | None = None


@dataclass(frozen=True)
class Basemap:
    """A configured tile layer (WGS84/CGCS2000 tiles only; the attribution is plain text)."""

    url: str
    attribution: str


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


def data_date(session: Session) -> tuple[date | None, str]:
    """The newest date the household data describes, and what kind of date it is.

    Until ledgers carry their own date (台账日期) this is the newest recorded
    change (``"recorded"``).
    """
    newest = session.scalar(select(func.max(HouseholdVersion.recorded_at)))
    return (newest.date() if newest else None), "recorded"


def _title(session: Session, township_code: str | None, district_code: str | None) -> str:
    if township_code:
        name = session.scalar(select(Township.name).where(Township.code == township_code))
        return f"{name or township_code} 清洁取暖覆盖率"
    if district_code:
        name = session.scalar(select(District.name).where(District.code == district_code))
        return f"{name or district_code} 清洁取暖覆盖率"
    names = session.scalars(select(District.name).order_by(District.code)).all()
    return f"{'、'.join(names[:3]) or '全部村庄'} 清洁取暖覆盖率"


def display_text(value: Any) -> str:
    """Escape a user value once for the page: HTML, JS template literals and Jinja see text.

    Character references for ``` ` $ \\ { } ``` render as the characters
    themselves wherever the value lands as HTML.
    """
    text = html.escape("" if value is None else str(value), quote=True)
    for char, ref in (
        ("`", "&#96;"),
        ("$", "&#36;"),
        ("\\", "&#92;"),
        ("{", "&#123;"),
        ("}", "&#125;"),
    ):
        text = text.replace(char, ref)
    return text


def _count(value: int | None) -> str:
    return "—" if value is None else str(value)


def _village_tip(row: Any, m: MeasureRow | None, profile: Profile) -> list[str]:
    """The tooltip values of one village, in ``VILLAGE_FIELDS`` order, formatted once here."""
    return [
        display_text(row.name),
        display_text(row.township_name),
        display_text(profile.label(row.category)),
        _count(m.required if m else None),
        _count(m.clean if m else None),
        percent(m.coverage if m else None),
        percent(m.effective_coverage if m else None),
        percent(profile.target(row.category)),
        _count(m.gap if m else None),
    ]


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


def _township_areas(villages: gpd.GeoDataFrame, rows: Mapping[str, MeasureRow]) -> gpd.GeoDataFrame:
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
                "tip": [
                    display_text(names[code]),
                    str(counts[code]),
                    str(agg.required),
                    str(agg.clean),
                    percent(agg.coverage),
                    percent(agg.effective_coverage),
                    percent(target),
                    str(agg.gap),
                    str(sum(1 for r in parts if r.meets is False)),
                ],
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
    rows = {r.key: r for r in coverage(session, profile, "village", **scope)}
    zones, derivation = current_zones(session)
    if len(zones):
        zones = zones.iloc[_near(zones, villages)]
    overview = not township_code and not district_code and len(villages) > overview_threshold
    villages["cls"] = [
        coverage_class(rows[c].coverage if c in rows else None, profile.target(cat))
        for c, cat in zip(villages["code"], villages["category"], strict=True)
    ]
    if not overview:  # the overview shows townships: no village tooltips or gaps to draw
        complete = complete_village_codes(session, profile, **scope) if len(zones) else set()
        villages["priority"] = priority_gaps(villages, zones, complete)
        villages["tip"] = [
            _village_tip(v, rows.get(v.code), profile)
            for v in villages.drop(columns="geometry").itertuples(index=False)
        ]
    if overview:
        areas = simplify(_township_areas(villages, rows), tolerance * OVERVIEW_TOLERANCE_FACTOR)
        townships = _labels_of(areas)
    else:
        areas = simplify(villages, tolerance)
        townships = _township_labels(areas)
    newest, basis = data_date(session)
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
            data_basis=basis,
            zones=derivation.as_of if derivation is not None else None,
            zones_derivation=derivation.id if derivation is not None else None,
        ),
        villages=len(villages),
        without_boundary=without,
        generated_boundaries=generated,
        single_township=villages["township_code"].nunique() == 1,
        notes=notes,
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


# --------------------------------------------------------------------------
# The document
# --------------------------------------------------------------------------


def _legend_classes(data: MapData) -> list[dict[str, Any]]:
    counts = data.class_counts()
    return [
        {"key": c.key, "label": c.label, "hint": c.hint, "colour": c.colour, "count": counts[c.key]}
        for c in COVERAGE_CLASSES
    ]


def _area_properties(data: MapData, points: list[list[int]]) -> list[dict[str, Any]]:
    """Per-area properties: code, name, class, tooltip values, label point, flags."""
    props = []
    villages = data.mode == "villages"
    columns = data.areas.drop(columns="geometry")
    for i, row in enumerate(columns.itertuples(index=False)):
        p: dict[str, Any] = {
            "code": display_text(row.code),
            "name": display_text(row.name),
            "cls": row.cls,
            "tip": row.tip,
        }
        p["at"] = points[i]
        if villages:
            p["township"] = row.township_code
            if row.priority:
                p["priority"] = 1
        props.append(p)
    return props


def _layers(
    data: MapData, links: MapLinks, topology: Mapping[str, Any], *, zone_labels: bool
) -> list[dict[str, Any]]:
    villages = data.mode == "villages"
    fill = OVERLAY_STYLES["village_edge"]
    layers: list[dict[str, Any]] = [
        {
            "key": "areas",
            "kind": "areas",
            "object": "areas",
            "label": "村庄覆盖率" if villages else "乡镇覆盖率",
            "toggle": False,
            "fields": list(VILLAGE_FIELDS if villages else TOWNSHIP_FIELDS),
            "link": links.village if villages else links.township,
            "styles": {c.key: {**fill, "fillColor": c.colour} for c in COVERAGE_CLASSES},
            "hover": OVERLAY_STYLES["hover"],
            "flags": [["priority", "重点缺口"]] if villages else [],
        }
    ]
    if villages:
        layers.append(
            {
                "key": "townships",
                "kind": "borders",
                "object": "areas",
                "by": "township",
                "label": "乡镇界线",
                "styles": [OVERLAY_STYLES["township"]],
            }
        )
        layers.append(
            {
                "key": "priority",
                "kind": "outlines",
                "object": "areas",
                "where": "priority",
                "label": f"重点缺口（{data.priority} 个村）",
                "hint": PRIORITY_HINT,
                "styles": [OVERLAY_STYLES["priority"]],
            }
        )
    if len(data.zones):
        layers.append(
            {
                "key": "zones",
                "kind": "outlines",
                "object": "zones",
                "label": f"禁煤区（{len(data.zones)} 片）",
                "styles": [OVERLAY_STYLES["zone_halo"], OVERLAY_STYLES["zone"]],
            }
        )
    if zone_labels and len(data.zones):
        xy = label_points(data.zones)
        layers.append(
            {
                "key": "zone_ids",
                "kind": "labels",
                "label": "禁煤区编号",
                "points": [
                    [*point, display_text(zone_id)]
                    for point, zone_id in zip(
                        grid_points(xy, topology), data.zones["zone_id"], strict=True
                    )
                ],
                "className": "zone",
            }
        )
    if not data.single_township or not villages:
        layers.append(
            {
                "key": "township_names",
                "kind": "labels",
                "label": "乡镇名称",
                "points": [
                    [*xy, name]
                    for xy, name in zip(
                        grid_points(data.townships[["x", "y"]].to_numpy(), topology),
                        map(display_text, data.townships["name"]),
                        strict=True,
                    )
                ],
                "max_zoom": LABEL_ZOOM if villages else None,
                "className": "township",
                "show": not zone_labels,
            }
        )
    if villages:
        layers.append(
            {
                "key": "village_names",
                "kind": "labels",
                "object": "areas",
                "label": "村名",
                "min_zoom": None if data.single_township else LABEL_ZOOM,
                "className": "village",
            }
        )
    return layers


def map_document(
    data: MapData,
    *,
    links: MapLinks | None = None,
    basemap: Basemap | None = None,
    zone_labels: bool = False,
) -> dict[str, Any]:
    """The map document: topology, layer specs, legend and dates, user text escaped.

    Parameters
    ----------
    data : MapData
        From ``map_data``.
    links : MapLinks, optional
        Where a click on a village or township goes (the standalone file has none).
    basemap : Basemap, optional
        A configured tile layer; none by default (the map needs no network).
    zone_labels : bool, default False
        Write each zone's id at a point inside it (the zones page).

    Returns
    -------
    dict
        Keys ``title, mode, unit, dates, classes, class_note, notes,
        topology, layers, basemap, bounds, legend_collapsed``; see the module
        docstring for layers.  ``geo.maps_folium.build_map`` draws it.
    """
    links = links or MapLinks()
    points = label_points(data.areas)
    area_geoms = np.asarray(data.areas.geometry.values)
    zone_props = [
        {"zone_id": display_text(z), "villages": len(v)}
        for z, v in zip(data.zones["zone_id"], data.zones["villages"], strict=True)
    ]
    topology = to_topology(
        {
            "areas": (area_geoms, [{} for _ in range(len(area_geoms))]),
            "zones": (np.asarray(data.zones.geometry.values), zone_props),
        }
    )
    props = _area_properties(data, grid_points(points, topology))
    for geometry, p in zip(topology["objects"]["areas"]["geometries"], props, strict=True):
        geometry["properties"] = p
    bounds = None
    if len(data.areas):
        minx, miny, maxx, maxy = (float(b) for b in data.areas.total_bounds)
        bounds = [[miny, minx], [maxy, maxx]]
    layers = _layers(data, links, topology, zone_labels=zone_labels)
    for spec in layers:
        spec["pane"] = f"heating-{spec['key']}"
    return {
        "title": display_text(data.title),
        "mode": data.mode,
        "unit": "村" if data.mode == "villages" else "乡镇",
        "dates": data.dates.as_json(),
        "classes": _legend_classes(data),
        "class_note": CLASS_NOTE,
        "notes": [display_text(note) for note in data.notes],
        "topology": topology,
        "layers": layers,
        "basemap": (
            {"url": basemap.url, "attribution": display_text(basemap.attribution)}
            if basemap
            else None
        ),
        "bounds": bounds,
        "legend_collapsed": zone_labels,
    }


def basemap_of(config: Config) -> Basemap | None:
    """The configured basemap, or None (the default: no tiles, no network)."""
    if not config.basemap_url:
        return None
    if any(mark in config.basemap_url for mark in ("{{", "{%", "{#")):
        # folium's output is rendered again as Jinja: such a URL would run as a template.
        raise Refused(
            "底图地址 basemap_url 含有 {{、{% 或 {#：瓦片地址模板只用单层花括号，"
            "如 http://内网瓦片/{z}/{x}/{y}.png。"
        )
    return Basemap(config.basemap_url, config.basemap_attribution or "底图")
