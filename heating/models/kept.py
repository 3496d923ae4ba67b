"""Kept figures shared between the app's processes (``heating.shared_figures``)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from heating.models.base import Base


class KeptFigure(Base):
    """One computed figure (village facts, judgements, a report file) at one data version.

    ``key`` digests what the figure was computed from — the caller's key, the
    data version and the code — so a row is never read for other data; a row
    whose ``payload`` is still empty is a claim: one process is computing it
    and the others wait for it.  ``payload`` is pickled, compressed and sealed
    (authenticated by the installation's key: a row nobody sealed is never
    unpickled).  Rows are dropped an hour after they were claimed.
    """

    __tablename__ = "kept_figures"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_at: Mapped[datetime] = mapped_column(DateTime)
    computed_at: Mapped[datetime | None] = mapped_column(DateTime)
    size: Mapped[int | None] = mapped_column(BigInteger)  # bytes stored
    payload: Mapped[bytes | None] = mapped_column(LargeBinary)
