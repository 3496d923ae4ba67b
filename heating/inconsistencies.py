"""Data inconsistencies: flagged for people to resolve, never silently fixed.

domain.md lists them: more non-exempt ledger rows than the registry's total,
clean > required, a completion date in the future, a household in two
villages.  We add two that make a measure undefined or misleading: more
exempt rows than the registry's total (required would be negative and is
counted as 0) and a village whose category the requirement profile does not
know (it has no target, so it is not judged).  Measures are computed exactly
as the data says; these findings explain the odd numbers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.history import counting_known_at, state_as_of
from heating.models import Household, Village
from heating.profile import Profile
from heating.village_facts import VillageFacts, village_facts

# code → Chinese description (the documented list).
CODES = {
    "ledger_exceeds_registry": "台账中需改造的户数多于名录总户数",
    "exempt_exceeds_registry": "无需改造户数多于名录总户数（应改造户数按 0 计）",
    "clean_exceeds_required": "已完成改造户数多于应改造户数",
    "future_completion": "完工或验收日期晚于统计日期",
    "household_in_two_villages": "同一户（同一身份证号）出现在两个以上村",
    "unknown_category": "类别未在要求配置中",
}

# How many household references one finding carries in its detail.
MAX_LISTED = 50


@dataclass(frozen=True)
class Inconsistency:
    """One finding: a stable code, a Chinese message, the village, details."""

    code: str
    message: str
    village_code: str | None
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "village_code": self.village_code,
            "detail": self.detail,
        }


def inconsistencies(
    session: Session,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    profile: Profile | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
    facts: list[VillageFacts] | None = None,
) -> list[Inconsistency]:
    """Every inconsistency now or as of a date, ordered by village code then code.

    Pass ``profile`` to also list villages whose category it does not know.
    A completion date is "in the future" when it is after ``as_of`` (today
    without a date).  A caller that already holds ``village_facts`` for the
    same date and scope (the annual report) passes them as ``facts`` so that
    the counts are not read twice.
    """
    if facts is None:
        facts = village_facts(
            session,
            as_of=as_of,
            known_at=known_at,
            township_code=township_code,
            district_code=district_code,
        )
    found: list[Inconsistency] = []
    for f in facts:
        found.extend(_count_findings(f, profile))
    in_scope = {f.village_id: f.code for f in facts}
    # A township's or district's households are read alone (in SQL), not the whole city's.
    scoped = township_code is not None or district_code is not None
    read = list(in_scope) if scoped else None
    found.extend(_future_completions(session, as_of, known_at, in_scope, read))
    found.extend(_households_in_two_villages(session, as_of, known_at, in_scope, read))
    order = list(CODES)
    found.sort(key=lambda i: (i.village_code or "", order.index(i.code)))
    return found


def _count_findings(f: Any, profile: Profile | None) -> list[Inconsistency]:
    out = []
    where = f"{f.township_name}{f.name}（{f.code}）"
    non_exempt = f.ledger_rows - f.exempt
    if f.registry_total is not None and non_exempt > f.registry_total:
        out.append(
            Inconsistency(
                "ledger_exceeds_registry",
                f"{where}：台账中需改造的户数 {non_exempt} 多于名录总户数 {f.registry_total}，"
                "请核对村庄名录的总户数或台账是否有重复户。",
                f.code,
                {"non_exempt_rows": non_exempt, "registry_total": f.registry_total},
            )
        )
    if f.raw_required < 0:
        out.append(
            Inconsistency(
                "exempt_exceeds_registry",
                f"{where}：无需改造户数 {f.exempt} 多于名录总户数 {f.registry_total}，"
                "应改造户数按 0 计，请核对。",
                f.code,
                {"exempt": f.exempt, "registry_total": f.registry_total},
            )
        )
    if f.clean > f.required:
        out.append(
            Inconsistency(
                "clean_exceeds_required",
                f"{where}：已完成改造 {f.clean} 户，多于应改造户数 {f.required}，"
                "请核对名录总户数与台账状态。",
                f.code,
                {"clean": f.clean, "required": f.required},
            )
        )
    if profile is not None and profile.category(f.category or "") is None:
        shown = f.category if f.category else "（未设置）"
        out.append(
            Inconsistency(
                "unknown_category",
                f"{where}的类别“{shown}”：类别未在要求配置中，无法判断是否达标，"
                "请在村庄名录中设置类别或在要求配置中增加该类别。",
                f.code,
                {"category": f.category},
            )
        )
    return out


def _future_completions(
    session: Session,
    as_of: date | None,
    known_at: datetime | None,
    in_scope: dict[int, str],
    read: list[int] | None,
) -> list[Inconsistency]:
    """Villages with completion or acceptance dates after the reference day
    (``read``: the village ids to read, None for all)."""
    reference = as_of or date.today()
    per_village: dict[int, list[dict[str, Any]]] = defaultdict(list)
    # Dates come as ISO text from the state (the first 10 characters are the day).
    state = state_as_of(
        as_of, counting_known_at(session, known_at), ("household_no", "completed_on", "accepted_on")
    )
    s = state.c
    iso = reference.isoformat()
    completed = func.substr(s.completed_on, 1, 10)
    accepted = func.substr(s.accepted_on, 1, 10)
    stmt = select(s.village_id, s.household_id, s.household_no, completed, accepted).where(
        (completed > iso) | (accepted > iso)
    )
    if read is not None:
        stmt = stmt.where(s.village_id.in_(read))
    rows = session.execute(stmt)
    for vid, hid, no, completed_on, accepted_on in rows:
        per_village[vid].append(_late(hid, no, completed_on, accepted_on))
    out = []
    for vid, households in sorted(per_village.items(), key=lambda item: item[0]):
        if vid not in in_scope:
            continue
        households.sort(key=lambda d: d["household_id"])
        out.append(
            Inconsistency(
                "future_completion",
                f"村 {in_scope[vid]}：{len(households)} 户的完工或验收日期晚于 "
                f"{reference.isoformat()}，请核对日期。",
                in_scope[vid],
                {
                    "reference_date": reference.isoformat(),
                    "count": len(households),
                    "households": households[:MAX_LISTED],
                },
            )
        )
    return out


def _late(hid: int, no: str | None, completed: Any, accepted: Any) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if isinstance(value, date) else value

    return {
        "household_id": hid,
        "household_no": no,
        "completed_on": iso(completed),
        "accepted_on": iso(accepted),
    }


def _households_in_two_villages(
    session: Session,
    as_of: date | None,
    known_at: datetime | None,
    in_scope: dict[int, str],
    read: list[int] | None,
) -> list[Inconsistency]:
    """ID numbers held by households of several villages, where one of them is in scope."""
    state = state_as_of(as_of, counting_known_at(session, known_at))
    h = Household
    placed = (
        select(h.id_hash, state.c.village_id)
        .join(h, h.id == state.c.household_id)
        .where(h.id_hash.is_not(None))
    )
    base = placed.subquery("placed")
    shared = select(base.c.id_hash)
    if read is not None:
        # Only ID numbers held in the scope's villages can make a finding there; a district
        # whose households hold none (most of a generated city) needs no city-wide grouping.
        mine = placed.subquery("mine")  # its own alias: never correlated with ``base``
        own = select(mine.c.id_hash).where(mine.c.village_id.in_(read))
        if session.scalar(own.limit(1)) is None:
            return []
        shared = shared.where(base.c.id_hash.in_(own))
    shared = shared.group_by(base.c.id_hash).having(
        func.count(func.distinct(base.c.village_id)) > 1
    )
    pairs = session.execute(
        select(base.c.id_hash, Village.code)
        .join(Village, Village.id == base.c.village_id)
        .where(base.c.id_hash.in_(shared))
        .distinct()
    )
    villages_of: dict[str, set[str]] = defaultdict(set)
    for id_hash, code in pairs:
        villages_of[id_hash].add(code)
    scope_codes = set(in_scope.values())
    out = []
    for codes in sorted(sorted(c) for c in villages_of.values()):
        if not scope_codes.intersection(codes):
            continue
        out.append(
            Inconsistency(
                "household_in_two_villages",
                f"同一身份证号的户同时登记在 {len(codes)} 个村：{'、'.join(codes)}，"
                "请核实户籍所在村并从其他村的台账中删除。",
                codes[0],
                {"villages": codes},
            )
        )
    return out
