"""Evidence-of-use commands: ``heating usage import`` (utility readings)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from heating import clock
from heating.cli.context import district_option, emit_json, get_runtime, parse_date_option
from heating.errors import Refused
from heating.models import ROUTE_LABELS
from heating.scope import resolve_scope
from imports.issues import SEVERITY_LABELS

ISSUES_SHOWN = 50
UNMATCHED_SHOWN = 20
F = TypeVar("F", bound=Callable[..., Any])


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def print_usage_outcome(out: dict[str, Any]) -> None:
    """A readable Chinese summary of a usage import and its issues."""
    from imports.usage import LABELS

    c = out["counts"]
    what = "用电量" if out["kind"] == "electric" else "用气量"
    status = {"preview": "预览", "committed": "已提交"}.get(out.get("status"), out.get("status"))
    click.echo(f"文件：{out['file']}（{what}）  批次：{out.get('batch')}（{status}）")
    for sheet in out["sheets"]:
        form = "按表示数" if sheet["form"] == "reading" else "按时段用量"
        click.echo(
            f"工作表 {sheet['name']}：{form}，表头在第 {sheet['header_row']} 行，"
            f"数据 {sheet['data_rows']} 行"
        )
    click.echo(
        f"共 {c['rows']} 行：新增 {c['new']}，更新 {c['updated']}，未变 {c['unchanged']}，"
        f"有错误 {c['rejected']}，跳过 {c['skipped']}，警告 {c['warnings']}"
    )
    click.echo(
        f"户号 {out['accounts']} 个，与台账匹配 {out['matched']} 个；"
        f"涉及采暖季：{'、'.join(out['seasons']) or '无'}"
    )
    unmatched = out["unmatched_accounts"]
    if unmatched:
        more = "等" if len(unmatched) > UNMATCHED_SHOWN else ""
        click.echo(
            f"台账中没有的户号 {len(unmatched)} 个（仅列出，不是错误）："
            f"{'、'.join(unmatched[:UNMATCHED_SHOWN])}{more}"
        )
    issues = out["issues"]
    if not issues:
        return
    click.echo(f"\n问题清单（共 {len(issues)} 条）：")
    click.echo("级别\t工作表\t行\t列\t字段\t说明")
    for issue in issues[:ISSUES_SHOWN]:
        click.echo(
            "\t".join(
                [
                    SEVERITY_LABELS.get(issue["severity"], issue["severity"]),
                    _cell(issue["sheet"]),
                    _cell(issue["row"]),
                    _cell(issue["column"]),
                    LABELS.get(issue["field"] or "", _cell(issue["field"])),
                    issue["message"],
                ]
            )
        )


def _season_or_default(session: Any, season: int | None) -> int:
    """--season, else the season /usage shows by default (``heating.evidence.default_season``)."""
    if season is not None:
        return season
    from heating.evidence import default_season  # ≈ 0.3 s: only when a season is needed

    config = get_runtime().config
    return default_season(session, config.usage, config.timezone)


def season_report_options(command: F) -> F:
    """--season, --township, --district and --json: the options of a season's report."""
    for option in (
        click.option("--json", "as_json", is_flag=True, help="以 JSON 输出"),
        district_option,
        click.option("--township", "township_code", help="只看一个乡镇（9 位代码）"),
        click.option(
            "--season",
            "season",
            type=int,
            help="采暖季（按开始年份，如 2021）；默认与用量核验页相同：用量数据所及、已结束的最近一季",
        ),
    ):
        command = option(command)
    return command


@click.group("usage")
def usage_group() -> None:
    """用电量、用气量：导入与疑似改而不用。"""


