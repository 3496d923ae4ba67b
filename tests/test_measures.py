"""Measures on hand-computed examples (tiny_district: 南街 county_core total 10,
东街 fringe total 8, 上村 rural total 20, 下村 rural without a registry total)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from heating.completion import complete_village_codes, record_decision, revoke_decision
from heating.history import record_update
from heating.measures import MeasureRow, coverage
from heating.models import Village
from heating.profile import DEFAULT_PROFILE, parse_profile
from heating.targets import gap_to, needed
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_many


def by_key(rows: list[MeasureRow]) -> dict[str, MeasureRow]:
    return {r.key: r for r in rows}


def test_village_measures(runtime, standard) -> None:
    with runtime.session() as s:
        rows = by_key(coverage(s, DEFAULT_PROFILE, "village"))
    nanjie = rows[NANJIE]
    assert (nanjie.required, nanjie.clean, nanjie.lapsed) == (10, 9, 1)
    assert nanjie.coverage == pytest.approx(0.9)
    assert nanjie.effective_coverage == pytest.approx(0.8)
    assert (nanjie.target, nanjie.gap, nanjie.meets) == (1.0, 1, False)

    dongjie = rows[DONGJIE]  # exempt households are not required
    assert (dongjie.ledger_rows, dongjie.exempt, dongjie.required, dongjie.clean) == (8, 2, 6, 6)
    assert dongjie.coverage == 1.0
    assert (dongjie.gap, dongjie.meets) == (0, True)

    shangcun = rows[SHANGCUN]  # registry total larger than the ledger
    assert (shangcun.ledger_rows, shangcun.registry_households) == (15, 20)
    assert (shangcun.required, shangcun.clean) == (20, 15)
    assert shangcun.coverage == 0.75
    assert (shangcun.target, shangcun.gap, shangcun.meets) == (0.8, 1, False)

    xiacun = rows[XIACUN]  # no registry total: the ledger rows are the households
    assert (xiacun.required, xiacun.clean, xiacun.gap, xiacun.meets) == (10, 8, 0, True)
    assert xiacun.coverage == 0.8


def test_category_rows_follow_the_profile_rules(runtime, standard) -> None:
    with runtime.session() as s:
        rows = coverage(s, DEFAULT_PROFILE, "category")
    assert [r.key for r in rows] == ["city_core", "county_core", "fringe", "rural", "total"]
    cats = by_key(rows)
    # No city_core villages: nothing required, coverage undefined, not judged.
    assert (cats["city_core"].required, cats["city_core"].coverage) == (0, None)
    assert (cats["city_core"].meets, cats["city_core"].target) == (None, 1.0)
    # 100% categories: every village must reach it.
    assert (cats["county_core"].gap, cats["county_core"].meets) == (1, False)
    assert (cats["fringe"].gap, cats["fringe"].meets) == (0, True)
    # 80% rural: the aggregate 23 / 30 is compared; ceil(0.8 × 30) = 24 → gap 1.
    rural = cats["rural"]
    assert (rural.villages, rural.required, rural.clean, rural.gap, rural.meets) == (
        2,
        30,
        23,
        1,
        False,
    )
    total = cats["total"]
    assert (total.name, total.villages, total.required, total.clean) == ("合计", 4, 46, 38)
    assert total.registry_households == 38  # 10 + 8 + 20; 下村 has no registry total
    assert total.coverage == pytest.approx(38 / 46)
    assert total.effective_coverage == pytest.approx(37 / 46)
    assert (total.gap, total.meets, total.target) == (2, False, None)


def test_rural_aggregate_meets_although_one_village_is_below(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[SHANGCUN], 15, "completed")  # 15 / 20 = 75%
        add_many(s, ids[XIACUN], 10, "completed")  # 10 / 10
    with runtime.session() as s:
        rural = by_key(coverage(s, DEFAULT_PROFILE, "category"))["rural"]
        villages = by_key(coverage(s, DEFAULT_PROFILE, "village"))
    assert villages[SHANGCUN].meets is False
    assert (rural.required, rural.clean, rural.gap, rural.meets) == (30, 25, 0, True)


def test_township_rows_sum_category_parts(runtime, standard) -> None:
    with runtime.session() as s:
        rows = by_key(coverage(s, DEFAULT_PROFILE, "township"))
    assert list(rows) == ["140405001", "140405101"]
    linjiang = rows["140405001"]  # county_core 南街 (gap 1) + fringe 东街 (gap 0)
    assert (linjiang.name, linjiang.villages, linjiang.required, linjiang.clean) == (
        "麟绛街道",
        2,
        16,
        15,
    )
    assert (linjiang.gap, linjiang.meets, linjiang.target) == (1, False, 1.0)
    assert linjiang.township_code == "140405001"
    shangcun = rows["140405101"]
    assert (shangcun.required, shangcun.clean, shangcun.gap, shangcun.target) == (30, 23, 1, 0.8)


def test_township_filter_and_district_rows(runtime, standard) -> None:
    with runtime.session() as s:
        only = coverage(s, DEFAULT_PROFILE, "village", township_code="140405101")
        district = coverage(s, DEFAULT_PROFILE, "district")
    assert [r.key for r in only] == [SHANGCUN, XIACUN]
    assert [(r.key, r.name, r.required, r.clean, r.gap) for r in district] == [
        ("140405", "屯留区", 46, 38, 2)
    ]


def test_unknown_township_is_refused(runtime, tiny_district) -> None:
    from heating.errors import NotFound

    with runtime.session() as s, pytest.raises(NotFound, match="140405999"):
        coverage(s, DEFAULT_PROFILE, "village", township_code="140405999")


def test_required_zero_gives_no_coverage(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[XIACUN], 3, "exempt", exempt_reason="拆迁")  # no registry total
        s.get(Village, ids[NANJIE]).total_households = 0
    with runtime.session() as s:
        rows = by_key(coverage(s, DEFAULT_PROFILE, "village"))
    for code in (XIACUN, NANJIE):
        row = rows[code]
        assert (row.required, row.coverage, row.effective_coverage) == (0, None, None)
        assert (row.gap, row.meets) == (0, None)
    assert rows[XIACUN].as_json()["coverage"] is None


def test_more_exempt_than_registered_counts_zero_required(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[DONGJIE], 9, "exempt", exempt_reason="拆迁")  # registry says 8
    with runtime.session() as s:
        row = by_key(coverage(s, DEFAULT_PROFILE, "village"))[DONGJIE]
    assert (row.exempt, row.required, row.coverage) == (9, 0, None)


@pytest.mark.parametrize(
    ("target", "required", "clean", "gap"),
    [
        (0.8, 10, 0, 8),
        (0.8, 10, 8, 0),
        (0.8, 11, 8, 1),  # ceil(8.8) = 9
        (0.55, 100, 0, 55),  # 0.55 * 100 is 55.00000000000001 in floats
        (0.55, 100, 55, 0),
        (1.0, 7, 6, 1),
        (1.0, 7, 9, 0),  # never negative
        (0.8, 0, 0, 0),
        (None, 10, 0, 0),  # no target, no gap
    ],
)
def test_gap_arithmetic(target, required, clean, gap) -> None:
    assert gap_to(target, required, clean) == gap


def test_needed_is_exact() -> None:
    assert needed(0.8, 10) == 8
    assert needed(0.55, 100) == 55
    assert needed(0.55, 101) == 56
    assert needed(0.7, 20) == 14  # 0.7 × 20 in binary floating point is 14.000000000000002
    assert needed(1.0, 0) == 0 and needed(0.8, 1) == 1


def test_kept_village_measures_follow_the_profile_and_the_data(runtime, standard) -> None:
    """The villages' measures are kept per facts (the dashboard asks three times a click):
    another profile on the same facts, or the same profile after a commit, is measured anew."""
    stricter = parse_profile(
        {
            "name": "更严",
            "categories": [
                {"key": "city_core", "name": "城市建成区", "target": 1},
                {"key": "county_core", "name": "县城建成区", "target": 1},
                {"key": "fringe", "name": "城乡结合部", "target": 1},
                {"key": "rural", "name": "农村地区", "target": "90%"},
            ],
        }
    )
    with runtime.session() as s:
        first = by_key(coverage(s, DEFAULT_PROFILE, "village"))[SHANGCUN]
        again = by_key(coverage(s, DEFAULT_PROFILE, "village"))[SHANGCUN]
        strict = by_key(coverage(s, stricter, "village"))[SHANGCUN]
    assert first == again and (first.target, first.gap) == (0.8, 1)
    assert (strict.target, strict.gap) == (0.9, 3)  # ceil(0.9 × 20) − 15
    with runtime.session() as s:
        add_many(s, s.query(Village.id).filter(Village.code == SHANGCUN).scalar(), 5, "completed")
    with runtime.session() as s:
        after = by_key(coverage(s, DEFAULT_PROFILE, "village"))[SHANGCUN]
    assert (after.clean, after.gap) == (20, 0)


def test_eighty_percent_rounding_per_village(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[XIACUN], 8, "completed")
        add_many(s, ids[XIACUN], 2, "pending")
    with runtime.session() as s:
        row = by_key(coverage(s, DEFAULT_PROFILE, "village"))[XIACUN]
    assert (row.required, row.clean, row.gap, row.meets) == (10, 8, 0, True)


def test_as_of_reproduces_what_was_known_then(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        early = add_many(s, ids[NANJIE], 6, "completed", at=datetime(2021, 5, 1, 9))
        later = add_many(s, ids[NANJIE], 4, "pending", at=datetime(2021, 5, 1, 9))
        # After the evaluation date: two finished, one found burning coal again,
        # one rolled back (inactive), one new household.
        for h in later[:2]:
            record_update(
                s,
                h,
                {"status": "completed"},
                ledger_date=date(2021, 11, 2),
                recorded_at=datetime(2021, 11, 2, 8),
            )
        record_update(
            s,
            early[0],
            {"operation": "coal_again"},
            ledger_date=date(2021, 11, 3),
            recorded_at=datetime(2021, 11, 3),
        )
        record_update(
            s,
            early[1],
            {"active": False},
            change="rollback",
            ledger_date=date(2021, 11, 3),
            recorded_at=datetime(2021, 11, 3),
        )
        add_many(s, ids[NANJIE], 1, "completed", at=datetime(2021, 11, 4))
        # Recorded late on the evaluation day itself: still known "as of" that day.
        record_update(
            s,
            later[3],
            {"status": "planned"},
            ledger_date=date(2021, 10, 31),
            recorded_at=datetime(2021, 10, 31, 23, 59),
        )

    def measures(as_of):
        with runtime.session() as s:
            return by_key(coverage(s, DEFAULT_PROFILE, "village", as_of=as_of))[NANJIE]

    before = measures(date(2021, 4, 30))
    assert (before.ledger_rows, before.clean, before.coverage) == (0, 0, 0.0)
    then = measures(date(2021, 10, 31))
    assert (then.ledger_rows, then.clean, then.lapsed, then.gap) == (10, 6, 0, 4)
    assert then.coverage == pytest.approx(0.6)
    now = measures(None)
    assert (now.ledger_rows, now.clean, now.lapsed, now.gap) == (10, 8, 1, 2)
    assert measures(date(2021, 11, 4)) == now
    # The past stays reproducible after the later changes.
    assert measures(date(2021, 10, 31)) == then


def test_complete_villages(runtime, standard) -> None:
    with runtime.session() as s:
        assert complete_village_codes(s, DEFAULT_PROFILE) == {DONGJIE}
        assert complete_village_codes(s, DEFAULT_PROFILE, as_of=date(2021, 4, 30)) == set()


def test_a_decision_makes_a_village_complete_until_revoked(runtime, standard, users) -> None:
    with runtime.session() as s:
        decision = record_decision(
            s, SHANGCUN, "未改造户均已迁出，村委会证明", date(2021, 10, 1), users["alice"]
        )
        decision_id = decision.id
    with runtime.session() as s:
        assert complete_village_codes(s, DEFAULT_PROFILE) == {DONGJIE, SHANGCUN}
        # Not before the decision's date.
        assert SHANGCUN not in complete_village_codes(s, DEFAULT_PROFILE, as_of=date(2021, 9, 30))
        assert SHANGCUN in complete_village_codes(s, DEFAULT_PROFILE, as_of=date(2021, 10, 1))
        revoke_decision(s, decision_id, users["alice"])
    with runtime.session() as s:
        assert complete_village_codes(s, DEFAULT_PROFILE) == {DONGJIE}
        # As of a past date the decision, revoked only later, still counted.
        assert SHANGCUN in complete_village_codes(s, DEFAULT_PROFILE, as_of=date(2021, 10, 1))


def test_decision_needs_a_reason_and_a_known_village(runtime, tiny_district) -> None:
    from heating.errors import NotFound, Refused

    with runtime.session() as s:
        with pytest.raises(Refused, match="理由"):
            record_decision(s, SHANGCUN, "  ", date(2021, 10, 1))
        with pytest.raises(NotFound, match="140405101299"):
            record_decision(s, "140405101299", "理由", date(2021, 10, 1))


def test_custom_profile_with_a_fifth_category(runtime, standard) -> None:
    profile = parse_profile(
        {
            "name": "山区调整",
            "categories": [
                {"key": "city_core", "name": "城市建成区", "target": 1},
                {"key": "county_core", "name": "县城建成区", "target": "100%"},
                {"key": "fringe", "name": "城乡结合部", "target": 1},
                {"key": "rural", "name": "平原农村", "target": 0.8},
                {"key": "rural_mountain", "name": "山区农村", "target": "70%"},
            ],
        }
    )
    with runtime.session() as s:
        s.query(Village).filter(Village.code == SHANGCUN).update({"category": "rural_mountain"})
    with runtime.session() as s:
        rows = coverage(s, profile, "category")
    assert [r.key for r in rows][-3:] == ["rural", "rural_mountain", "total"]
    mountain = by_key(rows)["rural_mountain"]
    assert (mountain.name, mountain.target, mountain.required, mountain.clean) == (
        "山区农村",
        0.7,
        20,
        15,
    )
    assert (mountain.gap, mountain.meets) == (0, True)  # ceil(0.7 × 20) = 14 ≤ 15


def test_village_with_category_unknown_to_profile(runtime, standard) -> None:
    with runtime.session() as s:
        s.query(Village).filter(Village.code == XIACUN).update({"category": "mountain"})
    with runtime.session() as s:
        village = by_key(coverage(s, DEFAULT_PROFILE, "village"))[XIACUN]
        cats = coverage(s, DEFAULT_PROFILE, "category")
    assert (village.target, village.meets, village.gap) == (None, None, 0)
    assert village.coverage == 0.8
    assert [r.key for r in cats] == [
        "city_core",
        "county_core",
        "fringe",
        "rural",
        "mountain",
        "total",
    ]
    unknown = by_key(cats)["mountain"]
    assert (unknown.target, unknown.meets, unknown.required) == (None, None, 10)
    # The total still counts its households but does not judge them.
    assert by_key(cats)["total"].required == 46


def test_as_json_has_the_promised_keys(runtime, standard) -> None:
    with runtime.session() as s:
        row = coverage(s, DEFAULT_PROFILE, "village")[0]
    data = row.as_json()
    assert list(data)[:10] == [
        "key",
        "name",
        "category",
        "required",
        "clean",
        "coverage",
        "effective_coverage",
        "target",
        "gap",
        "meets",
    ]
    assert data["key"] == NANJIE and data["name"] == "南街村委会"


def test_as_of_matches_a_replay_of_the_history(runtime, tiny_district) -> None:
    """Random histories (moves between villages, rollbacks, same-second changes): the
    measures as of each date equal a plain replay of every household's versions."""
    import random

    from heating.models import HouseholdVersion
    from heating.village_facts import village_facts

    rng = random.Random(7)
    village_ids = list(tiny_district.values())
    days = [datetime(2021, 1, 1) + timedelta(days=d) for d in range(60)]
    with runtime.session() as s:
        for h in add_many(s, village_ids[0], 40, "pending", at=days[0]):
            # Writers record in time order; several changes may share a second.
            for at in sorted(rng.choices(days, k=rng.randint(0, 5))):
                changes = rng.choice(
                    [
                        {"status": rng.choice(["completed", "accepted", "exempt", "planned"])},
                        {"operation": rng.choice(["normal", "coal_again", "abandoned"])},
                        {"active": rng.random() < 0.5},
                        {"village_id": rng.choice(village_ids)},
                    ]
                )
                record_update(s, h, changes, ledger_date=at.date(), recorded_at=at)
    with runtime.session() as s:
        versions = s.query(HouseholdVersion).all()
        for day in (date(2020, 12, 31), date(2021, 1, 15), date(2021, 2, 1), date(2021, 3, 31)):
            newest: dict[int, HouseholdVersion] = {}
            for v in versions:
                if v.recorded_at.date() <= day:
                    best = newest.get(v.household_id)
                    if best is None or (v.recorded_at, v.id) > (best.recorded_at, best.id):
                        newest[v.household_id] = v
            expected: dict[int, list[int]] = {vid: [0, 0, 0, 0] for vid in village_ids}
            for v in newest.values():
                if v.active:
                    clean = v.status in ("completed", "accepted")
                    counts = expected[v.village_id]
                    counts[0] += 1
                    counts[1] += v.status == "exempt"
                    counts[2] += clean
                    counts[3] += clean and v.operation in ("coal_again", "abandoned")
            got = {
                f.village_id: [f.ledger_rows, f.exempt, f.clean, f.lapsed]
                for f in village_facts(s, as_of=day)
            }
            assert got == expected, day
