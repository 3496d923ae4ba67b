"""年度对比: each township at this year's as-of date against last year's cut-off."""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating.measures import TOTAL_KEY
from heating.report.snapshot import Snapshot
from heating.report.workbook import UNDEFINED, Column, Row, Table, write_table


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Required, clean and coverage at both dates; clean added and coverage change."""
    before = f"上年（截至 {s.previous_as_of:%Y-%m-%d}）"
    now = f"本年（截至 {s.as_of:%Y-%m-%d}）"
    columns = [
        Column("乡镇代码"),
        Column("乡镇名称"),
        Column("应改造", "int", group=before),
        Column("已完成", "int", group=before),
        Column("覆盖率", "pct", group=before),
        Column("有效覆盖率", "pct", group=before),
        Column("应改造", "int", group=now),
        Column("已完成", "int", group=now),
        Column("覆盖率", "pct", group=now),
        Column("有效覆盖率", "pct", group=now),
        Column("新增完成户数", "int_change", group="变化"),
        Column("覆盖率变化", "pct_change", group="变化"),
    ]
    rows = []
    for c in s.comparison:
        total = c.key == TOTAL_KEY
        if not total and s.signoff is not None and s.signoff.withheld(c.key):
            rows.append(Row([c.key, c.name, *[UNDEFINED] * (len(columns) - 2)]))
            continue
        rows.append(
            Row(
                [
                    "" if total else c.key,
                    c.name,
                    c.previous.required,
                    c.previous.clean,
                    c.previous.coverage,
                    c.previous.effective_coverage,
                    c.current.required,
                    c.current.clean,
                    c.current.coverage,
                    c.current.effective_coverage,
                    c.clean_added,
                    c.coverage_change,
                ],
                total=total,
            )
        )
    write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度与上一年度对比（分乡镇）",
            columns,
            rows,
            subtitle=f"{s.district_name} · 两个截止日的数据均按当日记录的台账计算",
            notes=(
                "新增完成户数 = 本年已完成 − 上年已完成（负数表示有户回退或被回滚）；"
                "覆盖率变化以百分点计；任一年应改造为 0 时显示“—”。",
                *(
                    (f"{s.signoff.count_label}：未审核乡镇显示为“—”，合计只含已审核乡镇。",)
                    if s.signoff is not None and s.signoff.approved_only
                    else ()
                ),
            ),
        ),
    )
