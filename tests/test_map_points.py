"""Heat sources and coal boilers on the coverage map: off by default, classes, alerts, escaping."""

from __future__ import annotations

import json
from datetime import date

import pytest

from geo.maps import map_data
from geo.maps_document import map_document
from heating.runtime import Runtime
from imports.boilers import load_boilers
from imports.heat_sources import load_heat_sources
from tests.support.registers import REGISTER, boiler_row, boiler_xlsx, register_xlsx
from tests.support.users import PASSWORD
from tests.support.zones import add_zone

HOSTILE = "<img src=x onerror=alert(1)>${alert(1)}{{ cycler.__name__ }}"


@pytest.fixture
def points_scene(runtime: Runtime, tiny_district: dict[str, int]) -> None:
    """The register (one non-compliant source inside the district) and four coal boilers."""
    rows = [list(r) for r in REGISTER]
    rows[2][5:7] = [112.815, 36.305]  # the grade C steel works, inside 东街
    rows[1][5:7] = [112.825, 36.305]  # a compliant waste-heat source, inside 上村
    rows[0][5:7] = [113.9, 37.5]  # far away: not on this map
    add_zone(runtime, [], [], (112.80, 36.30, 112.82, 36.31), as_of=date(2021, 10, 31))
    with runtime.session() as s:
        load_heat_sources(s, register_xlsx(rows), "热源.xlsx", config=runtime.config)
        load_boilers(
            s,
            boiler_xlsx(
                [
                    boiler_row("GL-1", unit=HOSTILE, lon=112.805, state="在用"),  # in the zone
                    boiler_row("GL-2", lon=112.835, state="停用", state_date="2020-01-01"),
                    boiler_row("GL-3", lon=112.806, state="拆除", state_date="2020-01-01"),
                    boiler_row("GL-4", lon=None, lat=None),  # no point: not drawn
                    boiler_row("GL-5", lon=112.808, tph=50),  # out of scope
                ]
            ),
            "锅炉.xlsx",
            config=runtime.config,
        )


def document(runtime: Runtime, **kwargs) -> dict:
    with runtime.session() as s:
        return map_document(map_data(s, runtime.config, **kwargs))


def layer(doc: dict, key: str) -> dict:
    return next(spec for spec in doc["layers"] if spec["key"] == key)


def test_point_layers_are_off_by_default_with_classes_and_alerts(runtime, points_scene) -> None:
    doc = document(runtime)
    sources = layer(doc, "heat_sources")
    assert sources["show"] is False and sources["kind"] == "points"
    assert sources["label"] == "热源（2 个，不合规 1 个）"
    tips = {p[2]["tip"][0]: p[2] for p in sources["points"]}
    assert "屯留热电厂" not in tips  # outside the map
    steel = tips["屯留县兴旺钢铁有限责任公司"]
    assert steel["cls"] == "waste_heat" and steel["alert"] == 1
    assert steel["tip"][4].startswith("不合规：工业余热热源环保绩效等级为 C 级")
    assert "alert" not in tips["长治市恒达焦化有限公司"]
    assert [c["key"] for c in sources["classes"]] == ["waste_heat"]
    assert sources["alert"]["color"] == "#d7191c"

    boilers = layer(doc, "boilers")
    assert boilers["show"] is False
    assert boilers["label"] == "燃煤锅炉（3 台，禁煤区内未清零 1 台）"
    by_code = {p[2]["tip"][0]: p[2] for p in boilers["points"]}
    assert set(by_code) == {"GL-1", "GL-2", "GL-3"}
    assert by_code["GL-1"]["alert"] == 1 and by_code["GL-1"]["tip"][6] == "禁煤区 JMQ-0001 内"
    assert "alert" not in by_code["GL-3"]  # removed: cleared, though inside the zone
    assert by_code["GL-2"]["cls"] == "idle" and by_code["GL-2"]["overdue"] == 1
    assert {c["key"] for c in boilers["classes"]} == {"in_use", "idle", "removed"}
    # Drawn above the areas and zones: after them in the list.
    keys = [spec["key"] for spec in doc["layers"]]
    assert keys.index("boilers") > keys.index("zones") > keys.index("areas")


