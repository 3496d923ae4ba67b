"""The row steps' fast path (imports.plain_rows) gives exactly what the row steps give.

A ledger of every kind of row a clerk sends — plain households, refused
cells, rules that fire, blanks, subtotals, footers, repeated headers,
duplicates within and across blocks, numbers, dates and booleans where text
belongs — is parsed twice: with the fast path and with every row through the
row steps.  Rows, values, keys, places, problems and counts must be equal.
"""

from __future__ import annotations

import random
from datetime import date, datetime
from typing import Any

import pytest

from heating.config import load_config
from imports import clean
from imports.fields import LEDGER_SCHEMA
from imports.header import find_header
from imports.ledger_references import ledger_references
from imports.parsed import ParsedLedger
from imports.pipeline import PROGRESS_EVERY, parse_ledger_file
from imports.plain_rows import PlainRows, id_numbers_valid, none_skipped
from imports.readers import RawSheet, ReadLimits
from imports.row_steps import SheetPlan
from imports.validate import check_id_number
from tests.support.ledgers import bad_id_number, id_number, workbook_xlsx

TODAY = date(2024, 1, 15)
HEADER = [
    "序号",
    "村",
    "户号",
    "户主姓名",
    "身份证号",
    "联系电话",
    "常住人口",
    "改造状态",
    "改造方式",
    "设备类型",
    "完工日期",
    "验收日期",
    "设备补贴（元）",
    "经度",
    "纬度",
    "联系人",
    "备注",
]
CHOICES: dict[str, list[Any]] = {
    "村": ["南街村", "南街", "东街村委会", " 东街 ", "未知村", "", "上村", 12.0],
    "户号": ["", "", "Ａ００１", "b 02", 123.0, "7.0", "1.4E+17", "X" * 70],
    "户主姓名": ["张三", "李四", "", "王\n五", "赵" * 70, 3.0, True],
    "身份证号": ["", "bad", 1.4040519900101e17, "14040519900101123", "140405900101123"],
    "联系电话": ["", "13800000000", 13900000000.0, "138 0000 0000"],
    "常住人口": ["", 3.0, -1.0, 2.5, "三", "4人", True, 1],
    "改造状态": ["已完工", "已完工", "未改造", "空置", "无需改造", "是", "乱写", "", True, 1.0],
    "改造方式": ["煤改电", "空气源热泵", "集中供热", "", "乱写", "电"],
    "设备类型": ["", "", "燃气壁挂炉"],
    "完工日期": ["", "2021-06-30", "2021.06", 44377.0, "2099-01-01", "昨天", datetime(2021, 5, 1)],
    "验收日期": ["", "", "2021-07-01", "2021-01-01", 1.0],
    "设备补贴（元）": ["", 24000.0, -5.0, "1,200元", "abc", 24000, True],
    "经度": ["", "", 112.805, 112.9, "abc"],
    "纬度": ["", "", 36.305, 36.4],
    "联系人": ["", "张", 5.0, " 李 "],
    "备注": ["", "", "已回访", "x" * 2100],
}
ODD_ROWS = [
    [],  # blank
    ["合计", "", "", 12.0],
    ["", "小计："],
    ["填表人：张三"],
    ["注：本表由村委会填写"],
    HEADER,  # repeated header
    [5.0],  # a 序号 alone: blank once cleaned
]


def household(n: int, rng: random.Random) -> list[Any]:
    """Mostly plain households (as the benchmark's), one cell in 40 drawn from the odd values."""
    plain = {
        "序号": float(n),
        "村": ["南街村", "东街村委会"][n % 2],
        "户号": f"H{n:05d}",
        "户主姓名": f"户主{n}",
        "身份证号": id_number(n),
        "联系电话": f"138{n:08d}",
        "常住人口": float(1 + n % 6),
        "改造状态": ["已完工", "已验收", "未改造", "施工中"][n % 4],
        "改造方式": ["煤改电", "煤改气", "集中供热", "生物质"][n % 4] if n % 4 != 2 else "",
        "设备类型": "空气源热泵" if n % 3 == 0 else "",
        "完工日期": f"2021-{1 + n % 12:02d}-{1 + n % 28:02d}" if n % 4 < 2 else "",
        "验收日期": "2021-12-31" if n % 4 == 1 else "",
        "设备补贴（元）": 24000.0 if n % 4 < 2 else "",
        "经度": "",
        "纬度": "",
        "联系人": "",
        "备注": "",
    }
    row = []
    for column in HEADER:
        value = plain[column]
        if rng.random() < 1 / 40:
            value = rng.choice(CHOICES.get(column, [value]))
        row.append(value)
    if rng.random() < 0.02:  # an ID number with a wrong check digit, or a 户号 seen before
        row[HEADER.index("身份证号")] = bad_id_number(n)
    if rng.random() < 0.02:
        row[HEADER.index("户号")] = f"H{max(0, n - rng.randrange(1, 6000)):05d}"
    if rng.random() < 0.03:
        row[HEADER.index("户号")] = ""  # keyed by the ID number, or weakly by name + address
    return row


