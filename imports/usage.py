"""Read a utility's usage file (用电量/用气量 by account) into checked rows.

Two forms, told apart by the header: a **period** form (an account, a month
column — 2021-11, 2021年11月, 202111 — or start and end dates, and the use
in kWh or m³) and a **reading** form (an account, a reading date and the
meter's reading).  The file is read with the ledger's machinery in the
limited child (``imports.readers``, ``imports.header``, ``imports.clean``,
``imports.isolation``); the child returns one plain tuple per row
(``UsageRow``) and the issues it found, placed by sheet, row and column like
a ledger's.  The checks that need what is stored (overlaps with stored
periods, readings lower than a stored one, accounts of households) run in
the parent, in ``imports.usage_check``.
"""

from __future__ import annotations

import calendar
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from imports import clean
from imports.clean import skip_reason
from imports.fields import Field, Schema
from imports.header import find_header
from imports.issues import IssueCap, Problem, column_letter
from imports.readers import ReadLimits, read_workbook

# Dates before this are a typo (a two-digit year, a serial read as a date).
EARLIEST = date(2000, 1, 1)
# A period longer than this is not a billing period.
MAX_PERIOD_DAYS = 366

USAGE_FIELDS: tuple[Field, ...] = (
    Field(
        "account",
        "户号",
        (
            "用户编号",
            "客户编号",
            "电力户号",
            "燃气户号",
            "用电户号",
            "电表户号",
            "供电户号",
            "电力用户编号",
            "燃气用户号",
            "燃气卡号",
            "燃气用户编号",
            "用户号",
            "客户号",
            "账号",
        ),
        "code",
        max_length=64,
    ),
    Field(
        "month", "月份", ("年月", "用电月份", "用气月份", "账期", "抄表月份", "统计月份"), "date"
    ),
    Field("start", "起始日期", ("开始日期", "起始时间", "开始时间", "起日期", "起始日"), "date"),
    Field(
        "end",
        "截止日期",
        ("结束日期", "终止日期", "截止时间", "结束时间", "止日期", "截止日"),
        "date",
    ),
    Field(
        "amount",
        "用量",
        ("用电量", "电量", "kWh", "千瓦时", "用气量", "气量", "m³", "立方米", "本期用量"),
        "quantity",
    ),
    Field("read_on", "抄表日期", ("抄表时间", "读数日期", "抄表日"), "date"),
    Field(
        "reading", "表示数", ("表码", "读数", "本期示数", "本次读数", "表底数", "示数"), "quantity"
    ),
    Field("name", "户名", ("用户名称", "客户名称", "户主姓名", "姓名"), max_length=64),
    Field("address", "地址", ("用电地址", "用气地址", "住址"), max_length=255),
)
USAGE_SCHEMA = Schema("usage", USAGE_FIELDS)
LABELS = {f.name: f.label for f in USAGE_FIELDS}

# One row as it crosses from the child: where, the account as written, form, dates, amount.
UsageRow = tuple[str, int, str, str, date, date, float]


@dataclass
class UsageSheet:
    """A sheet with a usage header: its form and which column holds which field."""

    name: str
    header_row: int
    form: str  # period / reading
    columns: dict[str, str]  # field → column letter
    headers: dict[str, str]  # header as written → field
    ignored_columns: list[str]
    data_rows: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "header_row": self.header_row,
            "form": self.form,
            "columns": dict(self.headers),
            "ignored_columns": list(self.ignored_columns),
            "data_rows": self.data_rows,
        }


@dataclass
class UsageRead:
    """What the child returns: rows, sheets, issues, and rows skipped or refused."""

    rows: list[UsageRow] = field(default_factory=list)
    sheets: list[UsageSheet] = field(default_factory=list)
    issues: list[Problem] = field(default_factory=list)
    rejected: int = 0
    skipped: int = 0


@functools.cache  # a file has few distinct months (benchmarks/usage.py)
def month_bounds(day: date) -> tuple[date, date]:
    """First and last day of the day's month."""
    last = calendar.monthrange(day.year, day.month)[1]
    return day.replace(day=1), day.replace(day=last)


