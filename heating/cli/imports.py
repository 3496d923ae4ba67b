"""Import commands: import (preview/commit), batches, registry load, template."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from heating.cli.context import emit_json, get_runtime
from heating.errors import Refused
from imports.batches import NOTE_KEYS
from imports.fields import LEDGER_LABELS
from imports.issues import SEVERITY_LABELS
from imports.ledger_date import parse_option

ISSUES_SHOWN = 50
PROGRESS_MIN_BYTES = 2 * 1024 * 1024


class StderrProgress:
    """A progress bar on stderr, shown only when stderr is a terminal."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=max(total, 1), label=self.label, file=sys.stderr)
            self.bar.__enter__()
        # Sheets are opened one at a time: the total grows with each sheet.
        self.bar.length = max(total, 1)
        self.bar.update(max(0, done - self.done))
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _progress(label: str, size: int) -> StderrProgress | None:
    if size >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
        return StderrProgress(label)
    return None


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except IsADirectoryError:
        raise Refused(f"{path} 是一个目录，请给出台账文件。") from None


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


def print_outcome(out: dict[str, Any]) -> None:
    """A readable Chinese summary of an import outcome and its issues."""
    c = out["counts"]
    status = {"preview": "预览", "committed": "已提交"}.get(out.get("status"), out.get("status"))
    click.echo(f"文件：{out['file']}（SHA-256 {out['sha256'][:12]}…）")
    click.echo(f"批次：{out.get('batch')}（{status}）  乡镇：{out.get('township') or '—'}")
    for key in NOTE_KEYS:
        if out.get(key):
            click.echo(out[key])
    if out.get("same_file_message"):
        click.echo(out["same_file_message"])
    for sheet in out["sheets"]:
        ignored = "、".join(sheet["ignored_columns"]) or "无"
        click.echo(
            f"工作表 {sheet['name']}：表头在第 {sheet['header_row']} 行，"
            f"数据 {sheet['data_rows']} 行，忽略的列：{ignored}"
        )
    click.echo(
        f"共 {c['rows']} 行：新增 {c['new']}，更新 {c['updated']}，未变 {c['unchanged']}，"
        f"有错误 {c['rejected']}，跳过 {c['skipped']}，警告 {c['warnings']}"
    )
    if out["not_in_file"]:
        click.echo(f"本乡镇已有 {out['not_in_file']} 户未出现在此文件中（仅列出，不会删除）。")
    issues = out["issues"]
    if not issues:
        return
    click.echo(
        f"\n问题清单（共 {len(issues)} 条"
        + (f"，显示前 {ISSUES_SHOWN} 条）：" if len(issues) > ISSUES_SHOWN else "）：")
    )
    click.echo("级别\t工作表\t行\t列\t字段\t值\t说明")
    labels = LEDGER_LABELS
    for issue in issues[:ISSUES_SHOWN]:
        field = issue.get("field")
        click.echo(
            "\t".join(
                [
                    SEVERITY_LABELS.get(issue.get("severity"), _cell(issue.get("severity"))),
                    _cell(issue.get("sheet")),
                    _cell(issue.get("row")),
                    _cell(issue.get("column")),
                    labels.get(field, _cell(field)),
                    _cell(issue.get("value")),
                    _cell(issue.get("message")),
                ]
            )
        )


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--township", "township_code", help="乡镇代码（9 位）：文件属于哪个乡镇")
@click.option(
    "--ledger-date",
    "ledger_date",
    metavar="YYYY-MM-DD",
    help="台账日期（台账所描述的那一天，“数据截至”）；不给时取第一张表标题中的“截至…”日期，"
    "再看文件名，都没有时按上传当日",
)
@click.option("--commit", "do_commit", is_flag=True, help="预览后写入数据库（默认只预览）")
@click.option(
    "--accept-valid", is_flag=True, help="有错误行时只写入无误的行，错误行保存在批次记录中"
)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出导入结果")
def import_command(
    file: Path,
    township_code: str | None,
    ledger_date: str | None,
    do_commit: bool,
    accept_valid: bool,
    as_json: bool,
) -> None:
    """预览台账（默认不写入）；加 --commit 写入。"""
    from heating.figures_warmup import compute_before_commit
    from imports.batches import preview_parsed
    from imports.commit import commit

    day = None
    if ledger_date is not None:
        try:
            day = parse_option(ledger_date)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--ledger-date") from None
    runtime = get_runtime()
    data = _read_file(file)
    progress = _progress("读取台账", len(data))
    try:
        with runtime.session() as session:
            batch, out, parsed = preview_parsed(
                session,
                data,
                file.name,
                user_id=None,
                township_code=township_code,
                config=runtime.config,
                ledger_date=day,
                progress=progress,
                # The commit below takes the parse from here; a preview alone keeps it
                # for a later commit by batch id (imports.parse_cache).
                keep_parse=not do_commit,
            )
            batch_id = batch.id
    finally:
        if progress:
            progress.close()
    refusal: Refused | None = None
    if do_commit:
        progress = _progress("写入台账", len(data))
        try:
            with runtime.session() as session:
                _, out = commit(
                    session,
                    batch_id,
                    accept_valid=accept_valid,
                    user_id=None,
                    config=runtime.config,
                    progress=progress,
                    parsed=parsed,
                )
                # The district's figures, for the web app's pages (PostgreSQL).
                compute_before_commit(session, runtime.config)
        except Refused as exc:
            refusal = exc
        finally:
            if progress:
                progress.close()
    if as_json:
        if refusal is not None:
            # The preview's outcome, and why the commit was refused (e.g. period_locked).
            code = refusal.detail.get("code") if isinstance(refusal.detail, dict) else None
            out = out | {"refusal": {"code": code or "refused", "message": refusal.message}}
        emit_json(out)
    else:
        print_outcome(out)
        if not do_commit:
            click.echo("\n这是预览，未写入任何数据。确认无误后加 --commit 提交。")
        elif refusal is None:
            click.echo(f"\n已提交批次 {batch_id}。如需撤销：heating batches rollback {batch_id}")
            if out.get("expired_batches"):
                listed = "、".join(str(b) for b in out["expired_batches"])
                click.echo(f"本乡镇之前的预览批次 {listed} 已过期，不能再写入。")
    if refusal is not None:
        raise click.ClickException(refusal.message)


