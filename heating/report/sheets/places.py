"""总体情况, 分乡镇, 分村: the measures by category, township and village (未达标清单: ``failing``)."""

from __future__ import annotations

import io
from typing import Any

from openpyxl.drawing.image import Image
from openpyxl.worksheet.worksheet import Worksheet

from heating.heat_sources import noncompliant_note
from heating.measures import TOTAL_KEY, MeasureRow
from heating.report.snapshot import Snapshot
from heating.report.workbook import (
    MET,
    NOT_MET,
    UNDEFINED,
    Column,
    Row,
    Table,
    put_text,
    write_table,
)
from heating.targets import RULE_AGGREGATE, RULE_EVERY_VILLAGE, percent, rule_for

PICTURE_WIDTH = 960  # px in the sheet (the PNG is scaled to it)

RULE_LABELS = {"every_village": "每村均须达到", "aggregate": "按总体达到"}

MEASURE_COLUMNS = [
    Column("名录总户数", "int", group="户数"),
    Column("台账户数", "int", group="户数"),
    Column("无需改造", "int", group="户数"),
    Column("应改造", "int", group="户数"),
    Column("已完成", "int", group="户数"),
    Column("散煤复烧/弃用", "int", group="户数"),
    Column("覆盖率", "pct", group="覆盖率"),
    Column("有效覆盖率", "pct", group="覆盖率"),
    Column("目标", "pct0", group="覆盖率"),
    Column("差距户数", "int", sums=False),  # a total target is judged on the total
    Column("是否达标"),
]

DEFINITIONS = (
    "注：应改造 = 名录总户数（未填时为台账户数）− 无需改造户数；覆盖率 = 已完成 ÷ 应改造；"
    "有效覆盖率扣除回头看发现散煤复烧、设备弃用/拆除的户；应改造为 0 时覆盖率显示“—”。",
    "差距户数 = 达到目标还需改造的户数：目标 100% 的类别按村累加各村差距（即未达标清单表一），"
    "目标低于 100% 的类别按类别全部村的合计计算；合计行的差距 = 各类别差距之和。",
)


def heat_source_notes(s: Snapshot) -> list[str]:
    """Why some households clean by status are not counted (先立后破), when any are."""
    section = s.heat_sources
    if section is None or not section.noncompliant:
        return []
    return [
        f"热源核查：{noncompliant_note(section.noncompliant, section.rule)}"
        "（集中供热热源为工业余热而环保绩效低于 B 级、等级未知或列入关停淘汰计划；见“热源核查”表）。"
    ]


def meets_text(meets: bool | None) -> str:
    """达标 / 未达标 / "—" (nothing required, or no target to judge by)."""
    if meets is None:
        return UNDEFINED
    return MET if meets else NOT_MET


def measure_values(r: MeasureRow, withheld: bool = False) -> list[Any]:
    """The values under ``MEASURE_COLUMNS``; all "—" where an approved-only report withholds them."""
    if withheld:
        return [UNDEFINED] * len(MEASURE_COLUMNS)
    return [
        r.registry_households,
        r.ledger_rows,
        r.exempt,
        r.required,
        r.clean,
        r.lapsed,
        r.coverage,
        r.effective_coverage,
        r.target,
        r.gap,
        meets_text(r.meets),
    ]


def _subtitle(s: Snapshot) -> str:
    text = f"{s.district_name} · 数据截至 {s.as_of:%Y-%m-%d} · 要求配置：{s.profile.name}"
    if s.signoff is not None and s.signoff.approved_only:
        text += f" · {s.signoff.count_label}"
    return text


def _withheld_notes(s: Snapshot) -> tuple[str, ...]:
    """The note an approved-only sheet adds under its table."""
    if s.signoff is None or not s.signoff.approved_only:
        return ()
    return (
        f"{s.signoff.count_label}：未审核乡镇的村显示为“—”，合计只含已审核乡镇；"
        "含未审核村的区域类别不判断是否达标（显示“—”）。",
    )


