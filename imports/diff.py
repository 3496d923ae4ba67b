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

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from sqlalchemy import Date, Float, Integer, Numeric, select
from sqlalchemy.orm import Session

from heating.db import get_meta
from heating.households import id_hash, to_json_value
from heating.models import HOUSEHOLD_FIELDS, Household, Township, Village
from heating.privacy import mask_field

CHUNK = 5000
NOT_IN_FILE_LISTED = 1000
CENT = Decimal("0.01")

# Columns read back to compare with a row and to snapshot the state before a change.
STATE_COLUMNS = ("id", "village_id", "key", "key_kind", "id_hash", "active", "extra")
_TABLE = Household.__table__


def _column_kind(name: str) -> str:
    col_type = _TABLE.c[name].type
    if isinstance(col_type, Numeric) and not isinstance(col_type, Float):
        return "decimal"
    if isinstance(col_type, Integer):
        return "int"
    if isinstance(col_type, Date):
        return "date"
    if isinstance(col_type, Float):
        return "float"
    return "str"


FIELD_KINDS: dict[str, str] = {name: _column_kind(name) for name in HOUSEHOLD_FIELDS}
FIELD_KINDS.update(lon="float", lat="float")
# The Python type a cleaned value already has when it needs no conversion
# (decimals are always re-rounded to cents, so they have no entry that matches).
_READY: dict[str, type] = {
    f: {"str": str, "int": int, "float": float, "date": date, "decimal": type(None)}[k]
    for f, k in FIELD_KINDS.items()
}


def to_column_value(name: str, value: Any) -> Any:
    """Turn a cleaned cell value (or a JSON snapshot value) into the column's Python type.

    Decimals are rounded to cents so that a stored 300.00 and a ledger's 300
    compare equal on both databases.
    """
    if value is None:
        return None
    kind = FIELD_KINDS.get(name, "str")
    if kind == "decimal":
        try:
            return Decimal(str(value)).quantize(CENT)
        except InvalidOperation:
            return None
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    if kind == "date":
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        return date.fromisoformat(str(value)[:10])
    return str(value)


