"""Loading village boundaries: formats, CRSs, encodings, matching, repair, findings."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from shapely.geometry import Polygon, box

from geo.boundaries import load_boundaries
from geo.crs import STORAGE_CRS, projected_crs_for
from geo.villages import villages_frame
from heating.errors import Refused
from heating.models import Village
from heating.names import village_base, village_keys

# The tiny district's villages (conftest TINY): four 0.01° squares in a row.
SQUARES = {
    "140405001201": ("南街村委会", "麟绛街道", box(112.80, 36.30, 112.81, 36.31)),
    "140405001202": ("东街村委会", "麟绛街道", box(112.81, 36.30, 112.82, 36.31)),
    "140405101201": ("上村村委会", "上村镇", box(112.82, 36.30, 112.83, 36.31)),
    "140405101202": ("下村村委会", "上村镇", box(112.83, 36.30, 112.84, 36.31)),
}


def frame(codes: bool = True, names: str = "full", crs: str = STORAGE_CRS) -> gpd.GeoDataFrame:
    data: dict[str, list] = {}
    if codes:
        data["XZQDM"] = list(SQUARES)
    if names == "full":
        data["NAME"] = [v[0] for v in SQUARES.values()]
    elif names == "short":
        data["村名"] = [v[0].removesuffix("村委会") + "村" for v in SQUARES.values()]
        data["乡镇"] = [v[1] for v in SQUARES.values()]
    geoms = [v[2] for v in SQUARES.values()]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=STORAGE_CRS).to_crs(crs)


def clear_boundaries(runtime) -> None:
    with runtime.session() as session:
        for village in session.query(Village):
            village.geometry = None


def stored(runtime) -> gpd.GeoDataFrame:
    with runtime.session() as session:
        return villages_frame(session)


def zip_shapefile(gdf: gpd.GeoDataFrame, tmp_path: Path, *, encoding: str, keep_cpg: bool) -> Path:
    folder = tmp_path / "shp"
    folder.mkdir()
    gdf.to_file(folder / "村界.shp", engine="pyogrio", encoding=encoding)
    if not keep_cpg:
        (folder / "村界.cpg").unlink()
    target = tmp_path / "村界.zip"
    with zipfile.ZipFile(target, "w") as archive:
        for f in folder.iterdir():
            archive.write(f, f.name)
    return target


def test_geojson_with_codes_is_matched_and_stored_in_4490(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    path = tmp_path / "villages.geojson"
    frame().to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.crs == "EPSG:4490"
    assert report.code_field == "XZQDM"
    assert (report.features, report.matched, report.repaired) == (4, 4, 0)
    assert report.unmatched_boundaries == []
    assert report.villages_without_boundary == []
    result = stored(runtime)
    assert result.crs == STORAGE_CRS
    for code, (_, _, square) in SQUARES.items():
        geom = result.set_index("code").geometry[code]
        assert geom.equals_exact(square, tolerance=1e-9)
    with runtime.session() as session:
        village = session.query(Village).filter_by(code="140405001201").one()
        assert village.boundary_source == "villages.geojson"
        assert village.boundary_generated is False


def test_a_load_is_audited_once_with_who_loaded_it(runtime, users, tmp_path):
    from sqlalchemy import select

    from heating.models import AuditEntry

    clear_boundaries(runtime)
    path = tmp_path / "villages.geojson"
    frame().to_file(path, engine="pyogrio")
    with runtime.session() as session:
        load_boundaries(session, path, source_name="村界.geojson", user_id=users["alice"])
    with runtime.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "boundaries_load"))
        assert [(e.username, e.target, e.detail["matched"]) for e in entries] == [
            ("alice", "村界.geojson", 4)
        ]


def test_projected_gauss_kruger_input_is_read_and_reprojected(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    assert projected_crs_for(112.82) == "EPSG:4547"
    path = tmp_path / "villages.gpkg"
    frame(crs="EPSG:4547").to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.crs == "EPSG:4547"
    assert "EPSG:4547" in report.crs_read
    result = stored(runtime).set_index("code")
    for code, (_, _, square) in SQUARES.items():
        # Round trip through Gauss–Krüger: within a micro-degree (~10 cm).
        assert result.geometry[code].equals_exact(square, tolerance=1e-6)


def test_gbk_shapefile_without_cpg_comes_out_in_chinese(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    path = zip_shapefile(
        frame(codes=False, names="short"), tmp_path, encoding="gbk", keep_cpg=False
    )
    with zipfile.ZipFile(path) as archive:
        assert not any(n.endswith(".cpg") for n in archive.namelist())
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.encoding == "GB18030"
    assert report.name_field == "村名"
    assert report.township_field == "乡镇"
    assert report.matched == 4 and report.matched_by_name == 4


def test_encoding_option_overrides_detection(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    path = zip_shapefile(
        frame(codes=False, names="short"), tmp_path, encoding="gbk", keep_cpg=False
    )
    with runtime.session() as session:
        report = load_boundaries(session, path, encoding="gbk", name_field="村名")
    assert report.encoding == "GBK"
    assert report.matched == 4


def test_bow_tie_ring_is_repaired_keeping_its_polygons(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    gdf = frame()
    # A bow-tie over the first village: two triangles meeting at its centre.
    bow_tie = Polygon([(112.80, 36.30), (112.81, 36.31), (112.81, 36.30), (112.80, 36.31)])
    assert not bow_tie.is_valid
    gdf.loc[0, "geometry"] = bow_tie
    path = tmp_path / "bowtie.geojson"
    gdf.to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.repaired == 1 and report.matched == 4
    geom = stored(runtime).set_index("code").geometry["140405001201"]
    assert geom.is_valid and geom.geom_type == "MultiPolygon"
    assert geom.area == pytest.approx(0.01 * 0.01 / 2)


def test_overlaps_and_gaps_between_neighbours_are_reported(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    gdf = frame()
    # 南街 reaches 0.001° into 东街 (about 90 m × 1.1 km ≈ 0.1 km² overlap) …
    gdf.loc[0, "geometry"] = box(112.80, 36.30, 112.811, 36.31)
    # … and 上村 has a hole no village claims (about 100 m × 100 m).
    gdf.loc[2, "geometry"] = box(112.82, 36.30, 112.83, 36.31).difference(
        box(112.824, 36.304, 112.825, 36.305)
    )
    path = tmp_path / "overlap.geojson"
    gdf.to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    data = report.as_json()
    assert data["projected_crs"] == "EPSG:4547"
    [overlap] = data["overlaps"]
    assert overlap["villages"] == ["140405001201", "140405001202"]
    assert overlap["area_m2"] == pytest.approx(0.001 * 0.01 * 90_000 * 111_000, rel=0.05)
    [gap] = data["gaps"]
    assert gap["area_m2"] == pytest.approx(0.001 * 0.001 * 90_000 * 111_000, rel=0.05)
    assert gap["villages"] == ["140405101201"]


def test_features_matching_no_village_are_listed(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    gdf = frame().iloc[:3].copy()
    gdf.loc[2, "XZQDM"] = "140405999999"
    gdf.loc[2, "NAME"] = "不存在村"
    path = tmp_path / "partial.geojson"
    gdf.to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.matched == 2
    assert [u["feature"] for u in report.unmatched_boundaries] == [3]
    assert report.unmatched_boundaries[0]["name"] == "不存在村"
    assert report.villages_without_boundary == ["140405101201", "140405101202"]


def test_reload_updates_matched_villages_and_keeps_others(runtime, tiny_district, tmp_path):
    first = tmp_path / "first.geojson"
    frame().to_file(first, engine="pyogrio")
    with runtime.session() as session:
        load_boundaries(session, first)
    second = tmp_path / "second.geojson"
    moved = frame().iloc[:1].copy()
    moved.loc[0, "geometry"] = box(112.80, 36.30, 112.805, 36.31)
    moved.to_file(second, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, second)
    assert report.matched == 1 and report.villages_without_boundary == []
    result = stored(runtime).set_index("code").geometry
    assert result["140405001201"].equals_exact(box(112.80, 36.30, 112.805, 36.31), 1e-9)
    assert result["140405001202"].equals_exact(SQUARES["140405001202"][2], 1e-9)


def test_file_matching_nothing_is_refused_and_changes_nothing(runtime, tiny_district, tmp_path):
    gdf = gpd.GeoDataFrame(
        {"FID_1": [1, 2], "MC": ["甲", "乙"]},
        geometry=[box(0, 0, 1, 1), box(1, 0, 2, 1)],
        crs="EPSG:4326",
    )
    path = tmp_path / "other.geojson"
    gdf.to_file(path, engine="pyogrio")
    before = stored(runtime)
    with runtime.session() as session, pytest.raises(Refused) as caught:
        load_boundaries(session, path)
    assert "FID_1" in caught.value.message and "MC" in caught.value.message
    assert "--code-field" in caught.value.message
    assert_geodataframe_equal(stored(runtime), before)


def test_file_without_crs_and_not_lonlat_is_refused(runtime, tiny_district, tmp_path):
    # GeoJSON without a crs member is lon/lat by definition; a Shapefile without .prj is not.
    projected = frame(crs="EPSG:4547")
    folder = tmp_path / "noprj"
    folder.mkdir()
    projected.to_file(folder / "v.shp", engine="pyogrio")
    (folder / "v.prj").unlink()
    with runtime.session() as session, pytest.raises(Refused) as caught:
        load_boundaries(session, folder / "v.shp")
    assert "坐标系" in caught.value.message


def test_unknown_code_field_option_names_the_fields(runtime, tiny_district, tmp_path):
    path = tmp_path / "villages.geojson"
    frame().to_file(path, engine="pyogrio")
    with runtime.session() as session, pytest.raises(Refused) as caught:
        load_boundaries(session, path, code_field="CUNDM")
    assert "CUNDM" in caught.value.message and "XZQDM" in caught.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("南街村委会", "南街"), ("南街村", "南街"), (" 南 街 ", "南街"), ("城东社区居委会", "城东")],
)
def test_village_names_compare_without_suffixes(raw, expected):
    assert village_base(raw) == expected


@pytest.mark.parametrize("written", ["上村村委会", "上村村", "上村", "上村村民委员会"])
def test_a_village_name_matches_however_the_suffix_is_written(written):
    registry = village_keys("上村村委会")
    assert set(village_keys(written)) & set(registry)


def test_villages_frame_filters_by_township(runtime, tiny_district):
    with runtime.session() as session:
        result = villages_frame(session, township_code="140405101")
    assert list(result.code) == ["140405101201", "140405101202"]
    assert list(result.columns[:7]) == [
        "code",
        "name",
        "township_code",
        "township_name",
        "district_code",
        "category",
        "total_households",
    ]
    assert result.crs == STORAGE_CRS
    assert shapely.equals(result.geometry.iloc[0], SQUARES["140405101201"][2])


def test_cli_boundaries_load_prints_json(run_cli, tiny_district, tmp_path):
    path = tmp_path / "villages.geojson"
    frame().to_file(path, engine="pyogrio")
    result = run_cli("boundaries", "load", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["crs"] == "EPSG:4490" and data["matched"] == 4 and data["features"] == 4
    assert set(data) >= {"unmatched_boundaries", "villages_without_boundary", "repaired"}


def test_cli_refuses_a_file_matching_nothing_with_exit_1(run_cli, tiny_district, tmp_path):
    path = tmp_path / "other.geojson"
    gpd.GeoDataFrame({"MC": ["甲"]}, geometry=[box(0, 0, 1, 1)], crs="EPSG:4326").to_file(
        path, engine="pyogrio"
    )
    result = run_cli("boundaries", "load", str(path))
    assert result.exit_code == 1
    assert "没有一个能与村庄名录匹配" in result.stderr


DATA = Path(__file__).parent / "data" / "geo"


def test_checked_in_gbk_gauss_kruger_shapefile_matches_by_township_and_name(runtime, tiny_district):
    clear_boundaries(runtime)
    with runtime.session() as session:
        report = load_boundaries(session, DATA / "tiny_gbk_4547_nocpg.zip")
    assert report.crs == "EPSG:4547" and report.encoding == "GB18030"
    assert (report.name_field, report.township_field) == ("CJMC", "XZMC")
    assert report.matched == 4 and report.unmatched_boundaries == []
    result = stored(runtime).set_index("code").geometry
    for code, (_, _, square) in SQUARES.items():
        # Shapefile rings run clockwise: compare normalised.
        assert result[code].normalize().equals_exact(square.normalize(), tolerance=1e-6)


def test_a_name_shared_by_two_townships_needs_the_township(runtime, tiny_district, tmp_path):
    with runtime.session() as session:
        session.query(Village).filter_by(code="140405101201").one().name = "南街村委会"
    gdf = gpd.GeoDataFrame(
        {"村名": ["南街村"]}, geometry=[SQUARES["140405001201"][2]], crs=STORAGE_CRS
    )
    path = tmp_path / "ambiguous.geojson"
    gdf.to_file(path, engine="pyogrio")
    with runtime.session() as session, pytest.raises(Refused):
        load_boundaries(session, path)
    gdf["乡镇"] = ["麟绛街道"]
    gdf.to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.matched == 1 and report.township_field == "乡镇"


def test_two_features_for_one_village_are_joined_and_reported(runtime, tiny_district, tmp_path):
    clear_boundaries(runtime)
    gdf = gpd.GeoDataFrame(
        {"code": ["140405001201", "140405001201"]},
        geometry=[box(112.80, 36.30, 112.805, 36.31), box(112.805, 36.30, 112.81, 36.31)],
        crs=STORAGE_CRS,
    )
    path = tmp_path / "halves.geojson"
    gdf.to_file(path, engine="pyogrio")
    with runtime.session() as session:
        report = load_boundaries(session, path)
    assert report.duplicates == [{"village": "140405001201", "features": [1, 2]}]
    geom = stored(runtime).set_index("code").geometry["140405001201"]
    assert geom.equals(SQUARES["140405001201"][2])


def test_shapefile_without_prj_in_lonlat_is_read_as_cgcs2000_and_says_so(
    runtime, tiny_district, tmp_path
):
    clear_boundaries(runtime)
    folder = tmp_path / "noprj"
    folder.mkdir()
    frame().to_file(folder / "v.shp", engine="pyogrio")
    (folder / "v.prj").unlink()
    with runtime.session() as session:
        report = load_boundaries(session, folder / "v.shp")
    assert report.crs == "EPSG:4490" and "推断" in report.crs_read
    assert report.matched == 4


def test_cli_boundaries_load_says_which_crs_it_read(run_cli, tiny_district, tmp_path):
    path = tmp_path / "villages.gpkg"
    frame(crs="EPSG:4547").to_file(path, engine="pyogrio")
    result = run_cli("boundaries", "load", str(path))
    assert result.exit_code == 0, result.stderr
    assert "EPSG:4547" in result.stdout and "匹配村庄 4 个" in result.stdout