def _withheld_township(s: Snapshot, code: str) -> bool:
    return s.signoff is not None and s.signoff.withheld(code)


def _villages_and_measures(s: Snapshot, r: MeasureRow) -> list[Any]:
    """村数 and the measures of a township row; all "—" when withheld (the total counts
    only approved townships' villages, so a withheld row's 村数 is not shown either)."""
    if _withheld_township(s, r.key):
        return [UNDEFINED, *measure_values(r, True)]
    return [r.villages, *measure_values(r)]


def _state(s: Snapshot, code: str) -> str:
    """The township's sign-off state for the report's period (分乡镇's 审核状态)."""
    return s.signoff.state_label(code) if s.signoff is not None else ""


def gap_reconciliation(s: Snapshot) -> str:
    """How the total gap splits by rule, in the words 未达标清单 uses."""
    every = [r for r in s.categories[:-1] if rule_for(r.target) == RULE_EVERY_VILLAGE]
    whole = [r for r in s.categories[:-1] if rule_for(r.target) == RULE_AGGREGATE]
    other = s.total.gap - sum(r.gap for r in every) - sum(r.gap for r in whole)
    if s.counts_unsupported:
        return f"未达标的村 —（{s.counts_unsupported}）：合计差距只含已审核乡镇，见未达标清单。"
    text = (
        f"合计差距 {s.total.gap:,} 户 = 目标 100% 的类别中未达标的 {len(s.failing)} 个村的差距之和 "
        f"{sum(r.gap for r in every):,} 户（未达标清单表一）+ 按合计考核的类别差距 "
        f"{sum(r.gap for r in whole):,} 户（未达标清单表三）"
    )
    if other:
        text += f" + 要求配置以外类别的差距 {other:,} 户"
    return text + "。"


# --------------------------------------------------------------------------
# 总体情况
# --------------------------------------------------------------------------


def evidence_table(s: Snapshot) -> Table:
    """Verified effective coverage and coverage by floor area of the district, where known."""
    t = s.total
    if t.usage_season is None:
        verified = "—（没有用电量、用气量数据）"
    elif not t.usage_checked:
        verified = f"—（{t.usage_season} 采暖季没有可核验的户）"
    else:
        verified = percent(t.verified_effective_coverage)
    area = (
        percent(t.area_coverage)
        if t.area_coverage is not None
        else f"—（已知采暖面积的户占应改造户 {percent(t.area_known_share)}，不足 90%）"
    )
    rows = [
        Row(["用量核验采暖季", t.usage_season or "—"]),
        Row(["用量核验户数", str(t.usage_checked)]),
        Row(
            [
                "疑似改而不用户数",
                UNDEFINED if t.usage_flagged_shown is None else str(t.usage_flagged),
            ]
        ),
        Row(["核验后有效覆盖率", verified]),
        Row(["按面积清洁取暖率", area]),
    ]
    if t.area_coverage is not None:
        rows.append(
            Row(
                [
                    "应改造面积 / 已改造面积（m²）",
                    f"{t.area_required_m2:,.0f} / {t.area_clean_m2:,.0f}",
                ]
            )
        )
    return Table(
        "用量核验与按面积清洁取暖率（全区）",
        [Column("项目", width=36), Column("数值", width=44)],
        rows,
        notes=(
            "核验后有效覆盖率 =（已完成 − 散煤复烧/弃用 − 疑似改而不用且未记为复烧/弃用）÷ 应改造；"
            "用截止日前已结束的最近一个采暖季的用量，明细见“用量核验”。",
            "按面积清洁取暖率 = 已完成户采暖面积 ÷ 应改造户采暖面积，只在已知面积的户至少占应改造户 90% 时计算，从不估算。",
        ),
    )


