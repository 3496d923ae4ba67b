"""Measures: required, clean, coverage, effective coverage, gap — now or as of a date.

Definitions are domain.md's ("Measures"):

- ``required`` = registry total households (else the number of ledger rows)
  − exempt rows, per village; never negative (a negative value is reported
  by ``heating.inconsistencies`` and counted as 0);
- ``clean`` = ledger rows with status completed or accepted;
- ``lapsed`` = clean rows whose look-back operation is coal_again/abandoned;
- ``coverage`` = clean / required, ``None`` when required is 0 (shown "—",
  never 0% or 100%); ``effective_coverage`` = (clean − lapsed) / required;
- ``gap`` to target t = max(0, ceil(t × required) − clean), computed with
  exact fractions so that 80% of 10 is 8, not 9 (0.8 * 10 in floats is 8.000…1).

Aggregates (township, category, district, total) sum the village counts and
take coverage from the sums.  Gap and ``meets`` follow the profile's rule for
each category part of the aggregate:

- a category whose target is 100% ("every_village"): each village must reach
  it, so the part's gap is the sum of the village gaps and it meets only when
  every village with households required meets;
- a category with a target below 100% ("aggregate"): the part's own sums are
  compared with the target, so its gap is the aggregate gap.

A township, district or total row mixes categories: its gap is the sum of its
category parts' gaps and it meets when every judged part meets.  ``meets`` is
``None`` where nothing is required or the category is unknown to the profile.

"As of" a date D (and "known at" a time K) reads each household's state by
``heating.history``'s rule: the version with the latest ledger date ≤ D
recorded by K; a household with no such version, or whose version is
inactive, does not count.  The ``households`` table (the current state) is
read with one GROUP BY village; for a date or a known-at time, a second GROUP
BY over only the households changed since corrects it
(``heating.history.delta_rows``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from fractions import Fraction
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, select, text, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from heating.config import Profile
from heating.errors import NotFound, Refused
from heating.history import delta_rows
from heating.models import (
    CLEAN_STATUSES,
    LAPSED_OPERATIONS,
    CompletionDecision,
    District,
    Household,
    Township,
    User,
    Village,
    audit,
    utcnow,
)

BY_CHOICES = ("village", "township", "category", "district")
TOTAL_KEY = "total"
TOTAL_NAME = "合计"
RULE_EVERY_VILLAGE = "every_village"
RULE_AGGREGATE = "aggregate"


# --------------------------------------------------------------------------
# Result rows
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureRow:
    """The measures of one village or of an aggregate of villages."""

    key: str  # village code / township code / category key / district code / "total"
    name: str
    category: str | None  # village rows: its category; category rows: the key; else None
    township_code: str | None  # village and township rows
    villages: int
    registry_households: int  # Σ registry total households where given
    ledger_rows: int  # active ledger rows (all statuses)
    exempt: int
    required: int
    clean: int
    lapsed: int  # clean rows whose operation is coal_again/abandoned
    coverage: float | None  # None when required == 0
    effective_coverage: float | None
    target: float | None
    gap: int
    meets: bool | None

    def as_json(self) -> dict[str, Any]:
        """Return interfaces.md's keys first, then the extra counts."""
        data = asdict(self)
        promised = (
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
        )
        ordered = {k: data[k] for k in promised}
        ordered.update({k: v for k, v in data.items() if k not in ordered})
        return ordered


@dataclass(frozen=True)
class VillageFacts:
    """One village's place in the hierarchy and its raw household counts."""

    village_id: int
    code: str
    name: str
    category: str | None
    registry_total: int | None
    township_code: str
    township_name: str
    district_code: str
    district_name: str
    ledger_rows: int = 0
    exempt: int = 0
    clean: int = 0
    lapsed: int = 0

    @property
    def raw_required(self) -> int:
        """Required before clamping at 0 (negative means more exempt than registered)."""
        base = self.registry_total if self.registry_total is not None else self.ledger_rows
        return base - self.exempt

    @property
    def required(self) -> int:
        return max(0, self.raw_required)


# --------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------


