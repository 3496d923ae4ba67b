"""The report's 锅炉清零 sheet: the status as of the cut-off, zones first, text never a formula."""

from __future__ import annotations

import io
from datetime import date, datetime

import openpyxl
from sqlalchemy import select

from heating.models import Boiler
from heating.report import build_report
from imports.boilers import load_boilers
from tests.support.registers import boiler_row, boiler_xlsx
from tests.support.report import INJECTION, read_table
from tests.support.zones import add_zone

NOW = datetime(2021, 11, 5, 9, 30)


def test_boiler_sheet_as_of_the_cut_off(runtime, tiny_district) -> None:
    add_zone(runtime, [], [], (112.80, 36.30, 112.82, 36.31))
    rows = [
        boiler_row("GL-1", lon=112.805, state="停用", state_date="2019-01-01"),
        boiler_row("GL-2", township="上村镇", lon=112.825, state="在用", state_date="2018-01-01"),
        boiler_row("GL-3", state="拆除", state_date="2021-06-01"),
        boiler_row("GL-4", state="拆除", state_date="2021-12-01"),  # after the cut-off
        boiler_row("GL-5", tph=40),  # out of scope
        boiler_row("GQ-1", fuel="燃气", tph=4, low_nox="已完成", low_nox_on="2021-09-01"),
        boiler_row("GQ-2", fuel="燃气", tph=4, low_nox="未完成"),
    ]
    with runtime.session() as s:
        load_boilers(
            s, boiler_xlsx(rows), "锅炉.xlsx", config=runtime.config, today=date(2022, 1, 1)
        )
        s.scalar(select(Boiler).where(Boiler.code == "GL-1")).unit = INJECTION
        built = build_report(s, runtime.config, 2021, now=NOW, picture=False)
    ws = openpyxl.load_workbook(io.BytesIO(built.content))["锅炉清零"]
    summary = {r["项目"]: r["台数"] for r in read_table(ws, "项目")}
    assert summary["范围内燃煤锅炉"] == 4
    assert summary["已清零（拆除、注销、改为清洁能源）"] == 1
    assert summary["剩余"] == 3
    assert summary["剩余中位于禁煤区内"] == 2
    assert summary["　其中停用"] == 1
    assert "数据截至 2021-10-31" in ws["A2"].value
    remaining = read_table(ws, "锅炉编号")
    assert [r["锅炉编号"] for r in remaining] == ["GL-1", "GL-4", "GL-2"]
    assert remaining[0]["位置"] == "禁煤区 JMQ-0001 内"
    assert remaining[2]["位置"] == "禁煤区外"
    # A unit name that looks like a formula stays text.
    cell = next(c for c in ws["B"] if c.value and "HYPERLINK" in str(c.value))
    assert cell.data_type == "s" and not str(cell.value).startswith("=")
    overdue = read_table(ws, "锅炉编号", occurrence=2)
    assert [r["锅炉编号"] for r in overdue] == ["GL-1"]
    gas_title = next(c.value for c in ws["A"] if c.value and str(c.value).startswith("燃气锅炉"))
    assert gas_title == "燃气锅炉低氮改造：共 2 台，已完成 1 台，未完成 1 台"
