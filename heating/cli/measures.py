"""``heating coverage``: measures and compliance by village, township, category or district."""

from __future__ import annotations

from collections.abc import Sequence

import click

from heating.cli.context import (
    emit_json,
    get_runtime,
    parse_date_option,
    parse_known_at_option,
)
from heating.clock import shown_with_offset
from heating.compliance import CategoryCompliance, compliance
from heating.heat_sources import counting_rule, noncompliant_note, rule_label
from heating.inconsistencies import inconsistencies
from heating.measures import BY_CHOICES, TOTAL_KEY, MeasureRow, aggregate_row, coverage
from heating.profile import Profile
from heating.targets import RULE_EVERY_VILLAGE, percent
from heating.textwidth import display_width

BY_LABELS = {"village": "村", "township": "乡镇", "category": "区域类别", "district": "区县"}


def yes_no(value: bool | None) -> str:
    return "—" if value is None else ("是" if value else "否")


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * (width - display_width(text))
    return fill + text if right else text + fill


def format_table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """Align columns by display width; ``numeric`` columns are right-aligned."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        widths = [max(w, display_width(cell)) for w, cell in zip(widths, row, strict=True)]
    lines = []
    for row in [headers, *rows]:
        cells = [_pad(c, widths[i], i in numeric) for i, c in enumerate(row)]
        lines.append("  ".join(cells).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def coverage_table(rows: Sequence[MeasureRow], by: str, profile: Profile) -> str:
    """The readable Chinese table of ``heating coverage`` (category column for villages only).

    By category the rows are named by the category's name alone: its key
    (``city_core``) is a word of the configuration file and of the JSON.
    """
    headers = ["区域类别"] if by == "category" else ["代码", "名称"]
    if by == "village":
        headers.append("区域类别")
    first_number = len(headers)
    headers += ["应改造户数", "已改造户数", "覆盖率", "有效覆盖率", "目标", "缺口（户）", "达标"]
    body = []
    for r in rows:
        # by category, measures name a row by Profile.label
        cells = [r.name] if by == "category" else [r.key, r.name]
        if by == "village":
            cells.append(profile.label(r.category))
        cells += [
            str(r.required),
            str(r.clean),
            percent(r.coverage),
            percent(r.effective_coverage),
            percent(r.target),
            str(r.gap),
            yes_no(r.meets),
        ]
        body.append(cells)
    return format_table(headers, body, numeric=set(range(first_number, first_number + 6)))


@click.command("coverage")
@click.option(
    "--by",
    type=click.Choice(BY_CHOICES),
    default="village",
    show_default=True,
    help="按村 / 乡镇 / 区域类别 / 区县汇总",
)
@click.option(
    "--as-of", "as_of", help="统计日期 YYYY-MM-DD：每户取台账日期不晚于当日的最近一期台账"
)
@click.option(
    "--known-at",
    "known_at",
    metavar="TIME",
    help="已知时点（ISO 8601，如 2021-11-05T09:30；不带时区按配置时区，只写日期指当日结束）："
    "只计入此时刻以前记录的数据",
)
@click.option("--township", "township_code", help="只看一个乡镇（9 位代码）")
@click.option("--district", "district_code", help="只看一个区县（6 位代码）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
@click.option(
    "--inconsistencies", "show_issues", is_flag=True, help="同时列出数据不一致（表格输出时）"
)
def coverage_command(
    by: str,
    as_of: str | None,
    known_at: str | None,
    township_code: str | None,
    district_code: str | None,
    as_json: bool,
    show_issues: bool,
) -> None:
    """应改造、已改造、覆盖率、缺口及是否达到要求配置的目标。"""
    day = parse_date_option(as_of)
    runtime = get_runtime()
    known = parse_known_at_option(known_at, runtime.config.timezone)
    profile = runtime.config.profile
    scope = {
        "as_of": day,
        "known_at": known,
        "township_code": township_code,
        "district_code": district_code,
    }
    with runtime.session() as session:
        rule = counting_rule(session)
        rows = coverage(session, profile, by, **scope)
        judged = compliance(session, profile, **scope) if by == "category" and not as_json else []
        found = (
            inconsistencies(session, profile=profile, **scope)
            if show_issues and not as_json
            else []
        )
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    when = f"截至 {day.isoformat()}" if day else "当前"
    if known is not None:
        when += f"，已知时点 {shown_with_offset(known, runtime.config.timezone)}"
    click.echo(f"清洁取暖改造覆盖率（按{BY_LABELS[by]}，{when}，要求配置：{profile.name}）")
    if not rows:
        click.echo("没有村庄：请先导入村庄名录（heating registry load）。")
        return
    click.echo(coverage_table(rows, by, profile))
    click.echo("注：应改造户数为 0 时覆盖率显示为“—”；缺口为达到目标还需改造的户数。")
    for line in [*heat_source_lines(rows, rule), *evidence_lines(rows, by)]:
        click.echo(line)
    for line in compliance_lines(judged):
        click.echo(line)
    if show_issues:
        click.echo(
            f"数据不一致 {len(found)} 项（只列出，不自动修正）：" if found else "未发现数据不一致。"
        )
        for item in found:
            click.echo(f"  [{item.code}] {item.message}")


def evidence_lines(rows: Sequence[MeasureRow], by: str) -> list[str]:
    """Use flags and area coverage of the whole scope, where there is such evidence."""
    total = rows[-1] if by == "category" else aggregate_row("all", "合计", rows)
    lines = []
    if total.usage_season is not None:
        lines.append(
            f"用量核验（{total.usage_season} 采暖季）：核验 {total.usage_checked} 户，"
            f"疑似改而不用 {total.usage_flagged} 户，"
            f"核验后有效覆盖率 {percent(total.verified_effective_coverage)}。"
        )
    if total.area_known:
        lines.append(
            f"按面积清洁取暖率 {percent(total.area_coverage)}"
            f"（已知采暖面积的户占应改造户 {percent(total.area_known_share)}，不足 90% 时不计算）。"
        )
    return lines


def heat_source_lines(rows: Sequence[MeasureRow], rule: str) -> list[str]:
    """What the heat-source rule (先立后破) did to these figures, when anything."""
    parts = [r for r in rows if r.key != TOTAL_KEY]
    noncompliant = sum(r.heat_source_noncompliant for r in parts)
    unverified = sum(r.heat_source_unverified for r in parts)
    lines = []
    if noncompliant:
        lines.append(f"热源核查（{rule_label(rule)}）：{noncompliant_note(noncompliant, rule)}。")
    if unverified:
        lines.append(
            f"热源核查：{unverified} 户集中供热的热源未登记或未填写，无法核实，仍计为已改造。"
        )
    return lines


def compliance_lines(judged: Sequence[CategoryCompliance], listed: int = 5) -> list[str]:
    """One line per category saying how it stands against the profile's rule."""
    lines = []
    for c in judged:
        head = f"{c.name}（目标 {percent(c.target)}）："
        if not c.aggregate.villages:
            lines.append(head + "所选范围内无此类区域的村，不作判断。")
        elif c.meets is None:
            lines.append(head + "无应改造户，不作判断。")
        elif c.rule == RULE_EVERY_VILLAGE:
            if c.meets:
                lines.append(head + "每个村均已达标。")
            else:
                names = "、".join(f"{r.name}（缺 {r.gap} 户）" for r in c.failing[:listed])
                more = f" 等 {len(c.failing)} 个村" if len(c.failing) > listed else ""
                lines.append(head + f"未达标，须每村达标：{names}{more}。")
        else:
            state = "达标" if c.meets else f"未达标，还差 {c.aggregate.gap} 户"
            lines.append(head + f"按全类别合计 {percent(c.aggregate.coverage)}，{state}。")
    return lines


COMMANDS: list[click.Command] = [coverage_command]
