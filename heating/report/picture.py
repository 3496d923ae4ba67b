"""The coverage map picture of the report: villages coloured as on the web map.

Drawn with matplotlib (Agg, no display) in the district's Gauss–Krüger
projection so shapes are true.  Colours and classes are the web map's
(``heating.coverage_classes``).  Chinese text needs a CJK font that exists on
a fresh machine: the ``noto-cjk-sans-otc`` dependency ships Noto Sans CJK
(SIL OFL 1.1), whose Simplified Chinese face we register with matplotlib.
"""

from __future__ import annotations

import io
import math
from functools import cache
from typing import Any

import geopandas as gpd
import matplotlib
import numpy as np
import shapely
from matplotlib.figure import Figure
from matplotlib.font_manager import fontManager
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from sqlalchemy import select
from sqlalchemy.orm import Session

from geo.crs import STORAGE_CRS, projected_crs_for
from geo.display import dissolve
from geo.villages import villages_frame
from heating.coverage_classes import (
    COVERAGE_CLASSES,
    GENERATED_NOTE,
    PRIORITY_COLOUR,
    TOWNSHIP_COLOUR,
    ZONE_COLOUR,
    colour_of,
    coverage_class,
)
from heating.models import Zone
from heating.report import report_mark
from heating.report.snapshot import Snapshot

CJK_FAMILY = "Noto Sans CJK SC"
FIG_SIZE = (12.0, 7.2)  # inches
DPI = 110
MAX_TOWNSHIP_LABELS = 60


@cache
def cjk_font_family() -> str:
    """Register the packaged Noto Sans CJK collection once; return the family to use.

    matplotlib ≥ 3.11 registers every face of the collection, so the
    Simplified Chinese one is chosen by name; older versions see only the
    first face (JP), whose glyphs still cover Chinese text.
    """
    from noto_cjk_sans_otc import FONT_PATH

    fontManager.addfont(str(FONT_PATH))
    names = {entry.name for entry in fontManager.ttflist}
    if CJK_FAMILY in names:
        return CJK_FAMILY
    return next(n for n in sorted(names) if n.startswith("Noto Sans CJK"))


def _rc() -> dict[str, Any]:
    return {
        "font.family": [cjk_font_family(), "DejaVu Sans"],
        "axes.unicode_minus": False,
        "svg.fonttype": "none",
    }


def _zones_frame(session: Session, snapshot: Snapshot) -> gpd.GeoDataFrame:
    """The report's derivation's zones (those with villages in this district)."""
    if snapshot.zones is None:
        return gpd.GeoDataFrame({"zone_id": []}, geometry=[], crs=STORAGE_CRS)
    wanted = {z.zone_id for z in snapshot.zones.zones}
    zones = [
        z
        for z in session.scalars(
            select(Zone)
            .where(Zone.derivation_id == snapshot.zones.derivation_id)
            .order_by(Zone.zone_id)
        )
        if z.zone_id in wanted
    ]
    return gpd.GeoDataFrame(
        {"zone_id": [z.zone_id for z in zones]},
        geometry=shapely.from_wkb([z.geometry for z in zones]) if zones else [],
        crs=STORAGE_CRS,
    )


def village_classes(snapshot: Snapshot, codes: list[str]) -> list[str]:
    """The coverage class each village is coloured by; villages withheld by an
    approved-only report are 无数据, as the sheets show them "—"."""
    rows = {v.row.key: v.row for v in snapshot.villages if not v.withheld}
    return [
        coverage_class(rows[c].coverage, rows[c].target) if c in rows else "no_data" for c in codes
    ]


def coverage_map_png(session: Session, snapshot: Snapshot) -> bytes | None:
    """The district's coverage map as PNG bytes; None when no village has a boundary."""
    with matplotlib.rc_context(_rc()):
        fig = coverage_map_figure(session, snapshot)
        if fig is None:
            return None
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=DPI, facecolor="white")
    return buffer.getvalue()


