"""Compare a parsed ledger with the stored households: new, updated, unchanged.

The diff is the step between validation and commit.  It reads the stored
households of the townships the file touches in bulk (a light query for the
keys, then the full rows of the matched households in chunks), so a 100k-row
ledger costs a handful of queries, never one per row.

"A blank optional cell never erases a stored value": only the fields present
in a row's ``values`` are compared and applied.  Households of the township
that the file does not mention are listed (``not_in_file``), never deleted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.db import get_meta
from heating.history import (
    FIELD_KINDS,
    chunks,
    current_states,
    present_as_of,
    shows_state_at,
    states_as_of,
    to_column_value,
)
from heating.households import id_hash
from heating.models import (
    CLEAN_STATUSES,
    NOT_CLEAN_YET,
    STATUS_LABELS,
    Household,
    Township,
    Village,
)
from imports.issues import Problem
from imports.parsed import gc_paused

NOT_IN_FILE_LISTED = 1000
_TABLE = Household.__table__
# The Python type a cleaned value already has when it needs no conversion
# (decimals are always re-rounded to cents, so they have no entry that matches).
_READY: dict[str, type] = {
    f: {"str": str, "int": int, "float": float, "date": date, "decimal": type(None)}[k]
    for f, k in FIELD_KINDS.items()
}
COMPLETION_FIELDS = ("completed_on", "completed_on_precision", "accepted_on")


def row_fields(values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The household fields a ledger row gives (blank cells are absent), typed for the columns.

    ``values`` is a mapping or (field, value) pairs (``LedgerRow.items()``,
    which spares building the row's dict).
    """
    out: dict[str, Any] = {}
    # (A dict first: the ABC check of ``Mapping`` is slow on the zip of ``LedgerRow.items``.)
    pairs = (
        values.items()
        if isinstance(values, dict) or (type(values) is not zip and isinstance(values, Mapping))
        else values
    )
    for name, value in pairs:
        if value is None or value == "":
            continue
        ready = _READY.get(name)
        if ready is None:
            continue  # a place field (township, village, village_code)
        out[name] = value if type(value) is ready else to_column_value(name, value)
    if "completed_on" in out and "completed_on_precision" not in out:
        out["completed_on_precision"] = "day"
    return out


# Per tuple of field names (shared by the rows of a sheet, ``LedgerRow``): the household
# fields among them, by position, with the type a value already has when it needs no
# conversion.  Conversions of repeated cell values (subsidies, dates as text) are memoised.
_PLANS: dict[tuple[str, ...], tuple[tuple[int, str, type], ...]] = {}
_CONVERTED: dict[tuple[str, type, Any], Any] = {}
_CONVERTED_MAX = 10_000


def ledger_row_fields(row: Any) -> dict[str, Any]:
    """``row_fields`` of a ``LedgerRow``: the same dict, in the same order, made faster.

    Runs once per row of a commit (benchmarks/import_ledgers.py, issue 17): the
    row's field names are a tuple shared by its sheet's rows, so which of them
    are household fields is worked out once per tuple, not per cell.
    """
    names = row._names
    plan = _PLANS.get(names)
    if plan is None:
        plan = _PLANS[names] = tuple((i, n, _READY[n]) for i, n in enumerate(names) if n in _READY)
    data = row._data
    out: dict[str, Any] = {}
    for index, name, ready in plan:
        value = data[index]
        kind = type(value)
        # Tested by type first: ``Decimal == ""`` asks numbers.Rational (an ABC) each time.
        if value is None or (kind is str and not value):
            continue
        if kind is ready:
            out[name] = value
            continue
        # Zero is not memoised: 0.0 and -0.0 are equal keys but convert to 0.00 and -0.00.
        key = (name, kind, value)
        converted = _CONVERTED.get(key) if value else None
        if converted is None:
            converted = to_column_value(name, value)
            if value and len(_CONVERTED) < _CONVERTED_MAX:
                _CONVERTED[key] = converted
        out[name] = converted
    if "completed_on" in out and "completed_on_precision" not in out:
        out["completed_on_precision"] = "day"
    return out


@dataclass(slots=True)
class RowChange:
    """What committing one valid ledger row does to its household.

    One per valid row of a ledger that may hold a million: it keeps only
    what the commit needs (the changed fields, the state before), never a
    second copy of the row's values.  ``before`` is the household's state as
    of the ledger date (None when it had none then); ``stored`` its row when
    that differs from ``before`` (the row shows a newer ledger, or none).
    """

    row: Any  # imports.parsed.LedgerRow
    kind: str  # new / updated / unchanged
    household_id: int | None = None
    changes: dict[str, Any] | None = None  # fields to write (new and updated rows)
    before: dict[str, Any] | None = None  # state as of the ledger date (updated rows)
    stored: dict[str, Any] | None = None  # the household's row when not ``before``
    backfill: bool = False  # the version goes under newer ones: the row stays as it is

    def typed(self) -> dict[str, Any]:
        """The row's typed household fields (built on each call, not kept)."""
        return ledger_row_fields(self.row)


