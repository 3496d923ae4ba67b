"""Ledger columns for evidence of use: heated area, power/gas accounts as text, coal subsidy."""

from __future__ import annotations

import io
import json
from datetime import date
from decimal import Decimal

import openpyxl
import pytest
from sqlalchemy import select

from heating.config import load_config
from heating.models import Household
from imports.fields import LEDGER_SCHEMA
from imports.parsed import ParsedLedger
from imports.pipeline import parse_ledger
from imports.template import LEDGER_SHEET, write_template

TODAY = date(2024, 1, 15)
HEADER = [
    "村",
    "户号",
    "户主姓名",
    "改造状态",
    "改造方式",
    "采暖面积（平方米）",
    "电力户号",
    "燃气户号",
    "洁净煤补贴（元）",
]


def xlsx(rows: list[list]) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(["麟绛街道清洁取暖台账"])
    for r in rows:
        ws.append(r)
    # Account numbers typed as text keep their leading zeros.
    for row in ws.iter_rows(min_row=3):
        for cell in row[6:8]:
            if isinstance(cell.value, str):
                cell.data_type = "s"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def parse(runtime, tiny_district):
    def run(data: bytes, name: str = "台账.xlsx") -> ParsedLedger:
        with runtime.session() as session:
            return parse_ledger(
                data,
                name,
                session=session,
                config=load_config(environ={}),
                township_code="140405001",
                today=TODAY,
            )

    return run


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("取暖面积", "heated_area_m2"),
        ("供暖面积(平方米)", "heated_area_m2"),
        ("采暖建筑面积", "heated_area_m2"),
        ("用电户号", "power_account"),
        ("电表户号", "power_account"),
        ("供电户号", "power_account"),
        ("电力用户编号", "power_account"),
        ("燃气用户号", "gas_account"),
        ("燃气卡号", "gas_account"),
        ("燃气用户编号", "gas_account"),
        ("洁净煤补贴(元)", "coal_subsidy"),
    ],
)
def test_synonyms_name_the_new_columns(header, field):
    assert LEDGER_SCHEMA.match(header) == field


def test_accounts_stay_text_with_leading_zeros_and_area_is_read(parse):
    parsed = parse(
        xlsx(
            [
                HEADER,
                ["南街村", "A1", "张三", "已完工", "煤改电", 96.5, "0012345678901", None, None],
                ["南街村", "A2", "李四", "已完工", "煤改气", "120平方米", None, "000778", 300],
            ]
        )
    )
    assert not [i for i in parsed.all_issues() if i.severity == "error"]
    first, second = parsed.rows
    assert first.values["heated_area_m2"] == Decimal("96.50")
    assert first.values["power_account"] == "0012345678901"
    assert second.values["gas_account"] == "000778"
    assert second.values["heated_area_m2"] == Decimal("120.00")
    assert second.values["coal_subsidy"] == Decimal("300.00")


def test_bad_area_account_that_lost_digits_and_negative_coal_subsidy_are_row_errors(parse):
    parsed = parse(
        xlsx(
            [
                HEADER,
                ["南街村", "A1", "张三", "已完工", "煤改电", 0, None, None, None],
                ["南街村", "A2", "李四", "已完工", "煤改电", 2500, None, None, None],
                ["南街村", "A3", "王五", "已完工", "煤改电", None, 1234567890123456789, None, None],
                ["南街村", "A4", "赵六", "已完工", "煤改电", "很大", None, None, -5],
            ]
        )
    )
    found = {
        (i.row, i.column, i.field, i.code) for i in parsed.all_issues() if i.severity == "error"
    }
    assert (3, "F", "heated_area_m2", "out_of_range") in found
    assert (4, "F", "heated_area_m2", "out_of_range") in found
    assert (5, "G", "power_account", "number_lost_digits") in found
    assert (6, "F", "heated_area_m2", "not_a_number") in found
    assert (6, "I", "coal_subsidy", "negative") in found
    assert all(r.rejected for r in parsed.rows)


def test_gbk_csv_with_the_new_columns_commits_and_reads_back(run_cli, runtime, users, tmp_path):
    text = "\n".join(
        [
            ",".join(HEADER),
            "南街村,A1,张三,已完工,煤改电,88,0099,,",
            "南街村,A2,李四,已验收,煤改气,75.25,,00123,150",
        ]
    )
    path = tmp_path / "台账.csv"
    path.write_bytes(text.encode("gbk"))
    result = run_cli("import", str(path), "--township", "140405001", "--commit", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["counts"]["new"] == 2
    with runtime.session() as session:
        rows = {
            h.household_no: h
            for h in session.scalars(
                select(Household).where(Household.household_no.in_(["A1", "A2"]))
            )
        }
    assert rows["A1"].power_account == "0099" and rows["A1"].heated_area_m2 == Decimal("88.00")
    assert rows["A2"].gas_account == "00123" and rows["A2"].coal_subsidy == Decimal("150.00")
    # Re-importing the same file changes nothing.
    again = run_cli("import", str(path), "--township", "140405001", "--json")
    assert json.loads(again.stdout)["counts"]["unchanged"] == 2


def test_template_offers_the_columns_with_accounts_formatted_as_text(runtime, tiny_district):
    buf = io.BytesIO()
    with runtime.session() as session:
        write_template(session, "140405001", buf)
    ws = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))[LEDGER_SHEET]
    header = [c.value for c in ws[2]]
    letters = {name: openpyxl.utils.get_column_letter(i + 1) for i, name in enumerate(header)}
    assert {"采暖面积（平方米）", "电力户号", "燃气户号", "洁净煤补贴（元）"} <= set(header)
    for name in ("电力户号", "燃气户号"):
        assert ws.column_dimensions[letters[name]].number_format == "@"
