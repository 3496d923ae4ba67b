"""/map, its data document, /zones' map and the GeoJSON endpoints: roles, scoping, no inline script."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import pytest

from heating.runtime import Runtime
from tests.support.households import add_households_by_status
from tests.support.zones import add_zone


@pytest.fixture
def scene(runtime: Runtime, users: dict[str, int], tiny_district: dict[str, int]) -> None:
    add_households_by_status(runtime, tiny_district["140405001201"], clean=10)
    add_households_by_status(runtime, tiny_district["140405101201"], clean=15, pending=5)
    add_zone(runtime, ["140405001201"], ["140405001202"])


@pytest.mark.parametrize(
    "path",
    ["/api/villages.geojson", "/api/zones.geojson"],
)
def test_api_answers_401_json_when_anonymous(client, scene, path: str) -> None:
    resp = client.get(path)
    assert resp.status_code == 401
    assert resp.is_json and resp.get_json()["message"] == "请先登录。"


def test_map_page_redirects_anonymous_to_login(client, scene) -> None:
    resp = client.get("/map")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_villages_geojson_has_lonlat_coordinates_and_measures(login, scene) -> None:
    resp = login("dave").get("/api/villages.geojson")
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    data = resp.get_json()
    assert data["type"] == "FeatureCollection" and len(data["features"]) == 4
    for feature in data["features"]:
        for lon, lat in feature["geometry"]["coordinates"][0]:
            assert 112.79 < lon < 112.85 and 36.29 < lat < 36.32
    south = next(f["properties"] for f in data["features"] if f["id"] == "140405001201")
    assert south == {
        "code": "140405001201",
        "name": "南街村委会",
        "township": "麟绛街道",
        "township_code": "140405001",
        "category": "county_core",
        "required": 10,
        "clean": 10,
        "coverage": 1.0,
        "effective_coverage": 1.0,
        "usage_checked": 0,  # no use imported: nothing checked, nothing verified
        "usage_flagged": 0,
        "verified_effective_coverage": None,
        "target": 1.0,
        "gap": 0,
        "meets": True,
        "heat_source_noncompliant": 0,
        "boundary_generated": False,
    }


def test_clerk_sees_only_its_own_township(login, scene) -> None:
    client = login("bob")  # clerk of 140405001
    data = client.get("/api/villages.geojson").get_json()
    assert {f["properties"]["township_code"] for f in data["features"]} == {"140405001"}
    assert client.get("/api/villages.geojson?township=140405101").status_code == 403
    assert client.get("/api/zones.geojson?township=140405101").status_code == 403
    assert client.get("/map?township=140405101").status_code == 403
    assert client.get("/map/script.js?township=140405101").status_code == 403
    assert client.get("/map/script.js?view=zones&township=140405101").status_code == 403
    page = client.get("/map").get_data(as_text=True)
    assert 'value="140405101"' not in page
    doc = document_of(client.get("/map/script.js").get_data(as_text=True))
    names = {g["properties"]["name"] for g in doc["topology"]["objects"]["areas"]["geometries"]}
    assert names == {"南街村委会", "东街村委会"}
    zones_doc = document_of(client.get("/map/script.js?view=zones").get_data(as_text=True))
    codes = {
        g["properties"]["code"] for g in zones_doc["topology"]["objects"]["areas"]["geometries"]
    }
    assert codes == {"140405001201", "140405001202"}


def test_zones_geojson_lists_the_current_zones(login, scene) -> None:
    data = login("erin").get("/api/zones.geojson").get_json()
    (zone,) = data["features"]
    assert zone["properties"]["zone_id"] == "JMQ-0001" and zone["id"] == "JMQ-0001"
    assert zone["properties"]["villages"] == ["140405001201"]
    lon, lat = zone["geometry"]["coordinates"][0][0]
    assert 112.79 < lon < 112.82 and 36.29 < lat < 36.32
    assert login("carol").get("/api/zones.geojson").get_json()["features"] == []


class _Scripts(HTMLParser):
    """Every <script> of a page: its attributes and whether it has inline code."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict] = []
        self.inline: list[str] = []
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self.scripts.append(dict(attrs))
            self._open = True

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = False


