"""The bulk writer's fast paths write what the plain ones would, byte for byte.

``heating.history.json_templates`` dumps a new household's first version from
a template; ``imports.diff.ledger_row_fields`` types a ledger row by a plan
per sheet.  Both are compared with the plain code they stand in for, on
random values of every kind and through the real writer and database.
"""

from __future__ import annotations

import json
import random
from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from heating import history
from heating.history.json_templates import dump_new_state
from heating.history.values import BLANK_STATE, dump_json, field_values, fields_json, state_json
from heating.models import HOUSEHOLD_FIELDS, Household, HouseholdVersion
from heating.sealing import TEXT_PREFIX
from imports.diff import ledger_row_fields, row_fields
from imports.parsed import LedgerRow

TEXTS = ["", "张三", 'a "quoted" \\ path', "line\nbreak\ttab", "\x00\x1f\x7f", "\u2028é😀", "%s %d"]
NUMBERS = [0, -1, 3, 10**20, 0.0, -0.0, 1.5, 1e16, 1e-7, float("nan"), float("inf"), -float("inf")]


def _random_value(rng: random.Random, name: str) -> object:
    kind = history.FIELD_KINDS[name]
    choice = rng.random()
    if choice < 0.15:
        return None
    if kind == "date" and choice < 0.8:
        return date(2020, 1, 1).replace(day=rng.randint(1, 28))
    if kind == "decimal" and choice < 0.8:
        return Decimal(rng.choice(["0.00", "24000.00", "-0.00", "1E+2", "3.14159"]))
    return rng.choice([*TEXTS, *NUMBERS, True, False])


def test_a_template_dump_equals_the_plain_dump_for_random_states() -> None:
    rng = random.Random(17)
    for _ in range(3000):
        given = tuple(rng.sample(HOUSEHOLD_FIELDS, rng.randint(0, len(HOUSEHOLD_FIELDS))))
        row = {name: _random_value(rng, name) for name in given}
        values = field_values(BLANK_STATE | row)
        village_id = rng.choice([1, 250, 10**9])
        fast = dump_new_state((*given, "key", "extra"), values, village_id)
        assert fast == dump_json(fields_json(values, village_id, True)), row


def test_a_value_the_template_does_not_know_is_left_to_the_plain_dump() -> None:
    values = field_values(BLANK_STATE | {"completed_on": datetime(2021, 6, 30, 8)})
    assert dump_new_state(("completed_on",), values, 1) is None  # isoformat() has a "T"
    values = field_values(BLANK_STATE | {"note": date(2021, 6, 30)})
    assert dump_new_state(("note",), values, 1) is None  # not JSON-safe outside dates' fields
    values = field_values(BLANK_STATE | {"residents": 3})
    assert dump_new_state(("residents",), values, "1") is None  # type: ignore[arg-type]


def _ledger_row(values: dict[str, object]) -> LedgerRow:
    return LedgerRow.build("Sheet1", 3, values, {}, None, 1, None, "no:A1", "household_no", ())


def test_typing_a_ledger_row_by_plan_equals_row_fields() -> None:
    rng = random.Random(3)
    names = ["village", *history.FIELD_KINDS]
    samples = [None, "", "  ", "12", "2021-06-30", 7, 7.0, 0.0, -0.0, 24000.0, "x", True]
    for _ in range(2000):
        picked = rng.sample(names, rng.randint(0, len(names)))
        values = {name: rng.choice(samples) for name in picked}
        if rng.random() < 0.3:
            values["completed_on"] = date(2021, 6, rng.randint(1, 30))
        try:
            plain = row_fields(values)
        except (ValueError, TypeError) as exc:
            with pytest.raises(type(exc)):
                ledger_row_fields(_ledger_row(values))
            continue
        fast = ledger_row_fields(_ledger_row(values))
        assert list(fast.items()) == list(plain.items()), values
        assert [type(v) for v in fast.values()] == [type(v) for v in plain.values()]
        assert [str(v) for v in fast.values()] == [str(v) for v in plain.values()]


def test_new_households_and_first_versions_as_the_plain_writer_dumps_them(
    runtime, tiny_district
) -> None:
    village = next(iter(tiny_district.values()))
    every_field = {
        "household_no": "A001",
        "head_name": '张"三',
        "id_number": "11010119900307000X",
        "phone": "13912345678",
        "address": "南街\n3号",
        "residents": 4,
        "status": "completed",
        "route": "electric",
        "device": "空气源热泵",
        "plan_year": 2021,
        "completed_on": date(2021, 6, 30),
        "completed_on_precision": "day",
        "accepted_on": date(2021, 7, 2),
        "device_subsidy": Decimal("24000.00"),
        "operating_subsidy": Decimal("1200.50"),
        "coal_subsidy": Decimal("0.00"),
        "heated_area_m2": Decimal("96.40"),
        "operation": "normal",
        "lon": 111.51,
        "lat": 36.08,
        "note": "备注 %s",
    }
    rows = [
        every_field | {"village_id": village, "key": "no:A001", "key_kind": "household_no"}
        | {"id_hash": "h1", "extra": {"序号": "1"}},
        {"head_name": "李四", "status": "pending", "village_id": village, "key": "name:李四|"}
        | {"key_kind": "name_address", "extra": None},
    ]  # fmt: skip
    stamp = history.Stamp(date(2021, 10, 31), datetime(2024, 1, 15, 9), None, None)
    with runtime.session() as session:
        history.add_households(session, rows, stamp)
    with runtime.engine.connect() as conn:
        stored = {
            r.household_no or r.head_name: r
            for r in conn.exec_driver_sql("SELECT * FROM households").mappings()
        }
        afters = dict(
            conn.exec_driver_sql("SELECT household_id, after FROM household_versions").all()
        )
    with runtime.session() as session:
        households = {h.head_name: h for h in session.scalars(select(Household))}
        versions = {v.household_id: v for v in session.scalars(select(HouseholdVersion))}
    first = stored["A001"]
    assert first["id_number"].startswith(TEXT_PREFIX) and first["phone"].startswith(TEXT_PREFIX)
    for household in households.values():
        raw = stored[household.household_no or household.head_name]
        # The stored JSON is the plain dump of the row as stored (sealed values included) ...
        state = {f: household_value(household, raw, f) for f in HOUSEHOLD_FIELDS}
        state.update(village_id=village, active=True)
        expected = dump_json(state_json(state))
        if isinstance(afters[household.id], str):  # SQLite: the text as written
            assert afters[household.id] == expected
        else:  # PostgreSQL's driver hands JSON back parsed
            assert afters[household.id] == json.loads(expected)
        # ... and, opened, the household's own state.
        assert versions[household.id].after == history.household_json(household)
    assert households['张"三'].lon == 111.51 and households['张"三'].extra == {"序号": "1"}


def household_value(household: Household, raw: dict, name: str) -> object:
    """A field as the version's JSON holds it: sealed text as stored, else the typed value."""
    value = raw[name]
    if isinstance(value, str) and value.startswith(TEXT_PREFIX):
        return value
    return getattr(household, name)
