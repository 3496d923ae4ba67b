"""A partial index answering "is any heated area recorded?" without reading households.

Revision ID: heated_area_presence
Revises: scoped_query_indexes

``heating.evidence.has_areas`` asks it on every village page and measures
request; with no area recorded (most districts today) PostgreSQL read every
household to find none (tests/test_scoped_queries.py).  The index holds only
households with an area.  No data changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "heated_area_presence"
down_revision = "scoped_query_indexes"
branch_labels = None
depends_on = None

HAS_AREA = sa.text("heated_area_m2 IS NOT NULL")


def upgrade() -> None:
    op.create_index(
        "ix_households_heated_area",
        "households",
        ["id"],
        postgresql_where=HAS_AREA,
        sqlite_where=HAS_AREA,
    )


def downgrade() -> None:
    op.drop_index("ix_households_heated_area", table_name="households")
