"""Human output names things in Chinese: no setting words or category keys in the text.

"按 warn 设置", "heat_source_rule = strict", "等级为C 级" and category keys
such as ``city_core`` leaked into pages, the CLI's tables and the report.
JSON keys and values stay as they are (they are promises); these tests read
only what people read.
"""

from __future__ import annotations

import io

import openpyxl
import pytest

from heating.heat_sources import HEAT_SOURCE_RULE_LABELS, noncompliance_reason, noncompliant_note
from heating.report import build_report
from tests.support.registers import WARN
from tests.support.report import later

RAW_WORDS = ("heat_source_rule", "strict", "warn")


def test_notes_name_the_rule_in_chinese() -> None:
    for rule in ("strict", "warn"):
        note = noncompliant_note(2, rule)
        assert not any(w in note for w in RAW_WORDS), note
    assert HEAT_SOURCE_RULE_LABELS["warn"] in noncompliant_note(2, "warn")
    reason = noncompliance_reason("waste_heat", "C", False)
    assert "环保绩效等级为 C 级" in reason and "为C" not in reason


def test_cli_coverage_table_shows_category_names_not_keys(run_cli, tiny_district) -> None:
    by_category = run_cli("coverage", "--by", "category")
    assert by_category.exit_code == 0, by_category.stderr
    villages = run_cli("coverage")
    text = by_category.stdout + villages.stdout
    for key in ("city_core", "county_core", "fringe", "rural", "total"):
        assert key not in text, key
    assert "县城建成区" in by_category.stdout and "合计" in by_category.stdout


@pytest.mark.parametrize("settings", [WARN])
def test_heat_source_rule_reads_in_chinese_everywhere(
    runtime, nanjie, run_cli, login, monkeypatch
) -> None:
    monkeypatch.setenv("HEATING_HEAT_SOURCE_RULE", "warn")
    label = HEAT_SOURCE_RULE_LABELS["warn"]
    cli = run_cli("coverage").stdout
    assert label in cli and not any(w in cli for w in RAW_WORDS), cli
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=later(), picture=False)
    check = openpyxl.load_workbook(io.BytesIO(built.content))["热源核查"]
    assert label in check["A2"].value and "heat_source_rule" not in check["A2"].value
    client = login("alice")
    page = client.get("/admin/heat-sources").get_data(as_text=True)
    assert f"当前热源规则：<strong>{label}</strong>" in page
    assert "heat_source_rule = " not in page
    village = client.get("/villages/140405001201").get_data(as_text=True)
    assert label in village and "按 warn" not in village


def test_admin_profile_page_leads_with_the_category_names(login) -> None:
    page = login("alice").get("/admin/profile").get_data(as_text=True)
    assert "<th>名称</th>" not in page  # the name is the category
    head = page.index("<thead>")
    assert page.index("区域类别", head) < page.index("配置文件中的键", head)


def test_user_add_names_the_role_in_chinese(run_cli, users) -> None:
    from tests.support.users import PASSWORD

    done = run_cli(
        "user", "add", "zhou", "--role", "planner", "--password-stdin", input=PASSWORD + "\n"
    )
    assert done.exit_code == 0, done.stderr
    assert "已创建用户 zhou（规划人员）" in done.stdout and "planner" not in done.stdout


def test_unknown_category_reads_as_unknown_on_pages_and_in_the_report(
    runtime, tiny_district, login
) -> None:
    """A category key the profile lacks is named 未知类别（key） where people read it, not bare."""
    from sqlalchemy import update

    from heating.models import Village
    from tests.support.districts import NANJIE

    with runtime.session() as s:
        s.execute(update(Village).where(Village.code == NANJIE).values(category="county"))
    client = login("alice")
    listing = client.get("/villages").get_data(as_text=True)
    assert "<td>未知类别（county）</td>" in listing
    page = client.get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert "<dd>未知类别（county）" in page
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=later(), picture=False)
    book = openpyxl.load_workbook(io.BytesIO(built.content))
    cells = {str(c.value) for ws in book.worksheets for row in ws.iter_rows() for c in row}
    assert "未知类别（county）" in cells
    assert "county" not in cells
