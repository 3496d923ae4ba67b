"""历年趋势 (issue 15): coverage by category at each year's cut-off, on a page, as an SVG, in the report.

Each point must equal ``coverage`` as of that cut-off (the history's own
rule), and the report's last trend row must equal its 总体情况.
"""

from __future__ import annotations

import io
import re
from datetime import date

import openpyxl
import pytest

from heating.measures import coverage
from heating.report import build_report
from heating.report.reconcile import read_table
from heating.runtime import Runtime
from heating.trend import coverage_trend, trend_years
from tests.support.report import build_history


@pytest.fixture
def history(runtime: Runtime, users, tiny_district) -> dict[str, int]:
    """Ledgers dated 2020-06-01 … 2021-07-01 (tests/support.build_history)."""
    build_history(runtime, tiny_district)
    return tiny_district


def test_years_with_data_are_the_cutoffs_between_first_and_newest_ledger(
    runtime: Runtime, history
) -> None:
    with runtime.session() as s:
        # Newest ledger 2021-07-01: the 2021 cut-off (10-31) has not come in the data yet.
        assert trend_years(s, "10-31") == [2020]
        assert trend_years(s, "06-30") == [2020, 2021]
        assert trend_years(s, "10-31", last=date(2020, 12, 31)) == [2020]
        assert trend_years(s, "05-31") == [2021]  # 2020-05-31 precedes the first ledger


def test_trend_points_equal_coverage_as_of_each_cutoff(runtime: Runtime, history) -> None:
    profile = runtime.config.profile
    with runtime.session() as s:
        points = coverage_trend(s, profile, "06-30")
        assert [(p.year, p.as_of) for p in points] == [
            (2020, date(2020, 6, 30)),
            (2021, date(2021, 6, 30)),
        ]
        for p in points:
            assert p.rows == coverage(s, profile, "category", as_of=p.as_of)
    clean = [p.row("total").clean for p in points]
    assert clean[0] < clean[1]


def test_report_trend_sheet_ends_with_the_reports_own_figures(runtime: Runtime, history) -> None:
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, picture=False)
        previous = coverage(s, runtime.config.profile, "category", as_of=date(2020, 10, 31))
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    rows = read_table(wb["历年趋势"], "年度")
    assert [r["年度"] for r in rows] == [2020, 2021]
    overview = {r["区域类别"]: r for r in read_table(wb["总体情况"], "区域类别")}
    for name, line in overview.items():
        assert rows[-1][f"{name}|已完成"] == line["户数|已完成"]
        assert rows[-1][f"{name}|应改造"] == line["户数|应改造"]
    for r in previous:
        assert rows[0][f"{r.name}|已完成"] == r.clean
    assert len(wb["历年趋势"]._charts) == 1


def test_trend_page_svg_and_export(login, history) -> None:
    client = login("dave")
    page = client.get("/trend").get_data(as_text=True)
    assert "<svg" in page and 'data-key="total"' in page
    assert re.search(r"2020年 合计：\d+\.\d%", page)
    resp = client.get("/trend/chart.svg")
    assert resp.mimetype == "image/svg+xml"
    assert resp.get_data(as_text=True).lstrip().startswith("<svg")
    dashboard = client.get("/").get_data(as_text=True)
    assert 'src="/trend/chart.svg"' in dashboard
    ws = openpyxl.load_workbook(io.BytesIO(client.get("/trend?export=xlsx").data)).active
    years = [r[0] for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert years == [2020]


def test_trend_without_data_says_so(login, tiny_district) -> None:
    client = login("dave")
    assert "还没有台账数据" in client.get("/trend").get_data(as_text=True)
    assert "还没有台账数据" in client.get("/trend/chart.svg").get_data(as_text=True)


@pytest.mark.browser
def test_trend_chart_shows_in_chromium_at_1366(page, live_server, history) -> None:
    from tests.support.users import PASSWORD

    pg, base = page.page, live_server
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", "dave")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/")
    pg.wait_for_function(
        "document.querySelector('#trend-img').complete", timeout=60_000
    )  # the chart is computed after the page, under load it may take a while
    assert pg.eval_on_selector("#trend-img", "el => el.naturalWidth") > 0
    pg.click("a:has-text('详表与导出')")
    box = pg.locator("#trend-svg").bounding_box()
    assert box is not None and box["width"] > 400 and box["x"] + box["width"] <= 1366
    assert pg.locator("#trend-svg circle").count() >= 2
    assert page.blocked == [] and page.console_errors == []


def test_trend_years_ignore_ledgers_recorded_after_the_known_at(
    runtime: Runtime, tiny_district
) -> None:
    """A 2019 ledger back-filled later adds no year to a report regenerated with its known-at."""
    from datetime import datetime

    from tests.support.districts import NANJIE
    from tests.support.households import write_household

    south = tiny_district[NANJIE]
    with runtime.session() as s:
        write_household(s, south, "A1", "completed", recorded_at=datetime(2021, 6, 1, 2))
    known = datetime(2021, 12, 1)
    with runtime.session() as s:
        write_household(  # back-filled on 2022-01-05, describing 2019-10-31
            s,
            south,
            "A2",
            "completed",
            recorded_at=datetime(2022, 1, 5),
            ledger_date=date(2019, 10, 31),
        )
    with runtime.session() as s:
        assert trend_years(s, "10-31", known_at=known) == []  # 2021-06-01 only: no cut-off yet
        assert trend_years(s, "10-31") == [2019, 2020]
        built = build_report(s, runtime.config, 2021, picture=False, known_at=known)
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    assert [r["年度"] for r in read_table(wb["历年趋势"], "年度")] == [2021]


def test_trend_lines_have_one_colour_per_category_in_page_and_report(
    login, runtime: Runtime, history
) -> None:
    """One visual language: the web chart and the report chart colour each category alike,
    from heating.coverage_classes, and no line takes a status class's colour."""
    from heating.coverage_classes import COVERAGE_CLASSES, PRIORITY_COLOUR, series_colour

    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, picture=False)
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    [chart] = wb["历年趋势"]._charts
    report = [series.graphicalProperties.line.solidFill.srgbClr for series in chart.series]
    page = login("dave").get("/trend").get_data(as_text=True)
    web = dict(
        re.findall(
            r'<g class="series" data-key="([^"]+)">\s*<polyline fill="none" stroke="(#[0-9a-f]{6})"',
            page,
        )
    )
    with runtime.session() as s:
        keys = [r.key for r in coverage(s, runtime.config.profile, "category")]
    expected = [series_colour(i, total=key == "total") for i, key in enumerate(keys)]
    assert ["#" + c.lower() for c in report] == expected  # every category, total last
    assert web and all(web[key] == expected[keys.index(key)] for key in web)
    assert not set(expected) & ({c.colour for c in COVERAGE_CLASSES} | {PRIORITY_COLOUR})