@dataclass
class LedgerDiff:
    """The parsed ledger compared with the database as of the ledger date."""

    parsed: Any  # imports.parsed.ParsedLedger
    township_code: str | None
    changes: list[RowChange]
    rejected: list[Any]
    not_in_file: list[dict[str, Any]]
    id_salt: str
    ledger_date: date | None = None
    # Batch id (None: demo or hand edits) → unchanged rows whose state it wrote.
    unchanged_from: Counter = field(default_factory=Counter)

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    @property
    def backfilled(self) -> int:
        """New and updated rows written under newer ledgers (history only)."""
        return sum(1 for c in self.changes if c.backfill and c.kind != "unchanged")

    def household_ids(self) -> list[int]:
        """The stored households the file's rows are keyed to."""
        return sorted({c.household_id for c in self.changes if c.household_id is not None})

    def issues(self) -> list[Any]:
        """File-level issues, then row issues in file order (capped: ``ParsedLedger.listed_issues``)."""
        return self.parsed.listed_issues()

    def counts(self) -> dict[str, int]:
        totals = self.parsed.issue_counts()
        return {
            "rows": len(self.parsed.rows),
            "new": self.count("new"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "rejected": len(self.rejected),
            "skipped": int(self.parsed.skipped),
            "warnings": totals["warning"],
            "errors": totals["error"],
        }


def is_rejected(row: Any) -> bool:
    """A row is rejected iff one of its issues is an error."""
    return any(i.severity == "error" for i in row.issues)


def _township_ids(session: Session, township_code: str | None, rows: Iterable[Any]) -> list[int]:
    codes = {r.township_code for r in rows if r.township_code}
    if township_code:
        codes.add(township_code)
    village_ids = {r.village_id for r in rows if r.village_id is not None}
    ids: set[int] = set()
    if codes:
        ids.update(session.scalars(select(Township.id).where(Township.code.in_(sorted(codes)))))
    for part in chunks(sorted(village_ids)):
        ids.update(session.scalars(select(Village.township_id).where(Village.id.in_(part))))
    return sorted(ids)


def diff_ledger(
    session: Session, parsed: Any, *, township_code: str | None, ledger_date: date
) -> LedgerDiff:
    """Classify every valid row as new / updated / unchanged as of the ledger date.

    A ledger dated L is compared with each household's state as of L
    (``heating.history``): ``new`` means the household has no state then, a
    blank optional cell inherits only from that state, and the row of a
    household whose newest ledger is later than L is left alone (the version
    only fills history).  Households of the township present as of L that the
    file does not mention are listed, never deleted.
    """
    salt = get_meta(session, "id_salt") or ""
    # (Most rows have no issue at all: no generator for them.)
    rejected = [r for r in parsed.rows if r.issues and is_rejected(r)]
    valid = [r for r in parsed.rows if not r.issues or not is_rejected(r)]

    township_ids = _township_ids(session, township_code, parsed.rows)
    # Stored households by village, then key → id (nested: no tuple per household).
    existing: dict[int, dict[str, int]] = {}
    later: set[int] = set()  # rows that do not show the state as of the ledger date
    names: dict[int, tuple[str, str]] = {}
    if township_ids:
        query = (
            select(
                _TABLE.c.id,
                _TABLE.c.village_id,
                _TABLE.c.key,
                _TABLE.c.active,
                _TABLE.c.ledger_date,
                Village.code,
                Village.name,
            )
            .join(Village, Village.id == _TABLE.c.village_id)
            .where(Village.township_id.in_(township_ids))
        )
        for hid, vid, key, active, day, vcode, vname in session.execute(query):
            keys = existing.get(vid)
            if keys is None:
                keys = existing[vid] = {}
                names[vid] = (vcode, vname)
            keys[key] = hid
            if not shows_state_at({"active": active, "ledger_date": day}, ledger_date):
                later.add(hid)

    changes: list[RowChange] = []
    matched: list[RowChange] = []
    no_keys: dict[str, int] = {}
    with gc_paused():  # one RowChange per row, no cycles (see gc_paused)
        for row in valid:
            # Typed fields are built only where they are compared; a new
            # household's are built when it is written (``RowChange.typed``).
            change = RowChange(row, "new")
            # A village without stored households (a first upload): its rows' keys are not needed.
            keys = existing.get(row.village_id)
            hid = keys.get(row.key) if keys else None
            if hid is not None:
                change.household_id = hid
                matched.append(change)
            changes.append(change)

    unchanged_from: Counter = Counter()
    for part in chunks(matched):
        ids = [c.household_id for c in part]
        stored = current_states(session, ids)
        then = states_as_of(session, [i for i in ids if i in later], ledger_date, rows=stored)
        for change in part:
            hid = change.household_id
            row = stored[hid]
            state = then[hid] if hid in later else row
            fields = ledger_row_fields(change.row)
            if hid in later:
                change.stored = row
                change.backfill = bool(row["active"])
            if state is None:
                change.changes = fields
                continue  # "new": no state as of the ledger date
            diff = {k: v for k, v in fields.items() if state.get(k) != v}
            if _regressed(change, state, fields):
                diff.update({k: None for k in COMPLETION_FIELDS if state.get(k) is not None})
                for k in COMPLETION_FIELDS:
                    if k in fields:
                        diff[k] = fields[k]
                diff = {k: v for k, v in diff.items() if state.get(k) != v}
            if diff:
                change.kind = "updated"
                change.changes = diff
                change.before = state
            else:
                change.kind = "unchanged"
                change.stored = None
                unchanged_from[state.get("updated_batch_id")] += 1
    del matched

    # Households not mentioned: by any row with a key, rejected rows included.
    mentioned: set[int] = set()
    if existing:
        for r in parsed.rows:
            if r.key and r.village_id:
                hid = existing.get(r.village_id, no_keys).get(r.key)
                if hid is not None:
                    mentioned.add(hid)
    candidates = [
        hid for keys in existing.values() for hid in keys.values() if hid not in mentioned
    ]
    present = present_as_of(session, [h for h in candidates if h in later], ledger_date)
    missing_ids = sorted(h for h in candidates if h not in later or h in present)
    not_in_file = _describe_missing(session, missing_ids, names)
    return LedgerDiff(
        parsed, township_code, changes, rejected, not_in_file, salt, ledger_date, unchanged_from
    )


def _regressed(change: RowChange, state: Mapping[str, Any], fields: Mapping[str, Any]) -> bool:
    """Warn (status_regressed) when a clean household is said to be not yet clean."""
    new_status = fields.get("status")
    if state.get("status") not in CLEAN_STATUSES or new_status not in NOT_CLEAN_YET:
        return False
    row = change.row
    if any(i.code == "status_regressed" for i in row.issues):
        return True
    cleared = [
        label
        for key, label in (("completed_on", "完工日期"), ("accepted_on", "验收日期"))
        if state.get(key) is not None and key not in fields
    ]
    who = state.get("household_no") or state.get("head_name") or ""
    day = state.get("ledger_date")
    when = f"（台账日期 {day.isoformat()}）" if isinstance(day, date) else ""
    message = (
        f"户 {who}：上一版台账{when}为“{STATUS_LABELS[state['status']]}”，"
        f"本表为“{STATUS_LABELS[new_status]}”，状态倒退，请核实。"
    )
    if cleared:
        message += f"写入后将清除{'、'.join(cleared)}（本行未填写）。"
    issue = Problem(
        "warning",
        "status_regressed",
        message,
        row.sheet,
        row.row,
        row.columns.get("status"),
        "status",
        STATUS_LABELS[new_status],
    )
    row.issues = [*row.issues, issue]
    return True


def _describe_missing(
    session: Session, ids: list[int], names: dict[int, tuple[str, str]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    listed = set(ids[:NOT_IN_FILE_LISTED])
    details: dict[int, Any] = {}
    for part in chunks(sorted(listed)):
        q = select(
            _TABLE.c.id,
            _TABLE.c.village_id,
            _TABLE.c.household_no,
            _TABLE.c.head_name,
            _TABLE.c.status,
        ).where(_TABLE.c.id.in_(part))
        for row in session.execute(q):
            details[row.id] = row
    for hid in ids:
        item: dict[str, Any] = {"household": hid}
        row = details.get(hid)
        if row is not None:
            vcode, vname = names.get(row.village_id, (None, None))
            item.update(
                village_code=vcode,
                village=vname,
                household_no=row.household_no,
                head_name=row.head_name,
                status=row.status,
            )
        out.append(item)
    return out


def id_hash_for(fields: dict[str, Any], salt: str) -> str | None:
    number = fields.get("id_number")
    return id_hash(number, salt) if number else None