def _exact(target: float) -> Fraction:
    """The target as the fraction its configured decimal means (0.8 → 4/5)."""
    return Fraction(repr(target))


def needed(target: float, required: int) -> int:
    """Clean households needed to reach ``target`` of ``required``: ceil(t × required)."""
    return math.ceil(_exact(target) * required)


def gap_to(target: float | None, required: int, clean: int) -> int:
    """Households still to retrofit to reach the target (0 without a target)."""
    if target is None:
        return 0
    return max(0, needed(target, required) - clean)


def _ratio(numerator: int, required: int) -> float | None:
    return numerator / required if required > 0 else None


def percent(value: float | None, digits: int = 1) -> str:
    """A share as "95.2%"; None (nothing required) as "—", never 0% or 100%."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def rule_for(target: float | None) -> str | None:
    """The compliance rule of a category target (domain.md "Compliance with the profile")."""
    if target is None:
        return None
    return RULE_EVERY_VILLAGE if target >= 1 else RULE_AGGREGATE


# --------------------------------------------------------------------------
# Reading the counts (one GROUP BY)
# --------------------------------------------------------------------------


def as_of_cutoff(as_of: date) -> datetime:
    """The first instant not included in "as of ``as_of``": midnight after it."""
    return datetime.combine(as_of + timedelta(days=1), time())


def _count_columns(status: Any, operation: Any, weight: Any = None) -> list[Any]:
    """ledger_rows, exempt, clean, lapsed; a ±1 ``weight`` column lets a delta subtract rows."""
    clean = status.in_(CLEAN_STATUSES)
    if weight is None:
        weight = literal(1, Integer)
        rows = func.count()
    else:
        rows = func.sum(weight)
    return [
        rows.label("ledger_rows"),
        func.sum(case((status == "exempt", weight), else_=0)).label("exempt"),
        func.sum(case((clean, weight), else_=0)).label("clean"),
        func.sum(case((and_(clean, operation.in_(LAPSED_OPERATIONS)), weight), else_=0)).label(
            "lapsed"
        ),
    ]


def _current_counts(village_ids: Select | None) -> Select:
    """One GROUP BY village over the active households (their current state)."""
    h = Household
    stmt = (
        select(h.village_id, *_count_columns(h.status, h.operation))
        .where(h.active == true())
        .group_by(h.village_id)
    )
    if village_ids is not None:
        stmt = stmt.where(h.village_id.in_(village_ids))
    return stmt


def _changes(as_of: date | None, known_at: datetime | None, village_ids: Select | None) -> Select:
    """Per village, what to add to the current counts to get those as of the date/known-at."""
    delta = delta_rows(as_of, known_at).subquery("delta")
    stmt = select(
        delta.c.village_id, *_count_columns(delta.c.status, delta.c.operation, delta.c.weight)
    ).group_by(delta.c.village_id)
    if village_ids is not None:
        stmt = stmt.where(delta.c.village_id.in_(village_ids))
    return stmt


def _counts(
    session: Session,
    as_of: date | None,
    village_ids: Select | None,
    known_at: datetime | None = None,
) -> dict[int, list[int]]:
    """village id → [ledger_rows, exempt, clean, lapsed], now or as of a date / known-at."""
    if session.get_bind().dialect.name == "postgresql":
        # Millions of rows make the planner JIT-compile these aggregates, which costs
        # about a second and saves nothing on a single pass (measured at 6M households).
        session.execute(text("SET LOCAL jit = off"))
    counts = {
        row[0]: [int(x or 0) for x in row[1:]]
        for row in session.execute(_current_counts(village_ids))
    }
    if as_of is not None or known_at is not None:
        for village_id, *delta in session.execute(_changes(as_of, known_at, village_ids)):
            current = counts.setdefault(village_id, [0, 0, 0, 0])
            for i, d in enumerate(delta):
                current[i] += int(d or 0)
    return counts


def _village_query(township_code: str | None, district_code: str | None) -> Select:
    stmt = (
        select(
            Village.id,
            Village.code,
            Village.name,
            Village.category,
            Village.total_households,
            Township.code,
            Township.name,
            District.code,
            District.name,
        )
        .join(Township, Village.township_id == Township.id)
        .join(District, Township.district_id == District.id)
        .order_by(Village.code)
    )
    if township_code is not None:
        stmt = stmt.where(Township.code == township_code)
    if district_code is not None:
        stmt = stmt.where(District.code == district_code)
    return stmt


def _check_scope(session: Session, township_code: str | None, district_code: str | None) -> None:
    if (
        township_code is not None
        and session.scalar(select(Township.id).where(Township.code == township_code)) is None
    ):
        raise NotFound(
            f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位统计用区划代码）。"
        )
    if (
        district_code is not None
        and session.scalar(select(District.id).where(District.code == district_code)) is None
    ):
        raise NotFound(f"区县代码 {district_code} 不在村庄名录中：请检查代码（6 位）。")


def village_facts(
    session: Session,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
) -> list[VillageFacts]:
    """Every village in scope (by code) with its household counts now or as of a date.

    ``known_at`` (naive UTC) counts only what was recorded by then.
    """
    _check_scope(session, township_code, district_code)
    scoped = township_code is not None or district_code is not None
    ids = None
    if scoped:
        ids = (
            select(Village.id)
            .join(Township, Village.township_id == Township.id)
            .join(District, Township.district_id == District.id)
        )
        if township_code is not None:
            ids = ids.where(Township.code == township_code)
        if district_code is not None:
            ids = ids.where(District.code == district_code)
    counts = _counts(session, as_of, ids, known_at)
    facts = []
    for vid, code, name, cat, total, tcode, tname, dcode, dname in session.execute(
        _village_query(township_code, district_code)
    ):
        ledger_rows, exempt, clean, lapsed = counts.get(vid, (0, 0, 0, 0))
        facts.append(
            VillageFacts(
                vid,
                code,
                name,
                cat,
                total,
                tcode,
                tname,
                dcode,
                dname,
                ledger_rows,
                exempt,
                clean,
                lapsed,
            )  # fmt: skip
        )
    return facts


# --------------------------------------------------------------------------
# Building rows
# --------------------------------------------------------------------------


def village_row(facts: VillageFacts, profile: Profile) -> MeasureRow:
    """The measures of one village against its category's target."""
    target = profile.target(facts.category)
    required = facts.required
    gap = gap_to(target, required, facts.clean)
    meets = None if target is None or required == 0 else gap == 0
    return MeasureRow(
        key=facts.code,
        name=facts.name,
        category=facts.category,
        township_code=facts.township_code,
        villages=1,
        registry_households=facts.registry_total or 0,
        ledger_rows=facts.ledger_rows,
        exempt=facts.exempt,
        required=required,
        clean=facts.clean,
        lapsed=facts.lapsed,
        coverage=_ratio(facts.clean, required),
        effective_coverage=_ratio(facts.clean - facts.lapsed, required),
        target=target,
        gap=gap,
        meets=meets,
    )


