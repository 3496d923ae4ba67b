"""Stored uploads: total size on the admin page, retention sweep (never a committed batch's file)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from heating.models import AuditEntry, ImportBatch, StoredFile, utcnow
from heating.runtime import Runtime
from imports.batches import cancel, preview
from imports.commit import commit
from imports.storage import storage_summary, sweep
from tests.support.ledgers import ledger_xlsx
from tests.support.web import post


def ledger(no: str) -> bytes:
    return ledger_xlsx([["南街村委会", no, "张三", None, None, "未改造", None, None]])


def previewed(runtime: Runtime, data: bytes, *, days_ago: int, then: str = "") -> int:
    """Preview ``data`` as if uploaded ``days_ago`` days ago; then cancel or commit it."""
    with runtime.session() as session:
        batch, _out = preview(
            session, data, "台账.xlsx", user_id=None, township_code="140405001",
            config=runtime.config,
        )  # fmt: skip
        batch_id = batch.id
    with runtime.session() as session:
        if then == "cancel":
            cancel(session, batch_id)
        elif then == "commit":
            commit(session, batch_id, config=runtime.config)
        session.execute(
            update(ImportBatch)
            .where(ImportBatch.id == batch_id)
            .values(created_at=utcnow() - timedelta(days=days_ago))
        )
    return batch_id


@pytest.fixture
def uploads(runtime: Runtime, tiny_district: dict[str, int]) -> dict[str, int]:
    committed = ledger("C1")  # one file uploaded twice (openpyxl stamps the time in each file)
    # The commit comes first: a commit expires its township's other pending previews.
    made = {"committed_old": previewed(runtime, committed, days_ago=40, then="commit")}
    made["cancelled_old"] = previewed(runtime, ledger("A1"), days_ago=40, then="cancel")
    made["unconfirmed_old"] = previewed(runtime, ledger("B1"), days_ago=40)
    made["cancelled_recent"] = previewed(runtime, ledger("D1"), days_ago=2, then="cancel")
    # The committed file uploaded again and cancelled: its bytes are still needed.
    made["same_as_committed"] = previewed(runtime, committed, days_ago=40, then="cancel")
    return made


def files(runtime: Runtime) -> dict[int, bool]:
    """batch id → whether its file's bytes are still stored."""
    with runtime.session() as session:
        rows = session.execute(
            select(ImportBatch.id, StoredFile.purged_at, StoredFile.content).join(
                StoredFile, StoredFile.sha256 == ImportBatch.sha256
            )
        ).all()
    return {bid: purged is None and len(content) > 0 for bid, purged, content in rows}


def test_without_a_retention_setting_everything_is_kept(runtime: Runtime, uploads) -> None:
    assert runtime.config.upload_retention_days is None
    with runtime.session() as session:
        assert sweep(session, None).as_json() == {
            "expired_previews": 0, "purged_files": 0, "purged_bytes": 0,
        }  # fmt: skip
    assert all(files(runtime).values())


def test_sweep_deletes_only_files_of_old_cancelled_or_unconfirmed_previews(
    runtime: Runtime,
    uploads,
) -> None:
    with runtime.session() as session:
        before = storage_summary(session)
        result = sweep(session, 30)
    assert result.expired_previews == 1 and result.purged_files == 2
    kept = files(runtime)
    assert not kept[uploads["cancelled_old"]] and not kept[uploads["unconfirmed_old"]]
    assert kept[uploads["committed_old"]] and kept[uploads["same_as_committed"]]
    assert kept[uploads["cancelled_recent"]]
    with runtime.session() as session:
        after = storage_summary(session)
        expired = session.get(ImportBatch, uploads["unconfirmed_old"])
        assert expired.status == "expired"  # it can no longer be committed
        entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "upload_retention"))
        assert entry.detail["purged_files"] == 2 and entry.detail["retention_days"] == 30
    assert after.files == before.files - 2 and after.purged == 2
    assert after.bytes == before.bytes - result.purged_bytes
    # The committed batch can still be rolled back: its file is there.
    from imports.rollback import rollback

    with runtime.session() as session:
        rollback(session, uploads["committed_old"])


def test_uploading_a_purged_file_again_stores_its_bytes_again(runtime: Runtime, uploads) -> None:
    with runtime.session() as session:
        first = session.get(ImportBatch, uploads["cancelled_old"]).sha256
        data = session.get(StoredFile, first).content
        sweep(session, 30)
    again = previewed(runtime, data, days_ago=0)
    with runtime.session() as session:
        assert session.get(ImportBatch, again).sha256 == first
    assert files(runtime)[again]
    with runtime.session() as session:
        commit(session, again, config=runtime.config)


def test_cli_status_and_sweep(run_cli, runtime: Runtime, uploads, monkeypatch) -> None:
    import json

    status = json.loads(run_cli("uploads", "status", "--json").stdout)
    assert status["files"] == 4 and status["purged"] == 0  # C1 is one file for two batches
    kept = run_cli("uploads", "sweep")
    assert kept.exit_code == 0 and "一直保留" in kept.stdout
    monkeypatch.setenv("HEATING_UPLOAD_RETENTION_DAYS", "30")
    swept = json.loads(run_cli("uploads", "sweep", "--json").stdout)
    assert swept == {
        "expired_previews": 1, "purged_files": 2, "purged_bytes": swept["purged_bytes"],
        "retention_days": 30,
    }  # fmt: skip
    assert "已按保留期限删除 2 个" in run_cli("uploads", "status").stdout


@pytest.mark.parametrize("settings", [{"upload_retention_days": 30}])
def test_the_app_sweeps_at_start_up(runtime: Runtime, uploads) -> None:
    from heating.web import create_app

    create_app(runtime=runtime)
    kept = files(runtime)
    assert not kept[uploads["cancelled_old"]] and kept[uploads["committed_old"]]


def test_admin_page_shows_the_total_size(login, runtime: Runtime, uploads) -> None:
    with runtime.session() as session:
        summary = storage_summary(session)
    client = login("alice")
    page = client.get("/admin/uploads").get_data(as_text=True)
    assert f"{summary.bytes:,} 字节" in page and "一直保留" in page
    assert client.get("/admin/uploads").status_code == 200
    resp = post(client, "/admin/uploads")
    assert resp.status_code == 302
    assert all(files(runtime).values())  # no retention configured: nothing deleted
    assert login("bob").get("/admin/uploads").status_code == 403
