"""``heating demo``: load the demo district, print what it holds and the demo logins."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.cli.context import get_runtime
from heating.cli.setup import prepare_key
from heating.db import upgrade
from heating.demo import BOUNDARY_SOURCE, DemoSummary, load_demo
from heating.demo.ledgers import write_ledgers
from heating.demo.loader import write_registers
from heating.measures import coverage
from heating.models import ZoneDerivation
from heating.profile import Profile
from heating.seasons import UsageSettings
from heating.targets import percent

DEMO_MARK = "【仅供演示】"


def _demo_config() -> Path:
    """Copy the demo's subsidy rules next to the database (instance/heating-demo.toml)."""
    from heating.demo.usage import RULES_FILE

    target = Path("instance") / "heating-demo.toml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(RULES_FILE.read_bytes())
    return target


def print_summary(
    session: Session, profile: Profile, summary: DemoSummary, usage: UsageSettings | None = None
) -> None:
    """Print what the demo database holds, its first coverage figures and the logins."""
    if summary.already_loaded:
        click.echo(f"{DEMO_MARK}演示数据已加载，未改动。")
    else:
        click.echo(f"{DEMO_MARK}已加载演示区县：屯留区（真实乡镇与村名，生成的村界与农户）")
    click.echo(
        f"  乡镇 {summary.townships} 个，村 {summary.villages} 个，农户 {summary.households:,} 户，"
        f"历史记录 {summary.versions:,} 条"
    )
    categories = "，".join(
        f"{profile.label(key)} {summary.categories.get(key, 0)} 个村"
        for key in profile.keys()  # noqa: SIM118 - Profile is not a dict
    )
    click.echo(f"  区域类别（按城乡分类代码建议）：{categories}")
    click.echo(f"  村界：{BOUNDARY_SOURCE}")
    rows = coverage(session, profile, by="category", usage=usage)
    figures = "，".join(f"{row.name} {percent(row.coverage)}" for row in rows)
    click.echo(f"  清洁取暖覆盖率（当前）：{figures}")
    total = rows[-1]
    if total.usage_season is not None:
        click.echo(
            f"  用量核验（{total.usage_season} 采暖季）：核验 {total.usage_checked:,} 户，"
            f"疑似改而不用 {total.usage_flagged:,} 户，核验后有效覆盖率 "
            f"{percent(total.verified_effective_coverage)}；按面积清洁取暖率 {percent(total.area_coverage)}"
        )
    derivations = session.scalars(select(ZoneDerivation).order_by(ZoneDerivation.as_of)).all()
    if derivations:
        zones = "，".join(f"截至 {d.as_of.isoformat()} {len(d.zones)} 片" for d in derivations)
        click.echo(f"  禁煤区：{zones}")
    click.echo("")
    click.echo(f"{DEMO_MARK}演示登录（仅供演示，切勿用于正式环境）：")
    for name, label, password in summary.users:
        click.echo(f"  用户名 {name:<16} 密码 {password:<18} {label}")


