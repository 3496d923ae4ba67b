"""The report's cover and picture read right (issue 15): data basis in plain words,
编制单位 / 审核人 lines, the district's name, a scale bar and a north arrow."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select, update

from heating.models import District
from heating.report import build_report
from heating.report.picture import coverage_map_figure, scale_length
from heating.report.sheets.cover import BLANK_LINE
from heating.report.snapshot import take_snapshot
from heating.runtime import Runtime
from tests.support.districts import NANJIE
from tests.support.households import add_many
from tests.support.ledgers import add_batch


def cover(runtime: Runtime) -> dict[str, Any]:
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, picture=False)
    ws = openpyxl.load_workbook(io.BytesIO(built.content), read_only=True)["封面与说明"]
    return {row[0].value: row[1].value for row in ws.iter_rows(min_row=4) if row[0].value}


def test_signature_lines_are_blank_to_sign_when_unset(runtime: Runtime, tiny_district) -> None:
    facts = cover(runtime)
    assert (facts["编制单位"], facts["审核人"], facts["审核日期"]) == (BLANK_LINE,) * 3


@pytest.mark.parametrize(
    "settings", [{"report_author_unit": "屯留区能源局", "report_reviewer": "=王某"}]
)
def test_signature_lines_come_from_the_settings(runtime: Runtime, tiny_district) -> None:
    facts = cover(runtime)
    assert facts["编制单位"] == "屯留区能源局"
    assert facts["审核人"] == "'=王某"  # formula-safe like every text cell


def test_no_ledger_before_the_cutoff_is_said_in_plain_words(
    runtime: Runtime, tiny_district
) -> None:
    add_batch(runtime, "140405001")  # committed, but dated after the 2021 cut-off (see below)
    with runtime.session() as s:
        s.execute(update_batch_dates())
    text = cover(runtime)["数据来源"]
    assert "本系统中没有描述截止日（2021-10-31）或更早情况的台账" in text
    assert "已导入的 1 批台账，台账日期都在截止日之后，不能计入本期" in text
    assert "不表示乡镇没有报送" in text
    assert "没有已提交" not in text


def update_batch_dates():
    """The batch describes 2021-11-20 and was committed on 2021-11-21."""
    from heating.models import ImportBatch

    return update(ImportBatch).values(
        ledger_date=date(2021, 11, 20), committed_at=datetime(2021, 11, 21, 2, 0)
    )


def test_district_without_a_name_is_named_from_the_county_table(
    runtime: Runtime, tiny_district
) -> None:
    with runtime.session() as s:
        s.execute(update(District).values(name="区县140405"))
    with runtime.session() as s:
        snapshot = take_snapshot(s, runtime.config, 2021)
        assert s.scalar(select(District.name)) == "区县140405"
    assert snapshot.district_name == "屯留区"
    assert cover(runtime)["区县"] == "屯留区（140405）"


def test_registry_without_district_name_stores_the_county_name(run_cli, tmp_path) -> None:
    path = tmp_path / "名录.csv"
    path.write_text(
        "村代码,村名称,乡镇代码,乡镇名称,总户数,区域类别\n"
        "140405001201,南街村委会,140405001,麟绛街道,10,县城建成区\n",
        encoding="utf-8",
    )
    result = run_cli("registry", "load", str(path))
    assert result.exit_code == 0, result.stderr
    out = tmp_path / "r.xlsx"
    assert run_cli("report", "--year", "2021", "-o", str(out)).exit_code == 0
    ws = openpyxl.load_workbook(out)["封面与说明"]
    assert ws["A1"].value.startswith("屯留区2021年度")


@pytest.mark.parametrize(
    ("span", "bar"), [(50_000, 10_000), (12_000, 2_000), (3_000, 500), (900, 100)]
)
def test_scale_bar_is_a_round_fifth_of_the_width(span: float, bar: float) -> None:
    assert scale_length(span) == bar


def test_map_picture_has_scale_bar_and_north_arrow(runtime: Runtime, tiny_district) -> None:
    with runtime.session() as s:
        add_many(s, tiny_district[NANJIE], 3, "completed", at=datetime(2021, 5, 1))
        snapshot = take_snapshot(s, runtime.config, 2021)
        fig = coverage_map_figure(s, snapshot)
    assert fig is not None
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert "北" in texts  # the north arrow's label
    assert any(t.endswith(("千米", "米")) and t != "0" for t in texts), texts
    assert len(ax.patches) >= 2  # the two segments of the scale bar


def test_county_table_names_known_codes_and_keeps_what_it_lacks() -> None:
    from heating.counties import district_name

    assert district_name("140405") == "屯留区"
    assert district_name("110101") == "东城区"
    assert district_name("140405", "自定名称") == "自定名称"  # the registry's name wins
    assert district_name("999999") == "区县999999"  # not a county code: say the code
