"""Import batches keep the 变更明细 of their preview: before → after of updated households.

Revision ID: batch_changes
Revises: user_district
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "batch_changes"
down_revision = "user_district"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A sealed JSON document (heating.sealing.SealedDocument): ID numbers and phones inside.
    with op.batch_alter_table("import_batches") as batch:
        batch.add_column(sa.Column("changes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("import_batches") as batch:
        batch.drop_column("changes")
