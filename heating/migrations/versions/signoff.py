"""Sign-off of townships' periods: states and their audited transitions (issue 12).

Revision ID: signoff
Revises: upload_retention

- ``signoffs``: one row per township and period (a report cut-off) once it
  was first submitted, with its current state and what the approval saw.
- ``signoff_events``: every transition (submit, approve, return, withdraw)
  with who, when and the note or reason.

The new role ``reviewer`` needs no schema change (``users.role`` is text).
Existing databases have no sign-off yet: every period is 未报送.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "signoff"
down_revision = "upload_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signoffs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("approval", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_signoffs_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoffs")),
        sa.UniqueConstraint("township_id", "period", name="uq_signoffs_township_period"),
    )
    op.create_index(op.f("ix_signoffs_period"), "signoffs", ["period"])
    op.create_table(
        "signoff_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signoff_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=False),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["signoff_id"], ["signoffs.id"], name=op.f("fk_signoff_events_signoff_id_signoffs")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_signoff_events_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoff_events")),
    )
    op.create_index(op.f("ix_signoff_events_signoff_id"), "signoff_events", ["signoff_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_signoff_events_signoff_id"), table_name="signoff_events")
    op.drop_table("signoff_events")
    op.drop_index(op.f("ix_signoffs_period"), table_name="signoffs")
    op.drop_table("signoffs")
