"""The lock of an approved period: commits, rollbacks and completion decisions; withdrawal lifts it.

Every face goes through ``imports.batches`` and the decision functions, so the
domain is tested here and the web and CLI refusals once each.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from heating.completion import record_decision, revoke_decision
from heating.models import ImportBatch
from heating.signoff_lock import PeriodLocked
from imports.batches import preview
from imports.commit import commit
from imports.rollback import rollback
from tests.support.database import row_counts
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.ledgers import ledger_xlsx
from tests.support.signoff import PERIOD, sign_off
from tests.support.web import batch_id_of, follow_job, post, upload

BOB_TOWN = "140405001"
CAROL_TOWN = "140405101"
HEADER = ["村", "户号", "户主姓名", "改造状态", "改造方式", "完工日期"]
APPROVE = (("submit", "bob"), ("approve", "rita"))
WITHDRAW = ("withdraw", "alice", "东街村漏报 3 户，需补录")


def ledger(village: str, no: str, status: str = "已完工") -> bytes:
    route = "煤改电" if status == "已完工" else None
    done = "2021-06-30" if status == "已完工" else None
    return ledger_xlsx([[village, no, f"户主{no}", status, route, done]], header=HEADER)


def write(runtime, data: bytes, day: date, township: str | None = BOB_TOWN, **kw) -> int:
    """Preview and commit a ledger dated ``day``; return the batch id."""
    batch_id = do_preview(runtime, data, day, township)
    with runtime.session() as session:
        commit(session, batch_id, config=runtime.config, **kw)
    return batch_id


def do_preview(runtime, data: bytes, day: date, township: str | None = BOB_TOWN) -> int:
    with runtime.session() as session:
        batch, _ = preview(
            session,
            data,
            "台账.xlsx",
            user_id=None,
            township_code=township,
            config=runtime.config,
            ledger_date=day,
        )
        return batch.id


def test_commit_dated_in_an_approved_period_is_refused_naming_period_and_approver(
    runtime, users
) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    for day in (PERIOD, date(2020, 6, 30)):
        batch_id = do_preview(runtime, ledger("南街村", "N1"), day)
        stored = row_counts(runtime)
        with pytest.raises(PeriodLocked) as refused, runtime.session() as session:
            commit(session, batch_id, config=runtime.config)
        message = refused.value.message
        assert "period_locked" in message
        assert "2021-10-31 期" in message and "由 rita 审核通过" in message
        assert "撤回" in message and "heating signoff withdraw" in message
        assert refused.value.detail["code"] == "period_locked"
        assert refused.value.detail["approved_by"] == "rita"
        assert row_counts(runtime) == stored  # nothing written, the batch still a preview
    # After the cut-off, and in the other township, ledgers are unaffected.
    write(runtime, ledger("南街村", "N2"), date(2021, 11, 1))
    write(runtime, ledger("上村村", "S1"), PERIOD, CAROL_TOWN)


def test_a_file_without_a_township_is_locked_by_the_townships_of_its_rows(runtime, users) -> None:
    sign_off(runtime, CAROL_TOWN, PERIOD, ("submit", "carol"), ("approve", "rita"))
    data = ledger_xlsx(
        [
            ["麟绛街道", "南街村", "N1", "户主", "已完工", "煤改电", "2021-06-30"],
            ["上村镇", "上村村", "S1", "户主", "已完工", "煤改电", "2021-06-30"],
        ],
        header=["乡镇", *HEADER],
    )
    batch_id = do_preview(runtime, data, PERIOD, township=None)
    with pytest.raises(PeriodLocked, match="上村镇"), runtime.session() as session:
        commit(session, batch_id, config=runtime.config)


def test_an_unchanged_ledger_still_confirms_its_date_and_is_refused(runtime, users) -> None:
    data = ledger("南街村", "N1")
    write(runtime, data, PERIOD)
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    batch_id = do_preview(runtime, data, PERIOD)
    with pytest.raises(PeriodLocked), runtime.session() as session:
        commit(session, batch_id, config=runtime.config)


def test_rollback_of_a_batch_dated_in_the_period_is_refused_until_withdrawn(runtime, users) -> None:
    inside = write(runtime, ledger("南街村", "N1"), PERIOD)
    after = write(runtime, ledger("东街村", "E1"), date(2021, 11, 20))
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    stored = row_counts(runtime)
    with (
        pytest.raises(PeriodLocked, match=f"撤销批次 {inside}被拒绝"),
        runtime.session() as session,
    ):
        rollback(session, inside)
    assert row_counts(runtime) == stored
    with runtime.session() as session:
        rollback(session, after)  # dated after the cut-off: free
    sign_off(runtime, BOB_TOWN, PERIOD, WITHDRAW)
    with runtime.session() as session:
        rollback(session, inside)
        assert session.get(ImportBatch, inside).status == "rolled_back"


def test_completion_decisions_dated_in_the_period_are_refused(runtime, users) -> None:
    with runtime.session() as session:
        earlier = record_decision(session, NANJIE, "整体拆迁", date(2021, 9, 1)).id
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    stored = row_counts(runtime)
    with pytest.raises(PeriodLocked, match="完成认定"), runtime.session() as session:
        record_decision(session, NANJIE, "全部为集中供热", date(2021, 10, 31))
    with pytest.raises(PeriodLocked, match=f"撤销完成认定 {earlier}"), runtime.session() as session:
        revoke_decision(session, earlier)
    assert row_counts(runtime) == stored
    with runtime.session() as session:
        record_decision(session, NANJIE, "全部为集中供热", date(2021, 11, 1))  # after: free
        record_decision(session, SHANGCUN, "整体拆迁", date(2021, 10, 1))  # other township
    sign_off(runtime, BOB_TOWN, PERIOD, WITHDRAW)
    with runtime.session() as session:
        revoke_decision(session, earlier)


def test_withdrawal_lifts_the_lock_and_a_new_approval_sets_it_again(runtime, users) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE, WITHDRAW)
    batch_id = write(runtime, ledger("南街村", "N1"), PERIOD)
    sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob", "已补录"), ("approve", "rita"))
    with pytest.raises(PeriodLocked), runtime.session() as session:
        rollback(session, batch_id)


def test_a_later_approved_period_locks_older_dates_too(runtime, users) -> None:
    """A back-filled 2020 ledger changes the 2021 figures of households it names."""
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    batch_id = do_preview(runtime, ledger("南街村", "N1"), date(2020, 10, 31))
    with pytest.raises(PeriodLocked, match="2021-10-31 期"), runtime.session() as session:
        commit(session, batch_id, config=runtime.config)


# --------------------------------------------------------------------------
# The faces say the same
# --------------------------------------------------------------------------


def test_web_commit_and_rollback_show_the_refusal(login, runtime) -> None:
    client = login("bob")
    resp = upload(client, ledger("南街村", "N1"), "南街台账.xlsx", BOB_TOWN, "2021-10-31")
    committed = batch_id_of(resp)
    resp = follow_job(client, post(client, f"/imports/{committed}/commit", {"mode": "strict"}))
    assert "已写入" in resp.get_data(as_text=True)
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    resp = upload(client, ledger("南街村", "N2"), "南街台账2.xlsx", BOB_TOWN, "2021-10-31")
    pending = batch_id_of(resp)
    resp = follow_job(client, post(client, f"/imports/{pending}/commit", {"mode": "strict"}))
    body = resp.get_data(as_text=True)
    assert "period_locked" in body and "rita" in body and "撤回" in body
    resp = post(client, f"/imports/{committed}/rollback", follow_redirects=True)
    body = resp.get_data(as_text=True)
    assert f"撤销批次 {committed}被拒绝" in body and "period_locked" in body
    with runtime.session() as session:
        assert session.get(ImportBatch, committed).status == "committed"
        assert session.get(ImportBatch, pending).status == "preview"


def test_cli_commit_and_rollback_exit_1_with_the_reason(run_cli, runtime, users, tmp_path) -> None:
    first = tmp_path / "南街台账.xlsx"
    first.write_bytes(ledger("南街村", "N1"))
    result = run_cli("import", str(first), "--township", BOB_TOWN, "--ledger-date", "2021-10-31",
                     "--commit")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    with runtime.session() as session:
        committed = session.scalar(select(ImportBatch.id).where(ImportBatch.status == "committed"))
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE)
    second = tmp_path / "南街台账2.xlsx"
    second.write_bytes(ledger("南街村", "N2"))
    result = run_cli("import", str(second), "--township", BOB_TOWN, "--ledger-date",
                     "2021-10-31", "--commit", "--json")  # fmt: skip
    assert result.exit_code == 1
    assert "period_locked" in result.stderr and "rita" in result.stderr
    assert '"refusal"' in result.stdout and '"period_locked"' in result.stdout
    result = run_cli("batches", "rollback", str(committed))
    assert result.exit_code == 1
    assert "period_locked" in result.stderr and "Traceback" not in result.stderr
