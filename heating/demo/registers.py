"""The demo's heat-source register and boiler ledger: generated, and written as files.

Both are loaded through the real loaders (``imports.heat_sources``,
``imports.boilers``) from .xlsx files written here, so the demo exercises
the same checks a real upload does; ``heating demo --ledgers DIR`` writes
the same two files beside the ledgers.

- **Register** (fictitious grades and capacities): 屯留热电厂 (``chp``, grade A)
  heats most of the county town; two industrial waste-heat sources heat a
  few villages — 长治市恒达焦化有限公司 (grade B: compliant) and
  屯留县兴旺钢铁有限责任公司 (grade C: non-compliant, so under ``strict`` its
  households do not count as clean); 麟绛街道燃气锅炉房 tops up.  The demo's
  households name their source as the register does (``source_for``).
- **Boilers**: about sixty boilers across the townships, with the state
  history a 锅炉台账 accumulates from 2017 to 2021 (most ≤35 t/h coal
  boilers removed, deregistered or converted; some idle, flue-cut or on
  standby with inspections; a few still in use; some gas boilers with their
  low-NOx retrofit); units are marked （演示）.

Pure data apart from ``register_xlsx`` / ``boilers_xlsx`` (openpyxl, in memory).
"""

from __future__ import annotations

import io
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from openpyxl import Workbook

from heating.demo.people import between, pick
from heating.models import BOILER_STATE_LABELS

GENERATED = "演示数据（生成，虚构）"
REGISTER_FILE = "演示数据_热源名单（生成）.xlsx"
BOILERS_FILE = "演示数据_锅炉台账（生成）.xlsx"

CHP = "屯留热电厂"
GAS_ROOM = "麟绛街道燃气锅炉房"
COKING = "长治市恒达焦化有限公司"  # waste heat, grade B: compliant
STEEL = "屯留县兴旺钢铁有限责任公司"  # waste heat, grade C: non-compliant

REGISTER_HEADER = [
    "热源名称",
    "类型",
    "环保绩效等级",
    "是否列入关停淘汰计划",
    "计划关停日期",
    "经度",
    "纬度",
    "供热能力(MW)",
]
REGISTER_ROWS: list[list[Any]] = [
    [CHP, "热电联产", "A", "否", None, 112.905, 36.318, 300],
    [COKING, "工业余热", "B", "否", None, 112.958, 36.352, 40],
    [STEEL, "工业余热", "C", "否", None, 112.866, 36.289, 25],
    [GAS_ROOM, "燃气锅炉房", "引领性", "否", None, 112.893, 36.321, 14],
]

# Villages of the county town whose district heating comes from waste heat.
WASTE_HEAT_VILLAGES = {
    "140405001209": COKING,  # 西藕
    "140405001210": COKING,  # 中藕
    "140405001211": COKING,  # 东藕
    "140405001226": STEEL,  # 东河北
    "140405001227": STEEL,  # 河北脑
}


def source_for(village_code: str, draw: float) -> str:
    """The heat source a district-heated household of this village names (``draw`` in [0, 1))."""
    if draw >= 0.8:
        return GAS_ROOM
    return WASTE_HEAT_VILLAGES.get(village_code, CHP)


# --------------------------------------------------------------------------
# Boilers
# --------------------------------------------------------------------------

BOILER_HEADER = [
    "锅炉编号",
    "单位名称",
    "乡镇",
    "村",
    "经度",
    "纬度",
    "额定蒸发量(t/h)",
    "额定热功率(MW)",
    "燃料类型",
    "状态",
    "状态日期",
    "最近检查日期",
    "低氮改造",
    "低氮改造日期",
]
BOILER_COUNT = 60
UNIT_KINDS = (
    ("{village}小学", 5),
    ("{township}中心卫生院", 3),
    ("{village}砖厂", 4),
    ("{village}养殖场", 3),
    ("{township}人民政府", 2),
    ("{village}洗浴中心", 2),
    ("{village}面粉厂", 2),
    ("{village}宾馆", 2),
)
COAL_TPH = ((1, 10), (2, 12), (4, 10), (6, 6), (10, 6), (15, 3), (20, 3), (35, 2), (40, 1), (75, 1))
# Where a clerk wrote the rated power instead (MW; 0.7 MW = 1 t/h).
COAL_MW = {1: 0.7, 2: 1.4, 4: 2.8, 6: 4.2, 10: 7, 20: 14}
CLEARED = (("removed", 5), ("deregistered", 2), ("converted", 3))
STILL_THERE = (("in_use", 3), ("idle", 4), ("flue_cut", 3), ("standby", 2))


@dataclass(frozen=True)
class Place:
    """Where a boiler may stand: a village of a township and a point inside it."""

    township_name: str
    village_name: str
    lon: float
    lat: float


