"""A preview's parse, kept for the commit: the web commit does not parse the stored file again.

A preview reads the ledger in the limited child (``imports.isolation``), whose
messages — the rows in parts of 5,000 as plain tuples, then the rest of the
``ParsedLedger`` — arrive pickled through a pipe.  The preview keeps those
bytes as they arrive (compressed on the fly; no second pickling), and stores
them, sealed like the uploaded file itself (they hold ID numbers and phones),
in ``parsed_ledgers`` beside the batch.  A commit by batch id (the web app's
job) replays them with the same allow-list unpickler the pipe uses, instead
of parsing the file again in a new child: a 100k-row ledger's commit saves
the whole parse (≈ 3 s of CPU).

When may the kept parse stand in for a new one?  Only when everything the
parse read is as it was (``fingerprint``):

- the file: the batch's SHA-256, and the stored bytes must still hash to it
  (the commit checks them before anything else and refuses otherwise);
- the registry and the rules' data, as the parse is handed them
  (``imports.ledger_references.LedgerReferences``: the district's townships and
  villages, the ID salt, the district's extent, the heat-source register,
  the strict/warn rule) and the day the dates are judged against;
- the read limits (``upload_max_mb``, ``import_max_rows``, …) and the parser's
  own version (``PARSER_VERSION``, with the package's).

Anything else — a village renamed, a heat source registered, a setting
changed, a commit on the next day, an upgrade — and the commit parses the
stored file again, as it always did.  The kept parse is dropped when its
batch is committed, cancelled or expired.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import zlib
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from heating.models import ImportBatch, ParsedLedgerKept

try:
    from isal import isal_zlib
except ImportError:  # an environment installed before isal was a dependency: same stream, slower
    import zlib as isal_zlib  # type: ignore[no-redef]

# Bump when a parse of the same file and references would come out differently.
PARSER_VERSION = "2026-12-01.2"  # a TRUE cell no longer cleans as the 1.0 before it
# Fields of the references that are not data (a session, a memo of lookups).
_NOT_DATA = frozenset({"session", "_cache"})


class Unstable(TypeError):
    """The references hold something without a stable form: the parse is not kept."""


@functools.cache
def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("heating")
    except PackageNotFoundError:
        return "?"


def fingerprint(*parts: Any) -> str:
    """SHA-256 of a canonical form of ``parts`` (dataclasses, dicts, sets, dates…).

    Equal data gives the same fingerprint in every process (sets and dict
    keys are sorted, string hashing plays no part); raises ``Unstable`` on
    an object it cannot put in canonical form.
    """
    digest = hashlib.sha256(f"{PARSER_VERSION}|{_package_version()}".encode())
    digest.update(repr(_canonical(parts)).encode())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str | bytes):
        return value
    if isinstance(value, float | Decimal | date | datetime | time | timedelta):
        return (type(value).__name__, repr(value))
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, set | frozenset):
        return ("set", sorted((_canonical(v) for v in value), key=repr))
    if isinstance(value, dict):
        items = [(_canonical(k), _canonical(v)) for k, v in value.items() if k not in _NOT_DATA]
        return ("dict", sorted(items, key=lambda kv: repr(kv[0])))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: getattr(value, f.name)
            for f in dataclasses.fields(value)
            if f.name not in _NOT_DATA
        }
        extra = {k: v for k, v in getattr(value, "__dict__", {}).items() if k not in fields}
        return (type(value).__qualname__, _canonical(fields | extra))
    raise Unstable(f"no canonical form for {type(value).__qualname__}")


class Recorder:
    """The bytes of the child's messages as they arrive, compressed (``write``), then ``kept``."""

    def __init__(self) -> None:
        # ISA-L's level 1 writes a zlib stream 3.5 × faster than zlib's own level 1 (and a
        # little smaller): 0.026 s against 0.09 s of CPU for a 100k-row ledger's 13 MB.
        # Replayed by ``zlib`` as before (``_Inflating``): the stored form is unchanged.
        self._zip = isal_zlib.compressobj(1)
        self._parts: list[bytes] = []
        self.raw = 0

    def write(self, data: bytes) -> None:
        self.raw += len(data)
        out = self._zip.compress(data)
        if out:
            self._parts.append(out)

    def finish(self) -> bytes:
        self._parts.append(self._zip.flush())
        blob = b"".join(self._parts)
        self._parts = []
        return blob


class _Inflating(io.RawIOBase):
    """A read-only stream over compressed bytes, inflated as they are read."""

    def __init__(self, blob: bytes) -> None:
        self._blob = memoryview(blob)
        self._at = 0
        self._zip = zlib.decompressobj()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = len(buffer)
        while not self._pending:
            if self._at >= len(self._blob) and not self._zip.unconsumed_tail:
                self._pending = self._zip.flush()
                if not self._pending:
                    return 0
                break
            tail = self._zip.unconsumed_tail
            if tail:
                self._pending = self._zip.decompress(tail, 1 << 20)
            else:
                chunk = self._blob[self._at : self._at + (1 << 18)]
                self._at += len(chunk)
                self._pending = self._zip.decompress(chunk, 1 << 20)
        n = min(want, len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def keep(session: Session, batch_id: int, mark: str, blob: bytes) -> None:
    """Store a preview's recorded parse beside its batch (sealed by the column type)."""
    session.add(ParsedLedgerKept(batch_id=batch_id, fingerprint=mark, size=len(blob), content=blob))
    session.flush()


def kept(session: Session, batch_id: int, mark: str, replay: Callable[[Any], Any]) -> Any:
    """The batch's kept parse replayed, if its fingerprint is ``mark``; else None."""
    found = session.scalar(
        select(ParsedLedgerKept.content).where(
            ParsedLedgerKept.batch_id == batch_id, ParsedLedgerKept.fingerprint == mark
        )
    )
    if not found:
        return None
    return replay(io.BufferedReader(_Inflating(found), 1 << 20))


def drop(session: Session, batch_ids: list[int]) -> None:
    """Forget the kept parses of these batches."""
    if batch_ids:
        session.execute(delete(ParsedLedgerKept).where(ParsedLedgerKept.batch_id.in_(batch_ids)))


def drop_settled(session: Session) -> None:
    """Forget every kept parse whose batch is no longer a preview (committed, cancelled, expired)."""
    settled = select(ImportBatch.id).where(ImportBatch.status != "preview")
    session.execute(
        delete(ParsedLedgerKept)
        .where(ParsedLedgerKept.batch_id.in_(settled))
        .execution_options(synchronize_session=False)
    )