def _judge_part(target: float | None, rows: list[MeasureRow]) -> tuple[int, bool | None]:
    """Gap and meets of the villages of ONE category by the profile's rule."""
    if target is None:
        return 0, None
    required = sum(r.required for r in rows)
    if required == 0:
        return 0, None
    if rule_for(target) == RULE_EVERY_VILLAGE:
        gap = sum(r.gap for r in rows)
        return gap, all(r.meets for r in rows if r.meets is not None)
    gap = gap_to(target, required, sum(r.clean for r in rows))
    return gap, gap == 0


def aggregate_row(
    key: str,
    name: str,
    rows: Iterable[MeasureRow],
    *,
    category: str | None = None,
    township_code: str | None = None,
) -> MeasureRow:
    """Sum village rows; judge each category part by its rule; combine (module docstring)."""
    rows = list(rows)
    parts: dict[str | None, list[MeasureRow]] = defaultdict(list)
    for r in rows:
        parts[r.category].append(r)
    gap = 0
    judged: list[bool] = []
    targets = set()
    for part in parts.values():
        target = part[0].target
        targets.add(target)
        part_gap, part_meets = _judge_part(target, part)
        gap += part_gap
        if part_meets is not None:
            judged.append(part_meets)
    required = sum(r.required for r in rows)
    clean = sum(r.clean for r in rows)
    lapsed = sum(r.lapsed for r in rows)
    return MeasureRow(
        key=key,
        name=name,
        category=category,
        township_code=township_code,
        villages=sum(r.villages for r in rows),
        registry_households=sum(r.registry_households for r in rows),
        ledger_rows=sum(r.ledger_rows for r in rows),
        exempt=sum(r.exempt for r in rows),
        required=required,
        clean=clean,
        lapsed=lapsed,
        coverage=_ratio(clean, required),
        effective_coverage=_ratio(clean - lapsed, required),
        target=targets.pop() if len(targets) == 1 else None,
        gap=gap,
        meets=(all(judged) if judged else None) if required > 0 else None,
    )


