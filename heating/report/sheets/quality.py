"""数据质量: inconsistencies, villages without boundary, clean households without a date."""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating.inconsistencies import CODES
from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Three lists a data steward works through; each says what to fix."""
    township_of = {v.row.key: v.township_name for v in s.villages}
    rows = [
        Row(
            [
                i,
                CODES.get(item.code, item.code),
                item.village_code or "",
                s.village_names.get(item.village_code or "", ""),
                township_of.get(item.village_code or "", ""),
                item.message,
            ]
        )
        for i, item in enumerate(s.inconsistencies, start=1)
    ]
    undated = sum(n.households for n in s.no_completion_date)
    summary = (
        f"数据不一致 {len(s.inconsistencies)} 项；缺少村界的村 {len(s.no_boundary)} 个；"
        f"已完成但缺少完工日期的户 {undated:,} 户。"
    )
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度数据质量",
            [
                Column("序号", "int"),
                Column("问题类型"),
                Column("村代码"),
                Column("村名称"),
                Column("乡镇"),
                Column("说明", width=80, wrap=True),
            ],
            rows,
            subtitle=f"数据截至 {s.as_of:%Y-%m-%d} · {summary}",
            notes=("数据不一致只标出、不自动更正：请核对村庄名录或台账后重新导入。",),
            empty_text="未发现数据不一致。",
        ),
    )
    placed = write_table(
        ws,
        Table(
            "缺少村界的村（不在覆盖率图和禁煤区中）",
            [Column("序号", "int"), Column("村代码"), Column("村名称"), Column("乡镇")],
            [
                Row([i, v.row.key, v.row.name, v.township_name])
                for i, v in enumerate(s.no_boundary, start=1)
            ],
            notes=("请用 heating boundaries load 导入村界。",) if s.no_boundary else (),
            empty_text="所有村均已有村界。",
        ),
        start_row=placed.last_row + 3,
        main=False,
    )
    write_table(
        ws,
        Table(
            "已完成改造但缺少完工日期的户（按村）",
            [
                Column("序号", "int"),
                Column("村代码"),
                Column("村名称"),
                Column("乡镇"),
                Column("户数", "int"),
            ],
            [
                Row([i, n.village_code, n.village_name, n.township_name, n.households])
                for i, n in enumerate(s.no_completion_date, start=1)
            ],
            notes=("请在台账中补填完工日期后重新导入。",) if s.no_completion_date else (),
            empty_text="已完成的户均填写了完工日期。",
        ),
        start_row=placed.last_row + 3,
        main=False,
    )
