"""Stored upload files: how much they take, and the retention sweep.

Every upload is kept byte for byte (``StoredFile``) so that a commit, a
rollback or a re-preview can read it again.  Files that only ever served a
preview that was cancelled or expired, or one left unconfirmed, may be deleted after
``upload_retention_days`` (default: keep).  A file that any committed (or
committed and later rolled back) batch used is never deleted: rollback and
the batch history need it.  The batch rows stay; only the bytes go, and the
row remembers when (``purged_at``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.models import ImportBatch, StoredFile, audit, utcnow

KEPT_STATUSES = ("committed", "rolled_back")


@dataclass(frozen=True)
class StorageSummary:
    """What the stored uploads take: files and bytes kept, files already deleted."""

    files: int
    bytes: int
    purged: int

    def as_json(self) -> dict[str, int]:
        return {"files": self.files, "bytes": self.bytes, "purged": self.purged}


@dataclass(frozen=True)
class SweepResult:
    """What one retention sweep did."""

    expired_previews: int
    purged_files: int
    purged_bytes: int

    def as_json(self) -> dict[str, int]:
        return {
            "expired_previews": self.expired_previews,
            "purged_files": self.purged_files,
            "purged_bytes": self.purged_bytes,
        }


def keep_bytes(session: Session, data: bytes) -> str:
    """Store an upload once per content; bring back the bytes of a purged file. Return its SHA-256."""
    sha256 = hashlib.sha256(data).hexdigest()
    stored = session.get(StoredFile, sha256)
    if stored is None:
        session.add(StoredFile(sha256=sha256, size=len(data), content=data))
        session.flush()
    elif stored.purged_at is not None:
        stored.content = data
        stored.purged_at = None
        session.flush()
    return sha256


def storage_summary(session: Session) -> StorageSummary:
    """Count the stored uploads (the admin page shows this)."""
    files, size = session.execute(
        select(func.count(), func.coalesce(func.sum(StoredFile.size), 0)).where(
            StoredFile.purged_at.is_(None)
        )
    ).one()
    purged = session.scalar(
        select(func.count()).select_from(StoredFile).where(StoredFile.purged_at.is_not(None))
    )
    return StorageSummary(int(files), int(size), int(purged or 0))


def sweep(
    session: Session, retention_days: int | None, *, now: datetime | None = None
) -> SweepResult:
    """Apply the retention: expire old previews, delete the files only they used.

    With ``retention_days`` None nothing is touched.  Runs in the caller's
    transaction and writes one audit entry when it changed anything.
    """
    if retention_days is None:
        return SweepResult(0, 0, 0)
    cutoff = (now or utcnow()) - timedelta(days=retention_days)
    expired = list(
        session.scalars(
            select(ImportBatch).where(
                ImportBatch.status == "preview", ImportBatch.created_at < cutoff
            )
        )
    )
    for batch in expired:
        batch.status = "expired"  # as a later commit of its township would leave it
    session.flush()
    if expired:
        from imports import parse_cache

        parse_cache.drop_settled(session)
    # A file goes when every batch that used it was cancelled or expired, all before the cutoff.
    still_needed = select(ImportBatch.sha256).where(
        (ImportBatch.status.in_(KEPT_STATUSES))
        | (ImportBatch.status == "preview")
        | (ImportBatch.created_at >= cutoff)
    )
    files = list(
        session.scalars(
            select(StoredFile).where(
                StoredFile.purged_at.is_(None),
                StoredFile.sha256.in_(select(ImportBatch.sha256)),
                StoredFile.sha256.not_in(still_needed),
            )
        )
    )
    stamp = now or utcnow()
    size = 0
    for stored in files:
        size += stored.size
        stored.content = b""
        stored.purged_at = stamp
    result = SweepResult(len(expired), len(files), size)
    if expired or files:
        audit(
            session,
            "upload_retention",
            detail={**result.as_json(), "retention_days": retention_days},
        )
    return result
