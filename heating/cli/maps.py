"""``heating map``: a standalone coverage map that opens with no network."""

from __future__ import annotations

from pathlib import Path

import click
from sqlalchemy import select

from geo.maps import map_data, summary
from geo.maps_document import basemap_of, map_document
from geo.maps_folium import build_map, standalone_html
from heating.cli.context import emit_json, get_runtime
from heating.coverage_classes import COVERAGE_CLASSES, GENERATED_NOTE
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
        data = map_data(
            session,
            runtime.config,
            township_code=township_code,
            district_code=district_code,
            tolerance=tolerance,
        )
        shown = summary(data)
        if shown.villages == 0:
            raise Refused(
                "所选范围内没有带边界的村庄，无法生成地图："
                "请先用 heating boundaries load 载入村界，或检查 --township/--district。"
            )
        document = map_document(data, basemap=basemap_of(runtime.config))
        page = standalone_html(build_map(document, standalone=True))
    output.write_text(page, encoding="utf-8")
    size = output.stat().st_size
    if as_json:
        emit_json(
            {
                "output": str(output),
                "bytes": size,
                "mode": shown.mode,
                "villages": shown.villages,
                "without_boundary": shown.without_boundary,
                "classes": shown.classes,
                "zones": shown.zones,
                "priority": shown.priority,
                "generated_boundaries": shown.generated_boundaries,
                "data_date": shown.dates.as_json()["data"],
                "zones_as_of": shown.dates.as_json()["zones"],
            }
        )
        return
    unit = "乡镇" if shown.mode == "townships" else "村"
    counts = "，".join(f"{c.label} {shown.classes.get(c.key, 0)}" for c in COVERAGE_CLASSES)
    click.echo(f"已写出 {output}（{size / 1024:.0f} KB，{shown.villages} 个村）")
    click.echo(f"按{unit}：{counts}；禁煤区 {shown.zones} 片，重点缺口 {shown.priority} 个村")
    if shown.without_boundary:
        click.echo(f"另有 {shown.without_boundary} 个村暂无边界，未画出。")
    if shown.generated_boundaries:
        click.echo(f"注意：{GENERATED_NOTE}。")


COMMANDS: list[click.Command] = [map_command]
