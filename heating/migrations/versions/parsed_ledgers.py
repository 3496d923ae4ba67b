"""A preview's parse of its ledger is kept for the commit (issue 17).

Revision ID: parsed_ledgers
Revises: batch_changes
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "parsed_ledgers"
down_revision = "batch_changes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "parsed_ledgers",
        sa.Column(
            "batch_id",
            sa.Integer(),
            sa.ForeignKey("import_batches.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("parsed_ledgers")
