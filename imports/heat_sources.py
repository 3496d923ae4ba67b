"""Load the heat-source register (热源名单) from a spreadsheet.

Read with the ledger's machinery (``imports.records``); every row is checked
before anything is written and any error refuses the whole file.  Sources
are matched to the register by ``heating.heat_sources.source_key`` and
updated in place; a source absent from the file is kept.  Where a column is
in the file its cells say what the register holds (a blank grade is
"unknown", a blank 是否列入 is 否); a column absent from the file changes
nothing.  Each source whose facts change gets a ``HeatSourceVersion``
recorded now, so figures "known at" an earlier time stay reproducible.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.config import Config
from heating.errors import Refused
from heating.heat_sources import load_register, source_key, unmatched_ledger_sources
from heating.models import (
    HEAT_SOURCE_KIND_LABELS,
    HeatSource,
    HeatSourceVersion,
    audit,
    utcnow,
)
from imports.fields import Field, Schema, choice_words
from imports.records import LoadReport, Record, keep_file, read_records

KIND_WORDS = choice_words(
    {
        "chp": ("热电联产", "热电厂", "热电", "燃煤热电联产"),
        "waste_heat": ("工业余热", "余热", "余热回收", "工业余热利用"),
        "gas_boiler": ("燃气锅炉房", "燃气锅炉", "燃气"),
        "electric_boiler": ("电锅炉", "电锅炉房", "电蓄热锅炉"),
        "biomass": ("生物质", "生物质锅炉"),
        "geothermal": ("地热", "地热能"),
        "other": ("其他", "其它"),
    }
)
GRADE_WORDS = choice_words(
    {
        "A": ("A级", "A类"),
        "B": ("B级", "B类"),
        "C": ("C级", "C类"),
        "D": ("D级", "D类"),
        "leading": ("引领性", "引领", "引领级", "绩效引领性"),
    }
)
YES_NO_WORDS = choice_words(
    {
        "yes": ("是", "已列入", "列入", "√", "1", "y"),
        "no": ("否", "未列入", "不列入", "无", "×", "0", "n"),
    }
)

HEAT_SOURCE_FIELDS: tuple[Field, ...] = (
    Field(
        "name",
        "热源名称",
        ("热源", "热源单位", "供热热源", "热源企业", "企业名称"),
        max_length=128,
    ),
    Field(
        "kind",
        "类型",
        ("热源类型", "热源种类", "类别"),
        "choice",
        values=KIND_WORDS,
        labels=HEAT_SOURCE_KIND_LABELS,
    ),
    Field(
        "env_grade",
        "环保绩效等级",
        ("环保绩效分级", "绩效等级", "环保等级", "绩效分级", "环保绩效"),
        "choice",
        values=GRADE_WORDS,
        labels={"A": "A", "B": "B", "C": "C", "D": "D", "leading": "引领性"},
    ),
    Field(
        "shutdown_listed",
        "是否列入关停淘汰计划",
        (
            "列入关停淘汰计划",
            "是否列入关停计划",
            "关停淘汰计划",
            "是否关停淘汰",
            "是否列入关停淘汰",
        ),
        "choice",
        values=YES_NO_WORDS,
        labels={"yes": "是", "no": "否"},
    ),
    Field("shutdown_on", "计划关停日期", ("关停日期", "计划关停时间", "计划淘汰日期"), "date"),
    Field("lon", "经度", (), "float"),
    Field("lat", "纬度", (), "float"),
    Field("capacity_mw", "供热能力", ("供热能力MW", "供热规模", "装机容量"), "quantity"),
)
HEAT_SOURCE_SCHEMA = Schema("heat_sources", HEAT_SOURCE_FIELDS)

# Coordinates of a source may lie outside the district (a plant next door), not outside China.
CHINA_LON = (73.0, 136.0)
CHINA_LAT = (3.0, 54.0)
VERSIONED = ("name", "kind", "env_grade", "shutdown_listed", "shutdown_on")


def _check(rows: list[Record], report: LoadReport) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        v = row.values
        name = v.get("name")
        if not name:
            report.add("error", "required", "热源名称为空，请填写。", row, "name")
        else:
            key = source_key(name)
            if key in seen:
                report.add(
                    "error",
                    "duplicate_source",
                    f"热源“{name}”与第 {seen[key]} 行是同一个热源（名称比较时忽略空格、全角和"
                    "“有限公司”等后缀），请删除重复的一行。",
                    row,
                    "name",
                    name,
                )
            else:
                seen[key] = row.row
        if "kind" in row.columns and v.get("kind") is None and not report.has_issue(row, "kind"):
            allowed = "、".join(HEAT_SOURCE_KIND_LABELS.values())
            report.add("error", "required", f"类型为空，请填写：{allowed}。", row, "kind")
        if "shutdown_on" in v:
            v["shutdown_on"] = v["shutdown_on"][0]
            if v.get("shutdown_listed") != "yes":
                report.add(
                    "warning",
                    "shutdown_date_without_listing",
                    "填写了计划关停日期，但“是否列入关停淘汰计划”不是“是”：按未列入处理，请核对。",
                    row,
                    "shutdown_listed",
                )
        _check_coordinates(row, report)
        capacity = v.get("capacity_mw")
        if capacity is not None and capacity < 0:
            report.add("error", "negative", "供热能力不能为负数。", row, "capacity_mw", capacity)


def _check_coordinates(row: Record, report: LoadReport) -> None:
    lon, lat = row.values.get("lon"), row.values.get("lat")
    if (lon is None) != (lat is None):
        report.add(
            "error",
            "coordinates_incomplete",
            "经度和纬度应同时填写或同时留空。",
            row,
            "lat" if lat is None else "lon",
        )
    elif lon is not None and not (
        CHINA_LON[0] <= lon <= CHINA_LON[1] and CHINA_LAT[0] <= lat <= CHINA_LAT[1]
    ):
        swapped = CHINA_LON[0] <= lat <= CHINA_LON[1] and CHINA_LAT[0] <= lon <= CHINA_LAT[1]
        hint = "经度和纬度是否填反了？" if swapped else ""
        report.add(
            "error",
            "coordinates_outside",
            f"坐标（经度 {lon}，纬度 {lat}）不在中国范围内。{hint}"
            "请填写十进制度数（CGCS2000/WGS84），或留空。",
            row,
            "lon",
            lon,
        )


def _wanted(row: Record) -> dict[str, Any]:
    """The source's fields this row sets (only for columns present in the file)."""
    v = row.values
    wanted: dict[str, Any] = {"name": v["name"]}
    for name in ("kind", "env_grade", "shutdown_on", "lon", "lat", "capacity_mw"):
        if name in row.columns:
            wanted[name] = v.get(name)
    if "shutdown_listed" in row.columns:
        wanted["shutdown_listed"] = v.get("shutdown_listed") == "yes"
    return wanted


