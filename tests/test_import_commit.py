"""Preview, commit and rollback of township ledgers on the real database."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from heating.errors import Refused
from heating.history import household_json
from heating.models import AuditEntry, Household, HouseholdVersion, ImportBatch, StoredFile
from imports.batches import cancel, list_batches, preview
from imports.commit import commit
from imports.rollback import rollback
from tests.support.ledgers import ledger_xlsx, with_check_digit

HEADER = [
    "村",
    "户号",
    "户主姓名",
    "身份证号",
    "联系电话",
    "改造状态",
    "改造方式",
    "完工日期",
    "设备补贴",
]
ID_1 = with_check_digit("14040519800101001")
ID_2 = with_check_digit("14040519800101002")
PHONE = "13812345678"


def ledger(rows: list[list], title: str | None = "麟绛街道台账") -> bytes:
    return ledger_xlsx(rows, title=title, header=HEADER)


def base_rows() -> list[list]:
    return [
        ["南街村", "A001", "张三", ID_1, PHONE, "已完工", "煤改电", "2021-06-30", 3000],
        ["南街村", "A002", "李四", ID_2, None, "未改造", None, None, None],
        ["东街村", "B001", "王五", None, None, "施工中", "煤改气", None, None],
    ]


@pytest.fixture
def cfg(runtime):
    return runtime.config


def do_preview(
    runtime, data: bytes, name: str = "麟绛街道台账.xlsx", township="140405001", user=None
):
    with runtime.session() as session:
        batch, out = preview(
            session,
            data,
            name,
            user_id=user,
            township_code=township,
            config=runtime.config,
            today=date(2024, 1, 15),
        )
        return batch.id, out


def do_commit(runtime, batch_id: int, **kw):
    with runtime.session() as session:
        _, out = commit(session, batch_id, config=runtime.config, **kw)
        return out


def households(runtime) -> dict[str, Household]:
    with runtime.session() as session:
        return {h.household_no: h for h in session.scalars(select(Household))}


def count(runtime, model) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_preview_writes_no_household_and_keeps_the_file(runtime, users):
    data = ledger(base_rows())
    batch_id, out = do_preview(runtime, data, user=users["bob"])
    assert out["counts"] | {} == out["counts"]
    c = out["counts"]
    assert (c["rows"], c["new"], c["updated"], c["unchanged"], c["rejected"]) == (3, 3, 0, 0, 0)
    assert out["township"] == "140405001"
    assert out["sheets"][0]["header_row"] == 2
    assert out["sheets"][0]["columns"]["户主姓名"] == "head_name"
    assert count(runtime, Household) == 0
    with runtime.session() as session:
        batch = session.get(ImportBatch, batch_id)
        assert batch.status == "preview"
        assert session.get(StoredFile, batch.sha256).content == data
        assert (
            session.scalar(
                select(AuditEntry.action).where(AuditEntry.target == f"batch:{batch_id}")
            )
            == "import_preview"
        )


def test_commit_writes_households_and_versions_like_record_create(runtime, users):
    batch_id, _ = do_preview(runtime, ledger(base_rows()), user=users["bob"])
    out = do_commit(runtime, batch_id, user_id=users["bob"], recorded_at=datetime(2024, 1, 15, 9))
    assert out["status"] == "committed"
    assert out["counts"]["new"] == 3
    rows = households(runtime)
    assert rows["A001"].status == "completed"
    assert rows["A001"].route == "electric"
    assert rows["A001"].completed_on == date(2021, 6, 30)
    assert rows["A001"].id_number == ID_1
    assert rows["A001"].id_hash
    assert float(rows["A001"].device_subsidy) == 3000
    assert rows["A001"].created_batch_id == batch_id
    with runtime.session() as session:
        versions = session.scalars(select(HouseholdVersion)).all()
        assert len(versions) == 3
        for v in versions:
            h = session.get(Household, v.household_id)
            assert v.change == "create" and v.before is None
            assert v.batch_id == batch_id and v.user_id == users["bob"]
            assert v.recorded_at == datetime(2024, 1, 15, 9)
            assert v.after == household_json(h)
            assert (v.status, v.village_id, v.active) == (h.status, h.village_id, True)
        batch = session.get(ImportBatch, batch_id)
        assert batch.committed_at == datetime(2024, 1, 15, 9)
        assert batch.counts["new"] == 3


def test_strict_commit_refuses_a_file_with_errors_and_writes_nothing(runtime, users):
    rows = base_rows() + [
        [
            "南街村",
            "A003",
            "赵六",
            "140405198001010010",
            None,
            "已完工",
            "煤改电",
            "2021-06-30",
            None,
        ]
    ]
    batch_id, out = do_preview(runtime, ledger(rows))
    assert out["counts"]["rejected"] == 1
    with pytest.raises(Refused, match="1 行错误.*--accept-valid"):
        do_commit(runtime, batch_id)
    assert count(runtime, Household) == 0
    assert count(runtime, HouseholdVersion) == 0
    with runtime.session() as session:
        assert session.get(ImportBatch, batch_id).status == "preview"


def test_accept_valid_writes_valid_rows_and_keeps_rejected_ones_with_reasons(runtime, users):
    bad_id = "140405198001010010"
    rows = base_rows() + [
        ["南街村", "A003", "赵六", bad_id, None, "已完工", "煤改电", "2021-06-30", None]
    ]
    batch_id, _ = do_preview(runtime, ledger(rows))
    out = do_commit(runtime, batch_id, accept_valid=True)
    assert out["counts"]["new"] == 3 and out["counts"]["rejected"] == 1
    assert set(households(runtime)) == {"A001", "A002", "B001"}
    with runtime.session() as session:
        batch = session.get(ImportBatch, batch_id)
        assert batch.accept_valid is True
        [kept] = batch.rejected_rows
        assert kept["row"] == 6 and kept["sheet"] == "台账"
        assert kept["values"]["head_name"] == "赵六"
        assert kept["issues"][0]["code"] == "id_number_checksum"
        assert "*" in kept["issues"][0]["value"]


def test_reuploading_the_same_ledger_changes_nothing_and_is_recognised(runtime, users):
    data = ledger(base_rows())
    first, _ = do_preview(runtime, data)
    do_commit(runtime, first)
    versions = count(runtime, HouseholdVersion)
    second, out = do_preview(runtime, data)
    assert out["same_file_as_batch"] == first
    assert "批次 " + str(first) in out["same_file_message"]
    assert (out["counts"]["new"], out["counts"]["updated"], out["counts"]["unchanged"]) == (0, 0, 3)
    out = do_commit(runtime, second)
    assert out["counts"]["unchanged"] == 3
    assert count(runtime, HouseholdVersion) == versions
    assert count(runtime, StoredFile) == 1


def test_a_blank_optional_cell_keeps_the_stored_value(runtime, users):
    first, _ = do_preview(runtime, ledger(base_rows()))
    do_commit(runtime, first)
    rows = base_rows()
    rows[0][3] = None  # ID number left blank
    rows[0][4] = None  # phone left blank
    rows[0][8] = None  # subsidy left blank
    rows[1][5] = "已列入计划"  # a real change
    rows[1][6] = "煤改电"
    second, out = do_preview(runtime, ledger(rows))
    assert (out["counts"]["updated"], out["counts"]["unchanged"]) == (1, 2)
    do_commit(runtime, second)
    stored = households(runtime)
    assert stored["A001"].id_number == ID_1
    assert stored["A001"].phone == PHONE
    assert float(stored["A001"].device_subsidy) == 3000
    assert stored["A002"].status == "planned"
    with runtime.session() as session:
        v = session.scalars(
            select(HouseholdVersion).where(HouseholdVersion.batch_id == second)
        ).one()
        assert v.change == "update"
        assert v.before["status"] == "pending" and v.after["status"] == "planned"
        assert v.after == household_json(session.get(Household, v.household_id))


def test_households_not_in_the_file_are_listed_never_deleted(runtime, users):
    first, _ = do_preview(runtime, ledger(base_rows()))
    do_commit(runtime, first)
    second, out = do_preview(runtime, ledger(base_rows()[:1]))
    assert out["not_in_file"] == 2
    listed = {h["household_no"] for h in out["not_in_file_households"]}
    assert listed == {"A002", "B001"}
    do_commit(runtime, second)
    assert all(h.active for h in households(runtime).values())
    assert len(households(runtime)) == 3


def test_rollback_restores_each_household_and_deactivates_created_ones(runtime, users):
    first, _ = do_preview(runtime, ledger(base_rows()))
    do_commit(runtime, first)
    rows = base_rows()
    rows[1][5:7] = ["已完工", "煤改电"]
    rows[1][7] = "2023-10-01"
    rows.append(["东街村", "B002", "钱七", None, None, "未改造", None, None, None])
    second, _ = do_preview(runtime, ledger(rows))
    do_commit(runtime, second)
    assert households(runtime)["A002"].status == "completed"

    with runtime.session() as session:
        rollback(session, second, user_id=users["alice"])
    stored = households(runtime)
    assert stored["A002"].status == "pending" and stored["A002"].completed_on is None
    assert stored["B002"].active is False
    assert stored["A001"].active is True
    with runtime.session() as session:
        batch = session.get(ImportBatch, second)
        assert batch.status == "rolled_back" and batch.rolled_back_at is not None
        back = session.scalars(
            select(HouseholdVersion).where(HouseholdVersion.change == "rollback")
        ).all()
        assert len(back) == 2
        for v in back:
            assert v.batch_id == second and v.user_id == users["alice"]
            assert v.after == household_json(session.get(Household, v.household_id))
    # The first batch can now be rolled back too: the later batch is no longer in force.
    with runtime.session() as session:
        rollback(session, first)
    assert not any(h.active for h in households(runtime).values())


def test_rollback_is_refused_naming_the_later_batch(runtime, users):
    first, _ = do_preview(runtime, ledger(base_rows()))
    do_commit(runtime, first)
    rows = base_rows()
    rows[2][5] = "已完工"
    second, _ = do_preview(runtime, ledger(rows))
    do_commit(runtime, second)
    with (
        runtime.session() as session,
        pytest.raises(Refused, match=f"批次 {second}（.*提交）") as exc,
    ):
        rollback(session, first)
    assert exc.value.detail["later_batch"] == second
    assert households(runtime)["B001"].status == "completed"


def test_reimporting_a_household_removed_by_rollback_brings_it_back(runtime, users):
    first, _ = do_preview(runtime, ledger(base_rows()))
    do_commit(runtime, first)
    with runtime.session() as session:
        rollback(session, first)
    second, out = do_preview(runtime, ledger(base_rows()))
    assert out["counts"]["new"] == 3
    do_commit(runtime, second)
    assert all(h.active for h in households(runtime).values())
    assert len(households(runtime)) == 3


def test_cancelled_or_committed_batches_cannot_be_committed_again(runtime, users):
    batch_id, _ = do_preview(runtime, ledger(base_rows()))
    with runtime.session() as session:
        cancel(session, batch_id)
    with pytest.raises(Refused, match="已取消"):
        do_commit(runtime, batch_id)
    other, _ = do_preview(runtime, ledger(base_rows()))
    do_commit(runtime, other)
    with pytest.raises(Refused, match="已写入"):
        do_commit(runtime, other)
    with runtime.session() as session:
        assert [b.id for b in list_batches(session, "140405001")] == [other, batch_id]
        assert list_batches(session, "140405101") == []


def test_outcome_never_contains_a_full_id_number_or_phone(runtime, users):
    rows = base_rows()
    rows[0][3] = ID_1[:-1] + ("0" if ID_1[-1] != "0" else "1")  # bad check digit
    rows.append(["南街村", "A001", "重复", ID_2, "13900001111", "未改造", None, None, None])
    batch_id, out = do_preview(runtime, ledger(rows))
    text = json.dumps(out, ensure_ascii=False)
    for secret in (ID_1, ID_2, rows[0][3], PHONE, "13900001111"):
        assert secret not in text
    assert any(i["code"] == "id_number_checksum" and "*" in i["value"] for i in out["issues"])
    with runtime.session() as session:
        stored = json.dumps(session.get(ImportBatch, batch_id).issues, ensure_ascii=False)
    assert ID_1 not in stored and rows[0][3] not in stored


def test_two_clerks_of_different_townships_commit_at_once(runtime, users):
    north = ledger(base_rows())
    south = ledger(
        [
            ["上村村", f"S{i:03d}", f"户主{i}", None, None, "已完工", "煤改电", "2021-06-30", None]
            for i in range(200)
        ]
    )
    a, _ = do_preview(runtime, north, township="140405001", user=users["bob"])
    b, _ = do_preview(runtime, south, "上村镇台账.xlsx", township="140405101", user=users["carol"])
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run(batch_id: int) -> None:
        try:
            barrier.wait()
            do_commit(runtime, batch_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(x,)) for x in (a, b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert len(households(runtime)) == 203
    with runtime.session() as session:
        assert {b.status for b in session.scalars(select(ImportBatch))} == {"committed"}
