"""Sign-off of townships' periods: where each stands and every step taken (``heating.signoff``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow
from heating.models.registry import Township


class Signoff(Base):
    """A township's period (a report cut-off) and where its sign-off stands.

    No row means 未报送.  ``state`` is the result of the newest
    ``SignoffEvent``; while it is ``approved`` the period is locked
    (``heating.signoff``) and ``approval`` holds what the approval saw
    (figures and the facts read at report time), so that later changes to
    those facts can be listed on the report's cover.
    """

    __tablename__ = "signoffs"
    __table_args__ = (
        UniqueConstraint("township_id", "period", name="uq_signoffs_township_period"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("townships.id"))
    period: Mapped[date] = mapped_column(Date, index=True)
    state: Mapped[str] = mapped_column(String(16))  # SIGNOFF_STATES (never "unsubmitted")
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    approval: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    township: Mapped[Township] = relationship()
    events: Mapped[list[SignoffEvent]] = relationship(
        back_populates="signoff", order_by="SignoffEvent.id"
    )


class SignoffEvent(Base):
    """One transition of a sign-off: who, when, from which state to which, and why.

    ``text`` is the submission's note or the reason of a return or withdrawal;
    ``detail`` holds what the actor saw (the problems confirmed at submission).
    """

    __tablename__ = "signoff_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    signoff_id: Mapped[int] = mapped_column(ForeignKey("signoffs.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # SIGNOFF_ACTIONS
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    text: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    signoff: Mapped[Signoff] = relationship(back_populates="events")
