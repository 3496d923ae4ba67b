"""The heat-source register: loading, name matching, the rule's verdicts, known-at, refusals."""

from __future__ import annotations

import itertools
import json
from datetime import datetime

import pytest
from sqlalchemy import func, select

from heating.errors import Refused
from heating.heat_sources import (
    NONCOMPLIANT,
    UNVERIFIED,
    is_noncompliant,
    load_register,
    source_key,
)
from heating.models import HeatSource, HeatSourceVersion, ImportBatch
from imports.heat_sources import load_heat_sources
from tests.support.database import row_counts
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.households import write_household
from tests.support.ledgers import ledger_xlsx
from tests.support.registers import REGISTER, register_xlsx

_serial = itertools.count(1)


def load(runtime, data: bytes, name: str = "热源名单.xlsx"):
    with runtime.session() as session:
        return load_heat_sources(session, data, name, config=runtime.config)


def add_household(session, village_id, heat_source, *, route="district", status="completed"):
    return write_household(
        session, village_id, f"hs{next(_serial)}", status, route=route, heat_source=heat_source
    )


def test_register_loads_with_kinds_grades_and_listing(runtime, tiny_district) -> None:
    result = load(runtime, register_xlsx(REGISTER))
    assert {k: result[k] for k in ("sources", "new", "updated")} == {
        "sources": 6,
        "new": 6,
        "updated": 0,
    }
    assert result["issues"] == []
    with runtime.session() as s:
        stored = {h.name: h for h in s.scalars(select(HeatSource))}
        assert stored["屯留热电厂"].kind == "chp"
        assert stored["屯留热电厂"].capacity_mw == 300
        assert stored["长治市恒达焦化有限公司"].env_grade == "B"
        assert stored["屯留县兴旺钢铁有限责任公司"].kind == "waste_heat"
        assert stored["屯留县宏达化工有限公司"].shutdown_listed is True
        assert stored["屯留县宏达化工有限公司"].shutdown_on.isoformat() == "2023-12-31"
        assert stored["屯留县宇通余热利用有限公司"].env_grade is None
        assert stored["麟绛街道燃气锅炉房"].env_grade == "leading"
        assert s.scalar(select(func.count()).select_from(HeatSourceVersion)) == 6
        batch = s.scalar(select(ImportBatch).where(ImportBatch.kind == "heat_sources"))
        assert batch.counts == {"rows": 6, "new": 6, "updated": 0}


@pytest.mark.parametrize(
    ("kind", "grade", "listed", "expected"),
    [
        ("waste_heat", "A", False, False),
        ("waste_heat", "B", False, False),
        ("waste_heat", "leading", False, False),
        ("waste_heat", "C", False, True),
        ("waste_heat", "D", False, True),
        ("waste_heat", None, False, True),  # unknown grade counts as not B or better
        ("waste_heat", "A", True, True),  # listed for shutdown, whatever the date
        ("chp", "C", False, False),  # the rule is about waste heat only
        ("chp", None, True, False),
    ],
)
def test_the_rule_of_the_seed_plan(kind, grade, listed, expected) -> None:
    assert is_noncompliant(kind, grade, listed) is expected


def test_names_match_after_normalising(runtime, tiny_district) -> None:
    load(runtime, register_xlsx(REGISTER))
    with runtime.session() as s:
        register = load_register(s)
    # Full-width letters, spaces, a dropped 有限公司 suffix: the same source.
    assert register.match("长治市恒达焦化").name == "长治市恒达焦化有限公司"
    assert register.match(" 长治市 恒达焦化有限公司 ").name == "长治市恒达焦化有限公司"
    assert register.match("屯留县兴旺钢铁有限公司").name == "屯留县兴旺钢铁有限责任公司"
    assert register.match("麟绛街道燃气锅炉房").kind == "gas_boiler"
    assert register.match("屯留热电厂\u3000") is not None
    assert register.match("屯留区热电厂") is None
    assert register.match("") is None
    assert source_key("ＡＢＣ热力有限公司") == "ABC热力"
    assert register.verdict("district", "屯留县兴旺钢铁") == NONCOMPLIANT
    assert register.verdict("district", "屯留县宇通余热利用有限公司") == NONCOMPLIANT
    assert register.verdict("district", "屯留县宏达化工") == NONCOMPLIANT
    assert register.verdict("district", "长治市恒达焦化") is None
    assert register.verdict("district", "不知名热源") == UNVERIFIED
    assert register.verdict("district", None) == UNVERIFIED
    assert register.verdict("electric", None) is None


def test_unmatched_ledger_sources_are_listed_per_township(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_household(s, ids[NANJIE], "屯留热电厂")
        add_household(s, ids[NANJIE], "城东供热站")
        add_household(s, ids[NANJIE], "城东 供热站")
        add_household(s, ids[SHANGCUN], "上村余热站")
        add_household(s, ids[SHANGCUN], None)
        add_household(s, ids[SHANGCUN], "上村余热站", route="electric")
    result = load(runtime, register_xlsx(REGISTER))
    assert result["unmatched_ledger_sources"] == [
        {"township": "140405001", "name": "城东 供热站", "households": 2},
        {"township": "140405101", "name": "上村余热站", "households": 1},
    ]


def test_cli_load_json_has_the_promised_keys(runtime, tiny_district, run_cli, tmp_path) -> None:
    path = tmp_path / "热源名单.xlsx"
    path.write_bytes(register_xlsx(REGISTER))
    out = run_cli("heat-sources", "load", str(path), "--json")
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data)[:5] == ["sources", "new", "updated", "unmatched_ledger_sources", "issues"]
    out = run_cli("heat-sources", "load", str(path))
    assert out.exit_code == 0
    assert "6 个热源（新增 0，更新 0）" in out.stdout