def document_of(script: str) -> dict:
    """The map document inside a map script (``HeatingMap.context(map, {...});``)."""
    found = re.search(r"HeatingMap\.context\(map_heating, (\{.*\})\);", script)
    return json.loads(found.group(1))


def scripts_of(page: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(page)
    return parser


@pytest.mark.parametrize("user", ["alice", "bob", "dave", "erin"])
@pytest.mark.parametrize("path", ["/map", "/zones"])
def test_map_pages_run_without_inline_script(login, scene, user: str, path: str) -> None:
    """The pages load only the app's own scripts, so they work under script-src 'self'."""
    client = login(user)
    resp = client.get(path)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    found = scripts_of(page)
    assert found.inline == [] and all(
        s.get("src", "").startswith(("/static/", "/map/script.js")) for s in found.scripts
    )
    sources = [s["src"] for s in found.scripts]
    for asset in (
        "/static/vendor/leaflet-1.9.3/leaflet.js",
        "/static/vendor/topojson-client-3.1.0/topojson-client.min.js",
        "/static/js/map.js",
    ):
        assert asset in sources
        assert client.get(asset).status_code == 200
    script = client.get(sources[-1])
    assert sources[-1].startswith("/map/script.js") and script.mimetype == "text/javascript"
    assert 'L.map(\n                "map_heating"' in script.get_data(as_text=True) or (
        '"map_heating"' in script.get_data(as_text=True)
    )
    assert 'id="map_heating"' in page
    assert "<iframe" not in page
    assert not re.search(r"<[^>]+\son[a-z]+\s*=", page)  # no inline event handlers either
    assert not re.findall(r"(?:src|href)=\"https?://", page)
    text = script.get_data(as_text=True)
    assert not re.findall(r"https?://", text)  # no CDN, no tiles: nothing leaves the app
    doc = document_of(text)
    assert doc["topology"]["type"] == "Topology" and doc["layers"]


def test_map_document_links_villages_into_the_app(login, scene) -> None:
    client = login("dave")
    page = client.get("/map?township=140405001").get_data(as_text=True)
    assert '<script src="/map/script.js?township=140405001">' in page
    doc = document_of(client.get("/map/script.js?township=140405001").get_data(as_text=True))
    (areas,) = [spec for spec in doc["layers"] if spec["key"] == "areas"]
    assert areas["link"] == "/villages/{code}"
    assert doc["summary"]["villages"] == 2 and doc["summary"]["zones"] == 1
    assert doc["dates"]["zones"] == "2021-10-31"
    overview = document_of(client.get("/map/script.js").get_data(as_text=True))
    assert overview["mode"] == "villages"  # 4 villages: far below the overview threshold


def test_zones_page_shows_the_zones_on_a_map_beside_the_table(login, scene) -> None:
    client = login("dave")
    page = client.get("/zones").get_data(as_text=True)
    assert 'class="zones-layout"' in page
    assert 'id="map_heating"' in page and '<script src="/map/script.js?view=zones">' in page
    assert page.index('id="map_heating"') < page.index('id="zones"')
    doc = document_of(client.get("/map/script.js?view=zones").get_data(as_text=True))
    (ids,) = [spec for spec in doc["layers"] if spec["key"] == "zone_ids"]
    assert [p[2] for p in ids["points"]] == ["JMQ-0001"]
    assert [spec["key"] for spec in doc["layers"]].index("zones") > 0


def test_unknown_township_is_404(login, scene) -> None:
    client = login("dave")
    assert client.get("/map?township=140405999").status_code == 404
    assert client.get("/api/villages.geojson?district=149999").status_code == 404
