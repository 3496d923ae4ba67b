"""The report's totals agree: with its own rows, across sheets, and with `heating coverage --json`.

Issue 15: 总体情况's total gap and 未达标清单's count and gap must be the same
definition; villages that fail the per-village 100% rule are listed apart from
rural villages below 80% (context: rural is judged on its total).
``heating.report.reconcile`` runs on every workbook ``write_workbook`` builds
(so on every report of every test); these tests show it can fail, and
recompute the totals independently.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest
from openpyxl import Workbook

from heating.report import build_report
from heating.report.reconcile import ReportDisagrees, check_sheets, check_sums, ensure_agrees
from heating.report.workbook import Column, Row, Table, write_table
from heating.runtime import Runtime
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_many
from tests.support.report import read_table

SPRING = datetime(2021, 5, 1)  # ledger date of every household here (before the 2021 cut-off)


@pytest.fixture
def rural_meets(runtime: Runtime, tiny_district: dict[str, int]) -> dict[str, int]:
    """Rural meets 80% in total (35 of 40) although 上村 is at 75%; 南街 fails 100% by one."""
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[NANJIE], 9, "completed", at=SPRING)
        add_many(s, ids[NANJIE], 1, "pending", at=SPRING)
        add_many(s, ids[DONGJIE], 8, "accepted", at=SPRING)
        add_many(s, ids[SHANGCUN], 15, "completed", at=SPRING)
        add_many(s, ids[SHANGCUN], 5, "pending", at=SPRING)
        add_many(s, ids[XIACUN], 20, "completed", at=SPRING)
    return ids


def report(runtime: Runtime) -> openpyxl.Workbook:
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, picture=False)
    return openpyxl.load_workbook(io.BytesIO(built.content))


def test_failing_list_separates_the_villages_that_decide_from_rural_context(
    runtime: Runtime, rural_meets: dict[str, int]
) -> None:
    wb = report(runtime)
    overview = {r["区域类别"]: r for r in read_table(wb["总体情况"], "区域类别")}
    assert (overview["农村地区"]["差距户数"], overview["农村地区"]["是否达标"]) == (0, "达标")
    assert overview["县城建成区"]["差距户数"] == 1
    assert overview["合计"]["差距户数"] == 1

    deciding = read_table(wb["未达标清单"], "序号")
    assert [(r["村代码"], r["户数|差距"]) for r in deciding if r["村代码"]] == [(NANJIE, 1)]
    assert [r["村名称"] for r in deciding if not r["村代码"]] == [
        "县城建成区小计（1 个村）",
        "合计（1 个村）",
    ]
    assert deciding[-1]["户数|差距"] == overview["合计"]["差距户数"]

    context = read_table(wb["未达标清单"], "序号", occurrence=2)
    assert [(r["村代码"], r["户数|距目标户数"]) for r in context] == [(SHANGCUN, 1)]
    (rural,) = read_table(wb["未达标清单"], "区域类别")
    assert (rural["低于目标的村数"], rural["类别合计|类别差距"], rural["是否达标"]) == (
        1,
        0,
        "达标",
    )
    notes = [c.value for c in wb["未达标清单"]["A"] if isinstance(c.value, str)]
    assert any("共 1 个村未达到 100%，差距合计 1 户" in n for n in notes)


def test_report_totals_agree_with_its_rows_and_with_coverage_json(
    run_cli, runtime: Runtime, rural_meets: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "report.xlsx"
    result = run_cli("report", "--year", "2021", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert (outcome["failing_villages"], outcome["below_target_villages"]) == (1, 1)
    wb = openpyxl.load_workbook(out)
    assert check_sheets(wb) == []

    def cli(by: str) -> list[dict]:
        args = ("coverage", "--by", by, "--as-of", "2021-10-31", "--json")
        return json.loads(run_cli(*args).stdout)

    categories = cli("category")
    overview = read_table(wb["总体情况"], "区域类别")
    assert [r["区域类别"] for r in overview] == [c["name"] for c in categories]
    for line, c in zip(overview, categories, strict=True):
        assert (line["户数|应改造"], line["户数|已完成"], line["差距户数"]) == (
            c["required"],
            c["clean"],
            c["gap"],
        )

    # The overview recomputed from the report's own village rows.
    villages = read_table(wb["分村"], "村代码")
    sums: Counter[tuple[str, str]] = Counter()
    for v in villages:
        for key in ("户数|应改造", "户数|已完成"):
            sums[(v["区域类别"], key)] += v[key]
            sums[("合计", key)] += v[key]
    for line in overview:
        for key in ("户数|应改造", "户数|已完成"):
            assert line[key] == sums[(line["区域类别"], key)]
    by_village = {v["key"]: v for v in cli("village")}
    assert {v["村代码"]: v["差距户数"] for v in villages} == {
        k: v["gap"] for k, v in by_village.items()
    }
    failing = [v["key"] for v in by_village.values() if v["meets"] is False and v["target"] == 1]
    deciding = read_table(wb["未达标清单"], "序号")
    assert [r["村代码"] for r in deciding if r["村代码"]] == failing
    assert deciding[-1]["户数|差距"] == sum(c["gap"] for c in categories if c["target"] == 1)

    townships = read_table(wb["分乡镇"], "乡镇代码")
    assert [(t["乡镇代码"], t["户数|已完成"]) for t in townships[:-1]] == [
        (t["key"], t["clean"]) for t in cli("township")
    ]


def test_check_sums_finds_a_total_that_is_not_the_sum() -> None:
    wb = Workbook()
    ws = wb.active
    table = Table(
        "试算",
        [Column("名称"), Column("户数", "int"), Column("差距", "int", sums=False)],
        [
            Row(["甲", 3, 1]),
            Row(["乙", 4, 1]),
            Row(["小计", 7, 0], total=True),
            Row(["丙", 5, 0]),
            Row(["合计", 13, 2], total=True),  # 3 + 4 + 5 = 12
            Row(["剩余", 99, 0], total=True),  # emphasis only: not a 合计/小计 row
        ],
    )
    write_table(ws, table)
    problems = check_sums(wb)
    assert problems == ["Sheet「试算」合计行的户数 13 ≠ 明细之和 12"]
    with pytest.raises(ReportDisagrees, match="合计行的户数 13"):
        ensure_agrees(wb)


def test_check_sheets_finds_a_village_cell_that_disagrees(
    runtime: Runtime, rural_meets: dict[str, int]
) -> None:
    wb = report(runtime)
    assert check_sheets(wb) == []
    ws = wb["分村"]
    header = next(c.row for c in ws["A"] if c.value == "村代码")
    clean_col = next(c.column for c in ws[header + 1] if c.value == "已完成")  # 户数|已完成
    ws.cell(header + 2, clean_col).value += 1
    problems = check_sheets(wb)
    assert any(p.startswith("分村 县城建成区 已完成 之和") for p in problems), problems
