"""Commit: write a previewed ledger's valid rows, refusing what would overwrite newer data.

Commit takes the preview's parse — handed over in the same process
(``heating import --commit``), kept beside the batch (``imports.parse_cache``,
when the file, registry and settings it read are unchanged), else the stored
file parsed again — so what is written is what the preview showed for that
file, judged against the database as it is now, and writes every valid row in
one transaction through ``heating.history``.  The stored bytes must still hash
to the batch's SHA-256.

Safe commits: a commit is refused when, since the preview, a batch still in
force with a ledger date on or before this one's wrote one of the file's
households, or a household the file names appeared — committing would
silently put the file's older values over newer data.  When a batch of a
township commits, that township's other pending previews expire.

Concurrency: the first statement of a commit (or a rollback) takes the
township's write lock (``heating.locks``).  On SQLite that is the database's
write lock, taken before anything is read (the busy timeout then makes a
second clerk wait instead of failing); on PostgreSQL an advisory lock per
township, so commits of different townships run side by side and two of one
township take turns (the second then finds its preview expired).  A commit
of many households refreshes the planner's statistics (``heating.db.analyze``).
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
import zlib
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm import Session

from heating import clock, data_version, history, locks, signoff_lock
from heating.config import Config
from heating.db import ANALYZE_ROWS, analyze
from heating.errors import NotFound, Refused
from heating.models import (
    BATCH_STATUS_LABELS,
    HOUSEHOLD_FIELDS,
    District,
    Household,
    HouseholdVersion,
    ImportBatch,
    StoredFile,
    Township,
    Village,
    audit,
    utcnow,
)
from imports import parse_cache
from imports.batches import (
    LISTED,
    Progress,
    file_township,
    lock_batch,
    parse_stored,
    store_outcome,
)
from imports.coal_subsidy import warn_coal_subsidies
from imports.diff import LedgerDiff, diff_ledger, id_hash_for
from imports.ledger_references import ledger_references, parse_fingerprint
from imports.outcome import outcome, rejected_rows_json
from imports.parsed import ParsedLedger, gc_paused
from imports.pipeline import replay_ledger

log = logging.getLogger(__name__)
# New households written per bulk insert (their column dicts are built a part at a time).
NEW_AT_ONCE = 20_000
_HOUSEHOLDS: Table = Household.__table__  # type: ignore[assignment]
_VERSIONS: Table = HouseholdVersion.__table__  # type: ignore[assignment]
# How the last commit in this process came by its parse: "given" (the caller's,
# as ``heating import --commit``), "kept" (the preview's, imports.parse_cache) or
# "parsed" (the stored file read again), and the seconds that took.  Diagnostics
# and benchmarks only.
last_parse = ""
last_parse_s = 0.0


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
    global last_parse, last_parse_s
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
    last_parse, last_parse_s = "given", 0.0
    if parsed is None or parsed.sha256 != found.sha256:
        started = time.perf_counter()
        parsed = _parse_of(session, found, township_code, config, progress)
        last_parse_s = time.perf_counter() - started
    locks.hold_township_writes(session, found.township_id)
    batch = lock_batch(session, batch_id, "preview")
    day = batch.ledger_date
    warn_coal_subsidies(session, parsed, config.profile, day)  # as the preview warned
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
    townships = _townships_written(session, batch, diff)
    signoff_lock.check_unlocked(session, townships, day, f"写入批次 {batch.id}", tz=tz)
    declare_writes(session, townships, day)
    when = recorded_at or utcnow()
    stamp = history.Stamp(day, when, batch.id, user_id)
    # Hundreds of thousands of rows and tuples, no cycles: each collection would walk them
    # and the parse again (≈ 1 s of 10 s CPU for 100k new households, benchmarks/import_ledgers.py).
    with gc_paused():
        written = _write(session, diff, stamp)
    if written >= ANALYZE_ROWS:
        analyze(session, "households", "household_versions")

    result = outcome(diff)
    result["township"] = township_code or (
        file_township(diff) if not found.township else found.township.code
    )
    notes = (batch.counts or {}).get("notes", [])
    store_outcome(batch, diff, result)
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
    parse_cache.drop_settled(session)
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


def _parse_of(
    session: Session,
    batch: ImportBatch,
    township_code: str | None,
    config: Config,
    progress: Progress | None,
) -> ParsedLedger:
    """The batch's file parsed: the preview's kept parse when nothing it read changed, else anew.

    The stored bytes must still be the previewed file (its SHA-256): a commit
    never writes what the preview did not show.
    """
    global last_parse
    stored = session.get(StoredFile, batch.sha256)
    content = stored.content if stored is not None else b""
    if hashlib.sha256(content).hexdigest() != batch.sha256:
        raise Refused(
            f"批次 {batch.id} 保存的文件“{batch.file_name}”与预览时的文件不一致"
            "（内容已被改动或已删除），不能写入。请重新上传该文件，预览核对后再写入。",
            detail={"batch": batch.id, "code": "stored_file_changed"},
        )
    today = clock.today(config.timezone)
    references = ledger_references(session, config, township_code, today)
    mark = parse_fingerprint(references, config, batch.sha256)
    if mark is not None:
        try:
            parsed = parse_cache.kept(session, batch.id, mark, replay_ledger)
        except (ValueError, EOFError, pickle.UnpicklingError, zlib.error):
            log.warning("kept parse of batch %s unreadable: parsing the file again", batch.id)
            parsed = None
        if parsed is not None and parsed.sha256 == batch.sha256:
            last_parse = "kept"
            return parsed
    last_parse = "parsed"
    return parse_stored(
        session,
        content,
        batch.file_name,
        config=config,
        township_code=township_code,
        today=today,
        progress=progress,
        references=references,
    )


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
    return {batch.township_id} | townships_of(session, villages)


def declare_writes(session: Session, townships: set[int | None], ledger_date: date | None) -> None:
    """Tell the data version what a ledger commit or rollback changes: the figures of the
    districts of ``townships`` only (the others' kept figures stay), and only as of
    ``ledger_date`` and after — every version it writes or retracts is dated then, so
    figures as of earlier dates stay kept (``heating.data_version``, "Dated")."""
    conn = session.connection()
    data_version.writes_districts(conn, districts_of(session, townships))
    if ledger_date is not None:
        data_version.writes_dated(conn, ledger_date)


def districts_of(session: Session, township_ids: set[int | None]) -> set[str]:
    """The codes of the districts of ``township_ids``."""
    ids = sorted(t for t in township_ids if t is not None)
    return set(
        session.scalars(
            select(District.code)
            .join(Township, Township.district_id == District.id)
            .where(Township.id.in_(ids))
        )
    )


def townships_of(session: Session, village_ids: set[int]) -> set[int]:
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
    created: list[dict[str, Any]] = []
    written = 0
    changes: list[history.Change] = []
    adding = sum(1 for c in diff.changes if c.household_id is None and c.kind != "unchanged")
    with history.indexes_deferred(session, (_HOUSEHOLDS, _VERSIONS), adding):
        for c in diff.changes:
            if c.kind == "unchanged":
                continue
            row = c.row
            if c.household_id is None:
                fields = c.typed()  # a new dict: the identity columns join it
                fields["id_hash"] = id_hash_for(fields, salt)
                fields["village_id"] = row.village_id
                fields["key"] = row.key
                fields["key_kind"] = row.key_kind
                fields["extra"] = row.extra or None
                created.append(fields)
                if len(created) >= NEW_AT_ONCE:
                    # Written as they come: a million new households' dicts never exist at once.
                    history.add_households(session, created, stamp)
                    written += len(created)
                    created = []
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
    return written + len(created) + len(changes)
