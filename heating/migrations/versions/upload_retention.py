"""Stored uploads remember when the retention sweep deleted their bytes.

Revision ID: upload_retention
Revises: user_sessions
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "upload_retention"
down_revision = "user_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stored_files") as batch:
        batch.add_column(sa.Column("purged_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stored_files") as batch:
        batch.drop_column("purged_at")