def _apply(
    session: Session, rows: list[Record], batch_id: int | None
) -> tuple[int, int, list[str]]:
    by_key = {source_key(s.name): s for s in session.scalars(select(HeatSource))}
    now = utcnow()
    new = updated = 0
    changed_names: list[str] = []
    for row in rows:
        wanted = _wanted(row)
        source = by_key.get(source_key(wanted["name"]))
        if source is None:
            source = HeatSource(**({"shutdown_listed": False} | wanted))
            session.add(source)
            by_key[source_key(source.name)] = source
            new += 1
            versioned = True
        else:
            changes = {k: val for k, val in wanted.items() if getattr(source, k) != val}
            if not changes:
                continue
            versioned = any(k in VERSIONED for k in changes)
            for k, val in changes.items():
                setattr(source, k, val)
            updated += 1
            changed_names.append(source.name)
        source.updated_at = now
        session.flush()
        if versioned:
            session.add(
                HeatSourceVersion(
                    heat_source_id=source.id,
                    batch_id=batch_id,
                    recorded_at=now,
                    **{k: getattr(source, k) for k in VERSIONED},
                )
            )
    session.flush()
    return new, updated, changed_names


def load_heat_sources(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    user_id: int | None = None,
    ip: str | None = None,
) -> dict[str, Any]:
    """Create or update heat sources from a register file; list unmatched ledger sources.

    Returns ``{"sources", "new", "updated", "unmatched_ledger_sources", "issues", …}``.
    Raises ``Refused`` (with that outcome as ``detail``) when any row has an
    error; then nothing is written.
    """
    report = LoadReport()
    rows = read_records(
        data,
        file_name,
        config,
        HEAT_SOURCE_SCHEMA,
        report,
        required=(("name",), ("kind",)),
        what="热源名单",
        hint=("name", "kind", "env_grade", "shutdown_listed"),
    )
    if not rows and not report.errors:
        raise Refused(f"文件“{file_name}”的热源名单表头下没有任何热源。")
    _check(rows, report)
    if report.errors:
        raise Refused(
            report.refusal("热源名单", file_name),
            detail=_result(rows, 0, 0, [], report),
        )
    batch = keep_file(
        session,
        data,
        file_name,
        kind="heat_sources",
        user_id=user_id,
        counts={"rows": len(rows)},
        issues=report.issues,
    )
    new, updated, _changed = _apply(session, rows, batch.id)
    batch.counts = {"rows": len(rows), "new": new, "updated": updated}
    unmatched = unmatched_ledger_sources(session, load_register(session))
    result = _result(rows, new, updated, unmatched, report)
    audit(  # the one audit entry of the load, from the CLI or the admin page
        session,
        "heat_sources_load",
        user=user_id,
        ip=ip,
        target=file_name,
        detail={k: result[k] for k in ("sources", "new", "updated")}
        | {"unmatched": len(unmatched)},
    )
    return result


def _result(
    rows: list[Record],
    new: int,
    updated: int,
    unmatched: list[dict[str, Any]],
    report: LoadReport,
) -> dict[str, Any]:
    return {
        "sources": len(rows),
        "new": new,
        "updated": updated,
        "unmatched_ledger_sources": unmatched,
        "issues": [i.as_json() for i in report.issues],
    }
