"""Compliance per profile rule and the list of data inconsistencies."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from heating.compliance import compliance
from heating.history import record_update
from heating.inconsistencies import inconsistencies
from heating.models import Household, Village
from heating.profile import DEFAULT_PROFILE, parse_profile
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_many, write_household


def by_key(items):
    return {i.key: i for i in items}


def test_compliance_per_rule(runtime, standard) -> None:
    with runtime.session() as s:
        result = compliance(s, DEFAULT_PROFILE)
    assert [c.key for c in result] == ["city_core", "county_core", "fringe", "rural"]
    cats = by_key(result)
    assert [c.rule for c in result] == ["every_village"] * 3 + ["aggregate"]

    city = cats["city_core"]
    assert (city.meets, city.failing, city.townships, city.aggregate.required) == (None, [], [], 0)

    county = cats["county_core"]  # 南街 9 / 10: the failing village is the gap
    assert county.meets is False
    assert [(r.key, r.gap) for r in county.failing] == [(NANJIE, 1)]
    assert county.aggregate.gap == 1

    assert (cats["fringe"].meets, cats["fringe"].failing) == (True, [])

    rural = cats["rural"]  # aggregate 23 / 30 < 80 %
    assert (rural.target, rural.meets, rural.aggregate.gap) == (0.8, False, 1)
    assert [r.key for r in rural.failing] == [SHANGCUN]
    assert [(t.key, t.name, t.required, t.clean, t.gap) for t in rural.townships] == [
        ("140405101", "上村镇", 30, 23, 1)
    ]
    data = rural.as_json()
    assert data["rule"] == "aggregate" and data["aggregate"]["key"] == "rural"


def test_every_village_rule_is_not_met_by_an_average(runtime, tiny_district) -> None:
    """Two 100% villages: one over-reported does not make up for one short."""
    ids = tiny_district
    with runtime.session() as s:
        s.get(Village, ids[DONGJIE]).category = "county_core"
        add_many(s, ids[NANJIE], 9, "completed")  # 9 / 10
        add_many(s, ids[DONGJIE], 9, "completed")  # 9 / 8: clean > required
    with runtime.session() as s:
        county = by_key(compliance(s, DEFAULT_PROFILE))["county_core"]
    assert county.aggregate.required == 18 and county.aggregate.clean == 18
    assert county.meets is False
    assert county.aggregate.gap == 1
    assert [r.key for r in county.failing] == [NANJIE]


def test_failing_villages_sorted_by_gap(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        add_many(s, ids[SHANGCUN], 10, "completed")  # 10 / 20: gap 6
        add_many(s, ids[XIACUN], 5, "completed")
        add_many(s, ids[XIACUN], 5, "pending")  # 5 / 10: gap 3
    with runtime.session() as s:
        rural = by_key(compliance(s, DEFAULT_PROFILE))["rural"]
    assert [(r.key, r.gap) for r in rural.failing] == [(SHANGCUN, 6), (XIACUN, 3)]
    assert rural.aggregate.gap == 9  # ceil(0.8 × 30) − 15


def test_compliance_with_a_fifth_category(runtime, standard) -> None:
    profile = parse_profile(
        {
            "categories": [
                {"key": "city_core", "name": "城市建成区", "target": 1},
                {"key": "county_core", "name": "县城建成区", "target": 1},
                {"key": "fringe", "name": "城乡结合部", "target": 1},
                {"key": "rural", "name": "平原农村", "target": 0.8},
                {"key": "rural_mountain", "name": "山区农村", "target": 0.7},
            ]
        }
    )
    with runtime.session() as s:
        s.query(Village).filter(Village.code == SHANGCUN).update({"category": "rural_mountain"})
    with runtime.session() as s:
        result = by_key(compliance(s, profile))
    assert list(result)[-1] == "rural_mountain"
    mountain = result["rural_mountain"]
    assert (mountain.name, mountain.rule, mountain.meets, mountain.aggregate.gap) == (
        "山区农村",
        "aggregate",
        True,
        0,
    )
    rural = result["rural"]  # only 下村 left: 8 / 10 meets 80 %
    assert (rural.meets, rural.aggregate.required) == (True, 10)


def codes(found) -> list[tuple[str, str | None]]:
    return [(i.code, i.village_code) for i in found]


def test_consistent_data_has_no_findings(runtime, standard) -> None:
    with runtime.session() as s:
        assert inconsistencies(s, profile=DEFAULT_PROFILE) == []


def test_each_inconsistency_is_listed(runtime, tiny_district) -> None:
    ids = tiny_district
    future = date.today() + timedelta(days=30)
    with runtime.session() as s:
        # 南街 registry 10: 12 non-exempt rows, 11 clean.
        add_many(s, ids[NANJIE], 11, "completed")
        add_many(s, ids[NANJIE], 1, "pending")
        # 东街 registry 8: 9 exempt → required would be −1.
        add_many(s, ids[DONGJIE], 9, "exempt", exempt_reason="拆迁")
        # 上村: a completion date in the future.
        add_many(s, ids[SHANGCUN], 1, "completed", completed_on=future)
        # The same person registered in 上村 and 下村.
        for code in (SHANGCUN, XIACUN):
            write_household(
                s, ids[code], "Z1", "pending", head_name="张三", id_number="140405199001011234"
            )
        s.get(Village, ids[XIACUN]).category = None
    with runtime.session() as s:
        found = inconsistencies(s, profile=DEFAULT_PROFILE)
    assert codes(found) == [
        ("ledger_exceeds_registry", NANJIE),
        ("clean_exceeds_required", NANJIE),
        ("exempt_exceeds_registry", DONGJIE),
        ("future_completion", SHANGCUN),
        ("household_in_two_villages", SHANGCUN),
        ("unknown_category", XIACUN),
    ]
    messages = {i.code: i.message for i in found}
    assert (
        "12" in messages["ledger_exceeds_registry"] and "10" in messages["ledger_exceeds_registry"]
    )
    assert "类别未在要求配置中" in messages["unknown_category"]
    assert "下村" in messages["unknown_category"] or XIACUN in messages["unknown_category"]
    assert found[4].detail["villages"] == [SHANGCUN, XIACUN]
    assert found[3].detail["households"][0]["completed_on"] == future.isoformat()
    # Flagged, never fixed: the measures still say what the data says.
    from heating.measures import coverage

    with runtime.session() as s:
        rows = {r.key: r for r in coverage(s, DEFAULT_PROFILE)}
    assert (rows[NANJIE].clean, rows[NANJIE].required) == (11, 10)
    assert rows[NANJIE].coverage == pytest.approx(1.1)


def test_future_completion_is_relative_to_the_as_of_date(runtime, tiny_district) -> None:
    ids = tiny_district
    with runtime.session() as s:
        (h,) = add_many(
            s,
            ids[SHANGCUN],
            1,
            "completed",
            completed_on=date(2021, 11, 15),
            at=datetime(2021, 10, 20),
        )
        # Corrected later to the real date.
        record_update(
            s,
            h,
            {"completed_on": date(2021, 10, 15)},
            ledger_date=date(2021, 12, 1),
            recorded_at=datetime(2021, 12, 1),
        )
    with runtime.session() as s:
        then = inconsistencies(s, as_of=date(2021, 10, 31))
        now = inconsistencies(s)
    assert codes(then) == [("future_completion", SHANGCUN)]
    assert then[0].detail["households"][0]["completed_on"] == "2021-11-15"
    assert now == []


def test_household_in_two_villages_as_of(runtime, tiny_district) -> None:
    from heating.history import record_create

    ids = tiny_district
    with runtime.session() as s:
        for code, at in ((SHANGCUN, datetime(2021, 5, 1)), (XIACUN, datetime(2021, 11, 1))):
            record_create(
                s,
                Household(
                    village_id=ids[code],
                    key="id:h",
                    key_kind="id_hash",
                    id_hash="h",
                    head_name="李四",
                    status="pending",
                ),
                ledger_date=at.date(),
                recorded_at=at,
            )
    with runtime.session() as s:
        assert inconsistencies(s, as_of=date(2021, 10, 31)) == []
        assert codes(inconsistencies(s, as_of=date(2021, 11, 1))) == [
            ("household_in_two_villages", SHANGCUN)
        ]


def test_unknown_category_needs_the_profile(runtime, standard) -> None:
    profile = parse_profile(
        {"categories": [{"key": "rural", "name": "农村地区", "target": 0.8}], "urban_rural": {}}
    )
    with runtime.session() as s:
        found = inconsistencies(s, profile=profile)
        assert inconsistencies(s) == []  # without a profile, categories are not checked
    assert codes(found) == [("unknown_category", NANJIE), ("unknown_category", DONGJIE)]


def test_future_acceptance_as_of_and_facts_passed_in(runtime, tiny_district) -> None:
    """An acceptance date after the as-of date, corrected later, is found on the version
    of then; passing the caller's village facts (as the report does) changes nothing."""
    from heating.village_facts import village_facts

    ids = tiny_district
    with runtime.session() as s:
        (h,) = add_many(s, ids[XIACUN], 1, "accepted", at=datetime(2021, 10, 20))
        record_update(
            s,
            h,
            {"household_no": "X-7", "accepted_on": date(2021, 11, 2)},
            ledger_date=date(2021, 10, 25),
            recorded_at=datetime(2021, 10, 25),
        )
        record_update(
            s,
            h,
            {"accepted_on": date(2021, 10, 2)},
            ledger_date=date(2021, 12, 1),
            recorded_at=datetime(2021, 12, 1),
        )
    as_of = date(2021, 10, 31)
    with runtime.session() as s:
        then = inconsistencies(s, as_of=as_of, profile=DEFAULT_PROFILE)
        facts = village_facts(s, as_of=as_of)
        assert inconsistencies(s, as_of=as_of, profile=DEFAULT_PROFILE, facts=facts) == then
        assert inconsistencies(s, as_of=date(2021, 10, 24)) == []
    assert codes(then) == [("future_completion", XIACUN)]
    (late,) = then[0].detail["households"]
    assert (late["household_no"], late["accepted_on"]) == ("X-7", "2021-11-02")
