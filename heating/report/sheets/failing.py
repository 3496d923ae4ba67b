"""未达标清单: the villages that decide compliance, apart from the context below a total target.

Two rules judge a category (domain.md, "Compliance with the profile"): in a
100% category every village must reach 100%, so its failing villages *are*
its gap and their gaps add up to the category's gap in 总体情况; a category
with a lower target (rural 80%) is judged on its total, so a village below
80% does not by itself fail anything, and the villages' gaps to 80% do not
add up to the category's gap (villages above it make up for them).  The
sheet therefore has three tables:

1. 决定是否达标的村 — per 100% category, its villages below 100% with a
   小计 (equal to that category's gap in 总体情况) and a 合计;
2. 低于目标的村（按类别总体考核）— context, with each village's distance to
   the target and no total;
3. the categories judged as a whole: how many villages are below target, and
   the category's own aggregate gap (the one 总体情况 shows).
"""

from __future__ import annotations

from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

from heating.measures import MeasureRow
from heating.report.sheets.places import meets_text
from heating.report.snapshot import Snapshot, VillageLine
from heating.report.workbook import Column, Row, Table, write_table
from heating.targets import RULE_AGGREGATE, RULE_EVERY_VILLAGE, rule_for

DECIDING_TITLE = "一、决定是否达标的村（目标 100% 的类别：每个村都须达到 100%）"
CONTEXT_TITLE = "二、低于目标的村（所属类别按全部村合计考核，仅供安排工作参考，不计为未达标）"
CATEGORY_TITLE = "三、按合计考核的类别"
SUBTOTAL = "小计"
TOTAL = "合计"


def _note(v: VillageLine) -> str:
    if v.enclave:
        return "禁煤区内飞地：四周均已完成，优先安排改造"
    return ""


def _subtitle(s: Snapshot) -> str:
    return f"{s.district_name} · 数据截至 {s.as_of:%Y-%m-%d} · 要求配置：{s.profile.name}"


def _village_columns(gap: Column) -> list[Column]:
    """The columns of both village lists: they differ only in what the gap column means."""
    return [
        Column("序号", "int"),
        Column("村代码"),
        Column("村名称"),
        Column("乡镇"),
        Column("区域类别"),
        Column("应改造", "int", group="户数"),
        Column("已完成", "int", group="户数"),
        gap,
        Column("覆盖率", "pct", group="覆盖率"),
        Column("目标", "pct0", group="覆盖率"),
        Column("飞地"),
        Column("说明"),
    ]


def _village_row(number: int, v: VillageLine, category: str, note: str) -> Row:
    """One village of either list, under ``_village_columns``."""
    return Row(
        [
            number,
            v.row.key,
            v.row.name,
            v.township_name,
            category,
            v.row.required,
            v.row.clean,
            v.row.gap,
            v.row.coverage,
            v.row.target,
            "是" if v.enclave else "",
            note,
        ]
    )


def _deciding_rows(s: Snapshot) -> list[Row]:
    """Villages grouped by 100% category (profile order), each group closed by its 小计."""
    rows: list[Row] = []
    number = 0
    for category in _categories(s, RULE_EVERY_VILLAGE):
        lines = [v for v in s.failing if v.row.category == category.key]
        if not lines:
            continue
        for v in lines:
            number += 1
            rows.append(_village_row(number, v, category.name, _note(v)))
        rows.append(_sum_row(f"{category.name}{SUBTOTAL}（{len(lines)} 个村）", lines))
    if s.failing:
        rows.append(_sum_row(f"{TOTAL}（{len(s.failing)} 个村）", s.failing))
    return rows


def _sum_row(label: str, lines: list[VillageLine]) -> Row:
    required = sum(v.row.required for v in lines)
    clean = sum(v.row.clean for v in lines)
    coverage = clean / required if required else None
    return Row(
        ["", "", label, "", "", required, clean, sum(v.row.gap for v in lines), coverage, ""]
        + ["", ""],
        total=True,
    )


def _categories(s: Snapshot, rule: str) -> list[MeasureRow]:
    """The category rows of 总体情况 judged by ``rule``."""
    return [r for r in s.categories[:-1] if rule_for(r.target) == rule]


