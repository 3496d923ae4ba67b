"""Generated ledgers: each demo village's households and how they became known, 2017–2021.

For every village the generator decides a plausible rollout — when the
village entered the campaign, which share of its households is clean by the
end of 2021, which are exempt, which routes and devices were used, what the
2021 look-back (回头看) found — and then each household's *history*: the
steps a clerk's yearly ledger rounds would have recorded (first listed as
pending or planned, completed in the year of its completion date, accepted,
checked in the look-back).  Replaying the steps up to a date gives the state
"as of" that date, which is what the report and the measures reproduce.

Pure data: nothing here touches the database (see ``heating.demo.loader``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import cache
from typing import Any

from heating.demo import people
from heating.demo.facts import SEAT_TOWNSHIP_CODE, VillageFact
from heating.demo.people import below, between, pick
from heating.demo.registers import source_for

# Notes avoid full-width punctuation: the import normalises it (NFKC), and a
# sample ledger re-imported must compare unchanged.
LAST_DAY = date(2021, 12, 20)  # nothing in the demo happens after this
LOOKBACK_YEAR = 2021
DEVICES = {
    "electric": (("空气源热泵", 55), ("蓄热式电暖器", 25), ("碳晶电暖器", 12), ("电热炕", 8)),
    "gas": (("燃气壁挂炉", 100),),
    "district": (("散热器", 70), ("地暖", 30)),
    "biomass": (("生物质炉具", 70), ("生物质颗粒炉", 30)),
    "geothermal": (("地源热泵", 100),),
    "solar": (("太阳能光热+电辅热", 100),),
    "other": (("醇基燃料炉", 100),),
}
DEVICE_SUBSIDY = {  # yuan, (low, high) in hundreds
    "electric": (60, 150),
    "gas": (30, 50),
    "district": (20, 40),
    "biomass": (15, 30),
    "geothermal": (120, 180),
    "solar": (50, 80),
    "other": (10, 20),
}
OPERATING_SUBSIDY = {"electric": 1200, "gas": 1200, "biomass": 500, "geothermal": 1200}


@cache
def yuan(amount: int) -> Decimal:
    """An amount in yuan as the database returns it (two decimals)."""
    return Decimal(amount).quantize(Decimal("0.01"))


@dataclass
class Step:
    """One recorded change: when it became known and which fields it set."""

    recorded_at: datetime
    changes: dict[str, Any]


@dataclass
class HouseholdPlan:
    """A generated household: its fixed facts and the steps of its history."""

    facts: dict[str, Any]
    steps: list[Step] = field(default_factory=list)

    def states(self) -> list[tuple[datetime, dict[str, Any]]]:
        """Full field values after each step, in order (the versions to write)."""
        state = dict(self.facts)
        out = []
        for step in sorted(self.steps, key=lambda s: s.recorded_at):
            state = {**state, **step.changes}
            out.append((step.recorded_at, state))
        return out

    def final(self) -> dict[str, Any]:
        return self.states()[-1][1]


@dataclass
class VillagePlan:
    """A generated village ledger: households and the registry's total households."""

    code: str
    total_households: int
    households: list[HouseholdPlan]
    keyed_by_id: bool


def _at(day: date, rng: random.Random) -> datetime:
    """A working-hours time on ``day`` (never after the demo's last day)."""
    day = min(day, LAST_DAY)
    return datetime.combine(day, time(between(rng, 8, 18), below(rng, 60)))


def _route_weights(village: VillageFact) -> tuple[tuple[str, float], ...]:
    """Routes by place: district heating in the county town, electricity in the villages."""
    in_seat = village.township_code == SEAT_TOWNSHIP_CODE
    if village.category == "county_core":
        return (("district", 65), ("gas", 25), ("electric", 10))
    if village.category in ("fringe", "city_core"):
        if in_seat:
            return (("district", 35), ("gas", 35), ("electric", 30))
        return (("electric", 50), ("gas", 40), ("biomass", 6), ("solar", 4))
    return (
        ("electric", 62),
        ("gas", 18),
        ("biomass", 12),
        ("solar", 4),
        ("geothermal", 2),
        ("other", 2),
    )


def _household_count(village: VillageFact, rng: random.Random) -> int:
    if village.category == "county_core":
        return between(rng, 260, 400 + 1)
    if village.category in ("fringe", "city_core"):
        return between(rng, 120, 360 + 1)
    return min(400, max(60, int(rng.triangular(60, 340, 150))))


def _start_year(village: VillageFact, rng: random.Random) -> int:
    if village.category == "county_core":
        return 2017
    if village.category in ("fringe", "city_core"):
        return pick(rng, ((2017, 4), (2018, 4), (2019, 2)))
    return pick(rng, ((2018, 2), (2019, 3), (2020, 3.5), (2021, 1.5)))


