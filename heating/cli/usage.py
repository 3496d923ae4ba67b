"""Evidence-of-use commands: ``heating usage import`` (utility readings)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from heating.cli.context import emit_json, get_runtime
from heating.errors import Refused
from imports.issues import SEVERITY_LABELS

ISSUES_SHOWN = 50
UNMATCHED_SHOWN = 20


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
    from heating import clock
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


COMMANDS: list[click.Command] = [usage_group]
