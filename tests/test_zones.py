"""Deriving coal-ban zones: parts, stable identifiers, enclaves, touching villages, history."""

from __future__ import annotations

import json
from datetime import date, datetime

import geopandas as gpd
import pytest
from shapely.geometry import box

from geo.zone_derivations import (
    DerivationResult,
    current_derivation,
    derivation_history,
    derive_zones,
)
from geo.zones import derive
from heating.history import record_create, record_update
from heating.models import District, Household, Township, Village

# A 3×3 grid of 1 km squares drawn in Gauss–Krüger EPSG:4547 near 112.9°E, 36.1°N:
#
#   A B C        codes 140405001201 … 140405001209, row by row
#   D E F
#   G H I
X0, Y0 = 400_000, 4_000_000
NAMES = "ABCDEFGHI"
CODE = {n: f"1404050012{i + 1:02d}" for i, n in enumerate(NAMES)}
CELL = {
    n: box(
        X0 + 1000 * (i % 3), Y0 - 1000 * (i // 3), X0 + 1000 * (i % 3 + 1), Y0 - 1000 * (i // 3 - 1)
    )
    for i, n in enumerate(NAMES)
}


def grid() -> gpd.GeoDataFrame:
    frame = gpd.GeoDataFrame(
        {"code": [CODE[n] for n in NAMES], "total_households": [10] * 9},
        geometry=[CELL[n] for n in NAMES],
        crs="EPSG:4547",
    )
    return frame.to_crs("EPSG:4490")


def codes(names: str) -> list[str]:
    return sorted(CODE[n] for n in names)


def by_villages(derived) -> dict[tuple[str, ...], str]:
    return {tuple(z.villages): z.zone_id for z in derived.zones}


def previous_of(derived) -> dict[str, list[str]]:
    return {z.zone_id: z.villages for z in derived.zones}


def test_two_zones_with_known_areas_and_the_village_between_them():
    derived = derive(grid(), codes("ADG" + "CFI"))
    assert by_villages(derived) == {
        tuple(codes("ADG")): "JMQ-0001",
        tuple(codes("CFI")): "JMQ-0002",
    }
    for zone in derived.zones:
        assert zone.area_km2 == pytest.approx(3.0, rel=1e-6)
        assert zone.households == 30
        # Each column touches the whole middle column (B, E, H), and only it.
        assert zone.touching == codes("BEH")
    assert derived.enclaves == []
    assert derived.method == "coverage_union"


def test_an_incomplete_village_surrounded_by_zone_is_an_enclave():
    derived = derive(grid(), codes("ABCDFGHI"))
    [zone] = derived.zones
    assert zone.area_km2 == pytest.approx(8.0, rel=1e-6)
    assert len(zone.geometry.interiors) == 1
    assert derived.enclaves == [CODE["E"]]
    assert zone.touching == [CODE["E"]]


def test_a_village_at_the_edge_is_not_an_enclave():
    derived = derive(grid(), codes("ABDEGH"))
    assert derived.enclaves == []
    assert derived.zones[0].touching == codes("CFI")


def test_a_village_that_becomes_complete_joins_its_zone_keeping_the_identifier():
    first = derive(grid(), codes("ADG"))
    second = derive(grid(), codes("ADGB"), previous_of(first), next_number=2)
    assert by_villages(second) == {tuple(codes("ABDG")): "JMQ-0001"}
    assert second.added == [CODE["B"]] and second.removed == []
    assert second.zones[0].area_km2 == pytest.approx(4.0, rel=1e-6)


def test_a_zone_that_splits_keeps_its_identifier_on_the_larger_part():
    first = derive(grid(), codes("ABCFI"))
    assert by_villages(first) == {tuple(codes("ABCFI")): "JMQ-0001"}
    second = derive(grid(), codes("ACFI"), previous_of(first), next_number=2)
    assert by_villages(second) == {tuple(codes("CFI")): "JMQ-0001", tuple(codes("A")): "JMQ-0002"}
    assert second.removed == [CODE["B"]] and second.added == []


def test_merging_zones_keep_the_oldest_identifier():
    first = derive(grid(), codes("ADG" + "CFI"))
    second = derive(grid(), codes("ADGCFI" + "E"), previous_of(first), next_number=3)
    assert by_villages(second) == {tuple(codes("ADGCFIE")): "JMQ-0001"}
    assert second.added == [CODE["E"]]


def test_a_zone_whose_villages_all_lapse_disappears_and_its_identifier_is_not_reused():
    first = derive(grid(), codes("ADG" + "CFI"))
    second = derive(grid(), codes("CFI"), previous_of(first), next_number=3)
    third = derive(grid(), codes("CFI" + "G"), previous_of(second), next_number=3)
    assert by_villages(second) == {tuple(codes("CFI")): "JMQ-0002"}
    assert by_villages(third) == {tuple(codes("CFI")): "JMQ-0002", tuple(codes("G")): "JMQ-0003"}


def test_overlapping_boundaries_fall_back_to_a_full_union():
    frame = grid().to_crs("EPSG:4547")
    # A reaches 10 m into B: not a valid coverage, the union must still be right.
    frame.loc[0, "geometry"] = box(X0, Y0, X0 + 1010, Y0 + 1000)
    derived = derive(frame.to_crs("EPSG:4490"), codes("AB"))
    assert derived.method == "union"
    [zone] = derived.zones
    assert zone.villages == codes("AB")
    assert zone.area_km2 == pytest.approx(2.0, rel=1e-6)


def test_villages_without_boundary_cannot_join_a_zone_and_are_listed():
    frame = grid()
    frame.loc[4, "geometry"] = None
    derived = derive(frame, codes("AE"))
    assert [z.villages for z in derived.zones] == [codes("A")]
    assert derived.complete_without_boundary == [CODE["E"]]


def test_no_complete_village_gives_no_zone():
    derived = derive(grid(), set())
    assert derived.zones == [] and derived.enclaves == []


# --------------------------------------------------------------------------
# Stored derivations, through the measures (households in the database)
# --------------------------------------------------------------------------


@pytest.fixture
def grid_district(runtime) -> dict[str, int]:
    """The 3×3 grid as villages of 屯留区 with 2 required households each."""
    ids = {}
    with runtime.session() as session:
        district = District(code="140405", name="屯留区")
        session.add(district)
        session.flush()
        township = Township(code="140405001", name="麟绛街道", district_id=district.id)
        session.add(township)
        session.flush()
        for name, geom in zip(NAMES, grid().geometry, strict=True):
            village = Village(
                code=CODE[name],
                name=f"{name}村委会",
                township_id=township.id,
                category="rural",
                total_households=2,
                geometry=geom.wkb,
            )
            session.add(village)
            session.flush()
            ids[name] = village.id
    return ids


def add_households(runtime, ids, names: str, status: str, day: date) -> None:
    with runtime.session() as session:
        for name in names:
            for n in (1, 2):
                household = Household(
                    village_id=ids[name],
                    key=f"no:{name}{n}",
                    key_kind="household_no",
                    household_no=f"{name}{n}",
                    head_name=f"户主{name}{n}",
                    status=status,
                )
                record_create(
                    session,
                    household,
                    ledger_date=day,
                    recorded_at=datetime.combine(day, datetime.min.time()),
                )


def test_derivations_are_stored_and_compared_with_the_previous_one(runtime, grid_district):
    profile = runtime.config.profile
    add_households(runtime, grid_district, "ADG", "completed", date(2021, 5, 1))
    add_households(runtime, grid_district, "BCEFHI", "pending", date(2021, 5, 1))
    with runtime.session() as session:
        first = derive_zones(session, profile, as_of=date(2021, 6, 30)).as_json()
    assert [z["villages"] for z in first["zones"]] == [codes("ADG")]
    assert first["zones"][0]["zone_id"] == "JMQ-0001"
    assert first["added"] == codes("ADG") and first["removed"] == []

    with runtime.session() as session:
        for household in session.query(Household).filter(Household.key.in_(["no:B1", "no:B2"])):
            record_update(
                session,
                household,
                {"status": "accepted"},
                ledger_date=date(2021, 9, 1),
                recorded_at=datetime(2021, 9, 1),
            )
    with runtime.session() as session:
        second = derive_zones(session, profile, as_of=date(2021, 10, 31)).as_json()
    assert second["zones"][0]["zone_id"] == "JMQ-0001"
    assert second["zones"][0]["villages"] == codes("ABDG")
    assert second["added"] == [CODE["B"]] and second["previous"] == first["derivation"]
    assert second["zones"][0]["area_km2"] == pytest.approx(4.0, rel=1e-6)
    assert set(second) >= {"derivation", "as_of", "zones", "enclaves", "added", "removed"}

    # As of a date before B's completion, B is not in the zone (history is respected).
    with runtime.session() as session:
        third = derive_zones(session, profile, as_of=date(2021, 8, 1)).as_json()
        assert third["removed"] == [CODE["B"]]
        assert [d.id for d in derivation_history(session)] == [
            third["derivation"],
            second["derivation"],
            first["derivation"],
        ]
        current = current_derivation(session)
        rebuilt = DerivationResult.from_row(current).as_json()
    assert rebuilt["zones"] == third["zones"] and rebuilt["removed"] == third["removed"]


def test_cli_zones_derive_prints_json(run_cli, runtime, grid_district):
    add_households(runtime, grid_district, "ABCDFGHI", "completed", date(2021, 5, 1))
    add_households(runtime, grid_district, "E", "in_progress", date(2021, 5, 1))
    result = run_cli("zones", "derive", "--as-of", "2021-10-31", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["as_of"] == "2021-10-31"
    assert data["enclaves"] == [CODE["E"]]
    [zone] = data["zones"]
    assert zone["zone_id"] == "JMQ-0001" and zone["area_km2"] == pytest.approx(8.0, rel=1e-6)
    plain = run_cli("zones", "derive", "--as-of", "2021-10-31")
    assert plain.exit_code == 0 and "JMQ-0001" in plain.stdout and "飞地" in plain.stdout
    # Each derivation is audited once, by the derivation itself (the web does not add a second).
    from sqlalchemy import select

    from heating.models import AuditEntry

    with runtime.session() as session:
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "zones_derive"))
        assert [e.detail["as_of"] for e in entries] == ["2021-10-31", "2021-10-31"]