@click.command("demo")
@click.option("--serve", is_flag=True, help="加载后启动网页应用")
@click.option("--host", default="127.0.0.1", show_default=True, help="网页应用监听地址")
@click.option("--port", default=5000, show_default=True, type=int, help="网页应用端口")
@click.option(
    "--ledgers",
    "ledgers_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="把各乡镇的演示台账写成 .xlsx 到此目录（可直接用 heating import 试导入）",
)
@click.option(
    "--city",
    "whole_city",
    is_flag=True,
    help="另外加载演示城市：长治市其他区县（真实区县名称和代码，生成的乡镇、村和农户，"
    "约 3,000 个村、60 万户）",
)
@click.option(
    "--township",
    "township_codes",
    multiple=True,
    help="与 --ledgers 同用：只写这些乡镇（9 位代码，可重复）的台账",
)
def demo_command(
    serve: bool,
    host: str,
    port: int,
    ledgers_dir: Path | None,
    whole_city: bool,
    township_codes: tuple[str, ...],
) -> None:
    """加载演示区县（屯留区真实乡镇与村名，生成的村界与农户），打印演示登录。

    再次运行不会改动已加载的演示数据；已有真实村庄名录的数据库会被拒绝。
    """
    runtime = get_runtime(initialised=False)
    upgrade(runtime.engine, timezone=runtime.config.timezone)
    prepare_key(runtime)
    profile = runtime.config.profile
    with runtime.session() as session:
        summary = load_demo(session, profile, runtime.config)
    with runtime.session() as session:
        print_summary(session, profile, summary, runtime.config.usage)
    if whole_city:
        _load_city(runtime)
    if ledgers_dir is not None:
        with runtime.session() as session:
            click.echo("")
            click.echo(
                f"{DEMO_MARK}演示台账（每个乡镇每年一份，标题写明“截至某年10月31日”；"
                "可用 heating import 文件 --township 代码 试导入，先导入 2021 年再补录 2020 年也可以）："
            )
            for path, rows in write_ledgers(session, ledgers_dir, township_codes):
                click.echo(f"  {path}（{rows} 户）")
            register, boilers = write_registers(session, ledgers_dir)
            click.echo(
                f"{DEMO_MARK}演示热源名单和锅炉台账（生成，已加载；可用 heating heat-sources load / "
                f"heating boilers load 重新导入，结果不变）：\n  {register}\n  {boilers}"
            )
            from heating.demo.loader import DEMO_SEED
            from heating.demo.usage import imported_files

            click.echo(
                f"{DEMO_MARK}演示用量文件（已导入；可用 heating usage import 文件 --kind 类型 再试）："
            )
            usage_dir = ledgers_dir / "用量"  # beside the ledgers, not among them
            usage_dir.mkdir(parents=True, exist_ok=True)
            for name, kind, data in imported_files(session, DEMO_SEED):
                path = usage_dir / name
                path.write_bytes(data)
                click.echo(f"  {path}（--kind {kind}）")
    rules = _demo_config()
    click.echo("")
    click.echo(
        f"{DEMO_MARK}补贴规则（长治市 2018–2020 年煤改电标准及演示用规则）：{rules}。"
        f"查看：HEATING_CONFIG={rules} heating subsidy schedule --season 2021"
    )
    if serve:
        from heating.cli.setup import serve as serve_app

        if not os.environ.get("HEATING_CONFIG"):
            os.environ["HEATING_CONFIG"] = str(rules)  # the served app shows the schedule

        click.echo("")
        serve_app(host, port)


def _load_city(runtime: Any) -> None:
    """Add the generated districts of 长治市 (``heating.demo.city``), derive the city's zones."""
    from geo.zone_derivations import derive_zones
    from heating.demo.city import CITY_VERSION, ZONE_DATE, load_city
    from heating.demo.loader import DEMO_PASSWORD

    started, cpu = time.perf_counter(), time.process_time()
    with runtime.session() as session:
        city = load_city(session, password=DEMO_PASSWORD)
        if not city.already_loaded:
            derive_zones(session, runtime.config.profile, as_of=ZONE_DATE)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    click.echo("")
    if city.already_loaded:
        click.echo(f"{DEMO_MARK}演示城市已加载（版本 {CITY_VERSION}），未改动。")
    else:
        click.echo(
            f"{DEMO_MARK}已加载演示城市：长治市 {city.districts} 个区县（真实区县名称与代码；"
            "屯留区以外的乡镇、村、村界和农户均为生成，名称标“（生成）”）"
            f"，用时 {seconds:.0f} 秒（本进程 CPU {cpu_seconds:.0f} 秒）"
        )
    click.echo(f"  村 {city.villages:,} 个，农户 {city.households:,} 户")
    click.echo(
        "  全市汇总：heating city（网页：/city）；全市报告：heating report --year 2021 --city --out 目录"
    )
    for name, label, password in city.users:
        click.echo(f"  用户名 {name:<16} 密码 {password:<18} {label}")


COMMANDS: list[click.Command] = [demo_command]
