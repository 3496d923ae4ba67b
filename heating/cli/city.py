"""``heating city``: every district of the installation ranked by gap, then coverage."""

from __future__ import annotations

import click

from heating.cli.context import emit_json, get_runtime, parse_date_option, parse_known_at_option
from heating.cli.measures import format_table, yes_no
from heating.targets import percent


@click.command("city")
@click.option(
    "--as-of", "as_of", help="统计日期 YYYY-MM-DD：每户取台账日期不晚于当日的最近一期台账"
)
@click.option(
    "--known-at",
    "known_at",
    metavar="TIME",
    help="已知时点（ISO 8601；不带时区按配置时区，只写日期指当日结束）：只计入此时刻以前记录的数据",
)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON")
def city_command(as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """全市汇总：各区县的应改造、已改造、覆盖率、缺口，按缺口从大到小、再按覆盖率从低到高排名。"""
    from heating.city import city_summary

    day = parse_date_option(as_of)
    runtime = get_runtime()
    known = parse_known_at_option(known_at, runtime.config.timezone)
    with runtime.session() as session:
        summary = city_summary(session, runtime.config.profile, as_of=day, known_at=known)
    if as_json:
        emit_json(summary.as_json())
        return
    if not summary.lines:
        click.echo(
            "库中还没有村庄：请先导入村庄名录（heating registry load）或 heating demo --city。"
        )
        return
    when = f"截至 {day.isoformat()}" if day else "当前"
    click.echo(
        f"全市清洁取暖改造汇总（{when}，{len(summary.lines)} 个区县，按缺口从大到小、再按覆盖率从低到高排名）"
    )
    headers = [
        "排名",
        "区县代码",
        "区县",
        "乡镇数",
        "村数",
        "应改造户数",
        "已改造户数",
        "覆盖率",
        "缺口（户）",
        "达标",
    ]
    body = [
        [
            str(line.rank),
            line.code,
            line.name,
            str(line.townships),
            str(line.total.villages),
            str(line.total.required),
            str(line.total.clean),
            percent(line.total.coverage),
            str(line.total.gap),
            yes_no(line.total.meets),
        ]
        for line in summary.lines
    ]
    t = summary.total
    body.append(
        ["", "", "全市", "", str(t.villages), str(t.required), str(t.clean),
         percent(t.coverage), str(t.gap), yes_no(t.meets)]
    )  # fmt: skip
    click.echo(format_table(headers, body, numeric={0, 3, 4, 5, 6, 7, 8}))


COMMANDS: list[click.Command] = [city_command]
