"""Utility use by account (issue 13): usage_records, written by usage batches.

Revision ID: usage
Revises: ledger_usage_columns
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "usage"
down_revision = "ledger_usage_columns"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("form", sa.String(length=8), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_usage_records_batch_id_import_batches"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_records")),
    )
    op.create_index("ix_usage_records_key", "usage_records", ["kind", "account", "start"])
    op.create_index(op.f("ix_usage_records_batch_id"), "usage_records", ["batch_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_usage_records_batch_id"), table_name="usage_records")
    op.drop_index("ix_usage_records_key", table_name="usage_records")
    op.drop_table("usage_records")
