"""The lock of an approved period: nothing dated on or before its cut-off may change.

While a township's period is approved (``heating.signoff``), ``check_unlocked``
refuses (``PeriodLocked``, code ``period_locked``) every write dated on or
before its cut-off for that township.  It is called where those writes are
decided — ledger commits and rollbacks (``imports.commit``,
``imports.rollback``) and completion decisions (``heating.completion``) — so
every face goes through it.  Withdrawing the approval lifts it.

It reads the sign-off rows ``FOR SHARE`` inside the writer's transaction, after
the writer's first write: on PostgreSQL an approval and a commit of the same
township wait for each other; on SQLite writers queue anyway.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import clock
from heating.errors import Refused
from heating.models import Signoff, SignoffEvent, Township
from heating.signoff import APPROVED


class PeriodLocked(Refused):
    """A write dated in an approved period was refused (code ``period_locked``)."""

    code = "period_locked"


def check_unlocked(
    session: Session,
    township_ids: Iterable[int | None],
    day: date | None,
    what: str,
    *,
    tz: str = clock.DEFAULT_TIMEZONE,
) -> None:
    """Refuse ``what`` (e.g. "写入批次 12") when it would change an approved period.

    A period is affected when one of ``township_ids`` has it approved and
    ``day`` (the ledger date or decision date) is on or before its cut-off.
    The rows are read ``FOR SHARE`` (see the module docstring); call this
    after the caller's first write.
    """
    ids = sorted({t for t in township_ids if t is not None})
    if not ids or day is None:
        return
    rows = session.execute(
        select(Signoff.id, Signoff.township_id, Signoff.period, Signoff.state)
        .where(Signoff.township_id.in_(ids), Signoff.period >= day)
        .order_by(Signoff.period, Signoff.township_id)
        .with_for_update(read=True)
    ).all()
    locked = [r for r in rows if r.state == APPROVED]
    if not locked:
        return
    first = locked[0]
    township = session.get(Township, first.township_id)
    approval = session.scalars(
        select(SignoffEvent)
        .where(SignoffEvent.signoff_id == first.id, SignoffEvent.action == "approve")
        .order_by(SignoffEvent.at.desc(), SignoffEvent.id.desc())
        .limit(1)
    ).first()
    by = approval.username if approval else "审核人"
    at = clock.shown(approval.at, tz) if approval else ""
    period = first.period.isoformat()
    others = ""
    if len(locked) > 1:
        others = f"（另有 {len(locked) - 1} 个已审核的报送期也涉及）"
    raise PeriodLocked(
        f"{what}被拒绝（period_locked）：{township.name}（{township.code}）{period} 期已于 {at} "
        f"由 {by} 审核通过，截止日 {period}（含）以前的数据已锁定{others}。"
        f"如确需修改，请联系管理员撤回该期审核（网页“报送与审核”页，或 heating signoff withdraw "
        f"--township {township.code} --period {period} --reason 理由 --user 管理员）；撤回后即可重新操作，"
        "修改后由乡镇重新报送、区级重新审核。",
        detail={
            "code": PeriodLocked.code,
            "township": township.code,
            "period": period,
            "approved_by": by,
            "approved_at": clock.iso(approval.at, tz) if approval else None,
        },
    )
