"""``heating boundaries load`` and ``heating zones derive|export``."""

from __future__ import annotations

from pathlib import Path

import click

from heating.cli.context import (
    district_option,
    emit_json,
    get_runtime,
    parse_date_option,
    parse_known_at_option,
)
from heating.clock import today
from heating.completion import complete_village_codes
from heating.scope import resolve_scope


@click.group("boundaries")
def boundaries() -> None:
    """村界（行政村边界）。"""


@boundaries.command("load")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--code-field", help="12 位村代码字段名（默认按内容自动识别）")
@click.option("--name-field", help="村名字段名（无村代码时按乡镇 + 村名匹配）")
@click.option("--encoding", help="Shapefile 属性表（.dbf）编码，如 gbk、utf-8（默认自动识别）")
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 结果")
def boundaries_load(
    file: Path,
    code_field: str | None,
    name_field: str | None,
    encoding: str | None,
    as_json: bool,
) -> None:
    """加载村界文件（GeoJSON、GeoPackage 或压缩的 Shapefile）。"""
    from geo.boundaries import load_boundaries
    from geo.boundary_reading import BoundaryLimits

    runtime = get_runtime()
    with runtime.session() as session:
        report = load_boundaries(
            session,
            file,
            code_field=code_field,
            name_field=name_field,
            encoding=encoding,
            limits=BoundaryLimits.from_config(runtime.config),
        )
    data = report.as_json()
    if as_json:
        emit_json(data)
        return
    click.echo(f"已读取 {file.name}：{report.crs_read}。")
    if report.encoding:
        click.echo(f"属性表编码：{report.encoding}")
    click.echo(
        f"要素 {report.features} 个，匹配村庄 {report.matched} 个"
        f"（按村代码 {report.matched_by_code}，按村名 {report.matched_by_name}），"
        f"修复无效几何 {report.repaired} 个。"
    )
    for item in report.unmatched_boundaries[:20]:
        click.echo(f"  未匹配：第 {item['feature']} 个要素 {item['name'] or ''}：{item['reason']}")
    if len(report.unmatched_boundaries) > 20:
        click.echo(f"  ……共 {len(report.unmatched_boundaries)} 个要素未匹配（--json 查看全部）")
    if report.villages_without_boundary:
        click.echo(f"仍无村界的村庄：{len(report.villages_without_boundary)} 个")
    for item in data["overlaps"][:10]:
        click.echo(f"  村界重叠：{'、'.join(item['villages'])} 重叠 {item['area_m2']:.0f} m²")
    for item in data["gaps"][:10]:
        click.echo(f"  村界空隙：{item['area_m2']:.0f} m²，相邻 {'、'.join(item['villages'])}")


@click.group("zones")
def zones() -> None:
    """禁煤区（由已完成改造的村庄推导）。"""


@zones.command("derive")
@click.option("--as-of", "as_of", help="截至日期 YYYY-MM-DD（按台账日期，默认今天）")
@click.option(
    "--known-at",
    "known_at",
    metavar="TIME",
    help="已知时点（ISO 8601）：只计入此时刻以前记录的台账和完成认定",
)
@click.option("--json", "as_json", is_flag=True, help="输出 JSON 结果")
def zones_derive(as_of: str | None, known_at: str | None, as_json: bool) -> None:
    """推导并保存禁煤区。"""
    from geo.zone_derivations import derive_zones

    runtime = get_runtime()
    day = parse_date_option(as_of) or today(runtime.config.timezone)
    known = parse_known_at_option(known_at, runtime.config.timezone)
    with runtime.session() as session:
        profile = runtime.config.profile
        complete = complete_village_codes(session, profile, as_of=day, known_at=known)
        result = derive_zones(session, profile, as_of=day, complete=complete)
        data = result.as_json()
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"第 {data['derivation']} 次推导（截至 {day.isoformat()}）：禁煤区 {len(data['zones'])} 片。"
    )
    for zone in data["zones"]:
        click.echo(f"  {zone['zone_id']}：{len(zone['villages'])} 个村，{zone['area_km2']:.2f} km²")
    if data["enclaves"]:
        click.echo(f"飞地（被禁煤区包围的未完成村，优先补齐）：{'、'.join(data['enclaves'])}")
    click.echo(f"较上次新增 {len(data['added'])} 个村，移出 {len(data['removed'])} 个村。")


@zones.command("export")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="输出文件：.geojson、.gpkg 或 .zip（Shapefile）",
)
@click.option("--derivation", type=int, help="导出指定推导（默认最近一次）")
@district_option
def zones_export(output: Path, derivation: int | None, district_code: str | None) -> None:
    """导出禁煤区（EPSG:4490）。"""
    from geo.export import export_zones

    runtime = get_runtime()
    with runtime.session() as session:
        scope = resolve_scope(session, district_code)
        written = export_zones(session, output, derivation_id=derivation, **scope.kwargs)
    click.echo(f"已导出 {written.zones} 片禁煤区到 {output}（EPSG:4490）。")


COMMANDS: list[click.Command] = [boundaries, zones]
