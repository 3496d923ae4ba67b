"""Households (户) and every version of their history (written and read by ``heating.history``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow
from heating.models.registry import Village
from heating.sealing import SealedSnapshot, SealedText

# The household fields an import may set (import.md's table, minus the places).
HOUSEHOLD_FIELDS = (
    "household_no",
    "head_name",
    "id_number",
    "phone",
    "address",
    "residents",
    "status",
    "route",
    "device",
    "heat_source",
    "plan_year",
    "completed_on",
    "completed_on_precision",
    "accepted_on",
    "device_subsidy",
    "operating_subsidy",
    "coal_subsidy",
    "heated_area_m2",
    "power_account",
    "gas_account",
    "operation",
    "exempt_reason",
    "lon",
    "lat",
    "note",
)


class Household(Base):
    """The current state of one household (户) within its village.

    ``key`` is unique within the village: the 户号, else ``id:`` + a salted
    hash of the ID number, else ``name:`` + normalised name and address
    (``key_kind`` says which, the last one being weak).  A household removed
    by a rollback keeps its row with ``active = False`` so history stays whole.
    """

    __tablename__ = "households"
    __table_args__ = (
        UniqueConstraint("village_id", "key", name="uq_households_village_key"),
        # Covering index for the per-village GROUP BY of the measures.
        Index("ix_households_measure", "village_id", "active", "status", "operation"),
        # "Is any heated area recorded?" (heating.evidence, on every village page):
        # answered from an index holding only such households (empty until areas come).
        Index(
            "ix_households_heated_area",
            "id",
            postgresql_where=text("heated_area_m2 IS NOT NULL"),
            sqlite_where=text("heated_area_m2 IS NOT NULL"),
        ),
        # Covering index for the heat-source rule's count (heating.heat_sources.
        # clean_district_sources): a district without district heating reads nothing.
        Index(
            "ix_households_district_sources",
            "route",
            "village_id",
            "heat_source",
            "active",
            "status",
            "operation",
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    key: Mapped[str] = mapped_column(String(160))
    key_kind: Mapped[str] = mapped_column(String(16))  # household_no / id_hash / name_address
    id_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    household_no: Mapped[str | None] = mapped_column(String(64))
    head_name: Mapped[str] = mapped_column(String(64))
    # Personal data: stored encrypted (heating/sealing.py); id_hash stays in clear for matching.
    id_number: Mapped[str | None] = mapped_column(SealedText())
    phone: Mapped[str | None] = mapped_column(SealedText())
    address: Mapped[str | None] = mapped_column(String(255))
    residents: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    route: Mapped[str | None] = mapped_column(String(16))
    device: Mapped[str | None] = mapped_column(String(128))
    heat_source: Mapped[str | None] = mapped_column(String(128))
    plan_year: Mapped[int | None] = mapped_column(Integer)
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_on_precision: Mapped[str | None] = mapped_column(String(8))  # day / month
    accepted_on: Mapped[date | None] = mapped_column(Date)
    device_subsidy: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    operating_subsidy: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # 洁净煤补贴 (元): none may be paid where clean heating is complete (seed item 9).
    coal_subsidy: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Heated floor area, m² (the national 清洁取暖率 is by area).
    heated_area_m2: Mapped[Decimal | None] = mapped_column(Numeric(10, 2))
    # Utility account numbers as text (leading zeros and long digits kept), matched
    # against utility use (heating.usage).
    power_account: Mapped[str | None] = mapped_column(String(64))
    gas_account: Mapped[str | None] = mapped_column(String(64))
    operation: Mapped[str | None] = mapped_column(String(16))
    exempt_reason: Mapped[str | None] = mapped_column(String(32))
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    note: Mapped[str | None] = mapped_column(Text)
    # Unknown columns of the ledger row, kept as the clerk wrote them.
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    created_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # The ledger date of the version this row shows (its newest; see heating.history).
    ledger_date: Mapped[date | None] = mapped_column(Date)

    village: Mapped[Village] = relationship()


class HouseholdVersion(Base):
    """One change to a household: the state after it, what it was before, two times, who.

    ``ledger_date`` is the day the ledger describes (台账日期, "数据截至");
    ``recorded_at`` is when the tracker learned it (naive UTC).  The state as of
    day D is the version with the latest ledger date ≤ D, ties broken by the
    later ``recorded_at`` (then id).  ``retracted_at`` is when the version stopped
    counting (its batch was rolled back; a rollback's own record is retracted
    when written).  ``prev_*`` hold the counted state of the version before it
    in that order (NULL when none counts), so measures as of a date subtract a
    telescoping sum instead of ranking history.  ``heating.history`` owns all of it.
    """

    __tablename__ = "household_versions"
    __table_args__ = (
        # Covering (HISTORY): a household's newest version as of a date and a known-at
        # time is read from the index alone, without touching the wide history rows.
        Index(
            "ix_household_versions_asof",
            "household_id",
            "ledger_date",
            "recorded_at",
            "id",
            "village_id",
            "active",
            "status",
            "operation",
            "retracted_at",
        ),
        # Households changed after a known-at time (HISTORY).
        Index("ix_household_versions_recorded", "recorded_at", "household_id"),
        # Covering (MEASURES): versions dated after a day and their predecessors'
        # counted state, in (ledger date, village) order so the as-of delta groups
        # without sorting; also the households changed since a day.
        Index(
            "ix_household_versions_ledger",
            "ledger_date",
            "village_id",
            "household_id",
            "retracted_at",
            "active",
            "status",
            "operation",
            "prev_village_id",
            "prev_status",
            "prev_operation",
        ),
        Index("ix_household_versions_batch", "batch_id", "household_id"),
        # One village's history page (newest first), and the as-of delta of one
        # township: its villages' versions dated after a day (SCALE).
        Index("ix_household_versions_village", "village_id", "ledger_date", "recorded_at", "id"),
        # The as-of delta's households that moved between villages (rare: a small index).
        Index(
            "ix_household_versions_moved",
            "prev_village_id",
            "ledger_date",
            postgresql_where=text("prev_village_id <> village_id"),
            sqlite_where=text("prev_village_id <> village_id"),
        ),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    ledger_date: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    retracted_at: Mapped[datetime | None] = mapped_column(DateTime)
    change: Mapped[str] = mapped_column(String(16))  # create / update / rollback / edit
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16))
    operation: Mapped[str | None] = mapped_column(String(16))
    prev_village_id: Mapped[int | None] = mapped_column(Integer)
    prev_status: Mapped[str | None] = mapped_column(String(16))
    prev_operation: Mapped[str | None] = mapped_column(String(16))
    # Field values before and after (JSON-safe: dates as ISO strings).  ``before``
    # is None for a created household.
    # ID number and phone inside are sealed (heating/sealing.py SealedSnapshot).
    before: Mapped[dict[str, Any] | None] = mapped_column(SealedSnapshot)
    after: Mapped[dict[str, Any] | None] = mapped_column(SealedSnapshot)