def test_user_text_in_points_is_escaped(runtime, points_scene) -> None:
    text = json.dumps(layer(document(runtime), "boilers"), ensure_ascii=False)
    assert "<img" not in text and "${" not in text and "{{" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;&#36;&#123;alert(1)&#125;" in text


def test_a_township_map_shows_its_own_boilers(runtime, points_scene) -> None:
    doc = document(runtime, township_code="140405101")
    assert "boilers" not in [spec["key"] for spec in doc["layers"]]  # none there
    doc = document(runtime, township_code="140405001")
    assert len(layer(doc, "boilers")["points"]) == 3


def test_no_register_and_no_boilers_means_no_point_layers(runtime, tiny_district) -> None:
    keys = [spec["key"] for spec in document(runtime)["layers"]]
    assert "heat_sources" not in keys and "boilers" not in keys


@pytest.mark.browser
def test_the_point_layers_in_a_real_browser(page, live_server, users, points_scene) -> None:
    pg = page.page
    pg.goto(f"{live_server}/login")
    pg.fill("input[name=username]", "dave")
    pg.fill("input[name=password]", PASSWORD)
    pg.click("button[type=submit]")
    pg.wait_for_url(f"{live_server}/")
    pg.goto(f"{live_server}/map")
    pg.wait_for_function("() => window.heatingMap !== undefined && !!heatingMap.layers.boilers")
    # Off by default, listed in the layer control and the legend (with their classes).
    assert pg.evaluate("heatingMap.map.hasLayer(heatingMap.layers.boilers)") is False
    assert pg.evaluate("heatingMap.map.hasLayer(heatingMap.layers.heat_sources)") is False
    legend = pg.locator(".heating-legend li[data-layer=boilers]")
    assert "禁煤区内未清零 1 台" in legend.inner_text() and "停用" in legend.inner_text()
    assert "hidden-layer" in legend.get_attribute("class")
    pg.hover(".leaflet-control-layers")
    pg.locator(".leaflet-control-layers-overlays label", has_text="燃煤锅炉").locator(
        "input"
    ).check()
    assert pg.evaluate("heatingMap.map.hasLayer(heatingMap.layers.boilers)") is True
    styles = pg.evaluate(
        """() => { const out = {};
                   heatingMap.layers.boilers.eachLayer(m => {
                     const c = heatingMap.map.latLngToContainerPoint(m.getLatLng());
                     out[m.options.fillColor] = [m.options.color, m.options.radius, c.x, c.y]; });
                   return out; }"""
    )
    in_zone = styles["#000000"]  # in use, inside the zone: red rim, larger
    assert in_zone[:2] == ["#d7191c", 8]
    assert styles["#f46d43"][:2] == ["#333333", 5]  # idle, outside
    # The tooltip shows the hostile unit name as text, nothing runs.
    box_ = pg.locator("#map_heating").bounding_box()
    pg.mouse.move(box_["x"] + in_zone[2], box_["y"] + in_zone[3])
    tip = pg.locator(".leaflet-tooltip")
    tip.wait_for()
    assert "<img src=x onerror=alert(1)>${alert(1)}" in tip.inner_text()
    assert "禁煤区内仍未清零" in tip.inner_text()
    # With the points shown, the villages around them still answer the pointer.
    x, y = pg.evaluate(
        """() => { const c = heatingMap.map.latLngToContainerPoint(L.latLng(36.3075, 112.825));
                   return [c.x, c.y]; }"""
    )
    pg.mouse.move(box_["x"] + x, box_["y"] + y)
    pg.wait_for_function(
        "() => (document.querySelector('.leaflet-tooltip') || {}).innerText?.includes('上村村委会')"
    )
    assert page.blocked == [] and page.console_errors == []
