"""The coverage map as people use it, in a real headless chromium at 1366×768.

/map and /zones in the app (under the app's own CSP: no inline script, and
any violation the browser reports fails the test) and the standalone file.  Requests to anything but the app
(127.0.0.1) and file:// are refused by the ``page`` fixture and recorded in
``page.blocked``.  The villages are the ``map_scene`` fixture's (``tests/support/browser.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from heating.coverage_classes import COVERAGE_CLASSES
from heating.runtime import Runtime
from tests.support.browser import (
    HOSTILE,
    HOSTILE_CODE,
    browser_log_in,
    csp_violations,
    standalone_file,
    village_points,
    wait_for_map,
)

pytestmark = pytest.mark.browser

CLASS_COLOURS = {c.key: c.colour for c in COVERAGE_CLASSES}


def assert_strict_csp(response) -> None:
    """The app itself sends a CSP without inline script (heating.web.headers); no exemption."""
    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy.split("style-src")[0]
    assert "frame-ancestors 'self'" in policy


def hover(pg, point: list[float]) -> str:
    """Move the mouse to ``point`` and return the tooltip's text."""
    x, y = point
    pg.mouse.move(x - 3, y - 2)
    pg.mouse.move(x, y)
    tooltip = pg.locator(".leaflet-tooltip")
    tooltip.wait_for()
    return tooltip.inner_text()


def test_the_map_fits_the_window_and_a_click_opens_the_village_under_the_pointer(
    page, live_server: str, map_scene
) -> None:
    violations = csp_violations(page)
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    assert_strict_csp(pg.goto(f"{live_server}/map"))
    wait_for_map(pg)
    # Nothing to scroll: the whole map is on screen at 1366×768.
    box_ = pg.locator("#map_heating").bounding_box()
    assert box_["y"] + box_["height"] <= 768 and box_["height"] >= 500
    assert pg.evaluate("document.scrollingElement.scrollHeight") <= 768
    names = {
        "140405001201": "南街村委会",
        "140405001202": "东街村委会",
        "140405101201": "上村村委会",
        HOSTILE_CODE: HOSTILE,
    }
    for code, name in names.items():
        if code != "140405001201":
            pg.goto(f"{live_server}/map")
            wait_for_map(pg)
        point = village_points(pg)[code]
        tip = hover(pg, point)
        assert tip.splitlines()[0].split("\t") == ["村", name]
        pg.mouse.down()
        pg.mouse.up()
        pg.wait_for_url(f"{live_server}/villages/{code}")
    assert page.blocked == [] and page.console_errors == [] and violations == []


def test_legend_states_both_dates_collapses_and_switches_layers(
    page, live_server: str, map_scene
) -> None:
    violations = csp_violations(page)
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    pg.goto(f"{live_server}/map")
    wait_for_map(pg)
    legend = pg.locator(".heating-legend")
    text = legend.inner_text()
    assert "数据截至 " in text and "禁煤区：截至 2021-10-31 派生" in text
    assert "重点缺口（1 个村）" in text and "禁煤区（1 片）" in text
    for c in COVERAGE_CLASSES:
        assert c.label in text
    # Each village is filled with its class colour; 东街 is outlined as a priority gap.
    fills = pg.evaluate(
        """() => heatingMap.layers.areas.getLayers().map(
                   v => [v.feature.properties.code, v.options.fillColor])"""
    )
    assert dict(fills) == {
        "140405001201": CLASS_COLOURS["meets"],
        "140405001202": CLASS_COLOURS["far"],
        "140405101201": CLASS_COLOURS["near"],
        HOSTILE_CODE: CLASS_COLOURS["far"],
    }
    # Zones drawn above the village outlines, as lines: no fill that would tint the classes.
    z = pg.evaluate(
        """() => { const pane = k => +heatingMap.map.getPane('heating-' + k).style.zIndex;
                   const shapes = [];
                   heatingMap.layers.zones.eachLayer(g => g.eachLayer(s => shapes.push(s.options.fill)));
                   return {zones: pane('zones'), priority: pane('priority'),
                           townships: pane('townships'), areas: pane('areas'), fills: shapes}; }"""
    )
    assert z["areas"] < z["townships"] < z["priority"] < z["zones"]
    assert z["fills"] and not any(z["fills"])
    # Switch the zones off and on in the layer control (collapsed: it opens on hover).
    pg.hover(".leaflet-control-layers")
    zones_box = pg.locator(".leaflet-control-layers-overlays label", has_text="禁煤区").locator(
        "input"
    )
    zones_box.uncheck()
    assert pg.evaluate("heatingMap.map.hasLayer(heatingMap.layers.zones)") is False
    assert "hidden-layer" in pg.locator(".heating-legend li[data-layer=zones]").get_attribute(
        "class"
    )
    zones_box.check()
    assert pg.evaluate("heatingMap.map.hasLayer(heatingMap.layers.zones)") is True
    # Collapse the legend to see the villages under it, and open it again.
    pg.click(".heating-legend-toggle")
    assert not pg.locator(".heating-legend-body").is_visible()
    assert pg.locator(".heating-legend").bounding_box()["width"] < 120
    pg.click(".heating-legend-toggle")
    assert pg.locator(".heating-legend-body").is_visible()
    assert page.blocked == [] and page.console_errors == [] and violations == []


