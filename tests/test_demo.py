"""The demo district: real places, generated boundaries and households, loaded once, exactly.

A full load (58,000 households with their history) is done once per module
into its own database (a file for SQLite; a separate ``…_demo`` database when
``HEATING_TEST_DATABASE_URL`` selects PostgreSQL); generator properties are
checked on a subset where a full run is not needed.

One file of ~600 lines on purpose: its tests share that one load (a module fixture, kept
on one worker by ``tests/conftest.py``); split into modules, each would load it again.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import shapely
from click.testing import CliRunner
from python_calamine import CalamineWorkbook
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from heating.boilers import boiler_status
from heating.db import make_engine, upgrade
from heating.demo import (
    BOUNDARY_SOURCE,
    DEMO_PASSWORD,
    DEMO_USERS,
    facts,
    load_demo,
    registers,
    rollout,
)
from heating.demo.cells import Seed, generate_boundaries
from heating.demo.loader import DEMO_SEED, REGISTER_LOADED_AT, households_checksum
from heating.demo.people import check_digit, is_valid_id
from heating.heat_sources import load_register, unmatched_ledger_sources
from heating.history import household_json, state_json
from heating.measures import coverage
from heating.models import (
    Boiler,
    BoilerState,
    District,
    HeatSourceVersion,
    Household,
    HouseholdVersion,
    ImportBatch,
    User,
    Village,
    ZoneDerivation,
)
from heating.profile import DEFAULT_PROFILE
from heating.runtime import Runtime, open_runtime

PG_URL = __import__("os").environ.get("HEATING_TEST_DATABASE_URL", "").strip()

# This module's tests stay on one worker, which loads the demo once: the module is one of
# tests/conftest.py's SHARED_FIXTURE_MODULES (xdist's xdist_group mark is ignored under pytest 9.2).
# A test reading the full demo (58,000 households) is slow: left out of the quick
# `-m "not browser and not slow"` run, always part of the suite.
slow = pytest.mark.slow


@pytest.fixture(scope="module")
def shared_figures() -> Iterator[None]:
    """The module's runtimes and ``heating`` commands share kept figures through the database.

    As the app's processes do on PostgreSQL (``share_kept_figures = auto``), here on SQLite
    too: each CLI run opens an engine of its own, and computed the full district's facts
    (≈ 2–5 s of CPU) again; now the first computation is stored and the others read it
    (the module 46 → 34 s).  ``tests/test_shared_figures.py`` checks that what is read
    equals what is computed.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEATING_SHARE_KEPT_FIGURES", "on")
        yield


