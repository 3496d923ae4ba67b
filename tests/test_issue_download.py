"""The batch page's issue list as a workbook: every issue, formula-safe, scoped like the batch."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from heating.models import Household, ImportBatch
from tests.support import batch_id_of, row_counts, upload

TOWNSHIP = "140405001"
HEADER = "户主姓名,改造状态,村"
UNKNOWN_VILLAGES = 30  # each row: village_unknown (an error)
FORMULA_NAME = '=HYPERLINK("http://evil.example","点我")'


def _ledger() -> bytes:
    rows = [f"张三{i},已完工,无此村{i}" for i in range(UNKNOWN_VILLAGES)]
    rows.append(f"{FORMULA_NAME},已完工,无此村甲")
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def _sheet_rows(resp) -> list[tuple]:
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(resp.get_data()))
    assert book.sheetnames == ["问题清单"]
    return list(book["问题清单"].iter_rows(values_only=True))


def _issue_rows(rows: list[tuple]) -> list[tuple]:
    header_at = next(i for i, row in enumerate(rows) if row and row[0] == "级别")
    assert rows[header_at][:7] == ("级别", "工作表", "行", "列", "字段", "单元格内容", "说明")
    return rows[header_at + 1 :]


@pytest.mark.parametrize("settings", [{"import_max_issues": 10}])
def test_a_cut_short_list_downloads_in_full_from_the_stored_file(login, runtime) -> None:
    client = login("bob")
    page = upload(client, _ledger(), "台账.csv", township=TOWNSHIP)
    batch_id = batch_id_of(page)
    body = page.get_data(as_text=True)
    assert 'id="issues-download"' in body and "重新核查" in body
    with runtime.session() as session:
        stored = session.get(ImportBatch, batch_id).issues
    stored_errors = [i for i in stored if i["code"] == "village_unknown"]
    assert len(stored_errors) <= 10  # the preview listed only part of them
    before = row_counts(runtime)

    rows = _sheet_rows(client.get(f"/imports/{batch_id}/issues.xlsx"))

    assert "重新核查" in rows[1][0]  # says where the list comes from
    issues = _issue_rows(rows)
    unknown = [r for r in issues if r[7] == "village_unknown"]
    assert len(unknown) == UNKNOWN_VILLAGES + 1  # every row, not the preview's first ten
    assert {r[0] for r in unknown} == {"错误"}
    assert sorted(r[2] for r in unknown) == list(range(2, UNKNOWN_VILLAGES + 3))
    assert not any(r[7] == "issues_not_listed" for r in issues)
    # Downloading judged the file again but wrote nothing.
    assert row_counts(runtime) == before
    with runtime.session() as session:
        assert session.scalar(select(Household.id)) is None


def test_cell_text_from_the_file_never_becomes_a_formula(login) -> None:
    client = login("bob")
    ledger = (HEADER + "\n" + "张三,已完工,=1+1\n").encode()
    batch_id = batch_id_of(upload(client, ledger, "台账.csv", township=TOWNSHIP))

    resp = client.get(f"/imports/{batch_id}/issues.xlsx")
    book = load_workbook(io.BytesIO(resp.get_data()))
    cells = [c for row in book["问题清单"].iter_rows() for c in row if c.value is not None]
    assert not [c for c in cells if c.data_type == "f"]
    assert any(c.value == "'=1+1" for c in cells)


def test_the_page_filters_apply_and_an_uncut_list_is_the_stored_one(login, runtime) -> None:
    client = login("bob")
    ledger = (
        HEADER + "\n张三,已完工,南街村委会\n李四,没听说过,南街村委会\n王五,已完工,无此村\n"
    ).encode()
    batch_id = batch_id_of(upload(client, ledger, "台账.csv", township=TOWNSHIP))
    with runtime.session() as session:
        stored = session.get(ImportBatch, batch_id).issues

    rows = _sheet_rows(client.get(f"/imports/{batch_id}/issues.xlsx"))
    assert "一致" in rows[1][0]
    assert len(_issue_rows(rows)) == len(stored)

    errors = _issue_rows(_sheet_rows(client.get(f"/imports/{batch_id}/issues.xlsx?severity=error")))
    assert errors and {r[0] for r in errors} == {"错误"}
    assert len(errors) == sum(1 for i in stored if i["severity"] == "error")


def test_download_is_scoped_like_the_batch(login, client) -> None:
    login("bob")
    batch_id = batch_id_of(upload(client, _ledger(), "台账.csv", township=TOWNSHIP))

    login("carol")  # the other township's clerk
    assert client.get(f"/imports/{batch_id}/issues.xlsx").status_code == 403
    login("dave")  # planners read no import batches
    assert client.get(f"/imports/{batch_id}/issues.xlsx").status_code == 403
    login("alice")
    assert client.get(f"/imports/{batch_id}/issues.xlsx").status_code == 200