def _clean_share(village: VillageFact, rng: random.Random) -> float:
    """Share of non-exempt households clean at the end of 2021."""
    if village.category in ("county_core", "fringe", "city_core"):
        return 1.0 if rng.random() < 0.88 else rng.uniform(0.9, 0.99)
    return 1.0 if rng.random() < 0.28 else rng.uniform(0.55, 0.98)


def _finish_year(village: VillageFact, start: int, rng: random.Random) -> int:
    """The year a complete village's last household was completed."""
    if village.category in ("county_core", "fringe", "city_core"):
        return min(2021, start + pick(rng, ((0, 2), (1, 4), (2, 2), (3, 1))))
    return min(2021, start + pick(rng, ((0, 1), (1, 3), (2, 2))))


def _round_day(year: int, rng: random.Random) -> date:
    """The day of a village's yearly ledger round (before the building season)."""
    return date(year, 5, 1) + timedelta(days=below(rng, 40))


def _completion_day(year: int, rng: random.Random) -> date:
    month = pick(rng, ((6, 1), (7, 2), (8, 3), (9, 4), (10, 4), (11, 2)))
    return date(year, month, between(rng, 1, 28 + 1))


def plan_village(
    village: VillageFact, *, seed: str, used_ids: set[str] | None = None
) -> VillagePlan:
    """Generate one village's households and their histories (deterministic per code).

    ``used_ids`` is shared across the villages of one district so that no ID
    number is given twice (generate villages in a fixed order).
    """
    rng = random.Random(f"{seed}:ledger:{village.code}")
    count = _household_count(village, rng)
    start = _start_year(village, rng)
    share = _clean_share(village, rng)
    keyed_by_id = rng.random() < 0.15
    rounds = {y: _round_day(y, rng) for y in range(start, 2022)}
    routes = _route_weights(village)
    lookback = date(LOOKBACK_YEAR, 9, 1) + timedelta(days=below(rng, 25))
    problem = pick(rng, ((0.0, 5), (0.01, 3), (0.03, 1.5), (0.08, 0.5)))

    exempt = round(count * rng.uniform(0.0, 0.06))
    required = count - exempt
    clean = required if share >= 1.0 else int(required * share)
    # A village finished by the end of 2021 finished in some year; its households
    # were completed between the start and that year (most in the first years).
    finish = _finish_year(village, start, rng) if share >= 1.0 else 2021
    years = list(range(start, finish + 1))
    year_weights = tuple((y, max(1, 6 - 2 * i)) for i, y in enumerate(years))
    # Missed households found later (查遗补漏) in about one village in five.
    missed = 0.04 if (start < 2021 and rng.random() < 0.2) else 0.0

    kinds = ["exempt"] * exempt + ["clean"] * clean + ["open"] * (required - clean)
    rng.shuffle(kinds)
    per_group = 45 if count > 90 else count  # 村民小组 of about 45 households
    households = []
    for index, kind in enumerate(kinds, start=1):
        group, number = divmod(index - 1, per_group)
        facts = _person(village, rng, index, (group + 1, number + 1), keyed_by_id, used_ids)
        plan = HouseholdPlan(facts)
        # Most households were listed in the village's first round; some were
        # found later (查遗补漏) and appear only from the 2021 round.
        first_year = 2021 if rng.random() < missed else start
        if kind == "exempt":
            _exempt(plan, rng, rounds[first_year])
        elif kind == "clean":
            year = max(first_year, pick(rng, year_weights))
            _clean(
                plan, rng, rounds, first_year, year, pick(rng, routes), lookback, problem, village
            )
        else:
            _open(plan, rng, rounds, first_year, pick(rng, routes))
        households.append(plan)

    total = count
    if rng.random() < 0.15 and not (share >= 1.0 and village.category != "rural"):
        total = count + between(rng, 1, max(2, count // 25 + 1))
    plan = VillagePlan(village.code, total, households, keyed_by_id)
    # Areas, utility accounts and rule-following device subsidies, from their own
    # random stream (issue 13): the statuses and histories above stay as they were.
    from heating.demo.usage import decorate

    decorate(plan, seed)
    return plan


def _person(
    village: VillageFact,
    rng: random.Random,
    index: int,
    place: tuple[int, int],
    keyed_by_id: bool,
    used_ids: set[str] | None,
) -> dict[str, Any]:
    male = rng.random() < 0.82
    born = people.birth_date(rng)
    return {
        "household_no": None if keyed_by_id else f"{index:04d}",
        "head_name": people.person_name(rng, male=male),
        "id_number": people.id_number(rng, male=male, born=born, used=used_ids),
        "phone": people.phone(rng),
        "address": people.address(village.name, *place),
        "residents": pick(rng, ((1, 12), (2, 30), (3, 22), (4, 20), (5, 10), (6, 6))),
        "status": "pending",
        "route": None,
        "device": None,
        "heat_source": None,
        "plan_year": None,
        "completed_on": None,
        "completed_on_precision": None,
        "accepted_on": None,
        "device_subsidy": None,
        "operating_subsidy": None,
        "coal_subsidy": None,
        "heated_area_m2": None,
        "power_account": None,
        "gas_account": None,
        "operation": None,
        "exempt_reason": None,
        "lon": None,
        "lat": None,
        "note": None,
    }


def _exempt(plan: HouseholdPlan, rng: random.Random, listed: date) -> None:
    reason = pick(rng, (("空置", 55), ("拆迁", 20), ("已有清洁取暖", 20), ("其他", 5)))
    note = {"空置": "常年外出务工房屋空置", "其他": "危房已搬迁至子女家"}.get(reason)
    plan.steps.append(
        Step(_at(listed, rng), {"status": "exempt", "exempt_reason": reason, "note": note})
    )


def _clean(
    plan: HouseholdPlan,
    rng: random.Random,
    rounds: dict[int, date],
    first_year: int,
    year: int,
    route: str,
    lookback: date,
    problem: float,
    village: VillageFact,
) -> None:
    planned = {"status": "planned", "route": route, "plan_year": year}
    if year == first_year:
        plan.steps.append(Step(_at(rounds[first_year], rng), planned))
    else:
        plan.steps.append(Step(_at(rounds[first_year], rng), {"status": "pending"}))
        plan.steps.append(Step(_at(rounds[year], rng), planned))
    done = _completion_day(year, rng)
    if year == 2021:
        done = min(done, date(2021, 11, 30))
    device = pick(rng, DEVICES[route])
    low, high = DEVICE_SUBSIDY[route]
    completed = {
        "status": "completed",
        "device": device,
        # The source as the register names it (heating.demo.registers).
        "heat_source": source_for(village.code, rng.random()) if route == "district" else None,
        "completed_on": done,
        "completed_on_precision": "day",
        "device_subsidy": yuan(between(rng, low, high + 1) * 100),
        "operating_subsidy": yuan(OPERATING_SUBSIDY[route]) if route in OPERATING_SUBSIDY else None,
    }
    known = max(done + timedelta(days=between(rng, 2, 25 + 1)), rounds[year] + timedelta(days=1))
    plan.steps.append(Step(_at(known, rng), completed))
    if rng.random() < 0.65:
        accepted_on = done + timedelta(days=between(rng, 20, 120 + 1))
        if accepted_on <= LAST_DAY - timedelta(days=10):
            when = max(
                accepted_on + timedelta(days=between(rng, 1, 10 + 1)), known + timedelta(days=1)
            )
            plan.steps.append(
                Step(_at(when, rng), {"status": "accepted", "accepted_on": accepted_on})
            )
    if known < lookback and rng.random() > 0.04:  # the 2021 look-back checked most households
        roll = rng.random()
        if roll < problem:
            operation, note = "coal_again", "回头看发现散煤复烧已约谈整改"
        elif roll < problem * 1.5:
            operation, note = "abandoned", "设备已拆除改回燃煤"
        elif roll < problem * 1.5 + 0.06:
            operation, note = "unstable", "冬季室温偏低需检修"
        else:
            operation, note = "normal", None
        change = {"operation": operation}
        if note:
            change["note"] = note
        plan.steps.append(Step(_at(lookback, rng), change))


def _open(
    plan: HouseholdPlan, rng: random.Random, rounds: dict[int, date], first_year: int, route: str
) -> None:
    """A household not clean by the end of 2021: pending, planned for 2022, or being built."""
    final = pick(rng, (("pending", 35), ("planned", 45), ("in_progress", 20)))
    plan.steps.append(Step(_at(rounds[first_year], rng), {"status": "pending"}))
    if final == "pending":
        if rng.random() < 0.3:
            plan.steps.append(Step(_at(rounds[2021], rng), {"note": "户主暂不同意改造"}))
        return
    year = 2022 if final == "planned" else 2021
    planned = {"status": "planned", "route": route, "plan_year": year}
    plan.steps.append(Step(_at(rounds[2021] + timedelta(days=1), rng), planned))
    if final == "in_progress":
        started = date(2021, 9, 1) + timedelta(days=below(rng, 80))
        plan.steps.append(Step(_at(started, rng), {"status": "in_progress"}))
