"""Utility use (evidence of use, issue 13): one record per amount of a utility's file."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from heating.models.base import Base

USAGE_KINDS = {"electric": "用电", "gas": "用气"}
USAGE_UNITS = {"electric": "kWh", "gas": "m³"}


class UsageRecord(Base):
    """One amount from a utility's file: a period's use or a meter reading, by account.

    ``account`` is the account number as compared: text, leading zeros
    stripped (the file's spelling is in the batch's stored file).  A period
    (``form`` "period") runs from ``start`` to ``end`` inclusive and
    ``amount`` is its use; a reading (``form`` "reading") has ``start`` =
    ``end`` = the reading date and ``amount`` is the meter's reading.  A
    later batch's record with the same kind, account, form and dates
    replaces an earlier one: the value in force is the newest record of a
    committed batch (``heating.usage``), so rolling a batch back restores
    what was there before it.
    """

    __tablename__ = "usage_records"
    __table_args__ = (Index("ix_usage_records_key", "kind", "account", "start"),)
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id"), index=True)
    kind: Mapped[str] = mapped_column(String(8))  # electric / gas
    account: Mapped[str] = mapped_column(String(64))
    form: Mapped[str] = mapped_column(String(8))  # period / reading
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Float)