def row_fields(values: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The household fields a ledger row gives (blank cells are absent), typed for the columns.

    ``values`` is a mapping or (field, value) pairs (``LedgerRow.items()``,
    which spares building the row's dict).
    """
    out: dict[str, Any] = {}
    pairs = values.items() if isinstance(values, Mapping) else values
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


# Fields whose Python values are not JSON-safe as they are (dates, decimals).
_CONVERTED = frozenset(f for f, k in FIELD_KINDS.items() if k in ("date", "decimal"))


_SNAPSHOT_GETTER = itemgetter(*HOUSEHOLD_FIELDS)


def snapshot_of(state: dict[str, Any]) -> dict[str, Any]:
    """The same JSON shape as ``heating.households.snapshot`` built from a plain mapping.

    Written for speed (it runs once per household of a 100k-row commit): only
    dates and decimals need converting, exactly as ``to_json_value`` does.
    ``state`` must hold every household field (None where empty).
    """
    data = dict(zip(HOUSEHOLD_FIELDS, _SNAPSHOT_GETTER(state), strict=True))
    for f in _CONVERTED:
        value = data[f]
        if value is not None:
            data[f] = to_json_value(value)
    data["village_id"] = state["village_id"]
    data["active"] = bool(state["active"])
    return data


def state_from_snapshot(snap: dict[str, Any]) -> dict[str, Any]:
    """Column values from a version's JSON snapshot (the inverse of ``snapshot_of``)."""
    state = {f: to_column_value(f, snap.get(f)) for f in HOUSEHOLD_FIELDS}
    state["village_id"] = int(snap["village_id"])
    state["active"] = bool(snap.get("active", True))
    return state


@dataclass(slots=True)
class RowChange:
    """What committing one valid ledger row does to its household.

    One per valid row of a ledger that may hold a million: it keeps only
    what the commit needs (the changed fields, the state before an update),
    never a second copy of the row's values.
    """

    row: Any  # imports.pipeline.LedgerRow
    kind: str  # new / updated / unchanged
    household_id: int | None = None
    changes: dict[str, Any] | None = None  # fields to write (updated or reactivated rows)
    before: dict[str, Any] | None = None  # full stored state (updated rows only)

    def typed(self) -> dict[str, Any]:
        """The row's typed household fields (built on each call, not kept)."""
        return row_fields(self.row.items())


@dataclass
class LedgerDiff:
    """The parsed ledger compared with the database."""

    parsed: Any  # imports.pipeline.ParsedLedger
    township_code: str | None
    changes: list[RowChange]
    rejected: list[Any]
    not_in_file: list[dict[str, Any]]
    id_salt: str

    def count(self, kind: str) -> int:
        return sum(1 for c in self.changes if c.kind == kind)

    def issues(self) -> list[Any]:
        """File-level issues and every row's issues, each once, in file order."""
        seen: set[int] = set()
        out = []
        for issue in self.parsed.issues:
            seen.add(id(issue))
            out.append(issue)
        for row in self.parsed.rows:
            for issue in row.issues:
                if id(issue) not in seen:
                    seen.add(id(issue))
                    out.append(issue)
        return out

    def counts(self) -> dict[str, int]:
        issues = self.issues()
        return {
            "rows": len(self.parsed.rows),
            "new": self.count("new"),
            "updated": self.count("updated"),
            "unchanged": self.count("unchanged"),
            "rejected": len(self.rejected),
            "skipped": int(self.parsed.skipped),
            "warnings": sum(1 for i in issues if i.severity == "warning"),
            "errors": sum(1 for i in issues if i.severity == "error"),
        }


def is_rejected(row: Any) -> bool:
    """A row is rejected iff one of its issues is an error."""
    return any(i.severity == "error" for i in row.issues)


def _chunks(items: list[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _township_ids(session: Session, township_code: str | None, rows: Iterable[Any]) -> list[int]:
    codes = {r.township_code for r in rows if r.township_code}
    if township_code:
        codes.add(township_code)
    village_ids = {r.village_id for r in rows if r.village_id is not None}
    ids: set[int] = set()
    if codes:
        ids.update(session.scalars(select(Township.id).where(Township.code.in_(sorted(codes)))))
    for part in _chunks(sorted(village_ids)):
        ids.update(session.scalars(select(Village.township_id).where(Village.id.in_(part))))
    return sorted(ids)


def load_states(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Full stored state of these households, by id (queried in chunks)."""
    cols = [_TABLE.c[name] for name in (*STATE_COLUMNS, *HOUSEHOLD_FIELDS)]
    out: dict[int, dict[str, Any]] = {}
    for part in _chunks(ids):
        for row in session.execute(select(*cols).where(_TABLE.c.id.in_(part))).mappings():
            out[row["id"]] = dict(row)
    return out


def diff_ledger(session: Session, parsed: Any, *, township_code: str | None) -> LedgerDiff:
    """Classify every valid row as new / updated / unchanged and find households not in the file."""
    salt = get_meta(session, "id_salt") or ""
    valid = [r for r in parsed.rows if not is_rejected(r)]
    rejected = [r for r in parsed.rows if is_rejected(r)]

    township_ids = _township_ids(session, township_code, parsed.rows)
    # Stored households by village, then key → id (nested: no tuple per household).
    existing: dict[int, dict[str, int]] = {}
    inactive: set[int] = set()
    names: dict[int, tuple[str, str]] = {}
    if township_ids:
        query = (
            select(
                _TABLE.c.id,
                _TABLE.c.village_id,
                _TABLE.c.key,
                _TABLE.c.active,
                Village.code,
                Village.name,
            )
            .join(Village, Village.id == _TABLE.c.village_id)
            .where(Village.township_id.in_(township_ids))
        )
        for hid, vid, key, active, vcode, vname in session.execute(query):
            keys = existing.get(vid)
            if keys is None:
                keys = existing[vid] = {}
                names[vid] = (vcode, vname)
            keys[key] = hid
            if not active:
                inactive.add(hid)

    changes: list[RowChange] = []
    matched: list[RowChange] = []
    no_keys: dict[str, int] = {}
    for row in valid:
        # Typed fields are built only where they are compared; a new
        # household's are built when it is written (``RowChange.typed``).
        change = RowChange(row, "new")
        hid = existing.get(row.village_id, no_keys).get(row.key)
        if hid is not None:
            change.household_id = hid
            if hid in inactive:
                # A household removed by a rollback comes back: new to the clerk.
                change.changes = dict(row_fields(row.items()), active=True)
            else:
                matched.append(change)
        changes.append(change)

    for part in _chunks(matched):
        states = load_states(session, [c.household_id for c in part])
        for change in part:
            state = states[change.household_id]
            fields = row_fields(change.row.items())
            diff = {k: v for k, v in fields.items() if state.get(k) != v}
            if diff:
                change.kind = "updated"
                change.changes = diff
                change.before = state
            else:
                change.kind = "unchanged"
    del matched

    # Households not mentioned: by any row with a key, rejected rows included.
    mentioned: set[int] = set()
    if existing:
        for r in parsed.rows:
            if r.key and r.village_id:
                hid = existing.get(r.village_id, no_keys).get(r.key)
                if hid is not None:
                    mentioned.add(hid)
    missing_ids = sorted(
        hid
        for keys in existing.values()
        for hid in keys.values()
        if hid not in mentioned and hid not in inactive
    )
    not_in_file = _describe_missing(session, missing_ids, names)
    return LedgerDiff(parsed, township_code, changes, rejected, not_in_file, salt)


def _describe_missing(
    session: Session, ids: list[int], names: dict[int, tuple[str, str]]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    listed = set(ids[:NOT_IN_FILE_LISTED])
    details: dict[int, Any] = {}
    for part in _chunks(sorted(listed)):
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


# --------------------------------------------------------------------------
# The outcome (import.md "Outcome of an import")
# --------------------------------------------------------------------------


def masked_issue(issue: Any) -> dict[str, Any]:
    """An issue as JSON with its value masked again when it is an ID number or phone."""
    data = issue.as_json()
    value = data.get("value")
    if isinstance(value, str) and "*" not in value:
        data["value"] = mask_field(data.get("field"), value)
    return data


def sheets_json(parsed: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": s.name,
            "header_row": s.header_row,
            "columns": dict(s.columns),
            "ignored_columns": list(s.ignored_columns),
            "data_rows": s.data_rows,
        }
        for s in parsed.sheets
    ]


def outcome(diff: LedgerDiff) -> dict[str, Any]:
    """The structured outcome shown on the page, the command line and as JSON."""
    parsed = diff.parsed
    return {
        "file": parsed.file_name,
        "sha256": parsed.sha256,
        "township": diff.township_code,
        "sheets": sheets_json(parsed),
        "counts": diff.counts(),
        "issues": [masked_issue(i) for i in diff.issues()],
        "not_in_file": len(diff.not_in_file),
        "not_in_file_households": diff.not_in_file[:NOT_IN_FILE_LISTED],
    }


def rejected_rows_json(rows: list[Any]) -> list[dict[str, Any]]:
    """Rejected rows with their reasons, for the batch record (values kept so nothing is lost)."""
    out = []
    for row in rows:
        out.append(
            {
                "sheet": row.sheet,
                "row": row.row,
                "values": {k: to_json_value(v) for k, v in row.values.items()},
                "extra": dict(row.extra or {}),
                "issues": [masked_issue(i) for i in row.issues],
            }
        )
    return out
