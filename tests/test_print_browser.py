"""List pages printed from chromium (print emulation at 1366×768): title and date, no controls.

Villages, the dashboard's townships, a village's households, import batches and
zones: the printout keeps the page's title, a line with the tracker's name,
the page and the print date, the filters in words and the table; navigation,
filters, search boxes, export links, tabs, paging and buttons are left out.
"""

from __future__ import annotations

import re

import pytest

from tests.support.browser import browser_log_in
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.households import add_many
from tests.support.zones import add_zone

pytestmark = pytest.mark.browser

CONTROLS = (
    ".mainnav",
    ".topbar",
    "form.filters",
    "a.button",
    ".pager",
    "button",
    "input",
    "select",
)


@pytest.fixture
def listed(runtime, users, tiny_district) -> None:
    with runtime.session() as s:
        add_many(s, tiny_district[NANJIE], 7, "completed")
        add_many(s, tiny_district[NANJIE], 3, "pending")
        add_many(s, tiny_district[SHANGCUN], 30, "pending")
    add_zone(runtime, ["140405001201"], ["140405001202"])


def visible(pg, selector: str) -> int:
    """How many elements of ``selector`` are laid out (display not none)."""
    return pg.evaluate(
        """s => [...document.querySelectorAll(s)].filter(e => e.getClientRects().length).length""",
        selector,
    )


@pytest.mark.parametrize(
    ("user", "path", "title", "table"),
    [
        ("dave", "/villages?q=村&page=1", "村庄", "#villages"),
        ("dave", "/", "总览", "table"),
        ("alice", f"/villages/{NANJIE}", "南街村委会", "table"),
        ("bob", "/imports", "台账导入", "table"),
        ("dave", "/zones?q=南街", "禁煤区", "#zones"),
    ],
)
def test_a_printed_list_page_has_title_and_date_and_no_controls(
    page, live_server, listed, user, path, title, table
) -> None:
    pg = page.page
    browser_log_in(pg, live_server, user)
    pg.goto(f"{live_server}{path}")
    assert visible(pg, ".print-stamp") == 0  # on screen: no stamp
    assert visible(pg, "form.filters, a.button, .mainnav") > 0  # the controls are there
    pg.emulate_media(media="print")
    for selector in CONTROLS:
        assert visible(pg, selector) == 0, (path, selector)
    stamp = pg.locator(".print-stamp").inner_text()
    assert title in stamp and "清洁取暖改造台账" in stamp
    assert re.search(r"打印时间 \d{4}-\d{2}-\d{2} \d{2}:\d{2}", stamp)
    assert title in pg.locator("h1").first.inner_text()
    assert visible(pg, table) > 0
    pg.emulate_media(media="screen")
    assert page.blocked == [] and page.console_errors == []
