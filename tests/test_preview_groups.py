"""The clerk's preview reads in order (issue 15 item 5): counts and issues first, the header
mapping folded below; issues grouped by kind with counts, a page per kind, and a download per kind."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from tests.support.ledgers import bad_id_number, ledger_xlsx
from tests.support.users import PASSWORD
from tests.support.web import batch_id_of, upload

pytestmark = pytest.mark.usefixtures("users")


def many_errors() -> bytes:
    """60 rows with a bad ID number (one kind), 3 with an unknown status (another kind)."""
    rows: list[list[object]] = [
        ["南街村委会", f"B{i:03}", f"户主{i}", bad_id_number(i % 9 + 1), None, "未改造", None, None]
        for i in range(60)
    ]
    rows += [
        ["南街村委会", f"S{i}", f"户主S{i}", None, None, "差不多", None, None] for i in range(3)
    ]
    return ledger_xlsx(rows)


def test_issue_kinds_with_counts_link_to_their_own_pages(login) -> None:
    client = login("bob")
    resp = upload(client, many_errors(), "台账.xlsx")
    batch = batch_id_of(resp)
    page = resp.get_data(as_text=True)
    groups = page.split('id="issue-groups"')[1].split("</table>")[0]
    kinds = re.findall(
        r'data-code="([a-z_]+)">([^<]+)</a>.*?<td class="num">([\d,]+)</td>', groups, re.S
    )
    counted = {code: int(n.replace(",", "")) for code, _, n in kinds}
    assert sum(counted.values()) >= 63 and len(counted) >= 2
    id_code = max(counted, key=counted.get)
    assert counted[id_code] == 60

    only = client.get(f"/imports/{batch}?code={id_code}").get_data(as_text=True)
    assert "共 60 条" in only and "差不多" not in only.split('id="issues"')[1]
    download = client.get(f"/imports/{batch}/issues.xlsx?code={id_code}")
    ws = load_workbook(io.BytesIO(download.data)).active
    messages = [c.value for c in ws["A"] if c.value in ("错误", "警告", "提示")]
    assert len(messages) == 60
    households = [c.value for c in ws["I"] if c.value]
    assert households[0] == "农户" and households[1].startswith("户号 B0")  # masked head: 户**
    assert "户主" not in households[1]

    # The header mapping is folded and comes after the issue list.
    assert page.index('id="issues"') < page.index('<details class="mapping-details"')


@pytest.mark.browser
def test_issue_list_is_on_the_first_screen_at_1366(page, live_server, tmp_path) -> None:
    pg, base = page.page, live_server
    pg.goto(f"{base}/login")
    pg.fill("input[name=username]", "bob")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{base}/")
    path = tmp_path / "台账.xlsx"
    path.write_bytes(many_errors())
    pg.goto(f"{base}/imports")
    pg.set_input_files("input[name=file]", str(path))
    pg.click("#upload-form button[type=submit]")
    pg.wait_for_url(re.compile(r".*/imports/\d+$"), timeout=60_000)
    title = pg.locator("#issues-title").bounding_box()
    assert title is not None and title["y"] < 768, title  # no scrolling to find the issues
    assert not pg.locator("#mapping table").first.is_visible()  # folded
    pg.click("#mapping summary")
    assert pg.locator("#mapping table").first.is_visible()
    assert page.console_errors == []
