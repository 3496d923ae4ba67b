"""Heat sources (热源) with the register's versions, and boilers (锅炉) with their states and inspections."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow
from heating.models.registry import Township, Village


class HeatSource(Base):
    """A registered heat source (热源) for district heating: the register's current state.

    Ledgers' 热源 values are matched to ``name`` after
    ``heating.heat_sources.source_key`` (normalised, company suffixes
    dropped; the register is small, so keys are computed when matching).
    Every load that changes a source writes a
    ``HeatSourceVersion``, so the register known at a past time is at hand.
    """

    __tablename__ = "heat_sources"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[str | None] = mapped_column(String(32))  # HEAT_SOURCE_KINDS
    env_grade: Mapped[str | None] = mapped_column(String(8))  # ENV_GRADES; None = unknown
    shutdown_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_on: Mapped[date | None] = mapped_column(Date)  # planned shutdown date
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    capacity_mw: Mapped[float | None] = mapped_column()
    updated_at: Mapped[datetime | None] = mapped_column(DateTime, default=utcnow)


class HeatSourceVersion(Base):
    """The register's facts about one source from one load on (``recorded_at``).

    The rule of 先立后破 reads, per source, the newest version recorded at
    or before "known at" T, so a figure computed then can be reproduced.
    """

    __tablename__ = "heat_source_versions"
    __table_args__ = (
        Index("ix_heat_source_versions_source", "heat_source_id", "recorded_at", "id"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    heat_source_id: Mapped[int] = mapped_column(ForeignKey("heat_sources.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str | None] = mapped_column(String(32))
    env_grade: Mapped[str | None] = mapped_column(String(8))
    shutdown_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    shutdown_on: Mapped[date | None] = mapped_column(Date)


class Boiler(Base):
    """A boiler of the boiler ledger (锅炉台账), identified by its 锅炉编号 (``code``).

    ``fuel`` is the fuel first recorded: it decides whether the boiler is in
    the coal 清零 scope for good.  ``tph`` is the rated capacity in t/h
    (a rating given in MW is converted, 0.7 MW = 1 t/h).  ``state`` and
    ``state_date`` are the newest entry of ``states``; the history decides
    the state as of a date.
    """

    __tablename__ = "boilers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    unit: Mapped[str | None] = mapped_column(String(128))
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("villages.id"))
    lon: Mapped[float | None] = mapped_column()
    lat: Mapped[float | None] = mapped_column()
    tph: Mapped[float] = mapped_column()
    capacity_mw: Mapped[float | None] = mapped_column()  # as given, when given in MW
    fuel: Mapped[str] = mapped_column(String(16))  # BOILER_FUELS, first recorded
    state: Mapped[str | None] = mapped_column(String(16))
    state_date: Mapped[date | None] = mapped_column(Date)
    last_inspection: Mapped[date | None] = mapped_column(Date)
    low_nox: Mapped[str | None] = mapped_column(String(16))  # done / not_done
    low_nox_on: Mapped[date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    updated_batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    township: Mapped[Township] = relationship()
    village: Mapped[Village | None] = relationship()
    states: Mapped[list[BoilerState]] = relationship(
        back_populates="boiler", cascade="all, delete-orphan", order_by="BoilerState.id"
    )


class BoilerState(Base):
    """One entry of a boiler's state history: the state, since when, and the fuel then."""

    __tablename__ = "boiler_states"
    __table_args__ = (Index("ix_boiler_states_boiler", "boiler_id", "state_date"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    boiler_id: Mapped[int] = mapped_column(ForeignKey("boilers.id"))
    state: Mapped[str] = mapped_column(String(16))  # BOILER_STATES
    state_date: Mapped[date | None] = mapped_column(Date)  # None: in force from the start
    fuel: Mapped[str] = mapped_column(String(16))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    boiler: Mapped[Boiler] = relationship(back_populates="states")


class BoilerInspection(Base):
    """An inspection date of a boiler (最近检查日期 of each load, kept)."""

    __tablename__ = "boiler_inspections"
    __table_args__ = (
        UniqueConstraint("boiler_id", "inspected_on", name="uq_boiler_inspections_day"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    boiler_id: Mapped[int] = mapped_column(ForeignKey("boilers.id"))
    inspected_on: Mapped[date] = mapped_column(Date)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
