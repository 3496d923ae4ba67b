"""The coverage map: village polygons coloured against their own category's target.

``build_map`` reads villages, measures and the current coal-ban zones from the
database and returns a ``folium.Map`` that needs no network: Leaflet comes from
the app (``asset_url``) or, for a standalone file, is inlined into the page.

Two traps shape this module (see ../shared/pitfalls.md):

- Folium escapes nothing, and branca renders every element's output a second
  time as a Jinja template.  Every text that came from a spreadsheet, a
  boundary file or the configuration passes through ``display_text`` before
  folium sees it: HTML-escaped, and backtick, ``$``, backslash and braces
  turned into character references, so it can neither become markup nor
  JavaScript nor a Jinja expression.  User text never becomes a feature id,
  a layer name or a ``JsCode``.
- Raw village polygons are far too heavy for a page.  ``simplify_coverage``
  simplifies the villages together in a projected CRS (shared borders stay
  shared) and snaps coordinates to ~1 m.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import folium
import geopandas as gpd
import numpy as np
import shapely
from branca.element import Element, MacroElement
from folium.template import Template
from folium.utilities import JsCode
from jinja2.utils import htmlsafe_json_dumps
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.boundaries import villages_frame
from geo.crs import STORAGE_CRS, projected_crs_for
from geo.zones import current_derivation
from heating.config import Config, Profile
from heating.errors import Refused
from heating.measures import percent
from heating.models import District, Township, Zone

VENDOR_DIR = Path(__file__).resolve().parent.parent / "heating" / "static" / "vendor"
LEAFLET_DIR = "leaflet-1.9.3"

# Coverage classes: key → (label, fill colour), in legend order.
COVERAGE_CLASSES: dict[str, tuple[str, str]] = {
    "meets": ("达标", "#1a9850"),
    "near": ("接近", "#fdae61"),
    "far": ("差距较大", "#d73027"),
    "no_data": ("无数据", "#bdbdbd"),
}
NEAR_BAND = 0.10  # "within 10 percentage points below the target"
_TOLERANCE = 1e-9  # float noise of clean/required, e.g. 7/10 vs 0.8 - 0.1

PRIORITY_COLOUR = "#c51b7d"
ZONE_COLOUR = "#2166ac"
TOWNSHIP_COLOUR = "#333333"
OVERVIEW_THRESHOLD = 2000
OVERVIEW_TOLERANCE_FACTOR = 5  # township overview: 5 × the village tolerance (100 m)
GENERATED_NOTE = "边界为演示生成，非真实边界"

VILLAGE_FIELDS = [
    ("name", "村"),
    ("township", "乡镇"),
    ("category", "类别"),
    ("required", "应改户数"),
    ("clean", "已改户数"),
    ("coverage", "覆盖率"),
    ("effective", "有效覆盖率"),
    ("target", "目标"),
    ("gap", "缺口"),
]
TOWNSHIP_FIELDS = [
    ("name", "乡镇"),
    ("villages", "村数"),
    ("required", "应改户数"),
    ("clean", "已改户数"),
    ("coverage", "覆盖率"),
    ("effective", "有效覆盖率"),
    ("target", "目标（按村加权）"),
    ("gap", "缺口"),
    ("failing", "未达标村数"),
]


def coverage_class(coverage: float | None, target: float | None) -> str:
    """Classify a coverage against its target for the map colour.

    Parameters
    ----------
    coverage : float or None
        clean / required; None when required is 0 (undefined).
    target : float or None
        The target of the village's own category; None when uncategorised.

    Returns
    -------
    str
        ``"meets"`` (达标) when coverage ≥ target; ``"near"`` (接近) when it is
        at most 10 percentage points below; ``"far"`` (差距较大) further below;
        ``"no_data"`` (无数据) when coverage or target is None — without
        households or a category there is nothing to judge.

    Example
    -------
    >>> coverage_class(0.7, 0.8), coverage_class(None, 1.0)
    ('near', 'no_data')
    """
    if coverage is None or target is None:
        return "no_data"
    if coverage >= target - _TOLERANCE:
        return "meets"
    if coverage >= target - NEAR_BAND - _TOLERANCE:
        return "near"
    return "far"


def display_text(value: Any) -> str:
    """Escape a value for folium: HTML, JS template literals and Jinja all see text.

    Folium puts tooltip values into ``innerHTML`` and some strings into JS
    template literals; branca re-renders element output as Jinja.  Character
    references for ``` ` $ \\ { } ``` render as the characters themselves.
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


# --------------------------------------------------------------------------
# Reading the database
# --------------------------------------------------------------------------


def load_villages(
    session: Session, *, township_code: str | None = None, district_code: str | None = None
) -> tuple[gpd.GeoDataFrame, int]:
    """Villages with a boundary (EPSG:4490) and how many of the selection have none."""
    frame = villages_frame(session, township_code, district_code)
    has_boundary = frame.geometry.notna() & ~frame.geometry.is_empty
    return frame[has_boundary].reset_index(drop=True), int((~has_boundary).sum())


def load_zones(session: Session) -> tuple[gpd.GeoDataFrame, set[str]]:
    """The current derivation's zones (EPSG:4490) and its priority-gap village codes.

    Priority gaps are the enclaves (incomplete villages wholly surrounded by
    zone) and the incomplete villages a zone touches.
    """
    derivation = current_derivation(session)
    if derivation is None:
        empty = {"zone_id": [], "area_km2": [], "village_codes": [], "touching": [], "as_of": []}
        return gpd.GeoDataFrame(empty, geometry=[], crs=STORAGE_CRS), set()
    zones = session.scalars(
        select(Zone).where(Zone.derivation_id == derivation.id).order_by(Zone.zone_id)
    ).all()
    priority = set((derivation.summary or {}).get("enclaves") or [])
    for zone in zones:
        priority.update(zone.touching or [])
    frame = gpd.GeoDataFrame(
        {
            "zone_id": [z.zone_id for z in zones],
            "area_km2": [z.area_km2 for z in zones],
            "village_codes": [list(z.village_codes or []) for z in zones],
            "touching": [list(z.touching or []) for z in zones],
            "as_of": [derivation.as_of.isoformat() for _ in zones],
        },
        geometry=shapely.from_wkb([z.geometry for z in zones]) if zones else [],
        crs=STORAGE_CRS,
    )
    return frame, priority


def _village_measures(
    session: Session, profile: Profile, *, township_code: str | None, district_code: str | None
) -> dict[str, Any]:
    from heating.measures import coverage

    rows = coverage(
        session, profile, by="village", township_code=township_code, district_code=district_code
    )
    return {row.key: row for row in rows}


# --------------------------------------------------------------------------
# Geometry for display
# --------------------------------------------------------------------------


def simplify_coverage(frame: gpd.GeoDataFrame, tolerance: float = 20.0) -> gpd.GeoDataFrame:
    """Simplify polygons together so shared borders stay shared.

    Parameters
    ----------
    frame : GeoDataFrame
        Polygons forming a coverage (neighbouring villages), in EPSG:4490.
    tolerance : float, default 20.0
        Metres, in the Gauss–Krüger zone of the frame's centre; roughly the
        square root of the triangle areas removed (Visvalingam–Whyatt).

    Returns
    -------
    GeoDataFrame
        A copy in EPSG:4490 with simplified geometry.  Plain per-polygon
        simplification opens gaps and overlaps between neighbours; coverage
        simplification does not.  An input that is not a valid coverage
        (overlapping polygons) falls back to per-polygon simplification.
        The page then carries coordinates on a 1e-5° (~1 m) grid (``GRID``).

    Example
    -------
    >>> villages, _ = load_villages(session)  # doctest: +SKIP
    >>> small = simplify_coverage(villages, 20.0)  # doctest: +SKIP
    """
    if frame.empty:
        return frame.copy()
    minx, _, maxx, _ = frame.total_bounds
    projected = frame.to_crs(projected_crs_for((minx + maxx) / 2))
    geoms = projected.geometry.values
    simplified = shapely.coverage_simplify(np.asarray(geoms), tolerance)
    if not shapely.is_valid(simplified).all():
        simplified = shapely.simplify(np.asarray(geoms), tolerance, preserve_topology=True)
    out = frame.copy()
    out["geometry"] = gpd.GeoSeries(simplified, crs=projected.crs, index=frame.index).to_crs(
        frame.crs
    )
    return out


def dissolve_coverage(frame: gpd.GeoDataFrame, by: str) -> gpd.GeoDataFrame:
    """Union the polygons of each group (e.g. villages → townships), coverage-aware.

    ``shapely.coverage_union_all`` is several times faster than ``union_all``
    but raises on a coverage that is not exactly noded; then fall back.
    """
    parts = []
    for key, group in frame.groupby(by, sort=True):
        geoms = np.asarray(group.geometry.values)
        try:
            union = shapely.coverage_union_all(geoms)
        except shapely.errors.GEOSException:
            union = shapely.union_all(geoms)
        if not union.is_valid:
            union = shapely.union_all(shapely.make_valid(geoms))
        parts.append((key, union))
    return gpd.GeoDataFrame(
        {by: [k for k, _ in parts]}, geometry=[g for _, g in parts], crs=frame.crs
    )


GRID = 100_000  # coordinates travel as integers of 1e-5 degree (~1 m) from an origin


@dataclass(frozen=True)
class Origin:
    """The integer-coordinate origin of one map (whole degrees south-west of the data)."""

    lon: float
    lat: float

    def js(self) -> JsCode:
        """Leaflet ``coordsToLatLng``: integer offsets back to degrees."""
        return JsCode(
            f"function (c) {{ return L.latLng(c[1] / {GRID} + {self.lat!r}, "
            f"c[0] / {GRID} + {self.lon!r}); }}"
        )


def _geojson(
    frame: gpd.GeoDataFrame, properties: list[dict[str, Any]], origin: Origin
) -> dict[str, Any]:
    """A FeatureCollection with integer ids (never user text) and integer coordinates.

    "[88399,55758]" instead of "[112.88399, 36.55758]" takes a third less
    room; the layer's ``coordsToLatLng`` (``Origin.js``) converts back.
    Built from shapely's ragged arrays: no per-vertex Python parsing.
    """
    geoms = np.asarray(frame.geometry.values)
    if len(geoms) == 0:
        return {"type": "FeatureCollection", "features": []}
    shift = np.array([origin.lon, origin.lat])
    kind, coords, offsets = shapely.to_ragged_array(geoms)
    points = np.round((coords - shift) * GRID).astype(np.int64).tolist()
    nested: list[Any] = points
    for level in offsets:  # rings, then polygons, then multipolygons
        bounds = level.tolist()
        nested = [nested[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    gtype = "MultiPolygon" if kind == shapely.GeometryType.MULTIPOLYGON else "Polygon"
    features = [
        {
            "type": "Feature",
            "id": i,
            "properties": props,
            "geometry": {"type": gtype, "coordinates": part},
        }
        for i, (part, props) in enumerate(zip(nested, properties, strict=True))
    ]
    return {"type": "FeatureCollection", "features": features}


# --------------------------------------------------------------------------
# Folium elements of our own (fixed templates; data only through tojson)
# --------------------------------------------------------------------------


class _Verbatim(Element):
    """Text placed into the page as it is: no second Jinja pass over it."""

    _template = Template("{{ this.text }}")

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


class LayerData(MacroElement):
    """The features of its parent GeoJSON layer, added by a script of their own.

    Branca renders every MacroElement's output again as a Jinja template, so
    megabytes of embedded GeoJSON would be lexed twice (seconds for 3,000
    villages) and any ``{{`` in a value would run.  This element writes
    ``layer.addData(<HTML-safe compact JSON>)`` verbatim instead.
    """

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__()
        self._name = "HeatingLayerData"
        self.data = data

    def render(self, **kwargs: Any) -> None:
        payload = htmlsafe_json_dumps(self.data, separators=(",", ":"), ensure_ascii=False)
        self.get_root().script.add_child(
            _Verbatim(f"{self._parent.get_name()}.addData({payload});"), name=self.get_name()
        )


def _polygon_layer(
    data: dict[str, Any],
    origin: Origin,
    *,
    name: str,
    style: str,
    on_each_feature: JsCode | None = None,
) -> folium.GeoJson:
    """A Leaflet GeoJSON layer styled by a JS function; features come via ``LayerData``."""
    options: dict[str, Any] = {"style": JsCode(style), "coords_to_lat_lng": origin.js()}
    if on_each_feature is None:
        options["interactive"] = False
    layer = folium.GeoJson(
        {"type": "FeatureCollection", "features": []},
        name=name,
        on_each_feature=on_each_feature,
        **options,
    )
    layer.add_child(LayerData(data))
    return layer


class _MapScript(MacroElement):
    """Helpers every map needs: tooltip builder, click-to-open, layer handles.

    The field labels are constants; feature values arrive already escaped
    by ``display_text``.
    """

    _template = Template(
        """
        {% macro header(this, kwargs) %}
        <style>
          .heating-tip table { border-collapse: collapse; font-size: 13px; }
          .heating-tip th { text-align: left; padding: 1px 8px 1px 0; color: #555; font-weight: normal; }
          .heating-tip td { padding: 1px 0; }
          .heating-township-label { color: #222; font-size: 13px; font-weight: bold;
            white-space: nowrap; text-shadow: 0 0 3px #fff, 0 0 3px #fff; background: none; border: none; }
          .heating-legend { position: absolute; z-index: 1000; left: 10px; bottom: 40px;
            background: rgba(255,255,255,0.92); padding: 8px 10px; border-radius: 4px;
            box-shadow: 0 1px 4px rgba(0,0,0,0.3); font: 13px/1.5 sans-serif; max-width: 260px; }
          .heating-legend h4 { margin: 0 0 4px; font-size: 14px; }
          .heating-legend i { display: inline-block; width: 14px; height: 14px; margin-right: 6px;
            vertical-align: -2px; border: 1px solid #777; }
          .heating-legend .note { color: #a50026; margin-top: 4px; }
          .heating-legend .muted { color: #666; }
        </style>
        <script>
          function heatingTip(p, fields) {
            var h = '<table>';
            for (var i = 0; i < fields.length; i++) {
              h += '<tr><th>' + fields[i][1] + '</th><td>' + p[fields[i][0]] + '</td></tr>';
            }
            return h + '</table>';
          }
          var HEATING_STYLES = {{ this.styles|tojson }};
          function heatingStyle(feature) { return HEATING_STYLES[feature.properties.cls]; }
          function heatingZoneStyle() { return HEATING_STYLES.zone; }
          function heatingOutlineStyle() { return HEATING_STYLES.township; }
          function heatingPriorityStyle() { return HEATING_STYLES.priority; }
          function heatingOpen(url) {
            try { window.top.location.href = url; } catch (e) { window.location.href = url; }
          }
        </script>
        {% endmacro %}
        {% macro script(this, kwargs) %}
          {{ this._parent.get_name() }}.attributionControl &&
            {{ this._parent.get_name() }}.attributionControl.setPrefix(false);
          L.control.scale({imperial: false}).addTo({{ this._parent.get_name() }});
          window.heatingMap = {
            map: {{ this._parent.get_name() }},
            layers: {
            {%- for key, layer in this.layers.items() %}
              {{ key|tojson }}: {{ layer.get_name() }},
            {%- endfor %}
            }
          };
        {% endmacro %}
        """
    )

    def __init__(self, layers: Mapping[str, Any]) -> None:
        super().__init__()
        self._name = "HeatingMapScript"
        self.layers = dict(layers)
        self.styles = {key: _style_for_class(key) for key in COVERAGE_CLASSES}
        self.styles.update(
            zone={
                "color": ZONE_COLOUR,
                "weight": 2.5,
                "dashArray": "6 4",
                "fillColor": "#4393c3",
                "fillOpacity": 0.2,
            },
            township={"fill": False, "color": TOWNSHIP_COLOUR, "weight": 2},
            priority={"fill": False, "color": PRIORITY_COLOUR, "weight": 4},
        )


class _Legend(MacroElement):
    """The Chinese legend; ``legend_html`` is built from escaped parts only."""

    _template = Template(
        """
        {% macro html(this, kwargs) %}{{ this.legend_html }}{% endmacro %}
        """
    )

    def __init__(self, legend_html: str) -> None:
        super().__init__()
        self._name = "HeatingLegend"
        self.legend_html = legend_html


class _Labels(folium.map.Layer):
    """Text labels (township names) at points; ``labels`` = [[lon, lat, escaped text]]."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.layerGroup();
        {{ this.labels|tojson }}.forEach(function (t) {
          L.marker([t[1], t[0]], {
            icon: L.divIcon({className: 'heating-township-label', html: t[2], iconSize: null}),
            interactive: false, keyboard: false
          }).addTo({{ this.get_name() }});
        });
        {% endmacro %}
        """
    )

    def __init__(self, labels: list[list[Any]], name: str, show: bool = True) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "HeatingLabels"
        self.labels = labels


class _InlineAssets(MacroElement):
    """Leaflet's CSS (images as data: URIs) and JS inside the page, for files opened offline."""

    _template = Template(
        """
        {% macro header(this, kwargs) %}<style>{{ this.css }}</style>
        <script>{{ this.js }}</script>{% endmacro %}
        """
    )

    def __init__(self, css: str, js: str) -> None:
        super().__init__()
        self._name = "HeatingInlineAssets"
        self.css = css
        self.js = js


def inline_leaflet() -> tuple[str, str]:
    """Leaflet's CSS and JS, ready to inline: images as data: URIs, comments dropped."""
    base = VENDOR_DIR / LEAFLET_DIR
    css = (base / "leaflet.css").read_text(encoding="utf-8")
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)

    def data_uri(match: re.Match[str]) -> str:
        data = (base / match.group(1)).read_bytes()
        return f"url(data:image/png;base64,{base64.b64encode(data).decode('ascii')})"

    css = re.sub(r"url\((images/[\w.-]+\.png)\)", data_uri, css)
    js = (base / "leaflet.js").read_text(encoding="utf-8")
    # Neither may close its element early (neither does today; stay safe on upgrade).
    return css.replace("</", "<\\/"), js.replace("</script", "<\\/script")


# --------------------------------------------------------------------------
# Building the map
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MapSummary:
    """What the map shows, for the page around it and the CLI."""

    mode: str  # "villages" or "townships" (overview of a large deployment)
    villages: int
    without_boundary: int
    classes: dict[str, int]
    generated_boundaries: bool
    priority: int
    zones: int


def _village_properties(
    villages: gpd.GeoDataFrame,
    measures: Mapping[str, Any],
    profile: Profile,
    village_url: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    props, classes = [], []
    for row in villages.itertuples(index=False):
        m = measures.get(row.code)
        target = profile.target(row.category)
        cov = m.coverage if m is not None else None
        cls = coverage_class(cov, target)
        classes.append(cls)
        p = {
            "name": display_text(row.name),
            "township": display_text(row.township_name),
            "category": display_text(profile.label(row.category)),
            "required": _count(m.required if m else None),
            "clean": _count(m.clean if m else None),
            "coverage": percent(cov),
            "effective": percent(m.effective_coverage if m else None),
            "target": percent(target),
            "gap": _count(m.gap if m else None),
            "cls": cls,
        }
        if village_url:
            p["url"] = village_url.format(code=quote(str(row.code), safe=""))
        props.append(p)
    return props, classes


def _township_rows(
    villages: gpd.GeoDataFrame, measures: Mapping[str, Any], profile: Profile
) -> dict[str, dict[str, Any]]:
    """Township aggregates from village measures; target weighted by village requirement.

    A township mixes categories, so its target is the share of households
    needed for every village to reach its own target: Σ ceil(t·required) /
    Σ required.  The gap is the sum of village gaps.
    """
    out: dict[str, dict[str, Any]] = {}
    for row in villages.itertuples(index=False):
        agg = out.setdefault(
            row.township_code,
            {
                "name": row.township_name,
                "villages": 0,
                "required": 0,
                "clean": 0,
                "effective": 0,
                "needed": 0,
                "gap": 0,
                "failing": 0,
            },
        )
        agg["villages"] += 1
        m = measures.get(row.code)
        target = profile.target(row.category)
        if m is None:
            continue
        agg["required"] += m.required
        agg["clean"] += m.clean
        agg["effective"] += m.clean - m.lapsed
        agg["gap"] += m.gap
        if target is not None and m.required > 0:
            agg["needed"] += math.ceil(target * m.required - _TOLERANCE)
        if m.meets is False:
            agg["failing"] += 1
    for agg in out.values():
        req = agg["required"]
        agg["coverage"] = agg["clean"] / req if req > 0 else None
        agg["effective_coverage"] = agg["effective"] / req if req > 0 else None
        agg["target"] = agg["needed"] / req if req > 0 else None
    return out


def _legend_html(
    title: str, counts: Mapping[str, int], *, mode: str, generated: bool, without: int, zones: int
) -> str:
    unit = "乡镇" if mode == "townships" else "村"
    lines = [f'<div class="heating-legend"><h4>{display_text(title)}</h4>']
    lines.append('<div class="muted">按所属类别目标着色（覆盖率 = 已改户数 ÷ 应改户数）</div>')
    for key, (label, colour) in COVERAGE_CLASSES.items():
        hint = {
            "meets": "≥ 目标",
            "near": "低于目标 10 个百分点以内",
            "far": "低于目标超过 10 个百分点",
            "no_data": "无应改户数或无类别",
        }[key]
        lines.append(
            f'<div><i style="background:{colour}"></i>{label}（{hint}）：{counts.get(key, 0)} 个{unit}</div>'
        )
    if mode == "villages":
        lines.append(
            f'<div><i style="background:none;border:3px solid {PRIORITY_COLOUR}"></i>'
            "重点缺口：禁煤区内飞地或紧邻禁煤区的未完成村</div>"
        )
    lines.append(
        f'<div><i style="background:rgba(67,147,195,0.25);border:2px dashed {ZONE_COLOUR}"></i>'
        f"禁煤区（{zones} 片）</div>"
    )
    if mode == "villages":
        lines.append(
            f'<div><i style="background:none;border:2px solid {TOWNSHIP_COLOUR}"></i>乡镇界线</div>'
        )
    if mode == "townships":
        lines.append('<div class="muted">村数较多，显示乡镇汇总；点击乡镇查看其村庄。</div>')
    if without:
        lines.append(f'<div class="muted">{without} 个村暂无边界，未在图上显示。</div>')
    if generated:
        lines.append(f'<div class="note">{GENERATED_NOTE}</div>')
    lines.append("</div>")
    return "".join(lines)


def _style_for_class(cls: str) -> dict[str, Any]:
    return {
        "fillColor": COVERAGE_CLASSES.get(cls, COVERAGE_CLASSES["no_data"])[1],
        "fillOpacity": 0.75,
        "color": "#ffffff",
        "weight": 0.8,
    }


def _tooltip_js(fields: list[tuple[str, str]]) -> JsCode:
    """onEachFeature: escaped-value tooltip; click opens ``properties.url`` when set."""

    return JsCode(
        "function (feature, layer) {"
        "  var p = feature.properties;"
        f"  layer.bindTooltip(heatingTip(p, {json.dumps(fields, ensure_ascii=False)}),"
        "    {sticky: true, className: 'heating-tip'});"
        "  layer.on('mouseover', function () { layer.setStyle({weight: 2.5, color: '#000000'}); });"
        "  layer.on('mouseout', function () { layer.setStyle(heatingStyle(feature)); });"
        "  if (p.url) { layer.on('click', function () { heatingOpen(p.url); }); }"
        "}"
    )


def _points_for_labels(frame: gpd.GeoDataFrame, names: Iterable[str]) -> list[list[Any]]:
    points = shapely.point_on_surface(np.asarray(frame.geometry.values))
    return [
        [round(p.x, 5), round(p.y, 5), display_text(name)]
        for p, name in zip(points, names, strict=True)
    ]


def build_map(
    session: Session,
    config: Config,
    *,
    township_code: str | None = None,
    district_code: str | None = None,
    standalone: bool = False,
    asset_url: str = "/static/vendor",
    village_url: str | None = None,
    township_url: str | None = None,
    overview_threshold: int = OVERVIEW_THRESHOLD,
    tolerance: float = 20.0,
    title: str | None = None,
) -> tuple[folium.Map, MapSummary]:
    """Build the coverage map of the selected villages.

    Parameters
    ----------
    session : Session
        Database session.
    config : Config
        Settings: the requirement profile, ``basemap_url`` and
        ``basemap_attribution``.
    township_code, district_code : str, optional
        Limit the map to one township or district.
    standalone : bool, default False
        Inline Leaflet (CSS, images, JS) so the saved file opens with no network.
    asset_url : str, default "/static/vendor"
        Where the app serves ``heating/static/vendor`` (web pages only).
    village_url : str, optional
        URL pattern with ``{code}`` opened when a village is clicked
        (e.g. ``"/villages/{code}"``); None for no click action.
    township_url : str, optional
        Same for a township in the overview (e.g. ``"/map?township={code}"``).
    overview_threshold : int, default 2000
        Without a filter, more villages than this are shown as townships.
    tolerance : float, default 20.0
        Simplification tolerance in metres.
    title : str, optional
        Legend title; defaults to the unit shown.

    Returns
    -------
    (folium.Map, MapSummary)

    Example
    -------
    >>> m, summary = build_map(session, config, township_code="140405001")  # doctest: +SKIP
    >>> m.save("map.html")  # doctest: +SKIP
    """
    profile = config.profile
    villages, without = load_villages(
        session, township_code=township_code, district_code=district_code
    )
    measures = _village_measures(
        session, profile, township_code=township_code, district_code=district_code
    )
    zones, priority_codes = load_zones(session)
    overview = not township_code and not district_code and len(villages) > overview_threshold
    mode = "townships" if overview else "villages"
    generated = bool(villages["boundary_generated"].any()) if len(villages) else False

    m = folium.Map(
        location=[36.3, 112.9],
        zoom_start=10,
        tiles=None,
        prefer_canvas=True,
        # Fractional zoom so fit_bounds fills the frame instead of snapping a whole level out.
        zoom_snap=0.25,
    )
    if standalone:
        m.default_js, m.default_css = [], []
        css, js = inline_leaflet()
        m.add_child(_InlineAssets(css, js))
    else:
        base = asset_url.rstrip("/") + "/" + LEAFLET_DIR
        m.default_js = [("leaflet", f"{base}/leaflet.js")]
        m.default_css = [("leaflet_css", f"{base}/leaflet.css")]
    page_title = title or _default_title(session, township_code, district_code, villages)
    m.get_root().title = display_text(page_title)

    if config.basemap_url:
        if any(mark in config.basemap_url for mark in ("{{", "{%", "{#")):
            # Folium's output is rendered again as Jinja: such a URL would run as a template.
            raise Refused(
                "底图地址 basemap_url 含有 {{、{% 或 {#：瓦片地址模板只用单层花括号，"
                "如 http://内网瓦片/{z}/{x}/{y}.png。"
            )
        folium.TileLayer(
            tiles=config.basemap_url,
            attr=display_text(config.basemap_attribution or "底图"),
            name="底图",
            overlay=False,
            control=False,
            max_zoom=18,
        ).add_to(m)

    townships: gpd.GeoDataFrame | None = None
    if overview:
        # Township shapes only: dissolve the raw villages, then simplify the townships
        # (a coverage themselves) more coarsely — they are seen at district scale.
        shown = villages
        townships = simplify_coverage(
            dissolve_coverage(villages, "township_code"), tolerance * OVERVIEW_TOLERANCE_FACTOR
        )
    else:
        shown = simplify_coverage(villages, tolerance) if len(villages) else villages
        if len(shown):
            townships = dissolve_coverage(shown, "township_code")
    origin = _origin(shown if len(shown) else zones)
    township_names = names_of(shown) if len(shown) else {}
    layers: dict[str, Any] = {}
    counts: dict[str, int] = {}

    if mode == "villages":
        props, classes = _village_properties(shown, measures, profile, village_url)
        for cls in classes:
            counts[cls] = counts.get(cls, 0) + 1
        layers["villages"] = _polygon_layer(
            _geojson(shown, props, origin),
            origin,
            name="村庄覆盖率",
            style="heatingStyle",
            on_each_feature=_tooltip_js(VILLAGE_FIELDS),
        ).add_to(m)
    elif townships is not None:
        aggs = _township_rows(villages, measures, profile)
        props = []
        for code in townships["township_code"]:
            agg = aggs[code]
            cls = coverage_class(agg["coverage"], agg["target"])
            counts[cls] = counts.get(cls, 0) + 1
            p = {
                "name": display_text(township_names[code]),
                "villages": str(agg["villages"]),
                "required": str(agg["required"]),
                "clean": str(agg["clean"]),
                "coverage": percent(agg["coverage"]),
                "effective": percent(agg["effective_coverage"]),
                "target": percent(agg["target"]),
                "gap": str(agg["gap"]),
                "failing": str(agg["failing"]),
                "cls": cls,
            }
            if township_url:
                p["url"] = township_url.format(code=quote(str(code), safe=""))
            props.append(p)
        layers["townships_coverage"] = _polygon_layer(
            _geojson(townships, props, origin),
            origin,
            name="乡镇覆盖率",
            style="heatingStyle",
            on_each_feature=_tooltip_js(TOWNSHIP_FIELDS),
        ).add_to(m)

    if townships is not None and mode == "villages":  # the overview's shapes have outlines
        layers["townships"] = _polygon_layer(
            _geojson(townships, [{} for _ in range(len(townships))], origin),
            origin,
            name="乡镇界线",
            style="heatingOutlineStyle",
        ).add_to(m)

    if len(zones) and len(shown):
        minx, miny, maxx, maxy = shown.total_bounds
        zones = zones[zones.intersects(shapely.box(minx, miny, maxx, maxy))]
    if len(zones):
        zones_shown = simplify_coverage(zones, tolerance)
        layers["zones"] = _polygon_layer(
            _geojson(zones_shown, [{} for _ in range(len(zones_shown))], origin),
            origin,
            name="禁煤区",
            style="heatingZoneStyle",
        ).add_to(m)

    priority_count = 0
    if mode == "villages" and priority_codes:
        hot = shown[shown["code"].isin(priority_codes)]
        priority_count = len(hot)
        if priority_count:
            layers["priority"] = _polygon_layer(
                _geojson(hot, [{} for _ in range(priority_count)], origin),
                origin,
                name="重点缺口（飞地/紧邻禁煤区）",
                style="heatingPriorityStyle",
            ).add_to(m)

    if townships is not None:
        layers["labels"] = _Labels(
            _points_for_labels(
                townships, [township_names.get(c, c) for c in townships["township_code"]]
            ),
            name="乡镇名称",
        ).add_to(m)

    if len(shown):
        minx, miny, maxx, maxy = shown.total_bounds
        # Keep the western villages clear of the legend in the bottom-left corner.
        m.fit_bounds(
            [[miny, minx], [maxy, maxx]], padding_top_left=(290, 10), padding_bottom_right=(10, 10)
        )
    m.add_child(
        _Legend(
            _legend_html(
                page_title,
                counts,
                mode=mode,
                generated=generated,
                without=without,
                zones=len(zones),
            )
        )
    )
    folium.LayerControl(collapsed=False).add_to(m)
    m.add_child(_MapScript(layers))
    summary = MapSummary(
        mode=mode,
        villages=len(villages),
        without_boundary=without,
        classes=counts,
        generated_boundaries=generated,
        priority=priority_count,
        zones=len(zones),
    )
    return m, summary


def _origin(frame: gpd.GeoDataFrame) -> Origin:
    if frame.empty:
        return Origin(0.0, 0.0)
    minx, miny, _, _ = frame.total_bounds
    return Origin(float(math.floor(minx)), float(math.floor(miny)))


def names_of(villages: gpd.GeoDataFrame) -> dict[str, str]:
    """Township code → township name from a village frame."""
    return dict(zip(villages["township_code"], villages["township_name"], strict=False))


def _default_title(
    session: Session,
    township_code: str | None,
    district_code: str | None,
    villages: gpd.GeoDataFrame,
) -> str:
    if township_code:
        name = session.scalar(select(Township.name).where(Township.code == township_code))
        return f"{name or township_code} 清洁取暖覆盖率"
    if district_code:
        name = session.scalar(select(District.name).where(District.code == district_code))
        return f"{name or district_code} 清洁取暖覆盖率"
    names = session.scalars(select(District.name).order_by(District.code)).all()
    return f"{'、'.join(names[:3]) or '全部村庄'} 清洁取暖覆盖率"


def render_html(m: folium.Map) -> str:
    """The whole HTML page of a map."""
    return m.get_root().render()
