"""封面与说明: what the report is, as of when, from which data, and how it measures."""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating import clock
from heating.report.sheets.signoff_states import write_states
from heating.report.snapshot import Snapshot
from heating.report.sources import TownshipLedger
from heating.report.workbook import (
    BORDER,
    CENTER,
    HEADER_FILL,
    HEADER_FONT,
    SUBTITLE_FONT,
    TITLE_FONT,
    key_value_rows,
    merge,
    put_text,
    setup_print,
)

GENERATED_LABEL = "生成时间"  # differs between regenerations
KNOWN_AT_LABEL = "已知时点"
RECORDED_LATER_LABEL = "已知时点之后"  # says whether a regeneration would change the figures
LEDGERS_LABEL = "各乡镇台账"

SHEET_GUIDE = (
    ("总体情况", "按区域类别汇总的户数、覆盖率、有效覆盖率、目标、差距与是否达标，附覆盖率图"),
    ("分乡镇", "各乡镇（街道）的审核状态和同口径指标，以及乡镇 × 区域类别"),
    ("分村", "每个村的指标、是否完成、是否禁煤区内飞地、是否已有村界"),
    ("未达标清单", "低于所属类别目标的村及差距户数；禁煤区内飞地排在最前"),
    ("禁煤区", "截止日有效的禁煤区及其村庄、面积、户数，与上一年度相比的变化"),
    ("技术路线", "已完成户按改造方式、设备类型分乡镇统计及占比"),
    ("回头看问题户", "运行不稳定、散煤复烧、设备弃用/拆除的户，按村汇总并列出（个人信息已脱敏）"),
    ("年度对比", "本年度截止日与上一年度截止日相比，各乡镇新增完成户数与覆盖率变化"),
    ("历年趋势", "有台账数据的各年度截止日，各区域类别的应改造、已完成户数和覆盖率，附折线图"),
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
        "所有户数按台账日期（台账所描述的那一天，“数据截至”）取数：每户取台账日期不晚于截止日的"
        "最近一期台账（同一台账日期以最后记录的为准），并且只计入“已知时点”以前记录的数据。"
        "因此之后补录的历史台账、导入或撤销的批次都不影响本报告；以同一截止日和已知时点重新生成，"
        "数字完全相同。完成认定和禁煤区派生同样只计入已知时点以前记录的。"
        "村庄名录（总户数、类别）、村界与要求配置按生成时读取。",
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
    merge(ws, 1, 1, 1, 2)
    ws.row_dimensions[1].height = 36
    sub = ws.cell(row=2, column=1)
    put_text(sub, f"报送：市大气污染防治工作领导组办公室 · 数据截至 {s.as_of:%Y年%m月%d日}")
    sub.font = SUBTITLE_FONT
    sub.alignment = CENTER
    merge(ws, 2, 1, 2, 2)

    targets = "；".join(f"{c.name} {c.target:.0%}" for c in s.profile.categories)
    src = s.sources
    if src.batches:
        first = clock.local_date(src.first_commit, s.timezone)
        last = clock.local_date(src.last_commit, s.timezone)
        sources = (
            f"台账日期不晚于截止日、已知时点以前写入且未撤销的台账 {src.batches} 批"
            f"（涉及 {src.townships} 个乡镇，{first:%Y-%m-%d} 至 {last:%Y-%m-%d} 写入）；"
        )
    else:
        sources = no_ledger_line(s)
    sources += (
        f"计入台账 {src.households:,} 户，分布在 {src.villages_with_ledger:,} 个村；"
        f"村庄名录 {len(s.villages):,} 个村。"
    )
    tz = s.timezone
    facts = [
        ("区县", f"{s.district_name}（{s.district_code}）"),
        ("报告年度", f"{s.year} 年"),
        ("数据截止日期", f"{s.as_of:%Y-%m-%d}（上一年度对比截止日 {s.previous_as_of:%Y-%m-%d}）"),
        (
            KNOWN_AT_LABEL,
            f"{clock.shown_with_offset(s.known_at, tz)}（只计入此时刻以前记录的数据；"
            f"重新生成时用 --known-at {clock.iso(s.known_at, tz)} 可得到相同数字）",
        ),
        (GENERATED_LABEL, clock.shown_with_offset(s.generated_at, tz)),
        ("要求配置", f"{s.profile.name}：{targets}（按生成时的配置）"),
        ("数据来源", sources),
        (LEDGERS_LABEL, "\n".join(ledger_line(t) for t in src.ledgers) or "（没有乡镇）"),
        (RECORDED_LATER_LABEL, recorded_later_line(src.recorded_later)),
    ]
    if s.as_of >= clock.local_date(s.generated_at, tz):
        facts.append(
            (
                "提示",
                "截止日尚未过去：此后导入的截止日当天数据仍会计入，请在截止日之后重新生成正式报告。",
            )
        )
    facts += signature_lines(s)
    row = key_value_rows(ws, facts, start_row=4)
    row = write_states(ws, s, row + 1)
    row = _section(ws, row + 1, "工作表说明")
    row = key_value_rows(ws, SHEET_GUIDE, start_row=row)
    row = _section(ws, row + 1, "指标口径")
    key_value_rows(ws, DEFINITIONS, start_row=row)
    ws.freeze_panes = "A4"
    setup_print(ws, 1, 2)
    ws.page_setup.orientation = "portrait"


BLANK_LINE = "＿" * 16  # a line to sign by hand


def signature_lines(s: Snapshot) -> list[tuple[str, str]]:
    """编制单位 and 审核人 from the settings; a line to fill in by hand when unset."""
    return [
        ("编制单位", s.author_unit or BLANK_LINE),
        ("审核人", s.reviewer or BLANK_LINE),
        ("审核日期", BLANK_LINE),
    ]


def no_ledger_line(s: Snapshot) -> str:
    """The data basis when no ledger describes the cut-off or an earlier day, in plain words.

    "No batch" must not read as "the townships submitted nothing": it says
    what the tracker holds and what the figures therefore rest on.
    """
    text = f"本系统中没有描述截止日（{s.as_of:%Y-%m-%d}）或更早情况的台账"
    if s.sources.after_cutoff:
        text += f"：已导入的 {s.sources.after_cutoff} 批台账，台账日期都在截止日之后，不能计入本期"
    text += "。"
    if not s.sources.households:
        text += "因此本报告的已完成户数为 0，应改造户数取自村庄名录。"
    return text + (
        "这只说明截止日以前的台账尚未导入本系统，不表示乡镇没有报送或没有开展改造；"
        "请导入截止日以前的台账后重新生成。"
    )


def ledger_line(t: TownshipLedger) -> str:
    """One township's ledger behind the figures, as the cover says it."""
    if t.batch_id is None:
        return (
            f"{t.township_name}：本系统中没有该乡镇截止日（含）以前的台账（尚未导入），"
            "本乡镇的户数不完整；请导入后重新生成。"
        )
    line = f"{t.township_name}：台账截至 {t.ledger_date:%Y-%m-%d}（批次 {t.batch_id}）"
    if t.older:
        line += f"；另有 {t.older} 户取自更早台账（最早 {t.earliest_older:%Y-%m-%d}）"
    return line


def recorded_later_line(count: int) -> str:
    """Whether data recorded after the known-at time would change the figures."""
    if not count:
        return "已知时点之后没有会改变本报告数字的记录。"
    return (
        f"已知时点之后又记录了 {count} 户截止日或上一年度截止日（含）以前的数据"
        "（如补录的历史台账或撤销的批次），"
        "会改变本报告的数字；本报告未计入。如需计入，请不带 --known-at 重新生成。"
    )


def _section(ws: Worksheet, row: int, text: str) -> int:
    cell = ws.cell(row=row, column=1)
    put_text(cell, text)
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.border = BORDER
    merge(ws, row, 1, row, 2)
    return row + 1
