"""The preview's 变更明细: before → after, field by field, for the households an update changes."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from imports.outcome import CHANGES_LISTED
from tests.support.web import batch_id_of, follow_job, post, upload

TOWNSHIP = "140405001"
HEADER = "户号,户主姓名,村,联系电话,改造状态,改造方式,完工日期"
FIRST = [
    "A001,张三,南街村委会,13800000001,未改造,,",
    "A002,李四,南街村委会,13800000002,未改造,,",
    "A003,王五,南街村委会,,未改造,,",
]
SECOND = [
    "A001,张三,南街村委会,13800000001,已完工,煤改电,2021-09-01",  # status, route, date
    "A002,李四,南街村委会,13911112222,未改造,,",  # phone
    "A003,王五,南街村委会,,未改造,,",  # unchanged
    "A004,赵六,南街村委会,,未改造,,",  # new
]


def _csv(rows: list[str]) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


@pytest.fixture
def second_preview(login) -> tuple:
    client = login("bob")
    first = batch_id_of(upload(client, _csv(FIRST), "台账1.csv", TOWNSHIP, "2021-06-30"))
    follow_job(client, post(client, f"/imports/{first}/commit", {"mode": "strict"}))
    second = batch_id_of(upload(client, _csv(SECOND), "台账2.csv", TOWNSHIP, "2021-10-31"))
    return client, second


def _cells(page: str) -> list[list[str]]:
    table = page.split('id="changes"')[1].split("</table>")[0]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>")[1], re.S)
    ]


def test_the_preview_lists_before_and_after_for_updated_households(second_preview, runtime):
    client, batch_id = second_preview
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "变更明细（2 户有更新）" in page
    page = client.get(f"/imports/{batch_id}?tab=changes").get_data(as_text=True)
    assert "2 户的数据将被更新" in page
    # One row per changed field; the household's cells span its rows.
    assert _cells(page) == [
        ["台账2", "2", "南街村委会", "A001", "张三", "改造状态", "未改造", "已完工"],
        ["改造方式", "（空）", "煤改电"],
        ["完工日期", "（空）", "2021-09-01"],
        # The clerk of the township sees the phone in full, as on the village page.
        ["台账2", "3", "南街村委会", "A002", "李四", "联系电话", "13800000002", "13911112222"],
    ]
    assert "A003" not in page.split('id="changes"')[1]  # unchanged: not listed
    assert "A004" not in page.split('id="changes"')[1]  # new: not an update

    # The download: one row per changed field, the same values.
    book = load_workbook(io.BytesIO(client.get(f"/imports/{batch_id}/changes.xlsx").get_data()))
    values = [tuple(r) for r in book.active.iter_rows(values_only=True)]
    assert any(r[3:8] == ("A002", "李四", "联系电话", "13800000002", "13911112222") for r in values)
    assert not [c for row in book.active.iter_rows() for c in row if c.data_type == "f"]

    # At rest the details are sealed: no phone number in the database column.
    with runtime.engine.connect() as conn:
        raw = conn.execute(
            text("SELECT changes FROM import_batches WHERE id = :id"), {"id": batch_id}
        ).scalar()
    assert "13911112222" not in str(raw) and "enc1:" in str(raw)


def test_an_admin_reads_the_changes_and_others_may_not(second_preview, login, client):
    _, batch_id = second_preview
    login("carol")  # the other township's clerk
    assert client.get(f"/imports/{batch_id}?tab=changes").status_code == 403
    assert client.get(f"/imports/{batch_id}/changes.xlsx").status_code == 403
    login("alice")
    page = client.get(f"/imports/{batch_id}?tab=changes").get_data(as_text=True)
    assert "13911112222" in page


def test_big_files_list_the_first_households_and_say_so(login):
    """One household more than is kept (the preview runs in a job process: no monkeypatching)."""
    many = CHANGES_LISTED + 1
    client = login("bob")
    before = [f"B{n:05d},户主{n},南街村委会,,未改造,," for n in range(many)]
    after = [f"B{n:05d},户主{n},南街村委会,1390000{n:04d},未改造,," for n in range(many)]
    first = batch_id_of(upload(client, _csv(before), "台账1.csv", TOWNSHIP, "2021-06-30"))
    follow_job(client, post(client, f"/imports/{first}/commit", {"mode": "strict"}))
    second = batch_id_of(upload(client, _csv(after), "台账2.csv", TOWNSHIP, "2021-10-31"))
    page = client.get(f"/imports/{second}?tab=changes").get_data(as_text=True)
    assert f"只保存并列出前 {CHANGES_LISTED:,} 户" in page
    changes = client.get(f"/imports/{second}/changes.xlsx").get_data()
    book = load_workbook(io.BytesIO(changes), read_only=True)
    listed = {r[3] for r in book.active.iter_rows(values_only=True) if str(r[3]).startswith("B")}
    assert listed == {f"B{n:05d}" for n in range(CHANGES_LISTED)}  # the first ones, in file order
