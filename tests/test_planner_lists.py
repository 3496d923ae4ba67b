"""Planner tools (issue 15 item 3): search, sort, household filters with paging, Excel exports."""

from __future__ import annotations

import io
import re

import pytest
from openpyxl import load_workbook

from heating.measures import MeasureRow
from heating.village_lists import search_rows, sort_rows
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_many
from tests.support.ledgers import id_number
from tests.support.report import INJECTION


@pytest.fixture
def progress(runtime, users, tiny_district) -> None:
    """南街 gap 4, 东街 complete, 上村 gap 6 (rural), 下村 nothing required."""
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[NANJIE], 6, "completed", operation="normal")
        add_many(s, ids[NANJIE], 1, "completed", operation="coal_again")
        add_many(s, ids[NANJIE], 3, "pending")
        add_many(s, ids[DONGJIE], 8, "accepted")
        add_many(s, ids[SHANGCUN], 10, "completed")


def codes(page: str) -> list[str]:
    table = page.split('id="villages"')[1].split("</table>")[0]
    return re.findall(r'href="/villages/(\d{12})"', table)


def test_search_by_name_or_code(login, progress) -> None:
    client = login("dave")
    assert codes(client.get("/villages?q=东街").get_data(as_text=True)) == [DONGJIE]
    assert codes(client.get("/villages?q=140405101").get_data(as_text=True)) == [SHANGCUN, XIACUN]
    assert codes(client.get("/villages?q= 上 村 ").get_data(as_text=True)) == [SHANGCUN]
    page = client.get("/villages?q=不存在").get_data(as_text=True)
    assert codes(page) == [] and "没有符合条件的村庄" in page


def test_sort_by_gap_largest_first_and_coverage_dash_last(login, progress) -> None:
    client = login("dave")
    page = client.get("/villages").get_data(as_text=True)
    # Numbers sort largest first on the first click.
    assert 'href="/villages?sort=gap&amp;dir=desc"' in page
    by_gap = codes(client.get("/villages?sort=gap&dir=desc").get_data(as_text=True))
    assert by_gap[:2] == [SHANGCUN, NANJIE]
    by_coverage = codes(client.get("/villages?sort=coverage&dir=asc").get_data(as_text=True))
    assert by_coverage == [SHANGCUN, NANJIE, DONGJIE, XIACUN]  # 下村 "—" last
    by_coverage = codes(client.get("/villages?sort=coverage&dir=desc").get_data(as_text=True))
    assert by_coverage == [DONGJIE, NANJIE, SHANGCUN, XIACUN]  # still last
    page = client.get("/villages?sort=gap&dir=desc").get_data(as_text=True)
    assert 'aria-sort="descending"' in page and "▼" in page
    # An unknown key keeps the code order instead of failing.
    assert codes(client.get("/villages?sort=evil&dir=up").get_data(as_text=True)) == sorted(
        [NANJIE, DONGJIE, SHANGCUN, XIACUN]
    )


def test_sorting_and_search_are_pure_over_rows() -> None:
    def row(key: str, name: str, coverage: float | None) -> MeasureRow:
        return MeasureRow(
            key, name, "rural", "1", 1, 0, 0, 0, 0, 0, 0, coverage, None, 0.8, 0, None
        )

    rows = [row("2", "乙村", None), row("1", "甲村", 0.5), row("3", "丙村", 0.9)]
    assert [r.key for r in search_rows(rows, "甲")] == ["1"]
    ordered = sort_rows(rows, "coverage", "desc", township_names={}, category_label=str)
    assert [r.key for r in ordered] == ["3", "1", "2"]


def test_names_sort_by_pinyin_not_code_point() -> None:
    """By code point 东 (U+4E1C) came before 长 (U+957F) and 阿 (U+963F) last; people look
    names up in 拼音 order: 阿 a, 长治 zhang (a heteronym: not chang), 东 dong, 重庆 chong."""

    def row(key: str, name: str) -> MeasureRow:
        return MeasureRow(key, name, "rural", "1", 1, 0, 0, 0, 0, 0, 0, None, None, 0.8, 0, None)

    names = ["长治村", "东街村", "阿村", "重庆村", "北村", "2号村", "Z村"]
    rows = [row(str(i), n) for i, n in enumerate(names)]
    ordered = sort_rows(rows, "name", "asc", township_names={}, category_label=str)
    assert [r.name for r in ordered] == [
        "2号村",
        "Z村",
        "阿村",
        "北村",
        "重庆村",
        "东街村",
        "长治村",
    ]
    towns = {"1": "余吾镇"}
    backwards = sort_rows(rows, "name", "desc", township_names=towns, category_label=str)
    assert [r.name for r in backwards] == [r.name for r in reversed(ordered)]


