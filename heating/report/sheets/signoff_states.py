"""The cover's sign-off part: every township's state for the period, what changed since approval.

Written by ``cover.write`` below the report's facts (issue 12 item 5); the
draft mark on every sheet is ``heating.report.report_mark``.
"""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating import clock
from heating.report.signoff_section import DRAFT_MARK, SignoffSection
from heating.report.snapshot import Snapshot
from heating.report.workbook import (
    BORDER,
    HEADER_FILL,
    HEADER_FONT,
    key_value_rows,
    merge,
    put_text,
)

STATES_TITLE = "各乡镇审核状态"
SUMMARY_LABEL = "审核情况"
CHANGES_LABEL = "审核后的变化"
APPROVED_ONLY_LABEL = "仅含已审核乡镇"
READ_AT_GENERATION = "村庄名录总户数与区域类别、村界、要求配置、热源名单、锅炉台账、用电用气数据"


def summary(section: SignoffSection) -> str:
    """One paragraph: how many townships are approved and whether the report is a draft."""
    total = len(section.townships)
    approved = len(section.approved_codes)
    period = f"{section.period:%Y-%m-%d}"
    if not section.is_period:
        return (
            f"本报告的数据截止日不是报送期（报送期为每年的报告截止日，本年度为 {period}），"
            f"各乡镇的审核不涵盖该日的数据：本报告为{DRAFT_MARK}。下列为 {period} 期的状态。"
        )
    if not section.draft:
        return f"{period} 期全部 {total} 个乡镇（街道）的数据均已经区级审核。"
    return (
        f"{period} 期已审核 {approved}/{total} 个乡镇（街道）：本报告为{DRAFT_MARK}，"
        "各表标题和页眉均有标注；全部乡镇审核通过后重新生成即为正式报告。"
    )


def approved_only_text(section: SignoffSection) -> str:
    """What an approved-only report withholds, and what it still shows for the whole district."""
    return (
        f"本报告只含已审核乡镇的数据（{len(section.approved_codes)}/{len(section.townships)}）："
        "未审核乡镇的村仍列出，但各项户数与指标显示为“—”；合计只含已审核乡镇，标注"
        f"“{section.count_label}”；含未审核村的区域类别不判断是否达标（显示“—”），"
        "以免未审核村的未达标被合计掩盖。未达标清单、技术路线、回头看问题户、用量核验、补贴、数据质量"
        "只列已审核乡镇，历年趋势各年只含已审核乡镇。覆盖率图中未审核乡镇的村按“无数据”着色；"
        "禁煤区范围照常列出，含未审核村的禁煤区户数显示为“—”；锅炉清零不属于乡镇报送内容，按全区列出。"
    )


def changes_text(section: SignoffSection, tz: str) -> str:
    """What the report read at generation time that differs from what each approval saw."""
    approved = [t for t in section.townships if t.approved]
    lines = []
    for t in approved:
        s = t.status
        head = f"{s.name}（{s.by} {clock.shown(s.at, tz)} 审核）"
        if t.changes:
            lines.append(f"{head}审核后有变化：" + "；".join(t.changes) + "。")
    if not lines:
        lines.append(
            f"各已审核乡镇审核后，本报告生成时读取的数据（{READ_AT_GENERATION}）均无变化。"
        )
    else:
        lines.append(
            "以上数据在生成报告时读取，与审核时不同：请核实；如需据此修改已审核的数据，须由管理员撤回审核。"
        )
    return "\n".join(lines)


def write_states(ws: Worksheet, s: Snapshot, row: int) -> int:
    """The sign-off section of the cover from ``row``; returns the next free row."""
    section = s.signoff
    if section is None:
        return row
    tz = s.timezone
    cell = ws.cell(row=row, column=1)
    put_text(cell, f"{STATES_TITLE}（{section.period:%Y-%m-%d} 期）")
    cell.font = HEADER_FONT
    cell.fill = HEADER_FILL
    cell.border = BORDER
    merge(ws, row, 1, row, 2)
    pairs: list[tuple[str, str]] = [(SUMMARY_LABEL, summary(section))]
    if section.approved_only:
        pairs.append((APPROVED_ONLY_LABEL, approved_only_text(section)))
    pairs += [
        (f"{t.status.name}（{t.status.township}）", t.state_text(tz)) for t in section.townships
    ]
    if section.is_period and section.approved_codes:
        pairs.append((CHANGES_LABEL, changes_text(section, tz)))
    return key_value_rows(ws, pairs, start_row=row + 1)
