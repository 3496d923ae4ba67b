"""``heating report``: the annual evaluation report as an .xlsx file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from heating.cli.context import emit_json, get_runtime, parse_date_option
from heating.errors import Refused
from heating.measures import percent


@click.command("report")
@click.option("--year", type=int, required=True, help="报告年度，如 2021")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="数据截止日期 YYYY-MM-DD（默认为该年度的配置截止日 report_cutoff，如 10-31）",
)
@click.option(
    "--district", "district_code", metavar="CODE", help="区县代码（库中有多个区县时必填）"
)
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出文件 .xlsx",
)
@click.option("--json", "as_json", is_flag=True, help="输出机器可读的 JSON 结果")
def report(
    year: int, as_of: str | None, district_code: str | None, output: Path, as_json: bool
) -> None:
    """生成年度“回头看”评估报告（Excel），按截止日冻结数据，重新生成数字不变。"""
    from heating.report import build_report

    if output.suffix.lower() != ".xlsx":
        raise Refused(f"输出文件应以 .xlsx 结尾，得到 {output.name}。")
    day = parse_date_option(as_of)
    runtime = get_runtime()
    started = time.perf_counter()
    with runtime.session() as session:
        built = build_report(session, runtime.config, year, as_of=day, district_code=district_code)
    output.write_bytes(built.content)
    s = built.snapshot
    outcome = {
        "file": str(output),
        "district": s.district_code,
        "year": s.year,
        "as_of": s.as_of,
        "previous_as_of": s.previous_as_of,
        "generated_at": s.generated_at,
        "villages": len(s.villages),
        "required": s.total.required,
        "clean": s.total.clean,
        "coverage": s.total.coverage,
        "failing_villages": len(s.failing),
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        emit_json(outcome)
        return
    coverage = percent(s.total.coverage)
    click.echo(
        f"已生成 {output}：{s.district_name}{s.year}年度，数据截至 {s.as_of:%Y-%m-%d}，"
        f"{len(s.villages)} 个村，覆盖率 {coverage}，未达标村 {len(s.failing)} 个"
        f"（用时 {outcome['seconds']} 秒）。"
    )


COMMANDS: list[click.Command] = [report]
