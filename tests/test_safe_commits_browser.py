"""In a real browser: committing a stale preview is refused, and the fresh preview is one click."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from heating.models import Household
from tests.support.browser import browser_log_in
from tests.support.ledgers import ledger_xlsx

pytestmark = pytest.mark.browser


def _upload(pg, base: str, path, township: str = "") -> int:
    pg.goto(f"{base}/imports")
    pg.select_option("select[name=township]", township)
    pg.set_input_files("input[name=file]", str(path))
    pg.click("#upload-form button[type=submit]")
    pg.wait_for_url(re.compile(r".*/imports/\d+$"), timeout=60_000)
    return int(pg.url.rsplit("/", 1)[1])


def test_stale_preview_commit_is_refused_in_the_browser(
    page, live_server, users, runtime, tmp_path
) -> None:
    pg, base = page.page, live_server
    browser_log_in(pg, base, "alice")
    both = tmp_path / "两镇台账.xlsx"
    both.write_bytes(
        ledger_xlsx(
            [
                ["南街村委会", "1", "户主1", None, None, "已列入计划", "煤改电", None],
                ["上村村委会", "2", "户主2", None, None, "未改造", None, None],
            ]
        )
    )
    stale = _upload(pg, base, both)
    newer = tmp_path / "麟绛街道台账.xlsx"
    newer.write_bytes(
        ledger_xlsx([["南街村委会", "1", "户主1", None, None, "已完工", "煤改电", "2021-10-01"]])
    )
    fresh = _upload(pg, base, newer, "140405001")
    pg.click("#commit-strict")
    pg.wait_for_url(f"{base}/imports/{fresh}", timeout=60_000)

    pg.goto(f"{base}/imports/{stale}")
    pg.click("#commit-strict")
    pg.wait_for_selector("#job-failed", timeout=60_000)
    refusal = pg.inner_text("#job-failed")
    assert f"预览之后批次 {fresh}" in refusal and "南街村委会1" in refusal
    with runtime.session() as session:
        status = session.scalar(select(Household.status).where(Household.household_no == "1"))
    assert status == "completed"  # the newer data stands

    pg.click("#repreview")
    pg.wait_for_url(re.compile(r".*/imports/\d+$"), timeout=60_000)
    again = int(pg.url.rsplit("/", 1)[1])
    assert again not in (stale, fresh)
    assert "两镇台账.xlsx" in pg.inner_text("h1")
    assert "状态倒退" in pg.inner_text("#issues")
    assert page.blocked == [] and page.console_errors == []
