"""Places (the registry, 村庄名录): districts, townships, villages with their boundaries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow


class District(Base):
    """A district (区/县); an installation may hold several."""

    __tablename__ = "districts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(6), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    seat_township_code: Mapped[str | None] = mapped_column(String(9))
    townships: Mapped[list[Township]] = relationship(back_populates="district")


class Township(Base):
    """乡镇/街道/开发区/管理中心: 9-digit statistical code."""

    __tablename__ = "townships"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(9), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    district_id: Mapped[int] = mapped_column(ForeignKey("districts.id"), index=True)
    is_seat: Mapped[bool] = mapped_column(Boolean, default=False)
    district: Mapped[District] = relationship(back_populates="townships")
    villages: Mapped[list[Village]] = relationship(back_populates="township")


class Village(Base):
    """行政村/社区: 12-digit code, category, registry total, boundary (WKB, EPSG:4490)."""

    __tablename__ = "villages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(32), index=True)
    # True when the category was proposed from the urban–rural code, not given.
    category_proposed: Mapped[bool] = mapped_column(Boolean, default=False)
    total_households: Mapped[int | None] = mapped_column(Integer)
    urban_rural_code: Mapped[str | None] = mapped_column(String(3))
    geometry: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Where the boundary came from (file name, or "generated" for the demo).
    boundary_source: Mapped[str | None] = mapped_column(String(255))
    boundary_generated: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    township: Mapped[Township] = relationship(back_populates="villages")