@click.group("batches")
def batches_group() -> None:
    """导入批次：历史与撤销。"""


@batches_group.command("list")
@click.option("--township", "township_code", help="只列出该乡镇（9 位代码）的批次")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def batches_list(township_code: str | None, as_json: bool) -> None:
    """列出台账和用量导入批次（最新在前）。"""
    from imports.batches import batch_json, list_batches

    runtime = get_runtime()
    with runtime.session() as session:
        rows = [
            batch_json(b, runtime.config.timezone)
            for b in list_batches(session, township_code, ("ledger", "usage"))
        ]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("还没有导入批次。")
        return
    click.echo("批次\t状态\t乡镇\t台账日期\t写入时间\t新增\t更新\t未变\t错误\t文件")
    for row in rows:
        c = row["counts"]
        when = (row["committed_at"] or row["created_at"] or "")[:16].replace("T", " ")
        click.echo(
            f"{row['id']}\t{row['status_label']}\t{_where(row)}\t"
            f"{row['ledger_date'] or '—'}\t{when}\t"
            f"{c.get('new', 0)}\t{c.get('updated', 0)}\t{c.get('unchanged', 0)}\t"
            f"{c.get('rejected', 0)}\t{row['file']}"
        )


def _where(row: dict[str, Any]) -> str:
    """The township of a ledger batch, the utility of a usage batch."""
    if row.get("kind") == "usage":
        return "用电量" if row["counts"].get("kind") == "electric" else "用气量"
    return row["township"] or "—"