def deciding_gap(s: Snapshot) -> int:
    """The 100% categories' gap: the sum of their failing villages' gaps."""
    return sum(r.gap for r in _categories(s, RULE_EVERY_VILLAGE))


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """The deciding villages with subtotals, the context list, the categories judged as a whole."""
    deciding = _categories(s, RULE_EVERY_VILLAGE)
    whole = _categories(s, RULE_AGGREGATE)
    total_gap = sum(v.row.gap for v in s.failing)
    parts = "、".join(f"{r.name} {r.gap:,} 户" for r in deciding) or "无"
    whole_gap = sum(r.gap for r in whole)
    unsupported = s.counts_unsupported
    first = (
        f"未达到 100% 的村 —（{unsupported}）：未审核乡镇的村不列入，无法给出村数和差距。"
        if unsupported
        else f"共 {len(s.failing)} 个村未达到 100%，差距合计 {total_gap:,} 户，"
        f"等于总体情况中目标 100% 的类别的差距之和（{parts}）。"
        f"总体情况的合计差距 {s.total.gap:,} 户 = 此数 + 按合计考核的类别差距 {whole_gap:,} 户（见表三）。"
    )
    notes = [
        first,
        "差距 = 本村达到 100% 还需改造的户数（应改造 − 已完成）。每个类别内：禁煤区内飞地在前，其余按差距从大到小。",
    ]
    if s.zones is None:
        notes.append("截止日前尚未派生禁煤区，无法识别飞地。")
    if s.signoff is not None and s.signoff.approved_only:
        notes.append(f"{s.signoff.count_label}：未审核乡镇的村未经审核，三张表都不列入。")
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度未达标村清单",
            _village_columns(Column("差距", "int", group="户数")),
            _deciding_rows(s),
            subtitle=f"{DECIDING_TITLE} · {_subtitle(s)}",
            notes=notes,
            empty_text=f"—（{unsupported}）"
            if unsupported
            else "截止日目标 100% 的类别中所有村均已达到 100%。",
        ),
    )
    placed = write_table(
        ws,
        Table(
            CONTEXT_TITLE,
            _village_columns(Column("距目标户数", "int", group="户数", sums=False)),
            [
                _village_row(i, v, s.profile.label(v.row.category), _context_note(v))
                for i, v in enumerate(s.below_target, start=1)
            ],
            notes=(
                "距目标户数 = 本村达到所属类别目标还需改造的户数。这些数不相加："
                "类别按全部村合计考核，已超过目标的村抵补了低于目标的村，类别的差距见表三。",
            ),
            empty_text=f"—（{s.counts_unsupported}）"
            if s.counts_unsupported
            else "按合计考核的类别中没有低于目标的村。",
        ),
        start_row=placed.last_row + 3,
        main=False,
    )
    write_table(
        ws,
        Table(
            CATEGORY_TITLE,
            [
                Column("区域类别"),
                Column("村数", "int"),
                Column("低于目标的村数", "int"),
                Column("应改造", "int", group="类别合计"),
                Column("已完成", "int", group="类别合计"),
                Column("覆盖率", "pct", group="类别合计"),
                Column("目标", "pct0", group="类别合计"),
                Column("类别差距", "int", group="类别合计", sums=False),
                Column("是否达标"),
            ],
            [Row(_category_values(s, r)) for r in whole],
            notes=(
                "类别差距 = max(0, ⌈目标 × 类别应改造户数⌉ − 类别已完成户数)，与总体情况相同。",
            ),
            empty_text="要求配置中没有按合计考核的类别。",
        ),
        start_row=placed.last_row + 3,
        main=False,
    )


def _context_note(v: VillageLine) -> str:
    if v.enclave and v.row.meets is not False:
        return "禁煤区内飞地：四周均已完成，本村尚未完成"
    return _note(v)


def _category_values(s: Snapshot, r: MeasureRow) -> list[Any]:
    below = sum(1 for v in s.below_target if v.row.category == r.key and v.row.meets is False)
    return [r.name, r.villages, below, r.required, r.clean, r.coverage, r.target, r.gap] + [
        meets_text(r.meets)
    ]
