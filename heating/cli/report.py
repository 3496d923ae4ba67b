"""``heating report``: the annual evaluation report as an .xlsx file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from heating import clock
from heating.cli.context import emit_json, get_runtime, parse_date_option, parse_known_at_option
from heating.errors import Refused
from heating.targets import percent


@click.command("report")
@click.option("--year", type=int, required=True, help="报告年度，如 2021")
@click.option(
    "--as-of",
    "as_of",
    metavar="DATE",
    help="数据截止日期 YYYY-MM-DD（默认为该年度的配置截止日 report_cutoff，如 10-31）",
)
@click.option(
    "--known-at",
    "known_at",
    metavar="TIME",
    help="已知时点（ISO 8601，如 2021-11-05T09:30；不带时区按配置时区，只写日期指当日结束）："
    "只计入此时刻以前记录的数据，默认为生成时刻；用封面上的已知时点重新生成可得到相同数字",
)
@click.option(
    "--district", "district_code", metavar="CODE", help="区县代码（库中有多个区县时必填）"
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="输出文件 .xlsx（一个区县的报告）",
)
@click.option(
    "--city",
    "whole_city",
    is_flag=True,
    help="全市：每个区县一份完整报告，另加全市汇总（含“分区县”表），都写到 --out 目录",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="--city 时的输出目录（不存在则创建）",
)
@click.option(
    "--approved-only",
    "approved_only",
    is_flag=True,
    help="只含已审核乡镇的数据：未审核乡镇的村显示为“—”，合计标注“仅含已审核乡镇（n/N）”，"
    "含未审核村的区域类别不判断是否达标",
)
@click.option("--json", "as_json", is_flag=True, help="输出机器可读的 JSON 结果")
def report(
    year: int,
    as_of: str | None,
    known_at: str | None,
    district_code: str | None,
    output: Path | None,
    whole_city: bool,
    out_dir: Path | None,
    approved_only: bool,
    as_json: bool,
) -> None:
    """生成年度“回头看”评估报告（Excel），按截止日冻结数据，重新生成数字不变。"""
    from heating.report import build_report

    if whole_city:
        if out_dir is None or output is not None or district_code or approved_only:
            raise click.UsageError(
                "--city 须与 --out 目录一起使用，不能同时给出 -o、--district 或 --approved-only。"
            )
        _city_reports(year, as_of, known_at, out_dir, as_json)
        return
    if output is None:
        raise click.UsageError(
            "请用 -o 指定输出文件（.xlsx），或用 --city --out 目录 生成全市报告。"
        )
    if output.suffix.lower() != ".xlsx":
        raise Refused(f"输出文件应以 .xlsx 结尾，得到 {output.name}。")
    day = parse_date_option(as_of)
    runtime = get_runtime()
    tz = runtime.config.timezone
    known = parse_known_at_option(known_at, tz)
    started = time.perf_counter()
    with runtime.session() as session:
        built = build_report(
            session,
            runtime.config,
            year,
            as_of=day,
            district_code=district_code,
            known_at=known,
            approved_only=approved_only,
        )
    output.write_bytes(built.content)
    s = built.snapshot
    outcome = {
        "file": str(output),
        "district": s.district_code,
        "year": s.year,
        "as_of": s.as_of,
        "previous_as_of": s.previous_as_of,
        "generated_at": clock.iso(s.generated_at, tz),
        "known_at": clock.iso(s.known_at, tz),
        "recorded_later": s.sources.recorded_later,
        "villages": len(s.villages),
        "required": s.total.required,
        "clean": s.total.clean,
        "coverage": s.total.coverage,
        # Villages of 100% categories below 100%, and (context) of categories judged on
        # a total below target; null where no village is approved (--approved-only).
        "failing_villages": None if s.counts_unsupported else len(s.failing),
        "below_target_villages": None if s.counts_unsupported else len(s.below_target),
        "meets": s.total.meets,
        "draft": s.draft,
        "approved_only": approved_only,
        "total_label": s.total.name,
        "categories": [r.as_json() for r in s.categories],
        "signoff": s.signoff.as_json(tz) if s.signoff else None,
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        emit_json(outcome)
        return
    coverage = percent(s.total.coverage)
    click.echo(
        f"已生成 {output}：{s.district_name}{s.year}年度，数据截至 {s.as_of:%Y-%m-%d}，"
        f"{len(s.villages)} 个村，覆盖率 {coverage}，目标 100% 的类别中未达标村 "
        f"{s.village_count(s.failing)}（另有按合计考核的类别中低于目标的村 "
        f"{s.village_count(s.below_target)}，不计为未达标；"
        f"用时 {outcome['seconds']} 秒）。"
    )
    click.echo(
        f"已知时点 {clock.shown_with_offset(s.known_at, tz)}：以同一截止日和 "
        f"--known-at {clock.iso(s.known_at, tz)} 重新生成，数字相同。"
    )
    if s.signoff is not None:
        section = s.signoff
        approved = len(section.approved_codes)
        state = f"{section.period:%Y-%m-%d} 期已审核 {approved}/{len(section.townships)} 个乡镇"
        if s.draft:
            state += "，本报告为草稿（未全部审核）"
        if approved_only:
            state += f"；{section.count_label}，未审核乡镇的村显示为“—”"
        click.echo(state + "。")
        for t in section.townships:
            for change in t.changes:
                click.echo(f"注意：{t.status.name}审核后有变化：{change}。")
    missing = [t.township_name for t in s.sources.ledgers if t.batch_id is None]
    if missing:
        click.echo(
            f"注意：本系统中没有 {'、'.join(missing)} 截止日（含）以前的台账（尚未导入），户数不完整。"
        )


COMMANDS: list[click.Command] = [report]


def _city_reports(
    year: int, as_of: str | None, known_at: str | None, out_dir: Path, as_json: bool
) -> None:
    """Every district's report and the city summary into ``out_dir``."""
    from heating.report.city import build_city_reports

    day = parse_date_option(as_of)
    runtime = get_runtime()
    tz = runtime.config.timezone
    known = parse_known_at_option(known_at, tz)
    started = time.perf_counter()
    with runtime.session() as session:
        result = build_city_reports(
            session, runtime.config, year, out_dir, as_of=day, known_at=known
        )
    outcome = {
        "summary_file": str(result.summary_file),
        "year": year,
        "as_of": result.as_of,
        "known_at": clock.iso(result.known_at, tz),
        "generated_at": clock.iso(result.generated_at, tz),
        "districts": [
            line.as_json() | {"file": str(result.reports[line.code][0])}
            for line in result.summary.lines
        ],
        "seconds": round(time.perf_counter() - started, 2),
    }
    if as_json:
        emit_json(outcome)
        return
    click.echo(
        f"已生成全市汇总 {result.summary_file}（{len(result.reports)} 个区县，"
        f"数据截至 {result.as_of:%Y-%m-%d}），各区县报告："
    )
    for line in result.summary.lines:
        click.echo(
            f"  {line.rank}. {line.name}（{line.code}）：覆盖率 {percent(line.total.coverage)}，"
            f"缺口 {line.total.gap} 户 → {result.reports[line.code][0].name}"
        )
