"""历年趋势: coverage by category at each year's cut-off, as a server-drawn SVG and a table.

No chart library: the SVG's coordinates are computed here and written by the
template (``templates/trend/_chart.html``), so the page works offline and
prints.  A clerk sees its own township's trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from heating.coverage_classes import series_colour, target_line_colour
from heating.measures import TOTAL_KEY
from heating.profile import Profile
from heating.report.workbook import Column
from heating.trend import TrendPoint, coverage_trend
from heating.web.access import request_scope
from heating.web.db import app_config, db
from heating.web.exports import wants_xlsx, xlsx_download

bp = Blueprint("trend", __name__, url_prefix="/trend")

WIDTH, HEIGHT = 680, 260
LEFT, RIGHT, TOP, BOTTOM = 48, 16, 14, 32


@dataclass(frozen=True)
class Series:
    """One category's line: its colour and (x, y, label) points; None breaks the line."""

    key: str
    name: str
    colour: str
    segments: list[list[tuple[float, float, str]]]


def chart(points: list[TrendPoint], profile: Profile) -> dict[str, Any]:
    """The SVG geometry: x per year, y per coverage (0–100%), one series per category."""
    span = max(1, len(points) - 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / span if len(points) > 1 else plot_w / 2)

    def y(value: float) -> float:
        return TOP + plot_h * (1 - value)

    keys = [r.key for r in points[-1].rows] if points else []
    series = []
    for n, key in enumerate(keys):
        colour = series_colour(n, total=key == TOTAL_KEY)  # heating.coverage_classes
        segments: list[list[tuple[float, float, str]]] = [[]]
        name = key
        for i, point in enumerate(points):
            row = point.row(key)
            if row is None or row.coverage is None:
                if segments[-1]:
                    segments.append([])
                continue
            name = row.name
            label = (
                f"{point.year}年 {row.name}：{row.coverage:.1%}（{row.clean:,}/{row.required:,}）"
            )
            segments[-1].append((round(x(i), 1), round(y(row.coverage), 1), label))
        segments = [s for s in segments if s]
        if segments:
            series.append(Series(key, name, colour, segments))
    return {
        "series": series,
        "years": [(round(x(i), 1), p.year) for i, p in enumerate(points)],
        "ticks": [(round(y(v / 100), 1), f"{v}%") for v in range(0, 101, 20)],
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "right": WIDTH - RIGHT,
        "bottom": HEIGHT - BOTTOM,
        "target_colour": target_line_colour(),
        "targets": [
            (round(y(c.target), 1), f"{c.name}目标 {c.target:.0%}")
            for c in profile.categories
            if c.target < 1
        ],
    }


def trend_points() -> list[TrendPoint]:
    """The trend for the user's scope (a clerk: its township; a district's users: it)."""
    config = app_config()
    scope = request_scope(township="")
    return coverage_trend(db(), config.profile, config.report_cutoff, **scope.kwargs)


@bp.route("")
@login_required
def index() -> ResponseReturnValue:
    """Coverage by category at each year's cut-off: chart, table, Excel."""
    points = trend_points()
    if wants_xlsx():
        return export(points)
    return render_template(
        "trend/index.html",
        points=points,
        chart=chart(points, app_config().profile),
        cutoff=app_config().report_cutoff,
    )


@bp.route("/chart.svg")
@login_required
def svg() -> ResponseReturnValue:
    """The chart alone as an SVG file (the dashboard shows it as an image, loaded after the page)."""
    body = render_template("trend/_chart.svg", chart=chart(trend_points(), app_config().profile))
    return Response(body, mimetype="image/svg+xml", headers={"Cache-Control": "private, no-cache"})


def export(points: list[TrendPoint]) -> Any:
    """The table as .xlsx: year, cut-off, then required / clean / coverage per category."""
    names = [(r.key, r.name) for r in points[-1].rows] if points else []
    columns = [Column("年度", "int"), Column("截止日", "date")]
    for _, name in names:
        columns += [
            Column("应改造", "int", group=name),
            Column("已完成", "int", group=name),
            Column("覆盖率", "pct", group=name),
        ]
    rows = []
    for p in points:
        values: list[Any] = [p.year, p.as_of]
        for key, _ in names:
            r = p.row(key)
            values += [r.required, r.clean, r.coverage] if r else [None, None, None]
        rows.append(values)
    return xlsx_download(
        "清洁取暖覆盖率历年趋势（按区域类别）",
        columns,
        rows,
        file_stem="清洁取暖覆盖率历年趋势",
        subtitle=f"每年取截止日（{app_config().report_cutoff}）的台账",
    )
