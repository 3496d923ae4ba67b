"""Import batches: preview, commit, rollback and cancel.

A ledger is always first previewed: the file is kept byte-for-byte with its
SHA-256 and the outcome is stored, but no household is written.  Commit
re-parses the stored file (so what is written is what the preview showed for
that file, judged against the database as it is now) and writes every valid
row in one transaction; rollback restores each household to its state
before the batch.

Writes use Core bulk statements (one INSERT … RETURNING for new households,
executemany UPDATEs by primary key, one INSERT for the versions): a 100k-row
ledger commits in seconds on SQLite, where an ORM object per row would take
minutes.  The versions have exactly the shape ``heating.households`` writes.

Concurrency: the first statement of a commit or rollback is a write on the
batch row.  On SQLite that takes the write lock before anything is read (the
busy timeout then makes a second clerk wait instead of failing); on
PostgreSQL it is a row lock, so commits of different townships run side by
side.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    JSON,
    Connection,
    Date,
    DateTime,
    Table,
    bindparam,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session, aliased

from heating.config import Config
from heating.errors import NotFound, Refused
from heating.households import to_json_value
from heating.models import (
    HOUSEHOLD_FIELDS,
    Household,
    HouseholdVersion,
    ImportBatch,
    StoredFile,
    Township,
    User,
    audit,
    utcnow,
)
from imports.diff import (
    CHUNK,
    LedgerDiff,
    diff_ledger,
    id_hash_for,
    load_states,
    outcome,
    rejected_rows_json,
    sheets_json,
    snapshot_of,
    state_from_snapshot,
)

Progress = Callable[[int, int], None]
_HOUSEHOLDS = Household.__table__
_VERSIONS = HouseholdVersion.__table__

STATUS_LABELS = {
    "preview": "预览",
    "committed": "已提交",
    "rolled_back": "已撤销",
    "cancelled": "已取消",
}


def _parse(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    config: Config,
    township_code: str | None,
    today: date | None,
    progress: Progress | None,
) -> Any:
    from imports.pipeline import parse_ledger

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


def _user(session: Session, user_id: int | None) -> User | None:
    return session.get(User, user_id) if user_id is not None else None


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


def _store_file(session: Session, data: bytes) -> str:
    sha256 = hashlib.sha256(data).hexdigest()
    if session.get(StoredFile, sha256) is None:
        session.add(StoredFile(sha256=sha256, size=len(data), content=data))
        session.flush()
    return sha256


def _describe_same_file(outcome_data: dict[str, Any], earlier: ImportBatch | None) -> None:
    if earlier is None:
        return
    outcome_data["same_file_as_batch"] = earlier.id
    outcome_data["same_file_status"] = earlier.status
    when = earlier.committed_at or earlier.created_at
    outcome_data["same_file_message"] = (
        f"同一文件已于 {when:%Y-%m-%d %H:%M} 上传过（批次 {earlier.id}，"
        f"{STATUS_LABELS.get(earlier.status, earlier.status)}）。"
    )


def _store_outcome(batch: ImportBatch, diff: LedgerDiff, data: dict[str, Any]) -> None:
    batch.counts = data["counts"] | {"not_in_file": data["not_in_file"]}
    batch.sheets = sheets_json(diff.parsed)
    batch.issues = data["issues"]
    batch.ignored_columns = sorted({c for s in diff.parsed.sheets for c in s.ignored_columns})


def preview(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    user_id: int | None,
    township_code: str | None,
    config: Config,
    today: date | None = None,
    progress: Progress | None = None,
) -> tuple[ImportBatch, dict[str, Any]]:
    """Read and judge a ledger, keep the file and the outcome; write no household.

    A refused file (``LedgerRejected``) raises before anything is stored.
    """
    batch, result, _ = preview_parsed(
        session,
        data,
        file_name,
        user_id=user_id,
        township_code=township_code,
        config=config,
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
    today: date | None = None,
    progress: Progress | None = None,
) -> tuple[ImportBatch, dict[str, Any], Any]:
    """``preview`` that also returns the ParsedLedger, for a commit in the same process."""
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
    diff = diff_ledger(session, parsed, township_code=township_code)
    sha256 = _store_file(session, data)
    file_township = _township(session, _file_township(diff))
    batch = ImportBatch(
        kind="ledger",
        township_id=file_township.id if file_township else None,
        user_id=user_id,
        file_name=file_name,
        sha256=sha256,
        size=len(data),
        status="preview",
    )
    session.add(batch)
    session.flush()
    result = outcome(diff)
    result["township"] = file_township.code if file_township else None
    _store_outcome(batch, diff, result)
    result = {"batch": batch.id, "status": batch.status, **result}
    _describe_same_file(result, _earlier_batch(session, sha256, batch.id))
    audit(
        session,
        "import_preview",
        user=_user(session, user_id),
        target=f"batch:{batch.id}",
        detail={"file": file_name, "sha256": sha256, "counts": result["counts"]},
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
        label = STATUS_LABELS.get(batch.status, batch.status)
        raise Refused(f"导入批次 {batch_id} 当前状态为“{label}”，不能执行此操作。")
    return batch


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
    file in this process) is given; the diff is always made afresh.
    """
    found = session.get(ImportBatch, batch_id)
    if found is None:
        raise NotFound(f"导入批次 {batch_id} 不存在：用 heating batches list 查看批次。")
    if found.status != "preview":
        label = STATUS_LABELS.get(found.status, found.status)
        raise Refused(f"导入批次 {batch_id} 当前状态为“{label}”，只有预览中的批次可以提交。")
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
    batch = _lock_batch(session, batch_id, "preview")
    diff = diff_ledger(session, parsed, township_code=township_code)
    if diff.rejected and not accept_valid:
        errors = diff.counts()["errors"]
        raise Refused(
            f"台账有 {len(diff.rejected)} 行错误（共 {errors} 处），未写入任何数据。"
            "请按预览中的问题清单修改后重新上传；或选择“只导入无误的行”"
            "（命令行 --accept-valid），错误行将保存在批次记录中。",
            detail=outcome(diff),
        )
    when = recorded_at or utcnow()
    _write_new(session, diff, batch.id, user_id, when)
    _write_updates(session, diff, batch.id, user_id, when)

    result = outcome(diff)
    result["township"] = township_code or (
        _file_township(diff) if not found.township else found.township.code
    )
    _store_outcome(batch, diff, result)
    batch.status = "committed"
    batch.committed_at = when
    batch.accept_valid = accept_valid
    batch.rejected_rows = rejected_rows_json(diff.rejected)
    if batch.user_id is None:
        batch.user_id = user_id
    session.flush()
    result = {"batch": batch.id, "status": batch.status, **result}
    audit(
        session,
        "import_commit",
        user=_user(session, user_id),
        target=f"batch:{batch.id}",
        detail={"accept_valid": accept_valid, "counts": result["counts"]},
    )
    return batch, result


