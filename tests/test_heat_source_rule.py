"""The heat-source rule in the measures: strict means everywhere, warn only lists.

南街 (county core, target 100%, 10 registered households) has ten households
clean by status, all district-heated: six by 屯留热电厂 (chp, fine), two by
屯留县兴旺钢铁 (waste heat, grade C — one of them burning coal again), one by
屯留县宇通余热利用 (waste heat, grade unknown) and one by 城东供热站 (not in the
register: unverified).  Under strict three do not count; under warn all ten do.  The ``nanjie`` fixture
(``tests/conftest.py``) writes them and loads the register.
"""

from __future__ import annotations

import io
import json
import time
from datetime import date, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from geo.maps import map_data
from geo.zone_derivations import derive_zones
from heating.completion import complete_village_codes
from heating.measures import coverage
from heating.models import HeatSourceVersion, utcnow
from heating.report import build_report
from heating.report.snapshot import take_snapshot
from heating.village_facts import village_facts
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.households import MAY, add_many
from tests.support.registers import REGISTER, STRICT, WARN, load_register
from tests.support.report import later, read_table
from tests.support.signoff import PERIOD, sign_off
from tests.support.web import log_in


def nanjie_row(runtime, **kwargs):
    with runtime.session() as s:
        (row,) = [
            r for r in coverage(s, runtime.config.profile, "village", **kwargs) if r.key == NANJIE
        ]
    return row


@pytest.mark.parametrize("settings", [STRICT])
def test_strict_leaves_noncompliant_households_out_of_clean(runtime, nanjie) -> None:
    row = nanjie_row(runtime)
    assert (row.required, row.clean, row.lapsed) == (10, 7, 0)  # the lapsed one is excluded too
    assert row.coverage == pytest.approx(0.7)
    assert row.gap == 3 and row.meets is False
    assert row.heat_source_noncompliant == 3  # grade C ×2 and the unknown grade
    assert row.heat_source_unverified == 1  # 城东供热站: counted, listed
    with runtime.session() as s:
        assert NANJIE not in complete_village_codes(s, runtime.config.profile)
        # The status is untouched: the households still read 已验收/已完工.
        (facts,) = [f for f in village_facts(s) if f.code == NANJIE]
        assert facts.heat_source_noncompliant == 3


@pytest.mark.parametrize("settings", [WARN])
def test_warn_counts_them_and_lists_them(runtime, nanjie) -> None:
    row = nanjie_row(runtime)
    assert (row.required, row.clean, row.lapsed) == (10, 10, 1)
    assert row.meets is True
    assert row.heat_source_noncompliant == 3 and row.heat_source_unverified == 1
    with runtime.session() as s:
        assert NANJIE in complete_village_codes(s, runtime.config.profile)


@pytest.mark.parametrize(
    ("settings", "in_zone"), [(STRICT, False), (WARN, True)], ids=["strict", "warn"]
)
def test_zones_follow_the_rule(runtime, nanjie, in_zone) -> None:
    with runtime.session() as s:
        result = derive_zones(s, runtime.config.profile, as_of=date(2021, 10, 31))
        zoned = {code for zone in result.zones for code in zone.villages}
    assert (NANJIE in zoned) is in_zone


@pytest.mark.parametrize("settings", [STRICT])
def test_unknown_grade_is_noncompliant_until_a_grade_is_loaded(runtime, nanjie) -> None:
    assert nanjie_row(runtime).clean == 7
    graded = [list(r) for r in REGISTER]
    graded[4][2] = "B"  # 宇通 gets grade B
    load_register(runtime, graded)
    row = nanjie_row(runtime)
    assert (row.clean, row.heat_source_noncompliant) == (8, 2)