@pytest.fixture(scope="module")
def demo_url(tmp_path_factory: pytest.TempPathFactory, shared_figures: None) -> Iterator[str]:
    """A database holding the full demo, loaded once for this module."""
    if PG_URL:
        url = make_url(PG_URL)
        name = f"{url.database}_demo"
        admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        demo = url.set(database=name).render_as_string(hide_password=False)
    else:
        demo = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    rt = open_runtime(database_url=demo)
    upgrade(rt.engine)
    with rt.session() as session:
        load_demo(session, rt.config.profile)
    rt.engine.dispose()
    yield demo
    if PG_URL:  # the demo database is this module's own: leave none behind on the server
        admin = make_engine(PG_URL).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def demo_files(demo_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``heating demo --ledgers DIR --township 140405403`` run once; its tests only read DIR."""
    folder = tmp_path_factory.mktemp("demo-files")
    code, out, _err = _run(demo_url, "demo", "--ledgers", str(folder), "--township", "140405403")
    assert code == 0 and registers.REGISTER_FILE in out, out
    return folder


@pytest.fixture(scope="module")
def demo(demo_url: str) -> Iterator[Runtime]:
    """One runtime, so one engine, for the module's readers of the demo.

    The figures ``coverage()`` reads (``heating.village_facts``) are kept per
    engine until the data change (``heating.evidence_cache``), as in a
    production worker: the full district's facts as they stand now are
    computed once for the four tests that ask for them (≈ 2 s of CPU each),
    not once per test.  Nothing here writes to the demo (the second load
    finds it loaded and changes nothing, which that test asserts).
    """
    rt = open_runtime(database_url=demo_url)
    yield rt
    rt.engine.dispose()


def _run(url: str, *args: str) -> tuple[int, str, str]:
    from heating.cli import cli

    result = CliRunner().invoke(cli, ["--db", url, *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------
# Places and categories
# --------------------------------------------------------------------------


@slow
def test_demo_holds_the_real_townships_and_villages_with_proposed_categories(demo: Runtime):
    with demo.session() as session:
        district = session.scalar(select(District))
        assert (district.code, district.name, district.seat_township_code) == (
            "140405",
            "屯留区",
            "140405001",
        )
        villages = session.scalars(select(Village)).all()
        assert len(villages) == 296
        assert len({v.township_id for v in villages}) == 15
        by_code = {v.code: v for v in villages}
        # The seat's built-up streets are county town; 2016's code 121 elsewhere is rural.
        assert by_code["140405001201"].category == "county_core"
        assert by_code["140405001204"].category == "fringe"
        assert by_code["140405102201"].category == "rural"  # 北渔泽村: 121, not the seat
        assert by_code["140405403498"].urban_rural_code is None
        assert by_code["140405403498"].category == "rural"
        assert all(v.category_proposed for v in villages)
        assert Counter(v.category for v in villages) == {
            "county_core": 3,
            "fringe": 63,
            "rural": 230,
        }


def test_villages_without_carried_code_follow_the_documented_fallback():
    proposed = {v.code: v for v in facts.villages(DEFAULT_PROFILE)}
    assert len(facts.carried_urban_rural_codes()) == 292
    missing = sorted(c for c, v in proposed.items() if v.urban_rural_code is None)
    assert missing == ["140405102001", "140405102209", "140405105239", "140405403498"]
    assert {proposed[c].category for c in missing} == {"rural"}
    # A profile with other names is followed, not the default keys.
    from heating.profile import parse_profile

    custom = parse_profile(
        {
            "categories": [
                {"key": "town", "name": "县城", "target": 1},
                {"key": "country", "name": "乡村", "target": 0.7},
            ],
            "urban_rural": {"121": "seat:town|country", "122": "town", "220": "country"},
        }
    )
    cats = Counter(v.category for v in facts.villages(custom))
    assert set(cats) == {"town", "country"}


# --------------------------------------------------------------------------
# Generated boundaries
# --------------------------------------------------------------------------


@slow
def test_boundaries_form_a_valid_coverage_inside_the_district(demo: Runtime):
    with demo.session() as session:
        rows = session.execute(
            select(Village.geometry, Village.boundary_generated, Village.boundary_source)
        ).all()
    assert all(generated and source == BOUNDARY_SOURCE for _g, generated, source in rows)
    polygons = shapely.from_wkb([g for g, _x, _y in rows])
    assert set(shapely.get_type_id(polygons)) == {3}  # every village one Polygon
    assert shapely.is_valid(polygons).all()
    assert shapely.coverage_is_valid(polygons)
    outline = facts.district_outline()
    union = shapely.coverage_union_all(polygons)
    assert outline.buffer(1e-5).contains(union)
    assert union.area == pytest.approx(outline.area, rel=1e-4)
    # Modest vertex counts: the map page stays small.
    assert shapely.get_num_coordinates(polygons).sum() < 6000


def test_boundary_generation_is_deterministic_and_puts_built_up_villages_near_the_centre():
    townships = [Seed("a", (112.886, 36.311)), Seed("b", (112.99, 36.33))]
    villages = {"a": ["a1", "a2", "a3", "a4"], "b": ["b1", "b2", "b3"]}
    first, centres = generate_boundaries(facts.district_outline(), townships, villages, seed="x")
    again, _ = generate_boundaries(facts.district_outline(), townships, villages, seed="x")
    assert {k: v.wkb for k, v in first.items()} == {k: v.wkb for k, v in again.items()}
    assert shapely.coverage_is_valid(list(first.values()))
    centre = shapely.Point(centres["a"])
    distances = [first[c].distance(centre) for c in villages["a"]]
    assert distances[0] == min(distances)


# --------------------------------------------------------------------------
# Generated households
# --------------------------------------------------------------------------


@slow
def test_id_numbers_are_valid_unique_and_local(demo: Runtime):
    with demo.session() as session:
        numbers = session.scalars(select(Household.id_number)).all()
        kinds = Counter(session.scalars(select(Household.key_kind)))
    assert all(is_valid_id(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    assert {n[:6] for n in numbers} == {"140424", "140405"}
    assert all("1940" <= n[6:10] <= "2000" for n in numbers)
    # Most villages key households by 户号, some by ID number only.
    assert kinds["household_no"] > kinds["id_hash"] > 0


def test_check_digit_follows_gb11643():
    assert check_digit("11010519491231002") == "X"
    assert is_valid_id("11010519491231002X")
    assert not is_valid_id("110105194912310021")


@slow
def test_households_per_village_and_registry_totals(demo: Runtime):
    with demo.session() as session:
        rows = session.execute(
            select(Village.code, Village.total_households, func.count(Household.id))
            .join(Household, Household.village_id == Village.id)
            .group_by(Village.code, Village.total_households)
        ).all()
    assert len(rows) == 296
    assert all(60 <= n <= 400 for _c, _t, n in rows)
    assert all(total >= n for _c, total, n in rows)
    above = sum(1 for _c, total, n in rows if total > n)
    assert 0 < above < 296 * 0.3


@slow
def test_status_spread_is_realistic(demo: Runtime):
    with demo.session() as session:
        villages = coverage(session, demo.config.profile, by="village")
        statuses = Counter(session.scalars(select(Household.status)))
        operations = Counter(session.scalars(select(Household.operation)))
        reasons = Counter(session.scalars(select(Household.exempt_reason)))
    built_up = [r for r in villages if r.category in ("county_core", "fringe")]
    complete = [r for r in built_up if r.clean == r.required]
    assert len(complete) >= 0.8 * len(built_up)
    rural = [r.coverage for r in villages if r.category == "rural"]
    assert min(rural) >= 0.5 and max(rural) == 1.0
    assert sorted(rural)[len(rural) // 10] >= 0.55
    assert set(statuses) == {"pending", "planned", "in_progress", "completed", "accepted", "exempt"}
    assert 0 < statuses["exempt"] < 0.06 * sum(statuses.values())
    assert set(reasons) - {None} == {"空置", "拆迁", "已有清洁取暖", "其他"}
    lapsed = operations["coal_again"] + operations["abandoned"]
    assert 0 < lapsed < 0.03 * sum(operations.values())


@slow
def test_history_reproduces_earlier_years(demo: Runtime):
    with demo.session() as session:
        profile = demo.config.profile
        (y2020,) = coverage(session, profile, by="district", as_of=date(2020, 10, 31))
        (y2021,) = coverage(session, profile, by="district", as_of=date(2021, 10, 31))
        (late,) = coverage(session, profile, by="district", as_of=date(2022, 1, 31))
        (now,) = coverage(session, profile, by="district")
        assert y2020.clean < y2021.clean < now.clean
        assert y2020.ledger_rows < now.ledger_rows  # missed households found in 2021
        assert (late.clean, late.required, late.lapsed) == (now.clean, now.required, now.lapsed)
        derivations = session.scalars(select(ZoneDerivation).order_by(ZoneDerivation.as_of)).all()
        assert [d.as_of for d in derivations] == [date(2020, 10, 31), date(2021, 10, 31)]
        assert len(derivations[0].zones) > 0 and sum(
            len(z.village_codes) for z in derivations[0].zones
        ) < sum(len(z.village_codes) for z in derivations[1].zones)


@slow
def test_versions_have_the_shape_record_update_writes(demo: Runtime):
    with demo.session() as session:
        households = session.scalars(select(Household).order_by(Household.id).limit(300)).all()
        for household in households:
            versions = session.scalars(
                select(HouseholdVersion)
                .where(HouseholdVersion.household_id == household.id)
                .order_by(HouseholdVersion.recorded_at)
            ).all()
            assert versions[0].change == "create" and versions[0].before is None
            assert all(v.change == "update" for v in versions[1:])
            assert versions[-1].after == household_json(household)
            assert versions[-1].status == household.status
            for earlier, later in zip(versions, versions[1:], strict=False):
                assert later.before == earlier.after
                assert later.recorded_at > earlier.recorded_at


@slow
def test_generator_is_deterministic_and_matches_the_loaded_database(demo: Runtime):
    subset = facts.villages(DEFAULT_PROFILE)[:5]
    first = [rollout.plan_village(v, seed=DEMO_SEED, used_ids=set()) for v in subset]
    again = [rollout.plan_village(v, seed=DEMO_SEED, used_ids=set()) for v in subset]
    assert [[h.states() for h in p.households] for p in first] == [
        [h.states() for h in p.households] for p in again
    ]
    with demo.session() as session:
        village = session.scalar(select(Village).where(Village.code == subset[0].code))
        stored = session.scalars(
            select(Household).where(Household.village_id == village.id).order_by(Household.id)
        ).all()
        assert village.total_households == first[0].total_households
    expected = [
        state_json({**h.final(), "village_id": village.id, "active": True})
        for h in first[0].households
    ]
    assert [household_json(h) for h in stored] == expected


def test_generated_people_look_real():
    plan = rollout.plan_village(facts.villages(DEFAULT_PROFILE)[0], seed="t", used_ids=set())
    final = [h.final() for h in plan.households]
    assert all(2 <= len(f["head_name"]) <= 4 for f in final)
    assert all(f["address"].startswith("南街村") and "组" in f["address"] for f in final)
    phones = [f["phone"] for f in final]
    assert None in phones and any(p and len(p) == 11 and p.isdigit() for p in phones)
    rng = random.Random(1)
    assert rng.random() == random.Random(1).random()  # seeded generators only


# --------------------------------------------------------------------------
# Idempotence, refusal and the command line
# --------------------------------------------------------------------------


@slow
def test_second_load_changes_nothing(demo: Runtime):
    with demo.session() as session:
        before = households_checksum(session)
        versions = session.scalar(select(func.count()).select_from(HouseholdVersion))
    with demo.session() as session:
        summary = load_demo(session, demo.config.profile)
    assert summary.already_loaded
    with demo.session() as session:
        assert households_checksum(session) == before
        assert session.scalar(select(func.count()).select_from(HouseholdVersion)) == versions
        assert session.scalar(select(func.count()).select_from(ZoneDerivation)) == 2


@slow
def test_cli_second_run_reports_unchanged_and_lists_demo_logins(demo_url: str):
    code, out, _err = _run(demo_url, "demo")
    assert code == 0
    assert "已加载，未改动" in out
    assert "仅供演示" in out
    for name, *_rest in DEMO_USERS:
        assert name in out
    assert DEMO_PASSWORD in out
    assert "县城建成区" in out and "合计" in out


@slow
def test_demo_logins_work_with_their_roles(demo: Runtime):
    from heating.users import verify_password

    with demo.session() as session:
        users = {u.username: u for u in session.scalars(select(User))}
        for name, role, township, _label in DEMO_USERS:
            assert users[name].role == role
            assert verify_password(users[name], DEMO_PASSWORD)
            assert (users[name].township.code if users[name].township else None) == township


def test_demo_refuses_a_database_with_a_real_registry(run_cli, tiny_district):
    result = run_cli("demo")
    assert result.exit_code == 1
    assert "不是演示数据" in result.stderr
    assert "Traceback" not in result.stderr


@slow
def test_ledgers_are_written_as_clerks_keep_them_and_import_unchanged(
    demo: Runtime, demo_files: Path
):
    """One ledger per year, each dated in its title: every one imports unchanged as of its date."""
    from imports.diff import diff_ledger
    from imports.ledger_date import decide
    from imports.pipeline import parse_ledger

    paths = sorted(demo_files.glob("140405403_*.xlsx"))
    name = "屯留县经济技术开发区{y}年冬季清洁取暖改造台账（截至{y}年10月31日）"
    years = [int(p.name.split("_")[1][10:14]) for p in paths]
    assert years == sorted(years) and years[-1] == 2021 and len(years) >= 2
    for year, path in zip(years, paths, strict=True):
        assert path.name == f"140405403_{name.format(y=year)}.xlsx"
        sheet = CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0)
        rows = sheet.to_python()
        assert rows[0][0] == name.format(y=year)
        assert rows[1][0].startswith("填报单位")  # its 填报日期 is not the ledger date
        assert rows[2][15] == "补贴(元)" and rows[3][15:17] == ["设备补贴", "运行补贴"]
        assert ((2, 15), (2, 16)) in sheet.merged_cell_ranges
        assert rows[-3][0] == "合计" and rows[-1][0].startswith("填表人：")
        assert all(isinstance(r[4], str) and len(r[4]) == 18 for r in rows[4:-3])
        with demo.session() as session:
            parsed = parse_ledger(
                path.read_bytes(),
                path.name,
                session=session,
                config=demo.config,
                township_code="140405403",
            )
            assert [i for i in parsed.issues if i.severity != "note"] == []
            decision = decide(
                option=None,
                titles=parsed.titles,
                file_name=path.name,
                today=date(2026, 1, 1),
                cutoff="10-31",
            )
            assert (decision.day, decision.source, decision.issues) == (
                date(year, 10, 31),
                "title",
                [],
            )
            diff = diff_ledger(session, parsed, township_code="140405403", ledger_date=decision.day)
            assert Counter(c.kind for c in diff.changes) == {"unchanged": len(rows) - 7}
            assert diff.not_in_file == []


@slow
def test_demo_shows_use_flags_areas_and_the_subsidy_story(
    demo: Runtime, demo_url: str, monkeypatch: pytest.MonkeyPatch
):
    from heating.demo.usage import RULES_FILE
    from heating.measures import coverage

    with demo.session() as session:
        (total,) = [r for r in coverage(session, DEFAULT_PROFILE, "category") if r.key == "total"]
    assert total.usage_season == "2021" and total.usage_checked > 1000
    assert 0 < total.usage_flagged < total.usage_checked * 0.1
    assert total.area_coverage is not None and total.area_known_share > 0.9
    code, out, _ = _run(demo_url, "usage", "flags", "--season", "2021", "--json")
    flags = json.loads(out)
    assert code == 0 and flags["flagged"] == total.usage_flagged
    # Most households the look-back found lapsed show low use.
    lapsed = [h for h in flags["households"] if h["lapsed"]]
    assert lapsed and len(lapsed) < flags["flagged"]
    monkeypatch.setenv("HEATING_CONFIG", str(RULES_FILE))
    code, out, _ = _run(demo_url, "subsidy", "schedule", "--season", "2021", "--json")
    plan = json.loads(out)
    assert code == 0
    assert plan["due_households"] > 0 and plan["ending_households"] > 0
    assert 0 < plan["mismatched_device"] < plan["due_households"]


@slow
def test_demo_register_serves_villages_and_one_waste_heat_source_does_not_count(demo: Runtime):
    with demo.session() as session:
        register = load_register(session)
        assert unmatched_ledger_sources(session, register) == []  # names follow the register
        steel = register.match(registers.STEEL)
        assert (steel.kind, steel.env_grade, steel.noncompliant) == ("waste_heat", "C", True)
        coking = register.match(registers.COKING)
        assert (coking.kind, coking.noncompliant) == ("waste_heat", False)
        chp = register.match(registers.CHP)
        assert (chp.kind, chp.env_grade) == ("chp", "A")
        times = set(session.scalars(select(HeatSourceVersion.recorded_at)))
        assert times == {REGISTER_LOADED_AT}
        served = dict(
            session.execute(
                select(Village.code, func.count())
                .join(Household, Household.village_id == Village.id)
                .where(Household.heat_source == registers.STEEL, Household.active)
                .group_by(Village.code)
            ).all()
        )
        rows = {r.key: r for r in coverage(session, demo.config.profile, by="village")}
        before = {
            r.key: r
            for r in coverage(
                session,
                demo.config.profile,
                by="village",
                known_at=REGISTER_LOADED_AT - timedelta(days=1),
            )
        }
    steel_villages = {c for c, v in registers.WASTE_HEAT_VILLAGES.items() if v == registers.STEEL}
    assert set(served) == steel_villages
    for code in steel_villages:  # strict: those households are not clean, listed with why
        assert 0 < rows[code].heat_source_noncompliant <= served[code]
        assert rows[code].meets is False
    # Known before the register was loaded: nothing to judge by, so all counted (unverified).
    assert all(before[c].heat_source_noncompliant == 0 for c in steel_villages)
    assert sum(r.heat_source_unverified for r in before.values()) > 0


@slow
def test_demo_register_and_boiler_files_reload_unchanged(demo_url: str, demo_files: Path):
    code, out, _err = _run(
        demo_url, "heat-sources", "load", str(demo_files / registers.REGISTER_FILE), "--json"
    )
    assert code == 0
    loaded = json.loads(out)
    assert (loaded["sources"], loaded["new"], loaded["updated"]) == (4, 0, 0)
    assert loaded["unmatched_ledger_sources"] == []
    code, out, _err = _run(
        demo_url, "boilers", "load", str(demo_files / registers.BOILERS_FILE), "--json"
    )
    assert code == 0
    loaded = json.loads(out)
    assert (loaded["boilers"], loaded["new"], loaded["updated"]) == (60, 0, 0)


@slow
def test_demo_usage_files_are_the_ones_imported_and_import_unchanged(
    demo: Runtime, demo_url: str, demo_files: Path
):
    """--ledgers writes the usage files byte for byte as the demo imported them (kept files)."""
    from heating.demo.usage import ELECTRIC_FILE, GAS_FILE

    with demo.session() as session:
        imported = dict(
            session.execute(
                select(ImportBatch.file_name, ImportBatch.sha256).where(
                    ImportBatch.kind == "usage", ImportBatch.status == "committed"
                )
            ).all()
        )
    written = {p.name: p for p in (demo_files / "用量").iterdir()}
    assert set(written) == set(imported) == {ELECTRIC_FILE[0], GAS_FILE[0]}
    for name, path in written.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == imported[name], name
    code, out, _err = _run(
        demo_url, "usage", "import", str(written[GAS_FILE[0]]), "--kind", GAS_FILE[1], "--json"
    )
    counts = json.loads(out)["counts"]
    assert code == 0 and counts["new"] == 0 and counts["unchanged"] == counts["rows"] > 60_000


@slow
def test_demo_boilers_spread_over_townships_and_years(demo: Runtime):
    with demo.session() as session:
        boilers = session.scalars(select(Boiler)).all()
        days = [d for d in session.scalars(select(BoilerState.state_date)) if d is not None]
        files = set(
            session.scalars(
                select(ImportBatch.file_name).where(
                    ImportBatch.kind.in_(("boilers", "heat_sources"))
                )
            )
        )
        status = boiler_status(session, as_of=date(2021, 10, 31))
        early = boiler_status(session, as_of=date(2018, 10, 31))
    assert 50 <= len(boilers) <= 70
    assert all(b.unit.endswith("(演示)") for b in boilers)  # marked as generated (NFKC on load)
    assert files == {registers.REGISTER_FILE, registers.BOILERS_FILE}
    assert len({b.township_id for b in boilers}) == 15
    assert min(days).year == 2017 and max(days).year == 2021
    data = status.as_json()
    assert 0 < data["remaining"] < data["cleared"] and early.as_json()["cleared"] < data["cleared"]
    assert data["remaining_in_zones"] > 0 and data["inspection_overdue"] > 0
    assert data["gas_low_nox"]["done"] > 0 and data["gas_low_nox"]["remaining"] > 0
    assert {"idle", "flue_cut", "in_use"} <= {k for k, n in data["by_state"].items() if n}