def _category_row(profile: Profile, key: str | None, rows: list[MeasureRow]) -> MeasureRow:
    target = profile.target(key)
    row = aggregate_row(key or "", profile.label(key), rows, category=key)
    if row.target != target:  # a category with no villages still shows its target
        row = replace(row, target=target)
    return row


def coverage(
    session: Session,
    profile: Profile,
    by: str = "village",
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
) -> list[MeasureRow]:
    """Measures per village, township, category or district, now or as of a date.

    ``known_at`` (naive UTC) restricts to what was recorded by then, so the
    figures can be reproduced later whatever was back-filled since.

    ``by="category"`` lists every category of the profile (also those without
    villages), then any category found on villages but unknown to the profile,
    and ends with the ``"total"`` row.  Rows are ordered by code otherwise.
    """
    if by not in BY_CHOICES:
        raise Refused(f"--by 应为 {' / '.join(BY_CHOICES)} 之一，得到 {by!r}")
    facts = village_facts(
        session,
        as_of=as_of,
        known_at=known_at,
        township_code=township_code,
        district_code=district_code,
    )
    rows = [village_row(f, profile) for f in facts]
    if by == "village":
        return rows
    if by == "township":
        return _township_rows(session, facts, rows, township_code, district_code)
    if by == "district":
        groups: dict[str, list[MeasureRow]] = defaultdict(list)
        names: dict[str, str] = {}
        for f, r in zip(facts, rows, strict=True):
            groups[f.district_code].append(r)
            names[f.district_code] = f.district_name
        return [aggregate_row(code, names[code], groups[code]) for code in sorted(groups)]
    return category_rows(profile, rows)


def category_rows(profile: Profile, rows: list[MeasureRow]) -> list[MeasureRow]:
    """One row per profile category (+ unknown ones found on villages), then "total"."""
    by_cat: dict[str | None, list[MeasureRow]] = defaultdict(list)
    for r in rows:
        by_cat[r.category].append(r)
    keys: list[str | None] = list(profile.keys())
    keys += sorted((k for k in by_cat if k not in keys), key=lambda k: (k is None, k or ""))
    result = [_category_row(profile, k, by_cat.get(k, [])) for k in keys]
    result.append(aggregate_row(TOTAL_KEY, TOTAL_NAME, rows))
    return result


def _township_rows(
    session: Session,
    facts: list[VillageFacts],
    rows: list[MeasureRow],
    township_code: str | None,
    district_code: str | None,
) -> list[MeasureRow]:
    groups: dict[str, list[MeasureRow]] = defaultdict(list)
    for f, r in zip(facts, rows, strict=True):
        groups[f.township_code].append(r)
    # Townships without villages still appear (with nothing required).
    stmt = select(Township.code, Township.name).join(District).order_by(Township.code)
    if township_code is not None:
        stmt = stmt.where(Township.code == township_code)
    if district_code is not None:
        stmt = stmt.where(District.code == district_code)
    return [
        aggregate_row(code, name, groups.get(code, []), township_code=code)
        for code, name in session.execute(stmt)
    ]


# --------------------------------------------------------------------------
# Complete villages and administrator decisions
# --------------------------------------------------------------------------


