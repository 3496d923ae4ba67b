"""Finding a village by name or code on the map and on the zones page (issue 15).

The map's search box runs in the map's own script (offline, also in the
standalone file); the zones page filters its table on the server.  Browser
tests at 1366×768 in a real chromium, every outbound request refused.
"""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook

from heating.runtime import Runtime
from tests.support.browser import (
    HOSTILE,
    browser_log_in,
    csp_violations,
    standalone_file,
    village_points,
    wait_for_map,
)
from tests.support.households import add_households_by_status
from tests.support.zones import add_zone


@pytest.fixture
def zoned(runtime: Runtime, tiny_district: dict[str, int]) -> None:
    """南街 complete, inside JMQ-0001; 东街 incomplete beside it; 上村 an enclave of nothing."""
    add_households_by_status(runtime, tiny_district["140405001201"], clean=10)
    add_households_by_status(runtime, tiny_district["140405001202"], clean=1, pending=3)
    add_zone(runtime, ["140405001201"], ["140405001202"])


def test_zones_page_finds_a_villages_zone(login, zoned) -> None:
    client = login("dave")
    page = client.get("/zones?q=南街").get_data(as_text=True)
    found = page.split('id="found-villages"')[1].split("</table>")[0]
    assert "南街村委会" in found and "麟绛街道" in found and "在禁煤区 JMQ-0001 内" in found
    assert "JMQ-0001" in page.split('id="zones"')[1]
    page = client.get("/zones?q=140405001202").get_data(as_text=True)
    found = page.split('id="found-villages"')[1].split("</table>")[0]
    assert "东街村委会" in found and "未完成，与禁煤区 JMQ-0001 相邻" in found
    # A village outside every zone: the table is filtered to nothing, and says why.
    page = client.get("/zones?q=上村").get_data(as_text=True)
    assert "不在禁煤区内，也不与禁煤区相邻" in page
    assert "所查村庄不在任何禁煤区内" in page.split('id="zones"')[1]
    # The export holds the same zones and says which villages were looked for.
    book = load_workbook(io.BytesIO(client.get("/zones?q=南街&export=xlsx").get_data()))
    cells = [c for row in book.active.iter_rows(values_only=True) for c in row if c]
    assert "JMQ-0001" in cells and any("名称含“南街”" in str(c) for c in cells)
    page = client.get("/zones?q=没有这个村").get_data(as_text=True)
    assert "没有名称含“没有这个村”或代码以它开头的村庄" in page


def test_a_clerk_finds_only_its_own_villages_on_the_zones_page(login, zoned) -> None:
    client = login("bob")  # clerk of 麟绛街道
    page = client.get("/zones?q=村委会").get_data(as_text=True)
    found = page.split('id="found-villages"')[1].split("</table>")[0]
    assert "南街村委会" in found and "上村村委会" not in found


pytestmark_browser = pytest.mark.browser


def search(pg, text: str) -> list[str]:
    """Type into the map's search box; the listed results' texts."""
    pg.fill(".heating-search-input", text)
    return pg.locator(".heating-search-results li").all_inner_texts()


@pytestmark_browser
def test_map_search_finds_a_village_by_name_and_by_code_and_zooms_to_it(
    page,
    live_server: str,
    map_scene,
) -> None:
    violations = csp_violations(page)
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    pg.goto(f"{live_server}/map")
    wait_for_map(pg)
    box = pg.locator(".heating-search").bounding_box()
    assert box["x"] >= 0 and box["y"] + box["height"] <= 768  # on screen at 1366×768
    zoom = pg.evaluate("heatingMap.map.getZoom()")
    # By name: one result, with its township and code; Enter zooms to it and outlines it.
    [result] = search(pg, "东 街")
    assert "东街村委会" in result and "麟绛街道" in result and "140405001202" in result
    pg.press(".heating-search-input", "Enter")
    assert pg.get_attribute("#map_heating", "data-found") == "140405001202"
    assert pg.evaluate("heatingMap.map.getZoom()") >= zoom
    assert pg.locator(".leaflet-heating-found-pane path").count() == 2  # halo and line
    inside = pg.evaluate(
        """() => { const m = heatingMap.map; let b = null;
                   heatingMap.layers.areas.eachLayer(s => {
                     if (s.feature.properties.code === '140405001202') b = s.getBounds(); });
                   return m.getBounds().contains(b); }"""
    )
    assert inside
    tooltip = pg.locator(".leaflet-tooltip")
    assert "东街村委会" in tooltip.inner_text()
    assert "已定位：东街村委会（麟绛街道）" in pg.locator(".heating-search-status").inner_text()
    # By code prefix: two villages of 上村镇; the hostile name is listed as text.
    results = search(pg, "1404051012")
    assert len(results) == 2 and any(HOSTILE in r for r in results)
    assert pg.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    pg.locator(".heating-search-results li", has_text="上村村委会").click()
    assert pg.get_attribute("#map_heating", "data-found") == "140405101201"
    assert pg.locator(".leaflet-heating-found-pane path").count() == 2  # the old one removed
    # The found village opens with a click, as any other.
    x, y = village_points(pg)["140405101201"]
    pg.mouse.move(x - 3, y - 2)
    pg.mouse.move(x, y)
    pg.mouse.down()
    pg.mouse.up()
    pg.wait_for_url(f"{live_server}/villages/140405101201")
    # Nothing found: said in words.
    pg.goto(f"{live_server}/map")
    wait_for_map(pg)
    assert search(pg, "没有这个村") == []
    assert "图中没有名称含“没有这个村”" in pg.locator(".heating-search-status").inner_text()
    # Printing leaves the search box out.
    pg.emulate_media(media="print")
    assert not pg.locator(".heating-search").is_visible()
    pg.emulate_media(media="screen")
    assert page.blocked == [] and page.console_errors == [] and violations == []


@pytestmark_browser
def test_map_search_works_in_the_standalone_file(
    page,
    runtime: Runtime,
    tmp_path,
    map_scene,
) -> None:
    pg = page.page
    pg.goto(standalone_file(runtime, tmp_path).as_uri())
    wait_for_map(pg)
    [result] = search(pg, "南街")
    assert "南街村委会" in result
    pg.press(".heating-search-input", "Enter")
    found = pg.evaluate("heatingMap.map.getContainer().getAttribute('data-found')")
    assert found == "140405001201"
    assert page.blocked == [] and page.console_errors == []


@pytestmark_browser
def test_zones_page_search_in_the_browser(
    page,
    live_server: str,
    map_scene,
) -> None:
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    pg.goto(f"{live_server}/zones")
    wait_for_map(pg)
    pg.fill("#zone-search input[name=q]", "东街")
    pg.click("#zone-search button")
    pg.wait_for_url("**/zones?q=*")
    assert "未完成，与禁煤区 JMQ-0001 相邻" in pg.locator("#found-villages").inner_text()
    assert pg.locator("table#zones tbody tr").count() == 1
    # The zones map on the same page has the search box too.
    wait_for_map(pg)
    [result] = search(pg, "南街")
    assert "南街村委会" in result
    assert page.blocked == [] and page.console_errors == []
