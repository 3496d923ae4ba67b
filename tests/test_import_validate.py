"""Validating ledger rows: ID numbers, cross-field rules, villages, duplicates, masking."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import event

from heating.config import load_config
from heating.models import HeatSource, Township, Village
from heating.names import village_base
from imports.issues import CODES
from imports.parsed import ParsedLedger
from imports.pipeline import parse_ledger
from imports.validate import check_id_number, id_check_digit
from tests.support.ledgers import workbook_xlsx

TODAY = date(2024, 1, 15)
GOOD_ID = "140405199001011234"  # valid GB 11643 check digit
BAD_ID = "140405199001011235"
HEADER = ["乡镇", "村", "户号", "户主姓名", "身份证号", "联系电话", "改造状态", "改造方式"]


def ledger(header: list[str], *rows: list) -> bytes:
    return workbook_xlsx(("台账", [header, *rows]))


@pytest.fixture
def parse(runtime, tiny_district):
    def run(data: bytes, township: str | None = "140405001", progress=None) -> ParsedLedger:
        config = load_config(environ={})
        with runtime.session() as session:
            parsed = parse_ledger(
                data,
                "台账.xlsx",
                session=session,
                config=config,
                township_code=township,
                today=TODAY,
                progress=progress,
            )
        for issue in parsed.all_issues():
            assert issue.code in CODES, issue.code  # every code is documented
            assert issue.severity in ("error", "warning", "note")
        return parsed

    return run


def issue_of(parsed: ParsedLedger, code: str, row_index: int = 0):
    found = [i for i in parsed.rows[row_index].issues if i.code == code]
    assert found, [(i.code, i.message) for i in parsed.rows[row_index].issues]
    return found[0]


# --------------------------------------------------------------------------
# ID numbers
# --------------------------------------------------------------------------


def test_check_digit_rule_of_gb11643():
    assert id_check_digit("11010519491231002") == "X"
    assert check_id_number("11010519491231002X") is None
    assert check_id_number(GOOD_ID) is None
    assert check_id_number(BAD_ID).code == "id_number_checksum"
    assert check_id_number("1404051990010112").code == "id_number_format"
    assert check_id_number("14040519900101123Y").code == "id_number_format"


def test_bad_check_digit_is_an_error_with_the_number_masked(parse):
    parsed = parse(
        ledger(HEADER, ["麟绛街道", "南街", "A1", "张三", BAD_ID, "13912345678", "未改造", None])
    )
    issue = issue_of(parsed, "id_number_checksum")
    assert (issue.severity, issue.sheet, issue.row, issue.column, issue.field) == (
        "error",
        "台账",
        2,
        "E",
        "id_number",
    )
    assert issue.value == "140405********1235"
    assert "校验" in issue.message
    assert parsed.rows[0].rejected


def test_fifteen_digit_old_id_is_accepted_with_a_warning(parse):
    parsed = parse(
        ledger(HEADER, ["麟绛街道", "南街", "A1", "张三", "140405900101123", None, "未改造", None])
    )
    issue = issue_of(parsed, "id_number_old")
    assert issue.severity == "warning"
    assert not parsed.rows[0].rejected
    assert parsed.rows[0].values["id_number"] == "140405900101123"


def test_no_full_id_number_or_phone_ever_appears_in_issues(parse):
    rows = [
        ["麟绛街道", "南街", None, "张三", BAD_ID, "13912345678", "已完工", None],
        ["麟绛街道", "南街", None, "张三", GOOD_ID, "13912345678", "未改造", None],
        ["麟绛街道", "南街", None, "李四", GOOD_ID, "13912345678" * 3, "未改造", None],
    ]
    parsed = parse(ledger(HEADER, *rows))
    dumped = json.dumps([i.as_json() for i in parsed.all_issues()], ensure_ascii=False)
    assert {"id_number_checksum", "duplicate_household", "text_too_long"} <= {
        i.code for i in parsed.all_issues()
    }
    for secret in (BAD_ID, GOOD_ID, "13912345678"):
        assert secret not in dumped


def test_id_number_keys_the_household_by_salted_hash(parse):
    parsed = parse(
        ledger(HEADER, ["麟绛街道", "南街", None, "张三", GOOD_ID, None, "未改造", None])
    )
    row = parsed.rows[0]
    assert row.key_kind == "id_hash" and GOOD_ID not in row.key
    assert not row.issues


# --------------------------------------------------------------------------
# Cross-field rules
# --------------------------------------------------------------------------

RULE_HEADER = [
    "村",
    "户号",
    "户主姓名",
    "改造状态",
    "改造方式",
    "完工日期",
    "验收日期",
    "计划年度",
    "常住人口",
    "设备补贴",
    "运行补贴",
    "无需改造原因",
    "经度",
    "纬度",
    "热源",
]


def rule_row(**over) -> list:
    base = dict(
        村="南街",
        户号="A1",
        户主姓名="张三",
        改造状态="已完工",
        改造方式="煤改电",
        完工日期="2021-06-30",
        验收日期=None,
        计划年度=2021,
        常住人口=3,
        设备补贴=100,
        运行补贴=50,
        无需改造原因=None,
        经度=None,
        纬度=None,
        热源=None,
    )
    base.update(over)
    return [base[h] for h in RULE_HEADER]


@pytest.mark.parametrize(
    ("over", "code", "severity", "column"),
    [
        (dict(户主姓名=None), "required", "error", "C"),
        (dict(改造状态=None), "required", "error", "D"),
        (dict(改造状态="已改好了吧"), "unknown_value", "error", "D"),
        (dict(改造方式=None), "route_required", "error", "E"),
        (dict(改造状态="施工中", 改造方式=None, 完工日期=None), "route_required", "error", "E"),
        (
            dict(改造状态="无需改造", 改造方式=None, 完工日期=None),
            "exempt_reason_required",
            "error",
            "L",
        ),
        (dict(完工日期=None), "completed_on_missing", "warning", "F"),
        (dict(完工日期="2024-02-01"), "date_in_future", "error", "F"),
        (dict(验收日期="2021-06-01"), "accepted_before_completed", "error", "G"),
        (dict(计划年度=2015), "out_of_range", "error", "H"),
        (dict(计划年度=2036), "out_of_range", "error", "H"),
        (dict(常住人口=-1), "negative", "error", "I"),
        (dict(常住人口=2.5), "not_an_integer", "error", "I"),
        (dict(设备补贴=-5), "negative", "error", "J"),
        (dict(运行补贴="很多"), "not_a_number", "error", "K"),
        (dict(经度=112.805), "coordinates_incomplete", "error", "N"),
        (dict(经度=116.4, 纬度=39.9), "coordinates_outside", "error", "M"),
        (dict(经度=36.305, 纬度=112.805), "coordinates_outside", "error", "M"),
        (dict(改造方式="集中供热", 热源="不存在的热电厂"), "heat_source_unknown", "warning", "O"),
    ],
)
def test_each_rule_reports_its_code_and_place(parse, runtime, over, code, severity, column):
    with runtime.session() as session:
        session.add(HeatSource(name="屯留热电厂", kind="chp"))
    parsed = parse(ledger(RULE_HEADER, rule_row(**over)))
    issue = issue_of(parsed, code)
    assert (issue.severity, issue.row, issue.column) == (severity, 2, column)
    assert issue.message and issue.message == issue.message.strip()
    assert parsed.rows[0].rejected == (severity == "error")


def test_a_valid_row_passes_every_rule(parse, runtime):
    with runtime.session() as session:
        session.add(HeatSource(name="屯留热电厂", kind="chp"))
    row = rule_row(
        改造方式="集中供热", 热源="屯留热电厂", 验收日期="2021-07-01", 经度=112.805, 纬度=36.305
    )
    parsed = parse(ledger(RULE_HEADER, row))
    assert not parsed.rows[0].issues
    v = parsed.rows[0].values
    assert (v["lon"], v["lat"], v["accepted_on"]) == (112.805, 36.305, date(2021, 7, 1))


def test_every_problem_of_a_row_is_collected(parse):
    row = rule_row(户主姓名=None, 改造方式=None, 计划年度=1999, 常住人口=-2, 经度=112.8)
    parsed = parse(ledger(RULE_HEADER, row))
    found = {i.code for i in parsed.rows[0].issues}
    assert {
        "required",
        "route_required",
        "out_of_range",
        "negative",
        "coordinates_incomplete",
    } <= found


def test_vacant_or_demolished_as_status_fills_the_reason(parse):
    parsed = parse(
        ledger(
            RULE_HEADER,
            rule_row(改造状态="空置", 改造方式=None, 完工日期=None),
            rule_row(户号="A2", 改造状态="拆迁", 改造方式=None, 完工日期=None),
        )
    )
    assert [(r.values["status"], r.values["exempt_reason"]) for r in parsed.rows] == [
        ("exempt", "空置"),
        ("exempt", "拆迁"),
    ]
    assert all(not r.issues for r in parsed.rows)


def test_coordinates_are_not_checked_when_no_boundaries_are_loaded(parse, runtime):
    with runtime.session() as session:
        for v in session.query(Village):
            v.geometry = None
    parsed = parse(ledger(RULE_HEADER, rule_row(经度=116.4, 纬度=39.9)))
    assert not parsed.rows[0].issues


@pytest.mark.parametrize(
    ("word", "status", "route", "operation"),
    [
        ("未完成", "pending", None, None),
        ("拟改造", "planned", "电代煤", None),
        ("在建", "in_progress", "燃气壁挂炉", None),
        ("是", "completed", "热电联产", "正常"),
        ("验收合格", "accepted", "生物质炉具", "散煤复烧"),
        ("已完成", "completed", "地热能", "设备弃用（拆除）"),
        ("完成", "completed", "光热", "运行不稳定"),
    ],
)
def test_value_synonyms(parse, word, status, route, operation):
    header = ["村", "户号", "户主姓名", "状态", "技术路线", "回头看情况"]
    parsed = parse(ledger(header, ["南街", "A1", "张三", word, route, operation]))
    v = parsed.rows[0].values
    assert v["status"] == status
    expected_route = {
        None: None,
        "电代煤": "electric",
        "燃气壁挂炉": "gas",
        "热电联产": "district",
        "生物质炉具": "biomass",
        "地热能": "geothermal",
        "光热": "solar",
    }[route]
    assert v.get("route") == expected_route
    assert (
        v.get("operation")
        == {
            None: None,
            "正常": "normal",
            "散煤复烧": "coal_again",
            "设备弃用（拆除）": "abandoned",
            "运行不稳定": "unstable",
        }[operation]
    )


# --------------------------------------------------------------------------
# Duplicates
# --------------------------------------------------------------------------


def test_second_occurrence_of_a_household_is_the_error_and_names_the_first(parse):
    data = workbook_xlsx(
        ("一组", [HEADER, ["麟绛街道", "南街", "A1", "张三", None, None, "未改造", None]]),
        (
            "二组",
            [
                ["二组台账"],
                HEADER,
                ["麟绛街道", "东街", "A1", "王五", None, None, "未改造", None],  # other village
                ["麟绛街道", "南街村委会", "Ａ1", "张三", None, None, "未改造", None],
            ],
        ),
    )
    parsed = parse(data)
    assert [r.rejected for r in parsed.rows] == [False, False, True]
    dup = issue_of(parsed, "duplicate_household", 2)
    assert (dup.sheet, dup.row) == ("二组", 4)
    # The key's column and field: the 户号 cell makes the two rows one household.
    assert (dup.column, dup.field, dup.value) == ("C", "household_no", "A1")
    [listed] = [i for i in parsed.listed_issues() if i.code == "duplicate_household"]
    assert listed.household == "户号 A1 · 张*"
    assert "一组" in dup.message and "第 2 行" in dup.message


def test_duplicate_by_id_number_and_by_name_and_address(parse):
    header = ["村", "户主姓名", "身份证号", "住址", "改造状态"]
    parsed = parse(
        ledger(
            header,
            ["南街", "张三", GOOD_ID, "1号", "未改造"],
            ["南街", "张三丰", GOOD_ID, "2号", "未改造"],
            ["南街", "李四", None, "3 号", "未改造"],
            ["南街", "李四", None, "3号", "未改造"],
        )
    )
    assert [r.rejected for r in parsed.rows] == [False, True, False, True]
    by_id = issue_of(parsed, "duplicate_household", 1)
    assert "第 2 行" in by_id.message
    assert (by_id.column, by_id.field) == ("C", "id_number")
    assert by_id.value is not None and "*" in by_id.value  # masked
    by_name = issue_of(parsed, "duplicate_household", 3)
    assert (by_name.column, by_name.field) == ("B", "head_name")
    assert "住址（D 列）" in by_name.message
    assert issue_of(parsed, "key_weak", 2).severity == "warning"


# --------------------------------------------------------------------------
# Villages and townships
# --------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["南街村委会", "南街村", "南街", " 南 街 村 ", "南街村民委员会"])
def test_village_name_suffixes(parse, tiny_district, name):
    parsed = parse(ledger(["村", "户号", "户主姓名", "改造状态"], [name, "A1", "张三", "未改造"]))
    assert parsed.rows[0].village_id == tiny_district["140405001201"]
    assert not parsed.rows[0].issues


def test_community_names(runtime, parse):
    with runtime.session() as session:
        t = session.query(Township).filter_by(code="140405001").one()
        session.add(Village(code="140405001003", name="常村社区居委会", township_id=t.id))
    assert village_base("常村社区居委会") == village_base("常村社区")
    parsed = parse(
        ledger(
            ["村(社区)", "户号", "户主姓名", "改造状态"],
            ["常村社区", "A1", "张三", "未改造"],
            ["常村社区居委会", "A2", "李四", "未改造"],
        )
    )
    assert {r.village_id for r in parsed.rows} != {None}
    assert len({r.village_id for r in parsed.rows}) == 1


def test_unknown_village_is_an_error_naming_the_closest(parse):
    parsed = parse(
        ledger(["村", "户号", "户主姓名", "改造状态"], ["南大街", "A1", "张三", "未改造"])
    )
    issue = issue_of(parsed, "village_unknown")
    assert (issue.column, issue.field, issue.value) == ("A", "village", "南大街")
    assert "南街村委会" in issue.message
    assert parsed.rows[0].village_id is None and parsed.rows[0].rejected


def test_a_village_is_never_created(parse, runtime):
    with runtime.session() as session:
        before = session.query(Village).count()
    parse(ledger(["村", "户号", "户主姓名", "改造状态"], ["新村", "A1", "张三", "未改造"]))
    with runtime.session() as session:
        assert session.query(Village).count() == before


def test_row_of_another_township_is_an_error(parse):
    parsed = parse(
        ledger(HEADER, ["上村镇", "上村", "A1", "张三", None, None, "未改造", None]),
        township="140405001",
    )
    issue = issue_of(parsed, "township_mismatch")
    assert "上村镇" in issue.message and "麟绛街道" in issue.message
    assert (issue.column, issue.field) == ("A", "township")


def test_village_of_another_township_by_name_or_code(parse):
    header = ["村", "村代码", "户号", "户主姓名", "改造状态"]
    parsed = parse(
        ledger(
            header,
            ["上村", None, "A1", "张三", "未改造"],
            [None, "140405101201", "A2", "李四", "未改造"],
        )
    )
    assert issue_of(parsed, "village_unknown", 0)
    assert issue_of(parsed, "village_code_mismatch", 1).column == "B"


@pytest.mark.parametrize(
    ("code", "expected"),
    [("1404050012", "village_code_format"), ("140405001299", "village_code_unknown")],
)
def test_bad_village_codes(parse, code, expected):
    parsed = parse(
        ledger(["村代码", "户号", "户主姓名", "改造状态"], [code, "A1", "张三", "未改造"])
    )
    assert issue_of(parsed, expected).field == "village_code"


def test_village_code_wins_over_a_disagreeing_name_with_a_warning(parse, tiny_district):
    parsed = parse(
        ledger(
            ["村", "村代码", "户号", "户主姓名", "改造状态"],
            ["东街", "140405001201", "A1", "张三", "未改造"],
        )
    )
    assert parsed.rows[0].village_id == tiny_district["140405001201"]
    assert issue_of(parsed, "village_name_mismatch").severity == "warning"


def test_without_uploader_township_the_row_township_decides(parse, tiny_district):
    parsed = parse(
        ledger(
            HEADER,
            ["上村镇", "上村", "A1", "张三", None, None, "未改造", None],
            ["麟绛", "南街", "A1", "李四", None, None, "未改造", None],
            [None, "下村", "A2", "王五", None, None, "未改造", None],  # unique name district-wide
            ["乱写镇", "南街", "A3", "赵六", None, None, "未改造", None],
        ),
        township=None,
    )
    got = [(r.village_id, r.township_code) for r in parsed.rows[:3]]
    assert got == [
        (tiny_district["140405101201"], "140405101"),
        (tiny_district["140405001201"], "140405001"),
        (tiny_district["140405101202"], "140405101"),
    ]
    assert issue_of(parsed, "township_not_found", 3)


# --------------------------------------------------------------------------
# Performance shape and progress
# --------------------------------------------------------------------------


def test_no_database_query_per_row_and_progress_is_reported(parse, runtime):
    rows = [
        ["麟绛街道", ("南街", "东街")[i % 2], f"A{i}", f"户主{i}", None, None, "未改造", None]
        for i in range(12000)
    ]
    data = ledger(HEADER, *rows)
    statements: list[str] = []

    def count(*_args) -> None:
        statements.append("x")

    calls: list[tuple[int, int]] = []
    event.listen(runtime.engine, "before_cursor_execute", count)
    try:
        parsed = parse(data, progress=lambda done, total: calls.append((done, total)))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", count)
    assert len(parsed.rows) == 12000 and not parsed.rejected
    assert len(statements) < 15
    assert len(calls) >= 3 and calls[-1][0] == calls[-1][1]
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_an_unknown_status_word_is_one_error_not_also_a_blank_cell(parse):
    parsed = parse(ledger(RULE_HEADER, rule_row(改造状态="搞定了")))
    on_status = [(i.code, i.column) for i in parsed.rows[0].issues if i.field == "status"]
    assert on_status == [("unknown_value", "D")]
