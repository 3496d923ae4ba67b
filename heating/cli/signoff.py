"""``heating signoff``: township submission, district approval and the period lock."""

from __future__ import annotations

from datetime import date
from typing import Any

import click

from heating import clock
from heating.cli.context import district_option, emit_json, get_runtime
from heating.config import Config
from heating.scope import resolve_scope
from heating.targets import percent


def _period(value: str | None, config: Config, *, option: str = "--period") -> date | None:
    from heating.signoff_periods import parse_period

    if value is None:
        return None
    try:
        return parse_period(value, config)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


@click.group("signoff")
def signoff_group() -> None:
    """报送与审核：乡镇报送某期（报告截止日）数据，区级审核通过后该期数据锁定。"""


@signoff_group.command("status")
@click.option("--period", metavar="DATE", help="报送期 YYYY-MM-DD（报告截止日，默认当前报送期）")
@click.option("--township", "township_code", metavar="CODE", help="只看该乡镇（9 位代码）")
@district_option
@click.option("--json", "as_json", is_flag=True, help="输出机器可读的 JSON")
def status_command(
    period: str | None, township_code: str | None, district_code: str | None, as_json: bool
) -> None:
    """列出各乡镇某期的报送状态（未报送的乡镇也列出）。"""
    from heating.signoff import statuses
    from heating.signoff_periods import current_period

    runtime = get_runtime()
    config = runtime.config
    day = _period(period, config) or current_period(config)
    with runtime.session() as session:
        scope = resolve_scope(session, district_code, township_code)
        rows = statuses(session, day, **scope.kwargs)
    tz = config.timezone
    if as_json:
        emit_json([r.as_json(tz) for r in rows])
        return
    approved = sum(1 for r in rows if r.state == "approved")
    click.echo(f"报送期 {day.isoformat()}：{approved}/{len(rows)} 个乡镇已审核。")
    click.echo("乡镇代码\t乡镇\t状态\t操作人\t时间\t理由/说明")
    for r in rows:
        words = r.reason or r.note or ""
        click.echo(
            f"{r.township}\t{r.name}\t{r.label}\t{r.by or '—'}\t"
            f"{clock.shown(r.at, tz) or '—'}\t{words}"
        )


def _act(
    action: str,
    township_code: str,
    period: str,
    username: str,
    *,
    text: str | None = None,
    confirm: bool = False,
    as_json: bool = False,
) -> None:
    from heating import signoff
    from heating.signoff_checks import review

    runtime = get_runtime()
    config = runtime.config
    day = _period(period, config)
    assert day is not None
    with runtime.session() as session:
        user = signoff.acting_user(session, username)
        if action == "submit" and not as_json:
            township = signoff.township_by_code(session, township_code)
            _print_review(review(session, config, township, day))
        result = signoff.transition(
            session, config, action, township_code, day, user, text=text, confirm=confirm
        )
    if as_json:
        emit_json(result.as_json(config.timezone))
        return
    click.echo(
        f"{signoff.ACTION_VERBS[action]}完成：{result.name}（{result.township}）"
        f"{result.period.isoformat()} 期现为“{result.label}”。"
    )
    if action == "approve":
        click.echo("该期截止日（含）以前的数据已锁定；如需修改，须由管理员撤回审核。")
    if action == "withdraw":
        click.echo("锁定已解除：乡镇可以修改后重新报送。")


def _print_review(found: Any) -> None:
    f = found.figures
    click.echo(
        f"{found.township_name}（{found.township_code}）截至 {found.period.isoformat()}："
        f"应改造 {f.required:,} 户，已完成 {f.clean:,} 户，覆盖率 {percent(f.coverage)}，"
        f"有效覆盖率 {percent(f.effective_coverage)}，差距 {f.gap:,} 户。"
    )
    if found.ledger is None:
        click.echo("注意：截止日（含）以前没有本乡镇的台账。")
    else:
        click.echo(f"截止日前最近一期台账：{found.ledger.ledger_date}（批次 {found.ledger.id}）。")
    if found.problems:
        click.echo(f"待处理问题 {len(found.problems)} 项：")
        for p in found.problems:
            click.echo(f"  - {p.message}")
    else:
        click.echo("没有发现待处理问题。")


def _common(command: Any) -> Any:
    command = click.option("--json", "as_json", is_flag=True, help="输出机器可读的 JSON")(command)
    command = click.option(
        "--user", "username", required=True, metavar="NAME", help="操作人用户名（须有相应角色）"
    )(command)
    command = click.option(
        "--period", required=True, metavar="DATE", help="报送期 YYYY-MM-DD（报告截止日）"
    )(command)
    return click.option(
        "--township", "township_code", required=True, metavar="CODE", help="乡镇代码（9 位）"
    )(command)


@signoff_group.command("submit")
@_common
@click.option("--note", metavar="TEXT", help="报送说明（可选）")
@click.option("--confirm", is_flag=True, help="已核对待处理问题，确认报送（有问题时必须）")
def submit_command(
    township_code: str,
    period: str,
    username: str,
    as_json: bool,
    note: str | None,
    confirm: bool,
) -> None:
    """乡镇报送某期数据（填报员报本乡镇；管理员可代报）。"""
    _act("submit", township_code, period, username, text=note, confirm=confirm, as_json=as_json)


@signoff_group.command("approve")
@_common
def approve_command(township_code: str, period: str, username: str, as_json: bool) -> None:
    """审核通过某乡镇已报送的一期（区级审核或管理员），通过后该期锁定。"""
    _act("approve", township_code, period, username, as_json=as_json)


@signoff_group.command("return")
@_common
@click.option("--reason", metavar="TEXT", help="退回理由（必填）")
def return_command(
    township_code: str, period: str, username: str, as_json: bool, reason: str | None
) -> None:
    """退回某乡镇已报送的一期（须写明理由），乡镇修改后可重新报送。"""
    _act("return", township_code, period, username, text=reason, as_json=as_json)


@signoff_group.command("withdraw")
@_common
@click.option("--reason", metavar="TEXT", help="撤回理由（必填）")
def withdraw_command(
    township_code: str, period: str, username: str, as_json: bool, reason: str | None
) -> None:
    """撤回已审核的一期（仅管理员，须写明理由）：解除锁定，状态变为已退回。"""
    _act("withdraw", township_code, period, username, text=reason, as_json=as_json)


COMMANDS: list[click.Command] = [signoff_group]
