"""Coverage classes and the colours of the tracker: one visual language everywhere.

A village (or township) is judged against its own category's target and falls
in one of four classes — 达标, 接近, 差距较大, 无数据 — defined once here
(``coverage_class``).  The same class carries the same colour on the web map,
the standalone map file, the report's map picture, the zones page and the
pages' badges: the map reads ``COVERAGE_CLASSES`` through its data document,
the report picture through ``colour_of``, and the pages through the stylesheet
``palette_css`` writes (served at ``/palette.css``), whose ``--ok``/``--warn``/
``--bad``/``--none`` tones are the classes' colours.

Overlays drawn over the classes (coal-ban zones, priority gaps, township
borders) have their styles here too, so every picture of a zone looks alike.
Chart lines (categories over the years) take ``series_colour``, chosen away
from the class hues, and targets ``target_line_colour``.
The colours are ColorBrewer's RdYlGn ends (readable by most colour-blind
readers next to the grey of 无数据).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

NEAR_BAND = 0.10  # "within 10 percentage points below the target"
_TOLERANCE = 1e-9  # float noise of clean/required, e.g. 7/10 vs 0.8 - 0.1


@dataclass(frozen=True)
class CoverageClass:
    """One class of the legend: its key, Chinese label, what it means, its fill colour."""

    key: str
    label: str
    hint: str
    colour: str


COVERAGE_CLASSES: tuple[CoverageClass, ...] = (
    CoverageClass("meets", "达标", "≥ 所属类别目标", "#1a9850"),
    CoverageClass("near", "接近", "低于目标 10 个百分点以内", "#fdae61"),
    CoverageClass("far", "差距较大", "低于目标 10 个百分点以上", "#d73027"),
    CoverageClass("no_data", "无数据", "无应改户数或无类别", "#bdbdbd"),
)
CLASS_KEYS: tuple[str, ...] = tuple(c.key for c in COVERAGE_CLASSES)
_BY_KEY = {c.key: c for c in COVERAGE_CLASSES}

# Overlays: line styles in Leaflet's option names (the report picture maps them to matplotlib).
ZONE_COLOUR = "#08306b"  # dark blue: stays visible over green, orange, red and grey fills
PRIORITY_COLOUR = "#c51b7d"
TOWNSHIP_COLOUR = "#333333"
OVERLAY_STYLES: dict[str, dict[str, object]] = {
    # Zones are drawn last, as a white halo under a dashed dark line, never as a fill:
    # a tint would turn the class colours into colours the legend does not have.
    "zone_halo": {"color": "#ffffff", "weight": 5, "opacity": 0.9, "fill": False},
    "zone": {"color": ZONE_COLOUR, "weight": 2.5, "dashArray": "7 5", "fill": False},
    "priority": {"color": PRIORITY_COLOUR, "weight": 3, "fill": False},
    "township": {"color": TOWNSHIP_COLOUR, "weight": 1.6, "fill": False},
    "village_edge": {"color": "#ffffff", "weight": 0.8, "fillOpacity": 0.8},
    "hover": {"color": "#000000", "weight": 2.5},
    # A village found by the map's search: a cyan line on a dark halo, above everything.
    "found_halo": {"color": "#000000", "weight": 7, "opacity": 0.8, "fill": False},
    "found": {"color": "#00e5ff", "weight": 3.5, "opacity": 1, "fill": False},
}
GENERATED_NOTE = "边界为演示生成，非真实边界"

# Point layers (heat sources, coal boilers): circle markers in Leaflet's option names.
# Heat sources are larger, with a dark rim; the fill says the type.  A non-compliant
# source gets the red rim; a coal boiler still burning inside a zone is larger with it.
ALERT_COLOUR = "#d7191c"
HEAT_SOURCE_FILLS = {
    "chp": "#2c7bb6",
    "waste_heat": "#8c510a",
    "gas_boiler": "#41b6c4",
    "electric_boiler": "#fee08b",
    "biomass": "#66bd63",
    "geothermal": "#9e0142",
    "other": "#969696",
}
HEAT_SOURCE_STYLE = {"radius": 8, "color": "#222222", "weight": 1.5, "fillOpacity": 0.95}
BOILER_FILLS = {
    "in_use": "#000000",
    "idle": "#f46d43",
    "flue_cut": "#fdae61",
    "standby": "#fee090",
    "removed": "#ffffff",
    "deregistered": "#e0e0e0",
    "converted": "#a6d96a",
    "unknown": "#762a83",
}
BOILER_STYLE = {"radius": 5, "color": "#333333", "weight": 1, "fillOpacity": 0.95}
POINT_ALERT = {"color": ALERT_COLOUR, "weight": 3.5}
BOILER_IN_ZONE = {"radius": 8, "color": ALERT_COLOUR, "weight": 3.5}

# Chart lines, one per category in profile order (the web trend chart and the report's
# 历年趋势 chart alike), the total dark and thicker: hues kept away from the classes' green,
# orange, red and grey and from the priority magenta, so no line reads as a status.
SERIES_COLOURS = ("#1f77b4", "#7570b3", "#8c6d31", "#17becf", "#6a3d9a", "#969696")
TOTAL_SERIES_COLOUR = "#222222"


def series_colour(index: int, total: bool = False) -> str:
    """The colour of a chart's ``index``-th category line (or of the total)."""
    return TOTAL_SERIES_COLOUR if total else SERIES_COLOURS[index % len(SERIES_COLOURS)]


