"""The coverage map document: what the map shows, as one JSON-ready dict.

``map_document(data, links=…, basemap=…)`` turns prepared ``MapData``
(``geo.maps``) into the document ``geo.maps_folium.build_map`` draws: one
TopoJSON topology of the coloured areas and the zones (shared borders written
once, ``geo.topojson``), the legend (classes with counts, both dates, notes)
and the layer specs in drawing order.  See ``geo.maps`` for escaping and for
how to add a layer.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from geo.display import label_points
from geo.map_points import boiler_layer, heat_source_layer
from geo.maps import MapData
from geo.topojson import grid_points, to_topology
from heating.config import Config
from heating.coverage_classes import COVERAGE_CLASSES, OVERLAY_STYLES
from heating.errors import Refused

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
    "疑似改而不用",
    "核验后有效覆盖率",
    "按面积清洁取暖率",
    "热源核查",
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
    "疑似改而不用",
    "核验后有效覆盖率",
    "按面积清洁取暖率",
    "热源核查",
)
CLASS_NOTE = "按所属类别目标着色（覆盖率 = 已改户数 ÷ 应改户数）"
PRIORITY_HINT = "今日尚未全部改造完成（可能已达标）、与最新禁煤区相接或被其包围的村"


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
            "tip": [display_text(value) for value in row.tip],
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
    for build, frame in ((heat_source_layer, data.heat_sources), (boiler_layer, data.boilers)):
        spec = build(frame, topology) if frame is not None else None
        if spec is not None:
            for point in spec["points"]:
                point[2]["tip"] = [display_text(value) for value in point[2]["tip"]]
            layers.append(spec)
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
        topology, layers, basemap, bounds, legend_collapsed, search_villages,
        found_styles`` (``search_villages``: the villages the township overview's
        search box finds, each ``[code, name, township code]``; ``found_styles``:
        the outline of what it found); see the module
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
        # The overview's search finds villages too: [code, name, township code] each.
        "search_villages": [
            [display_text(code), display_text(name), display_text(township)]
            for code, name, township in (data.village_index or [])
        ],
        "found_styles": [OVERLAY_STYLES["found_halo"], OVERLAY_STYLES["found"]],
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
