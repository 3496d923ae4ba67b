"""Import batches: preview, commit, rollback and cancel.

A ledger is always first previewed: the file is kept byte-for-byte with its
SHA-256, its ledger date is settled (``imports.ledger_date``) and the outcome
is stored, but no household is written.  Commit re-parses the stored file
(so what is written is what the preview showed for that file, judged against
the database as it is now) and writes every valid row in one transaction
through ``heating.history``; rollback retracts the batch's versions.

Safe commits: a commit is refused when, since the preview, a batch still in
force with a ledger date on or before this one's wrote one of the file's
households, or a household the file names appeared — committing would
silently put the file's older values over newer data.  When a batch of a
township commits, that township's other pending previews expire.

Concurrency: the first statement of a commit or rollback takes the
township's write lock (``heating.locks``).  On SQLite that is the database's
write lock, taken before anything is read (the busy timeout then makes a
second clerk wait instead of failing); on PostgreSQL an advisory lock per
township, so commits of different townships run side by side and two of one
township take turns (the second then finds its preview expired).  A commit
of many households refreshes the planner's statistics (``heating.db.analyze``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from heating import clock, history, locks, signoff
from heating.config import Config
from heating.db import ANALYZE_ROWS, analyze
from heating.errors import NotFound, Refused
from heating.models import (
    BATCH_STATUS_LABELS,
    HOUSEHOLD_FIELDS,
    Household,
    HouseholdVersion,
    ImportBatch,
    StoredFile,
    Township,
    Village,
    audit,
    utcnow,
)
from imports import ledger_date as ledger_dates
from imports.diff import (
    LedgerDiff,
    diff_ledger,
    id_hash_for,
    outcome,
    rejected_rows_json,
    sheets_json,
)
from imports.parsed import ParsedLedger
from imports.pipeline import parse_ledger
from imports.storage import keep_bytes

Progress = Callable[[int, int], None]

LISTED = 10  # households named in a refusal
NOTE_KEYS = ("ledger_date_message", "backfill_message", "unchanged_message")


def _parse(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    township_code: str | None,
    today: date | None,
    progress: Progress | None,
) -> ParsedLedger:
    return parse_ledger(
        data,
        file_name,
        session=session,
        config=config,
        township_code=township_code,
        today=today,
        progress=progress,
    )


def _township(session: Session, code: str | None) -> Township | None:
    if not code:
        return None
    township = session.scalar(select(Township).where(Township.code == code))
    if township is None:
        raise NotFound(f"乡镇代码 {code} 不在村庄名录中：请检查代码，或先由管理员加载村庄名录。")
    return township


def _file_township(diff: LedgerDiff) -> str | None:
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


def _store_outcome(batch: ImportBatch, diff: LedgerDiff, data: dict[str, Any]) -> None:
    batch.counts = data["counts"] | {"not_in_file": data["not_in_file"]}
    batch.sheets = sheets_json(diff.parsed)
    batch.issues = data["issues"]
    batch.ignored_columns = sorted({c for s in diff.parsed.sheets for c in s.ignored_columns})


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
    batch, result, _ = preview_parsed(
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
    return batch, result


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
) -> tuple[ImportBatch, dict[str, Any], Any]:
    """``preview`` that also returns the ParsedLedger, for a commit in the same process."""
    today = today or clock.today(config.timezone)
    if ledger_date is not None:
        ledger_dates.check_option(ledger_date, today)
    _township(session, township_code)
    parsed = _parse(
        session,
        data,
        file_name,
        config=config,
        township_code=township_code,
        today=today,
        progress=progress,
    )
    decision = ledger_dates.decide(
        option=ledger_date,
        titles=parsed.titles,
        file_name=file_name,
        today=today,
        cutoff=config.report_cutoff,
    )
    parsed.issues.extend(decision.issues)
    diff = diff_ledger(
        session, parsed, township_code=township_code, ledger_date=decision.day or today
    )
    sha256 = keep_bytes(session, data)
    file_township = _township(session, _file_township(diff))
    batch = ImportBatch(
        kind="ledger",
        township_id=file_township.id if file_township else None,
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
    result = outcome(diff)
    result["township"] = file_township.code if file_township else None
    _store_outcome(batch, diff, result)
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


def _lock_batch(session: Session, batch_id: int, status: str) -> ImportBatch:
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


def _refuse_not_preview(session: Session, batch: ImportBatch, tz: str) -> None:
    label = BATCH_STATUS_LABELS.get(batch.status, batch.status)
    if batch.status == "expired":
        later = session.scalars(
            select(ImportBatch)
            .where(
                ImportBatch.township_id == batch.township_id,
                ImportBatch.committed_at.is_not(None),
                ImportBatch.committed_at > batch.created_at,
                ImportBatch.id != batch.id,
            )
            .order_by(ImportBatch.committed_at)
        ).first()
        by = (
            f"：本乡镇在预览之后提交了批次 {later.id}（{clock.shown(later.committed_at, tz)}）"
            if later
            else ""
        )
        raise Refused(
            f"导入批次 {batch.id} 已过期{by}，预览结果已不再反映当前数据。"
            "请用同一文件重新预览，核对后再写入。",
            detail={"batch": batch.id, "status": batch.status, "repreview": True},
        )
    raise Refused(
        f"导入批次 {batch.id} 当前状态为“{label}”，只有预览中的批次可以提交。",
        detail={"batch": batch.id, "status": batch.status},
    )


def _stale(session: Session, batch: ImportBatch, diff: LedgerDiff, tz: str) -> None:
    """Refuse when the file's households changed under the preview (module docstring)."""
    ids = diff.household_ids()
    if not ids:
        return
    v = HouseholdVersion
    since = batch.created_at
    day = batch.ledger_date
    hits: list[tuple[int | None, datetime, int]] = []
    for start in range(0, len(ids), history.CHUNK):
        part = ids[start : start + history.CHUNK]
        first_known = dict(
            session.execute(
                select(v.household_id, func.min(v.recorded_at))
                .where(v.household_id.in_(part))
                .group_by(v.household_id)
            ).all()
        )
        rows = session.execute(
            select(v.batch_id, v.recorded_at, v.household_id, v.ledger_date)
            .where(v.household_id.in_(part), history.live(), v.recorded_at > since)
            .order_by(v.recorded_at)
        ).all()
        for batch_id, recorded_at, household_id, ledger_day in rows:
            appeared = (
                first_known.get(household_id) is not None and first_known[household_id] > since
            )
            if (day is not None and ledger_day <= day) or appeared:
                hits.append((batch_id, recorded_at, household_id))
    if not hits:
        return
    by_batch: dict[int | None, set[int]] = {}
    first_at: dict[int | None, datetime] = {}
    for batch_id, recorded_at, household_id in hits:
        by_batch.setdefault(batch_id, set()).add(household_id)
        first_at.setdefault(batch_id, recorded_at)
    households = sorted({h for _, _, h in hits})
    names = session.execute(
        select(Household.id, Village.name, Household.household_no, Household.head_name)
        .join(Village, Village.id == Household.village_id)
        .where(Household.id.in_(households[:LISTED]))
        .order_by(Household.id)
    ).all()
    who = "、".join(f"{vname}{no or name}" for _, vname, no, name in names)
    more = f"等 {len(households)} 户" if len(households) > LISTED else f"共 {len(households)} 户"
    parts = []
    for batch_id, members in by_batch.items():
        when = clock.shown(first_at[batch_id], tz)
        what = f"批次 {batch_id}（{when} 提交）" if batch_id is not None else f"人工修改（{when}）"
        parts.append(f"{what} {len(members)} 户")
    raise Refused(
        f"不能写入批次 {batch.id}：预览之后{'、'.join(parts)}已修改了这些农户：{who}{more}。"
        "直接写入会用本文件的数据覆盖较新的数据。请用同一文件重新预览，核对后再写入。",
        detail={
            "batch": batch.id,
            "later_batches": [b for b in by_batch if b is not None],
            "households": len(households),
            "repreview": True,
        },
    )


