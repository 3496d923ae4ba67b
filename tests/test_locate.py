"""Points against coal-ban zones: inside (edge included), in an enclave, CRS checked up front."""

from __future__ import annotations

import geopandas as gpd
import pytest
from shapely.geometry import Point, box

from geo.locate import locate
from geo.zones import derive

# A 3×3 grid of villages drawn in lon/lat (EPSG:4490) with cells of 2⁻⁶ degree, so that
# every corner is exact in binary and a point "on the edge" is exactly on it:
#
#   A B C        all complete except E: one zone with a hole, E is an enclave
#   D E F
#   G H I
X0, Y0, S = 112.75, 36.5, 2**-6
NAMES = "ABCDEFGHI"
CODE = {n: f"1404050012{i + 1:02d}" for i, n in enumerate(NAMES)}
CELL = {
    n: box(X0 + S * (i % 3), Y0 - S * (i // 3 + 1), X0 + S * (i % 3 + 1), Y0 - S * (i // 3))
    for i, n in enumerate(NAMES)
}


def grid() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [CODE[n] for n in NAMES]}, geometry=[CELL[n] for n in NAMES], crs="EPSG:4490"
    )


@pytest.fixture
def zones_and_enclaves() -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    derived = derive(grid(), [CODE[n] for n in "ABCDFGHI"])
    assert derived.enclaves == [CODE["E"]]
    zones = gpd.GeoDataFrame(
        {"zone_id": [z.zone_id for z in derived.zones]},
        geometry=[z.geometry for z in derived.zones],
        crs="EPSG:4490",
    )
    villages = grid()
    return zones, villages[villages["code"].isin(derived.enclaves)]


POINTS = {
    "in_a": Point(X0 + S / 2, Y0 - S / 2),
    "outer_edge": Point(X0, Y0 - S / 2),  # exactly on the zone's outer boundary (A's west side)
    "outer_corner": Point(X0 + 3 * S, Y0 - 3 * S),  # I's south-east corner
    "hole_edge": Point(X0 + S, Y0 - 1.5 * S),  # on the border of D and the enclave E
    "in_enclave": Point(X0 + 1.5 * S, Y0 - 1.5 * S),
    "outside": Point(X0 - S, Y0 - S / 2),
    "unknown": None,
}


def points(crs: str = "EPSG:4490") -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"name": list(POINTS)}, geometry=gpd.GeoSeries(list(POINTS.values())), crs=crs
    )


def test_a_point_on_a_zone_edge_is_inside_and_an_enclave_is_not(zones_and_enclaves) -> None:
    zones, enclaves = zones_and_enclaves
    located = locate(points(), zones, enclaves).set_index("name")
    assert located["in_zone"].to_dict() == {
        "in_a": True,
        "outer_edge": True,
        "outer_corner": True,
        "hole_edge": True,
        "in_enclave": False,
        "outside": False,
        "unknown": False,
    }
    assert located["in_enclave"].to_dict() == {
        "in_a": False,
        "outer_edge": False,
        "outer_corner": False,
        "hole_edge": False,  # inside the zone already: not counted twice
        "in_enclave": True,
        "outside": False,
        "unknown": False,
    }
    assert located.loc["in_enclave", "enclave"] == CODE["E"]
    assert located.loc["in_a", "zone_id"] == "JMQ-0001"
    assert located.loc["outside", "zone_id"] is None
    # The input is not modified and keeps its columns and order.
    assert list(located.index) == list(POINTS)


def test_within_leaves_the_edge_out(zones_and_enclaves) -> None:
    zones, enclaves = zones_and_enclaves
    located = locate(points(), zones, enclaves, predicate="within").set_index("name")
    assert not located.loc["outer_edge", "in_zone"]
    assert located.loc["in_a", "in_zone"]


def test_no_zones_means_nothing_is_inside() -> None:
    empty = gpd.GeoDataFrame({"zone_id": []}, geometry=[], crs="EPSG:4490")
    located = locate(points(), empty)
    assert not located["in_zone"].any()
    assert not located["in_enclave"].any()


def test_crs_is_checked_up_front(zones_and_enclaves) -> None:
    zones, enclaves = zones_and_enclaves
    with pytest.raises(ValueError, match="'points' should be in EPSG:4490, got EPSG:4547"):
        locate(points().set_crs("EPSG:4547", allow_override=True), zones, enclaves)
    with pytest.raises(ValueError, match="'zones' should be in EPSG:4490, got None"):
        locate(points(), gpd.GeoDataFrame({"zone_id": []}, geometry=[]))
    with pytest.raises(ValueError, match="predicate"):
        locate(points(), zones, predicate="touches")