def write_overview(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """One row per category and the total; the coverage map below."""
    columns = [
        Column("区域类别"),
        Column("考核方式"),
        Column("村数", "int"),
        Column("完成村数", "int"),
        *MEASURE_COLUMNS,
    ]
    rows = []
    for r in s.categories:
        total = r.key == TOTAL_KEY
        rule = None if total else RULE_LABELS.get(rule_for(r.target) or "")
        rows.append(
            Row(
                [
                    r.name,
                    rule,
                    r.villages,
                    s.complete_by_category.get(r.key, 0),
                    *measure_values(r),
                ],
                total=total,
            )
        )
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度清洁取暖改造总体情况",
            columns,
            rows,
            subtitle=_subtitle(s),
            notes=(
                *DEFINITIONS,
                gap_reconciliation(s),
                "完成村：应改造户数大于 0 且全部完成，或经管理员认定完成（禁煤区由完成村派生）。",
                *_withheld_notes(s),
                *heat_source_notes(s),
            ),
        ),
    )
    placed = write_table(
        ws,
        evidence_table(s),
        start_row=placed.last_row + 2,
        main=False,
    )
    anchor_row = placed.last_row + 2
    if picture is None:
        put_text(ws.cell(row=anchor_row, column=1), "覆盖率图：村界尚未导入，无法绘制。")
        return
    image = Image(io.BytesIO(picture))
    scale = PICTURE_WIDTH / image.width
    image.width, image.height = PICTURE_WIDTH, int(image.height * scale)
    ws.add_image(image, f"A{anchor_row}")


# --------------------------------------------------------------------------
# 分乡镇
# --------------------------------------------------------------------------


def write_townships(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Per township, then per township × category."""
    columns = [
        Column("乡镇代码"),
        Column("乡镇名称"),
        Column("审核状态"),
        Column("村数", "int"),
        *MEASURE_COLUMNS,
    ]
    rows = [
        Row(
            [
                r.key,
                r.name,
                _state(s, r.key),
                *_villages_and_measures(s, r),
            ]
        )
        for r in s.townships
    ]
    total = s.total
    approved = (
        f"已审核 {len(s.signoff.approved_codes)}/{len(s.signoff.townships)}" if s.signoff else ""
    )
    rows.append(Row(["", total.name, approved, total.villages, *measure_values(total)], total=True))
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度清洁取暖改造分乡镇情况",
            columns,
            rows,
            subtitle=_subtitle(s),
            notes=(
                *DEFINITIONS,
                *(
                    (f"审核状态为 {s.signoff.period:%Y-%m-%d} 期的状态（见封面）。",)
                    if s.signoff
                    else ()
                ),
                *_withheld_notes(s),
            ),
        ),
    )
    by_category = [
        Row(
            [
                r.key,
                r.name,
                _state(s, r.key),
                s.profile.label(r.category),
                *_villages_and_measures(s, r),
            ]
        )
        for r in s.township_categories
    ]
    write_table(
        ws,
        Table(
            "分乡镇、分区域类别情况",
            [
                Column("乡镇代码"),
                Column("乡镇名称"),
                Column("审核状态"),
                Column("区域类别"),
                Column("村数", "int"),
                *MEASURE_COLUMNS,
            ],
            by_category,
        ),
        start_row=placed.last_row + 3,
        main=False,
    )


# --------------------------------------------------------------------------
# 分村
# --------------------------------------------------------------------------


def write_villages(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Every village of the district."""
    columns = [
        Column("村代码"),
        Column("村名称"),
        Column("乡镇"),
        Column("区域类别"),
        *MEASURE_COLUMNS,
        Column("完成村"),
        Column("禁煤区内飞地"),
        Column("有村界"),
    ]
    rows = [
        Row(
            [
                v.row.key,
                v.row.name,
                v.township_name,
                s.profile.label(v.row.category),
                *measure_values(v.row, v.withheld),
                UNDEFINED if v.withheld else v.complete,
                "是" if v.enclave else "",
                v.has_boundary,
            ]
        )
        for v in s.villages
    ]
    write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度清洁取暖改造分村情况",
            columns,
            rows,
            subtitle=_subtitle(s),
            notes=(*DEFINITIONS, *_withheld_notes(s)),
        ),
    )
