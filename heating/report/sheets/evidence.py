"""用量核验 and 补贴: evidence of use (season Y−1) and the subsidy schedule (season Y).

The figures are ``heating.usage_flags.flags_report`` and
``heating.subsidy.schedule`` over the households as of the report's date
(see those modules for the definitions the notes repeat).  An approved-only
report leaves out the townships not approved, as the other sheets do.
"""

from __future__ import annotations

from typing import Any

from openpyxl.worksheet.worksheet import Worksheet

from heating.clock import local_date
from heating.models import ROUTE_LABELS
from heating.relapse_plans import PLACE_LABELS
from heating.report.snapshot import Snapshot
from heating.report.workbook import Column, Row, Table, write_table
from heating.subsidy import COUNTS

GAP = 2
# A listed household, as every household table of these sheets begins (name already masked).
HOUSEHOLD_COLUMNS = (Column("村代码"), Column("村名"), Column("户号"), Column("户主（脱敏）"))


def _explain(ws: Worksheet, title: str, why: str) -> None:
    """A sheet without figures still has its title, print setup and the reason."""
    write_table(ws, Table(title, [Column("说明", width=90, wrap=True)], [], empty_text=why))


def _household_cells(s: Snapshot, h: dict[str, Any]) -> list[Any]:
    """The cells under ``HOUSEHOLD_COLUMNS`` for one listed household."""
    return [
        h["village"],
        s.village_names.get(h["village"], ""),
        h["household_no"] or "",
        h["head_name"],
    ]


def _shown_townships(s: Snapshot) -> set[str] | None:
    """Townships whose figures this report may show (None: all)."""
    if s.signoff is not None and s.signoff.approved_only:
        return set(s.signoff.approved_codes)
    return None


