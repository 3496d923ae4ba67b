"""Ledger columns for evidence of use (issue 13): heated area, utility accounts, coal subsidy.

Revision ID: ledger_usage_columns
Revises: sealed_personal_data
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ledger_usage_columns"
down_revision = "sealed_personal_data"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("households") as batch:
        batch.add_column(sa.Column("coal_subsidy", sa.Numeric(12, 2), nullable=True))
        batch.add_column(sa.Column("heated_area_m2", sa.Numeric(10, 2), nullable=True))
        batch.add_column(sa.Column("power_account", sa.String(64), nullable=True))
        batch.add_column(sa.Column("gas_account", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("households") as batch:
        for name in ("gas_account", "power_account", "heated_area_m2", "coal_subsidy"):
            batch.drop_column(name)
