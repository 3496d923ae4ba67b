"""The blank ledger template: dropdowns, text columns, frozen header, and a clean round trip."""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from heating.errors import NotFound
from heating.models import Household, Village
from imports.batches import preview
from imports.commit import commit
from imports.template import HELP_SHEET, LEDGER_SHEET, LISTS_SHEET, write_template

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(body17: str) -> str:
    total = sum(int(d) * w for d, w in zip(body17, WEIGHTS, strict=True))
    return body17 + "10X98765432"[total % 11]


def template_bytes(runtime, township: str = "140405001") -> bytes:
    buf = io.BytesIO()
    with runtime.session() as session:
        write_template(session, township, buf)
    return buf.getvalue()


def test_template_has_dropdowns_text_columns_frozen_header_and_help(runtime, tiny_district):
    wb = load_workbook(io.BytesIO(template_bytes(runtime)))
    assert wb.sheetnames[:2] == [LEDGER_SHEET, HELP_SHEET]
    assert wb[LISTS_SHEET].sheet_state == "hidden"
    ws = wb[LEDGER_SHEET]
    header = [c.value for c in ws[2]]
    assert header[:4] == ["村", "户号", "户主姓名", "身份证号"]
    assert ws.freeze_panes == "A3"
    letters = {name: chr(ord("A") + i) for i, name in enumerate(header)}
    for name in ("户号", "身份证号", "联系电话"):
        assert ws.column_dimensions[letters[name]].number_format == "@"
    validations = {
        str(dv.sqref).split(":")[0]: dv.formula1 for dv in ws.data_validations.dataValidation
    }
    for name in ("村", "改造状态", "改造方式", "运行情况", "无需改造原因"):
        assert f"{letters[name]}3" in validations, name
    villages_range = validations[f"{letters['村']}3"]
    column = villages_range.split("!")[1].split(":")[0].replace("$", "")[0]
    listed = [c.value for c in wb[LISTS_SHEET][column][1:] if c.value]
    assert listed == ["南街村委会", "东街村委会"]  # only this township's villages
    statuses = [c.value for c in wb[LISTS_SHEET]["B"][1:] if c.value]
    assert statuses == ["未改造", "已列入计划", "施工中", "已完工", "已验收", "无需改造"]
    help_text = " ".join(str(c.value) for row in wb[HELP_SHEET].iter_rows() for c in row if c.value)
    for name in header:
        assert name in help_text


def test_unknown_township_is_refused(runtime, tiny_district):
    with pytest.raises(NotFound, match="999999999"):
        template_bytes(runtime, "999999999")


