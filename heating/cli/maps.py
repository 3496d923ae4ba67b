"""``heating map``: a standalone coverage map that opens with no network."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from geo.maps import COVERAGE_CLASSES, GENERATED_NOTE, build_map, render_html
from heating.cli.context import emit_json, get_runtime
from heating.errors import NotFound, Refused
from heating.models import District, Township


@click.command("map")
@click.option(
    "-o",
    "--output",
    "output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="输出的 HTML 文件（Leaflet 已内嵌，离线可直接用浏览器打开）",
)
@click.option("--township", "township_code", help="只画一个乡镇（9 位统计用区划代码）")
@click.option("--district", "district_code", help="只画一个区县（6 位代码）")
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="边界简化容差（米）",
)
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出结果")
def map_command(
    output: Path,
    township_code: str | None,
    district_code: str | None,
    tolerance: float,
    as_json: bool,
) -> None:
    """生成覆盖率地图（独立 HTML 文件，无需网络）。"""
    runtime = get_runtime()
    with runtime.session() as session:
        if township_code and not session.scalar(
            select(Township.id).where(Township.code == township_code)
        ):
            raise NotFound(f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位）。")
        if district_code and not session.scalar(
            select(District.id).where(District.code == district_code)
        ):
            raise NotFound(f"区县代码 {district_code} 不在村庄名录中：请检查代码（6 位）。")
        m, summary = build_map(
            session,
            runtime.config,
            township_code=township_code,
            district_code=district_code,
            standalone=True,
            tolerance=tolerance,
        )
        if summary.villages == 0:
            raise Refused(
                "所选范围内没有带边界的村庄，无法生成地图："
                "请先用 heating boundaries load 载入村界，或检查 --township/--district。"
            )
        page = render_html(m)
    output.write_text(page, encoding="utf-8")
    size = output.stat().st_size
    if as_json:
        emit_json(
            {
                "output": str(output),
                "bytes": size,
                "mode": summary.mode,
                "villages": summary.villages,
                "without_boundary": summary.without_boundary,
                "classes": summary.classes,
                "zones": summary.zones,
                "priority": summary.priority,
                "generated_boundaries": summary.generated_boundaries,
            }
        )
        return
    unit = "乡镇" if summary.mode == "townships" else "村"
    counts = "，".join(
        f"{label} {summary.classes.get(key, 0)}" for key, (label, _) in COVERAGE_CLASSES.items()
    )
    click.echo(f"已写出 {output}（{size / 1024:.0f} KB，{summary.villages} 个村）")
    click.echo(f"按{unit}：{counts}；禁煤区 {summary.zones} 片，重点缺口 {summary.priority} 个村")
    if summary.without_boundary:
        click.echo(f"另有 {summary.without_boundary} 个村暂无边界，未画出。")
    if summary.generated_boundaries:
        click.echo(f"注意：{GENERATED_NOTE}。")


COMMANDS: list[click.Command] = [map_command]