def test_village_names_when_one_township_is_shown_and_a_printable_map(
    page, live_server: str, map_scene
) -> None:
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    pg.goto(f"{live_server}/map")
    wait_for_map(pg)
    # The whole district at its fitted zoom: township names, no village names.
    labels = pg.locator(".heating-label-village").all_inner_texts()
    assert labels == [] or pg.evaluate("heatingMap.map.getZoom()") >= 13
    pg.goto(f"{live_server}/map?township=140405001")
    wait_for_map(pg)
    assert sorted(pg.locator(".heating-label-village").all_inner_texts()) == [
        "东街村委会",
        "南街村委会",
    ]
    # Shapes are SVG paths at this size: a printout keeps them (stacked canvases may be left out).
    assert pg.locator(".leaflet-heating-areas-pane path").count() == 2
    pg.emulate_media(media="print")
    assert pg.locator(".leaflet-heating-areas-pane path").count() == 2
    assert not pg.locator(".leaflet-control-zoom").is_visible()
    assert not pg.locator(".map-bar form").is_visible()
    assert not pg.locator(".leaflet-control-layers").is_visible()
    assert not pg.locator(".heating-legend-toggle").is_visible()
    legend = pg.locator(".heating-legend")
    assert legend.is_visible() and "麟绛街道 清洁取暖覆盖率" in legend.inner_text()
    assert "数据截至" in legend.inner_text()
    pg.emulate_media(media="screen")
    assert page.blocked == [] and page.console_errors == []


def test_hostile_names_are_text_everywhere_on_the_map(page, live_server: str, map_scene) -> None:
    pg = page.page
    dialogs: list[str] = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    browser_log_in(pg, live_server, "dave")
    pg.goto(f"{live_server}/map?township=140405101")
    wait_for_map(pg)
    tip = hover(pg, village_points(pg)[HOSTILE_CODE])
    assert HOSTILE in tip and "上村镇" in tip
    assert HOSTILE in pg.locator(".heating-label-village").all_inner_texts()
    assert pg.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    pg.wait_for_timeout(200)
    assert dialogs == [] and page.console_errors == []


def test_clerk_sees_only_its_township_in_the_browser(page, live_server, map_scene) -> None:
    pg = page.page
    browser_log_in(pg, live_server, "bob")
    response = pg.goto(f"{live_server}/map?township=140405101")
    assert response.status == 403
    pg.goto(f"{live_server}/map")
    wait_for_map(pg)
    assert pg.evaluate("heatingMap.layers.areas.getLayers().length") == 2
    assert page.blocked == []


def test_zones_page_map_beside_the_table(page, live_server: str, map_scene) -> None:
    violations = csp_violations(page)
    pg = page.page
    browser_log_in(pg, live_server, "dave")
    assert_strict_csp(pg.goto(f"{live_server}/zones"))
    wait_for_map(pg)
    map_box = pg.locator("#map_heating").bounding_box()
    table_box = pg.locator("table#zones").bounding_box()
    assert map_box["x"] + map_box["width"] <= table_box["x"]  # side by side
    assert map_box["height"] >= 400
    assert pg.locator(".heating-label-zone").all_inner_texts() == ["JMQ-0001"]
    assert pg.evaluate("heatingMap.map.hasLayer(heatingMap.layers.zones)") is True
    assert page.blocked == [] and page.console_errors == [] and violations == []


def test_standalone_file_opens_with_no_network(
    page, runtime: Runtime, map_scene, tmp_path: Path
) -> None:
    runtime.config = runtime.config.with_overrides(
        basemap_url="http://tiles.example.invalid/{z}/{x}/{y}.png",
        basemap_attribution="测试底图 <b>x</b>",
    )
    pg = page.page
    pg.goto(standalone_file(runtime, tmp_path).as_uri())
    wait_for_map(pg)
    assert pg.evaluate("heatingMap.layers.areas.getLayers().length") == 4
    # Exactly one tile layer, with the configured URL (its requests are refused here).
    assert pg.evaluate(
        """() => { const urls = []; heatingMap.map.eachLayer(l => {
                     if (l instanceof L.TileLayer) urls.push(l._url); }); return urls; }"""
    ) == ["http://tiles.example.invalid/{z}/{x}/{y}.png"]
    assert pg.locator(".leaflet-control-attribution").inner_text() == "测试底图 <b>x</b>"
    assert pg.locator(".leaflet-control-attribution b").count() == 0
    tip = hover(pg, village_points(pg)["140405101201"])
    assert "上村村委会" in tip and "75.0%" in tip
    assert page.blocked and {u.split("/")[2] for u in page.blocked} == {"tiles.example.invalid"}
    assert set(page.console_errors) <= {"Failed to load resource: net::ERR_FAILED"}


def test_standalone_file_without_basemap_makes_no_request(
    page, runtime: Runtime, map_scene, tmp_path: Path
) -> None:
    requests: list[str] = []
    pg = page.page
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(standalone_file(runtime, tmp_path).as_uri())
    wait_for_map(pg)
    assert "南街村委会" in hover(pg, village_points(pg)["140405001201"])
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert page.blocked == [] and page.console_errors == []
