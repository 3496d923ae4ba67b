"""Load the boiler ledger (锅炉台账) from a spreadsheet.

Read with the ledger's machinery (``imports.records``) and the registry's
place resolution (``imports.villages``); every row is checked before
anything is written and any error refuses the whole file.  Boilers are
updated by 锅炉编号; each row's state and 状态日期 join the boiler's state
history (a file may hold several rows of one boiler, one per state), each
最近检查日期 joins its inspections, so the 清零 progress can be read as of
any date.  A blank optional cell never erases what is stored.

Capacity is 额定蒸发量 in t/h or 额定热功率 in MW (0.7 MW = 1 t/h); the
fuel of a boiler's earliest row when it is first loaded is its fuel for the
coal 清零 scope from then on.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.boilers import MW_PER_TPH, tph_of_mw
from heating.config import Config
from heating.errors import Refused
from heating.models import (
    BOILER_FUEL_LABELS,
    BOILER_STATE_LABELS,
    CLEARED_STATES,
    LOW_NOX_LABELS,
    Boiler,
    BoilerInspection,
    BoilerState,
    Township,
    audit,
    utcnow,
)
from imports.fields import Field, Schema, choice_words
from imports.records import LoadReport, Record, keep_file, read_records
from imports.validate import coordinate_problems, district_extent
from imports.villages import VillageIndex

MAX_TPH = 2000.0  # no single boiler is bigger: a typo (kW? kg/h?) otherwise
CAPACITY_TOLERANCE = 0.05

FUEL_WORDS = choice_words(
    {
        "coal": ("燃煤", "煤", "原煤", "燃煤锅炉"),
        "gas": ("燃气", "天然气", "气", "燃气锅炉"),
        "biomass": ("生物质", "生物质成型燃料"),
        "electric": ("电", "电能", "电锅炉"),
        "oil": ("燃油", "油", "柴油"),
        "other": ("其他", "其它"),
    }
)
STATE_WORDS = choice_words(
    {
        "in_use": ("在用", "使用", "正常使用", "运行"),
        "idle": ("停用", "停运", "闲置"),
        "flue_cut": ("烟道切断", "切断烟道", "已切断烟道"),
        "standby": ("应急备用", "备用"),
        "removed": ("拆除", "已拆除"),
        "deregistered": ("注销", "已注销"),
        "converted": ("改为清洁能源", "已改清洁能源", "清洁能源改造", "改造", "已改造"),
    }
)
LOW_NOX_WORDS = choice_words(
    {
        "done": ("已完成", "完成", "是", "已改造"),
        "not_done": ("未完成", "否", "未改造", "未实施"),
    }
)

BOILER_FIELDS: tuple[Field, ...] = (
    Field(
        "code",
        "锅炉编号",
        ("编号", "锅炉代码", "设备编号", "锅炉注册编号", "注册编号", "使用登记证编号"),
        "code",
        max_length=64,
    ),
    Field("unit", "单位名称", ("使用单位", "企业名称", "单位", "使用单位名称"), max_length=128),
    Field("township", "乡镇", ("乡镇名称", "乡镇(街道)", "街道", "所属乡镇", "乡镇代码")),
    Field("village", "村", ("村名", "行政村", "村(社区)", "所属村", "村名称")),
    Field("lon", "经度", (), "float"),
    Field("lat", "纬度", (), "float"),
    Field("tph", "额定蒸发量", ("蒸发量", "额定出力", "额定蒸发量t/h", "吨位"), "quantity"),
    Field("mw", "额定热功率", ("热功率", "额定功率", "额定热功率MW"), "quantity"),
    Field(
        "fuel",
        "燃料类型",
        ("燃料", "燃料种类"),
        "choice",
        values=FUEL_WORDS,
        labels=BOILER_FUEL_LABELS,
    ),
    Field(
        "state",
        "状态",
        ("锅炉状态", "使用状态", "运行状态", "现状"),
        "choice",
        values=STATE_WORDS,
        labels=BOILER_STATE_LABELS,
    ),
    Field("state_date", "状态日期", ("状态变更日期", "变更日期"), "date"),
    Field(
        "last_inspection",
        "最近检查日期",
        ("检查日期", "最近巡查日期", "最近核查日期", "巡查日期"),
        "date",
    ),
    Field(
        "low_nox",
        "低氮改造",
        ("是否完成低氮改造", "低氮改造情况"),
        "choice",
        values=LOW_NOX_WORDS,
        labels=LOW_NOX_LABELS,
    ),
    Field("low_nox_on", "低氮改造日期", ("低氮改造完成日期", "低氮完成日期"), "date"),
    Field("note", "备注", (), max_length=2000),
)
BOILER_SCHEMA = Schema("boilers", BOILER_FIELDS)


def _day(value: tuple[date, str] | None) -> date | None:
    return value[0] if value is not None else None


def _check(
    session: Session, rows: list[Record], report: LoadReport, today: date
) -> dict[str, list[Record]]:
    """Validate every row; return the rows grouped by boiler code (in file order)."""
    index = VillageIndex.load(session, None)

    @functools.cache  # read once, and only when a row has coordinates
    def extent() -> tuple[float, float, float, float] | None:
        return district_extent(session, index.district_ids)

    by_code: dict[str, list[Record]] = defaultdict(list)
    for row in rows:
        v = row.values
        for name in ("state_date", "last_inspection", "low_nox_on"):
            if name in v:
                v[name] = _day(v[name])
        code = v.get("code")
        if not code:
            report.add("error", "required", "锅炉编号为空，请填写（每台锅炉唯一）。", row, "code")
        else:
            by_code[code].append(row)
        _check_place(row, index, report)
        _check_capacity(row, report)
        if v.get("fuel") is None and not report.has_issue(row, "fuel"):
            report.add(
                "error",
                "required",
                f"燃料类型为空，请填写：{'、'.join(BOILER_FUEL_LABELS.values())}。",
                row,
                "fuel",
            )
        state = v.get("state")
        if state is None and not report.has_issue(row, "state"):
            report.add(
                "error",
                "required",
                f"状态为空，请填写：{'、'.join(BOILER_STATE_LABELS.values())}。",
                row,
                "state",
            )
        if state in CLEARED_STATES and v.get("state_date") is None:
            report.add(
                "error",
                "state_date_required",
                f"状态为“{BOILER_STATE_LABELS[state]}”须填写状态日期（哪一天{BOILER_STATE_LABELS[state]}），"
                "清零进度按这个日期统计。",
                row,
                "state_date",
            )
        for name, label in (
            ("state_date", "状态日期"),
            ("last_inspection", "最近检查日期"),
            ("low_nox_on", "低氮改造日期"),
        ):
            day = v.get(name)
            if day is not None and day > today:
                report.add(
                    "error",
                    "date_in_future",
                    f"{label} {day.isoformat()} 晚于今天，请核对。",
                    row,
                    name,
                    day.isoformat(),
                )
        if v.get("low_nox") == "done" and v.get("low_nox_on") is None:
            report.add(
                "warning",
                "low_nox_date_missing",
                "低氮改造为“已完成”但没有低氮改造日期：在补上日期之前按未完成统计。",
                row,
                "low_nox_on",
            )
        for problem in coordinate_problems(v.get("lon"), v.get("lat"), extent):
            report.place(problem, row, v.get(problem.field))
        if v.get("lon") is None and v.get("lat") is None:
            report.add(
                "warning",
                "coordinates_missing",
                "没有经纬度：无法判断该锅炉是否位于禁煤区内，也不会显示在地图上。",
                row,
                "lon",
            )
    for code, group in by_code.items():
        _check_history(code, group, report)
    return by_code


def _check_place(row: Record, index: VillageIndex, report: LoadReport) -> None:
    v = row.values
    township = v.get("township")
    if township is None:
        report.add("error", "required", "乡镇为空，请填写乡镇名称或 9 位代码。", row, "township")
        return
    if v.get("village"):
        resolution = index.resolve(township, v["village"], None)
        problems, tcode = resolution.problems, resolution.township_code
        v["village_id"] = resolution.village_id
    else:
        tcode, problem_list = index.township(township)
        problems = tuple(problem_list)
    for problem in problems:
        report.place(problem, row, v.get(problem.field))
    v["township_code"] = tcode


def _check_capacity(row: Record, report: LoadReport) -> None:
    v = row.values
    tph, mw = v.get("tph"), v.get("mw")
    if tph is None and mw is None:
        if not (report.has_issue(row, "tph") or report.has_issue(row, "mw")):
            report.add(
                "error",
                "capacity_required",
                "额定蒸发量（t/h）和额定热功率（MW）都为空：请至少填写一项。",
                row,
                "tph" if "tph" in row.columns else "mw",
            )
        return
    for name, amount, unit in (("tph", tph, "t/h"), ("mw", mw, "MW")):
        if amount is None:
            continue
        label = BOILER_SCHEMA.by_name[name].label
        if amount < 0:
            report.add("error", "negative", f"{label}不能为负数。", row, name, amount)
        elif amount == 0:
            report.add("error", "out_of_range", f"{label}不能为 0。", row, name, amount)
        elif (amount if name == "tph" else amount / MW_PER_TPH) > MAX_TPH:
            report.add(
                "error",
                "out_of_range",
                f"{label} {amount:g} {unit} 过大，请核对单位（蒸发量为 t/h，热功率为 MW）。",
                row,
                name,
                amount,
            )
    if report.has_issue(row, "tph") or report.has_issue(row, "mw"):
        return
    if tph is not None and mw is not None:
        if abs(tph - mw / MW_PER_TPH) > CAPACITY_TOLERANCE * tph:
            report.add(
                "warning",
                "capacity_mismatch",
                f"额定蒸发量 {tph:g} t/h 与额定热功率 {mw:g} MW（约 {mw / MW_PER_TPH:.1f} t/h）"
                "不一致，按额定蒸发量统计。请核对。",
                row,
                "mw",
                mw,
            )
        v["capacity"] = tph
    elif tph is not None:
        v["capacity"] = tph
    else:
        v["capacity"] = tph_of_mw(mw)  # type: ignore[arg-type]


def _check_history(code: str, rows: list[Record], report: LoadReport) -> None:
    """Rows of one boiler are its state history: one state per date."""
    seen: dict[date | None, Record] = {}
    for row in rows:
        day = row.values.get("state_date")
        first = seen.get(day)
        if first is None:
            seen[day] = row
            continue
        when = day.isoformat() if day else "（无日期）"
        if first.values.get("state") == row.values.get("state"):
            report.add(
                "warning",
                "duplicate_boiler",
                f"锅炉 {code} 在第 {first.row} 行已有同一状态日期 {when} 的同一状态，本行重复。",
                row,
                "code",
                code,
            )
        else:
            report.add(
                "error",
                "duplicate_boiler",
                f"锅炉 {code} 在第 {first.row} 行同一状态日期 {when} 是另一个状态：一天只能有一个状态，"
                "请核对日期。",
                row,
                "state_date",
                when,
            )


def _ordered(rows: list[Record]) -> list[Record]:
    """A boiler's rows by state date (undated first: in force from the start)."""
    return sorted(rows, key=lambda r: (r.values.get("state_date") or date.min, r.row))


