"""A city user in chromium at 1366×768 chooses 潞城区 and clicks through the navigation.

Every page after the choice shows only 潞城区: the picker, the nav's links and the
village page reached from the list all carry ``?district=`` (issue 17's multi-district
navigation).
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.browser import browser_log_in
from tests.support.districts import LUCHENG, add_second_district
from tests.support.users import add_district_user

pytestmark = pytest.mark.browser


@pytest.fixture
def city(runtime, standard, users) -> None:
    with runtime.session() as s:
        add_second_district(s)
        add_district_user(s, "lucy", "planner", LUCHENG)


def _district(url: str) -> str | None:
    return parse_qs(urlsplit(url).query).get("district", [None])[0]


def test_city_user_clicks_through_the_navigation_in_the_chosen_district(
    page, live_server, city
) -> None:
    pg, base = page.page, live_server
    browser_log_in(pg, base, "erin")
    pg.select_option("form.district-pick select[name=district]", LUCHENG)
    pg.click("form.district-pick button[type=submit]")
    pg.wait_for_url(f"**/?district={LUCHENG}")
    assert "潞城区（140406）" in pg.inner_text("h1")
    # the topbar stays one row at 1366 px for the longest navigation (a city user's is 11 items)
    assert pg.locator("header.topbar").bounding_box()["height"] < 80

    for label in (
        "村庄",
        "禁煤区",
        "覆盖地图",
        "历年趋势",
        "年度报告",
        "燃煤锅炉",
        "用量核验",
        "报送与审核",
        "总览",
    ):
        pg.click(f"nav.mainnav a:text-is('{label}')")
        pg.wait_for_load_state()
        assert _district(pg.url) == LUCHENG, (label, pg.url)
        assert pg.locator("form.district-pick select").input_value() == LUCHENG, label
        assert "麟绛街道" not in pg.inner_text("main"), label  # 屯留区's township

    pg.click("nav.mainnav a:text-is('村庄')")
    pg.click("#villages a:has-text('东关村委会')")
    pg.wait_for_url("**/villages/140406001201?district=140406")
    pg.click("nav.mainnav a:text-is('覆盖地图')")
    assert _district(pg.url) == LUCHENG
    # back to every district with the picker
    pg.select_option("form.district-pick select[name=district]", "")
    pg.click("form.district-pick button[type=submit]")
    pg.wait_for_load_state()
    assert _district(pg.url) in (None, "")
    assert urlsplit(pg.url).path == "/map"
    assert page.blocked == [] and page.console_errors == []
