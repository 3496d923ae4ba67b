"""A district's figures come from the district alone: its judged households, flags and
district-heated counts are the same whatever other districts hold, and a page of one
district reads only that district (issue 17's load test: a city's pages judged the city)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select

from heating.heat_sources import clean_district_sources
from heating.history import record_update
from heating.models import Household, Township, Village
from heating.seasons import UsageSettings
from heating.usage_flags import flags_report, judged_households, village_evidence
from heating.village_facts import village_facts
from tests.support.districts import (
    DONGJIE,
    LUCHENG,
    LUCHENG_VILLAGES,
    NANJIE,
    SHANGCUN,
    add_second_district,
)
from tests.support.households import write_household
from tests.support.usage import LEDGER_DAY, usage_file

TUNLIU = "140405"
SEASON = 2021


def _sorted(judged):
    return sorted(judged, key=lambda j: (j.village_id, j.household_no or ""))


def _add_lucheng_users_of_electricity(runtime, run_cli, tmp_path) -> None:
    """潞城区 with 12 煤改电 households of its own (a much lower median than 屯留区's) and one
    holding account 100, which 屯留区's household A0 holds too."""
    with runtime.session() as session:
        ids = add_second_district(session)
        village = ids[LUCHENG_VILLAGES[0]]
        for i in range(12):
            write_household(
                session,
                village,
                f"L{i}",
                "completed",
                route="electric",
                power_account=f"90{i:02d}",
                completed_on=date(2020, 9, 1),
                ledger_date=LEDGER_DAY,
            )
        write_household(
            session,
            village,
            "SHARED",
            "completed",
            route="electric",
            power_account="100",
            completed_on=date(2020, 9, 1),
            ledger_date=LEDGER_DAY,
        )
        session.commit()
    uses = {f"90{i:02d}": 50.0 + i for i in range(12)}
    path = usage_file(tmp_path / "lucheng.xlsx", uses)
    result = run_cli("usage", "import", path, "--kind", "electric", "--commit")
    assert result.exit_code == 0, result.stderr


def test_a_districts_judged_households_and_flags_exclude_the_other_district(
    runtime, usage_imported, usage_district, run_cli, tmp_path
) -> None:
    settings = UsageSettings()
    with runtime.session() as s:
        alone = _sorted(judged_households(s, SEASON, settings))
        alone_flags = flags_report(s, SEASON, settings, district_code=TUNLIU)
        alone_township = flags_report(s, SEASON, settings, township_code="140405001")
        alone_village = village_evidence(s, usage_district[NANJIE], SEASON, settings)
    assert alone and all(j.township_code.startswith(TUNLIU) for j in alone)

    _add_lucheng_users_of_electricity(runtime, run_cli, tmp_path)

    with runtime.session() as s:
        tunliu = _sorted(judged_households(s, SEASON, settings, district_code=TUNLIU))
        lucheng = _sorted(judged_households(s, SEASON, settings, district_code=LUCHENG))
        every = _sorted(judged_households(s, SEASON, settings))
        # the same as when 屯留区 was the only district: same peers, same medians, and A0's
        # account counts as its own (a household of another district holding it does not
        # make it shared)
        assert tunliu == alone
        assert {j.household_no for j in lucheng} == {f"L{i}" for i in range(12)} | {"SHARED"}
        assert all(j.township_code.startswith(LUCHENG) for j in lucheng)
        assert every == _sorted(tunliu + lucheng)
        a0 = next(j for j in tunliu if j.household_no == "A0")
        assert a0.use is not None and not a0.flagged
        shared = next(j for j in lucheng if j.household_no == "SHARED")
        assert shared.use == 1000.0  # A0's account: its use, judged among 潞城区's peers
        assert shared.median is not None and shared.median < 100

        assert flags_report(s, SEASON, settings, district_code=TUNLIU) == alone_flags
        assert flags_report(s, SEASON, settings, township_code="140405001") == alone_township
        assert village_evidence(s, usage_district[NANJIE], SEASON, settings) == alone_village
        whole = flags_report(s, SEASON, settings)
        assert {t["township"] for t in whole["by_township"]} == {
            t["township"] for t in alone_flags["by_township"]
        } | {"140406001"}
        assert whole["checked"] == alone_flags["checked"] + 13

        # the measures' evidence counts: the city's facts judge each district as it alone
        def evidence(facts):
            return {f.code: (f.usage_checked, f.usage_flagged, f.usage_flagged_live) for f in facts}

        city = evidence(village_facts(s, usage=settings))
        district = evidence(village_facts(s, district_code=TUNLIU, usage=settings))
        assert {code: city[code] for code in district} == district
        assert district[NANJIE] != (0, 0, 0)


def test_a_household_moved_to_another_district_is_judged_where_it_was_then(
    runtime, usage_imported, usage_district, run_cli, tmp_path
) -> None:
    settings = UsageSettings()
    then = date(2022, 6, 30)
    with runtime.session() as s:
        alone = _sorted(judged_households(s, SEASON, settings, as_of=then))
    _add_lucheng_users_of_electricity(runtime, run_cli, tmp_path)
    with runtime.session() as s:
        a1 = s.scalar(select(Household).where(Household.household_no == "A1"))
        lucheng = s.scalar(select(Village.id).where(Village.code == LUCHENG_VILLAGES[1]))
        record_update(s, a1, {"village_id": lucheng}, ledger_date=date(2022, 10, 31))
        s.commit()
    with runtime.session() as s:
        tunliu = _sorted(judged_households(s, SEASON, settings, as_of=then, district_code=TUNLIU))
        assert tunliu == alone
        assert (
            next(j for j in tunliu if j.household_no == "A1").village_id == usage_district[NANJIE]
        )
        there = judged_households(s, SEASON, settings, as_of=then, district_code=LUCHENG)
        assert "A1" not in {j.household_no for j in there}
        now = judged_households(s, SEASON, settings, district_code=LUCHENG)
        assert "A1" in {j.household_no for j in now}


def _villages_of(session, township_code: str):
    return (
        select(Village.id)
        .join(Township, Village.township_id == Township.id)
        .where(Township.code == township_code)
    )


def test_scoped_district_heated_counts_equal_the_whole_count_of_those_villages(
    runtime, tiny_district
) -> None:
    """As of a date and known at a time, one township's district-heated households clean by
    status are those of the whole count in its villages, a household moved out since too."""
    v = tiny_district
    first = datetime(2020, 11, 1, 9, 0)
    moved = datetime(2021, 11, 1, 9, 0)
    with runtime.session() as s:
        for i, village in enumerate((NANJIE, NANJIE, DONGJIE, SHANGCUN)):
            write_household(
                s,
                v[village],
                f"D{i}",
                "completed",
                route="district",
                heat_source="城东热电厂",
                recorded_at=first,
                ledger_date=date(2020, 10, 31),
            )
        # D0 moves from 南街 (麟绛街道) to 上村 (上村镇) on the 2021 ledger
        d0 = s.scalar(select(Household).where(Household.household_no == "D0"))
        record_update(
            s,
            d0,
            {"village_id": v[SHANGCUN]},
            ledger_date=date(2021, 10, 31),
            recorded_at=moved,
        )
        s.commit()
    cases = [
        (date(2021, 6, 30), None),  # before the move: D0 in 南街
        (date(2021, 6, 30), datetime(2021, 6, 30)),  # known before the move was recorded
        (date(2021, 12, 31), datetime(2021, 6, 30)),  # the move not yet known
        (date(2021, 12, 31), None),  # after: D0 in 上村
        (None, datetime(2021, 6, 30)),
    ]
    with runtime.session() as s:
        for township in ("140405001", "140405101"):
            ids = _villages_of(s, township)
            scope = set(s.scalars(ids))
            for as_of, known_at in cases:
                whole = clean_district_sources(s, as_of=as_of, known_at=known_at)
                scoped = clean_district_sources(s, as_of=as_of, known_at=known_at, village_ids=ids)
                assert sorted(scoped) == sorted(r for r in whole if r[0] in scope), (
                    township,
                    as_of,
                    known_at,
                )
        then = clean_district_sources(
            s, as_of=date(2021, 6, 30), village_ids=_villages_of(s, "140405001")
        )
        assert sorted((r[0], r[3]) for r in then) == [(v[NANJIE], 2), (v[DONGJIE], 1)]
