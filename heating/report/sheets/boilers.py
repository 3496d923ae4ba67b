"""锅炉清零: ≤35 t/h coal boilers cleared and remaining as of the cut-off, and gas low-NOx.

The numbers are ``heating.boilers.boiler_status`` as of the report's date
(state history and inspections dated on or before it, the zones in force
then); see that module for the definitions the notes below repeat.
"""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating.boilers import UNKNOWN_STATE, UNKNOWN_STATE_LABEL, BoilerAsOf, BoilerStatus
from heating.models import BOILER_FUEL_LABELS, BOILER_STATE_LABELS, BOILER_STATES
from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table

STATE_LABELS = {**BOILER_STATE_LABELS, UNKNOWN_STATE: UNKNOWN_STATE_LABEL}
STATE_ORDER = (*BOILER_STATES, UNKNOWN_STATE)
GAP = 2  # blank rows between tables


def _where(b: BoilerAsOf) -> str:
    if b.in_zone:
        return f"禁煤区 {b.zone_id} 内"
    if b.in_enclave:
        return "飞地内（被禁煤区包围）"
    if b.lon is None:
        return "无坐标"
    return "禁煤区外"


def _boiler_columns() -> list[Column]:
    return [
        Column("锅炉编号"),
        Column("单位名称", width=30, wrap=True),
        Column("乡镇"),
        Column("额定蒸发量（t/h）", "area"),
        Column("状态"),
        Column("状态日期", "date"),
        Column("位置"),
        Column("最近检查日期", "date"),
        Column("检查逾期"),
    ]


def _boiler_row(b: BoilerAsOf) -> Row:
    return Row(
        [
            b.code,
            b.unit or "",
            b.township_name,
            b.tph,
            STATE_LABELS.get(b.state, b.state),
            b.state_date,
            _where(b),
            b.last_inspection,
            "逾期" if b.overdue else "",
        ]
    )


def write(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Summary by state, by township, the remaining list (zones first), overdue, gas."""
    status: BoilerStatus | None = s.boilers
    assert status is not None, "take_snapshot always reads the boilers"
    data = status.as_json()
    zones = (
        f"禁煤区取 {status.derivation[1]:%Y-%m-%d} 派生的禁煤区"
        if status.derivation
        else "截止日前尚未派生禁煤区"
    )
    by_state = data["by_state"]
    summary = [
        Row(["范围内燃煤锅炉", data["in_scope"]]),
        Row(["已清零（拆除、注销、改为清洁能源）", data["cleared"]]),
        Row(["剩余", data["remaining"]], total=True),
        *(
            Row([f"　其中{STATE_LABELS[k]}", by_state[k]])
            for k in STATE_ORDER
            if k not in ("removed", "deregistered", "converted")
        ),
        Row(["剩余中位于禁煤区内", data["remaining_in_zones"]], total=True),
        Row(
            [
                f"停用/烟道切断/应急备用中超过 {status.inspection_days} 天未检查",
                data["inspection_overdue"],
            ]
        ),
    ]
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度 {data['max_tph']} 蒸吨及以下燃煤锅炉清零情况",
            [Column("项目", width=44), Column("台数", "int")],
            summary,
            subtitle=f"数据截至 {s.as_of:%Y-%m-%d}；{zones}",
            notes=(
                "范围：首次登记燃料为燃煤、额定蒸发量不超过上限的锅炉（额定热功率按 0.7 MW = 1 t/h 折算）。"
                "状态按截止日前最近的状态日期；停用、烟道切断、应急备用未清零；首个状态日期之前为状态未知。",
            ),
        ),
    )
    row = placed.last_row + 1 + GAP
    township_rows = [
        Row(
            [
                t["township"],
                t["name"],
                t["in_scope"],
                t["cleared"],
                t["remaining"],
                t["remaining_in_zones"],
                t["inspection_overdue"],
            ]
        )
        for t in data["by_township"]
    ]
    if township_rows:
        township_rows.append(
            Row(
                [
                    "",
                    "合计",
                    data["in_scope"],
                    data["cleared"],
                    data["remaining"],
                    data["remaining_in_zones"],
                    data["inspection_overdue"],
                ],
                total=True,
            )
        )
    placed = write_table(
        ws,
        Table(
            "分乡镇",
            [
                Column("乡镇代码"),
                Column("乡镇名称"),
                Column("范围内", "int"),
                Column("已清零", "int"),
                Column("剩余", "int"),
                Column("禁煤区内剩余", "int"),
                Column("检查逾期", "int"),
            ],
            township_rows,
            empty_text="没有范围内的燃煤锅炉。",
        ),
        start_row=row,
        main=False,
    )
    row = placed.last_row + 1 + GAP
    remaining = sorted(status.remaining, key=lambda b: (not b.in_zone, b.township, b.code))
    placed = write_table(
        ws,
        Table(
            "剩余燃煤锅炉清单（禁煤区内的在前）",
            _boiler_columns(),
            [_boiler_row(b) for b in remaining],
            empty_text="范围内燃煤锅炉已全部清零。",
        ),
        start_row=row,
        main=False,
    )
    row = placed.last_row + 1 + GAP
    placed = write_table(
        ws,
        Table(
            f"检查逾期（停用、烟道切断、应急备用，超过 {status.inspection_days} 天未检查或从未检查）",
            _boiler_columns(),
            [_boiler_row(b) for b in status.overdue],
        ),
        start_row=row,
        main=False,
    )
    row = placed.last_row + 1 + GAP
    gas = data["gas_low_nox"]
    write_table(
        ws,
        Table(
            f"燃气锅炉低氮改造：共 {gas['total']} 台，已完成 {gas['done']} 台，未完成 {gas['remaining']} 台",
            [
                Column("锅炉编号"),
                Column("单位名称", width=30, wrap=True),
                Column("乡镇"),
                Column("额定蒸发量（t/h）", "area"),
                Column("燃料"),
                Column("状态"),
            ],
            [
                Row(
                    [
                        b.code,
                        b.unit or "",
                        b.township_name,
                        b.tph,
                        BOILER_FUEL_LABELS.get(b.fuel_now, b.fuel_now),
                        STATE_LABELS.get(b.state, b.state),
                    ]
                )
                for b in status.gas_remaining
            ],
            notes=("统计不含截止日前已拆除、注销的燃气锅炉；已完成指低氮改造日期不晚于截止日。",),
            empty_text="燃气锅炉均已完成低氮改造。",
        ),
        start_row=row,
        main=False,
    )
