"""禁煤区: the zones in force at the as-of date and what changed since last year."""

from __future__ import annotations

from collections.abc import Iterable

from openpyxl.worksheet.worksheet import Worksheet

from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Zones of the newest derivation as of the date, then changes against last year's."""
    title = f"{s.district_name}{s.year}年度禁煤区"
    columns = [
        Column("禁煤区编号"),
        Column("村数", "int"),
        Column("包含村庄", width=60, wrap=True),
        Column("面积（平方公里）", "area"),
        Column("应改造", "int", group="户数"),
        Column("已完成", "int", group="户数"),
        Column("相邻未完成村", width=40, wrap=True),
        Column("与上年相比"),
    ]
    z = s.zones
    if z is None:
        write_table(
            ws,
            Table(
                title,
                columns,
                [],
                subtitle=f"数据截至 {s.as_of:%Y-%m-%d}",
                empty_text="截止日前尚未派生禁煤区（管理员可运行 heating zones derive --as-of 截止日）。",
            ),
        )
        return
    rows = [
        Row(
            [
                line.zone_id,
                len(line.villages),
                "、".join(name for _, name in line.villages),
                line.area_km2,
                line.required,
                line.clean,
                "、".join(name for _, name in line.touching),
                line.change or "—",
            ]
        )
        for line in z.zones
    ]
    rows.append(
        Row(
            [
                "合计",
                sum(len(line.villages) for line in z.zones),
                "",
                z.area_km2,
                _total(line.required for line in z.zones),
                _total(line.clean for line in z.zones),
                "",
                "",
            ],
            total=True,
        )
    )
    previous = (
        f"与 {z.previous_as_of:%Y-%m-%d} 的派生（第 {z.previous_id} 次）相比"
        if z.previous_id
        else "上一年度截止日前没有派生记录，无法比较变化"
    )
    notes = [
        f"禁煤区取自截止日前最近一次派生：第 {z.derivation_id} 次，派生截至 {z.derived_as_of:%Y-%m-%d}"
        f"（{z.derived_at:%Y-%m-%d %H:%M} UTC 生成）；{previous}。",
        "户数按本报告截止日统计。面积按 CGCS2000 高斯–克吕格投影计算。",
    ]
    if z.enclaves:
        notes.append(
            f"禁煤区内飞地（被禁煤区包围的未完成村，优先改造）：{'、'.join(n for _, n in z.enclaves)}。"
        )
    placed = write_table(
        ws,
        Table(title, columns, rows, subtitle=f"数据截至 {s.as_of:%Y-%m-%d}", notes=notes),
    )
    change_rows = [Row([c.kind, c.zone_id, c.village_code, c.village_name]) for c in z.changes]
    write_table(
        ws,
        Table(
            f"与上一年度（{s.previous_as_of:%Y-%m-%d}）相比的变化",
            [Column("变化"), Column("禁煤区编号"), Column("村代码"), Column("村名称")],
            change_rows,
            empty_text="无变化" if z.previous_id else "上一年度没有派生记录",
        ),
        start_row=placed.last_row + 3,
        main=False,
    )


def _total(values: Iterable[int | None]) -> int | None:
    """The sum, or None ("—") when an approved-only report withholds any part of it."""
    found = list(values)
    return None if any(v is None for v in found) else sum(v for v in found if v is not None)