def _decision_in_force(as_of: date | None, known_at: datetime | None = None) -> Any:
    """SQL condition: a decision taken by ``as_of`` (today) and not revoked by then.

    With ``known_at``, only decisions recorded by then count, and a revocation
    recorded after it does not.
    """
    day = as_of or date.today()
    cd = CompletionDecision
    condition = and_(
        cd.decided_on <= day,
        (cd.revoked_at.is_(None)) | (cd.revoked_at >= as_of_cutoff(day)),
    )
    if known_at is not None:
        condition = and_(
            condition,
            cd.created_at <= known_at,
            (cd.revoked_at.is_(None)) | (cd.revoked_at > known_at),
        )
    return condition


def complete_village_codes(
    session: Session,
    profile: Profile,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
) -> set[str]:
    """Codes of complete villages: required > 0 and clean = required, or decided so.

    A decision counts from its ``decided_on`` date until it is revoked (as of a
    past date, a decision revoked later still counts).
    """
    facts = village_facts(
        session,
        as_of=as_of,
        known_at=known_at,
        township_code=township_code,
        district_code=district_code,
    )
    codes = {f.code for f in facts if f.required > 0 and f.clean >= f.required}
    in_scope = {f.code for f in facts}
    decided = session.scalars(
        select(Village.code)
        .join(CompletionDecision, CompletionDecision.village_id == Village.id)
        .where(_decision_in_force(as_of, known_at))
    )
    codes.update(c for c in decided if c in in_scope)
    return codes


def decisions_in_force(
    session: Session, *, as_of: date | None = None, known_at: datetime | None = None
) -> list[CompletionDecision]:
    """The completion decisions that count as of a date (today by default), known at a time."""
    return list(
        session.scalars(
            select(CompletionDecision)
            .where(_decision_in_force(as_of, known_at))
            .order_by(CompletionDecision.decided_on, CompletionDecision.id)
        )
    )


def record_decision(
    session: Session,
    village_code: str,
    reason: str,
    decided_on: date,
    user_id: int | None = None,
) -> CompletionDecision:
    """Record an administrator's decision that a village counts as complete."""
    reason = (reason or "").strip()
    if not reason:
        raise Refused("请填写认定理由（如：已整体拆迁、全部为集中供热）。")
    village = session.scalar(select(Village).where(Village.code == village_code))
    if village is None:
        raise NotFound(f"村代码 {village_code} 不在村庄名录中：请检查 12 位村代码。")
    decision = CompletionDecision(
        village_id=village.id, reason=reason, decided_on=decided_on, user_id=user_id
    )
    session.add(decision)
    session.flush()
    audit(
        session,
        "completion_decision",
        user=session.get(User, user_id) if user_id is not None else None,
        target=village_code,
        detail={"decision": decision.id, "reason": reason, "decided_on": decided_on.isoformat()},
    )
    return decision


def revoke_decision(
    session: Session, decision_id: int, user_id: int | None = None
) -> CompletionDecision:
    """Revoke a completion decision (kept for history, no longer counts from now)."""
    decision = session.get(CompletionDecision, decision_id)
    if decision is None:
        raise NotFound(f"完成认定 {decision_id} 不存在。")
    if decision.revoked_at is not None:
        raise Refused(f"完成认定 {decision_id} 已于 {decision.revoked_at:%Y-%m-%d} 撤销。")
    decision.revoked_at = utcnow()
    audit(
        session,
        "completion_decision_revoke",
        user=session.get(User, user_id) if user_id is not None else None,
        target=decision.village.code,
        detail={"decision": decision.id},
    )
    return decision


# --------------------------------------------------------------------------
# Compliance and inconsistencies live in their own modules; reachable from here
# --------------------------------------------------------------------------

_ELSEWHERE = {
    "CategoryCompliance": "heating.compliance",
    "compliance": "heating.compliance",
    "Inconsistency": "heating.inconsistencies",
    "inconsistencies": "heating.inconsistencies",
}


def __getattr__(name: str) -> Any:
    """Expose compliance()/inconsistencies() as heating.measures.* (imported lazily)."""
    module = _ELSEWHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
