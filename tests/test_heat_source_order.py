"""Heat-source lists are in 拼音 order (heating.collation), as every list of names is.

By code point 东 (U+4E1C) < 长 (U+957F) < 阿 (U+963F); by 拼音 阿 a < 东 dong < 长 zhang
(长治 reads zhǎng).  The register page, the unmatched ledger names and the report's
热源核查 sheet all follow the 拼音.
"""

from __future__ import annotations

import re
from datetime import datetime

from heating.heat_sources import load_register, unmatched_ledger_sources
from heating.report.heat_source_section import heat_source_section
from heating.village_facts import village_facts
from imports.heat_sources import load_heat_sources
from tests.support.districts import NANJIE
from tests.support.households import write_household
from tests.support.registers import register_xlsx

NAMES = ["东关热力站", "长治热电联产站", "阿里热源站"]  # code-point order
PINYIN = ["阿里热源站", "东关热力站", "长治热电联产站"]


def _load(runtime) -> None:
    rows = [[name, "热电联产", "A", "否", None, None, None, 10] for name in NAMES]
    with runtime.session() as s:
        load_heat_sources(s, register_xlsx(rows), "热源名单.xlsx", config=runtime.config)


def test_register_page_lists_sources_by_pinyin(login, runtime) -> None:
    _load(runtime)
    page = login("alice").get("/admin/heat-sources").get_data(as_text=True)
    table = page.split('id="heat-sources"')[1].split("</table>")[0]
    assert [n for n in re.findall(r"<td>([^<]+)</td>", table) if n in NAMES] == PINYIN


def test_unmatched_names_and_report_sources_by_pinyin(runtime, tiny_district) -> None:
    with runtime.session() as s:
        for i, name in enumerate(["东山供热站", "长治供热站", "阿村供热站"]):
            write_household(
                s, tiny_district[NANJIE], f"u{i}", "completed", route="district", heat_source=name
            )
    _load(runtime)
    with runtime.session() as s:
        unmatched = unmatched_ledger_sources(s, load_register(s))
        assert [u["name"] for u in unmatched] == ["阿村供热站", "东山供热站", "长治供热站"]
        section = heat_source_section(
            s, village_facts(s), datetime(2030, 1, 1).date(), datetime(2030, 1, 1)
        )
        assert [line.facts.name for line in section.sources] == PINYIN
        flagged = [line.source for line in section.flagged]
        assert flagged == ["阿村供热站", "东山供热站", "长治供热站"]
