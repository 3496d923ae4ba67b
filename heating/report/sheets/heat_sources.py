"""热源核查: the register, households served, and who does not count (先立后破) by township.

The numbers are ``heating.report.heat_source_section``'s: the register as
known at the report's known-at time, the district households clean by
status as of the cut-off.  Under ``strict`` the non-compliant households
are the ones the other sheets leave out of clean.
"""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating.heat_sources import NONCOMPLIANT, STRICT, rule_label
from heating.report.heat_source_section import HeatSourceSection
from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table

GAP = 2  # blank rows between tables


def _rule_text(section: HeatSourceSection) -> str:
    if section.rule == STRICT:
        return f"{rule_label(STRICT)}：不合规热源供热的户不计为已改造（各表的已完成户数均已扣除），并在此列出"
    return f"{rule_label(section.rule)}：不合规热源供热的户仍计为已改造，仅在此列出"


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Sources with grade, listing and households served; townships; flagged villages."""
    section = s.heat_sources
    assert section is not None, "take_snapshot always reads the heat sources"
    source_rows = [
        Row(
            [
                line.facts.name,
                line.facts.kind_label,
                line.facts.grade_label,
                "是" if line.facts.shutdown_listed else "否",
                line.facts.shutdown_on,
                line.households,
                "不合规：" + line.facts.reason if line.facts.noncompliant else "合规",
            ]
        )
        for line in section.sources
    ]
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度集中供热热源核查（先立后破）",
            [
                Column("热源名称", width=30, wrap=True),
                Column("类型"),
                Column("环保绩效等级"),
                Column("列入关停淘汰计划"),
                Column("计划关停日期", "date"),
                Column("供热已完成户数", "int"),
                Column("核查结论", width=44, wrap=True),
            ],
            source_rows,
            subtitle=f"数据截至 {s.as_of:%Y-%m-%d}；{_rule_text(section)}",
            notes=(
                "规则：集中供热户的热源为工业余热时，热源企业环保绩效须为 A、B 级或引领性（等级未知视为不满足），"
                "且未列入关停淘汰计划（自列入的那次名单导入起即不合规，不论计划关停日期）。"
                "热源名单取报告已知时点时的名单；供热户数为截止日改造状态为已完工或已验收的集中供热户。",
            ),
            empty_text="尚未导入热源名单（heating heat-sources load）：集中供热户的热源均无法核实。",
        ),
    )
    row = placed.last_row + 1 + GAP
    township_rows = [
        Row(
            [
                t.township_code,
                t.township_name,
                t.district_clean,
                t.noncompliant,
                t.district_clean - t.noncompliant if section.rule == STRICT else t.district_clean,
                t.unverified,
            ]
        )
        for t in section.townships
    ]
    district_clean = sum(t.district_clean for t in section.townships)
    township_rows.append(
        Row(
            [
                "",
                "合计",
                district_clean,
                section.noncompliant,
                district_clean - section.noncompliant if section.rule == STRICT else district_clean,
                section.unverified,
            ],
            total=True,
        )
    )
    placed = write_table(
        ws,
        Table(
            "不合规热源供热户（分乡镇）",
            [
                Column("乡镇代码"),
                Column("乡镇名称"),
                Column("集中供热已完工/验收户", "int"),
                Column("不合规热源户", "int"),
                Column("计为已改造户", "int"),
                Column("热源无法核实户", "int"),
            ],
            township_rows,
            notes=("热源无法核实：台账热源为空或不在热源名单中，两种设置下均计为已改造。",),
        ),
        start_row=row,
        main=False,
    )
    row = placed.last_row + 1 + GAP
    write_table(
        ws,
        Table(
            "涉及的村和热源",
            [
                Column("乡镇"),
                Column("村代码"),
                Column("村名称"),
                Column("台账热源", width=30, wrap=True),
                Column("户数", "int"),
                Column("核查结论", width=44, wrap=True),
                Column("是否计为已改造"),
            ],
            [
                Row(
                    [
                        f.township_name,
                        f.village_code,
                        f.village_name,
                        f.source or "（未填写）",
                        f.households,
                        ("不合规：" + f.reason) if f.verdict == NONCOMPLIANT else f.reason,
                        "否" if f.verdict == NONCOMPLIANT and section.rule == STRICT else "是",
                    ]
                )
                for f in section.flagged
            ],
            empty_text="没有不合规或无法核实热源的集中供热户。",
        ),
        start_row=row,
        main=False,
    )
