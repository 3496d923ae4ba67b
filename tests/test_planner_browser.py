"""A planner in chromium at 1366×768: finds a village by name, sorts, filters, exports (issue 15)."""

from __future__ import annotations

import pytest
from openpyxl import load_workbook

from tests.support.districts import DONGJIE, NANJIE, SHANGCUN
from tests.support.households import add_many
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def progress(runtime, users, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[NANJIE], 7, "completed")
        add_many(s, ids[NANJIE], 3, "pending")
        add_many(s, ids[SHANGCUN], 10, "completed")
        add_many(s, ids[SHANGCUN], 60, "pending")


def test_planner_finds_sorts_filters_and_exports(page, live_server, progress, tmp_path) -> None:
    pg, base = page.page, live_server
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", "dave")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/")

    pg.goto(f"{base}/villages")
    pg.fill("input[name=q]", "上村")
    pg.click("form.filters button[type=submit]")
    rows = pg.locator("#villages tbody tr")
    assert rows.count() == 1 and "上村村委会" in rows.first.inner_text()

    pg.goto(f"{base}/villages")
    pg.click("th.sortable a[data-sort=gap]")
    first = pg.locator("#villages tbody tr").first.inner_text()
    assert "东街村委会" in first  # the largest gap first: nothing of its 8 done
    assert pg.locator("th[aria-sort=descending]").inner_text().startswith("差距")

    with pg.expect_download() as info:
        pg.click("#export-xlsx")
    download = info.value
    assert download.suggested_filename == "村庄清洁取暖改造进度.xlsx"
    path = tmp_path / "villages.xlsx"
    download.save_as(path)
    ws = load_workbook(path).active
    codes = [r[0] for r in ws.iter_rows(values_only=True) if r[0] and str(r[0]).isdigit()]
    assert codes[0] == DONGJIE  # the export keeps the page's order

    pg.click("#villages a:has-text('上村村委会')")
    pg.select_option("select[name=status]", "pending")
    pg.click("#household-filters button[type=submit]")
    assert "第 1 / 2 页，共 60 条" in pg.inner_text("nav.pager")
    pg.click("nav.pager a:has-text('下一页')")
    assert "status=pending" in pg.url and "page=2" in pg.url
    assert pg.locator("#households tbody tr").count() == 10
    assert (
        pg.eval_on_selector("#household-filters", "el => el.getBoundingClientRect().right") <= 1366
    )
    assert page.blocked == [] and page.console_errors == []
