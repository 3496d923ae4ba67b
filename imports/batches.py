"""Import batches: a ledger's preview (the file kept, nothing written), cancel, the list.

A ledger is always first previewed: the file is kept byte-for-byte with its
SHA-256, its ledger date is settled (``imports.ledger_date``) and the outcome
is stored, but no household is written.  ``imports.commit`` then writes a
previewed batch (reusing the preview's parse kept by ``imports.parse_cache``
when the file, registry and settings are as they were, else re-parsing the
stored file; judged against the database as it is then) and ``imports.rollback`` retracts a committed one; both start
with ``lock_batch``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from heating import clock, history
from heating.config import Config
from heating.errors import NotFound, Refused
from heating.models import BATCH_STATUS_LABELS, ImportBatch, Township, audit
from imports import ledger_date as ledger_dates
from imports import parse_cache
from imports.coal_subsidy import warn_coal_subsidies
from imports.diff import LedgerDiff, diff_ledger
from imports.ledger_references import LedgerReferences, ledger_references, parse_fingerprint
from imports.outcome import change_details, outcome, sheets_json
from imports.parsed import ParsedLedger, gc_paused
from imports.pipeline import parse_ledger
from imports.storage import keep_bytes

Progress = Callable[[int, int], None]

LISTED = 10  # households or batches named in one message
NOTE_KEYS = ("ledger_date_message", "backfill_message", "unchanged_message")


def parse_stored(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    township_code: str | None,
    today: date | None,
    progress: Progress | None,
    references: LedgerReferences | None = None,
    record: Callable[[bytes], None] | None = None,
) -> ParsedLedger:
    return parse_ledger(
        data,
        file_name,
        session=session,
        config=config,
        township_code=township_code,
        today=today,
        progress=progress,
        references=references,
        record=record,
    )


def _township(session: Session, code: str | None) -> Township | None:
    if not code:
        return None
    township = session.scalar(select(Township).where(Township.code == code))
    if township is None:
        raise NotFound(f"乡镇代码 {code} 不在村庄名录中：请检查代码，或先由管理员加载村庄名录。")
    return township


def file_township(diff: LedgerDiff) -> str | None:
    """The township the file is for: the one named, else the only one its rows belong to."""
    if diff.township_code:
        return diff.township_code
    codes = {r.township_code for r in diff.parsed.rows if r.township_code}
    return codes.pop() if len(codes) == 1 else None


def _earlier_batch(session: Session, sha256: str, batch_id: int) -> ImportBatch | None:
    """The newest other batch of the same file, preferring one that was committed."""
    query = select(ImportBatch).where(ImportBatch.sha256 == sha256, ImportBatch.id != batch_id)
    committed = session.scalars(
        query.where(ImportBatch.status == "committed").order_by(ImportBatch.id.desc())
    ).first()
    return committed or session.scalars(query.order_by(ImportBatch.id.desc())).first()


def _describe_same_file(outcome_data: dict[str, Any], earlier: ImportBatch | None, tz: str) -> None:
    if earlier is None:
        return
    outcome_data["same_file_as_batch"] = earlier.id
    outcome_data["same_file_status"] = earlier.status
    when = earlier.committed_at or earlier.created_at
    outcome_data["same_file_message"] = (
        f"同一文件已于 {clock.shown(when, tz)} 上传过（批次 {earlier.id}，"
        f"{BATCH_STATUS_LABELS.get(earlier.status, earlier.status)}）。"
    )


def store_outcome(batch: ImportBatch, diff: LedgerDiff, data: dict[str, Any]) -> None:
    batch.counts = data["counts"] | {"not_in_file": data["not_in_file"]}
    batch.sheets = sheets_json(diff.parsed)
    batch.issues = data["issues"]
    batch.ignored_columns = sorted({c for s in diff.parsed.sheets for c in s.ignored_columns})
    batch.changes = change_details(diff)


def _describe_dates(
    session: Session,
    result: dict[str, Any],
    diff: LedgerDiff,
    decision: ledger_dates.Decision,
    township_id: int | None,
    batch_id: int,
) -> None:
    """The ledger date, a back-fill and the batches behind unchanged rows, in plain Chinese."""
    day = decision.day
    result["ledger_date"] = day.isoformat() if day else None
    result["ledger_date_source"] = decision.source
    result["ledger_date_message"] = decision.describe()
    newest = history.newest_ledger(session, township_id, excluding=batch_id)
    if day is not None and newest is not None and newest.ledger_date > day:
        households = diff.backfilled
        result["backfill"] = {
            "households": households,
            "newest_ledger_date": newest.ledger_date.isoformat(),
            "newest_batch": newest.id,
        }
        result["backfill_message"] = (
            f"台账日期 {day.isoformat()} 早于本乡镇最近一次台账（{newest.ledger_date.isoformat()}，"
            f"批次 {newest.id}）：只补录 {day.isoformat()} 的历史，不改变当前数据"
            f"（涉及 {households} 户）。"
        )
    if diff.unchanged_from:
        listed = []
        for batch, count in diff.unchanged_from.most_common():
            listed.append({"batch": batch, "households": count})
        result["unchanged_batches"] = listed
        words = "、".join(
            f"批次 {item['batch']}（{item['households']} 户）"
            if item["batch"] is not None
            else f"演示数据或人工录入（{item['households']} 户）"
            for item in listed[:LISTED]
        )
        result["unchanged_message"] = f"未变化的行与以下批次写入的数据相同：{words}。"


def preview(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    user_id: int | None,
    township_code: str | None,
    config: Config,
    ledger_date: date | None = None,
    today: date | None = None,
    progress: Progress | None = None,
) -> tuple[ImportBatch, dict[str, Any]]:
    """Read and judge a ledger, keep the file and the outcome; write no household.

    ``ledger_date`` is the date given with the upload (else found in the file,
    else the upload day ``today``).  A refused file (``LedgerRejected``)
    raises before anything is stored.
    """
    # The collector stays paused until the parse is freed, not only while it is received
    # (``parse_ledger``): switched back on with 100k rows alive, its first pass walked
    # every one of them (≈ 0.05 s of CPU per 100k rows), and they were garbage moments later.
    with gc_paused():
        batch, result, parsed = preview_parsed(
            session,
            data,
            file_name,
            user_id=user_id,
            township_code=township_code,
            config=config,
            ledger_date=ledger_date,
            today=today,
            progress=progress,
        )
        del parsed
    return batch, result


def judge(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    township_code: str | None,
    ledger_date: date | None,
    today: date,
    progress: Progress | None = None,
    references: LedgerReferences | None = None,
    record: Callable[[bytes], None] | None = None,
) -> tuple[Any, ledger_dates.Decision, LedgerDiff]:
    """Parse a ledger, settle its ledger date and compare it with the database; write nothing.

    What a preview stores, and what the issue-list download judges again.
    ``record`` receives the parse as it arrives from the child (``imports.parse_cache``).
    """
    parsed = parse_stored(
        session,
        data,
        file_name,
        config=config,
        township_code=township_code,
        today=today,
        progress=progress,
        references=references,
        record=record,
    )
    decision = ledger_dates.decide(
        option=ledger_date,
        titles=parsed.titles,
        file_name=file_name,
        today=today,
        cutoff=config.report_cutoff,
    )
    parsed.issues.extend(decision.issues)
    warn_coal_subsidies(session, parsed, config.profile, decision.day or today)
    diff = diff_ledger(
        session, parsed, township_code=township_code, ledger_date=decision.day or today
    )
    return parsed, decision, diff


def preview_parsed(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    user_id: int | None,
    township_code: str | None,
    config: Config,
    ledger_date: date | None = None,
    today: date | None = None,
    progress: Progress | None = None,
    keep_parse: bool = True,
) -> tuple[ImportBatch, dict[str, Any], Any]:
    """``preview`` that also returns the ParsedLedger, for a commit in the same process.

    With ``keep_parse`` (``preview`` always) the parse is kept beside the
    batch for a later commit by id (``imports.parse_cache``); the CLI's
    ``--commit``, which hands the parse over itself, does without.
    """
    today = today or clock.today(config.timezone)
    if ledger_date is not None:
        ledger_dates.check_option(ledger_date, today)
    _township(session, township_code)
    if township_code is not None:
        township_code = township_code.strip()
    references = ledger_references(session, config, township_code, today)
    recorder = parse_cache.Recorder() if keep_parse else None
    parsed, decision, diff = judge(
        session,
        data,
        file_name,
        config=config,
        township_code=township_code,
        ledger_date=ledger_date,
        today=today,
        progress=progress,
        references=references,
        record=recorder.write if recorder is not None else None,
    )
    sha256 = keep_bytes(session, data)
    owner = _township(session, file_township(diff))
    batch = ImportBatch(
        kind="ledger",
        township_id=owner.id if owner else None,
        user_id=user_id,
        file_name=file_name,
        sha256=sha256,
        size=len(data),
        status="preview",
        ledger_date=decision.day,
        ledger_date_source=decision.source,
    )
    session.add(batch)
    session.flush()
    if recorder is not None:
        mark = parse_fingerprint(references, config, sha256)
        if mark is not None:
            parse_cache.keep(session, batch.id, mark, recorder.finish())
        del recorder
    result = outcome(diff)
    result["township"] = owner.code if owner else None
    store_outcome(batch, diff, result)
    _describe_dates(session, result, diff, decision, batch.township_id, batch.id)
    batch.counts = batch.counts | {
        k: result[k] for k in ("backfill", "unchanged_batches") if k in result
    }
    # What the batch page says beside the counts (the same sentences as the CLI).
    batch.counts["notes"] = [result[k] for k in NOTE_KEYS if result.get(k)]
    result = {"batch": batch.id, "status": batch.status, **result}
    _describe_same_file(result, _earlier_batch(session, sha256, batch.id), config.timezone)
    audit(
        session,
        "import_preview",
        user=user_id,
        target=f"batch:{batch.id}",
        detail={
            "file": file_name,
            "sha256": sha256,
            "counts": result["counts"],
            "ledger_date": result["ledger_date"],
        },
    )
    return batch, result, parsed


def lock_batch(session: Session, batch_id: int, status: str) -> ImportBatch:
    """Write to the batch row first (see the module docstring), then load it."""
    touched = session.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch_id, ImportBatch.status == status)
        .values(status=status)
        .execution_options(synchronize_session=False)
    ).rowcount
    batch = session.get(ImportBatch, batch_id, populate_existing=True)
    if batch is None:
        raise NotFound(f"导入批次 {batch_id} 不存在：用 heating batches list 查看批次。")
    if not touched:
        label = BATCH_STATUS_LABELS.get(batch.status, batch.status)
        raise Refused(f"导入批次 {batch_id} 当前状态为“{label}”，不能执行此操作。")
    return batch


def cancel(session: Session, batch_id: int, *, user_id: int | None = None) -> ImportBatch:
    """Drop a preview that will not be committed (the stored file stays)."""
    batch = lock_batch(session, batch_id, "preview")
    batch.status = "cancelled"
    parse_cache.drop(session, [batch_id])
    session.flush()
    audit(session, "import_cancel", user=user_id, target=f"batch:{batch_id}")
    return batch


# --------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------


def list_batches(
    session: Session, township_code: str | None = None, kinds: tuple[str, ...] = ("ledger",)
) -> list[ImportBatch]:
    """Batches of these kinds (ledgers by default), newest first; one township's when a code is given."""
    query = select(ImportBatch).where(ImportBatch.kind.in_(kinds)).order_by(ImportBatch.id.desc())
    if township_code:
        query = query.join(Township, Township.id == ImportBatch.township_id).where(
            Township.code == township_code
        )
    return list(session.scalars(query))


def batch_json(batch: ImportBatch, tz: str = clock.DEFAULT_TIMEZONE) -> dict[str, Any]:
    """One batch for ``heating batches list --json`` and the history page."""
    return {
        "id": batch.id,
        "kind": batch.kind,
        "file": batch.file_name,
        "sha256": batch.sha256,
        "township": batch.township.code if batch.township else None,
        "township_name": batch.township.name if batch.township else None,
        "status": batch.status,
        "status_label": BATCH_STATUS_LABELS.get(batch.status, batch.status),
        "accept_valid": bool(batch.accept_valid),
        "user": batch.user.username if batch.user else None,
        "ledger_date": batch.ledger_date.isoformat() if batch.ledger_date else None,
        "ledger_date_source": batch.ledger_date_source,
        "created_at": clock.iso(batch.created_at, tz),
        "committed_at": clock.iso(batch.committed_at, tz),
        "rolled_back_at": clock.iso(batch.rolled_back_at, tz),
        "counts": batch.counts or {},
    }