def _apply(
    session: Session,
    by_code: dict[str, list[Record]],
    batch_id: int,
) -> tuple[int, int]:
    townships = {code: tid for code, tid in session.execute(select(Township.code, Township.id))}
    existing = {
        b.code: b for b in session.scalars(select(Boiler).where(Boiler.code.in_(list(by_code))))
    }
    now = utcnow()
    new = updated = 0
    for code, group in by_code.items():
        rows = _ordered(group)
        latest = rows[-1].values
        boiler = existing.get(code)
        changed = False
        if boiler is None:
            boiler = Boiler(
                code=code,
                fuel=rows[0].values["fuel"],
                township_id=townships[latest["township_code"]],
                tph=latest["capacity"],
                created_batch_id=batch_id,
                updated_batch_id=batch_id,
                created_at=now,
                updated_at=now,
            )
            session.add(boiler)
            new += 1
        wanted: dict[str, Any] = {
            "township_id": townships[latest["township_code"]],
            "tph": latest["capacity"],
        }
        if latest.get("mw") is not None:
            wanted["capacity_mw"] = latest["mw"]
        for name in ("unit", "village_id", "lon", "lat", "note", "low_nox", "low_nox_on"):
            if latest.get(name) is not None:
                wanted[name] = latest[name]
        for name, value in wanted.items():
            if getattr(boiler, name) != value:
                setattr(boiler, name, value)
                changed = True
        session.flush()
        changed |= _add_states(session, boiler, rows, batch_id, now)
        changed |= _add_inspections(session, boiler, rows, batch_id, now)
        if changed and boiler.created_batch_id != batch_id:
            boiler.updated_batch_id = batch_id
            boiler.updated_at = now
            updated += 1
    session.flush()
    return new, updated