def test_reload_updates_by_name_and_keeps_what_was_known(runtime, tiny_district) -> None:
    load(runtime, register_xlsx(REGISTER))
    with runtime.session() as s:
        first_load = s.scalar(select(func.max(HeatSourceVersion.recorded_at)))
    changed = [list(r) for r in REGISTER]
    changed[2][0] = "屯留县兴旺钢铁有限公司"  # respelt: still the same source
    changed[2][2] = "B"  # regraded
    result = load(runtime, register_xlsx(changed), "热源名单2022.xlsx")
    assert (result["new"], result["updated"]) == (0, 1)
    with runtime.session() as s:
        now = load_register(s)
        then = load_register(s, known_at=first_load)
        nothing = load_register(s, known_at=datetime(2000, 1, 1))
    assert now.verdict("district", "屯留县兴旺钢铁") is None
    assert now.match("屯留县兴旺钢铁").name == "屯留县兴旺钢铁有限公司"
    assert then.verdict("district", "屯留县兴旺钢铁") == NONCOMPLIANT
    assert then.match("屯留县兴旺钢铁").name == "屯留县兴旺钢铁有限责任公司"
    assert nothing.sources == {}


def test_blank_grade_is_unknown_and_an_absent_column_changes_nothing(
    runtime, tiny_district
) -> None:
    load(runtime, register_xlsx(REGISTER))
    # Only name and type: grades and listings stay as they were.
    load(
        runtime,
        register_xlsx(
            [[r[0], r[1], r[7]] for r in REGISTER], header=["热源名称", "类型", "供热能力"]
        ),
    )
    with runtime.session() as s:
        assert s.scalar(select(HeatSource.env_grade).where(HeatSource.name == "屯留热电厂")) == "A"
    # The grade column present and blank: the register now says "unknown".
    rows = [list(r) for r in REGISTER]
    rows[0][2] = None
    load(runtime, register_xlsx(rows))
    with runtime.session() as s:
        assert s.scalar(select(HeatSource.env_grade).where(HeatSource.name == "屯留热电厂")) is None


def test_bad_rows_are_refused_with_their_place_and_nothing_is_written(
    runtime, tiny_district
) -> None:
    rows = [list(r) for r in REGISTER]
    rows[1][1] = "煤矿瓦斯"  # unknown type
    rows[2][2] = "良好"  # unknown grade
    rows.append(["屯留热电厂有限公司", "热电联产", "A", "否", None, None, None, None])  # duplicate
    rows.append(["新热源", "工业余热", "B", "否", None, 36.3, 112.8, None])  # lon/lat swapped
    with pytest.raises(Refused) as caught:
        load(runtime, register_xlsx(rows))
    issues = caught.value.detail["issues"]
    by_code = {(i["code"], i["row"], i["column"]) for i in issues if i["severity"] == "error"}
    assert ("unknown_value", 4, "B") in by_code
    assert ("unknown_value", 5, "C") in by_code
    assert ("duplicate_source", 9, "A") in by_code
    assert ("coordinates_outside", 10, "F") in by_code
    assert "未写入任何数据" in caught.value.message
    assert all(i["sheet"] == "热源名单" for i in issues)
    counts = row_counts(runtime)
    assert counts["heat_sources"] == counts["import_batches"] == counts["stored_files"] == 0


def test_a_file_without_a_register_header_is_refused(runtime, tiny_district) -> None:
    with pytest.raises(Refused, match="找不到热源名单的表头"):
        load(runtime, register_xlsx([["a", "b"]], header=["序号", "说明"]))


def test_missing_type_column_is_named(runtime, tiny_district, run_cli, tmp_path) -> None:
    path = tmp_path / "名单.xlsx"
    path.write_bytes(
        register_xlsx(
            [["屯留热电厂", "A", "否"]], header=["热源名称", "环保绩效等级", "是否列入关停淘汰计划"]
        )
    )
    out = run_cli("heat-sources", "load", str(path))
    assert out.exit_code == 1
    assert "缺少必需的列：类型" in out.stderr


@pytest.mark.parametrize("rule", ["strict", "warn"])
def test_ledger_preview_warns_per_noncompliant_row(
    runtime, tiny_district, run_cli, tmp_path, monkeypatch, rule
) -> None:
    load(runtime, register_xlsx(REGISTER))
    monkeypatch.setenv("HEATING_HEAT_SOURCE_RULE", rule)
    path = tmp_path / "台账.xlsx"
    path.write_bytes(
        ledger_xlsx(
            header=["村", "户号", "户主姓名", "改造状态", "改造方式", "热源"],
            rows=[
                ["南街村", "1", "张三", "已完工", "集中供热", "屯留县兴旺钢铁有限公司"],
                ["南街村", "2", "李四", "已完工", "集中供热", "屯留热电厂"],
                ["南街村", "3", "王五", "已完工", "集中供热", "屯留县宏达化工"],
                ["南街村", "4", "赵六", "已完工", "煤改电", "屯留县兴旺钢铁有限公司"],
                ["南街村", "5", "钱七", "已完工", "集中供热", "城东供热站"],
            ],
        )
    )
    out = run_cli("import", str(path), "--township", "140405001", "--json")
    assert out.exit_code == 0, out.stderr
    issues = json.loads(out.stdout)["issues"]
    flagged = [(i["row"], i["column"]) for i in issues if i["code"] == NONCOMPLIANT]
    assert flagged == [(3, "F"), (5, "F")]
    message = next(i["message"] for i in issues if i["code"] == NONCOMPLIANT)
    assert "环保绩效等级为 C 级" in message
    assert ("不计为已改造" in message) is (rule == "strict")
    assert [i["row"] for i in issues if i["code"] == "heat_source_unknown"] == [7]