def read_usage(data: bytes, file_name: str, config: Any, today: date) -> UsageRead:
    """Read and clean a usage file in the limited child (see the module docstring)."""
    from imports.isolation import ChildLimits, run_isolated

    return run_isolated(
        read_usage_plain,
        data,
        file_name,
        ReadLimits.from_config(config),
        today,
        config.import_max_issues,
        limits=ChildLimits.from_config(config),
        file_name=file_name,
    )


def _form_of(columns: dict[str, str]) -> tuple[str | None, list[str]]:
    """The sheet's form and, when it has none, the columns it lacks."""
    if "read_on" in columns and "reading" in columns:
        return "reading", []
    if "amount" in columns and ("month" in columns or ("start" in columns and "end" in columns)):
        return "period", []
    if "read_on" in columns or "reading" in columns:
        missing = [LABELS[n] for n in ("read_on", "reading") if n not in columns]
    else:
        missing = []
        if "amount" not in columns:
            missing.append("用电量/用气量")
        if "month" not in columns and not ("start" in columns and "end" in columns):
            missing.append("月份（或起始日期和截止日期）")
    return None, missing


def read_usage_plain(
    data: bytes, file_name: str, limits: ReadLimits, today: date, max_issues: int
) -> UsageRead:
    """``read_usage`` in one process: what the child runs."""
    from heating.errors import Refused

    out = UsageRead()
    cap = IssueCap(max_issues)
    workbook = read_workbook(data, file_name, limits)
    cleaners: dict[str, Callable[[Any], Any]] = {f.name: clean.cleaner_for(f) for f in USAGE_FIELDS}
    found = False
    for sheet in workbook.sheets:
        if not sheet.visible:
            out.issues.append(Problem("note", "sheet_hidden", "隐藏的工作表已跳过。", sheet.name))
            continue
        header = find_header(sheet.head, sheet.merged, USAGE_SCHEMA)
        if header is None or "account" not in header.fields.values():
            out.issues.append(
                Problem("note", "sheet_no_header", "找不到户号和用量的表头，已跳过。", sheet.name)
            )
            continue
        found = True
        columns = {name: column_letter(c) for c, name in header.fields.items()}
        form, missing = _form_of(columns)
        if form is None:
            out.issues.append(
                Problem(
                    "error",
                    "column_missing",
                    f"工作表“{sheet.name}”缺少必需的列：{'、'.join(missing)}。"
                    "按月份用量须有 户号、月份（或起始日期、截止日期）、用电量/用气量；"
                    "按表示数须有 户号、抄表日期、表示数。",
                    sheet.name,
                )
            )
            continue
        info = UsageSheet(
            sheet.name,
            header.first_row + 1,
            form,
            columns,
            {header.labels[c]: name for c, name in header.fields.items()},
            list(header.ignored.values()),
        )
        out.sheets.append(info)
        wanted = (
            ("account", "read_on", "reading")
            if form == "reading"
            else ("account", "month", "start", "end", "amount")
        )
        picks = [(c, name) for c, name in header.fields.items() if name in wanted]
        for r, raw in enumerate(sheet.iter_rows()):
            if r < header.data_start:
                continue
            if skip_reason(raw) is not None or header.repeats(raw):
                out.skipped += 1
                continue
            info.data_rows += 1
            row = _row(sheet.name, r + 1, raw, picks, cleaners, columns, form, today)
            if isinstance(row, tuple):
                out.rows.append(row)
            else:
                out.rejected += 1
                for issue in row:
                    if cap.admit(issue):
                        out.issues.append(issue)
    if not found:
        raise Refused(
            f"文件“{file_name}”中找不到用量表头（前 20 行内应有“户号”以及“月份”“用电量/用气量”"
            "或“抄表日期”“表示数”等列名）。请按供电、燃气公司导出的明细整理后再上传。"
        )
    out.issues.extend(cap.summaries())
    return out


