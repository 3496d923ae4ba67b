"""Complete villages and the administrator's completion decisions (完成认定).

A village is complete when it has households required and all of them are
clean (``heating.measures.complete_codes``, the one rule), or when an
administrator decided that it counts as complete (e.g. the remaining
households moved away).  A decision counts from its ``decided_on`` date until
it is revoked; as of a past date a decision revoked later still counts, and
with a known-at time only decisions recorded by then count.

This module is the only writer of ``CompletionDecision`` rows: recording and
revoking a decision are audited here and refused while the village's township
has an approved period whose cut-off is on or after the decision's date
(``heating.signoff_lock.check_unlocked``), so the web page and any later CLI call
the same two functions.  Coal-ban zones and the map take their complete
villages from ``complete_village_codes``; the annual report, which has
already read the village facts, combines them with ``decided_village_ids``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from heating.errors import NotFound, Refused
from heating.measures import complete_codes
from heating.models import CompletionDecision, Village, audit, utcnow
from heating.profile import Profile
from heating.signoff_lock import check_unlocked
from heating.village_facts import village_facts


def _in_force(as_of: date | None, known_at: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition: a decision taken by ``as_of`` (today) and not revoked by then.

    With ``known_at``, only decisions recorded by then count, and a revocation
    recorded after it does not.
    """
    day = as_of or date.today()
    after_day = datetime.combine(day + timedelta(days=1), time())
    cd = CompletionDecision
    condition = and_(
        cd.decided_on <= day,
        (cd.revoked_at.is_(None)) | (cd.revoked_at >= after_day),
    )
    if known_at is not None:
        condition = and_(
            condition,
            cd.created_at <= known_at,
            (cd.revoked_at.is_(None)) | (cd.revoked_at > known_at),
        )
    return condition


def decided_village_ids(
    session: Session, *, as_of: date | None = None, known_at: datetime | None = None
) -> set[int]:
    """Ids of the villages a decision in force declares complete."""
    return set(
        session.scalars(
            select(CompletionDecision.village_id).where(_in_force(as_of, known_at)).distinct()
        )
    )


def complete_village_codes(
    session: Session,
    profile: Profile,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
) -> set[str]:
    """Codes of the complete villages in scope, now or as of a date (module docstring)."""
    facts = village_facts(  # completeness is clean ÷ required only: no evidence to read
        session,
        as_of=as_of,
        known_at=known_at,
        township_code=township_code,
        district_code=district_code,
        evidence=False,
    )
    return complete_codes(facts, decided_village_ids(session, as_of=as_of, known_at=known_at))


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
    # After the write (heating.signoff_lock's docstring): an approval waits for it, or it for one.
    check_unlocked(
        session,
        [village.township_id],
        decided_on,
        f"记录 {village.name}（{village_code}）{decided_on.isoformat()} 的完成认定",
    )
    audit(
        session,
        "completion_decision",
        user=user_id,
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
    session.flush()
    check_unlocked(
        session,
        [decision.village.township_id],
        decision.decided_on,
        f"撤销完成认定 {decision_id}（{decision.village.name}，{decision.decided_on.isoformat()}）",
    )
    audit(
        session,
        "completion_decision_revoke",
        user=user_id,
        target=decision.village.code,
        detail={"decision": decision.id},
    )
    return decision
