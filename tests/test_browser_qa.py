"""In a real browser at 1366×768: a preview with errors reads as a clerk needs it."""

from __future__ import annotations

import re

import pytest

from tests.support.ledgers import bad_id_number, id_number, ledger_xlsx
from tests.support.users import PASSWORD

pytestmark = pytest.mark.browser


def test_preview_with_errors_disables_strict_commit_visibly_and_keeps_cells_on_one_line(
    page, live_server, users, tmp_path
) -> None:
    pg, base = page.page, live_server
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", "bob")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("main button[type=submit]")
    pg.wait_for_url(f"{base}/")

    ledger = tmp_path / "台账.xlsx"
    ledger.write_bytes(
        ledger_xlsx(
            [
                ["南街村委会", "A001", "张三", bad_id_number(1), None, "已完工", "煤改电", None],
                ["南街村委会", "A002", "李四", id_number(2), None, "已完工", "煤改电", None],
                # A long unknown village name fills the value and message columns, as real
                # ledgers do; the short columns must still not be squeezed.
                ["名录中没有的" * 12, "A003", "王五", id_number(3), None, "已完工", "煤改电", None],
            ]
        )
    )
    pg.goto(f"{base}/imports")
    pg.set_input_files("input[name=file]", str(ledger))
    pg.click("#upload-form button[type=submit]")
    pg.wait_for_url(re.compile(r".*/imports/\d+$"), timeout=60_000)

    strict = pg.locator("#commit-strict")
    assert strict.is_disabled()
    # A disabled primary button must not look like the one to press.
    opacity = float(strict.evaluate("b => getComputedStyle(b).opacity"))
    assert opacity < 0.7
    assert pg.locator("#commit-valid").is_enabled()

    # Level, sheet, row, column and field stay on one line (no one-character-per-line cells).
    row = pg.locator("#issues tr.row-error").first
    line_height = (
        row.locator("td").nth(6).evaluate("td => parseFloat(getComputedStyle(td).lineHeight)")
    )
    for i in range(5):
        cell = row.locator("td").nth(i)
        # The text's own height: a long message elsewhere in the row may make the row taller.
        box = cell.evaluate(
            "td => { const r = document.createRange(); r.selectNodeContents(td);"
            " return r.getBoundingClientRect().height; }"
        )
        assert box < 1.5 * line_height, (i, cell.inner_text())
    assert row.locator("td").nth(4).inner_text() == "身份证号"
    assert not page.console_errors and not page.blocked
