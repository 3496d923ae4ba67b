"""A preview keeps the cyclic collector paused until its parse is freed, and always resumes it."""

from __future__ import annotations

import gc

import pytest

from imports.batches import preview
from imports.issues import LedgerRejected
from imports.parsed import LedgerRow
from tests.support.ledgers import ledger_xlsx

HEADER = ["村", "户号", "户主姓名", "改造状态"]
TOWNSHIP = "140405001"


def _preview(runtime, data: bytes, collections: list[int] | None = None) -> list[int]:
    """Preview ``data``; the collections started during the ``preview`` call itself."""
    with runtime.session() as session:
        before = len(collections or [])
        preview(
            session,
            data,
            "台账.xlsx",
            user_id=None,
            township_code=TOWNSHIP,
            config=runtime.config,
        )
        return (collections or [])[before:]


@pytest.fixture
def collections():
    """For every collection started while the test runs: how many ledger rows it walks."""
    seen: list[int] = []

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            seen.append(sum(1 for o in gc.get_objects() if isinstance(o, LedgerRow)))

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
