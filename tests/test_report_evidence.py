"""The report's evidence: 用量核验 (season Y−1), 补贴 (season Y), and 总体情况's evidence lines."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
import pytest

from heating.config import load_config
from heating.models import utcnow
from heating.report import build_report
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.households import write_household
from tests.support.report import read_table

RULES = """
[[subsidy.rules]]
route = "electric"
year = 2020
device = 2500
operating = 2400
seasons = 3
"""
MONTHS = ["2021-11", "2021-12", "2022-01", "2022-02", "2022-03"]


@pytest.fixture
def evidence(runtime, run_cli, tiny_district, tmp_path, monkeypatch):
    config = tmp_path / "heating.toml"
    config.write_text(RULES + "\n[usage]\nmin_peers = 3\n", encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    with runtime.session() as session:
        for i in range(4):
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                "completed",
                route="electric",
                completed_on=date(2020, 9, 1),
                power_account=f"P{i}",
                device_subsidy=2500 if i else 2000,
                head_name=f"张{i}号",
                ledger_date=date(2021, 10, 31),
            )
        write_household(
            session,
            tiny_district[SHANGCUN],
            "S1",
            "completed",
            route="electric",
            completed_on=date(2020, 9, 1),
            ledger_date=date(2021, 10, 31),
        )
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["户号", "月份", "用电量"])
    for i, total in enumerate((0, 900, 1000, 1100)):
        for m in MONTHS:
            ws.append([f"P{i}", m, total / 5])
    path = tmp_path / "u.xlsx"
    wb.save(path)
    result = run_cli("usage", "import", str(path), "--kind", "electric", "--commit")
    assert result.exit_code == 0, result.stderr
    rules = load_config(environ={"HEATING_CONFIG": str(config)})
    return runtime.config.with_overrides(
        usage={"min_peers": 3},
        subsidy={
            "rules": [
                {
                    "route": r.route,
                    "year": r.year,
                    "device": float(r.device),
                    "operating": float(r.operating),
                    "seasons": r.seasons,
                }
                for r in rules.subsidy
            ]
        },
    )


def test_report_of_2022_shows_season_2021_use_and_season_2022_subsidies(runtime, evidence):
    with runtime.session() as session:
        # Known-at: everything recorded so far (the default, now to the second, may fall
        # within the second of the usage import).
        built = build_report(session, evidence, 2022, picture=False, known_at=utcnow())
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    usage = wb["用量核验"]
    assert "2021采暖季" in usage["A1"].value
    towns = {r["乡镇名称"]: r for r in read_table(usage, "乡镇代码")}
    assert towns["麟绛街道"]["有用量数据的户"] == 4 and towns["麟绛街道"]["疑似改而不用"] == 1
    assert towns["上村镇"]["无数据"] == 1
    assert towns["合计"]["疑似改而不用"] == 1
    [flagged] = read_table(usage, "村代码")
    assert flagged["户号"] == "N0" and flagged["户主（脱敏）"] == "张**"
    subsidy = wb["补贴"]
    assert "2022采暖季" in subsidy["A1"].value
    rows = {r["乡镇名称"]: r for r in read_table(subsidy, "乡镇代码")}
    # Completed 2020-09 → seasons 2020, 2021, 2022: 2022 is the last.
    assert rows["合计"]["应发运行补贴户数"] == 5 and rows["合计"]["本季为最后一季"] == 5
    assert rows["合计"]["设备补贴与规则不符"] == 1 and rows["合计"]["未填设备补贴"] == 1
    overview = {r["项目"]: r["数值"] for r in read_table(wb["总体情况"], "项目")}
    assert overview["用量核验采暖季"] == "2021"
    assert overview["疑似改而不用户数"] == "1"
    # 10 + 8 + 20 registry households minus none exempt (下村 has no registry total) = 38;
    # 5 clean, none lapsed, 1 flagged.
    assert overview["核验后有效覆盖率"] == f"{(5 - 1) / 38 * 100:.1f}%"
    assert overview["按面积清洁取暖率"].startswith("—")


def test_without_use_or_rules_the_sheets_say_why(runtime, tiny_district):
    with runtime.session() as session:
        built = build_report(
            session, runtime.config, 2021, now=datetime(2021, 11, 5), picture=False
        )
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    text = " ".join(str(c.value) for row in wb["用量核验"].iter_rows() for c in row if c.value)
    assert "没有可用的用电量、用气量数据" in text
    text = " ".join(str(c.value) for row in wb["补贴"].iter_rows() for c in row if c.value)
    assert "没有补贴规则" in text
