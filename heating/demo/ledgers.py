"""Sample ledgers: each demo township's households, year by year, as a clerk keeps them.

A new user can try the import at once with files that look like the real
thing: a title row that says the date the ledger describes ("截至2021年10月
31日"), a line with the unit and the filling date (which the import ignores),
a two-row header with ``补贴(元)`` merged above ``设备补贴``/``运行补贴``, a 序号
column, a 合计 row and a 填表人 footer.  ID numbers, 户号 and phones are text
cells (as a careful clerk formats them); dates are date cells.

One ledger per township and year (2017–2021), each holding the households as
of that year's report cut-off (Y-10-31, the demo history's ledger dates), so
importing one into the demo changes nothing, and importing them into an empty
district in any order replays the back-fill story.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.history import states_as_of
from heating.models import (
    OPERATION_LABELS,
    ROUTE_LABELS,
    STATUS_LABELS,
    Household,
    Township,
    Village,
)

LEDGER_YEARS = range(2017, 2022)
# Words as clerks write them (the import's synonyms); "设备弃用/拆除" is two words.
OPERATION_WORDS = {**OPERATION_LABELS, "abandoned": "设备弃用"}


@dataclass(frozen=True)
class Column:
    header: str  # second header row (or the only one)
    width: int
    group: str | None = None  # first header row when merged above several columns


COLUMNS = (
    Column("序号", 6),
    Column("村名", 14),
    Column("户号", 8),
    Column("户主姓名", 10),
    Column("身份证号", 21),
    Column("联系电话", 14),
    Column("住址", 18),
    Column("常住人口", 8),
    Column("改造状态", 10),
    Column("改造方式", 10),
    Column("设备类型", 14),
    Column("热源", 22),
    Column("计划年度", 8),
    Column("完工日期", 12),
    Column("验收日期", 12),
    Column("设备补贴", 10, "补贴(元)"),
    Column("运行补贴", 10, "补贴(元)"),
    Column("采暖面积", 10),
    Column("电力户号", 16),
    Column("燃气户号", 16),
    Column("运行情况", 10),
    Column("无需改造原因", 12),
    Column("备注", 28),
)
TEXT_COLUMNS = {"户号", "身份证号", "联系电话", "电力户号", "燃气户号"}
DATE_COLUMNS = {"完工日期", "验收日期"}
MONEY_COLUMNS = {"设备补贴", "运行补贴"}
THIN = Side(style="thin")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)


def ledger_date(year: int) -> date:
    """The day a year's demo ledger describes: that year's report cut-off."""
    return date(year, 10, 31)


def ledger_title(township_name: str, year: int) -> str:
    day = ledger_date(year)
    return (
        f"{township_name}{year}年冬季清洁取暖改造台账（截至{day.year}年{day.month}月{day.day}日）"
    )


def _money(value: Decimal | None) -> int | float | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _row_values(number: int, village_name: str, h: Mapping[str, Any]) -> list[Any]:
    return [
        number,
        village_name,
        h["household_no"],
        h["head_name"],
        h["id_number"],
        h["phone"],
        h["address"],
        h["residents"],
        STATUS_LABELS[h["status"]],
        ROUTE_LABELS.get(h["route"]) if h["route"] else None,
        h["device"],
        h["heat_source"],
        h["plan_year"],
        h["completed_on"],
        h["accepted_on"],
        _money(h["device_subsidy"]),
        _money(h["operating_subsidy"]),
        _money(h.get("heated_area_m2")),
        h.get("power_account"),
        h.get("gas_account"),
        OPERATION_WORDS.get(h["operation"]) if h["operation"] else None,
        h["exempt_reason"],
        h["note"],
    ]


def write_ledger(
    path: Path, township_name: str, year: int, rows: Iterable[tuple[str, Mapping[str, Any]]]
) -> int:
    """Write one township's ledger of ``year`` to ``path``; return the number of household rows.

    Write-only mode: a township of 7,000 households is written in about a second.
    """
    filled_on = date(year, 11, 10)  # the day it was filled in: the import ignores it
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(f"{year}年台账")
    width = len(COLUMNS)
    last = get_column_letter(width)
    for i, c in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = c.width
    ws.freeze_panes = "C5"

    def styled(value: Any, **style: Any) -> WriteOnlyCell:
        cell = WriteOnlyCell(ws, value=value)
        for name, v in style.items():
            setattr(cell, name, v)
        return cell

    title = styled(
        ledger_title(township_name, year),
        font=Font(size=16, bold=True),
        alignment=Alignment(horizontal="center"),
    )
    ws.append([title])
    ws.merged_cells.add(f"A1:{last}1")
    ws.append(
        [
            f"填报单位：{township_name}（盖章）        "
            f"填报日期：{filled_on.year}年{filled_on.month}月{filled_on.day}日        单位：户、元"
        ]
    )
    ws.merged_cells.add(f"A2:{last}2")

    # Two header rows: grouped columns share a merged cell above; others span both rows.
    head = {"font": Font(bold=True), "border": BOX, "alignment": CENTRE}
    upper, lower = [], []
    for i, c in enumerate(COLUMNS, start=1):
        letter = get_column_letter(i)
        if c.group:
            first = next(j for j, x in enumerate(COLUMNS, start=1) if x.group == c.group)
            span = sum(1 for x in COLUMNS if x.group == c.group)
            upper.append(styled(c.group if i == first else None, **head))
            lower.append(styled(c.header, **head))
            if i == first:
                ws.merged_cells.add(f"{letter}3:{get_column_letter(i + span - 1)}3")
        else:
            upper.append(styled(c.header, **head))
            lower.append(styled(None, **head))
            ws.merged_cells.add(f"{letter}3:{letter}4")
    ws.append(upper)
    ws.append(lower)

    headers = [c.header for c in COLUMNS]
    text_idx = {headers.index(h) for h in TEXT_COLUMNS}
    date_idx = {headers.index(h) for h in DATE_COLUMNS}
    money_idx = [headers.index(h) for h in MONEY_COLUMNS]
    totals = [0.0 for _ in money_idx]
    count = 0
    for count, (village_name, household) in enumerate(rows, start=1):
        values: list[Any] = _row_values(count, village_name, household)
        for k, i in enumerate(money_idx):
            totals[k] += values[i] or 0
        for i in text_idx:
            if values[i] is not None:
                values[i] = styled(values[i], number_format="@")
        for i in date_idx:
            if values[i] is not None:
                values[i] = styled(values[i], number_format="yyyy-mm-dd")
        ws.append(values)

    total: list[Any] = [None] * width
    total[0] = "合计"
    total[3] = f"{count}户"
    for k, i in enumerate(money_idx):
        total[i] = round(totals[k], 2)
    ws.append([styled(v, font=Font(bold=True)) for v in total])
    ws.append([])
    footer_row = 5 + count + 2
    ws.append(["填表人：          审核人：          联系电话：          （演示数据，非真实台账）"])
    ws.merged_cells.add(f"A{footer_row}:{last}{footer_row}")
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)
    return count


def households_as_of(
    session: Session, township_id: int, day: date
) -> list[tuple[str, dict[str, Any]]]:
    """(village name, household fields) of a township as of ``day``, by village and 户号."""
    villages = {
        vid: (code, name)
        for vid, code, name in session.execute(
            select(Village.id, Village.code, Village.name).where(Village.township_id == township_id)
        )
    }
    ids = session.scalars(select(Household.id).where(Household.village_id.in_(list(villages))))
    states = [s for s in states_as_of(session, list(ids), day).values() if s is not None]
    states.sort(key=lambda s: (villages[s["village_id"]][0], s["household_no"] or "", s["id"]))
    return [(villages[s["village_id"]][1], s) for s in states]


def write_ledgers(
    session: Session,
    directory: Path,
    township_codes: Collection[str] = (),
    years: Iterable[int] = LEDGER_YEARS,
) -> list[tuple[Path, int]]:
    """Write each township's ledger of each year (or only those named) into ``directory``.

    Returns (file, household rows) per file written; a township with no
    household yet in a year gets no file for it.
    """
    written = []
    query = select(Township).order_by(Township.code)
    if township_codes:
        query = query.where(Township.code.in_(list(township_codes)))
    townships = session.scalars(query).all()
    for township in townships:
        for year in years:
            rows = households_as_of(session, township.id, ledger_date(year))
            if not rows:
                continue
            path = directory / f"{township.code}_{ledger_title(township.name, year)}.xlsx"
            written.append((path, write_ledger(path, township.name, year, rows)))
    return written
