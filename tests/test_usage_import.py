"""Utility usage import: both forms, accounts as text, row errors placed, batches, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from heating.models import UsageRecord
from heating.usage_records import records_in_force
from imports.issues import CODES
from tests.support.districts import NANJIE
from tests.support.households import write_household


@pytest.fixture
def holders(runtime, tiny_district):
    """Three 煤改电 households with power accounts, one 煤改气 with a gas account."""
    village = tiny_district[NANJIE]
    with runtime.session() as session:
        write_household(
            session, village, "E1", "completed", route="electric", power_account="0012345"
        )
        write_household(
            session, village, "E2", "completed", route="electric", power_account="22222"
        )
        write_household(session, village, "E3", "completed", route="electric", power_account="77")
        write_household(session, village, "E4", "completed", route="electric", power_account="077")
        write_household(session, village, "G1", "completed", route="gas", gas_account="000900")
    return village


def period_xlsx(
    path: Path, rows: list[list], header=("户号", "户名", "月份", "用电量（kWh）")
) -> str:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "用电明细"
    ws.append(["国网屯留供电公司居民用电量明细"])
    ws.append(list(header))
    for row in rows:
        ws.append(row)
    wb.save(path)
    return str(path)


def usage_json(run_cli, *args: str) -> dict:
    result = run_cli("usage", "import", *args, "--json")
    assert result.exit_code in (0, 1), result.stderr
    out = json.loads(result.stdout)
    for issue in out["issues"]:
        assert issue["code"] in CODES, issue["code"]
    return out


def test_period_form_preview_has_the_promised_keys_and_matches_accounts(
    run_cli, runtime, holders, users, tmp_path
):
    path = period_xlsx(
        tmp_path / "用电.xlsx",
        [
            ["0012345", "张三", "2021-11", 310.5],
            ["12345", "张三", "2021年12月", 402],  # the utility dropped the zeros
            ["22222", "李四", 202201, 0],
            ["99999", "外人", "2022-01", 50],
            ["77", "王五", "2022-01", 60],  # shared by E3 (77) and E4 (077)
        ],
    )
    out = usage_json(run_cli, path, "--kind", "electric")
    for key in ("kind", "rows", "accounts", "matched", "unmatched_accounts", "seasons", "issues"):
        assert key in out
    assert out["kind"] == "electric" and out["rows"] == 5
    assert out["accounts"] == 4 and out["matched"] == 3
    assert out["unmatched_accounts"] == ["99999"]
    assert out["seasons"] == ["2021"]
    codes = {i["code"] for i in out["issues"]}
    assert {"account_leading_zeros", "account_shared"} <= codes
    assert not [i for i in out["issues"] if i["severity"] == "error"]
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 0  # a preview


def test_commit_reimport_replace_and_rollback(run_cli, runtime, holders, users, tmp_path):
    first = period_xlsx(tmp_path / "a.xlsx", [["0012345", "张三", "2021-11", 300]])
    done = usage_json(run_cli, first, "--kind", "electric", "--commit")
    assert done["status"] == "committed" and done["counts"]["new"] == 1
    again = usage_json(run_cli, first, "--kind", "electric", "--commit")
    assert again["counts"]["unchanged"] == 1 and again["counts"]["new"] == 0
    later = period_xlsx(tmp_path / "b.xlsx", [["12345", "张三", "2021-11", 350]])
    replaced = usage_json(run_cli, later, "--kind", "electric", "--commit")
    assert replaced["counts"]["updated"] == 1
    with runtime.session() as session:
        assert list(records_in_force(session, "electric").values()) == [350.0]
    listed = json.loads(run_cli("batches", "list", "--json").stdout)
    usage = [b for b in listed if b["kind"] == "usage"]
    assert [b["status"] for b in usage] == ["committed"] * 3
    rolled = run_cli("batches", "rollback", str(replaced["batch"]))
    assert rolled.exit_code == 0, rolled.stderr
    with runtime.session() as session:
        assert list(records_in_force(session, "electric").values()) == [300.0]
    text = run_cli("batches", "list").stdout
    assert "用电量" in text and "已撤销" in text


def test_reading_form_from_gbk_csv_with_a_decreasing_reading_named(
    run_cli, runtime, holders, users, tmp_path
):
    lines = [
        "燃气用户号,抄表日期,表示数",
        "900,2021-11-01,1000",
        "900,2021-12-01,1100",
        "900,2022-01-01,1050",
        "900,2022-02-01,1300",
    ]
    path = tmp_path / "燃气抄表.csv"
    path.write_bytes("\n".join(lines).encode("gbk"))
    out = usage_json(run_cli, str(path), "--kind", "gas", "--commit")
    [error] = [i for i in out["issues"] if i["severity"] == "error"]
    assert (error["code"], error["sheet"], error["row"], error["column"], error["field"]) == (
        "reading_decreased",
        "燃气抄表",
        4,
        "C",
        "reading",
    )
    assert out["matched"] == 1 and out["sheets"][0]["form"] == "reading"
    assert "refusal" in out  # any error refuses the whole file by default
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 0
    accepted = usage_json(run_cli, str(path), "--kind", "gas", "--commit", "--accept-valid")
    assert accepted["status"] == "committed" and accepted["counts"]["new"] == 3
    # A later file whose reading is below a stored one is refused too.
    path.write_bytes("燃气卡号,抄表日期,表示数\n000900,2022-03-01,1200\n".encode("gbk"))
    lower = usage_json(run_cli, str(path), "--kind", "gas")
    assert [i["code"] for i in lower["issues"] if i["severity"] == "error"] == ["reading_decreased"]


def test_bad_rows_are_named_by_sheet_row_and_column(run_cli, holders, users, tmp_path):
    path = period_xlsx(
        tmp_path / "bad.xlsx",
        [
            ["22222", "李四", "2021-11", -5],  # row 3: negative
            ["22222", "李四", "1999-11", 10],  # row 4: before 2000
            [1234567890123456789, "赵", "2021-11", 10],  # row 5: lost digits
            [None, "无", "2021-12", 10],  # row 6: no account
            ["22222", "李四", "2021-12", "很多"],  # row 7: not a number
        ],
    )
    out = usage_json(run_cli, path, "--kind", "electric")
    found = {(i["row"], i["column"], i["code"]) for i in out["issues"] if i["severity"] == "error"}
    assert found == {
        (3, "D", "negative"),
        (4, "C", "date_out_of_range"),
        (5, "A", "number_lost_digits"),
        (6, "A", "required"),
        (7, "D", "not_a_number"),
    }
    assert out["counts"]["rejected"] == 5
    refused = run_cli("usage", "import", path, "--kind", "electric", "--commit")
    assert refused.exit_code == 1 and "未写入任何数据" in refused.stderr
    assert "第 3 行 D 列" in refused.stderr


def test_overlapping_periods_within_an_account_are_row_errors(run_cli, holders, users, tmp_path):
    path = period_xlsx(
        tmp_path / "periods.xlsx",
        [
            ["22222", "2021-11-01", "2021-11-30", 100],
            ["22222", "2021-11-15", "2021-12-14", 90],
            ["0012345", "2021-11-01", "2021-11-30", 80],
        ],
        header=("用电户号", "起始日期", "截止日期", "电量"),
    )
    out = usage_json(run_cli, path, "--kind", "electric", "--commit", "--accept-valid")
    [error] = [i for i in out["issues"] if i["severity"] == "error"]
    assert (error["code"], error["row"], error["column"]) == ("period_overlap", 4, "B")
    # A stored period overlapped by a new, different one is refused as well.
    month = period_xlsx(tmp_path / "month.xlsx", [["0012345", "张", "2021-11", 80]])
    again = usage_json(run_cli, month, "--kind", "electric")
    assert not [i for i in again["issues"] if i["severity"] == "error"]  # same period: replaces
    shifted = period_xlsx(
        tmp_path / "shifted.xlsx",
        [["0012345", "2021-11-10", "2021-12-09", 80]],
        header=("户号", "开始日期", "结束日期", "用电量"),
    )
    clash = usage_json(run_cli, shifted, "--kind", "electric")
    assert [i["code"] for i in clash["issues"] if i["severity"] == "error"] == ["period_overlap"]


def test_a_file_without_a_usage_header_is_refused_in_chinese(run_cli, holders, users, tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("姓名,年龄\n张三,30\n", encoding="utf-8")
    result = run_cli("usage", "import", str(path), "--kind", "gas")
    assert result.exit_code == 1 and "找不到用量表头" in result.stderr
    assert "Traceback" not in result.stderr
