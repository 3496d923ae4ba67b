"""A district's annual report reads its own district only (issue 17, multi-district).

The tiny district's report is built alone, then again after 潞城区 (with its
own coal subsidy, look-back problem and undated completion) joins the
database: every sheet is the same, and 潞城区's report lists none of the
tiny district's households.  The coal-subsidy list asked for one district
equals the city's list cut to that district.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from heating.coal_subsidy import coal_subsidies_in_zones
from heating.models import utcnow
from heating.report import build_report
from tests.support.districts import DONGJIE, LUCHENG, LUCHENG_VILLAGES, add_second_district
from tests.support.households import MAY, at, change_household, write_household
from tests.support.report import AS_OF, build_history, read_table

TINY_CODE = "140405"


def _tiny_history(runtime, ids) -> None:
    """The report tests' two years, and a coal subsidy in 东街 (complete: all 8 clean)."""
    build_history(runtime, ids)
    with runtime.session() as s:
        change_household(s, ids[DONGJIE], "E2", at("2021-07-01 10:00"), coal_subsidy=Decimal(300))


def _add_lucheng(runtime) -> dict[str, int]:
    """潞城区 with what a district report lists: a coal subsidy in its complete village 2,
    a household burning coal again and one completed without a date."""
    with runtime.session() as s:
        ids = add_second_district(s)
        second, first = ids[LUCHENG_VILLAGES[1]], ids[LUCHENG_VILLAGES[0]]
        write_household(
            s, second, "L-COAL", "completed", recorded_at=MAY, coal_subsidy=Decimal(500)
        )
        write_household(
            s, first, "L-BAD", "completed", recorded_at=MAY, operation="coal_again", route="gas"
        )
    return ids


def _report(runtime, district: str | None, now):
    with runtime.session() as s:
        return build_report(
            s,
            runtime.config,
            2021,
            as_of=AS_OF,
            district_code=district,
            now=now,
            known_at=now,
            picture=False,
        ).content


def _cells(content: bytes) -> dict[str, list[list]]:
    wb = load_workbook(io.BytesIO(content), read_only=True)
    return {ws.title: [list(r) for r in ws.iter_rows(values_only=True)] for ws in wb.worksheets}


def test_a_district_report_is_the_same_with_another_district_beside_it(
    runtime, tiny_district
) -> None:
    _tiny_history(runtime, tiny_district)
    now = (utcnow() + timedelta(seconds=1)).replace(microsecond=0)
    alone = _cells(_report(runtime, None, now))
    _add_lucheng(runtime)  # recorded in May 2021: known at ``now`` too
    beside = _cells(_report(runtime, TINY_CODE, now))
    assert list(beside) == list(alone)
    for sheet, rows in alone.items():
        assert beside[sheet] == rows, sheet
    # What the comparison is about is there: the tiny district's own listings.
    wb = load_workbook(io.BytesIO(_report(runtime, TINY_CODE, now)), read_only=True)
    coal = read_table(wb["补贴"], "村代码")
    assert [(r["村代码"], r["户号"]) for r in coal] == [("140405001202", "E2")]
    problems = read_table(wb["回头看问题户"], "乡镇")
    assert problems and all(r["村代码"].startswith(TINY_CODE) for r in problems)


def test_another_district_report_holds_none_of_the_first_districts_households(
    runtime, tiny_district
) -> None:
    _tiny_history(runtime, tiny_district)
    _add_lucheng(runtime)
    now = (utcnow() + timedelta(seconds=1)).replace(microsecond=0)
    content = _report(runtime, LUCHENG, now)
    wb = load_workbook(io.BytesIO(content), read_only=True)
    coal = read_table(wb["补贴"], "村代码")
    assert [(r["村代码"], r["户号"]) for r in coal] == [(LUCHENG_VILLAGES[1], "L-COAL")]
    problems = read_table(wb["回头看问题户"], "乡镇")
    assert [(r["村代码"], r["户号"]) for r in problems] == [(LUCHENG_VILLAGES[0], "L-BAD")]
    cells = _cells(content)
    for sheet in ("技术路线", "回头看问题户", "补贴", "数据质量"):
        text = repr(cells[sheet])
        assert TINY_CODE + "001" not in text and "麟绛街道" not in text, sheet


@pytest.mark.parametrize("district", [TINY_CODE, LUCHENG])
def test_coal_subsidies_of_a_district_are_the_citys_cut_to_it(
    runtime, tiny_district, district
) -> None:
    _tiny_history(runtime, tiny_district)
    _add_lucheng(runtime)
    with runtime.session() as s:
        city = coal_subsidies_in_zones(s, runtime.config.profile, as_of=AS_OF)
        scoped = coal_subsidies_in_zones(
            s, runtime.config.profile, as_of=AS_OF, district_code=district
        )
    assert {h["village"][:6] for h in city} == {TINY_CODE, LUCHENG}
    assert scoped == [h for h in city if h["village"].startswith(district)]


def test_the_configured_district_name_names_only_a_single_district(runtime, tiny_district) -> None:
    """``district_name`` names the installation's one district; in a city every report
    carries its own district's name (it used to print the setting on every district's cover)."""
    _tiny_history(runtime, tiny_district)
    runtime.config = runtime.config.with_overrides(district_name="配置的区名")
    now = (utcnow() + timedelta(seconds=1)).replace(microsecond=0)
    alone = repr(_cells(_report(runtime, None, now))["封面与说明"])
    assert "配置的区名" in alone
    _add_lucheng(runtime)
    for district, name in ((LUCHENG, "潞城区"), (TINY_CODE, "屯留区")):
        cover = repr(_cells(_report(runtime, district, now))["封面与说明"])
        assert name in cover and "配置的区名" not in cover, district