def _day(rng: random.Random, year: int, first_month: int = 1, last_month: int = 12) -> date:
    return date(year, between(rng, first_month, last_month + 1), between(rng, 1, 28 + 1))


def _states(rng: random.Random, last_day: date) -> list[tuple[str, date]]:
    """A coal boiler's state history: in use from 2017, then perhaps dormant, perhaps cleared."""
    history = [("in_use", _day(rng, 2017, 1, 3))]
    fate = pick(rng, (("cleared", 78), ("dormant", 14), ("in_use", 8)))
    if fate == "in_use":
        return history
    year = between(rng, 2017, 2021 + 1)
    if rng.random() < 0.5:  # idle or flue cut for a while first
        dormant = pick(rng, (("idle", 3), ("flue_cut", 2), ("standby", 1)))
        history.append((dormant, _day(rng, year, 4, 9)))
        year = min(2021, year + between(rng, 0, 2 + 1))
    if fate == "cleared":
        day = _day(rng, year, 4, 10)
        if day <= history[-1][1]:
            day = history[-1][1] + timedelta(days=between(rng, 10, 90))
        history.append((pick(rng, CLEARED), min(day, last_day)))
    elif history[-1][0] == "in_use":
        history.append((pick(rng, STILL_THERE[1:]), _day(rng, year, 4, 9)))
    return history


def boiler_rows(
    places: Mapping[str, Sequence[Place]], *, seed: str, last_day: date
) -> list[list[Any]]:
    """The rows of the demo 锅炉台账: one per recorded state of each boiler.

    ``places`` maps a township code to candidate places (a point in each of its
    villages); the same seed gives the same ledger.
    """
    rng = random.Random(f"{seed}:boilers")
    townships = sorted(places)
    rows: list[list[Any]] = []
    for i in range(1, BOILER_COUNT + 1):
        code = townships[(i - 1) % len(townships)]
        place = places[code][below_len(rng, places[code])]
        unit = (
            pick(rng, UNIT_KINDS).format(
                village=place.village_name.removesuffix("村委会").removesuffix("居委会"),
                township=place.township_name,
            )
            + "（演示）"
        )
        fuel = pick(rng, (("燃煤", 44), ("燃气", 12), ("生物质", 4)))
        tph = pick(rng, COAL_TPH) if fuel == "燃煤" else pick(rng, ((1, 2), (2, 3), (4, 2), (6, 1)))
        as_mw = tph in COAL_MW and rng.random() < 0.25
        boiler_id = f"GL{code[-3:]}{i:03d}"
        base = [
            boiler_id,
            unit,
            place.township_name,
            place.village_name,
            place.lon,
            place.lat,
            None if as_mw else tph,
            COAL_MW[tph] if as_mw else None,
            fuel,
        ]
        if fuel == "燃煤":
            history = _states(rng, last_day)
        else:
            history = [("in_use", _day(rng, between(rng, 2017, 2020 + 1)))]
            if rng.random() < 0.1:
                history.append(("removed", _day(rng, 2021, 3, 9)))
        for j, (state, day) in enumerate(history):
            last = j == len(history) - 1
            inspected = None
            if last and state in ("idle", "flue_cut", "standby") and rng.random() < 0.8:
                # Dormant boilers are inspected; some not lately (overdue).
                inspected = min(last_day, day + timedelta(days=between(rng, 20, 900)))
            low_nox: list[Any] = [None, None]
            if fuel == "燃气" and last:
                if rng.random() < 0.6:
                    low_nox = ["已完成", _day(rng, between(rng, 2019, 2021 + 1), 3, 9)]
                else:
                    low_nox = ["未完成", None]
            rows.append([*base, BOILER_STATE_LABELS[state], day, inspected, *low_nox])
    return rows


def below_len(rng: random.Random, items: Sequence[Any]) -> int:
    return int(rng.random() * len(items))


# --------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------


def _xlsx(title: str, sheet: str, header: list[str], rows: list[list[Any]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append([title])
    ws.append(header)
    for row in rows:
        ws.append(row)
    for column in ("K", "L", "N") if sheet == "锅炉台账" else ("E",):
        for cell in ws[column][2:]:
            cell.number_format = "yyyy-mm-dd"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def register_xlsx() -> bytes:
    """The demo register as a clerk would send it (title row marks it generated)."""
    return _xlsx(f"屯留区集中供热热源名单——{GENERATED}", "热源名单", REGISTER_HEADER, REGISTER_ROWS)


def boilers_xlsx(rows: list[list[Any]]) -> bytes:
    """The demo boiler ledger (title row marks it generated)."""
    return _xlsx(f"屯留区锅炉台账——{GENERATED}", "锅炉台账", BOILER_HEADER, rows)
