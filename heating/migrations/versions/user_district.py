"""Planners and reviewers of one district: ``users.district_id``.

Revision ID: user_district
Revises: relapse_plans

An installation may hold several districts (a city); a planner or reviewer
bound to one district reads and changes only that district (issue 17).
Existing users stay unbound (NULL), so they read what they read before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "user_district"
down_revision = "relapse_plans"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("district_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_users_district_id_districts", "districts", ["district_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("fk_users_district_id_districts", type_="foreignkey")
        batch.drop_column("district_id")
