"""A covering index for the heat-source rule's count of district-heated households.

Revision ID: heat_source_counting_index
Revises: heated_area_presence

The measures subtract, under ``heat_source_rule = strict``, the clean
district-heated households on a non-compliant source
(``heating.heat_sources.clean_district_sources``: one GROUP BY village and
source over ``route = 'district'``).  Led by ``route``, the index makes that
read proportional to the district-heated households, not to all of them
(a rural district has none).  No data changes.
"""

from __future__ import annotations

from alembic import op

revision = "heat_source_counting_index"
down_revision = "heated_area_presence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_households_district_sources",
        "households",
        ["route", "village_id", "heat_source", "active", "status", "operation"],
    )


def downgrade() -> None:
    op.drop_index("ix_households_district_sources", table_name="households")