@usage_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kind",
    type=click.Choice(["electric", "gas"]),
    required=True,
    help="electric 用电量（煤改电户），gas 用气量（煤改气户）",
)
@click.option("--commit", "do_commit", is_flag=True, help="预览后写入数据库（默认只预览）")
@click.option(
    "--accept-valid", is_flag=True, help="有错误行时只写入无误的行，错误行保存在批次记录中"
)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出导入结果")
def usage_import(file: Path, kind: str, do_commit: bool, accept_valid: bool, as_json: bool) -> None:
    """预览供电/燃气公司的用量文件（按户号匹配台账）；加 --commit 写入。"""
    from imports.usage_batches import commit_usage, preview_usage

    runtime = get_runtime()
    data = file.read_bytes()
    today = clock.today(runtime.config.timezone)
    refusal: Refused | None = None
    with runtime.session() as session:
        batch, parsed = preview_usage(
            session,
            data,
            file.name,
            kind,
            config=runtime.config,
            today=today,
            user_id=None,
        )
        out = parsed.outcome(batch)
    if do_commit:
        try:
            with runtime.session() as session:
                batch = commit_usage(
                    session, out["batch"], parsed, accept_valid=accept_valid, user_id=None
                )
                out = parsed.outcome(batch)
        except Refused as exc:
            refusal = exc
    if as_json:
        if refusal is not None:
            out = out | {"refusal": {"code": "refused", "message": refusal.message}}
        emit_json(out)
    else:
        print_usage_outcome(out)
        if not do_commit:
            click.echo("\n这是预览，未写入任何数据。确认无误后加 --commit 提交。")
        elif refusal is None:
            click.echo(
                f"\n已提交批次 {out['batch']}。如需撤销：heating batches rollback {out['batch']}"
            )
    if refusal is not None:
        raise click.ClickException(refusal.message)


@usage_group.command("flags")
@season_report_options
def usage_flags(
    season: int | None, township_code: str | None, district_code: str | None, as_json: bool
) -> None:
    """疑似改而不用：已完工的煤改电/煤改气户中，采暖季用量远低于同类户的户。"""
    from heating.usage_flags import flags_report

    runtime = get_runtime()
    settings = runtime.config.usage
    with runtime.session() as session:
        season = _season_or_default(session, season)
        scope = resolve_scope(session, district_code, township_code)
        out = flags_report(session, season, settings, **scope.kwargs)
    if as_json:
        emit_json(out)
        return
    rule = out["rule"]
    click.echo(
        f"{out['season']} 采暖季（{out['season_start']} 至 {out['season_end']}）疑似改而不用："
        f"核验 {out['checked']} 户，疑似 {out['flagged']} 户，无用量数据 {out['no_data']} 户。"
    )
    click.echo(
        f"规则：用量为 0，或低于同乡镇同类户（不足 {rule['min_peers']} 户时全区同类户）"
        f"中位数的 {rule['ratio'] * 100:g}%。"
    )
    if not out["checked"] and not out["no_data"]:
        click.echo(
            "没有可核验的户：须为采暖季开始前已完工的煤改电/煤改气户，并导入用量（heating usage import）。"
        )
    for t in out["by_township"]:
        click.echo(
            f"  {t['name']}（{t['township']}）：核验 {t['checked']}，疑似 {t['flagged']}，无数据 {t['no_data']}"
        )
    if out["households"]:
        click.echo("\n村代码\t户号\t户主\t方式\t用量\t中位数\t比例")
        for h in out["households"]:
            ratio = "—" if h["ratio"] is None else f"{h['ratio'] * 100:.0f}%"
            median = "—" if h["median"] is None else f"{h['median']:g}"
            click.echo(
                f"{h['village']}\t{h['household_no'] or '—'}\t{h['head_name']}\t"
                f"{'煤改电' if h['route'] == 'electric' else '煤改气'}\t{h['use']:g}\t{median}\t{ratio}"
            )


