"""Heat-source register and boiler ledger commands: heat-sources load, boilers load/status."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from heating.cli.context import district_option, emit_json, get_runtime, parse_date_option
from heating.errors import Refused
from heating.models import BOILER_STATE_LABELS
from heating.scope import resolve_scope
from imports.issues import SEVERITY_LABELS

LISTED = 30


def _echo_issues(issues: list[dict[str, Any]]) -> None:
    for issue in issues:
        where = f"第 {issue['row']} 行" if issue.get("row") else ""
        if issue.get("column"):
            where += f" {issue['column']} 列"
        severity = SEVERITY_LABELS.get(issue["severity"], issue["severity"])
        click.echo(f"{severity} {where} {issue['message']}".replace("  ", " "), err=True)


def _load(loader: Any, file: Path, as_json: bool) -> dict[str, Any]:
    runtime = get_runtime()
    data = file.read_bytes()
    try:
        with runtime.session() as session:
            result = loader(session, data, file.name, config=runtime.config)
    except Refused as exc:
        if isinstance(exc.detail, dict):
            if as_json:
                emit_json(exc.detail)
            else:
                _echo_issues(exc.detail.get("issues", []))
        raise
    if as_json:
        emit_json(result)
    return result


@click.group("heat-sources")
def heat_sources_group() -> None:
    """热源名单（先立后破：工业余热须环保绩效 B 级及以上、未列入关停淘汰计划）。"""


@heat_sources_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def heat_sources_load(file: Path, as_json: bool) -> None:
    """加载或更新热源名单（xlsx/xls/ods/csv），并列出台账中未匹配的热源名称。"""
    from imports.heat_sources import load_heat_sources

    result = _load(load_heat_sources, file, as_json)
    if as_json:
        return
    click.echo(
        f"热源名单已加载：{result['sources']} 个热源（新增 {result['new']}，更新 {result['updated']}）。"
    )
    unmatched = result["unmatched_ledger_sources"]
    if unmatched:
        click.echo(f"台账中有 {len(unmatched)} 个热源名称不在名单中（按乡镇）：")
        for item in unmatched[:LISTED]:
            click.echo(f"  {item['township']}  {item['name']}  {item['households']} 户")
        if len(unmatched) > LISTED:
            click.echo(f"  …… 另有 {len(unmatched) - LISTED} 个，用 --json 查看全部")
    _echo_issues(result["issues"])


@click.group("boilers")
def boilers_group() -> None:
    """燃煤锅炉台账与 35 蒸吨及以下燃煤锅炉清零进度。"""


@boilers_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def boilers_load(file: Path, as_json: bool) -> None:
    """加载或更新锅炉台账（按锅炉编号更新，保留每台锅炉的状态历史）。"""
    from imports.boilers import load_boilers

    result = _load(load_boilers, file, as_json)
    if as_json:
        return
    click.echo(
        f"锅炉台账已加载：{result['boilers']} 台锅炉（新增 {result['new']}，更新 {result['updated']}）。"
    )
    _echo_issues(result["issues"])


@boilers_group.command("status")
@click.option("--as-of", "as_of", help="截至日期 YYYY-MM-DD（默认今天）")
@click.option(
    "--max-tph", "max_tph", type=float, help="清零范围：额定蒸发量上限 t/h（默认按设置，35）"
)
@district_option
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def boilers_status(
    as_of: str | None, max_tph: float | None, district_code: str | None, as_json: bool
) -> None:
    """燃煤锅炉清零进度：范围内、已清零、剩余（按状态、乡镇），禁煤区内、检查逾期，燃气锅炉低氮改造。"""
    from heating.boilers import boiler_status

    day = parse_date_option(as_of)
    if max_tph is not None and max_tph <= 0:
        raise click.BadParameter("应为正数，如 35", param_hint="--max-tph")
    runtime = get_runtime()
    config = runtime.config
    limit = config.boiler_max_tph if max_tph is None else max_tph
    with runtime.session() as session:
        status = boiler_status(
            session,
            as_of=day,
            max_tph=int(limit) if float(limit).is_integer() else limit,
            inspection_days=config.boiler_inspection_days,
            district_code=resolve_scope(session, district_code).district_code,
        )
    data = status.as_json()
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"截至 {data['as_of']}，{data['max_tph']} 蒸吨及以下燃煤锅炉：范围内 {data['in_scope']} 台，"
        f"已清零 {data['cleared']} 台，剩余 {data['remaining']} 台"
        f"（其中位于禁煤区内 {data['remaining_in_zones']} 台）。"
    )
    states = "，".join(
        f"{BOILER_STATE_LABELS.get(k, '状态未知')} {n}" for k, n in data["by_state"].items() if n
    )
    click.echo(f"按状态：{states or '无'}")
    for t in data["by_township"]:
        click.echo(
            f"  {t['township']} {t['name']}：范围内 {t['in_scope']}，已清零 {t['cleared']}，"
            f"剩余 {t['remaining']}"
        )
    for b in status.remaining_in_zones:
        click.echo(
            f"  ！禁煤区 {b.zone_id} 内仍有燃煤锅炉 {b.code}（{b.unit or '单位未填'}，"
            f"{BOILER_STATE_LABELS.get(b.state, '状态未知')}）"
        )
    click.echo(
        f"停用/烟道切断/应急备用 {len(status.dormant)} 台，其中超过 {status.inspection_days} 天"
        f"未检查 {data['inspection_overdue']} 台。"
    )
    gas = data["gas_low_nox"]
    click.echo(
        f"燃气锅炉低氮改造：共 {gas['total']} 台，已完成 {gas['done']} 台，未完成 {gas['remaining']} 台。"
    )


COMMANDS: list[click.Command] = [heat_sources_group, boilers_group]
