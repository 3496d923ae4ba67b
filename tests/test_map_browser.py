"""The coverage map in a real headless chromium: /map in the app and the standalone file.

Requests to anything but the app (127.0.0.1) and file:// are refused by the
``page`` fixture and recorded in ``page.blocked``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from geo.maps import COVERAGE_CLASSES, build_map, display_text, render_html
from heating.models import Village
from heating.runtime import Runtime
from tests.support import PASSWORD, add_households_by_status

pytestmark = pytest.mark.browser

HOSTILE = "<img src=x onerror=alert(1)>${alert(1)}"
HOSTILE_CODE = "140405101202"


@pytest.fixture
def scene(runtime: Runtime, users: dict[str, int], tiny_district: dict[str, int]) -> None:
    add_households_by_status(runtime, tiny_district["140405001201"], clean=10)
    add_households_by_status(runtime, tiny_district["140405101201"], clean=15, pending=5)
    add_households_by_status(runtime, tiny_district[HOSTILE_CODE], clean=1, pending=1)
    with runtime.session() as session:
        session.scalar(select(Village).where(Village.code == HOSTILE_CODE)).name = HOSTILE


def wait_for_map(frame) -> None:  # noqa: ANN001
    frame.wait_for_function("window.heatingMap !== undefined && window.L !== undefined")


def drawn_villages(frame) -> int:  # noqa: ANN001
    """Village shapes Leaflet holds on the map (canvas renderer: count layers, not paths)."""
    return frame.evaluate(
        """() => { const l = heatingMap.layers.villages; let n = 0;
                   l.eachLayer(v => { if (v._map === heatingMap.map && v._parts.length) n++; });
                   return n; }"""
    )


def hover_village(page, frame, index: int, offset: tuple[float, float] = (0, 0)) -> None:  # noqa: ANN001
    """Move the mouse over the middle of village ``index`` (page coordinates)."""
    x, y = frame.evaluate(
        """(i) => { const v = heatingMap.layers.villages.getLayers()[i];
                    const p = heatingMap.map.latLngToContainerPoint(v.getBounds().getCenter());
                    const r = heatingMap.map.getContainer().getBoundingClientRect();
                    return [p.x + r.left, p.y + r.top]; }""",
        index,
    )
    dx, dy = offset
    if frame.parent_frame is not None:  # inside the app page's iframe
        box = frame.frame_element().bounding_box()
        dx, dy = dx + box["x"], dy + box["y"]
    page.mouse.move(x + dx, y + dy)
    page.mouse.move(x + dx + 3, y + dy + 2)


def village_index(frame, name_fragment: str) -> int:  # noqa: ANN001
    """The index of the village whose (escaped) name contains ``name_fragment``."""
    index = frame.evaluate(
        """(s) => heatingMap.layers.villages.getLayers()
                    .findIndex(v => v.feature.properties.name.includes(s))""",
        name_fragment,
    )
    assert index >= 0
    return index


def assert_hostile_name_is_text(page, frame) -> None:  # noqa: ANN001
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hover_village(page, frame, village_index(frame, "onerror"))
    tooltip = frame.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert HOSTILE in tooltip.inner_text()
    assert "上村镇" in tooltip.inner_text() and "覆盖率" in tooltip.inner_text()
    assert frame.locator(".leaflet-tooltip img").count() == 0
    assert frame.evaluate("document.querySelectorAll('img[src=x]').length") == 0
    page.wait_for_timeout(200)
    assert dialogs == []


def test_map_page_in_a_real_browser(page, live_server: str, scene) -> None:  # noqa: ANN001
    pg = page.page
    pg.goto(f"{live_server}/login")
    pg.fill("input[name=username]", "dave")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{live_server}/")
    pg.goto(f"{live_server}/map")
    frame = pg.locator("iframe.coverage-map").element_handle().content_frame()
    wait_for_map(frame)
    assert drawn_villages(frame) == 4
    assert frame.evaluate("heatingMap.layers.zones === undefined")
    legend = frame.locator(".heating-legend").inner_text()
    assert "达标" in legend and "差距较大" in legend and "清洁取暖覆盖率" in legend
    assert frame.evaluate("document.querySelectorAll('.leaflet-tile').length") == 0
    assert_hostile_name_is_text(pg, frame)
    # Clicking a village opens its page in the app (the whole window, not the frame).
    hover_village(pg, frame, village_index(frame, "南街村委会"))
    pg.mouse.down()
    pg.mouse.up()
    pg.wait_for_url(f"{live_server}/villages/140405001201")
    assert page.blocked == []
    assert page.console_errors == []


def test_clerk_gets_403_for_another_township_in_the_browser(page, live_server, scene) -> None:  # noqa: ANN001
    pg = page.page
    pg.goto(f"{live_server}/login")
    pg.fill("input[name=username]", "bob")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{live_server}/")
    response = pg.goto(f"{live_server}/map?township=140405101")
    assert response.status == 403
    response = pg.goto(f"{live_server}/map")
    frame = pg.locator("iframe.coverage-map").element_handle().content_frame()
    wait_for_map(frame)
    assert drawn_villages(frame) == 2
    assert page.blocked == []


def test_standalone_file_opens_with_no_network(
    page, runtime: Runtime, scene, tmp_path: Path
) -> None:  # noqa: ANN001
    runtime.config = runtime.config.with_overrides(
        basemap_url="http://tiles.example.invalid/{z}/{x}/{y}.png", basemap_attribution="测试底图"
    )
    with runtime.session() as session:
        m, _ = build_map(session, runtime.config, standalone=True)
    path = tmp_path / "map.html"
    path.write_text(render_html(m), encoding="utf-8")
    pg = page.page
    pg.goto(path.as_uri())
    wait_for_map(pg.main_frame)
    assert pg.evaluate("typeof L.map") == "function"
    assert drawn_villages(pg.main_frame) == 4
    # Exactly one tile layer, with the configured URL (its requests are refused here).
    assert pg.evaluate(
        """() => { const urls = []; heatingMap.map.eachLayer(l => {
                     if (l instanceof L.TileLayer) urls.push(l._url); }); return urls; }"""
    ) == ["http://tiles.example.invalid/{z}/{x}/{y}.png"]
    # Each village is filled with its class colour (南街 10/10 达标, 上村 15/20 接近 80%,
    # the hostile-named 下村 1/2 差距较大; 东街 has no ledger rows but a registry total of 8).
    fills = pg.evaluate(
        """() => heatingMap.layers.villages.getLayers().map(
                   v => [v.feature.properties.name, v.options.fillColor])"""
    )
    assert dict(fills) == {
        "南街村委会": COVERAGE_CLASSES["meets"][1],
        "东街村委会": COVERAGE_CLASSES["far"][1],
        "上村村委会": COVERAGE_CLASSES["near"][1],
        display_text(HOSTILE): COVERAGE_CLASSES["far"][1],
    }
    assert "乡镇界线" in pg.locator(".leaflet-control-layers").inner_text()
    assert "无数据" in pg.locator(".heating-legend").inner_text()
    assert_hostile_name_is_text(pg, pg.main_frame)
    # The only requests leaving the file are the configured basemap's tiles (refused here,
    # which chromium reports as failed loads); no other error.
    assert page.blocked and {u.split("/")[2] for u in page.blocked} == {"tiles.example.invalid"}
    assert set(page.console_errors) <= {"Failed to load resource: net::ERR_FAILED"}


def test_standalone_file_without_basemap_makes_no_request(
    page, runtime: Runtime, scene, tmp_path: Path
) -> None:  # noqa: ANN001
    with runtime.session() as session:
        m, _ = build_map(session, runtime.config, standalone=True)
    path = tmp_path / "map.html"
    path.write_text(render_html(m), encoding="utf-8")
    requests: list[str] = []
    pg = page.page
    pg.on("request", lambda r: requests.append(r.url))
    pg.goto(path.as_uri())
    wait_for_map(pg.main_frame)
    hover_village(pg, pg.main_frame, 0)
    pg.locator(".leaflet-tooltip").wait_for()
    assert "南街村委会" in pg.locator(".leaflet-tooltip").inner_text()
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert page.blocked == [] and page.console_errors == []
