"""The pages follow ledger dates: latest ledger per township, village history, report known-at."""

from __future__ import annotations

import io
import re

import openpyxl

from heating import clock
from heating.models import utcnow
from tests.support.ledgers import ledger_xlsx
from tests.support.web import batch_id_of, follow_job, post, upload

ROWS = [["南街村委会", "1", "户主1", None, None, "已完工", "煤改电", "2021-06-01"]]


def test_dashboard_and_village_page_show_ledger_dates(login, runtime) -> None:
    client = login("bob")
    data = ledger_xlsx(ROWS, title="麟绛街道台账（截至2021年10月31日）")
    batch = batch_id_of(upload(client, data, "台账.xlsx"))
    follow_job(client, post(client, f"/imports/{batch}/commit", {"mode": "strict"}))
    later = ledger_xlsx([[*ROWS[0][:5], "已验收", "煤改电", "2021-06-01"]])
    second = batch_id_of(upload(client, later, "台账.xlsx", ledger_date="2020-10-31"))
    follow_job(client, post(client, f"/imports/{second}/commit", {"mode": "strict"}))

    dashboard = client.get("/").get_data(as_text=True)
    row = re.search(
        r"<tr><td><a [^>]*>麟绛街道</a></td><td class=\"ledger-date\">([^<]*)<", dashboard
    )
    assert row and row.group(1) == "2021-10-31"  # the back-filled 2020 ledger is not the latest
    village = client.get("/villages/140405001201").get_data(as_text=True)
    assert f"截至 2021-10-31（批次 #{batch}）" in village
    history = village[village.index('id="history"') :]
    dates = re.findall(r"<tr[^>]*>\s*<td>(\d{4}-\d{2}-\d{2})</td>", history)
    assert dates == ["2021-10-31", "2020-10-31"]  # by ledger date, newest first
    assert "台账日期" in history and "记录时间" in history


def test_the_report_form_takes_a_known_at(login, runtime) -> None:
    client = login("dave")
    bad = client.get("/reports/download?year=2021&known_at=yesterday")
    assert bad.status_code == 400
    assert "已知时点：时间应为 ISO 8601 格式" in bad.get_data(as_text=True)
    known = clock.iso(utcnow().replace(microsecond=0))
    resp = client.get(f"/reports/download?year=2021&known_at={known.replace('+', '%2B')}")
    assert resp.status_code == 200
    wb = openpyxl.load_workbook(io.BytesIO(resp.data))
    cover = {r[0].value: r[1].value for r in wb["封面与说明"].iter_rows(min_row=4) if r[0].value}
    assert cover["已知时点"].startswith(clock.shown_with_offset(clock.parse_known_at(known)))