def _add_states(
    session: Session, boiler: Boiler, rows: list[Record], batch_id: int, now: Any
) -> bool:
    """Add each row's (state, date) to the history; a new state for a known date corrects it."""
    by_day = {s.state_date: s for s in boiler.states}
    changed = False
    for row in rows:
        v = row.values
        known = by_day.get(v.get("state_date"))
        if known is not None:
            if known.state != v["state"] or known.fuel != v["fuel"]:
                known.state, known.fuel = v["state"], v["fuel"]
                known.batch_id, known.recorded_at = batch_id, now
                changed = True
            continue
        entry = BoilerState(
            state=v["state"],
            state_date=v.get("state_date"),
            fuel=v["fuel"],
            batch_id=batch_id,
            recorded_at=now,
        )
        boiler.states.append(entry)
        by_day[entry.state_date] = entry
        changed = True
    newest = max(boiler.states, key=lambda s: (s.state_date or date.min, s.id or 0))
    if (boiler.state, boiler.state_date) != (newest.state, newest.state_date):
        boiler.state, boiler.state_date = newest.state, newest.state_date
        changed = True
    session.flush()
    return changed


def _add_inspections(
    session: Session, boiler: Boiler, rows: list[Record], batch_id: int, now: Any
) -> bool:
    days = {r.values["last_inspection"] for r in rows if r.values.get("last_inspection")}
    if not days:
        return False
    known = set(
        session.scalars(
            select(BoilerInspection.inspected_on).where(BoilerInspection.boiler_id == boiler.id)
        )
    )
    fresh = sorted(days - known)
    for day in fresh:
        session.add(
            BoilerInspection(
                boiler_id=boiler.id, inspected_on=day, batch_id=batch_id, recorded_at=now
            )
        )
    newest = max(days | known)
    if boiler.last_inspection != newest:
        boiler.last_inspection = newest
    return bool(fresh)