@pytest.fixture
def many_households(runtime, users, tiny_district) -> None:
    """南街: 60 pending, 45 completed (5 burning coal again), one with a formula-like name."""
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[NANJIE], 60, "pending")
        add_many(s, ids[NANJIE], 40, "completed", operation="normal")
        add_many(s, ids[NANJIE], 5, "completed", operation="coal_again")
        add_many(
            s,
            ids[NANJIE],
            1,
            "accepted",
            head_name=INJECTION,
            id_number=id_number(3),
            phone="13812345678",
        )


def test_household_filter_by_status_keeps_paging(login, many_households) -> None:
    client = login("dave")
    page = client.get(f"/villages/{NANJIE}?status=pending").get_data(as_text=True)
    assert "第 1 / 2 页，共 60 条" in page
    assert f'href="/villages/{NANJIE}?status=pending&amp;page=2"' in page
    body = page.split('id="households"')[1].split("<tbody>")[1].split("</tbody>")[0]
    assert body.count("<tr>") == 50 and "已完工" not in body
    page2 = client.get(f"/villages/{NANJIE}?status=pending&page=2").get_data(as_text=True)
    assert (
        page2.split('id="households"')[1].split("</tbody>")[0].count("<tr>") == 11
    )  # with the head
    coal = client.get(f"/villages/{NANJIE}?operation=coal_again").get_data(as_text=True)
    assert "共 5 条" in coal
    unchecked = client.get(f"/villages/{NANJIE}?operation=unchecked").get_data(as_text=True)
    assert "共 61 条" in unchecked  # the pending ones and the accepted one have no finding


def test_household_export_is_masked_for_planners_and_formula_safe(login, many_households) -> None:
    client = login("dave")
    resp = client.get(f"/villages/{NANJIE}?status=accepted&export=xlsx")
    assert resp.status_code == 200
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert "filename*=UTF-8''" in resp.headers["Content-Disposition"]
    ws = load_workbook(io.BytesIO(resp.data)).active
    values = [c.value for row in ws.iter_rows() for c in row if c.value is not None]
    full = id_number(3)
    assert full not in values and f"{full[:6]}********{full[-4:]}" in values
    assert "138****5678" in values and "13812345678" not in values
    assert "'" + INJECTION in values  # text, never a formula
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)
    assert any("改造状态：已验收" in str(v) and "共 1 户" in str(v) for v in values)


def test_household_export_shows_full_data_to_the_own_clerk(login, many_households) -> None:
    resp = login("bob").get(f"/villages/{NANJIE}?status=accepted&export=xlsx")
    values = [
        c.value for row in load_workbook(io.BytesIO(resp.data)).active.iter_rows() for c in row
    ]
    assert id_number(3) in values and "13812345678" in values


def test_city_users_get_no_household_export(login, many_households) -> None:
    resp = login("erin").get(f"/villages/{NANJIE}?export=xlsx")
    assert resp.mimetype == "text/html"  # the page, without households
    assert "户主" not in resp.get_data(as_text=True).split('id="measures"')[1]


def test_village_list_export_matches_the_filtered_sorted_page(login, progress) -> None:
    client = login("dave")
    resp = client.get("/villages?township=140405001&sort=gap&dir=desc&export=xlsx")
    ws = load_workbook(io.BytesIO(resp.data)).active
    header = next(r for r in ws.iter_rows(values_only=True) if r[0] == "村代码")
    start = next(i for i, r in enumerate(ws.iter_rows(values_only=True)) if r[0] == "村代码")
    rows = [r for r in ws.iter_rows(min_row=start + 2, values_only=True) if r[0]]
    data = [r for r in rows if str(r[0]).isdigit()]
    assert [r[0] for r in data] == [NANJIE, DONGJIE]
    line = dict(zip(header, data[0], strict=True))
    assert (line["应改户数"], line["已完成户数"], line["差距（户）"]) == (10, 7, 3)
    assert line["是否达标"] == "未达标"
    assert "乡镇：麟绛街道" in ws["A2"].value