def coverage_map_figure(session: Session, snapshot: Snapshot) -> Figure | None:
    """The map as a matplotlib figure (scale bar, north arrow, legend); None without boundaries."""
    frame = villages_frame(session, district_code=snapshot.district_code, boundaries_only=True)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if frame.empty:
        return None
    classes = village_classes(snapshot, list(frame["code"]))
    frame = frame.assign(cls=classes)
    lon = float(np.mean(frame.total_bounds[[0, 2]]))
    crs = projected_crs_for(lon)
    projected = frame.to_crs(crs)
    zones = _zones_frame(session, snapshot).to_crs(crs)
    enclaves = {code for code, _ in snapshot.zones.enclaves} if snapshot.zones else set()

    with matplotlib.rc_context(_rc()):
        fig = Figure(figsize=FIG_SIZE, dpi=DPI)
        ax = fig.add_axes((0.01, 0.02, 0.64, 0.88))
        colours = [colour_of(c) for c in projected["cls"]]
        projected.plot(ax=ax, color=colours, edgecolor="#ffffff", linewidth=0.3)
        dissolve(projected, "township_code").boundary.plot(
            ax=ax, color=TOWNSHIP_COLOUR, linewidth=0.9
        )
        if not zones.empty:
            zones.boundary.plot(ax=ax, color=ZONE_COLOUR, linewidth=1.6, linestyle="--")
        priority = projected[projected["code"].isin(enclaves)]
        if not priority.empty:
            priority.boundary.plot(ax=ax, color=PRIORITY_COLOUR, linewidth=1.8)
        _label_townships(ax, projected)
        ax.set_axis_off()
        ax.set_aspect("equal")
        add_scale_bar(ax)
        add_north_arrow(ax)
        fig.suptitle(
            f"{snapshot.district_name}{snapshot.year}年度清洁取暖覆盖率（截至 {snapshot.as_of:%Y-%m-%d}）"
            + (f"\n{report_mark(snapshot)}" if report_mark(snapshot) else ""),
            fontsize=15,
            parse_math=False,
        )
        counts = {c.key: classes.count(c.key) for c in COVERAGE_CLASSES}
        _legend(fig, counts, zones=len(zones), enclaves=len(priority))
        notes = []
        missing = len(snapshot.villages) - len(frame)
        if missing > 0:
            notes.append(f"{missing} 个村暂无边界，未在图上显示。")
        withheld = sum(1 for v in snapshot.villages if v.withheld)
        if withheld:
            notes.append(f"{withheld} 个村所属乡镇未审核，按无数据显示。")
        if bool(frame["boundary_generated"].any()):
            notes.append(GENERATED_NOTE + "。")
        if notes:
            fig.text(0.67, 0.06, "\n".join(notes), fontsize=9, color="#a50026", parse_math=False)
    return fig


def scale_length(span_m: float) -> float:
    """A round bar length (1, 2 or 5 × 10^k metres) near a fifth of the map's width."""
    wanted = span_m / 5
    if wanted <= 0:
        return 0.0
    power = 10 ** math.floor(math.log10(wanted))
    return max(step * power for step in (1, 2, 5) if step * power <= wanted)


def add_scale_bar(ax: Any) -> None:
    """A two-segment scale bar in the lower left: the axes are in metres (Gauss–Krüger)."""
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    length = scale_length(x1 - x0)
    if not length:
        return
    left, bottom = x0 + (x1 - x0) * 0.04, y0 + (y1 - y0) * 0.04
    height = (y1 - y0) * 0.012
    for i, colour in enumerate(("#111111", "#ffffff")):
        ax.add_patch(
            Rectangle(
                (left + i * length / 2, bottom),
                length / 2,
                height,
                facecolor=colour,
                edgecolor="#111111",
                linewidth=0.8,
                zorder=5,
            )
        )
    label = f"{length / 1000:g} 千米" if length >= 1000 else f"{length:g} 米"
    for x, text in ((left, "0"), (left + length, label)):
        ax.text(x, bottom + height * 1.6, text, ha="center", va="bottom", fontsize=8,
                parse_math=False, zorder=5)  # fmt: skip


def add_north_arrow(ax: Any) -> None:
    """An arrow pointing up, marked 北, in the upper right (grid north of the projection)."""
    ax.annotate(
        "北",
        xy=(0.95, 0.97),
        xytext=(0.95, 0.86),
        xycoords="axes fraction",
        textcoords="axes fraction",
        ha="center",
        va="center",
        # The packaged Noto Sans CJK collection has no bold face: asking for one makes
        # matplotlib print "Failed to find font weight bold" on every report.
        fontsize=12,
        arrowprops={"facecolor": "#111111", "edgecolor": "#111111", "width": 3, "headwidth": 10},
        annotation_clip=False,
        zorder=5,
    )


def _label_townships(ax: Any, projected: gpd.GeoDataFrame) -> None:
    """Township names at a point inside each township (skipped when there are too many)."""
    names = projected.groupby("township_code")["township_name"].first()
    if len(names) > MAX_TOWNSHIP_LABELS:
        return
    for code, name in names.items():
        part = projected[projected["township_code"] == code]
        point = shapely.union_all(part.geometry.values).representative_point()
        ax.text(
            point.x,
            point.y,
            str(name),
            ha="center",
            va="center",
            fontsize=9,
            color="#111111",
            parse_math=False,
            bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.6},
        )


def _legend(fig: Figure, counts: dict[str, int], *, zones: int, enclaves: int) -> None:
    handles: list[Any] = [
        Patch(
            facecolor=c.colour,
            edgecolor="#888888",
            label=f"{c.label}（{c.hint}）：{counts[c.key]} 个村",
        )
        for c in COVERAGE_CLASSES
    ]
    handles.append(
        Line2D(
            [], [], color=ZONE_COLOUR, linestyle="--", linewidth=1.6, label=f"禁煤区（{zones} 片）"
        )
    )
    if enclaves:
        handles.append(
            Line2D(
                [],
                [],
                color=PRIORITY_COLOUR,
                linewidth=1.8,
                label=f"禁煤区内飞地（{enclaves} 个村）",
            )
        )
    handles.append(Line2D([], [], color=TOWNSHIP_COLOUR, linewidth=0.9, label="乡镇界线"))
    fig.legend(
        handles=handles,
        loc="upper left",
        bbox_to_anchor=(0.66, 0.86),
        title="图例（覆盖率 = 已完成户数 ÷ 应改造户数）",
        fontsize=9,
        title_fontsize=9,
        frameon=False,
    )
