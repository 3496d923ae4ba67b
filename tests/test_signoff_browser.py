"""In a real browser: a clerk submits, a reviewer returns with a reason, the clerk resubmits, approval."""

from __future__ import annotations

import pytest

from heating import signoff
from tests.support.browser import browser_log_in
from tests.support.signoff import PERIOD

pytestmark = pytest.mark.browser

TOWN = "140405001"
PAGE = f"/signoff/{TOWN}/{PERIOD}"


def _logout(pg, base: str) -> None:
    pg.click("form.logout button[type=submit]")
    pg.wait_for_url(f"{base}/login*")


def _cell(pg, period: str = str(PERIOD)):
    return pg.locator(f'td.signoff-cell[data-township="{TOWN}"][data-period="{period}"]')


def test_submit_return_resubmit_approve_in_the_browser(page, live_server, users, runtime) -> None:
    pg, base = page.page, live_server
    pg.on("dialog", lambda dialog: dialog.accept())  # the approve button asks first (confirm.js)

    browser_log_in(pg, base, "bob")
    pg.goto(base + PAGE)
    assert "没有发现待处理问题" in pg.inner_text("#signoff-problems")
    pg.fill("#submit-form textarea[name=note]", "已与各村核对")
    pg.click("#submit-form button[type=submit]")
    pg.wait_for_selector(".flash-success")
    assert "已报送" in pg.inner_text("#signoff-state")
    _logout(pg, base)

    browser_log_in(pg, base, "rita")
    pg.goto(f"{base}/signoff?period={PERIOD}")
    cell = _cell(pg)
    assert "已报送" in cell.inner_text()
    cell.locator("form.signoff-return input[name=reason]").fill("东街村完工户数与验收单不符")
    cell.locator("form.signoff-return button").click()
    pg.wait_for_selector(".flash-success")
    assert "已退回" in _cell(pg).inner_text()
    _logout(pg, base)

    browser_log_in(pg, base, "bob")  # the dashboard tells the clerk why
    assert "东街村完工户数与验收单不符" in pg.inner_text(".signoff-returned")
    pg.click(".signoff-returned a")
    pg.wait_for_url(base + PAGE)
    assert "退回理由：东街村完工户数与验收单不符" in pg.inner_text("main")
    pg.fill("#submit-form textarea[name=note]", "已更正东街村")
    pg.click("#submit-form button[type=submit]")
    pg.wait_for_selector(".flash-success")
    assert "已报送" in pg.inner_text("#signoff-state")
    _logout(pg, base)

    browser_log_in(pg, base, "rita")
    pg.goto(base + PAGE)
    pg.click("form.signoff-approve button")
    pg.wait_for_selector(".flash-success")
    assert "已审核" in pg.inner_text("#signoff-state")
    events = pg.locator("#signoff-events tbody tr").all_inner_texts()
    assert [e.split("\t")[1] for e in events] == ["报送", "退回", "报送", "审核通过"]

    with runtime.session() as session:
        township = signoff.township_by_code(session, TOWN)
        status = signoff.status_of(session, township, PERIOD)
    assert (status.state, status.by, status.submitted_by) == ("approved", "rita", "bob")
    assert page.blocked == [] and page.console_errors == []