def test_a_correctly_filled_template_imports_with_no_error(runtime, tiny_district):
    wb = load_workbook(io.BytesIO(template_bytes(runtime)))
    ws = wb[LEDGER_SHEET]
    header = [c.value for c in ws[2]]

    def put(row: int, **values: object) -> None:
        for name, value in values.items():
            ws.cell(row=row, column=header.index(name) + 1, value=value)

    put(
        3,
        村="南街村委会",
        户号="0001",
        户主姓名="张三",
        身份证号=id_number("14040519800101001"),
        联系电话="13812345678",
        住址="南街1号",
        常住人口=4,
        改造状态="已验收",
        改造方式="煤改电",
        设备类型="空气源热泵",
        计划年度=2021,
        完工日期=date(2021, 6, 30),
        验收日期=date(2021, 9, 30),
        **{"设备补贴（元）": 24000, "运行补贴（元/年）": 1200},
        运行情况="正常",
        经度=112.805,
        纬度=36.305,
        备注="示例",
    )
    put(4, 村="东街村委会", 户号="0002", 户主姓名="李四", 改造状态="无需改造", 无需改造原因="空置")
    put(
        5,
        村="东街村委会",
        户号="0003",
        户主姓名="王五",
        改造状态="施工中",
        改造方式="集中供热",
        运行情况="运行不稳定",
    )
    put(
        6,
        村="南街村委会",
        户号="0004",
        户主姓名="赵六",
        改造状态="已完工",
        改造方式="地热能",
        完工日期=date(2022, 10, 1),
        运行情况="设备弃用",
    )
    put(7, 村="南街村委会", 户号="0005", 户主姓名="钱七", 改造状态="已列入计划", 改造方式="其他")
    buf = io.BytesIO()
    wb.save(buf)
    with runtime.session() as session:
        batch, out = preview(
            session,
            buf.getvalue(),
            "模板.xlsx",
            user_id=None,
            township_code="140405001",
            config=runtime.config,
            today=date(2024, 1, 15),
        )
        batch_id = batch.id
    assert [i for i in out["issues"] if i["severity"] == "error"] == []
    # The template's own 填写说明 and 选项 sheets raise nothing (issue 15: two notes on every upload).
    assert [i for i in out["issues"] if i.get("sheet") in (HELP_SHEET, LISTS_SHEET)] == []
    assert out["counts"]["new"] == 5 and out["counts"]["rejected"] == 0
    assert out["counts"]["skipped"] == 0
    assert out["sheets"][0]["ignored_columns"] == []
    with runtime.session() as session:
        commit(session, batch_id, config=runtime.config)
    with runtime.session() as session:
        stored = {h.household_no: h for h in session.scalars(select(Household))}
    assert stored["0001"].status == "accepted" and stored["0001"].route == "electric"
    assert stored["0001"].operation == "normal" and stored["0001"].residents == 4
    assert stored["0002"].exempt_reason == "空置"
    assert stored["0003"].route == "district" and stored["0003"].operation == "unstable"
    assert stored["0004"].route == "geothermal" and stored["0004"].operation == "abandoned"
    assert stored["0005"].route == "other"


def test_registry_names_that_look_like_formulas_stay_text(runtime, tiny_district):
    with runtime.session() as session:
        village = session.scalar(select(Village).where(Village.code == "140405001201"))
        village.name = "=HYPERLINK(1)"
        village.township.name = "+上村"
    wb = load_workbook(io.BytesIO(template_bytes(runtime)))
    cells = [c for ws in wb for row in ws.iter_rows() for c in row if c.value is not None]
    assert all(c.data_type != "f" for c in cells)
    texts = [str(c.value) for c in cells]
    assert any(t.startswith("'=HYPERLINK(1)") for t in texts)  # help sheet's village list
    assert any(t.startswith("'+上村") for t in texts)  # titles


def test_the_hidden_option_sheet_is_neutralised_and_its_names_still_import(runtime, tiny_district):
    from imports.template import LISTS_SHEET

    with runtime.session() as session:
        village = session.scalar(select(Village).where(Village.code == "140405001201"))
        village.name = "@SUM(1)"
    wb = load_workbook(io.BytesIO(template_bytes(runtime)))
    options = [c.value for c in wb[LISTS_SHEET]["A"] if c.value is not None][1:]
    assert options == ["'@SUM(1)", "东街村委会"]  # neutralised like every other cell
    ws = wb[LEDGER_SHEET]
    header = [c.value for c in ws[2]]
    # The clerk picks the village from the dropdown: the neutralised spelling goes back in.
    ws.cell(row=3, column=header.index("村") + 1, value=options[0])
    ws.cell(row=3, column=header.index("户号") + 1, value="0001")
    ws.cell(row=3, column=header.index("户主姓名") + 1, value="张三")
    ws.cell(row=3, column=header.index("改造状态") + 1, value="未改造")
    buf = io.BytesIO()
    wb.save(buf)
    with runtime.session() as session:
        _batch, out = preview(
            session,
            buf.getvalue(),
            "模板.xlsx",
            user_id=None,
            township_code="140405001",
            config=runtime.config,
        )
    assert [i for i in out["issues"] if i["severity"] == "error"] == []
    assert out["counts"]["new"] == 1
