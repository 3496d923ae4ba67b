"""Heat-source register with its load history; boiler ledger with state history (issue 14).

Revision ID: heat_sources_boilers
Revises: 0001

- ``heat_sources`` gains the register's columns (planned shutdown date,
  coordinates, capacity, last update); the kind ``boiler`` becomes
  ``gas_boiler`` (the register's word for 燃气锅炉房).
- ``heat_source_versions``: the facts of each source from each load on, so a
  figure "known at" a past time can be reproduced; every existing source
  gets one version, recorded now.
- ``boilers``, ``boiler_states`` (state history with dates) and
  ``boiler_inspections``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "heat_sources_boilers"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("heat_sources") as batch:
        batch.add_column(sa.Column("shutdown_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("lon", sa.Double(), nullable=True))
        batch.add_column(sa.Column("lat", sa.Double(), nullable=True))
        batch.add_column(sa.Column("capacity_mw", sa.Double(), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(), nullable=True))
    op.execute("UPDATE heat_sources SET kind = 'gas_boiler' WHERE kind = 'boiler'")

    op.create_table(
        "heat_source_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("heat_source_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=True),
        sa.Column("env_grade", sa.String(length=8), nullable=True),
        sa.Column("shutdown_listed", sa.Boolean(), nullable=False),
        sa.Column("shutdown_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_heat_source_versions_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["heat_source_id"],
            ["heat_sources.id"],
            name=op.f("fk_heat_source_versions_heat_source_id_heat_sources"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_heat_source_versions")),
    )
    op.create_index(
        "ix_heat_source_versions_source",
        "heat_source_versions",
        ["heat_source_id", "recorded_at", "id"],
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.get_bind().execute(
        sa.text(
            "INSERT INTO heat_source_versions"
            " (heat_source_id, recorded_at, name, kind, env_grade, shutdown_listed)"
            " SELECT id, :now, name, kind, env_grade, shutdown_listed FROM heat_sources"
        ),
        {"now": now},
    )
    op.get_bind().execute(sa.text("UPDATE heat_sources SET updated_at = :now"), {"now": now})

    op.create_table(
        "boilers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("unit", sa.String(length=128), nullable=True),
        sa.Column("township_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("lon", sa.Double(), nullable=True),
        sa.Column("lat", sa.Double(), nullable=True),
        sa.Column("tph", sa.Double(), nullable=False),
        sa.Column("capacity_mw", sa.Double(), nullable=True),
        sa.Column("fuel", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("state_date", sa.Date(), nullable=True),
        sa.Column("last_inspection", sa.Date(), nullable=True),
        sa.Column("low_nox", sa.String(length=16), nullable=True),
        sa.Column("low_nox_on", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_batch_id", sa.Integer(), nullable=True),
        sa.Column("updated_batch_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_batch_id"],
            ["import_batches.id"],
            name=op.f("fk_boilers_created_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_boilers_township_id_townships")
        ),
        sa.ForeignKeyConstraint(
            ["updated_batch_id"],
            ["import_batches.id"],
            name=op.f("fk_boilers_updated_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["village_id"], ["villages.id"], name=op.f("fk_boilers_village_id_villages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boilers")),
        sa.UniqueConstraint("code", name=op.f("uq_boilers_code")),
    )
    op.create_index(op.f("ix_boilers_township_id"), "boilers", ["township_id"])
    op.create_table(
        "boiler_states",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("boiler_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("state_date", sa.Date(), nullable=True),
        sa.Column("fuel", sa.String(length=16), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_boiler_states_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["boiler_id"], ["boilers.id"], name=op.f("fk_boiler_states_boiler_id_boilers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boiler_states")),
    )
    op.create_index("ix_boiler_states_boiler", "boiler_states", ["boiler_id", "state_date"])
    op.create_table(
        "boiler_inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("boiler_id", sa.Integer(), nullable=False),
        sa.Column("inspected_on", sa.Date(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["import_batches.id"],
            name=op.f("fk_boiler_inspections_batch_id_import_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["boiler_id"], ["boilers.id"], name=op.f("fk_boiler_inspections_boiler_id_boilers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_boiler_inspections")),
        sa.UniqueConstraint("boiler_id", "inspected_on", name="uq_boiler_inspections_day"),
    )


def downgrade() -> None:
    op.drop_table("boiler_inspections")
    op.drop_index("ix_boiler_states_boiler", table_name="boiler_states")
    op.drop_table("boiler_states")
    op.drop_index(op.f("ix_boilers_township_id"), table_name="boilers")
    op.drop_table("boilers")
    op.drop_index("ix_heat_source_versions_source", table_name="heat_source_versions")
    op.drop_table("heat_source_versions")
    op.execute("UPDATE heat_sources SET kind = 'boiler' WHERE kind = 'gas_boiler'")
    with op.batch_alter_table("heat_sources") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("capacity_mw")
        batch.drop_column("lat")
        batch.drop_column("lon")
        batch.drop_column("shutdown_on")