def test_village_names_in_the_export_are_text(login, runtime, progress) -> None:
    from sqlalchemy import update

    from heating.models import Village

    with runtime.session() as s:
        s.execute(update(Village).where(Village.code == XIACUN).values(name=INJECTION))
    resp = login("dave").get("/villages?export=xlsx")
    ws = load_workbook(io.BytesIO(resp.data)).active
    cells = [c for row in ws.iter_rows() for c in row]
    assert any(c.value == "'" + INJECTION for c in cells)
    assert not any(c.data_type == "f" for c in cells)


def sheet_values(data: bytes) -> list[list]:
    return [list(r) for r in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]


def test_township_table_exports_with_the_dashboards_numbers(login, progress) -> None:
    resp = login("dave").get("/?export=xlsx")
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    rows = {r[0]: r for r in sheet_values(resp.data) if r[0] in ("140405001", "140405101")}
    # 麟绛街道: 南街 10 required / 7 clean, 东街 8 / 8 → 18 / 15.
    assert rows["140405001"][1] == "麟绛街道"
    assert rows["140405001"][5:7] == [18, 15]


def test_zones_export_lists_zone_villages(login, runtime, progress) -> None:
    from datetime import date

    from geo.zone_derivations import derive_zones

    with runtime.session() as s:
        derive_zones(s, runtime.config.profile, as_of=date.today())
    resp = login("dave").get("/zones?export=xlsx")
    values = sheet_values(resp.data)
    zone = next(r for r in values if r[1] == 1)
    assert f"东街村委会（{DONGJIE}）" in zone[4]
    assert "派生截至" in values[1][0]


def test_batches_export_is_the_clerks_own_and_formula_safe(login, runtime, users) -> None:
    from sqlalchemy import update

    from heating.models import ImportBatch
    from tests.support.ledgers import add_batch

    own = add_batch(runtime, "140405001")
    add_batch(runtime, "140405101")
    with runtime.session() as s:
        s.execute(update(ImportBatch).where(ImportBatch.id == own).values(file_name=INJECTION))
    ws = load_workbook(io.BytesIO(login("bob").get("/imports?export=xlsx").data)).active
    ids = [r[0] for r in ws.iter_rows(values_only=True) if isinstance(r[0], int)]
    assert ids == [own]
    cells = [c for row in ws.iter_rows() for c in row]
    assert any(c.value == "'" + INJECTION for c in cells)
    assert not any(c.data_type == "f" for c in cells)


def test_zone_downloads_name_district_and_derivation_and_past_ones_download(
    login, runtime, progress
) -> None:
    import json
    from datetime import date
    from urllib.parse import unquote

    from geo.zone_derivations import derive_zones

    with runtime.session() as s:
        first = derive_zones(s, runtime.config.profile, as_of=date(2021, 4, 30))  # nothing done
        second = derive_zones(s, runtime.config.profile, as_of=date.today())  # 东街 complete
    client = login("dave")

    def name_of(resp) -> str:
        return unquote(resp.headers["Content-Disposition"].split("filename*=UTF-8''")[1])

    current = client.get("/zones/download/geojson")
    assert name_of(current) == (
        f"屯留区禁煤区（截至{date.today():%Y%m%d}，第{second.derivation.id}次派生）.geojson"
    )
    past = client.get(f"/zones/download/geojson?derivation={first.derivation.id}")
    assert name_of(past) == f"屯留区禁煤区（截至20210430，第{first.derivation.id}次派生）.geojson"
    assert json.loads(past.data)["features"] == []
    assert len(json.loads(current.data)["features"]) == 1
    shapefile = client.get(f"/zones/download/zip?derivation={second.derivation.id}")
    assert name_of(shapefile).endswith("次派生）-shapefile.zip")
    assert client.get("/zones/download/geojson?derivation=999").status_code == 404
    page = client.get("/zones").get_data(as_text=True)
    assert f"derivation={first.derivation.id}" in page
