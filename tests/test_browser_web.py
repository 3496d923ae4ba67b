"""A real browser (Debian chromium via Playwright) through the pages clerks and planners use."""

from __future__ import annotations

import re

import pytest
from openpyxl import load_workbook

from tests.support.browser import browser_log_in
from tests.support.ledgers import bad_id_number, id_number

pytestmark = pytest.mark.browser


def _fill(path, rows) -> None:
    wb = load_workbook(path)
    ws = wb["台账"]
    headers = {c.value: c.column_letter for c in ws[2] if c.value}
    for offset, row in enumerate(rows):
        for header, value in row.items():
            cell = ws[f"{headers[header]}{3 + offset}"]
            cell.value = value
    wb.save(path)


def _upload(pg, base: str, path) -> None:
    pg.goto(f"{base}/imports")
    pg.set_input_files("input[name=file]", str(path))
    pg.click("#upload-form button[type=submit]")
    pg.wait_for_url(re.compile(r".*/imports/\d+$"), timeout=60_000)


def test_clerk_fixes_a_ledger_error_and_sees_the_dashboard_change(
    page, live_server, users, tmp_path
) -> None:
    pg, base = page.page, live_server
    browser_log_in(pg, base, "bob")
    assert pg.inner_text("#total-clean") == "0"

    pg.goto(f"{base}/imports")
    with pg.expect_download() as info:
        pg.click("a.template-link")
    download = info.value
    assert download.suggested_filename == "麟绛街道清洁取暖改造台账模板.xlsx"
    ledger = tmp_path / "麟绛街道台账.xlsx"
    download.save_as(ledger)

    rows = [
        {
            "村": "南街村委会",
            "户号": "A001",
            "户主姓名": "张三",
            "身份证号": id_number(1),
            "改造状态": "已完工",
            "改造方式": "煤改电",
            "完工日期": "2021-06-30",
        },
        {
            "村": "南街村委会",
            "户号": "A002",
            "户主姓名": "李四",
            "身份证号": bad_id_number(2),
            "改造状态": "已完工",
            "改造方式": "煤改电",
            "完工日期": "2021-07-01",
        },
    ]
    _fill(ledger, rows)
    _upload(pg, base, ledger)
    assert "麟绛街道台账.xlsx" in pg.inner_text("h1")
    error = pg.locator("#issues tr.row-error").first
    cells = error.locator("td").all_inner_texts()
    assert cells[2:5] == ["4", "D", "身份证号"]
    assert "校验位错误" in cells[6]
    assert pg.locator("#commit-strict").is_disabled()

    # The clerk corrects D4 and uploads again; now the file commits as a whole.
    rows[1]["身份证号"] = id_number(2)
    _fill(ledger, rows)
    _upload(pg, base, ledger)
    assert pg.locator("#issues tr.row-error").count() == 0
    pg.click("#commit-strict")
    pg.wait_for_url(re.compile(r".*/imports/\d+$"), timeout=60_000)
    assert "台账已写入" in pg.inner_text("main")

    pg.click("nav.mainnav >> text=总览")
    assert pg.inner_text("#total-clean") == "2"
    assert "麟绛街道台账.xlsx" in pg.inner_text("#recent-imports")
    assert page.blocked == [] and page.console_errors == []


def test_planner_browses_from_the_villages_list_to_a_village(page, live_server, users) -> None:
    pg, base = page.page, live_server
    browser_log_in(pg, base, "dave")
    pg.click("nav.mainnav >> text=村庄")
    pg.select_option("select[name=township]", "140405101")
    pg.click("form.filters button[type=submit]")
    assert "南街村委会" not in pg.inner_text("#villages")
    pg.click("#villages >> text=上村村委会")
    pg.wait_for_url(f"{base}/villages/140405101201")
    assert "上村村委会" in pg.inner_text("h1")
    assert pg.is_visible("#measures")
    # Usable at 1366×768: the page does not scroll sideways.
    assert pg.evaluate("document.documentElement.scrollWidth") <= 1366
    assert page.blocked == [] and page.console_errors == []
