"""封面与说明: what the report is, as of when, from which data, and how it measures."""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating.report.snapshot import Snapshot
from heating.report.workbook import (
    BORDER,
    CENTER,
    HEADER_FILL,
    HEADER_FONT,
    SUBTITLE_FONT,
    TITLE_FONT,
    key_value_rows,
    put_text,
    setup_print,
)

GENERATED_LABEL = "生成时间"  # the one cell that differs between regenerations

SHEET_GUIDE = (
    ("总体情况", "按区域类别汇总的户数、覆盖率、有效覆盖率、目标、差距与是否达标，附覆盖率图"),
    ("分乡镇", "各乡镇（街道）的同口径指标，以及乡镇 × 区域类别"),
    ("分村", "每个村的指标、是否完成、是否禁煤区内飞地、是否已有村界"),
    ("未达标清单", "低于所属类别目标的村及差距户数；禁煤区内飞地排在最前"),
    ("禁煤区", "截止日有效的禁煤区及其村庄、面积、户数，与上一年度相比的变化"),
    ("技术路线", "已完成户按改造方式、设备类型分乡镇统计及占比"),
    ("回头看问题户", "运行不稳定、散煤复烧、设备弃用/拆除的户，按村汇总并列出（个人信息已脱敏）"),
    ("年度对比", "本年度截止日与上一年度截止日相比，各乡镇新增完成户数与覆盖率变化"),
    ("数据质量", "数据不一致、缺少村界的村、已完成但缺少完工日期的户"),
)

DEFINITIONS = (
    ("应改造户数", "各村名录总户数（名录未填时为台账户数）减去无需改造户数之和。"),
    ("已完成户数", "台账中改造状态为“已完工”或“已验收”的户数。"),
    ("覆盖率", "已完成户数 ÷ 应改造户数；应改造户数为 0 时无定义，显示“—”。"),
    (
        "有效覆盖率",
        "（已完成户数 − 回头看发现散煤复烧或设备弃用/拆除的户数）÷ 应改造户数；"
        "与覆盖率之差即“回头看”发现的问题。",
    ),
    ("差距户数", "达到目标还需改造的户数 = max(0, ⌈目标 × 应改造户数⌉ − 已完成户数)。"),
    (
        "是否达标",
        "目标为 100% 的类别，每个村都须达到 100%；目标低于 100% 的类别，按该类别全部村的合计判断"
        "（各乡镇合计另列）。",
    ),
    (
        "完成村",
        "应改造户数大于 0 且全部完成的村，或经管理员认定完成的村；完成村的村界合并为禁煤区。",
    ),
    (
        "截止日（冻结快照）",
        "所有户数取自截止日当天 24 时以前记录的台账数据（每户取截止日前最后一次记录），"
        "截止日之后导入、修改或回滚的数据不影响本报告；以同一截止日重新生成，数字完全相同。"
        "村庄名录（总户数、类别）与村界按生成时的名录读取。",
    ),
)


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """The cover: title, facts of this report, sheet guide and definitions."""
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 100
    title = ws.cell(row=1, column=1)
    put_text(title, f"{s.district_name}{s.year}年度清洁取暖改造“回头看”评估报告")
    title.font = TITLE_FONT
    title.alignment = CENTER
    ws.merge_cells("A1:B1")
    ws.row_dimensions[1].height = 36
    sub = ws.cell(row=2, column=1)
    put_text(sub, f"报送：市大气污染防治工作领导组办公室 · 数据截至 {s.as_of:%Y年%m月%d日}")
    sub.font = SUBTITLE_FONT
    sub.alignment = CENTER
    ws.merge_cells("A2:B2")

    targets = "；".join(f"{c.name} {c.target:.0%}" for c in s.profile.categories)
    src = s.sources
    if src.batches:
        sources = (
            f"截止日前已提交且未回滚的台账导入 {src.batches} 批（涉及 {src.townships} 个乡镇，"
            f"{src.first_commit:%Y-%m-%d} 至 {src.last_commit:%Y-%m-%d}）；"
        )
    else:
        sources = "截止日前没有已提交的台账导入批次；"
    sources += (
        f"计入台账 {src.households:,} 户，分布在 {src.villages_with_ledger:,} 个村；"
        f"村庄名录 {len(s.villages):,} 个村。"
    )
    facts = [
        ("区县", f"{s.district_name}（{s.district_code}）"),
        ("报告年度", f"{s.year} 年"),
        ("数据截止日期", f"{s.as_of:%Y-%m-%d}（上一年度对比截止日 {s.previous_as_of:%Y-%m-%d}）"),
        (GENERATED_LABEL, f"{s.generated_at:%Y-%m-%d %H:%M}"),
        ("要求配置", f"{s.profile.name}：{targets}"),
        ("数据来源", sources),
    ]
    if s.as_of >= s.generated_at.date():
        facts.append(
            (
                "提示",
                "截止日尚未过去：此后导入的截止日当天数据仍会计入，请在截止日之后重新生成正式报告。",
            )
        )
    row = key_value_rows(ws, facts, start_row=4)
    row = _section(ws, row + 1, "工作表说明")
    row = key_value_rows(ws, SHEET_GUIDE, start_row=row)
    row = _section(ws, row + 1, "指标口径")
    key_value_rows(ws, DEFINITIONS, start_row=row)
    ws.freeze_panes = "A4"
    setup_print(ws, 1, 2)
    ws.page_setup.orientation = "portrait"


def _section(ws: Worksheet, row: int, text: str) -> int:
    cell = ws.cell(row=row, column=1)
    put_text(cell, text)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.border = BORDER
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
    return row + 1