@usage_group.command("coal-subsidy")
@click.option("--as-of", "as_of", help="统计日期 YYYY-MM-DD（默认当前）")
@district_option
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def usage_coal_subsidy(as_of: str | None, district_code: str | None, as_json: bool) -> None:
    """已完成清洁取暖的村和禁煤区内仍记有洁净煤补贴的户（coal_subsidy_in_zone）。"""
    from heating.coal_subsidy import coal_subsidies_in_zones

    runtime = get_runtime()
    with runtime.session() as session:
        scope = resolve_scope(session, district_code)
        found = [
            h
            for h in coal_subsidies_in_zones(
                session,
                runtime.config.profile,
                as_of=parse_date_option(as_of),
                district_code=scope.district_code,
            )
            if scope.holds(h["village"])
        ]
    if as_json:
        emit_json({"code": "coal_subsidy_in_zone", "households": len(found), "list": found})
        return
    if not found:
        click.echo("已完成清洁取暖的村和禁煤区内没有记有洁净煤补贴的户。")
        return
    click.echo(
        f"已完成清洁取暖的村和禁煤区内仍记有洁净煤补贴的户：{len(found)} 户（不得再补贴使用煤炭）"
    )
    click.echo("村代码\t户号\t户主\t洁净煤补贴（元）\t位置")
    for h in found:
        click.echo(
            f"{h['village']}\t{h['household_no'] or '—'}\t{h['head_name']}\t"
            f"{h['coal_subsidy']:,.2f}\t{h['where']}"
        )


def _plan_line(plan: dict[str, Any]) -> str:
    """A plan as one line of text: state, unit, due date, overdue."""
    parts = [plan["state_label"]]
    if plan["unit"]:
        parts.append(f"责任单位 {plan['unit']}")
    if plan["due_on"]:
        parts.append(f"完成时限 {plan['due_on'].isoformat()}")
    if plan["overdue"]:
        parts.append("已逾期")
    return "，".join(parts)


@usage_group.group("plans", invoke_without_command=True)
@click.option("--as-of", "as_of", help="统计日期 YYYY-MM-DD（默认当前）")
@district_option
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
@click.pass_context
def usage_plans(
    ctx: click.Context, as_of: str | None, district_code: str | None, as_json: bool
) -> None:
    """需要系统化解决方案的村和乡镇（已完成户中复烧/弃用或疑似改而不用超过 relapse_share）及其方案。

    不带子命令时列出这些村和乡镇及各自的方案状态；heating usage plans set 记录方案。
    """
    if ctx.invoked_subcommand is not None:
        return
    from heating.measures import coverage
    from heating.relapse import needing_plan
    from heating.relapse_plans import plans_in_force, with_plans

    runtime = get_runtime()
    config = runtime.config
    day = parse_date_option(as_of)
    threshold = config.usage.relapse_share
    today = clock.today(config.timezone)
    with runtime.session() as session:
        scope = resolve_scope(session, district_code)
        plans = plans_in_force(session)
        out = {
            by: with_plans(
                needing_plan(
                    coverage(
                        session, config.profile, by, as_of=day, usage=config.usage, **scope.kwargs
                    ),
                    threshold,
                ),
                by,
                plans,
                today,
            )
            for by in ("village", "township")
        }
    if as_json:
        emit_json(
            {"relapse_share": threshold, "villages": out["village"], "townships": out["township"]}
        )
        return
    click.echo(
        f"需要系统化解决方案（已完成户中散煤复烧/弃用或疑似改而不用超过 {threshold * 100:g}%）："
        f"村 {len(out['village'])} 个，乡镇 {len(out['township'])} 个。"
    )
    for by, label in (("township", "乡镇"), ("village", "村")):
        for r in out[by]:
            click.echo(
                f"  {label} {r['name']}（{r['key']}）：已完成 {r['clean']}，复烧/弃用 {r['lapsed']}，"
                f"疑似改而不用 {r['flagged_not_lapsed']}，占 {r['share'] * 100:.1f}%；"
                f"方案：{_plan_line(r['plan'])}"
            )
    if out["village"] or out["township"]:
        click.echo(
            "记录方案：heating usage plans set --village CODE（或 --township CODE）"
            " --state 已制定 --text … --unit … --due YYYY-MM-DD"
        )