_BLANK_HOUSEHOLD: dict[str, Any] = dict.fromkeys(HOUSEHOLD_FIELDS)


def _new_household_row(change: Any, batch_id: int, salt: str, when: datetime) -> dict[str, Any]:
    row = change.row
    values = _BLANK_HOUSEHOLD.copy()
    fields = change.typed()
    values.update(fields)
    values.update(
        village_id=row.village_id,
        key=row.key,
        key_kind=row.key_kind,
        id_hash=id_hash_for(fields, salt),
        active=True,
        extra=row.extra or None,
        created_batch_id=batch_id,
        updated_batch_id=batch_id,
        updated_at=when,
    )
    return values


def _version_row(
    household_id: int,
    change: str,
    before: dict[str, Any] | None,
    after_state: dict[str, Any],
    *,
    batch_id: int | None,
    user_id: int | None,
    when: datetime,
) -> dict[str, Any]:
    return {
        "household_id": household_id,
        "batch_id": batch_id,
        "user_id": user_id,
        "recorded_at": when,
        "change": change,
        "village_id": after_state["village_id"],
        "active": bool(after_state["active"]),
        "status": after_state["status"],
        "operation": after_state.get("operation"),
        "before": before,
        "after": snapshot_of(after_state),
    }


def _memoised(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    cache: dict[Any, Any] = {}

    def convert(value: Any) -> Any:
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = proc(value)
            return result

    return convert


def _none_once(proc: Callable[[Any], Any]) -> Callable[[Any], Any]:
    null = proc(None)

    def convert(value: Any) -> Any:
        return null if value is None else proc(value)

    return convert


def _executemany(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows with one driver-level executemany.

    The same statement and the same bind processors SQLAlchemy would use
    (``TypeEngine.bind_processor``), applied here once per value instead of
    through the per-row parameter machinery, which costs more than the
    insert itself at 100k rows.  Every row must carry every key of the first.
    """
    if not rows:
        return
    dialect = connection.dialect
    keys = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=keys)
    order = list(compiled.positiontup) if compiled.positional else keys
    converters = []
    for index, name in enumerate(order):
        col_type = table.c[name].type
        proc = col_type.dialect_impl(dialect).bind_processor(dialect)
        if proc is not None:
            if isinstance(col_type, Date | DateTime):
                proc = _memoised(proc)  # the same few dates on every row
            elif isinstance(col_type, JSON):
                proc = _none_once(proc)  # "before" of a new household, empty "extra"
            converters.append((index, proc))
    getter = itemgetter(*order)
    params: list[Any] = []
    for row in rows:
        values = list(getter(row)) if len(order) > 1 else [row[order[0]]]
        for index, proc in converters:
            values[index] = proc(values[index])
        params.append(
            tuple(values) if compiled.positional else dict(zip(order, values, strict=True))
        )
    connection.exec_driver_sql(str(compiled), params)


def _allocate_ids(session: Session, count: int) -> list[int]:
    """Household ids for ``count`` new rows, taken before inserting.

    Inserting with known ids lets one plain executemany write the households
    and another their versions (SQLite cannot return ids of a multi-row
    insert in order, so RETURNING would fall back to one statement per row).
    On SQLite this runs under the write lock taken by ``_lock_batch``; on
    PostgreSQL the ids come from the table's own sequence, so concurrent
    commits never collide.
    """
    if count == 0:
        return []
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        rows = session.execute(
            text(
                "SELECT nextval(pg_get_serial_sequence('households', 'id')) "
                "FROM generate_series(1, :n)"
            ),
            {"n": count},
        ).scalars()
        return sorted(rows)
    start = session.scalar(select(func.coalesce(func.max(_HOUSEHOLDS.c.id), 0))) + 1
    return list(range(start, start + count))


def _write_new(
    session: Session, diff: LedgerDiff, batch_id: int, user_id: int | None, when: datetime
) -> None:
    """Insert the new households in bulk with pre-allocated ids, then their versions."""
    created = [c for c in diff.changes if c.kind == "new" and c.household_id is None]
    ids = _allocate_ids(session, len(created))
    connection = session.connection()
    for start in range(0, len(created), CHUNK):
        part = created[start : start + CHUNK]
        rows = []
        versions = []
        for change, hid in zip(part, ids[start : start + CHUNK], strict=True):
            change.household_id = hid
            row = _new_household_row(change, batch_id, diff.id_salt, when)
            row["id"] = hid
            rows.append(row)
            versions.append(
                _version_row(
                    hid, "create", None, row, batch_id=batch_id, user_id=user_id, when=when
                )
            )
        _executemany(connection, _HOUSEHOLDS, rows)
        _executemany(connection, _VERSIONS, versions)


def _write_updates(
    session: Session, diff: LedgerDiff, batch_id: int, user_id: int | None, when: datetime
) -> None:
    """Apply changed fields (and reactivations) by primary key; one version per household."""
    changed = [c for c in diff.changes if c.changes]
    for start in range(0, len(changed), CHUNK):
        part = changed[start : start + CHUNK]
        missing = [c.household_id for c in part if c.before is None]
        states = load_states(session, missing) if missing else {}
        params: dict[frozenset[str], list[dict[str, Any]]] = {}
        versions = []
        for c in part:
            before = c.before if c.before is not None else states[c.household_id]
            after = dict(before) | c.changes
            values = dict(c.changes)
            if "id_number" in values:
                values["id_hash"] = id_hash_for(values, diff.id_salt)
            extra = c.row.extra
            if extra:
                values["extra"] = (before.get("extra") or {}) | extra
            values.update(updated_batch_id=batch_id, updated_at=when)
            params.setdefault(frozenset(values), []).append({"hid": c.household_id, **values})
            versions.append(
                _version_row(
                    c.household_id,
                    "update",
                    snapshot_of(before),
                    after,
                    batch_id=batch_id,
                    user_id=user_id,
                    when=when,
                )
            )
        for keys, rows in params.items():
            _bulk_update(session, keys, rows)
        _executemany(session.connection(), _VERSIONS, versions)


def _bulk_update(session: Session, keys: frozenset[str], rows: list[dict[str, Any]]) -> None:
    # Bind names must differ from the column names in an UPDATE … SET.
    stmt = (
        update(_HOUSEHOLDS)
        .where(_HOUSEHOLDS.c.id == bindparam("hid"))
        .values({k: bindparam("v_" + k) for k in sorted(keys)})
    )
    params = [{"hid": r["hid"], **{"v_" + k: r[k] for k in keys}} for r in rows]
    session.connection().execute(stmt, params)


# --------------------------------------------------------------------------
# Rollback and cancel
# --------------------------------------------------------------------------


def _later_change(session: Session, batch_id: int) -> tuple[Any, int] | None:
    """The first change after this batch to one of its households, by a batch still in force."""
    mine = aliased(HouseholdVersion)
    later = aliased(HouseholdVersion)
    last_own = (
        select(func.max(mine.id))
        .where(mine.batch_id == batch_id, mine.change.in_(("create", "update")))
        .scalar_subquery()
    )
    households = select(mine.household_id).where(mine.batch_id == batch_id)
    query = (
        select(later.id, later.batch_id, later.recorded_at, later.change, later.household_id)
        .outerjoin(ImportBatch, ImportBatch.id == later.batch_id)
        .where(
            later.household_id.in_(households),
            later.id > last_own,
            (later.batch_id.is_(None)) | (ImportBatch.status != "rolled_back"),
            (later.batch_id.is_(None)) | (later.batch_id != batch_id),
        )
        .order_by(later.id)
    )
    first = session.execute(query.limit(1)).first()
    if first is None:
        return None
    count = session.scalar(select(func.count(func.distinct(query.subquery().c.household_id))))
    return first, int(count or 0)


def rollback(
    session: Session,
    batch_id: int,
    *,
    user_id: int | None = None,
    recorded_at: datetime | None = None,
) -> ImportBatch:
    """Restore every household the batch changed to its state before it.

    Households the batch created become inactive (kept, so history stays
    whole).  Refused, naming the later batch, when a later change that is
    still in force touched the same households.
    """
    batch = _lock_batch(session, batch_id, "committed")
    if batch.kind != "ledger":
        raise Refused(f"批次 {batch_id} 不是台账导入批次（{batch.kind}），不能撤销。")
    later = _later_change(session, batch_id)
    if later is not None:
        first, count = later
        when = f"{first.recorded_at:%Y-%m-%d %H:%M}"
        if first.batch_id is not None:
            raise Refused(
                f"不能撤销批次 {batch_id}：之后的批次 {first.batch_id}（{when} 提交）又修改了"
                f"其中 {count} 户。请先撤销批次 {first.batch_id}，再撤销批次 {batch_id}。",
                detail={"later_batch": first.batch_id, "recorded_at": when},
            )
        raise Refused(
            f"不能撤销批次 {batch_id}：{when} 之后又有人工修改涉及其中 {count} 户。"
            "请先核对这些修改。",
            detail={"later_batch": None, "recorded_at": when},
        )
    when = recorded_at or utcnow()
    own = session.execute(
        select(HouseholdVersion.household_id, HouseholdVersion.before)
        .where(
            HouseholdVersion.batch_id == batch_id,
            HouseholdVersion.change.in_(("create", "update")),
        )
        .order_by(HouseholdVersion.id)
    ).all()
    first_before: dict[int, dict[str, Any] | None] = {}
    for hid, before in own:
        first_before.setdefault(hid, before)
    ids = list(first_before)
    restored = 0
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        states = load_states(session, part)
        params: dict[frozenset[str], list[dict[str, Any]]] = {}
        versions = []
        for hid in part:
            current = states[hid]
            before = first_before[hid]
            if before is None:
                values: dict[str, Any] = {"active": False}
            else:
                target = state_from_snapshot(before)
                values = {k: v for k, v in target.items() if current.get(k) != v}
            values["updated_at"] = when
            after = dict(current) | values
            params.setdefault(frozenset(values), []).append({"hid": hid, **values})
            versions.append(
                _version_row(
                    hid,
                    "rollback",
                    snapshot_of(current),
                    after,
                    batch_id=batch_id,
                    user_id=user_id,
                    when=when,
                )
            )
            restored += 1
        for keys, rows in params.items():
            _bulk_update(session, keys, rows)
        if versions:
            _executemany(session.connection(), _VERSIONS, versions)
    batch.status = "rolled_back"
    batch.rolled_back_at = when
    session.flush()
    audit(
        session,
        "import_rollback",
        user=_user(session, user_id),
        target=f"batch:{batch_id}",
        detail={"households": restored},
    )
    return batch


def cancel(session: Session, batch_id: int, *, user_id: int | None = None) -> ImportBatch:
    """Drop a preview that will not be committed (the stored file stays)."""
    batch = _lock_batch(session, batch_id, "preview")
    batch.status = "cancelled"
    session.flush()
    audit(session, "import_cancel", user=_user(session, user_id), target=f"batch:{batch_id}")
    return batch


# --------------------------------------------------------------------------
# History
# --------------------------------------------------------------------------


def list_batches(session: Session, township_code: str | None = None) -> list[ImportBatch]:
    """Ledger batches, newest first; only one township's when a code is given."""
    query = select(ImportBatch).where(ImportBatch.kind == "ledger").order_by(ImportBatch.id.desc())
    if township_code:
        query = query.join(Township, Township.id == ImportBatch.township_id).where(
            Township.code == township_code
        )
    return list(session.scalars(query))


def batch_json(batch: ImportBatch) -> dict[str, Any]:
    """One batch for ``heating batches list --json`` and the history page."""
    return {
        "id": batch.id,
        "file": batch.file_name,
        "sha256": batch.sha256,
        "township": batch.township.code if batch.township else None,
        "township_name": batch.township.name if batch.township else None,
        "status": batch.status,
        "status_label": STATUS_LABELS.get(batch.status, batch.status),
        "accept_valid": bool(batch.accept_valid),
        "user": batch.user.username if batch.user else None,
        "created_at": to_json_value(batch.created_at),
        "committed_at": to_json_value(batch.committed_at),
        "rolled_back_at": to_json_value(batch.rolled_back_at),
        "counts": batch.counts or {},
    }
