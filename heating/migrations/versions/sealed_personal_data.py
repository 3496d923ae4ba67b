"""Personal data at rest: room for ciphertext in the ID number and phone columns.

Revision ID: sealed_personal_data
Revises: ledger_delta_index

Values are encrypted by the application (heating/sealing.py), not by the
migration, which has no key: ``heating init`` seals the rows written before.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "sealed_personal_data"
down_revision = "ledger_delta_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Ciphertext is longer than the value: no length limit any more.  SQLite never
    # enforced VARCHAR lengths, and altering the type there would rebuild the
    # households table under its history's foreign keys, so only PostgreSQL changes.
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("households", "id_number", existing_type=sa.String(18), type_=sa.String())
    op.alter_column("households", "phone", existing_type=sa.String(32), type_=sa.String())


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        return
    op.alter_column("households", "phone", existing_type=sa.String(), type_=sa.String(32))
    op.alter_column("households", "id_number", existing_type=sa.String(), type_=sa.String(18))
