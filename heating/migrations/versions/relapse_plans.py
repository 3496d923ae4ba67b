"""Recorded 系统化解决方案 for villages and townships with large relapse (issue 13 item 7b).

Revision ID: relapse_plans
Revises: heat_source_counting_index

``relapse_plans`` holds every recording of a place's plan (text, 责任单位,
完成时限, state 未制定/已制定/已完成); the newest row of a place is in force.
Existing databases have no plan yet: every listed place reads 未制定.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "relapse_plans"
down_revision = "heat_source_counting_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "relapse_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("place_kind", sa.String(length=16), nullable=False),
        sa.Column("place_code", sa.String(length=12), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("responsible_unit", sa.String(length=255), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_relapse_plans_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_relapse_plans")),
    )
    op.create_index(
        "ix_relapse_plans_place", "relapse_plans", ["place_kind", "place_code", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_relapse_plans_place", table_name="relapse_plans")
    op.drop_table("relapse_plans")