# Status tones of badges and messages, taken from the classes so a green badge means 达标.
TONES = {"ok": "meets", "warn": "near", "bad": "far", "none": "no_data"}


def coverage_class(coverage: float | None, target: float | None) -> str:
    """Classify a coverage against its target.

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


def class_of(key: str) -> CoverageClass:
    """The class ``key`` names (``no_data`` for an unknown key)."""
    return _BY_KEY.get(key, _BY_KEY["no_data"])


def colour_of(key: str) -> str:
    """The fill colour of class ``key``."""
    return class_of(key).colour


def _mix(colour: str, other: str, share: float) -> str:
    """``colour`` moved ``share`` of the way towards ``other`` (both #rrggbb)."""
    a = [int(colour[i : i + 2], 16) for i in (1, 3, 5)]
    b = [int(other[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * share):02x}" for x, y in zip(a, b, strict=True))


def tint(colour: str) -> str:
    """A light background of ``colour`` for badges (dark text stays readable on it)."""
    return _mix(colour, "#ffffff", 0.8)


def ink(colour: str) -> str:
    """A dark text colour of ``colour`` (contrast ≥ 4.5:1 on its tint and on white)."""
    return _mix(colour, "#000000", 0.5 if colour != colour_of("near") else 0.6)


def target_line_colour() -> str:
    """Targets drawn as dashed lines in charts: the dark tone of 接近 (the warn tone)."""
    return ink(colour_of("near"))


@cache
def palette_css() -> str:
    """The stylesheet of the classes and tones for the pages (served at /palette.css)."""
    lines = [":root {"]
    for c in COVERAGE_CLASSES:
        lines.append(f"  --class-{c.key}: {c.colour}; --class-{c.key}-ink: {ink(c.colour)};")
    for tone, key in TONES.items():
        lines.append(f"  --{tone}: {ink(colour_of(key))};")
    lines.append(f"  --zone: {ZONE_COLOUR}; --priority: {PRIORITY_COLOUR};")
    lines.append("}")
    for c in COVERAGE_CLASSES:
        lines.append(
            f".badge.class-{c.key} {{ background: {tint(c.colour)}; color: {ink(c.colour)}; }}"
        )
    for tone, key in TONES.items():
        colour = colour_of(key)
        lines.append(f".badge.badge-{tone} {{ background: {tint(colour)}; color: {ink(colour)}; }}")
    lines.append(
        ".swatch { display: inline-block; width: 1em; height: 1em; vertical-align: -.15em;"
        " border: 1px solid #777; margin-right: .3em; }"
    )
    for c in COVERAGE_CLASSES:
        lines.append(f".swatch.class-{c.key} {{ background: {c.colour}; }}")
    return "\n".join(lines) + "\n"