@pytest.mark.parametrize("settings", [STRICT])
def test_known_at_reproduces_a_figure_from_before_a_register_load(
    runtime, tiny_district, run_cli
) -> None:
    vid = tiny_district[NANJIE]
    with runtime.session() as s:
        add_many(s, vid, 10, "accepted", route="district", heat_source="屯留县兴旺钢铁")
    graded_b = [list(r) for r in REGISTER]
    graded_b[2][2] = "B"
    load_register(runtime, graded_b)  # 兴旺 is grade B: compliant
    time.sleep(0.01)
    between = utcnow()
    time.sleep(0.01)
    load_register(runtime)  # 兴旺 downgraded to C
    with runtime.session() as s:
        assert s.scalar(select(HeatSourceVersion.id).order_by(HeatSourceVersion.id.desc()))
    assert nanjie_row(runtime).clean == 0
    assert nanjie_row(runtime, known_at=between).clean == 10
    stamp = between.isoformat() + "+00:00"
    then = json.loads(run_cli("coverage", "--json", "--known-at", stamp).stdout)
    now = json.loads(run_cli("coverage", "--json").stdout)
    (then_row,) = [r for r in then if r["key"] == NANJIE]
    (now_row,) = [r for r in now if r["key"] == NANJIE]
    assert (then_row["clean"], then_row["heat_source_noncompliant"]) == (10, 0)
    assert (now_row["clean"], now_row["heat_source_noncompliant"]) == (0, 10)


@pytest.mark.parametrize("settings", [STRICT])
def test_as_of_a_date_judges_the_households_of_that_date(runtime, nanjie, tiny_district) -> None:
    """Households added after the date are not in the as-of figure, the rule still applies."""
    with runtime.session() as s:
        add_many(
            s,
            tiny_district[NANJIE],
            2,
            "accepted",
            at=MAY.replace(month=9),
            route="district",
            heat_source="屯留县兴旺钢铁",
        )
    assert nanjie_row(runtime).heat_source_noncompliant == 5
    row = nanjie_row(runtime, as_of=date(2021, 6, 30))
    assert (row.clean, row.heat_source_noncompliant) == (7, 3)


@pytest.mark.parametrize("settings", [STRICT])
def test_one_district_figure_agrees_on_page_map_cli_and_report(
    runtime, nanjie, users, client, run_cli
) -> None:
    """屯留区's clean households under strict: 7 in 南街, none elsewhere."""
    profile = runtime.config.profile
    with runtime.session() as s:
        (district,) = coverage(s, profile, "district")
        data = map_data(s, runtime.config, district_code="140405")
        snapshot = take_snapshot(s, runtime.config, 2021, now=later())
        built = build_report(s, runtime.config, 2021, now=later(), picture=False)
    assert district.clean == 7 and district.heat_source_noncompliant == 3
    # CLI
    (cli_row,) = json.loads(run_cli("coverage", "--by", "district", "--json").stdout)
    assert (cli_row["clean"], cli_row["heat_source_noncompliant"]) == (7, 3)
    text = run_cli("coverage", "--by", "district").stdout
    assert "3 户由不合规热源供热（先立后破），不计为已改造" in text
    # Map: the village tooltip's 已改户数 and its reason.
    tips = dict(zip(data.areas["code"], data.areas["tip"], strict=True))
    assert tips[NANJIE][4] == "7"
    assert tips[NANJIE][-1] == "3 户由不合规热源供热（先立后破），不计为已改造"
    # Report: totals, routes and the 热源核查 sheet.
    assert snapshot.total.clean == 7
    assert sum(line.clean for line in snapshot.routes) == 7
    assert sum(sum(line.by_route.values()) for line in snapshot.routes) == 7
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    overview = wb["总体情况"]
    (total,) = [r for r in read_table(overview, "区域类别") if r["区域类别"] == "合计"]
    assert total["户数|已完成"] == 7
    assert any(
        "3 户由不合规热源供热（先立后破），不计为已改造" in str(c.value or "")
        for c in overview["A"]
    )
    check = wb["热源核查"]
    sources = {r["热源名称"]: r for r in read_table(check, "热源名称")}
    assert sources["屯留县兴旺钢铁有限责任公司"]["供热已完成户数"] == 2
    assert sources["屯留县兴旺钢铁有限责任公司"]["核查结论"].startswith("不合规：")
    assert sources["屯留热电厂"]["核查结论"] == "合规"
    townships = {r["乡镇名称"]: r for r in read_table(check, "乡镇代码")}
    assert townships["麟绛街道"]["不合规热源户"] == 3
    assert townships["麟绛街道"]["计为已改造户"] == 7
    assert townships["麟绛街道"]["热源无法核实户"] == 1
    flagged = read_table(check, "乡镇", occurrence=1)
    assert {(r["台账热源"], r["户数"], r["是否计为已改造"]) for r in flagged} == {
        ("屯留县兴旺钢铁有限责任公司", 2, "否"),
        ("屯留县宇通余热利用有限公司", 1, "否"),
        ("城东供热站", 1, "是"),
    }
    # Page: the village page says why, the dashboard agrees.
    log_in(client, "dave", "correct-horse-1")
    page = client.get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert "3 户由不合规热源供热（先立后破），不计为已改造" in page
    assert "环保绩效等级为 C 级" in page and "环保绩效等级未知" in page
    geo = client.get("/api/villages.geojson").get_json()
    (feature,) = [f for f in geo["features"] if f["properties"]["code"] == NANJIE]
    assert feature["properties"]["clean"] == 7
    assert feature["properties"]["heat_source_noncompliant"] == 3


