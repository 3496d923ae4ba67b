"""The report's households as of the cut-off: routes, look-back problems, missing dates.

Read from ``heating.history.state_as_of`` (the state as of the cut-off,
known at the report's known-at time); personal data is masked here
(``heating.privacy``) because the workbook goes to the city office.  Clean
is the measures' clean: under ``heat_source_rule = strict`` the
district-heated households on a non-compliant source are not counted in
the routes either (``heating.heat_sources``), so each township's routes add
up to its clean households.

Only the households of the report's villages (``facts``) are read: the
state's village is filtered in SQL, so a district's report in a city does
not read and then drop every other district's households.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.heat_sources import NONCOMPLIANT, STRICT, counting_rule, load_register
from heating.history import counting_known_at, state_as_of
from heating.models import CLEAN_STATUSES
from heating.privacy import mask_id, mask_name, mask_phone
from heating.village_facts import VillageFacts

PROBLEM_OPERATIONS = ("unstable", "coal_again", "abandoned")
NO_ROUTE = ""  # households whose ledger row names no route


@dataclass(frozen=True)
class RouteLine:
    """Clean households of one township by route (and device)."""

    township_code: str
    township_name: str
    clean: int
    by_route: dict[str, int]  # route key ("" = not given) → households
    devices: list[tuple[str, str, int]]  # (route, device, households), largest first


@dataclass(frozen=True)
class ProblemHousehold:
    """A household the look-back found not running clean heating stably (masked)."""

    township_name: str
    village_code: str
    village_name: str
    household_no: str | None
    head_name: str | None
    id_number: str | None
    phone: str | None
    address: str | None
    status: str
    route: str | None
    device: str | None
    operation: str
    note: str | None


@dataclass(frozen=True)
class ProblemVillage:
    village_code: str
    village_name: str
    township_name: str
    clean: int
    counts: dict[str, int]  # operation → households

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class NoCompletionDate:
    village_code: str
    village_name: str
    township_name: str
    households: int


def household_detail(
    session: Session, facts: list[VillageFacts], as_of: date, known_at: datetime
) -> dict[str, Any]:
    """Clean households by route/device and without completion date, as of the date."""
    by_id = {f.village_id: f for f in facts}
    register = load_register(session, known_at=known_at)
    strict = counting_rule(session) == STRICT
    state = state_as_of(
        as_of,
        counting_known_at(session, known_at),
        ("route", "device", "completed_on", "heat_source"),
    )
    s = state.c
    undated_expr = s.completed_on.is_(None)
    stmt = (
        select(s.village_id, s.route, s.device, s.heat_source, undated_expr, func.count())
        .where(s.status.in_(CLEAN_STATUSES), s.village_id.in_(list(by_id)))
        .group_by(s.village_id, s.route, s.device, s.heat_source, undated_expr)
    )
    routes: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    devices: dict[str, dict[tuple[str, str], int]] = defaultdict(lambda: defaultdict(int))
    undated: dict[int, int] = defaultdict(int)
    for village_id, route, device, source, is_undated, count in session.execute(stmt):
        f = by_id.get(village_id)
        if f is None:
            continue
        if strict and register.verdict(route, source) == NONCOMPLIANT:
            continue  # not clean under strict (heating.village_facts)
        route = route or NO_ROUTE
        routes[f.township_code][route] += count
        devices[f.township_code][(route, (device or "").strip())] += count
        if is_undated:
            undated[village_id] += count
    return {
        "routes": _route_lines(facts, routes, devices),
        "no_completion_date": [
            NoCompletionDate(f.code, f.name, f.township_name, undated[f.village_id])
            for f in facts
            if undated.get(f.village_id)
        ],
        **_problems(session, facts, as_of, known_at),
    }


def _route_lines(
    facts: list[VillageFacts],
    routes: dict[str, dict[str, int]],
    devices: dict[str, dict[tuple[str, str], int]],
) -> list[RouteLine]:
    townships: dict[str, str] = {}
    clean: dict[str, int] = defaultdict(int)
    for f in facts:
        townships.setdefault(f.township_code, f.township_name)
        clean[f.township_code] += f.clean
    lines = []
    for code in sorted(townships):
        device_list = sorted(
            ((r, d, n) for (r, d), n in devices.get(code, {}).items()),
            key=lambda t: (t[0], -t[2], t[1]),
        )
        lines.append(
            RouteLine(code, townships[code], clean[code], dict(routes.get(code, {})), device_list)
        )
    return lines


def _problems(
    session: Session, facts: list[VillageFacts], as_of: date, known_at: datetime
) -> dict[str, Any]:
    """Households whose look-back operation is unstable, coal_again or abandoned (masked)."""
    by_id = {f.village_id: f for f in facts}
    fields = (
        "household_no",
        "head_name",
        "id_number",
        "phone",
        "address",
        "route",
        "device",
        "note",
    )
    state = state_as_of(as_of, counting_known_at(session, known_at), fields)
    s = state.c
    found = [
        (hid, vid, status, op, dict(zip(fields, values, strict=True)))
        for hid, vid, status, op, *values in session.execute(
            select(
                s.household_id, s.village_id, s.status, s.operation, *(s[f] for f in fields)
            ).where(s.operation.in_(PROBLEM_OPERATIONS), s.village_id.in_(list(by_id)))
        )
    ]
    order = {op: i for i, op in enumerate(PROBLEM_OPERATIONS)}
    households = []
    counts: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PROBLEM_OPERATIONS, 0))
    for household_id, village_id, status, operation, after in found:
        f = by_id.get(village_id)
        if f is None:
            continue
        after = after or {}
        counts[village_id][operation] += 1
        households.append(
            (
                (
                    f.township_code,
                    f.code,
                    order[operation],
                    after.get("household_no") or "",
                    household_id,
                ),
                ProblemHousehold(
                    township_name=f.township_name,
                    village_code=f.code,
                    village_name=f.name,
                    household_no=after.get("household_no"),
                    head_name=mask_name(after.get("head_name")),
                    id_number=mask_id(after.get("id_number")),
                    phone=mask_phone(after.get("phone")),
                    address=after.get("address"),
                    status=status,
                    route=after.get("route"),
                    device=after.get("device"),
                    operation=operation,
                    note=after.get("note"),
                ),
            )
        )
    households.sort(key=lambda t: t[0])
    villages = [
        ProblemVillage(f.code, f.name, f.township_name, f.clean, counts[f.village_id])
        for f in facts
        if f.village_id in counts
    ]
    return {"problems": [h for _, h in households], "problem_villages": villages}
