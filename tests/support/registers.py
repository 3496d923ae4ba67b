"""The heat-source register and the boiler ledger as files; the heat-source rule's scene.

The headers are the demo's (``heating.demo.registers``): the files clerks send.
"""

from __future__ import annotations

import io
from typing import Any

from openpyxl import Workbook

from heating.demo.registers import BOILER_HEADER, REGISTER_HEADER
from heating.runtime import Runtime
from imports.heat_sources import load_heat_sources
from tests.support.districts import NANJIE
from tests.support.households import add_many

# One source of each case of the rule: compliant, grade C, listed, unknown grade, other kinds.
REGISTER = [
    ["屯留热电厂", "热电联产", "A", "否", None, 112.89, 36.32, 300],
    ["长治市恒达焦化有限公司", "工业余热", "B级", "否", None, 112.95, 36.35, 40],
    ["屯留县兴旺钢铁有限责任公司", "余热", "C", "否", None, 112.80, 36.28, 25],
    ["屯留县宏达化工有限公司", "工业余热", "A", "是", "2023-12-31", None, None, 12],
    ["屯留县宇通余热利用有限公司", "工业余热", None, "否", None, None, None, None],
    ["麟绛街道燃气锅炉房", "燃气锅炉房", "引领性", "否", None, None, None, 14],
]


def sheet_xlsx(title: str, sheet: str, header: list[str], rows: list[list[Any]]) -> bytes:
    """An .xlsx with a title row, a header and rows, written by openpyxl."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def register_xlsx(rows: list[list[Any]], header: list[str] = REGISTER_HEADER) -> bytes:
    """A heat-source register (sheet 热源名单) as an .xlsx."""
    return sheet_xlsx("屯留区集中供热热源名单（2021年）", "热源名单", header, rows)


def boiler_row(
    code: str,
    *,
    unit: str = "某单位",
    township: str = "麟绛街道",
    village: str | None = None,
    lon: float | None = 112.805,
    lat: float | None = 36.305,
    tph: float | None = 10,
    mw: float | None = None,
    fuel: str = "燃煤",
    state: str = "在用",
    state_date: str | None = None,
    inspected: str | None = None,
    low_nox: str | None = None,
    low_nox_on: str | None = None,
) -> list[Any]:
    """One row of BOILER_HEADER: a 10 t/h coal boiler in use in 南街 unless told otherwise."""
    return [
        code,
        unit,
        township,
        village,
        lon,
        lat,
        tph,
        mw,
        fuel,
        state,
        state_date,
        inspected,
        low_nox,
        low_nox_on,
    ]


def boiler_xlsx(rows: list[list[Any]], header: list[str] = BOILER_HEADER) -> bytes:
    """A boiler ledger (sheet 锅炉台账) as an .xlsx."""
    return sheet_xlsx("屯留区燃煤锅炉台账", "锅炉台账", header, rows)


# --------------------------------------------------------------------------
# The heat-source rule (settings) and 南街 heated by the register's sources
# --------------------------------------------------------------------------

STRICT = {"heat_source_rule": "strict"}
WARN = {"heat_source_rule": "warn"}


def load_register(runtime: Runtime, rows: list[list[Any]] = REGISTER) -> None:
    """Load a register through the production loader."""
    with runtime.session() as session:
        load_heat_sources(session, register_xlsx(rows), "热源名单.xlsx", config=runtime.config)


def add_district_heated_nanjie(runtime: Runtime, tiny_district: dict[str, int]) -> int:
    """南街's ten district-heated households and the register; return 南街's id.

    Six by 屯留热电厂 (chp, fine), two by 屯留县兴旺钢铁 (waste heat, grade C —
    one of them burning coal again), one by 屯留县宇通余热利用 (waste heat,
    grade unknown) and one by 城东供热站 (not in the register: unverified).
    Under strict three do not count; under warn all ten do.
    """
    vid = tiny_district[NANJIE]
    with runtime.session() as s:
        add_many(s, vid, 6, "accepted", route="district", heat_source="屯留热电厂")
        add_many(s, vid, 1, "accepted", route="district", heat_source="屯留县兴旺钢铁有限责任公司")
        add_many(
            s,
            vid,
            1,
            "completed",
            operation="coal_again",
            route="district",
            heat_source="屯留县兴旺钢铁",  # the same source, without the company suffix
        )
        add_many(s, vid, 1, "accepted", route="district", heat_source="屯留县宇通余热利用有限公司")
        add_many(s, vid, 1, "accepted", route="district", heat_source="城东供热站")
    load_register(runtime)
    return vid