def commit(
    session: Session,
    batch_id: int,
    *,
    accept_valid: bool = False,
    user_id: int | None = None,
    config: Config,
    recorded_at: datetime | None = None,
    progress: Progress | None = None,
    parsed: Any = None,
) -> tuple[ImportBatch, dict[str, Any]]:
    """Write a previewed batch's valid rows in the caller's transaction.

    Strict by default: any error refuses the whole file.  With
    ``accept_valid`` the valid rows are written and the rejected ones kept
    with their reasons in ``batch.rejected_rows``.  The stored file is
    parsed again unless ``parsed`` (from ``preview_parsed`` of the same
    file in this process) is given; the diff is always made afresh, as of the
    batch's ledger date.  A file whose rows are all unchanged writes no
    version: the batch is recorded as a confirmation of that date.
    """
    tz = config.timezone
    found = session.get(ImportBatch, batch_id)
    if found is None:
        raise NotFound(f"导入批次 {batch_id} 不存在：用 heating batches list 查看批次。")
    if found.status != "preview":
        _refuse_not_preview(session, found, tz)
    if found.ledger_date is None:
        raise Refused(
            f"批次 {batch_id} 的台账日期无法确定（见预览中的问题清单），不能写入。"
            "请在导入时指定台账日期（命令行 --ledger-date，网页上的“台账日期”）后重新预览。",
            detail=found.counts,
        )
    township_code = found.township.code if found.township else None
    if parsed is None or parsed.sha256 != found.sha256:
        stored = session.get(StoredFile, found.sha256)
        parsed = _parse(
            session,
            stored.content,
            found.file_name,
            config=config,
            township_code=township_code,
            today=None,
            progress=progress,
        )
    locks.hold_township_writes(session, found.township_id)
    batch = _lock_batch(session, batch_id, "preview")
    day = batch.ledger_date
    diff = diff_ledger(session, parsed, township_code=township_code, ledger_date=day)
    if diff.rejected and not accept_valid:
        errors = diff.counts()["errors"]
        raise Refused(
            f"台账有 {len(diff.rejected)} 行错误（共 {errors} 处），未写入任何数据。"
            "请按预览中的问题清单修改后重新上传；或选择“只导入无误的行”"
            "（命令行 --accept-valid），错误行将保存在批次记录中。",
            detail=outcome(diff),
        )
    _stale(session, batch, diff, tz)
    signoff.check_unlocked(
        session, _townships_written(session, batch, diff), day, f"写入批次 {batch.id}", tz=tz
    )
    when = recorded_at or utcnow()
    stamp = history.Stamp(day, when, batch.id, user_id)
    if _write(session, diff, stamp) >= ANALYZE_ROWS:
        analyze(session, "households", "household_versions")

    result = outcome(diff)
    result["township"] = township_code or (
        _file_township(diff) if not found.township else found.township.code
    )
    notes = (batch.counts or {}).get("notes", [])
    _store_outcome(batch, diff, result)
    batch.counts["notes"] = notes
    result["ledger_date"] = day.isoformat()
    result["ledger_date_source"] = batch.ledger_date_source
    batch.status = "committed"
    batch.committed_at = when
    batch.accept_valid = accept_valid
    batch.rejected_rows = rejected_rows_json(diff.rejected)
    batch.not_in_file_ids = [item["household"] for item in diff.not_in_file]
    if batch.user_id is None:
        batch.user_id = user_id
    expired = _expire_previews(session, batch)
    session.flush()
    result = {"batch": batch.id, "status": batch.status, **result}
    if expired:
        result["expired_batches"] = expired
    audit(
        session,
        "import_commit",
        user=user_id,
        target=f"batch:{batch.id}",
        detail={
            "accept_valid": accept_valid,
            "counts": result["counts"],
            "ledger_date": day.isoformat(),
            "expired": expired,
        },
    )
    return batch, result


