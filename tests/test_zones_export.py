"""Exporting coal-ban zones: GeoJSON, GeoPackage, zipped Shapefile read back with geopandas."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date

import geopandas as gpd
import pyogrio
import pytest
import shapely
from pyproj import CRS

from geo.export import _fit_dbf, export_zones
from geo.zone_derivations import derive_zones
from heating.errors import Refused
from heating.models import Village

# The tiny district (conftest): 南街/东街 (麟绛街道), 上村/下村 (上村镇), 0.01° squares in a row.
TWO_ZONES = {"140405001201", "140405001202", "140405101202"}


@pytest.fixture
def derived(runtime, tiny_district):
    with runtime.session() as session:
        # A village name a spreadsheet would take for a formula must stay text.
        session.query(Village).filter_by(code="140405101202").one().name = "=下村村委会"
        result = derive_zones(
            session, runtime.config.profile, as_of=date(2021, 10, 31), complete=TWO_ZONES
        )
        return result.as_json()


def test_geojson_export_is_rfc7946_lonlat_with_the_village_list(runtime, derived, tmp_path):
    path = tmp_path / "禁煤区.geojson"
    with runtime.session() as session:
        written = export_zones(session, path)
    assert written.zones == 2
    data = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in data and "EPSG:4490" in data["crs_note"]
    first = data["features"][0]
    assert first["properties"]["zone_id"] == "JMQ-0001"
    assert first["properties"]["villages"] == "140405001201,140405001202"
    assert [v["name"] for v in first["properties"]["village_list"]] == ["南街村委会", "东街村委会"]
    lon, lat = first["geometry"]["coordinates"][0][0]
    assert 112.79 < lon < 112.85 and 36.29 < lat < 36.32
    # Outer rings counter-clockwise (RFC 7946 §3.1.6).
    ring = shapely.LinearRing(first["geometry"]["coordinates"][0])
    assert ring.is_ccw

    frame = gpd.read_file(path, engine="pyogrio")
    assert CRS.from_user_input(frame.crs).to_epsg() == 4326  # GeoJSON's only CRS; 4490 to cm
    assert list(frame.zone_id) == ["JMQ-0001", "JMQ-0002"]
    assert list(frame.village_count) == [2, 1]
    assert frame.area_km2.iloc[0] == pytest.approx(derived["zones"][0]["area_km2"])
    assert frame.village_names.iloc[0] == "南街村委会,东街村委会"


def test_geopackage_export_has_zones_and_their_villages_in_4490(runtime, derived, tmp_path):
    path = tmp_path / "zones.gpkg"
    with runtime.session() as session:
        export_zones(session, path)
    layers = [name for name, _ in pyogrio.list_layers(path)]
    assert layers == ["zones", "zone_villages"]
    zones = gpd.read_file(path, layer="zones", engine="pyogrio")
    assert zones.crs == "EPSG:4490"
    assert list(zones.columns[:4]) == ["zone_id", "village_count", "area_km2", "villages"]
    # 南街 ∪ 东街: topologically the 0.02° × 0.01° box (the shared vertices remain).
    assert zones.geometry.iloc[0].equals(shapely.box(112.80, 36.30, 112.82, 36.31))
    villages = gpd.read_file(path, layer="zone_villages", engine="pyogrio")
    assert villages.crs == "EPSG:4490"
    assert list(zip(villages.zone_id, villages.code, villages.name, strict=True)) == [
        ("JMQ-0001", "140405001201", "南街村委会"),
        ("JMQ-0001", "140405001202", "东街村委会"),
        ("JMQ-0002", "140405101202", "=下村村委会"),
    ]


def test_zipped_shapefile_has_a_utf8_cpg_and_reads_back_in_chinese(runtime, derived, tmp_path):
    path = tmp_path / "zones.zip"
    with runtime.session() as session:
        export_zones(session, path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert {"zones.shp", "zones.shx", "zones.dbf", "zones.prj", "zones.cpg"} <= names
        assert archive.read("zones.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
        rows = list(csv.reader(io.StringIO(archive.read("zone_villages.csv").decode("utf-8-sig"))))
    assert rows[0][:3] == ["zone_id", "village_code", "village_name"]
    assert rows[1][:3] == ["JMQ-0001", "140405001201", "南街村委会"]
    assert rows[3][2] == "'=下村村委会"  # never a formula in a spreadsheet
    frame = gpd.read_file(path, engine="pyogrio")
    assert frame.crs == "EPSG:4490"
    assert all(len(c) <= 10 for c in frame.columns)
    assert list(frame.zone_id) == ["JMQ-0001", "JMQ-0002"]
    assert list(frame.vil_count) == [2, 1]
    assert frame.villages.iloc[0] == "140405001201,140405001202"
    # Village names with their township, read back in Chinese through the .cpg.
    assert frame.vil_names.iloc[0] == "南街村委会（麟绛街道）,东街村委会（麟绛街道）"
    assert frame.vil_names.iloc[1] == "=下村村委会（上村镇）"


def test_zipped_shapefile_lists_each_village_with_its_township(runtime, derived, tmp_path):
    path = tmp_path / "zones.zip"
    with runtime.session() as session:
        export_zones(session, path)
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        assert archive.read("zone_villages/zone_villages.cpg").decode().strip() == "UTF-8"
    assert {f"zone_villages/zone_villages.{x}" for x in ("shp", "shx", "dbf", "prj")} <= names
    # The zip still opens as the one layer of zones; the villages are a layer of their own.
    assert [name for name, _ in pyogrio.list_layers(path)] == ["zones"]
    villages = gpd.read_file(f"/vsizip/{path}/zone_villages/zone_villages.shp", engine="pyogrio")
    assert villages.crs == "EPSG:4490"
    assert all(len(c) <= 10 for c in villages.columns)
    assert villages[
        ["zone_id", "vil_code", "vil_name", "twp_code", "twp_name"]
    ].values.tolist() == [
        ["JMQ-0001", "140405001201", "南街村委会", "140405001", "麟绛街道"],
        ["JMQ-0001", "140405001202", "东街村委会", "140405001", "麟绛街道"],
        ["JMQ-0002", "140405101202", "=下村村委会", "140405101", "上村镇"],
    ]
    assert villages.geometry.notna().all()


def test_export_without_a_derivation_is_refused(runtime, tiny_district, tmp_path):
    with runtime.session() as session, pytest.raises(Refused) as caught:
        export_zones(session, tmp_path / "zones.geojson")
    assert "heating zones derive" in caught.value.message
    assert not (tmp_path / "zones.geojson").exists()


def test_cli_export_refuses_an_unknown_format(run_cli, derived, tmp_path):
    result = run_cli("zones", "export", "-o", str(tmp_path / "zones.kml"))
    assert result.exit_code == 1 and ".geojson" in result.stderr


def test_cli_export_writes_the_current_zones(run_cli, derived, tmp_path):
    path = tmp_path / "zones.gpkg"
    result = run_cli("zones", "export", "-o", str(path))
    assert result.exit_code == 0, result.stderr
    assert "2 片" in result.stdout
    assert len(gpd.read_file(path, layer="zones", engine="pyogrio")) == 2


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg", ".zip"])
def test_a_derivation_without_zones_exports_an_empty_file(runtime, tiny_district, tmp_path, suffix):
    with runtime.session() as session:
        derive_zones(session, runtime.config.profile, as_of=date(2021, 10, 31), complete=set())
        export_zones(session, tmp_path / f"zones{suffix}")
    assert len(gpd.read_file(tmp_path / f"zones{suffix}", engine="pyogrio")) == 0


def test_a_long_village_list_is_cut_at_a_code_to_fit_the_dbf():
    codes = ",".join(f"1404051012{i:02d}" for i in range(40))
    cut = _fit_dbf(codes)
    assert len(cut.encode("utf-8")) <= 254 and cut.endswith(",…")
    assert all(len(c) == 12 for c in cut.removesuffix(",…").split(","))