@pytest.mark.parametrize("settings", [WARN])
def test_under_warn_the_report_lists_and_counts(runtime, nanjie) -> None:
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=later(), picture=False)
        snapshot = take_snapshot(s, runtime.config, 2021, now=later())
    assert snapshot.total.clean == 10
    check = openpyxl.load_workbook(io.BytesIO(built.content))["热源核查"]
    assert "热源规则“仅提示”" in check["A2"].value
    townships = {r["乡镇名称"]: r for r in read_table(check, "乡镇代码")}
    assert townships["麟绛街道"]["不合规热源户"] == 3
    assert townships["麟绛街道"]["计为已改造户"] == 10


@pytest.mark.parametrize(
    ("settings", "share"), [(STRICT, 0.7), (WARN, 1.0)], ids=["strict", "warn"]
)
def test_area_coverage_counts_clean_the_same_way(runtime, tiny_district, share) -> None:
    """Heated area of clean households: the non-compliant ones' area is out under strict."""
    vid = tiny_district[NANJIE]
    with runtime.session() as s:
        add_many(
            s, vid, 7, "accepted", route="district", heat_source="屯留热电厂", heated_area_m2=100
        )
        add_many(
            s,
            vid,
            3,
            "accepted",
            route="district",
            heat_source="屯留县兴旺钢铁",
            heated_area_m2=100,
        )
    load_register(runtime)
    row = nanjie_row(runtime)
    assert row.area_known_share == 1.0
    assert row.area_coverage == pytest.approx(share)
    assert row.coverage == pytest.approx(share)


@pytest.mark.parametrize("settings", [STRICT])
def test_an_approved_only_report_withholds_unapproved_townships_heat_sources(
    runtime, nanjie, tiny_district, users
) -> None:
    """Only 上村镇 is approved: 麟绛街道's non-compliant households are not shown."""
    with runtime.session() as s:
        add_many(
            s,
            tiny_district[SHANGCUN],
            2,
            "accepted",
            at=MAY,
            route="district",
            heat_source="屯留县兴旺钢铁",
        )
    sign_off(runtime, "140405101", PERIOD, ("submit", "carol"), ("approve", "rita"))
    with runtime.session() as s:
        built = build_report(
            s,
            runtime.config,
            2021,
            now=later(),
            known_at=later() + timedelta(days=1),
            picture=False,
            approved_only=True,
        )
    check = openpyxl.load_workbook(io.BytesIO(built.content))["热源核查"]
    sources = {r["热源名称"]: r for r in read_table(check, "热源名称")}
    assert sources["屯留县兴旺钢铁有限责任公司"]["供热已完成户数"] == 2  # 上村's two only
    assert sources["屯留热电厂"]["供热已完成户数"] == 0
    townships = [r["乡镇名称"] for r in read_table(check, "乡镇代码")]
    assert townships == ["上村镇", "合计"]
    flagged = read_table(check, "乡镇", occurrence=1)
    assert {r["村名称"] for r in flagged} == {"上村村委会"}