def _townships_written(session: Session, batch: ImportBatch, diff: LedgerDiff) -> set[int]:
    """The batch's township and those of every village a change writes to or moves from.

    A ledger whose rows are all unchanged still confirms its township's data
    on its date (the report names the newest ledger), so its township counts.
    """
    villages: set[int] = set()
    for c in diff.changes:
        if c.kind == "unchanged":
            continue
        villages.add(c.row.village_id)
        for state in (c.stored, c.before):
            if state and state.get("village_id") is not None:
                villages.add(state["village_id"])
    return {batch.township_id} | _townships_of(session, villages)


def _townships_of(session: Session, village_ids: set[int]) -> set[int]:
    found: set[int] = set()
    ids = sorted(v for v in village_ids if v is not None)
    for start in range(0, len(ids), history.CHUNK):
        part = ids[start : start + history.CHUNK]
        found.update(session.scalars(select(Village.township_id).where(Village.id.in_(part))))
    return found


def _expire_previews(session: Session, batch: ImportBatch) -> list[int]:
    """The township's other pending previews can no longer be committed."""
    if batch.township_id is None:
        return []
    b = ImportBatch
    ids = list(
        session.scalars(
            select(b.id).where(
                b.township_id == batch.township_id, b.status == "preview", b.id != batch.id
            )
        )
    )
    if ids:
        session.execute(
            update(b)
            .where(b.id.in_(ids), b.status == "preview")
            .values(status="expired")
            .execution_options(synchronize_session=False)
        )
    return ids