def write_usage(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Per township: households checked, flagged, share; then the flagged households."""
    data = s.usage_flags
    if data is None:
        _explain(
            ws,
            f"{s.district_name}用量核验（疑似改而不用）",
            f"截至 {s.as_of:%Y-%m-%d} 没有可用的用电量、用气量数据（heating usage import），"
            "无法核验疑似改而不用。",
        )
        plans_table(ws, s, ws.max_row + 1 + GAP)
        return
    shown = _shown_townships(s)
    towns = [t for t in data["by_township"] if shown is None or t["township"] in shown]
    rows = [
        Row(
            [
                t["township"],
                t["name"],
                t["checked"],
                t["flagged"],
                t["flagged"] / t["checked"] if t["checked"] else None,
                t["no_data"],
            ]
        )
        for t in towns
    ]
    checked = sum(t["checked"] for t in towns)
    flagged = sum(t["flagged"] for t in towns)
    rows.append(
        Row(
            [
                "",
                "合计",
                checked,
                flagged,
                flagged / checked if checked else None,
                sum(t["no_data"] for t in towns),
            ],
            total=True,
        )
    )
    rule = data["rule"]
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{data['season']}采暖季用量核验（疑似改而不用）",
            [
                Column("乡镇代码"),
                Column("乡镇名称"),
                Column("有用量数据的户", "int"),
                Column("疑似改而不用", "int"),
                Column("占比", "pct"),
                Column("无数据", "int"),
            ],
            rows,
            subtitle=f"采暖季 {data['season_start']} 至 {data['season_end']}；农户状态截至 {s.as_of:%Y-%m-%d}",
            notes=(
                "核验对象：采暖季开始前已完工/已验收的煤改电户（用电量）和煤改气户（用气量）。",
                f"疑似改而不用：采暖季用量为 0，或低于同乡镇同方式户用量中位数的 {rule['ratio'] * 100:g}%"
                f"（同乡镇不足 {rule['min_peers']} 户时与全区比较；全区也不足时只计用量为 0 的户）。",
                "无数据：没有户号、户号多户共用，或用量不足采暖季 80% 天数；不计入核验户，也不标出。",
                "标记不改变改造状态；核验后有效覆盖率见“总体情况”。",
            ),
        ),
    )
    households = [h for h in data["households"] if shown is None or h.get("township") in shown]
    placed = write_table(
        ws,
        Table(
            "疑似改而不用的户",
            [
                *HOUSEHOLD_COLUMNS,
                Column("方式"),
                Column("采暖季用量", "area"),
                Column("同类户中位数", "area"),
                Column("用量÷中位数", "pct"),
                Column("台账运行情况"),
            ],
            [
                Row(
                    [
                        *_household_cells(s, h),
                        ROUTE_LABELS.get(h["route"], h["route"]),
                        h["use"],
                        h["median"],
                        h["ratio"],
                        "已记为散煤复烧/弃用" if h["lapsed"] else "",
                    ]
                )
                for h in households
            ],
            notes=("用量单位：煤改电 kWh，煤改气 m³。",),
        ),
        start_row=placed.last_row + 1 + GAP,
        main=False,
    )
    plans_table(ws, s, placed.last_row + 1 + GAP)


def plans_table(ws: Worksheet, s: Snapshot, start_row: int) -> None:
    """Places above relapse_share with their 系统化解决方案 (seed item 7; 未制定 when none)."""
    shown = _shown_townships(s)
    places = [p for p in s.relapse_places if shown is None or p["township"] in shown]
    threshold = s.relapse_share
    today = local_date(s.known_at, s.timezone)
    write_table(
        ws,
        Table(
            "需要系统化解决方案的乡镇和村",
            [
                Column("类型"),
                Column("代码"),
                Column("名称"),
                Column("已完成户", "int", sums=False),
                Column("散煤复烧/弃用", "int", sums=False),
                Column("疑似改而不用（未记复烧）", "int", sums=False),
                Column("占已完成户", "pct"),
                Column("方案状态"),
                Column("责任单位"),
                Column("完成时限", "date"),
                Column("是否逾期"),
                Column("方案内容", width=40, wrap=True),
            ],
            [
                Row(
                    [
                        PLACE_LABELS[p["place_kind"]],
                        p["key"],
                        p["name"],
                        p["clean"],
                        p["lapsed"],
                        p["flagged_not_lapsed"],
                        p["share"],
                        p["plan"]["state_label"],
                        p["plan"]["unit"] or "",
                        p["plan"]["due_on"],
                        "已逾期" if p["plan"]["overdue"] else "",
                        p["plan"]["text"] or "",
                    ]
                )
                for p in places
            ],
            notes=(
                f"已完成户中散煤复烧/弃用或疑似改而不用（未记为复烧/弃用的）超过 {threshold * 100:g}%"
                "（本区设定的比例）的乡镇和村须制定系统化解决方案；没有记录方案的为“未制定”。",
                f"已逾期：完成时限早于 {today:%Y-%m-%d}（封面“已知时点”的日期）而方案未完成；"
                "方案按该时刻已记录的取。",
            ),
        ),
        start_row=start_row,
        main=False,
    )


def _money(value: Any) -> float:
    return round(float(value), 2)


def write_subsidy(ws: Worksheet, s: Snapshot, picture: bytes | None) -> None:
    """Per township × route: due, total, ending, device mismatches; then the ending households."""
    data = s.subsidy
    if data is None:
        _explain(
            ws,
            f"{s.district_name}{s.year}采暖季清洁取暖补贴",
            "配置文件中没有补贴规则（[[subsidy.rules]]），无法列出运行补贴的发放与到期。"
            "见 README“补贴发放计划”。",
        )
        coal_table(ws, s, ws.max_row + 1 + GAP)
        return
    shown = _shown_townships(s)
    towns = [t for t in data["by_township"] if shown is None or t["township"] in shown]
    rows = []
    for t in towns:
        for r in t["by_route"]:
            rows.append(
                Row(
                    [
                        t["township"],
                        t["name"],
                        ROUTE_LABELS.get(r["route"], r["route"] or "—"),
                        r["due_households"],
                        _money(r["due_total"]),
                        r["ending_households"],
                        r["mismatched_device"],
                        r["device_missing"],
                        r["no_rule"],
                    ]
                )
            )
    totals = {k: sum(t[k] for t in towns) for k in COUNTS}
    rows.append(
        Row(
            [
                "",
                "合计",
                "",
                totals["due_households"],
                _money(totals["due_total"]),
                totals["ending_households"],
                totals["mismatched_device"],
                totals["device_missing"],
                totals["no_rule"],
            ],
            total=True,
        )
    )
    placed = write_table(
        ws,
        Table(
            f"{s.district_name}{data['season']}采暖季清洁取暖补贴",
            [
                Column("乡镇代码"),
                Column("乡镇名称"),
                Column("方式"),
                Column("应发运行补贴户数", "int"),
                Column("应发金额（元）", "area"),
                Column("本季为最后一季", "int"),
                Column("设备补贴与规则不符", "int"),
                Column("未填设备补贴", "int"),
                Column("无适用规则", "int"),
            ],
            rows,
            subtitle=f"按配置的补贴规则；农户状态截至 {s.as_of:%Y-%m-%d}",
            notes=(
                "应发：已完工、未散煤复烧/弃用、适用规则的发放季含本季的户；从完工所在采暖季起发放"
                "（完工日在两个采暖季之间时从下一季起）。",
                "本季为最后一季：运行补贴本季之后停发的户，下一个冬天有返煤风险。",
                "设备补贴与规则不符：适用规则的每一户已完工户中，台账设备补贴与规则金额不同的户；未填写的单列。",
            ),
        ),
    )
    ending = [h for h in data["ending"] if shown is None or h["township"] in shown]
    placed = write_table(
        ws,
        Table(
            "运行补贴本季到期的户",
            [
                *HOUSEHOLD_COLUMNS,
                Column("方式"),
                Column("完工日期"),
            ],
            [
                Row(
                    [
                        *_household_cells(s, h),
                        ROUTE_LABELS.get(h["route"], h["route"]),
                        h["completed_on"] or "",
                    ]
                )
                for h in ending
            ],
        ),
        start_row=placed.last_row + 1 + GAP,
        main=False,
    )
    coal_table(ws, s, placed.last_row + 1 + GAP)


def coal_table(ws: Worksheet, s: Snapshot, start_row: int) -> None:
    """Households still paid a coal subsidy where clean heating is complete (seed item 9)."""
    shown = _shown_townships(s)
    found = [h for h in s.coal_subsidies if shown is None or h["township"] in shown]
    write_table(
        ws,
        Table(
            "完成村和禁煤区内仍记有洁净煤补贴的户（coal_subsidy_in_zone）",
            [
                *HOUSEHOLD_COLUMNS,
                Column("洁净煤补贴（元）", "area"),
                Column("位置"),
            ],
            [
                Row(
                    [
                        *_household_cells(s, h),
                        h["coal_subsidy"],
                        h["where"],
                    ]
                )
                for h in found
            ],
            notes=("清洁取暖改造已完成的区域，不得再补贴使用煤炭。",),
        ),
        start_row=start_row,
        main=False,
    )
