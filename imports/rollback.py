"""Rollback: a committed batch's versions stop counting (``heating.history.retract``).

Refused when a later batch still in force, or a manual change, wrote one of
its households on top of it, and when a signed-off period covers it.  A
usage batch is rolled back by ``imports.usage_batches``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import clock, history, locks, signoff_lock
from heating.errors import Refused
from heating.models import HouseholdVersion, ImportBatch, audit, utcnow
from imports.batches import lock_batch
from imports.commit import declare_writes, townships_of


def rollback(
    session: Session,
    batch_id: int,
    *,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
    tz: str = clock.DEFAULT_TIMEZONE,
) -> ImportBatch:
    """Undo a committed batch: its versions stop counting (``heating.history.retract``).

    Each household's row becomes its state as of the newest ledger date
    without the batch (inactive when nothing else counts).  Refused, naming
    the batch, when a batch still in force wrote one of these households
    after this one with a later ledger date, or the same date recorded later
    (its values were merged on top of this batch's).
    """
    found = session.get(ImportBatch, batch_id)
    locks.hold_township_writes(session, found.township_id if found else None)
    batch = lock_batch(session, batch_id, "committed")
    if batch.kind == "usage":
        from imports.usage_batches import rollback_usage

        return rollback_usage(session, batch, user_id=user_id)
    if batch.kind != "ledger":
        raise Refused(f"批次 {batch_id} 不是台账导入批次（{batch.kind}），不能撤销。")
    townships = _townships_rolled_back(session, batch)
    signoff_lock.check_unlocked(
        session, townships, batch.ledger_date, f"撤销批次 {batch_id}", tz=tz
    )
    later = history.later_in_force(session, batch_id)
    if later:
        first_batch, first_at, _ = later[0]
        count = len({household for _, _, household in later})
        when = clock.shown(first_at, tz)
        if first_batch is not None:
            raise Refused(
                f"不能撤销批次 {batch_id}：之后的批次 {first_batch}（{when} 提交）又修改了"
                f"其中 {count} 户。请先撤销批次 {first_batch}，再撤销批次 {batch_id}。",
                detail={"later_batch": first_batch, "recorded_at": clock.iso(first_at, tz)},
            )
        raise Refused(
            f"不能撤销批次 {batch_id}：{when} 之后又有人工修改涉及其中 {count} 户。"
            "请先核对这些修改。",
            detail={"later_batch": None, "recorded_at": clock.iso(first_at, tz)},
        )
    # Undoing a mistaken import in one district leaves the other districts' kept figures,
    # and its own as of dates before the batch, standing: its versions are all dated then,
    # and each row goes back to what its counting version as of an earlier date said.
    declare_writes(session, townships, batch.ledger_date)
    when = recorded_at or utcnow()
    restored = history.retract(
        session, batch_id, history.Stamp(batch.ledger_date, when, batch_id, user_id)
    )
    batch.status = "rolled_back"
    batch.rolled_back_at = when
    session.flush()
    audit(
        session,
        "import_rollback",
        user=user_id,
        target=f"batch:{batch_id}",
        detail={"households": restored},
    )
    return batch


def _townships_rolled_back(session: Session, batch: ImportBatch) -> set[int]:
    """The batch's township and those of the villages its versions and their predecessors hold."""
    v = HouseholdVersion
    villages = set(session.scalars(select(v.village_id).where(v.batch_id == batch.id).distinct()))
    villages.update(
        session.scalars(
            select(v.prev_village_id)
            .where(v.batch_id == batch.id, v.prev_village_id.is_not(None))
            .distinct()
        )
    )
    return {batch.township_id} | townships_of(session, villages)
