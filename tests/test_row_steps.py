"""The ledger's row steps, each alone: what a step returns for one row, without a file."""

from __future__ import annotations

import tracemalloc
from datetime import date

from imports import clean
from imports.fields import LEDGER_SCHEMA
from imports.header import find_header
from imports.issues import Problem
from imports.readers import RawSheet
from imports.row_steps import (
    NONE,
    Duplicates,
    SheetPlan,
    clean_cells,
    formula_problems,
    rule_problems,
    skip_reason_of,
    unfold_values,
)
from imports.validate import RowRules

HEADER = ["序号", "村", "户主姓名", "身份证号", "改造状态", "改造方式", "完工日期"]


def plan(formulas: set[tuple[int, int]] | None = None) -> SheetPlan:
    sheet = RawSheet("台账", True, head=[HEADER], formulas_without_value=formulas or set())
    header = find_header(sheet.head, None, LEDGER_SCHEMA)
    assert header is not None
    cleaners = {f.name: clean.cleaner_for(f) for f in LEDGER_SCHEMA.fields}
    return SheetPlan.of(sheet, header, cleaners, [])


def test_a_refused_cell_is_a_problem_naming_its_field_with_the_value_masked() -> None:
    values, problems = clean_cells(
        ["1", "南街", "张三", 1.4040519900101e17, "已完工", "", ""], plan()
    )
    assert values == {"village": "南街", "head_name": "张三", "status": "completed"}
    [problem] = problems
    assert (problem.severity, problem.code, problem.field) == (
        "error",
        "number_lost_digits",
        "id_number",
    )
    assert problem.value is not None and "*" in problem.value
    assert problem.sheet is None and problem.row is None  # placed by the pipeline, not here


def test_a_clean_row_allocates_no_problems() -> None:
    values, problems = clean_cells(["1", "南街", "张三", "", "未改造", "", ""], plan())
    assert problems is NONE
    assert values["status"] == "pending"


def test_a_repeated_header_row_is_skipped_and_a_household_is_not() -> None:
    p = plan()
    assert skip_reason_of(list(HEADER), p) == "repeated_header"
    assert skip_reason_of(["合计", "", "", "", "", "", ""], p) == "subtotal"
    assert skip_reason_of(["1", "南街", "张三", "", "未改造", "", ""], p) is None


def test_a_formula_without_its_value_is_an_error_on_its_field() -> None:
    p = plan({(4, 6)})
    [problem] = formula_problems(4, p)
    assert (problem.code, problem.field) == ("formula_no_value", "completed_on")
    assert formula_problems(5, p) == []


def test_unfolded_values_say_the_precision_the_exempt_reason_and_the_device() -> None:
    p = plan()
    raw = ["1", "南街", "张三", "", "空置", "", ""]
    values = {"status": "exempt", "completed_on": (date(2021, 6, 1), "month")}
    unfold_values(values, raw, p)
    assert values["completed_on"] == date(2021, 6, 1)
    assert values["completed_on_precision"] == "month"
    assert values["exempt_reason"] == "空置"
    raw = ["1", "南街", "张三", "", "已完工", "空气源热泵", ""]
    values = {"status": "completed", "route": "electric"}
    unfold_values(values, raw, p)
    assert values["device"] == "空气源热泵"


def test_a_blank_cell_already_refused_is_not_also_required() -> None:
    rules = RowRules(None, date(2024, 1, 15), set())  # type: ignore[arg-type]
    rules._extent = None
    refused = [Problem("error", "unknown_value", "…", field="status")]
    codes = [(p.code, p.field) for p in rule_problems({"head_name": "张三"}, rules, refused)]
    assert ("required", "status") not in codes
    codes = [(p.code, p.field) for p in rule_problems({"head_name": "张三"}, rules, NONE)]
    assert ("required", "status") in codes


def test_the_second_sighting_of_a_household_names_the_first() -> None:
    seen = Duplicates()
    assert seen.problems(7, "no:1", "台账", 3) == NONE
    assert seen.problems(8, "no:1", "台账", 4) == NONE  # another village
    [problem] = seen.problems(7, "no:1", "二组", 9)
    assert problem.code == "duplicate_household"
    assert "工作表“台账”第 3 行" in problem.message
    assert problem.field == "household_no" and "户号" in problem.message


def test_many_first_sightings_are_taken_at_once_or_not_at_all() -> None:
    seen = Duplicates()
    assert seen.take([(7, "no:1"), (8, "no:1"), ("新村", "no:2")], "台账", [3, 4, 5])
    assert seen.first_seen(8, "no:1") == ("台账", 4)
    # A repeat inside the block, or of an earlier row: nothing of the block is recorded.
    assert not seen.take([(7, "no:3"), (7, "no:3")], "二组", [6, 7])
    assert not seen.take([(7, "no:4"), ("新村", "no:2")], "二组", [8, 9])
    assert seen.first_seen(7, "no:3") is None and seen.first_seen(7, "no:4") is None
    assert seen.problems(7, "no:4", "二组", 8) == NONE  # the row steps take it from here
    [problem] = seen.problems("新村", "no:2", "二组", 9)
    assert "工作表“台账”第 5 行" in problem.message


def test_the_households_seen_cost_little_memory() -> None:
    """The child holds this for a whole 1M-row file beside the rows the app holds (issue 17).

    ≈ 64 bytes a household besides its key's text; the (scope, key) → (sheet, row)
    map it replaced cost ≈ 173.
    """
    n = 20_000
    keys = [f"no:H{i:07d}" for i in range(n)]
    tracemalloc.start()
    try:
        seen = Duplicates()
        for start in range(0, n, 5000):
            pairs = [(1 + i % 40, keys[i]) for i in range(start, start + 5000)]
            assert seen.take(pairs, "台账", list(range(start + 3, start + 5003)))
            del pairs
        used, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert used / n < 100


def test_a_duplicate_names_the_key_column_and_field() -> None:
    seen = Duplicates()
    columns = {"id_number": "E", "head_name": "C", "address": "F"}
    seen.problems(7, "id:x", "台账", 3, "id_hash", columns)
    [problem] = seen.problems(7, "id:x", "台账", 5, "id_hash", columns)
    assert problem.field == "id_number"
    assert "身份证号（E 列）与本表第 3 行相同" in problem.message
    seen.problems(7, "name:x", "台账", 6, "name_address", columns)
    [weak] = seen.problems(7, "name:x", "台账", 8, "name_address", columns)
    assert weak.field == "head_name"
    assert "户主姓名（C 列）和住址（F 列）" in weak.message