def _row(
    sheet: str,
    row: int,
    raw: list[Any],
    picks: list[tuple[int, str]],
    cleaners: dict[str, Callable[[Any], Any]],
    columns: dict[str, str],
    form: str,
    today: date,
) -> UsageRow | list[Problem]:
    """One cleaned row, or its issues (every problem of the row, never just the first)."""
    if form == "period" and len(picks) == 3 and len(raw) > max(c for c, _ in picks):
        # The common shape (account, month, amount) without a problem: no per-row closure.
        v = {name: cleaners[name](raw[c]) for c, name in picks if raw[c] != ""}
        month, amount, account = v.get("month"), v.get("amount"), v.get("account")
        if type(month) is tuple and type(amount) is float and type(account) is str and amount >= 0:
            start, end = month_bounds(month[0])
            if EARLIEST <= start <= today:
                return (sheet, row, account, "period", start, end, amount)
    issues: list[Problem] = []

    def problem(code: str, message: str, name: str, value: Any = None) -> None:
        issues.append(
            Problem(
                "error",
                code,
                message,
                sheet,
                row,
                columns.get(name),
                name,
                None if value is None else str(value)[:40],
            )
        )

    v: dict[str, Any] = {}
    for c, name in picks:
        value = raw[c] if c < len(raw) else ""
        if value == "" or value is None:
            continue
        cleaned = cleaners[name](value)
        if type(cleaned) is Problem:
            problem(cleaned.code, cleaned.message, name, value)
        else:
            v[name] = cleaned
    account = v.get("account")
    if account is None and not any(i.field == "account" for i in issues):
        problem("required", "户号为空，请填写供电/燃气公司的户号。", "account")
    if form == "reading":
        read_on, reading = v.get("read_on"), v.get("reading")
        if read_on is None and not any(i.field == "read_on" for i in issues):
            problem("required", "抄表日期为空，请填写。", "read_on")
        elif read_on is not None:
            if read_on[1] != "day":
                problem(
                    "invalid_date", "抄表日期应精确到日，如 2021-11-01。", "read_on", read_on[0]
                )
            _check_day(read_on[0], "抄表日期", "read_on", today, problem)
        if reading is None and not any(i.field == "reading" for i in issues):
            problem("required", "表示数为空，请填写。", "reading")
        elif reading is not None and reading < 0:
            problem("negative", "表示数不能为负数。", "reading", reading)
        if issues:
            return issues
        return (sheet, row, account, "reading", read_on[0], read_on[0], float(reading))
    amount = v.get("amount")
    if "month" in columns and ("month" in v or "start" not in columns):
        month = v.get("month")
        if month is None and not any(i.field == "month" for i in issues):
            problem("required", "月份为空，请填写，如 2021-11 或 2021年11月。", "month")
            start = end = None
        elif month is not None:
            start, end = month_bounds(month[0])
            _check_day(start, "月份", "month", today, problem)
        else:
            start = end = None
    else:
        start = v.get("start", (None,))[0]
        end = v.get("end", (None,))[0]
        for name, day, label in (("start", start, "起始日期"), ("end", end, "截止日期")):
            if day is None and not any(i.field == name for i in issues):
                problem("required", f"{label}为空，请填写，如 2021-11-01。", name)
            elif day is not None:
                _check_day(day, label, name, today, problem)
        if start is not None and end is not None:
            if end < start:
                problem("period_reversed", "截止日期早于起始日期，请核对。", "end", end)
            elif (end - start).days >= MAX_PERIOD_DAYS:
                problem(
                    "period_too_long",
                    "起止日期相隔超过一年，不是一个计费周期，请核对。",
                    "end",
                    end,
                )
    if amount is None and not any(i.field == "amount" for i in issues):
        problem("required", "用量为空，请填写（没有用量请填 0）。", "amount")
    elif amount is not None and amount < 0:
        problem("negative", "用量不能为负数。", "amount", amount)
    if issues:
        return issues
    return (sheet, row, account, "period", start, end, float(amount))  # type: ignore[return-value]


def _check_day(day: date, label: str, name: str, today: date, problem: Callable[..., None]) -> None:
    if day < EARLIEST:
        problem("date_out_of_range", f"{label} {day.isoformat()} 早于 2000 年，请核对。", name, day)
    elif day > today:
        problem("date_in_future", f"{label} {day.isoformat()} 晚于今天，请核对。", name, day)