def ledger(rows: int, seed: int) -> bytes:
    rng = random.Random(seed)
    body: list[list[Any]] = [["麟绛街道清洁取暖改造台账"], HEADER]
    for n in range(rows):
        body.append(household(n, rng) if rng.random() > 0.02 else list(rng.choice(ODD_ROWS)))
        if n % (rows // len(ODD_ROWS)) == 7:  # each odd row at least once
            body.append(list(ODD_ROWS[n // (rows // len(ODD_ROWS)) % len(ODD_ROWS)]))
    return workbook_xlsx(("台账", body), ("第二页", [HEADER, *body[2:40]]))


def as_data(parsed: ParsedLedger) -> dict[str, Any]:
    return {
        "rows": [
            (
                r.sheet,
                r.row,
                r.values,
                r.columns,
                r.extra,
                r.village_id,
                r.township_code,
                r.key,
                r.key_kind,
                [i.as_json() for i in r.issues],
            )
            for r in parsed.rows
        ],
        "issues": [i.as_json() for i in parsed.issues],
        "skipped": parsed.skipped_by_reason,
        "sheets": [s.as_json() for s in parsed.sheets],
    }


@pytest.mark.parametrize(("rows", "seed"), [(300, 1), (PROGRESS_EVERY + 700, 2)])
def test_the_fast_path_gives_what_the_row_steps_give(runtime, tiny_district, rows, seed):
    data = ledger(rows, seed)
    config = load_config(environ={})
    with runtime.session() as session:
        references = ledger_references(session, config, "140405001", TODAY)
    limits = ReadLimits.from_config(config)
    fast = parse_ledger_file(data, "台账.xlsx", references, limits)
    slow = parse_ledger_file(data, "台账.xlsx", references, limits, plain_rows=False)
    assert as_data(fast) == as_data(slow)
    rejected = sum(1 for r in fast.rows if r.rejected)
    assert 0 < rejected < len(fast.rows) // 2  # both kinds of row were there
    assert {"blank", "subtotal", "footer", "repeated_header"} <= set(fast.skipped_by_reason)


def sheet_plan(header: list[str]) -> SheetPlan:
    sheet = RawSheet("台账", True, head=[header])
    match = find_header(sheet.head, None, LEDGER_SCHEMA)
    assert match is not None
    cleaners = {f.name: clean.cleaner_for(f) for f in LEDGER_SCHEMA.fields}
    return SheetPlan.of(sheet, match, cleaners, [])


def test_plain_rows_take_the_fast_path_and_a_refused_cell_does_not(runtime, tiny_district):
    config = load_config(environ={})
    with runtime.session() as session:
        references = ledger_references(session, config, "140405001", TODAY)
    plain = PlainRows(references.index, references.salt, references.rules)
    plan = sheet_plan(["序号", "村", "户号", "户主姓名", "改造状态", "改造方式"])
    raws = [
        [1.0, "南街村", "A1", "张三", "施工中", "煤改电"],
        [2.0, "南街村", "A2", "李四", "乱写", "煤改电"],  # an unknown status: the row steps
        [3.0, "东街", "A3", "王五", "未改造", ""],
    ]
    assert none_skipped(raws, plan)
    block = plain.block(raws, [3, 4, 5], plan, {})
    first, second, third = block.rows
    assert second is None and block.pairs[1] is None
    assert first is not None and third is not None
    assert dict(zip(first[2], first[3], strict=True)) == {
        "village": "南街村",
        "household_no": "A1",
        "head_name": "张三",
        "status": "in_progress",
        "route": "electric",
    }
    assert first[9:11] == ("\x00no", "household_no") and block.pairs[0][1] == "no:A1"


def test_skipped_rows_are_left_to_the_row_steps():
    plan = sheet_plan(["序号", "村", "户主姓名", "改造状态"])
    assert none_skipped([[1.0, "南街", "张三", "未改造"]], plan)
    assert not none_skipped([[1.0, "南街", "张三", "未改造"], ["合计", "", "", ""]], plan)
    assert not none_skipped([["填表人：张三", "", "", ""]], plan)
    assert not none_skipped([["", "南街", "张三", "未改造"]], plan)  # maybe blank
    assert not none_skipped([[1.0, "村", "户主姓名", "改造状态"]], plan)  # a repeated header


@pytest.mark.parametrize(
    "value",
    [
        id_number(7),
        bad_id_number(7),
        id_number(8)[:-1] + "X",
        "14040519900101123",
        "140405900101123",
        "1404051990010112３",
        "abcdefghijklmnopqr",
        "14040519900101100",
    ],
)
def test_id_numbers_are_judged_as_check_id_number_judges_them(value):
    column = [id_number(n) for n in range(20)] + [value, None]
    assert id_numbers_valid(column) == [True] * 20 + [check_id_number(value) is None, True]


def test_a_true_cell_is_not_cleaned_as_the_number_one_seen_before_it():
    """1.0 == True as dict keys: the cleaners' memos keep types apart, in either order."""
    residents = clean.cleaner_for(LEDGER_SCHEMA.by_name["residents"])
    assert residents(1.0) == 1
    assert residents(True).code == "not_a_number"
    status = clean.cleaner_for(LEDGER_SCHEMA.by_name["status"])
    assert status(True).code == "unknown_value"
    assert status(1.0).code == "unknown_value"
    subsidy = clean.cleaner_for(LEDGER_SCHEMA.by_name["device_subsidy"])
    assert subsidy(True).code == "not_a_number"
    assert (str(subsidy(1)), str(subsidy(1.0))) == ("1", "1.00")  # as without a memo
