"""Figures computed once per data version, shared by the app's processes (issue 17).

Revision ID: kept_figures
Revises: parsed_ledgers
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "kept_figures"
down_revision = "parsed_ledgers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kept_figures",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("kept_figures")
