"""A preview keeps the cyclic collector paused until its parse is freed, and always resumes it."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from imports.batches import preview
from imports.issues import LedgerRejected
from imports.parsed import LedgerRow
from tests.support.ledgers import ledger_xlsx

HEADER = ["村", "户号", "户主姓名", "改造状态"]
TOWNSHIP = "140405001"


def _preview(runtime, data: bytes, collections: Collections | None = None) -> list[int]:
    """Preview ``data``; the collections started during the ``preview`` call itself."""
    with runtime.session() as session:
        if collections is not None:
            collections.armed = True
        try:
            preview(
                session,
                data,
                "台账.xlsx",
                user_id=None,
                township_code=TOWNSHIP,
                config=runtime.config,
            )
        finally:
            if collections is not None:
                collections.armed = False
        return list(collections.walked) if collections is not None else []


@dataclass
class Collections:
    """The collections started while ``armed``: how many ledger rows each walks."""

    walked: list[int] = field(default_factory=list)
    armed: bool = False


@pytest.fixture
def collections() -> Iterator[Collections]:
    """Count the ledger rows each collection started during a ``_preview`` walks."""
    seen = Collections()

    def note(phase: str, info: dict) -> None:
        # Counting walks the whole heap: only while a preview runs (building the test's
        # workbook alone starts hundreds of collections, 2.6 s of counting).
        if phase == "start" and seen.armed:
            seen.walked.append(sum(1 for o in gc.get_objects() if isinstance(o, LedgerRow)))

    gc.callbacks.append(note)
    yield seen
    gc.callbacks.remove(note)


def test_no_collection_walks_the_rows_of_a_preview(runtime, users, collections) -> None:
    """Rows, diff and outcome are built with the collector paused, and the rows are freed
    before it resumes (it used to resume after the parse and walk every row once more)."""
    rows = [["南街村", f"A{i:04}", f"户主{i}", "已完工"] for i in range(300)]
    data = ledger_xlsx(rows, title="麟绛街道台账", header=HEADER)
    assert gc.isenabled()
    walked = _preview(runtime, data, collections)
    assert not any(walked), walked
    assert gc.isenabled()


def test_a_refused_preview_resumes_the_collector(runtime, users) -> None:
    with pytest.raises(LedgerRejected):
        _preview(runtime, b"")
    assert gc.isenabled()