@batches_group.command("rollback")
@click.argument("batch_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def batches_rollback(batch_id: int, as_json: bool) -> None:
    """撤销一个已提交的批次：每户恢复到该批次之前的状态。"""
    from imports.batches import batch_json
    from imports.rollback import rollback

    runtime = get_runtime()
    tz = runtime.config.timezone
    with runtime.session() as session:
        batch = rollback(session, batch_id, user_id=None, tz=tz)
        data = batch_json(batch, tz)
    if as_json:
        emit_json(data)
    else:
        click.echo(f"已撤销批次 {batch_id}（{data['file']}）。")


@click.group("registry")
def registry_group() -> None:
    """村庄名录。"""


@registry_group.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def registry_load(file: Path, as_json: bool) -> None:
    """加载或更新村庄名录（xlsx/xls/ods/csv）。"""
    from imports.registry import load_registry

    runtime = get_runtime()
    data = _read_file(file)
    try:
        with runtime.session() as session:
            report = load_registry(session, data, file.name, config=runtime.config)
    except Refused as exc:
        if as_json and isinstance(exc.detail, dict):
            emit_json(exc.detail)
        raise
    if as_json:
        emit_json(report)
        return
    click.echo(
        f"村庄名录已加载：{report['townships']} 个乡镇，{report['villages']} 个村"
        f"（新增 {report['new']}，更新 {report['updated']}）。"
    )
    if report.get("proposed"):
        click.echo(
            f"其中 {len(report['proposed'])} 个村的区域类别未填写，按城乡分类代码推定，请核对："
            + "、".join(
                f"{p['code']} {p['name']}→{p['category_label']}" for p in report["proposed"][:20]
            )
            + ("等" if len(report["proposed"]) > 20 else "")
        )
    for issue in report["issues"]:
        where = f"第 {issue['row']} 行" if issue.get("row") else ""
        click.echo(
            f"{SEVERITY_LABELS.get(issue['severity'], issue['severity'])} {where} {issue['message']}"
        )


@click.command("template")
@click.option("--township", "township_code", required=True, help="乡镇代码（9 位）")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出文件（.xlsx）",
)
def template_command(township_code: str, output: Path) -> None:
    """生成某乡镇的空白台账模板（.xlsx）。"""
    from imports.template import write_template

    if output.suffix.lower() != ".xlsx":
        raise click.BadParameter("模板文件名应以 .xlsx 结尾", param_hint="-o")
    runtime = get_runtime()
    with runtime.session() as session:
        count = write_template(session, township_code, output)
    click.echo(f"已生成模板 {output}（{count} 个村可选）。")


@click.group("uploads")
def uploads_group() -> None:
    """保存的上传文件：占用空间与保留期限。"""


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"


@uploads_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def uploads_status(as_json: bool) -> None:
    """显示保存的上传文件数量和总大小。"""
    from imports.storage import storage_summary

    runtime = get_runtime()
    with runtime.session() as session:
        summary = storage_summary(session)
    if as_json:
        emit_json(summary.as_json())
        return
    click.echo(
        f"保存的上传文件：{summary.files} 个，共 {_megabytes(summary.bytes)}；"
        f"已按保留期限删除 {summary.purged} 个。"
    )


@uploads_group.command("sweep")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出")
def uploads_sweep(as_json: bool) -> None:
    """按 upload_retention_days 删除已取消或已过期预览的上传文件（已写入批次的文件从不删除）。"""
    from imports.storage import sweep

    runtime = get_runtime()
    days = runtime.config.upload_retention_days
    with runtime.session() as session:
        result = sweep(session, days)
    if as_json:
        emit_json({**result.as_json(), "retention_days": days})
    elif days is None:
        click.echo("未设置 upload_retention_days：上传文件一直保留，未删除任何文件。")
    else:
        click.echo(
            f"保留期限 {days} 天：{result.expired_previews} 个超过期限的预览改为已过期，"
            f"删除 {result.purged_files} 个文件（{_megabytes(result.purged_bytes)}）。"
        )


COMMANDS: list[click.Command] = [
    import_command,
    batches_group,
    registry_group,
    template_command,
    uploads_group,
]
