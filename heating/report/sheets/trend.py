"""历年趋势: coverage by category at each year's cut-off, with a line chart.

The earlier years are ``heating.trend.coverage_trend`` with the report's
known-at time; the last row is the report's own cut-off, the same rows as
总体情况 (``heating.report.reconcile`` checks it).
"""

from __future__ import annotations

from typing import Any

from openpyxl.chart import LineChart, Reference
from openpyxl.chart.series import SeriesLabel
from openpyxl.worksheet.worksheet import Worksheet

from heating.coverage_classes import series_colour
from heating.measures import TOTAL_KEY
from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table

PER_CATEGORY = ("应改造", "已完成", "覆盖率")


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """One row per year (the report's cut-off last); required, clean, coverage per category."""
    categories = [(r.key, r.name) for r in s.categories]
    columns = [Column("年度", "int"), Column("截止日", "date")]
    for _, name in categories:
        columns += [
            Column("应改造", "int", group=name),
            Column("已完成", "int", group=name),
            Column("覆盖率", "pct", group=name),
        ]
    rows = []
    for point in s.trend:
        values: list[Any] = [point.year, point.as_of]
        for key, _ in categories:
            r = point.row(key)
            values += [r.required, r.clean, r.coverage] if r else [None, None, None]
        rows.append(Row(values))
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}清洁取暖覆盖率历年趋势（按区域类别）",
            columns,
            rows,
            subtitle=(
                f"每年取当年截止日（{s.as_of:%m-%d}）的台账，只计入已知时点以前记录的数据；"
                f"最后一行即本报告截止日 {s.as_of:%Y-%m-%d}，与总体情况相同"
            ),
            notes=(
                "只列有台账数据的年度：从最早的台账日期所在年度起。覆盖率为“—”表示该年该类别没有应改造户。",
            ),
            empty_text="没有台账数据。",
        ),
    )
    if len(rows) < 2:
        return
    chart = LineChart()
    chart.title = "覆盖率（按区域类别）"
    chart.y_axis.title = "覆盖率"
    chart.y_axis.number_format = "0%"
    chart.y_axis.scaling.min = 0
    chart.y_axis.scaling.max = 1
    chart.x_axis.title = "年度"
    chart.height, chart.width = 9, 22
    first, last = placed.data_first, placed.data_first + len(rows) - 1
    for i, (key, name) in enumerate(categories):
        col = 3 + 3 * i + 2  # the category's 覆盖率 column
        data = Reference(ws, min_col=col, min_row=first, max_row=last)
        chart.add_data(data, titles_from_data=False)
        chart.series[-1].tx = SeriesLabel(v=name)
        # The same line colour as the web trend chart (heating.coverage_classes).
        line = chart.series[-1].graphicalProperties.line
        line.solidFill = series_colour(i, total=key == TOTAL_KEY)[1:]
        line.width = 28575 if key == TOTAL_KEY else 19050  # EMU: 2.25 pt / 1.5 pt
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    ws.add_chart(chart, f"A{placed.last_row + 3}")
