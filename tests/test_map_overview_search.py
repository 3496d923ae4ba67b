"""The township overview's search finds villages too (more than 2,000 villages, no filter).

The overview draws townships only; typing a village's name or code still lists it
(with its township), zooms to and outlines its township and says how to reach the
village: on the web a link to the township's map with ``find=CODE`` (where the
village is found at once), in the standalone file the command that draws it.
The tiny district drawn as an overview (``overview_threshold=3``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from geo.maps import map_data
from geo.maps_document import MapLinks, basemap_of, display_text, map_document
from geo.maps_folium import build_map, standalone_html
from heating.runtime import Runtime
from tests.support.browser import HOSTILE, HOSTILE_CODE, browser_log_in, wait_for_map


def overview_document(runtime: Runtime, links: MapLinks | None = None) -> dict:
    with runtime.session() as session:
        data = map_data(session, runtime.config, overview_threshold=3)
    built = map_document(data, links=links, basemap=basemap_of(runtime.config))
    return json.loads(json.dumps(built, ensure_ascii=False))


def overview_file(runtime: Runtime, path: Path, links: MapLinks | None = None) -> Path:
    with runtime.session() as session:
        data = map_data(session, runtime.config, overview_threshold=3)
    document = map_document(data, links=links, basemap=basemap_of(runtime.config))
    path.write_text(standalone_html(build_map(document, standalone=True)), encoding="utf-8")
    return path


def test_overview_document_lists_every_village_for_the_search(runtime, map_scene) -> None:
    doc = overview_document(runtime)
    assert doc["mode"] == "townships"
    villages = {code: (name, township) for code, name, township in doc["search_villages"]}
    assert set(villages) == {"140405001201", "140405001202", "140405101201", HOSTILE_CODE}
    assert villages["140405001202"] == ("东街村委会", "140405001")
    assert villages[HOSTILE_CODE][0] == display_text(HOSTILE)  # escaped once, like every name
    with runtime.session() as session:
        plain = map_document(map_data(session, runtime.config))
    assert plain["mode"] == "villages" and plain["search_villages"] == []


def search(pg, text: str) -> list[str]:
    pg.fill(".heating-search-input", text)
    return pg.locator(".heating-search-results li").all_inner_texts()


@pytest.mark.browser
def test_standalone_overview_finds_a_village_and_names_the_command(
    page,
    runtime: Runtime,
    tmp_path: Path,
    map_scene,
) -> None:
    pg = page.page
    pg.goto(overview_file(runtime, tmp_path / "overview.html").as_uri())
    wait_for_map(pg)
    assert pg.get_attribute(".heating-search-input", "placeholder") == "查找乡镇或村：名称或代码"
    [result] = search(pg, "东街")
    assert "东街村委会" in result and "麟绛街道" in result and "140405001202" in result
    # a township is still found as before
    assert any("麟绛街道" in r for r in search(pg, "麟绛"))
    search(pg, "东街")
    pg.press(".heating-search-input", "Enter")
    assert pg.get_attribute("#map_heating", "data-found") == "140405001202"
    assert pg.get_attribute("#map_heating", "data-found-township") == "140405001"
    assert pg.locator(".leaflet-heating-found-pane path").count() == 2  # the township outlined
    status = pg.locator(".heating-search-status").inner_text()
    assert "已定位到东街村委会所在的麟绛街道" in status
    assert "请先选择乡镇" in status and "heating map --township 140405001" in status
    # the hostile name is listed as text
    results = search(pg, HOSTILE_CODE)
    assert results and HOSTILE in results[0]
    assert pg.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    assert page.blocked == [] and page.console_errors == []


@pytest.mark.browser
def test_overview_link_opens_the_township_map_with_the_village_found(
    page,
    live_server: str,
    runtime: Runtime,
    tmp_path: Path,
    map_scene,
) -> None:
    """The overview's link leads to /map?township=…&find=…, where the village is found."""
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    links = MapLinks(
        village=f"{live_server}/villages/{{code}}", township=f"{live_server}/map?township={{code}}"
    )
    pg.goto(overview_file(runtime, tmp_path / "overview.html", links).as_uri())
    wait_for_map(pg)
    assert len(search(pg, "上村")) == 2  # 上村镇 and its 上村村委会
    search(pg, "上村村委")
    pg.press(".heating-search-input", "Enter")
    link = pg.locator(".heating-search-status a")
    assert link.inner_text() == "打开上村镇的村庄图并定位上村村委会"
    link.click()
    pg.wait_for_url(f"{live_server}/map?township=140405101&find=140405101201")
    wait_for_map(pg)
    pg.wait_for_function("() => heatingMap.map.getContainer().dataset.found === '140405101201'")
    assert "已定位：上村村委会（上村镇）" in pg.locator(".heating-search-status").inner_text()
    assert page.console_errors == []