def test_stored_boundaries_that_overlap_are_unioned_without_the_tessellation_shortcut(
    runtime, grid_district
):
    with runtime.session() as session:
        village = session.query(Village).filter_by(code=CODE["A"]).one()
        overlapping = gpd.GeoSeries([box(X0, Y0, X0 + 1010, Y0 + 1000)], crs="EPSG:4547")
        village.geometry = overlapping.to_crs("EPSG:4490").iloc[0].wkb
    with runtime.session() as session:
        result = derive_zones(
            session, runtime.config.profile, as_of=date(2021, 10, 31), complete=codes("AB")
        ).as_json()
    assert result["method"] == "union"
    assert result["zones"][0]["area_km2"] == pytest.approx(2.0, rel=1e-6)


def test_a_boundary_load_records_that_its_coverage_is_valid(runtime, grid_district, tmp_path):
    from geo.boundaries import load_boundaries
    from geo.tessellation import TESSELLATION_META_KEY
    from heating.db import get_meta

    path = tmp_path / "grid.gpkg"
    grid().to_file(path, engine="pyogrio")
    with runtime.session() as session:
        load_boundaries(session, path)
        assert get_meta(session, TESSELLATION_META_KEY).endswith(":valid")
    with runtime.session() as session:
        result = derive_zones(
            session, runtime.config.profile, as_of=date(2021, 10, 31), complete=codes("AB")
        ).as_json()
    assert result["method"] == "coverage_union"


def test_deriving_without_any_boundary_is_refused(run_cli, runtime, grid_district):
    with runtime.session() as session:
        for village in session.query(Village):
            village.geometry = None
    result = run_cli("zones", "derive")
    assert result.exit_code == 1 and "heating boundaries load" in result.stderr
