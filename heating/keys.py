"""The encryption key's life: create it, seal what was written before, rotate it.

The cryptography itself is ``heating.sealing``; this module walks the tables
that hold sealed values (households, history versions, refused rows of
batches, stored files) when every value must be written again: after the
first ``heating init`` of a database that already held personal data, and on
``heating keys rotate``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, String, bindparam, func, or_, select, type_coerce, update
from sqlalchemy.orm import Session

from heating.config import Config
from heating.models import Household, HouseholdVersion, ImportBatch, StoredFile
from heating.sealing import (
    FILE_MAGIC,
    SEALED_FIELDS,
    TEXT_PREFIX,
    Keyring,
    activate,
)

CHUNK = 5000


@dataclass(frozen=True)
class Resealed:
    """How many rows were written again with the current key."""

    households: int
    versions: int
    batches: int
    files: int

    def as_json(self) -> dict[str, int]:
        return {
            "households": self.households,
            "versions": self.versions,
            "batches": self.batches,
            "files": self.files,
        }


def ensure_key(config: Config) -> tuple[Keyring, bool]:
    """Load the key file, or create it where it is configured; activate it. (ring, created)"""
    path = Path(config.encryption_key_file)
    created = not path.exists()
    ring = Keyring.create(path) if created else Keyring.load(path)
    activate(ring)
    return ring, created


def holds_plain_values(session: Session) -> bool:
    """True when personal data written before encryption is still in clear."""
    plain_text = or_(
        *(
            (type_coerce(getattr(Household, name), String).is_not(None))
            & (type_coerce(getattr(Household, name), String) != "")
            & (type_coerce(getattr(Household, name), String).not_like(f"{TEXT_PREFIX}%"))
            for name in SEALED_FIELDS
        )
    )
    if session.scalar(select(func.count()).select_from(Household).where(plain_text)):
        return True
    heads = session.scalars(
        select(func.substr(StoredFile.content, 1, len(FILE_MAGIC), type_=LargeBinary)).where(
            StoredFile.size > 0, StoredFile.purged_at.is_(None)
        )
    )
    return any(bytes(head) != FILE_MAGIC for head in heads)


def _chunks(rows: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start : start + CHUNK]


def reseal_all(session: Session) -> Resealed:
    """Write every sealed value again with the active key (values are opened on reading).

    Runs in the caller's transaction: either everything is re-encrypted or nothing.
    """
    h = Household.__table__
    rows = session.execute(
        select(h.c.id, h.c.id_number, h.c.phone).where(
            or_(h.c.id_number.is_not(None), h.c.phone.is_not(None))
        )
    ).all()
    statement = (
        update(h)
        .where(h.c.id == bindparam("b_id"))
        .values(id_number=bindparam("b_number"), phone=bindparam("b_phone"))
    )
    for chunk in _chunks(rows):
        session.execute(
            statement,
            [{"b_id": i, "b_number": n, "b_phone": p} for i, n, p in chunk],
            execution_options={"synchronize_session": False},
        )
    households = len(rows)

    v = HouseholdVersion.__table__
    versions = []
    for vid, before, after in session.execute(select(v.c.id, v.c.before, v.c.after)):
        if _personal(before) or _personal(after):
            versions.append({"b_id": vid, "b_before": before, "b_after": after})
    statement = (
        update(v)
        .where(v.c.id == bindparam("b_id"))
        .values(before=bindparam("b_before"), after=bindparam("b_after"))
    )
    for chunk in _chunks(versions):
        session.execute(statement, chunk, execution_options={"synchronize_session": False})

    b = ImportBatch.__table__
    batches = [
        {"b_id": bid, "b_rows": rejected}
        for bid, rejected in session.execute(
            select(b.c.id, b.c.rejected_rows).where(b.c.rejected_rows.is_not(None))
        )
        if rejected
    ]
    if batches:
        session.execute(
            update(b).where(b.c.id == bindparam("b_id")).values(rejected_rows=bindparam("b_rows")),
            batches,
            execution_options={"synchronize_session": False},
        )

    f = StoredFile.__table__
    files = 0
    for (sha,) in session.execute(select(f.c.sha256).where(f.c.size > 0)).all():
        content = session.scalar(select(f.c.content).where(f.c.sha256 == sha))
        if content:
            session.execute(update(f).where(f.c.sha256 == sha).values(content=content))
            files += 1
    session.expire_all()
    return Resealed(households, len(versions), len(batches), files)


def _personal(snap: Any) -> bool:
    return isinstance(snap, dict) and any(snap.get(name) for name in SEALED_FIELDS)


def rotate(session: Session, ring: Keyring) -> tuple[Keyring, Resealed]:
    """Add a key, make it current, and re-encrypt everything with it.

    The new key file is saved first (older keys kept), so a failure half-way
    leaves data every key of the file can still open; then all values are
    written again in one transaction.
    """
    new = ring.rotated()
    new.save()
    activate(new)
    return new, reseal_all(session)
