"""The village list's and a village's household list's filters and Excel downloads.

The household list is filtered by status, look-back operation and a search
over 户号 / 户主 (pagination keeps the filters through ``page_url``); the
download holds every household the filters keep, masked exactly as the page
shows them (``heating.privacy`` via the view), never more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response
from sqlalchemy import Select, or_, select

from heating.measures import MeasureRow
from heating.models import (
    OPERATION_LABELS,
    OPERATIONS,
    ROUTE_LABELS,
    STATUS_LABELS,
    STATUSES,
    Household,
    Village,
)
from heating.report.workbook import Column
from heating.web.db import app_config
from heating.web.exports import xlsx_download

UNCHECKED = "unchecked"  # operation filter: not yet checked (blank)
MEETS_LABELS = {"yes": "达标", "no": "未达标 / 低于目标", "none": "无数据"}


def household_filters(args: Mapping[str, str]) -> dict[str, str]:
    """The household list's filters from the query string; unknown values are ignored."""
    status = args.get("status", "").strip()
    operation = args.get("operation", "").strip()
    return {
        "status": status if status in STATUSES else "",
        "operation": operation if operation in (*OPERATIONS, UNCHECKED) else "",
        "hq": args.get("hq", "").strip()[:64],
    }


def filtered_households(village_id: int, chosen: Mapping[str, str]) -> Select[tuple[Household]]:
    """The active households of a village that the filters keep."""
    query = select(Household).where(Household.village_id == village_id, Household.active)
    if chosen["status"]:
        query = query.where(Household.status == chosen["status"])
    if chosen["operation"] == UNCHECKED:
        query = query.where(Household.operation.is_(None))
    elif chosen["operation"]:
        query = query.where(Household.operation == chosen["operation"])
    if chosen["hq"]:
        needle = (
            "%" + chosen["hq"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        )
        query = query.where(
            or_(
                Household.household_no.like(needle, escape="\\"),
                Household.head_name.like(needle, escape="\\"),
            )
        )
    return query


def _filter_text(chosen: Mapping[str, str]) -> str:
    parts = []
    if chosen["status"]:
        parts.append(f"改造状态：{STATUS_LABELS[chosen['status']]}")
    if chosen["operation"]:
        label = (
            "未核查" if chosen["operation"] == UNCHECKED else OPERATION_LABELS[chosen["operation"]]
        )
        parts.append(f"运行情况：{label}")
    if chosen["hq"]:
        parts.append(f"户号或户主含“{chosen['hq']}”")
    return "；".join(parts) or "全部农户"


HOUSEHOLD_COLUMNS = [
    Column("户号"),
    Column("户主"),
    Column("身份证号"),
    Column("联系电话"),
    Column("住址"),
    Column("改造状态"),
    Column("无需改造原因"),
    Column("改造方式"),
    Column("设备类型"),
    Column("完工日期", "date"),
    Column("验收日期", "date"),
    Column("运行情况"),
    Column("备注"),
]


def export_households(
    village: Village, households: list[dict[str, Any]], chosen: Mapping[str, str]
) -> Response:
    """The filtered households of a village (already masked for the user) as .xlsx."""
    rows = [
        [
            h["household_no"] or "",
            h["head_name"] or "",
            h["id_number"] or "",
            h["phone"] or "",
            h["address"] or "",
            STATUS_LABELS.get(h["status"], h["status"]),
            h.get("exempt_reason") or "",
            ROUTE_LABELS.get(h["route"], h["route"] or ""),
            h["device"] or "",
            h["completed_on"],
            h["accepted_on"],
            OPERATION_LABELS.get(h["operation"], h["operation"] or ""),
            h["note"] or "",
        ]
        for h in households
    ]
    return xlsx_download(
        f"{village.name}农户台账",
        HOUSEHOLD_COLUMNS,
        rows,
        file_stem=f"{village.township.name}{village.name}农户台账",
        subtitle=f"{village.township.name} · {village.code} · {_filter_text(chosen)} · 共 {len(rows)} 户",
        notes=("身份证号、联系电话按导出人的权限脱敏，与页面显示一致。",),
    )


VILLAGE_COLUMNS = [
    Column("村代码"),
    Column("村名"),
    Column("乡镇"),
    Column("区域类别"),
    Column("名录总户数", "int"),
    Column("台账户数", "int"),
    Column("应改户数", "int"),
    Column("已完成户数", "int"),
    Column("覆盖率", "pct"),
    Column("有效覆盖率", "pct"),
    Column("核验后有效覆盖率", "pct"),
    Column("目标", "pct0"),
    Column("差距（户）", "int"),
    Column("是否达标"),
]


def village_meets_text(row: MeasureRow) -> str:
    """The list's badge in words: a village of a total-judged category is 'below', not 未达标."""
    if row.meets is None:
        return "无数据"
    if row.target is not None and row.target < 1:
        return f"{'达到' if row.meets else '低于'} {row.target:.0%}"
    return "达标" if row.meets else "未达标"


def export_villages(
    rows: list[MeasureRow], township_names: Mapping[str, str], filters: Mapping[str, str]
) -> Response:
    """The village list as filtered, searched and sorted on the page, as .xlsx."""
    profile = app_config().profile
    values = [
        [
            r.key,
            r.name,
            township_names.get(r.township_code or "", r.township_code or ""),
            profile.label(r.category),
            r.registry_households,
            r.ledger_rows,
            r.required,
            r.clean,
            r.coverage,
            r.effective_coverage,
            r.verified_effective_coverage,
            r.target,
            r.gap,
            village_meets_text(r),
        ]
        for r in rows
    ]
    parts = [
        f"乡镇：{township_names.get(filters['township'], '全部乡镇') if filters['township'] else '全部乡镇'}",
        f"区域类别：{profile.label(filters['category']) if filters['category'] else '全部类别'}",
        f"是否达标：{MEETS_LABELS.get(filters['meets'], '全部')}",
    ]
    if filters.get("district"):
        parts.insert(0, f"区县：{filters['district']}")
    if filters["q"]:
        parts.append(f"名称或代码含“{filters['q']}”")
    return xlsx_download(
        "村庄清洁取暖改造进度",
        VILLAGE_COLUMNS,
        values,
        file_stem="村庄清洁取暖改造进度",
        subtitle="；".join(parts) + f"；共 {len(values)} 个村；数据为当前台账",
    )
