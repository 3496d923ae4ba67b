"""技术路线 and 回头看问题户: what the household versions as of the date say."""

from __future__ import annotations

from openpyxl.worksheet.worksheet import Worksheet

from heating.models import OPERATION_LABELS, ROUTE_LABELS, ROUTES, STATUS_LABELS
from heating.report.household_detail import NO_ROUTE, PROBLEM_OPERATIONS
from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table

NO_ROUTE_LABEL = "未填写"
NO_DEVICE_LABEL = "（未填写）"


def route_label(route: str | None) -> str:
    if not route:
        return NO_ROUTE_LABEL
    return ROUTE_LABELS.get(route, route)


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def write_routes(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Clean households by route per township (counts and shares), then by device."""
    present = {r for line in s.routes for r in line.by_route}
    routes = [*ROUTES, *sorted(r for r in present if r not in ROUTES and r != NO_ROUTE), NO_ROUTE]
    columns = [Column("乡镇代码"), Column("乡镇名称"), Column("已完成户数", "int")]
    for route in routes:
        columns += [
            Column("户数", "int", group=route_label(route)),
            Column("占比", "pct", group=route_label(route)),
        ]
    rows = []
    totals = dict.fromkeys(routes, 0)
    for line in s.routes:
        values: list[object] = [line.township_code, line.township_name, line.clean]
        for route in routes:
            n = line.by_route.get(route, 0)
            totals[route] += n
            values += [n, _share(n, line.clean)]
        rows.append(Row(values))
    clean = sum(line.clean for line in s.routes)
    total_values: list[object] = ["", "合计", clean]
    for route in routes:
        total_values += [totals[route], _share(totals[route], clean)]
    rows.append(Row(total_values, total=True))
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度清洁取暖技术路线（分乡镇）",
            columns,
            rows,
            subtitle=f"统计口径：截至 {s.as_of:%Y-%m-%d} 改造状态为已完工或已验收的户；占比为占本乡镇已完成户数的比例",
        ),
    )
    device_rows = []
    for line in s.routes:
        for route, device, n in line.devices:
            device_rows.append(
                Row(
                    [
                        line.township_code,
                        line.township_name,
                        route_label(route),
                        device or NO_DEVICE_LABEL,
                        n,
                        _share(n, line.clean),
                    ]
                )
            )
    write_table(
        ws,
        Table(
            "分乡镇、改造方式、设备类型",
            [
                Column("乡镇代码"),
                Column("乡镇名称"),
                Column("改造方式"),
                Column("设备类型"),
                Column("户数", "int"),
                Column("占本乡镇比例", "pct"),
            ],
            device_rows,
        ),
        start_row=placed.last_row + 3,
        main=False,
    )


def write_problems(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Look-back problem households: per village counts, then the masked list."""
    op_columns = [
        Column(OPERATION_LABELS[op], "int", group="问题户数") for op in PROBLEM_OPERATIONS
    ]
    columns = [
        Column("村代码"),
        Column("村名称"),
        Column("乡镇"),
        Column("已完成户数", "int"),
        *op_columns,
        Column("合计", "int", group="问题户数"),
        Column("占已完成户比例", "pct"),
    ]
    rows = [
        Row(
            [
                v.village_code,
                v.village_name,
                v.township_name,
                v.clean,
                *(v.counts[op] for op in PROBLEM_OPERATIONS),
                v.total,
                _share(v.total, v.clean),
            ]
        )
        for v in s.problem_villages
    ]
    if s.problem_villages:
        sums = [sum(v.counts[op] for v in s.problem_villages) for op in PROBLEM_OPERATIONS]
        clean = sum(v.clean for v in s.problem_villages)
        rows.append(
            Row(["", "合计", "", clean, *sums, sum(sums), _share(sum(sums), clean)], total=True)
        )
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{s.year}年度“回头看”问题户（按村汇总）",
            columns,
            rows,
            subtitle=f"数据截至 {s.as_of:%Y-%m-%d} · 运行情况为运行不稳定、散煤复烧、设备弃用/拆除的户",
            empty_text="截止日没有回头看问题户。",
        ),
    )
    detail = [
        Row(
            [
                p.township_name,
                p.village_code,
                p.village_name,
                p.household_no,
                p.head_name,
                p.id_number,
                p.phone,
                p.address,
                STATUS_LABELS.get(p.status, p.status),
                route_label(p.route) if p.route else "",
                p.device,
                OPERATION_LABELS.get(p.operation, p.operation),
                p.note,
            ]
        )
        for p in s.problems
    ]
    write_table(
        ws,
        Table(
            "问题户明细（户主姓名、身份证号、联系电话已脱敏）",
            [
                Column("乡镇"),
                Column("村代码"),
                Column("村名称"),
                Column("户号"),
                Column("户主"),
                Column("身份证号"),
                Column("联系电话"),
                Column("地址", width=30, wrap=True),
                Column("改造状态"),
                Column("改造方式"),
                Column("设备类型"),
                Column("运行情况"),
                Column("备注", width=30, wrap=True),
            ],
            detail,
            notes=(
                "整改建议：运行不稳定的户核查设备与电网/气源保障；散煤复烧、设备弃用的户逐户核实原因，制定整改计划。",
            ),
        ),
        start_row=placed.last_row + 3,
        main=False,
    )
