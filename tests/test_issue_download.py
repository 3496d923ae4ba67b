"""The batch page's issue list as a workbook: every issue, formula-safe, scoped like the batch."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from heating.models import Household, ImportBatch
from tests.support.database import row_counts
from tests.support.ledgers import bad_id_number, id_number, workbook_xlsx
from tests.support.web import batch_id_of, upload

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
    assert book.sheetnames[0] == "问题清单"
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


# --------------------------------------------------------------------------
# The rows to fix: original cells, a reason column, and the file uploaded again
# --------------------------------------------------------------------------

TITLE = "麟绛街道清洁取暖改造台账（截至2021年6月30日）"
ROUND_HEADER = [
    "序号",
    "村",
    "户号",
    "户主姓名",
    "身份证号",
    "改造状态",
    "改造方式",
    "联系电话",
    "备注",
]


def _round_trip_ledger() -> bytes:
    return workbook_xlsx(
        (
            "一组",
            [
                [TITLE],
                ROUND_HEADER,
                [1, "南街村委会", "A001", "张三", id_number(1), "未改造", None, None, "-"],
                [
                    2,
                    "南街村委会",
                    "A002",
                    "李四",
                    bad_id_number(2),
                    "未改造",
                    None,
                    "+8613800000000",
                    "-",
                ],
                [3, "南街村委会", "A003", "王五", id_number(3), "没听说过", None, None, "@张三"],
            ],
        ),
        (
            "二组",
            [
                ROUND_HEADER,
                [4, "东街村委会", "B001", "赵六", id_number(4), "未改造", None, None, None],
            ],
        ),
    )


def test_the_download_carries_the_original_rows_and_round_trips(login, runtime) -> None:
    client = login("bob")
    page = upload(client, _round_trip_ledger(), "麟绛街道台账.xlsx", township=TOWNSHIP)
    batch_id = batch_id_of(page)
    with runtime.session() as session:
        assert session.get(ImportBatch, batch_id).counts["rejected"] == 2

    resp = client.get(f"/imports/{batch_id}/issues.xlsx")
    book = load_workbook(io.BytesIO(resp.get_data()))
    # The issue list, then the sheet with problem rows under its own name ("二组" had none).
    assert book.sheetnames == ["问题清单", "一组"]
    assert "可直接上传本文件" in book["问题清单"]["A3"].value
    sheet = book["一组"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == TITLE  # the title row keeps the ledger date
    assert list(rows[1][:9]) == ROUND_HEADER and rows[1][9].startswith("问题说明")
    # Every original cell as typed: numbers as numbers, "-" and "+86…" unchanged, text never a formula.
    assert list(rows[2][:9]) == [
        2,
        "南街村委会",
        "A002",
        "李四",
        bad_id_number(2),
        "未改造",
        None,
        "+8613800000000",
        "-",
    ]
    assert list(rows[3][:9]) == [
        3,
        "南街村委会",
        "A003",
        "王五",
        id_number(3),
        "没听说过",
        None,
        None,
        "@张三",
    ]
    assert not [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert "原第 4 行" in rows[2][9] and "E 列 身份证号" in rows[2][9] and "校验" in rows[2][9]
    assert "原第 5 行" in rows[3][9] and "F 列 改造状态" in rows[3][9]
    assert len(rows) == 4

    # The clerk fixes the two cells in the downloaded file and uploads it as it is.
    sheet["E3"].value = id_number(2)
    sheet["F4"].value = "未改造"
    sheet["I4"].value = None
    fixed = io.BytesIO()
    book.save(fixed)
    again = upload(
        client, fixed.getvalue(), f"批次{batch_id}_麟绛街道台账_问题清单.xlsx", township=TOWNSHIP
    )
    second = batch_id_of(again)
    with runtime.session() as session:
        batch = session.get(ImportBatch, second)
        assert batch.counts["rejected"] == 0 and batch.counts["new"] == 2
        assert batch.ledger_date == date(2021, 6, 30)  # from the title row, as the first time
        # The issues are gone, and neither the issue sheet nor the reason column raises a
        # note: only 序号, ignored as in the first upload.
        assert [(i["code"], i["message"][:5]) for i in batch.issues] == [
            ("column_ignored", "列“序号”")
        ]