@usage_plans.command("set")
@click.option("--village", "village_code", help="村代码（12 位）")
@click.option("--township", "township_code", help="乡镇代码（9 位）")
@click.option(
    "--state",
    required=True,
    help="方案状态：未制定、已制定、已完成（或 none、made、done）",
)
@click.option("--text", "text", help="方案内容（已制定、已完成时必填）")
@click.option("--unit", "unit", help="责任单位（已制定、已完成时必填）")
@click.option("--due", "due", help="完成时限 YYYY-MM-DD（已制定、已完成时必填）")
@click.option("--user", "username", metavar="NAME", help="记录人用户名（须为区级审核或管理员）")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出记录的方案")
def usage_plans_set(
    village_code: str | None,
    township_code: str | None,
    state: str,
    text: str | None,
    unit: str | None,
    due: str | None,
    username: str | None,
    as_json: bool,
) -> None:
    """记录一个村或乡镇的系统化解决方案（内容、责任单位、完成时限、状态），写入审计日志。"""
    from heating.relapse_plans import plan_view, record_plan
    from heating.signoff import acting_user

    if bool(village_code) == bool(township_code):
        raise click.UsageError("请用 --village 或 --township 指定一个村或乡镇（二者选一）。")
    kind, code = ("village", village_code) if village_code else ("township", township_code)
    due_on = parse_date_option(due, "--due")
    runtime = get_runtime()
    with runtime.session() as session:
        try:
            user = acting_user(session, username) if username else None
            plan = record_plan(
                session,
                kind,
                code or "",
                state=state,
                text=text,
                unit=unit,
                due_on=due_on,
                user=user,
            )
        except Refused as exc:
            raise click.ClickException(exc.message) from None
        view = plan_view(plan, clock.today(runtime.config.timezone))
        plan_id = plan.id
    if as_json:
        emit_json({"place_kind": kind, "place_code": code, "plan": plan_id} | view)
        return
    click.echo(
        f"已记录{'村' if kind == 'village' else '乡镇'} {code} 的系统化解决方案：{_plan_line(view)}"
    )


@click.group("subsidy")
def subsidy_group() -> None:
    """补贴发放计划（按配置的补贴规则）。"""


@subsidy_group.command("schedule")
@season_report_options
def subsidy_schedule(
    season: int | None, township_code: str | None, district_code: str | None, as_json: bool
) -> None:
    """本采暖季应发运行补贴、本季到期（下一季起不再发放）的户和设备补贴与规则不符的户。"""
    from heating.subsidy import schedule

    runtime = get_runtime()
    config = runtime.config
    with runtime.session() as session:
        season = _season_or_default(session, season)
        scope = resolve_scope(session, district_code, township_code)
        out = schedule(session, season, config.subsidy, config.usage, **scope.kwargs)
    if as_json:
        emit_json(out)
        return
    click.echo(
        f"{out['season']} 采暖季：应发运行补贴 {out['due_households']} 户，共 {out['due_total']:,.2f} 元；"
        f"本季为最后一季 {out['ending_households']} 户；设备补贴与规则不符 {out['mismatched_device']} 户，"
        f"未填设备补贴 {out['device_missing']} 户；没有适用规则的已完工户 {out['no_rule']} 户。"
    )
    click.echo("乡镇\t方式\t应发户数\t应发金额（元）\t本季到期\t设备补贴不符")
    for t in out["by_township"]:
        for r in t["by_route"]:
            label = ROUTE_LABELS.get(r["route"], r["route"] or "—")
            click.echo(
                f"{t['name']}\t{label}\t{r['due_households']}\t{r['due_total']:,.2f}\t"
                f"{r['ending_households']}\t{r['mismatched_device']}"
            )
    if out["ending"]:
        click.echo("\n运行补贴本季到期的户（下一采暖季有复烧风险）：")
        for h in out["ending"]:
            click.echo(
                f"  {h['village']}\t{h['household_no'] or '—'}\t{h['head_name']}\t完工 {h['completed_on']}"
            )


COMMANDS: list[click.Command] = [usage_group, subsidy_group]
