"""Indexes for the pages' scoped history queries at city scale.

Revision ID: scoped_query_indexes
Revises: usage

A village's history page (its newest versions) and the as-of measures of one
township (its villages' versions dated after a day, and those of households
that moved out of them) had no index leading with the village: PostgreSQL
read all of ``household_versions`` for them (tests/test_scoped_queries.py,
200,000 households).  ``ix_household_versions_moved`` is partial: only
versions that moved a household between villages.  No data changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "scoped_query_indexes"
down_revision = "usage"
branch_labels = None
depends_on = None

MOVED = sa.text("prev_village_id <> village_id")


def upgrade() -> None:
    op.create_index(
        "ix_household_versions_village",
        "household_versions",
        ["village_id", "ledger_date", "recorded_at", "id"],
    )
    op.create_index(
        "ix_household_versions_moved",
        "household_versions",
        ["prev_village_id", "ledger_date"],
        postgresql_where=MOVED,
        sqlite_where=MOVED,
    )


def downgrade() -> None:
    op.drop_index("ix_household_versions_moved", table_name="household_versions")
    op.drop_index("ix_household_versions_village", table_name="household_versions")
