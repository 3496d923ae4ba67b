"""/map and the GeoJSON endpoints: roles, township scoping, coordinates."""

from __future__ import annotations

import html as html_lib
import re
from datetime import date

import pytest
from shapely.geometry import box

from heating.models import Zone, ZoneDerivation
from heating.runtime import Runtime
from tests.support import add_households_by_status


@pytest.fixture
def scene(runtime: Runtime, users: dict[str, int], tiny_district: dict[str, int]) -> None:
    add_households_by_status(runtime, tiny_district["140405001201"], clean=10)
    add_households_by_status(runtime, tiny_district["140405101201"], clean=15, pending=5)
    with runtime.session() as session:
        derivation = ZoneDerivation(as_of=date(2021, 10, 31), summary={"enclaves": []})
        session.add(derivation)
        session.flush()
        session.add(
            Zone(
                derivation_id=derivation.id,
                zone_id="JMQ-001",
                geometry=box(112.80, 36.30, 112.81, 36.31).wkb,
                area_km2=1.0,
                village_codes=["140405001201"],
                touching=["140405001202"],
            )
        )


@pytest.mark.parametrize("path", ["/api/villages.geojson", "/api/zones.geojson"])
def test_api_answers_401_json_when_anonymous(client, scene, path: str) -> None:  # noqa: ANN001
    resp = client.get(path)
    assert resp.status_code == 401
    assert resp.is_json and resp.get_json()["message"] == "请先登录。"


def test_map_page_redirects_anonymous_to_login(client, scene) -> None:  # noqa: ANN001
    resp = client.get("/map")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_villages_geojson_has_lonlat_coordinates_and_measures(login, scene) -> None:  # noqa: ANN001
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
        "target": 1.0,
        "gap": 0,
        "meets": True,
        "boundary_generated": False,
    }


def test_clerk_sees_only_its_own_township(login, scene) -> None:  # noqa: ANN001
    client = login("bob")  # clerk of 140405001
    data = client.get("/api/villages.geojson").get_json()
    assert {f["properties"]["township_code"] for f in data["features"]} == {"140405001"}
    assert client.get("/api/villages.geojson?township=140405101").status_code == 403
    assert client.get("/api/zones.geojson?township=140405101").status_code == 403
    assert client.get("/map?township=140405101").status_code == 403
    page = client.get("/map").get_data(as_text=True)
    assert "上村村委会" not in page and "南街村委会" in page
    assert 'value="140405101"' not in page


def test_zones_geojson_lists_the_current_zones(login, scene) -> None:  # noqa: ANN001
    data = login("erin").get("/api/zones.geojson").get_json()
    (zone,) = data["features"]
    assert zone["properties"]["zone_id"] == "JMQ-001"
    assert zone["properties"]["villages"] == ["140405001201"]
    lon, lat = zone["geometry"]["coordinates"][0][0]
    assert 112.79 < lon < 112.82 and 36.29 < lat < 36.32
    assert login("carol").get("/api/zones.geojson").get_json()["features"] == []


@pytest.mark.parametrize("user", ["alice", "bob", "dave", "erin"])
def test_every_role_opens_the_map(login, scene, user: str) -> None:  # noqa: ANN001
    client = login(user)
    resp = client.get("/map")
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "覆盖地图" in page and "<iframe" in page
    srcdoc = html_lib.unescape(re.search(r'srcdoc="([^"]*)"', page).group(1))
    assert "/static/vendor/leaflet-1.9.3/leaflet.js" in srcdoc
    assert "/villages/140405001201" in srcdoc
    assert not re.findall(r"https?://", srcdoc)
    # The vendored asset is really served.
    assert client.get("/static/vendor/leaflet-1.9.3/leaflet.js").status_code == 200


def test_unknown_township_is_404(login, scene) -> None:  # noqa: ANN001
    client = login("dave")
    assert client.get("/map?township=140405999").status_code == 404
    assert client.get("/api/villages.geojson?district=149999").status_code == 404