def load_boilers(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    user_id: int | None = None,
    ip: str | None = None,
    today: date | None = None,
) -> dict[str, Any]:
    """Create or update boilers and their state histories from a boiler ledger.

    Returns ``{"boilers", "new", "updated", "issues", …}``.  Raises
    ``Refused`` (with that outcome as ``detail``) when any row has an error;
    then nothing is written.
    """
    report = LoadReport()
    rows = read_records(
        data,
        file_name,
        config,
        BOILER_SCHEMA,
        report,
        required=(("code",), ("township",), ("tph", "mw"), ("fuel",), ("state",)),
        what="锅炉台账",
        hint=("code", "unit", "township", "tph", "state"),
    )
    if not rows and not report.errors:
        raise Refused(f"文件“{file_name}”的锅炉台账表头下没有任何锅炉。")
    by_code = _check(session, rows, report, today or date.today())
    if report.errors:
        raise Refused(
            report.refusal("锅炉台账", file_name),
            detail=_result(len(by_code), 0, 0, report),
        )
    batch = keep_file(
        session,
        data,
        file_name,
        kind="boilers",
        user_id=user_id,
        counts={"rows": len(rows)},
        issues=report.issues,
    )
    new, updated = _apply(session, by_code, batch.id)
    batch.counts = {"rows": len(rows), "boilers": len(by_code), "new": new, "updated": updated}
    result = _result(len(by_code), new, updated, report)
    audit(  # the one audit entry of the load, from the CLI or the admin page
        session,
        "boilers_load",
        user=user_id,
        ip=ip,
        target=file_name,
        detail={k: result[k] for k in ("boilers", "new", "updated")},
    )
    return result


def _result(boilers: int, new: int, updated: int, report: LoadReport) -> dict[str, Any]:
    return {
        "boilers": boilers,
        "new": new,
        "updated": updated,
        "issues": [i.as_json() for i in report.issues],
    }
