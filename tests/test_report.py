"""The annual evaluation report: numbers equal the measures, frozen as of a date, safe text.

A hand-built history over two years in the tiny district (households
recorded through ``heating.history`` with chosen dates, zones derived
by ``geo.zones``) is turned into a workbook that is read back with openpyxl.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import select

from heating.compliance import compliance
from heating.measures import coverage
from heating.models import Village, utcnow
from heating.report import build_report
from heating.report.sheets import SHEETS
from heating.runtime import Runtime
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_ledger_household, at, change_household
from tests.support.report import AS_OF, INJECTION, build_history, read_table

NOW = datetime(2021, 11, 5, 9, 30)  # the generation time the cover shows (naive UTC)
# The history is dated 2020–2021 but the zone derivations are made now: a known-at
# after both counts everything the fixtures record.
KNOWN_AT = utcnow() + timedelta(days=1)
V_SOUTH, V_EAST, V_UP, V_DOWN = NANJIE, DONGJIE, SHANGCUN, XIACUN


def derive(runtime: Runtime, day: date) -> None:
    from geo.zone_derivations import derive_zones

    with runtime.session() as s:
        derive_zones(s, runtime.config.profile, as_of=day)


def later_imports(runtime: Runtime, ids: dict[str, int]) -> None:
    """Changes recorded after the cut-off: must not move the 2021 report."""
    with runtime.session() as s:
        add_ledger_household(s, ids[V_DOWN], "D6", "completed", "2021-11-10 10:00")
        change_household(s, ids[V_SOUTH], "S10", at("2021-11-10 10:00"), status="completed")
        change_household(s, ids[V_EAST], "E1", at("2021-11-12 10:00"), operation="normal")
        change_household(
            s, ids[V_UP], "U9", at("2021-11-12 10:00"), status="exempt", exempt_reason="拆迁"
        )


@pytest.fixture
def history(runtime: Runtime, tiny_district: dict[str, int]) -> dict[str, int]:
    build_history(runtime, tiny_district)
    derive(runtime, date(2020, 10, 31))
    derive(runtime, AS_OF)
    return tiny_district


def make_report(
    runtime: Runtime, year: int = 2021, *, read_only: bool = True, **kwargs: Any
) -> openpyxl.Workbook:
    """The report's values only, unless ``read_only=False`` (print setup, widths, pictures).

    Without the coverage map unless ``picture=True``: the tests of the map ask for it.
    """
    with runtime.session() as s:
        kwargs.setdefault("known_at", KNOWN_AT)
        kwargs.setdefault("picture", False)
        built = build_report(s, runtime.config, year, now=NOW, **kwargs)
    return openpyxl.load_workbook(io.BytesIO(built.content), read_only=read_only)


# --------------------------------------------------------------------------
# Reading a table back
# --------------------------------------------------------------------------


def undefined(value: float | None) -> Any:
    return "—" if value is None else pytest.approx(value)


def meets_text(value: bool | None) -> str:
    return "—" if value is None else ("达标" if value else "未达标")


def assert_measures(line: dict[str, Any], row: Any) -> None:
    assert line["户数|名录总户数"] == row.registry_households
    assert line["户数|台账户数"] == row.ledger_rows
    assert line["户数|无需改造"] == row.exempt
    assert line["户数|应改造"] == row.required
    assert line["户数|已完成"] == row.clean
    assert line["户数|散煤复烧/弃用"] == row.lapsed
    assert line["覆盖率|覆盖率"] == undefined(row.coverage)
    assert line["覆盖率|有效覆盖率"] == undefined(row.effective_coverage)
    assert line["覆盖率|目标"] == undefined(row.target)
    assert line["差距户数"] == row.gap
    assert line["是否达标"] == meets_text(row.meets)


# --------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------


def test_sheets_are_the_issue_list_in_order(runtime: Runtime, history: dict[str, int]) -> None:
    wb = make_report(runtime)
    assert wb.sheetnames == [title for title, _ in SHEETS]
    assert wb.sheetnames == [
        "封面与说明", "总体情况", "分乡镇", "分村", "未达标清单",
        "禁煤区", "技术路线", "回头看问题户", "热源核查", "锅炉清零", "用量核验", "补贴", "年度对比",
        "历年趋势", "数据质量",
    ]  # fmt: skip


def test_numbers_on_each_sheet_equal_the_measures(
    runtime: Runtime, history: dict[str, int]
) -> None:
    wb = make_report(runtime)
    profile = runtime.config.profile
    with runtime.session() as s:
        by_category = coverage(s, profile, "category", as_of=AS_OF)
        by_township = coverage(s, profile, "township", as_of=AS_OF)
        by_village = coverage(s, profile, "village", as_of=AS_OF)
        judged = compliance(s, profile, as_of=AS_OF)

    overview = read_table(wb["总体情况"], "区域类别")
    assert [line["区域类别"] for line in overview] == [r.name for r in by_category]
    for line, row in zip(overview, by_category, strict=True):
        assert line["村数"] == row.villages
        assert_measures(line, row)
    total = overview[-1]
    # Hand-checked: 南街 9 req/8 clean, 东街 8/8, 上村 20/14, 下村 5/2.
    assert (total["户数|应改造"], total["户数|已完成"], total["户数|散煤复烧/弃用"]) == (42, 32, 2)

    townships = read_table(wb["分乡镇"], "乡镇代码")
    assert [line["乡镇代码"] for line in townships[:-1]] == [r.key for r in by_township]
    for line, row in zip(townships, by_township, strict=False):
        assert_measures(line, row)
    assert_measures(townships[-1], by_category[-1])

    per_category = read_table(wb["分乡镇"], "乡镇代码", occurrence=2)
    expected = [(cat, row) for cat in judged for row in cat.townships]
    assert len(per_category) == len(expected)
    lines = {(line["乡镇代码"], line["区域类别"]): line for line in per_category}
    for cat, row in expected:
        assert_measures(lines[(row.key, cat.name)], row)

    villages = read_table(wb["分村"], "村代码")
    assert [line["村代码"] for line in villages] == [r.key for r in by_village]
    for line, row in zip(villages, by_village, strict=True):
        assert line["村名称"] == row.name
        assert_measures(line, row)

    # 未达标清单: the 100% categories' failing villages (they decide compliance) with
    # subtotals, apart from the rural villages below 80% (context: rural is judged on its total).
    failing = read_table(wb["未达标清单"], "序号")
    deciding = [r for r in by_village if r.meets is False and r.target == 1]
    assert [line["村代码"] for line in failing if line["村代码"]] == [r.key for r in deciding]
    assert [line["户数|差距"] for line in failing if line["村代码"]] == [r.gap for r in deciding]
    assert failing[-1]["村名称"] == f"合计（{len(deciding)} 个村）"
    assert failing[-1]["户数|差距"] == sum(
        r.gap for r in by_category if r.target == 1
    )  # = 总体情况's 100% categories
    context = read_table(wb["未达标清单"], "序号", occurrence=2)
    below = sorted(
        (r for r in by_village if r.meets is False and r.target < 1), key=lambda r: -r.gap
    )
    assert [line["村代码"] for line in context] == [r.key for r in below]
    whole = read_table(wb["未达标清单"], "区域类别")
    rural = next(r for r in by_category if r.key == "rural")
    assert [(w["区域类别"], w["低于目标的村数"], w["类别合计|类别差距"]) for w in whole] == [
        (rural.name, len(below), rural.gap)
    ]


def test_routes_problems_and_quality_come_from_the_as_of_versions(
    runtime: Runtime, history: dict[str, int]
) -> None:
    wb = make_report(runtime)
    routes = {line["乡镇名称"]: line for line in read_table(wb["技术路线"], "乡镇代码")}
    # 麟绛街道: 南街 8 clean (S5, S7, S8 gas; 5 electric) + 东街 8 electric.
    assert routes["麟绛街道"]["已完成户数"] == 16
    assert routes["麟绛街道"]["煤改气|户数"] == 3
    assert routes["麟绛街道"]["煤改电|户数"] == 13
    assert routes["麟绛街道"]["煤改气|占比"] == pytest.approx(3 / 16)
    # 上村镇: 上村 6 + U7 + U8 electric… U8 kept its empty route, 6 biomass; 下村 2 electric.
    assert routes["上村镇"]["生物质|户数"] == 6
    assert routes["合计"]["已完成户数"] == 32
    devices = read_table(wb["技术路线"], "乡镇代码", occurrence=2)
    assert {"乡镇代码": "140405101", "乡镇名称": "上村镇", "改造方式": "生物质", "设备类型": "生物质炉",
            "户数": 6, "占本乡镇比例": pytest.approx(6 / 16)} in devices  # fmt: skip

    per_village = read_table(wb["回头看问题户"], "村代码")
    counts = {line["村名称"]: line for line in per_village}
    assert counts["南街村委会"]["问题户数|散煤复烧"] == 1
    assert counts["东街村委会"]["问题户数|运行不稳定"] == 1
    assert counts["下村村委会"]["问题户数|设备弃用/拆除"] == 1
    assert counts["合计"]["问题户数|合计"] == 3
    detail = read_table(wb["回头看问题户"], "乡镇")
    assert [line["户号"] for line in detail] == ["S5", "E1", "D1"]
    east = detail[1]
    assert east["身份证号"] == "140405********1234"
    assert east["联系电话"] == "138****5678"
    assert "cmd" not in east["户主"] and not east["户主"].startswith("=")

    quality = wb["数据质量"]
    undated = read_table(quality, "序号", occurrence=3)
    assert [(line["村代码"], line["户数"]) for line in undated] == [(V_SOUTH, 1), (V_UP, 1)]


def test_zones_sheet_lists_derivation_and_changes_since_last_year(
    runtime: Runtime, history: dict[str, int]
) -> None:
    wb = make_report(runtime)
    zones = read_table(wb["禁煤区"], "禁煤区编号")
    # 2021: only 东街 is complete (8 of 8); in 2020 no village was complete.
    assert zones[0]["包含村庄"] == "东街村委会"
    assert zones[0]["村数"] == 1
    assert zones[0]["面积（平方公里）"] > 0
    assert zones[0]["与上年相比"] == "新增"  # the 2020 derivation had no zone
    changes = read_table(wb["禁煤区"], "变化")
    assert ("新增村", V_EAST) in {(c["变化"], c["村代码"]) for c in changes}


def test_regenerating_after_later_imports_gives_identical_numbers(
    runtime: Runtime, history: dict[str, int]
) -> None:
    first = make_report(runtime, read_only=False, picture=True)
    later_imports(runtime, history)
    derive(runtime, date(2021, 11, 20))  # a later derivation must not be picked up either
    with runtime.session() as s:
        built = build_report(
            s, runtime.config, 2021, now=datetime(2022, 3, 1, 8, 0), known_at=KNOWN_AT
        )
    second = openpyxl.load_workbook(io.BytesIO(built.content))
    assert first.sheetnames == second.sheetnames
    differing = []
    for name in first.sheetnames:
        a, b = first[name], second[name]
        assert (a.max_row, a.max_column) == (b.max_row, b.max_column), name
        for row_a, row_b in zip(a.iter_rows(), b.iter_rows(), strict=True):
            for ca, cb in zip(row_a, row_b, strict=True):
                if ca.value != cb.value:
                    differing.append((name, ca.coordinate, ca.value, cb.value))
    # Only the generation time on the cover differs.
    assert differing == [
        ("封面与说明", "B8", "2021-11-05 17:30:00 +08:00", "2022-03-01 16:00:00 +08:00")
    ]
    # And the later data is really there: the 2022 report sees it.
    with runtime.session() as s:
        now_rows = coverage(s, runtime.config.profile, "village", as_of=date(2021, 11, 30))
    assert {r.key: r.clean for r in now_rows}[V_DOWN] == 3


def test_previous_year_comparison_uses_last_years_cut_off(
    runtime: Runtime, history: dict[str, int]
) -> None:
    wb = make_report(runtime)
    rows = {line["乡镇名称"]: line for line in read_table(wb["年度对比"], "乡镇代码")}
    before, now = "上年（截至 2020-10-31）", "本年（截至 2021-10-31）"
    town = rows["麟绛街道"]
    # 2020: 南街 4 clean of 9 required (10 − 1 exempt), 东街 nothing yet of 8.
    assert (town[f"{before}|应改造"], town[f"{before}|已完成"]) == (17, 4)
    assert (town[f"{now}|应改造"], town[f"{now}|已完成"]) == (17, 16)
    assert town["变化|新增完成户数"] == 12
    assert town["变化|覆盖率变化"] == pytest.approx(16 / 17 - 4 / 17)
    up = rows["上村镇"]
    # 2020: 上村 6 of 20, 下村 nothing (required 0 without rows); 2021: 14 + 2 of 25.
    assert (up[f"{before}|已完成"], up[f"{now}|已完成"]) == (6, 16)
    assert up["变化|新增完成户数"] == 10
    assert rows["合计"]["变化|新增完成户数"] == 22
    with runtime.session() as s:
        previous = coverage(s, runtime.config.profile, "township", as_of=date(2020, 10, 31))
    assert [r.clean for r in previous] == [4, 6]


def test_explicit_as_of_and_2020_report(runtime: Runtime, history: dict[str, int]) -> None:
    wb = make_report(runtime, year=2020)
    total = read_table(wb["总体情况"], "区域类别")[-1]
    assert (total["户数|已完成"], total["户数|应改造"]) == (10, 37)
    mid = make_report(runtime, as_of=date(2021, 5, 31))
    total = read_table(mid["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 4 + 4 + 6  # 南街 S5, S7, S8, S9 added by May
    assert "2021-05-31" in mid["封面与说明"]["B6"].value


# --------------------------------------------------------------------------
# Safety and presentation
# --------------------------------------------------------------------------


def test_formula_injection_stays_text(runtime: Runtime, history: dict[str, int]) -> None:
    with runtime.session() as s:
        s.get(Village, history[V_UP]).name = INJECTION
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=NOW, known_at=KNOWN_AT)
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    cells = [
        c
        for ws in wb.worksheets
        for row in ws.iter_rows()
        for c in row
        if isinstance(c.value, str) and "HYPERLINK" in c.value
    ]
    sheets = {c.parent.title for c in cells}
    assert {"分村", "未达标清单", "回头看问题户"} <= sheets
    for c in cells:
        assert c.data_type == "s", (c.parent.title, c.coordinate)
        assert not c.value.startswith("="), c.value
    note = [c for c in cells if c.parent.title == "回头看问题户" and c.value.endswith('"y")')]
    assert note and note[0].value == "'" + INJECTION
    with zipfile.ZipFile(io.BytesIO(built.content)) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/sheet"):
                assert "<f>" not in z.read(name).decode(), name


def test_print_setup_panes_and_widths(runtime: Runtime, history: dict[str, int]) -> None:
    wb = make_report(runtime, read_only=False)
    for ws in wb.worksheets:
        assert int(ws.page_setup.paperSize) == int(ws.PAPERSIZE_A4), ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth == 1, ws.title
        assert ws.freeze_panes is not None, ws.title
        assert ws.print_title_rows, ws.title
        assert ws.oddFooter.center.text == "第 &P 页 共 &N 页", ws.title
    villages = wb["分村"]
    assert villages.page_setup.orientation == "landscape"
    assert villages.freeze_panes == "A5"  # title, subtitle, two header rows
    assert villages.print_title_rows == "$3:$4"
    assert "E3:J3" in {str(r) for r in villages.merged_cells.ranges}  # 户数 group header
    for header in (villages["E3"], villages["F4"], villages["A3"]):  # group, column, two-row
        assert header.font.b and header.font.name == "宋体", header.coordinate
        assert header.fill.fgColor.rgb == "00DDEBF7", header.coordinate
        assert header.alignment.horizontal == "center" and header.alignment.wrap_text
        assert header.border.left.style == "thin" and header.border.bottom.style == "thin"
    assert not villages["A5"].font.b and villages["A5"].fill.fgColor.rgb != "00DDEBF7"
    # "东街村委会" is 5 CJK characters: at least 10 columns wide.
    assert villages.column_dimensions["B"].width >= 10
    assert villages["I5"].number_format == "#,##0"
    assert villages["K5"].number_format == "0.0%"


def test_columns_fit_their_widest_number_and_text() -> None:
    """Fitting looks only at each number type's extremes; the width must still be
    that of the widest shown value, whichever sign or type it has."""
    from heating.report.workbook import Column, Row, Table, display_width, shown, write_table

    cases = {
        "int": [5, -1234567890123, 89, None, 1000],
        "pct_change": [0.004, -0.5, 0.25, None],
        "pct": [0.5, 1.0, 0.999, 1.2345],
        "text": ["东街", "乡镇名称很长很长的一个村", "x"],
        "area": [1.5, 123456789.678, -3.25],
        "int_change": [3, -12, 2.5],  # a float in an integer column
    }
    wb = openpyxl.Workbook()
    untouched = wb.active.column_dimensions["A"].width
    for kind, values in cases.items():
        ws = wb.create_sheet(kind)
        write_table(ws, Table("t", [Column("列", kind)], [Row([v]) for v in values]))
        widest = max(display_width(shown(v, kind)) for v in values)
        fitted = max(6, min(60, max(widest, 2) + 2))
        assert ws.column_dimensions["A"].width == max(untouched, fitted), kind  # never narrower
        assert widest == display_width(max((shown(v, kind) for v in values), key=display_width))


def test_map_picture_is_present(runtime: Runtime, history: dict[str, int], caplog) -> None:
    from matplotlib.font_manager import fontManager

    # matplotlib warns once per process about a missing face: forget earlier look-ups.
    fontManager._findfont_cached.cache_clear()
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=NOW, known_at=KNOWN_AT)
    # Nothing in English on the user's terminal (was "Failed to find font weight bold").
    assert [r.getMessage() for r in caplog.records if r.name.startswith("matplotlib")] == []
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    images = wb["总体情况"]._images
    assert len(images) == 1
    with zipfile.ZipFile(io.BytesIO(built.content)) as z:
        media = [n for n in z.namelist() if n.startswith("xl/media/")]
        assert len(media) == 1
        png = z.read(media[0])
    from PIL import Image

    picture = Image.open(io.BytesIO(png))
    assert picture.format == "PNG" and picture.width > 800
    # Coloured like the map: the 达标 colour of heating.coverage_classes (东街 is 100%).
    from heating.coverage_classes import colour_of

    meets = tuple(int(colour_of("meets")[i : i + 2], 16) for i in (1, 3, 5))
    assert meets in {c for _, c in picture.convert("RGB").getcolors(1 << 20)}


def test_report_without_boundaries_or_zones_still_builds(
    runtime: Runtime, tiny_district: dict[str, int]
) -> None:
    with runtime.session() as s:
        for v in s.scalars(select(Village)):
            v.geometry = None
    wb = make_report(runtime, read_only=False, picture=True)
    assert wb["总体情况"]._images == []
    assert "无法绘制" in "".join(str(c.value) for c in wb["总体情况"]["A"] if c.value)
    assert len(read_table(wb["数据质量"], "序号", occurrence=2)) == 4
    zones = wb["禁煤区"]
    assert any("尚未派生禁煤区" in str(c.value) for c in zones["A"] if c.value)
    overview = read_table(wb["总体情况"], "区域类别")
    assert overview[-1]["覆盖率|覆盖率"] == 0  # registry totals are required, nothing clean
    villages = {line["村代码"]: line for line in read_table(wb["分村"], "村代码")}
    assert villages[V_DOWN]["覆盖率|覆盖率"] == "—"  # no registry total, no rows


@pytest.mark.slow  # LibreOffice starts in 10-20 s: not part of the quick run, always of CI
def test_libreoffice_converts_the_report_to_pdf(
    runtime: Runtime, history: dict[str, int], tmp_path: Path
) -> None:
    soffice = shutil.which("soffice")
    if soffice is None:
        pytest.skip("LibreOffice (soffice) not installed")
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=NOW, known_at=KNOWN_AT)
    xlsx = tmp_path / "report.xlsx"
    xlsx.write_bytes(built.content)
    result = subprocess.run(
        [soffice, f"-env:UserInstallation=file://{tmp_path}/lo", "--headless",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(xlsx)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    pdf = tmp_path / "report.pdf"
    assert result.returncode == 0, result.stderr
    assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF"), result.stdout + result.stderr
    assert pdf.stat().st_size > 20_000
