"""Uploads and what became of them: stored files, import batches, kept parses, running import jobs."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow
from heating.models.registry import Township
from heating.models.users import User
from heating.sealing import SealedBytes, SealedDocument


class StoredFile(Base):
    """An uploaded file kept byte-for-byte, addressed by its SHA-256."""

    __tablename__ = "stored_files"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(SealedBytes)  # encrypted whole
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # Set when the retention sweep (imports/storage.py) deleted the bytes of a file
    # that only cancelled or expired previews used; ``content`` is then empty.
    purged_at: Mapped[datetime | None] = mapped_column(DateTime)


class ImportBatch(Base):
    """One upload of a ledger (or registry) and what became of it."""

    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(
        String(16), default="ledger"
    )  # ledger/registry/demo/heat_sources/boilers
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    file_name: Mapped[str] = mapped_column(String(255))  # original name, Chinese kept
    sha256: Mapped[str] = mapped_column(ForeignKey("stored_files.sha256"), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="preview")
    # The day the ledger describes and where that came from
    # (option / title / file_name / upload_day): one date per batch.
    ledger_date: Mapped[date | None] = mapped_column(Date)
    ledger_date_source: Mapped[str | None] = mapped_column(String(16))
    accept_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    committed_at: Mapped[datetime | None] = mapped_column(DateTime)
    rolled_back_at: Mapped[datetime | None] = mapped_column(DateTime)
    # The import outcome (import.md) without the per-issue list.
    counts: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    sheets: Mapped[list[Any] | None] = mapped_column(JSON)
    issues: Mapped[list[Any] | None] = mapped_column(JSON)
    # Rows refused under "accept valid rows", with their reasons, so nothing is lost.
    rejected_rows: Mapped[list[Any] | None] = mapped_column(SealedDocument)  # raw values: sealed
    ignored_columns: Mapped[list[Any] | None] = mapped_column(JSON)
    # Households of the township present as of the ledger date that the file did
    # not mention, at commit: they rest on older ledgers (the report cover says so).
    not_in_file_ids: Mapped[list[int] | None] = mapped_column(JSON)
    # 变更明细: the updated households' fields before → after (imports.outcome.change_details),
    # the first CHANGES_LISTED of them; raw values, so sealed; read only by the batch page.
    changes: Mapped[dict[str, Any] | None] = mapped_column(SealedDocument, deferred=True)
    township: Mapped[Township | None] = relationship()
    user: Mapped[User | None] = relationship()


class ParsedLedgerKept(Base):
    """A preview's parse of its ledger, kept until the batch is committed or dropped.

    The web commit reuses it instead of parsing the stored file again
    (``imports.parse_cache``) when ``fingerprint`` — the file, the registry
    and settings the parse read, the parser's version, the day — still
    matches.  ``content`` holds the rows with ID numbers and phones: sealed.
    """

    __tablename__ = "parsed_ledgers"
    batch_id: Mapped[int] = mapped_column(
        ForeignKey("import_batches.id", ondelete="CASCADE"), primary_key=True
    )
    fingerprint: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)  # bytes kept (compressed, before sealing)
    content: Mapped[bytes] = mapped_column(SealedBytes)  # encrypted whole
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ImportJob(Base):
    """A ledger preview or commit running in the web app's background thread (WEB).

    Reading a 100k-row ledger takes longer than a request may last, so the
    upload answers at once with a progress page that reads this row: any
    worker of a multi-process server can show it, and ``batch_id`` links the
    finished job to its batch.
    """

    __tablename__ = "import_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random token
    kind: Mapped[str] = mapped_column(String(16))  # preview / commit
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"))
    file_name: Mapped[str] = mapped_column(String(255))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("import_batches.id"))
    accept_valid: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="running")  # running / done / failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)  # Chinese reason when failed
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
