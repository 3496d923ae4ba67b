"""Ledger dates: two times per household version, retraction, one ledger date per batch.

Revision ID: ledger_dates
Revises: heat_sources_boilers

Existing versions get ledger date = the day of their ``recorded_at`` in the
configured time zone (``recorded_at`` is naive UTC: 2021-10-31 17:00 UTC is
2021-11-01 in Beijing); existing batches likewise from their commit (else
upload) time, with source ``upload_day``.  Versions of rolled-back batches
are retracted at the rollback time and the rollback records themselves when
written (``heating.history``), and each household's chain of predecessors
(``prev_*``) and its row's ``ledger_date`` are filled in.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

revision = "ledger_dates"
down_revision = "heat_sources_boilers"
branch_labels = None
depends_on = None

DEFAULT_TIMEZONE = "Asia/Shanghai"
CHUNK = 5000


def _local_date(moment: datetime | str | None, zone: ZoneInfo) -> date | None:
    if moment is None:
        return None
    if isinstance(moment, str):  # SQLite hands raw text to a bare text() query
        moment = datetime.fromisoformat(moment)
    return moment.replace(tzinfo=UTC).astimezone(zone).date()


def _as_datetime(moment: datetime | str | None) -> datetime | None:
    if isinstance(moment, str):
        return datetime.fromisoformat(moment)
    return moment


def upgrade() -> None:
    with op.batch_alter_table("household_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("retracted_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("prev_village_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_status", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("prev_operation", sa.String(length=16), nullable=True))
        batch_op.drop_index("ix_household_versions_asof")
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_date", sa.Date(), nullable=True))
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ledger_date", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("ledger_date_source", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("not_in_file_ids", sa.JSON(), nullable=True))

    zone = ZoneInfo(context.config.attributes.get("timezone") or DEFAULT_TIMEZONE)
    _fill(op.get_bind(), zone)

    with op.batch_alter_table("household_versions", schema=None) as batch_op:
        batch_op.alter_column("ledger_date", existing_type=sa.Date(), nullable=False)
        batch_op.create_index(
            "ix_household_versions_asof",
            [
                "household_id",
                "ledger_date",
                "recorded_at",
                "id",
                "village_id",
                "active",
                "status",
                "operation",
                "retracted_at",
            ],
            unique=False,
        )
        batch_op.create_index(
            "ix_household_versions_ledger",
            [
                "ledger_date",
                "household_id",
                "retracted_at",
                "active",
                "village_id",
                "status",
                "operation",
                "prev_village_id",
                "prev_status",
                "prev_operation",
            ],
            unique=False,
        )


def _fill(bind: sa.Connection, zone: ZoneInfo) -> None:
    """Dates, retractions and predecessor chains for the rows already there."""
    batches = bind.execute(
        sa.text("SELECT id, status, created_at, committed_at, rolled_back_at FROM import_batches")
    ).all()
    rolled_back: dict[int, datetime] = {}
    batch_rows = []
    for batch_id, status, created_at, committed_at, rolled_back_at in batches:
        if status == "rolled_back" and rolled_back_at is not None:
            rolled_back[batch_id] = _as_datetime(rolled_back_at)
        day = _local_date(committed_at or created_at, zone)
        batch_rows.append({"b_id": batch_id, "b_day": day})
    if batch_rows:
        bind.execute(
            sa.text(
                "UPDATE import_batches SET ledger_date = :b_day, ledger_date_source = 'upload_day'"
                " WHERE id = :b_id"
            ),
            batch_rows,
        )

    ids = [row[0] for row in bind.execute(sa.text("SELECT id FROM households ORDER BY id"))]
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        _fill_households(bind, part[0], part[-1], zone, rolled_back)


def _fill_households(
    bind: sa.Connection, first: int, last: int, zone: ZoneInfo, rolled_back: dict[int, datetime]
) -> None:
    rows = bind.execute(
        sa.text(
            "SELECT id, household_id, batch_id, recorded_at, change, village_id, active, status,"
            " operation FROM household_versions WHERE household_id BETWEEN :first AND :last"
        ),
        {"first": first, "last": last},
    ).all()
    chains: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for vid, hid, batch_id, recorded_at, change, village_id, active, status, operation in rows:
        recorded_at = _as_datetime(recorded_at)
        if change == "rollback":
            retracted = recorded_at
        else:
            retracted = rolled_back.get(batch_id) if batch_id is not None else None
        chains[hid].append(
            {
                "v_id": vid,
                "v_day": _local_date(recorded_at, zone),
                "recorded_at": recorded_at,
                "v_retracted": retracted,
                "village_id": village_id,
                "active": bool(active),
                "status": status,
                "operation": operation,
                "v_pv": None,
                "v_ps": None,
                "v_po": None,
            }
        )
    updates: list[dict[str, Any]] = []
    days: list[dict[str, Any]] = []
    for hid, versions in chains.items():
        versions.sort(key=lambda v: (v["v_day"], v["recorded_at"], v["v_id"]))
        previous = None
        for v in versions:
            if v["v_retracted"] is None:
                if previous is not None and previous["active"]:
                    v["v_pv"] = previous["village_id"]
                    v["v_ps"] = previous["status"]
                    v["v_po"] = previous["operation"]
                previous = v
            updates.append({k: v[k] for k in ("v_id", "v_day", "v_retracted", "v_pv", "v_ps", "v_po")})
        days.append({"h_id": hid, "h_day": previous["v_day"] if previous else None})
    if updates:
        bind.execute(
            sa.text(
                "UPDATE household_versions SET ledger_date = :v_day, retracted_at = :v_retracted,"
                " prev_village_id = :v_pv, prev_status = :v_ps, prev_operation = :v_po"
                " WHERE id = :v_id"
            ),
            updates,
        )
    if days:
        bind.execute(
            sa.text("UPDATE households SET ledger_date = :h_day WHERE id = :h_id"), days
        )


def downgrade() -> None:
    with op.batch_alter_table("household_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_household_versions_ledger")
        batch_op.drop_index("ix_household_versions_asof")
        batch_op.drop_column("prev_operation")
        batch_op.drop_column("prev_status")
        batch_op.drop_column("prev_village_id")
        batch_op.drop_column("retracted_at")
        batch_op.drop_column("ledger_date")
        batch_op.create_index(
            "ix_household_versions_asof",
            ["household_id", "recorded_at", "id", "village_id", "active", "status", "operation"],
            unique=False,
        )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("ledger_date")
    with op.batch_alter_table("import_batches", schema=None) as batch_op:
        batch_op.drop_column("not_in_file_ids")
        batch_op.drop_column("ledger_date_source")
        batch_op.drop_column("ledger_date")