def _write(session: Session, diff: LedgerDiff, stamp: history.Stamp) -> int:
    """New households in bulk, then one version per changed household (heating.history).

    Returns how many households were created or changed.
    """
    salt = diff.id_salt
    created = []
    changes: list[history.Change] = []
    for c in diff.changes:
        if c.kind == "unchanged":
            continue
        row = c.row
        if c.household_id is None:
            fields = c.typed()
            created.append(
                fields
                | {
                    "village_id": row.village_id,
                    "key": row.key,
                    "key_kind": row.key_kind,
                    "id_hash": id_hash_for(fields, salt),
                    "extra": row.extra or None,
                }
            )
            continue
        stored = c.stored if c.stored is not None else c.before
        base = c.before if c.before is not None else dict(history.BLANK_STATE)
        after = {f: base.get(f) for f in HOUSEHOLD_FIELDS} | c.changes
        after["village_id"] = base.get("village_id") or stored["village_id"]
        after["active"] = True
        row_values: dict[str, Any] = {}
        if "id_number" in c.changes:
            row_values["id_hash"] = id_hash_for(c.changes, salt)
        if row.extra:
            row_values["extra"] = (stored.get("extra") or {}) | row.extra
        changes.append(
            history.Change(
                c.household_id,
                stored,
                c.before,
                after,
                row_values,
                "update" if c.kind == "updated" else "create",
            )
        )
    history.add_households(session, created, stamp)
    history.add_versions(session, changes, stamp)
    return len(created) + len(changes)


# --------------------------------------------------------------------------
# Rollback and cancel
# --------------------------------------------------------------------------


def rollback(
    session: Session,
    batch_id: int,
    *,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
    tz: str = clock.DEFAULT_TIMEZONE,
) -> ImportBatch:
    """Undo a committed batch: its versions stop counting (``heating.history.retract``).

    Each household's row becomes its state as of the newest ledger date
    without the batch (inactive when nothing else counts).  Refused, naming
    the batch, when a batch still in force wrote one of these households
    after this one with a later ledger date, or the same date recorded later
    (its values were merged on top of this batch's).
    """
    found = session.get(ImportBatch, batch_id)
    locks.hold_township_writes(session, found.township_id if found else None)
    batch = _lock_batch(session, batch_id, "committed")
    if batch.kind == "usage":
        from imports.usage_batches import rollback_usage

        return rollback_usage(session, batch, user_id=user_id)
    if batch.kind != "ledger":
        raise Refused(f"批次 {batch_id} 不是台账导入批次（{batch.kind}），不能撤销。")
    signoff.check_unlocked(
        session,
        _townships_rolled_back(session, batch),
        batch.ledger_date,
        f"撤销批次 {batch_id}",
        tz=tz,
    )
    later = history.later_in_force(session, batch_id)
    if later:
        first_batch, first_at, _ = later[0]
        count = len({household for _, _, household in later})
        when = clock.shown(first_at, tz)
        if first_batch is not None:
            raise Refused(
                f"不能撤销批次 {batch_id}：之后的批次 {first_batch}（{when} 提交）又修改了"
                f"其中 {count} 户。请先撤销批次 {first_batch}，再撤销批次 {batch_id}。",
                detail={"later_batch": first_batch, "recorded_at": clock.iso(first_at, tz)},
            )
        raise Refused(
            f"不能撤销批次 {batch_id}：{when} 之后又有人工修改涉及其中 {count} 户。"
            "请先核对这些修改。",
            detail={"later_batch": None, "recorded_at": clock.iso(first_at, tz)},
        )
    when = recorded_at or utcnow()
    restored = history.retract(
        session, batch_id, history.Stamp(batch.ledger_date, when, batch_id, user_id)
    )
    batch.status = "rolled_back"
    batch.rolled_back_at = when
    session.flush()
    audit(
        session,
        "import_rollback",
        user=user_id,
        target=f"batch:{batch_id}",
        detail={"households": restored},
    )
    return batch


def _townships_rolled_back(session: Session, batch: ImportBatch) -> set[int]:
    """The batch's township and those of the villages its versions and their predecessors hold."""
    v = HouseholdVersion
    villages = set(session.scalars(select(v.village_id).where(v.batch_id == batch.id).distinct()))
    villages.update(
        session.scalars(
            select(v.prev_village_id)
            .where(v.batch_id == batch.id, v.prev_village_id.is_not(None))
            .distinct()
        )
    )
    return {batch.township_id} | _townships_of(session, villages)


def cancel(session: Session, batch_id: int, *, user_id: int | None = None) -> ImportBatch:
    """Drop a preview that will not be committed (the stored file stays)."""
    batch = _lock_batch(session, batch_id, "preview")
    batch.status = "cancelled"
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
