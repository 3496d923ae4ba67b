"""Complete villages, coal-ban zones and the plans (系统化解决方案) for places that relapsed."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow
from heating.models.registry import Village


class CompletionDecision(Base):
    """An administrator's decision that a village counts as complete (or not)."""

    __tablename__ = "completion_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("villages.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    decided_on: Mapped[date] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    village: Mapped[Village] = relationship()


class ZoneDerivation(Base):
    """One derivation of the coal-ban zones, kept for history and comparison."""

    __tablename__ = "zone_derivations"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    as_of: Mapped[date] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # {"enclaves": [...], "added": [...], "removed": [...], "method": "coverage_union"...}
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    zones: Mapped[list[Zone]] = relationship(
        back_populates="derivation", cascade="all, delete-orphan", order_by="Zone.zone_id"
    )


class Zone(Base):
    """One connected part of the coal-ban zone in a derivation."""

    __tablename__ = "zones"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    derivation_id: Mapped[int] = mapped_column(ForeignKey("zone_derivations.id"), index=True)
    zone_id: Mapped[str] = mapped_column(String(32))  # stable across derivations
    geometry: Mapped[bytes] = mapped_column(LargeBinary)  # WKB, EPSG:4490
    area_km2: Mapped[float] = mapped_column()
    village_codes: Mapped[list[str]] = mapped_column(JSON)
    # Incomplete villages this zone touches (codes).
    touching: Mapped[list[str] | None] = mapped_column(JSON)
    households: Mapped[int | None] = mapped_column(Integer)
    derivation: Mapped[ZoneDerivation] = relationship(back_populates="zones")


class RelapsePlan(Base):
    """One recording of a place's 系统化解决方案 (issue 13 item 7b); the newest is in force.

    Rows are only added, never changed: the plan in force at a time is the
    newest row recorded by then (``heating.relapse_plans``), so a report
    known at a time shows the plan as it stood.
    """

    __tablename__ = "relapse_plans"
    __table_args__ = (Index("ix_relapse_plans_place", "place_kind", "place_code", "recorded_at"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    place_kind: Mapped[str] = mapped_column(String(16))  # PLAN_PLACE_KINDS
    place_code: Mapped[str] = mapped_column(String(12))  # village (12) or township (9) code
    state: Mapped[str] = mapped_column(String(16))  # PLAN_STATES
    text: Mapped[str | None] = mapped_column(Text)
    responsible_unit: Mapped[str | None] = mapped_column(String(255))
    due_on: Mapped[date | None] = mapped_column(Date)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
