"""The preview's parse kept for the commit (imports.parse_cache): reused only while nothing changed."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select, text, update

from heating.errors import Refused
from heating.models import (
    Household,
    ImportBatch,
    ImportJob,
    ParsedLedgerKept,
    StoredFile,
    Village,
)
from heating.sealing import FILE_MAGIC
from heating.web.jobs import create_job
from imports import commit as commit_module
from imports import parse_cache
from imports.batches import cancel, preview
from imports.commit import commit
from imports.job_process import run_job
from imports.ledger_references import LedgerReferences, parse_fingerprint
from tests.support.ledgers import ledger_xlsx, with_check_digit
from tests.support.web import batch_id_of, upload

HEADER = ["村", "户号", "户主姓名", "身份证号", "联系电话", "改造状态", "改造方式", "完工日期"]
ID_1 = with_check_digit("14040519800101001")
PHONE = "13812345678"
TOWNSHIP = "140405001"


def rows() -> list[list]:
    return [
        ["南街村", "A001", "张三", ID_1, PHONE, "已完工", "煤改电", "2021-06-30"],
        ["南街村", "A002", "李四", None, None, "未改造", None, None],
        ["东街村", "B001", "王五", None, None, "施工中", "煤改气", None],
    ]


def do_preview(runtime, data: bytes | None = None) -> int:
    """A preview as the web job makes it (today from the clock, the parse kept)."""
    with runtime.session() as session:
        batch, _ = preview(
            session,
            data or ledger_xlsx(rows(), title="麟绛街道台账", header=HEADER),
            "麟绛街道台账.xlsx",
            user_id=None,
            township_code=TOWNSHIP,
            config=runtime.config,
        )
        return batch.id


def do_commit(runtime, batch_id: int, config=None) -> dict:
    with runtime.session() as session:
        _, out = commit(session, batch_id, config=config or runtime.config)
        return out


def kept_count(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(ParsedLedgerKept))


def test_a_commit_by_batch_id_reuses_the_kept_parse_and_writes_the_same(runtime, users) -> None:
    batch_id = do_preview(runtime)
    assert kept_count(runtime) == 1
    out = do_commit(runtime, batch_id)
    assert commit_module.last_parse == "kept"
    assert out["counts"]["new"] == 3
    with runtime.session() as session:
        found = {h.household_no: h for h in session.scalars(select(Household))}
        assert found["A001"].id_number == ID_1 and found["A001"].phone == PHONE
        assert found["B001"].status == "in_progress"
    # Committed: the kept parse is gone.
    assert kept_count(runtime) == 0


def test_the_kept_parse_is_sealed_like_the_stored_file(runtime, users) -> None:
    do_preview(runtime)
    with runtime.engine.connect() as conn:
        raw = conn.execute(text("SELECT content FROM parsed_ledgers")).scalar_one()
    assert bytes(raw).startswith(FILE_MAGIC)
    assert ID_1.encode() not in bytes(raw) and PHONE.encode() not in bytes(raw)


def test_a_village_renamed_after_the_preview_makes_the_commit_parse_again(runtime, users) -> None:
    batch_id = do_preview(runtime)
    with runtime.session() as session:
        renamed = update(Village).where(Village.code == "140405001202").values(name="东关村委会")
        assert session.execute(renamed).rowcount == 1
    # The kept parse resolved 东街村; the registry no longer has it: parsed again, refused.
    with pytest.raises(Refused) as refused:
        do_commit(runtime, batch_id)
    assert commit_module.last_parse == "parsed"
    assert "行错误" in refused.value.message
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 0


def test_a_changed_setting_makes_the_commit_parse_again(runtime, users) -> None:
    batch_id = do_preview(runtime)
    config = runtime.config.with_overrides(
        import_max_issues=(runtime.config.import_max_issues or 9) + 1
    )
    do_commit(runtime, batch_id, config)
    assert commit_module.last_parse == "parsed"


def test_a_stored_file_changed_after_the_preview_is_refused(runtime, users) -> None:
    batch_id = do_preview(runtime)
    other = ledger_xlsx(rows()[:1], title="麟绛街道台账", header=HEADER)
    with runtime.session() as session:
        batch = session.get(ImportBatch, batch_id)
        session.get(StoredFile, batch.sha256).content = other
    with pytest.raises(Refused) as refused:
        do_commit(runtime, batch_id)
    assert "与预览时的文件不一致" in refused.value.message
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 0
        assert session.get(ImportBatch, batch_id).status == "preview"


def test_cancel_and_expiry_drop_kept_parses(runtime, users) -> None:
    first = do_preview(runtime)
    second = do_preview(runtime)
    third = do_preview(runtime)
    assert kept_count(runtime) == 3
    with runtime.session() as session:
        cancel(session, first)
    assert kept_count(runtime) == 2
    # Committing the third expires the second: neither keeps its parse.
    do_commit(runtime, third)
    assert kept_count(runtime) == 0
    with runtime.session() as session:
        assert session.get(ImportBatch, second).status == "expired"


def test_the_fingerprint_is_the_same_for_the_same_registry_and_changes_with_the_day(
    runtime, users
) -> None:
    with runtime.session() as session:
        one = LedgerReferences.load(session, TOWNSHIP, date(2024, 1, 15))
        two = LedgerReferences.load(session, TOWNSHIP, date(2024, 1, 15))
        later = LedgerReferences.load(session, TOWNSHIP, date(2024, 1, 16))
    config = runtime.config
    assert parse_fingerprint(one, config, "a" * 64) == parse_fingerprint(two, config, "a" * 64)
    assert parse_fingerprint(one, config, "a" * 64) != parse_fingerprint(later, config, "a" * 64)
    assert parse_fingerprint(one, config, "a" * 64) != parse_fingerprint(one, config, "b" * 64)
    # Sets and dict keys in any order give the same form.
    assert parse_cache.fingerprint({"b", "a", "c"}, {2: "x", 1: "y"}) == parse_cache.fingerprint(
        {"c", "a", "b"}, {1: "y", 2: "x"}
    )
    with pytest.raises(parse_cache.Unstable):
        parse_cache.fingerprint(object())


def test_the_web_commit_reuses_the_parse_made_at_upload(login, runtime, users) -> None:
    """The upload's preview (in a job process) keeps its parse; the web's commit job takes it.

    The commit job is run here, in this process, as its job process runs it
    (``imports.job_process.run_job``), so that ``last_parse`` can be read.
    """
    client = login("bob")
    resp = upload(client, ledger_xlsx(rows(), title="麟绛街道台账", header=HEADER), "台账.xlsx")
    batch_id = batch_id_of(resp)
    assert kept_count(runtime) == 1
    token = create_job(
        runtime, "commit", user_id=users["bob"], township_id=None, file_name="台账.xlsx"
    )
    arguments = {"batch_id": batch_id, "accept_valid": False, "user_id": users["bob"]}
    commit_module.last_parse = ""  # not what an earlier in-process commit left
    run_job(runtime.config, token, "commit", arguments)
    assert commit_module.last_parse == "kept"
    with runtime.session() as session:
        assert session.get(ImportJob, token).state == "done"
        assert session.scalar(select(func.count()).select_from(Household)) == 3
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "已写入" in page


def test_a_sheet_parsed_with_its_rows_held_until_calamine_is_done_gives_the_same_rows(
    runtime, users
) -> None:
    from dataclasses import replace as with_limit

    from imports.isolation import ChildLimits, run_isolated
    from imports.ledger_references import ledger_references
    from imports.parsed import LedgerRow
    from imports.pipeline import parse_ledger_file
    from imports.readers import ReadLimits

    # More rows than a part (PROGRESS_EVERY): parts are sent, held in the second parse.
    many = [[r[0], f"{r[1]}-{n}", r[2], None, *r[4:]] for n in range(3400) for r in rows()]
    data = ledger_xlsx(many, title="麟绛街道台账", header=HEADER)
    with runtime.session() as session:
        references = ledger_references(session, runtime.config, TOWNSHIP, date(2024, 1, 15))
    limits = ReadLimits.from_config(runtime.config)

    def parse(read_limits: ReadLimits) -> list[tuple]:
        got: list = []
        parsed = run_isolated(
            parse_ledger_file,
            data,
            "台账.xlsx",
            references,
            read_limits,
            limits=ChildLimits.from_config(runtime.config),
            file_name="台账.xlsx",
            on_part=lambda part: got.extend(map(LedgerRow, part)),
        )
        return [(r.row, r.values, r.village_id, r.key) for r in [*got, *parsed.rows]]

    streamed = parse(limits)
    held = parse(with_limit(limits, hold_rows=3))
    assert held == streamed and len(held) == 10200
