"""Writing history: new households, versions, back-fills, retractions.

Every version the tracker stores is written here (see ``heating.history``),
except the demo's whole histories, written at once by
``heating.history.whole_histories`` with this module's ``version_row``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Table,
    bindparam,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, aliased

from heating import sealing
from heating.history.asof import current_states, live, shows_state_at, states_as_of
from heating.history.bulk import allocate_ids, bulk_insert
from heating.history.json_templates import dump_new_state
from heating.history.values import (
    BLANK_STATE,
    CHUNK,
    chunks,
    counted,
    dump_json,
    dump_snapshot,
    field_values,
    fields_json,
    state_from_json,
    state_json,
)
from heating.models import (
    HOUSEHOLD_FIELDS,
    Household,
    HouseholdVersion,
)
from heating.sealing import SEALED_FIELDS

HOUSEHOLDS: Table = Household.__table__  # type: ignore[assignment]
VERSIONS: Table = HouseholdVersion.__table__  # type: ignore[assignment]

VERSION_COLUMNS = (
    "id",
    "household_id",
    "batch_id",
    "user_id",
    "ledger_date",
    "recorded_at",
    "retracted_at",
    "change",
    "village_id",
    "active",
    "status",
    "operation",
    "prev_village_id",
    "prev_status",
    "prev_operation",
    "before",
    "after",
)
HOUSEHOLD_COLUMNS = (
    "id",
    "village_id",
    "key",
    "key_kind",
    "id_hash",
    "active",
    *HOUSEHOLD_FIELDS,
    "extra",
    "created_batch_id",
    "updated_batch_id",
    "updated_at",
    "ledger_date",
)


@dataclass(frozen=True)
class Stamp:
    """Who and when a set of versions is written: one ledger date, one recorded time."""

    ledger_date: date
    recorded_at: datetime
    batch_id: int | None = None
    user_id: int | None = None


def version_row(
    vid: int,
    household_id: int,
    change: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    stamp: Stamp,
    *,
    before_json: str | None = None,
    after_json: str | None = None,
    retracted_at: datetime | None = None,
) -> tuple[Any, ...]:
    """One ``household_versions`` row, in ``VERSION_COLUMNS`` order (JSON given or dumped here)."""
    pv, ps, po = counted(before)
    if before_json is None and before is not None:
        before_json = dump_snapshot(state_json(before))
    return (
        vid,
        household_id,
        stamp.batch_id,
        stamp.user_id,
        stamp.ledger_date,
        stamp.recorded_at,
        retracted_at,
        change,
        after["village_id"],
        bool(after["active"]),
        after["status"],
        after.get("operation"),
        pv,
        ps,
        po,
        before_json,
        after_json if after_json is not None else dump_snapshot(state_json(after)),
    )


def add_households(session: Session, rows: Sequence[dict[str, Any]], stamp: Stamp) -> list[int]:
    """Insert new households and their first versions in bulk; return their ids.

    Each row holds the identity columns (village_id, key, key_kind, id_hash,
    extra) and every household field; the households written are current
    (nothing else counts for them).  Written for speed (a 100k-row ledger of
    new households runs this loop 100k times: benchmarks/import_ledgers.py,
    issue 17): each household's field values are taken once, as one tuple,
    for its row and its version's JSON.
    """
    hids = allocate_ids(session, HOUSEHOLDS, len(rows))
    vids = allocate_ids(session, VERSIONS, len(rows))
    # ID number and phone sealed once per household: the row's column and the version's
    # JSON take the same sealed text (sealing a sealed value leaves it as it is).
    seal = ring.text_sealer() if (ring := sealing.active_or_none()) is not None else None
    # Without a key the version's JSON goes through dump_snapshot, which refuses personal data.
    dump_after = dump_json if seal is not None else dump_snapshot
    sealed = frozenset(SEALED_FIELDS) if seal is not None else frozenset()
    batch_id, day, when = stamp.batch_id, stamp.ledger_date, stamp.recorded_at
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        households = []
        versions = []
        for row, hid, vid in zip(part, hids[start:], vids[start:], strict=False):
            given = tuple(row)  # every other field is None (BLANK_STATE)
            state = BLANK_STATE | row
            if seal is not None:
                for name in SEALED_FIELDS:
                    value = state[name]
                    if value is not None and value != "":  # as SealedText would
                        state[name] = seal(value if type(value) is str else str(value))
            values = field_values(state)
            village_id = state["village_id"]
            extra = state.get("extra")
            households.append(
                (
                    hid,
                    village_id,
                    state["key"],
                    state["key_kind"],
                    state.get("id_hash"),
                    True,
                    *values,
                    dump_json(extra) if extra else None,
                    batch_id,
                    batch_id,
                    when,
                    day,
                )
            )
            after_json = dump_new_state(given, values, village_id) if seal is not None else None
            if after_json is None:
                after_json = dump_after(fields_json(values, village_id, True))
            # As version_row writes a "create" (no before, nothing counted before it).
            versions.append(
                (
                    vid,
                    hid,
                    batch_id,
                    stamp.user_id,
                    day,
                    when,
                    None,
                    "create",
                    village_id,
                    True,
                    state["status"],
                    state["operation"],
                    None,
                    None,
                    None,
                    None,
                    after_json,
                )
            )
        # Sealed above: their bind processor would only find them sealed already.
        bulk_insert(session, HOUSEHOLDS, HOUSEHOLD_COLUMNS, households, ready=sealed)
        bulk_insert(session, VERSIONS, VERSION_COLUMNS, versions)
    return hids


@dataclass(slots=True)
class Change:
    """One version to write for an existing household.

    ``row`` is its ``current_states`` row; ``before`` its state as of the
    stamp's ledger date (None when it had none then); ``after`` the full state
    the version records; ``row_values`` households-only columns (``extra``,
    ``id_hash``) to set when the version becomes the current one.
    """

    household_id: int
    row: dict[str, Any]
    before: dict[str, Any] | None
    after: dict[str, Any]
    row_values: dict[str, Any] = field(default_factory=dict)
    kind: str = "update"


def add_versions(session: Session, changes: Sequence[Change], stamp: Stamp) -> int:
    """Write one version per change; move the rows it makes current; return back-fills.

    A version becomes current when nothing newer counts for its household
    (its row shows a state dated on or before the stamp's ledger date, or the
    household has no state at all): the row takes its values.  Otherwise it
    back-fills history: the row stays, and the next version's predecessor is
    relinked (``settle``).
    """
    vids = allocate_ids(session, VERSIONS, len(changes))
    backfilled: list[int] = []
    for start in range(0, len(changes), CHUNK):
        part = changes[start : start + CHUNK]
        versions = []
        updates: dict[frozenset[str], list[dict[str, Any]]] = {}
        for change, vid in zip(part, vids[start:], strict=False):
            row = change.row
            current = not row["active"] or shows_state_at(row, stamp.ledger_date)
            versions.append(
                version_row(
                    vid, change.household_id, change.kind, change.before, change.after, stamp
                )
            )
            if not current:
                backfilled.append(change.household_id)
                continue
            values = {
                k: v
                for k, v in change.after.items()
                if k in HOUSEHOLDS.c and k != "id" and row.get(k) != v
            }
            values.update(change.row_values)
            values.update(
                active=True, updated_batch_id=stamp.batch_id, updated_at=stamp.recorded_at
            )
            values["ledger_date"] = stamp.ledger_date
            updates.setdefault(frozenset(values), []).append({"hid": change.household_id, **values})
        for keys, params in updates.items():
            _update_rows(session, keys, params)
        bulk_insert(session, VERSIONS, VERSION_COLUMNS, versions)
    if backfilled:
        settle(session, backfilled, rows=False)
    return len(backfilled)


def _update_rows(session: Session, keys: frozenset[str], params: list[dict[str, Any]]) -> None:
    """UPDATE households by primary key, one executemany per set of columns."""
    # Bind names must differ from the column names in an UPDATE … SET.
    stmt = (
        update(HOUSEHOLDS)
        .where(HOUSEHOLDS.c.id == bindparam("hid"))
        .values({k: bindparam("v_" + k) for k in sorted(keys)})
    )
    session.connection().execute(
        stmt, [{"hid": p["hid"], **{"v_" + k: p[k] for k in keys}} for p in params]
    )


def settle(session: Session, household_ids: Iterable[int], *, rows: bool = True) -> None:
    """Re-derive what follows from the versions that count, for these households.

    Each counting version's ``prev_*`` becomes its predecessor's counted
    state; with ``rows``, each household's row becomes its newest counting
    version (inactive when none counts).  Used after a back-fill (a version
    inserted before others) and a rollback (versions retracted).
    """
    v = VERSIONS.c
    ids = sorted(set(household_ids))
    for part in chunks(ids):
        found = session.execute(
            select(
                v.id,
                v.household_id,
                v.village_id,
                v.active,
                v.status,
                v.operation,
                v.prev_village_id,
                v.prev_status,
                v.prev_operation,
                v.batch_id,
                v.ledger_date,
                v.recorded_at,
            )
            .where(v.household_id.in_(part), live())
            .order_by(v.household_id, v.ledger_date, v.recorded_at, v.id)
        ).all()
        relinks = []
        newest: dict[int, Any] = {}
        previous: Any = None
        for version in found:
            if previous is None or previous.household_id != version.household_id:
                expected = (None, None, None)
            elif previous.active:
                expected = (previous.village_id, previous.status, previous.operation)
            else:
                expected = (None, None, None)
            stored = (version.prev_village_id, version.prev_status, version.prev_operation)
            if stored != expected:
                relinks.append(
                    {"vid": version.id, "pv": expected[0], "ps": expected[1], "po": expected[2]}
                )
            newest[version.household_id] = version
            previous = version
        if relinks:
            session.connection().execute(
                update(VERSIONS)
                .where(VERSIONS.c.id == bindparam("vid"))
                .values(
                    prev_village_id=bindparam("pv"),
                    prev_status=bindparam("ps"),
                    prev_operation=bindparam("po"),
                ),
                relinks,
            )
        if rows:
            _settle_rows(session, part, newest)


def _settle_rows(session: Session, ids: Sequence[int], newest: Mapping[int, Any]) -> None:
    afters = dict(
        session.execute(
            select(VERSIONS.c.id, VERSIONS.c.after).where(
                VERSIONS.c.id.in_([n.id for n in newest.values()])
            )
        ).all()
    )
    current = current_states(session, ids)
    updates: dict[frozenset[str], list[dict[str, Any]]] = {}
    for hid in ids:
        row = current.get(hid)
        if row is None:
            continue
        version = newest.get(hid)
        if version is None:
            values: dict[str, Any] = {"active": False} if row["active"] else {}
        else:
            state = state_from_json(afters[version.id])
            values = {k: v for k, v in state.items() if row.get(k) != v}
            if row["ledger_date"] != version.ledger_date:
                values["ledger_date"] = version.ledger_date
            if values:
                values.update(updated_batch_id=version.batch_id, updated_at=version.recorded_at)
        if values:
            updates.setdefault(frozenset(values), []).append({"hid": hid, **values})
    for keys, params in updates.items():
        _update_rows(session, keys, params)


def later_in_force(session: Session, batch_id: int) -> list[Any]:
    """Versions that count and follow one of the batch's own, written after it.

    For each household the batch wrote: the counting versions of other
    batches (or hand edits) that come after the batch's version in ledger
    order — a later ledger date, or the same date recorded later — and were
    recorded after it, so they were merged on top of its values.  Rows:
    (batch_id, recorded_at, household_id), oldest first.
    """
    mine = aliased(HouseholdVersion, name="mine")
    later = aliased(HouseholdVersion, name="later")
    return list(
        session.execute(
            select(later.batch_id, later.recorded_at, later.household_id)
            .join(mine, mine.household_id == later.household_id)
            .where(
                mine.batch_id == batch_id,
                mine.retracted_at.is_(None),
                later.retracted_at.is_(None),
                or_(later.batch_id.is_(None), later.batch_id != batch_id),
                later.recorded_at > mine.recorded_at,
                later.ledger_date >= mine.ledger_date,
            )
            .order_by(later.recorded_at, later.id)
        ).all()
    )


def retract(session: Session, batch_id: int, stamp: Stamp) -> int:
    """Undo a batch: its versions stop counting; each household gets a rollback record.

    The record carries the batch's ledger date (``stamp``) and, as before and
    after, the household's state as of that date with and without the batch
    (inactive when nothing else counts then); it never counts itself.  Rows
    become each household's newest counting version.  Returns the number of
    households.  The caller checks ``later_in_force`` first.
    """
    v = VERSIONS.c
    day = stamp.ledger_date
    when = stamp.recorded_at
    ids = sorted(set(session.scalars(select(v.household_id).where(v.batch_id == batch_id, live()))))
    for part in chunks(ids):
        before = states_as_of(session, part, day)
        session.connection().execute(
            update(VERSIONS)
            .where(v.batch_id == batch_id, v.household_id.in_(part), live())
            .values(retracted_at=when)
        )
        settle(session, part, rows=True)
        rows = current_states(session, part)
        after = states_as_of(session, part, day, rows=rows)
        vids = allocate_ids(session, VERSIONS, len(part))
        versions = []
        for vid, hid in zip(vids, part, strict=True):
            old = before[hid] or rows[hid]
            new = after[hid] or {**old, "active": False}
            versions.append(
                version_row(vid, hid, "rollback", before[hid], new, stamp, retracted_at=when)
            )
        bulk_insert(session, VERSIONS, VERSION_COLUMNS, versions)
    return len(ids)
