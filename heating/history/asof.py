"""Reading history: which versions count, the state as of a date and known at a time.

The rules are in ``heating.history``'s docstring; this is their one implementation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Integer,
    String,
    Table,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
    union,
    union_all,
)
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import ColumnElement, Select, Subquery

from heating.bound_lists import one_of
from heating.history.values import (
    FIELD_KINDS,
    IDENTITY,
    state_from_json,
    to_column_value,
)
from heating.models import (
    CLEAN_STATUSES,
    HOUSEHOLD_FIELDS,
    NOT_CLEAN_YET,
    Household,
    HouseholdVersion,
)
from heating.sealing import SEALED_FIELDS

_H: Table = Household.__table__  # type: ignore[assignment]
_V: Table = HouseholdVersion.__table__  # type: ignore[assignment]
# Of a household's versions, the one that counts comes first: the newest ledger date,
# then the latest recorded, then the highest id (the rules in ``heating.history``).
NEWEST_FIRST = (_V.c.ledger_date.desc(), _V.c.recorded_at.desc(), _V.c.id.desc())

# --------------------------------------------------------------------------
# Reading: which versions count, the state as of a date
# --------------------------------------------------------------------------


def _rank_newest_first() -> Any:
    """1 for the version of each household that counts among those selected."""
    return (
        func.row_number().over(partition_by=_V.c.household_id, order_by=NEWEST_FIRST).label("rank")
    )


def live(known_at: datetime | None = None) -> ColumnElement[bool]:
    """SQL condition on versions: it counts when known at ``known_at`` (now when None)."""
    v = _V.c
    if known_at is None:
        return v.retracted_at.is_(None)
    return and_(v.recorded_at <= known_at, or_(v.retracted_at.is_(None), v.retracted_at > known_at))


def counting_known_at(session: Session, known_at: datetime | None) -> datetime | None:
    """``known_at``, or None when nothing was recorded after it (it would change nothing).

    A known-at on or after the newest recorded version — the report's default,
    its generation time — asks the same as none, and the cheaper reads apply
    (the as-of delta instead of ranking history).  Rollbacks record a version,
    so a retraction after ``known_at`` is seen here too.
    """
    if known_at is None:
        return None
    later = session.scalar(select(_V.c.id).where(_V.c.recorded_at > known_at).limit(1))
    return known_at if later is not None else None


def changed_households(as_of: date | None, known_at: datetime | None) -> Select:
    """Households whose state as of (``as_of``, ``known_at``) may differ from their row.

    Those with a version dated after ``as_of`` or recorded after ``known_at``
    (a rollback records every household it touches, so retractions after
    ``known_at`` are found too); each through its own index.
    """
    v = _V.c
    parts = []
    if as_of is not None:
        parts.append(select(v.household_id).where(v.ledger_date > as_of))
    if known_at is not None:
        parts.append(select(v.household_id).where(v.recorded_at > known_at))
    if not parts:
        return select(v.household_id).where(false_condition())
    return parts[0] if len(parts) == 1 else union(*parts)


def false_condition() -> ColumnElement[bool]:
    return literal(1) == literal(0)


def newest_versions(
    as_of: date | None,
    known_at: datetime | None,
    *,
    households: Select | None = None,
    columns: Sequence[Any] = (),
) -> Subquery:
    """Per household its version that counts as of (``as_of``, ``known_at``).

    Columns: ``household_id``, ``version_id``, ``village_id``, ``active``,
    ``status``, ``operation``, ``ledger_date``, ``recorded_at`` and any extra
    version ``columns``.  ``households`` (a select of ids) limits the ranking;
    the covering index ``ix_household_versions_asof`` serves it.
    """
    v = _V.c
    conditions = [live(known_at)]
    if as_of is not None:
        conditions.append(v.ledger_date <= as_of)
    if households is not None:
        conditions.append(v.household_id.in_(households))
    rank = _rank_newest_first()
    ranked = (
        select(
            v.household_id,
            v.id.label("version_id"),
            v.village_id,
            v.active,
            v.status,
            v.operation,
            v.ledger_date,
            v.recorded_at,
            *columns,
            rank,
        )
        .where(*conditions)
        .subquery("ranked")
    )
    keep = [c for c in ranked.c if c.name != "rank"]
    return select(*keep).where(ranked.c.rank == 1).subquery("newest")


def _field_from_row(name: str) -> Any:
    column = _H.c[name]
    if FIELD_KINDS[name] in ("date", "decimal"):
        return cast(column, String).label(name)
    return column.label(name)


def _field_from_version(chosen: Any, name: str) -> Any:
    value = chosen.after[name]
    kind = FIELD_KINDS[name]
    if kind == "int":
        return value.as_integer().label(name)
    if kind == "float":
        return value.as_float().label(name)
    return value.as_string().label(name)


def state_as_of(
    as_of: date | None = None,
    known_at: datetime | None = None,
    fields: Sequence[str] = (),
    *,
    among: Select | None = None,
) -> Subquery:
    """Per household that exists then, its state as of ``as_of`` known at ``known_at``.

    Columns: ``household_id``, ``village_id``, ``status``, ``operation``,
    ``ledger_date`` (of the version the state comes from) and the household
    ``fields`` asked for.  Dates and decimals among ``fields`` come as ISO /
    decimal text on both databases (``to_column_value`` turns them back);
    compare dates as text ("2021-10-31").  Households unchanged since are read
    from their rows, the others from their counting version.  ``among`` (a
    select of household ids) limits both to those households, so a reader of
    a few (e.g. the district-heated ones, by an index) ranks only their history.
    """
    h = _H.c
    fields = [f for f in fields if f not in ("status", "operation")]  # always there
    row_columns = [
        h.id.label("household_id"),
        h.village_id,
        h.status,
        h.operation,
        h.ledger_date,
        *(_field_from_row(f) for f in fields),
    ]
    if as_of is None and known_at is None:
        current = select(*row_columns).where(h.active == true())
        if among is not None:
            current = current.where(h.id.in_(among))
        return current.subquery("state")
    changed = changed_households(as_of, known_at)
    unchanged = select(*row_columns).where(h.active == true(), h.id.not_in(changed))
    if among is not None:
        unchanged = unchanged.where(h.id.in_(among))
        changed = select(h.id).where(h.id.in_(among), h.id.in_(changed))
    newest = newest_versions(as_of, known_at, households=changed)
    n = newest.c
    then = select(n.household_id, n.village_id, n.status, n.operation, n.ledger_date).where(
        n.active == true()
    )
    if fields:
        chosen = aliased(HouseholdVersion, name="chosen")
        then = then.add_columns(*(_field_from_version(chosen, f) for f in fields)).join(
            chosen, chosen.id == n.version_id
        )
    return union_all(unchanged, then).subquery("state")


def regressed_as_of(as_of: date, village_ids: Sequence[int]) -> Select:
    """Households of these villages not yet clean as of ``as_of`` that an earlier ledger had clean.

    The import warns ``status_regressed`` when a ledger says so; this asks
    whether it still holds on the day (a later ledger may have put it right).
    Columns: ``household_id``, ``village_id``, ``status``, ``household_no``, ``head_name``.
    """
    state = state_as_of(as_of, None, ("household_no", "head_name"))
    s = state.c
    v = _V.c
    was_clean = (
        select(literal(1))
        .where(
            v.household_id == s.household_id,
            v.status.in_(CLEAN_STATUSES),
            v.ledger_date <= as_of,
            live(),
        )
        .exists()
    )
    return (
        select(s.household_id, s.village_id, s.status, s.household_no, s.head_name)
        .where(s.status.in_(NOT_CLEAN_YET), s.village_id.in_(list(village_ids)), was_clean)
        .order_by(s.village_id, s.household_id)
    )


def versions_dated_after(as_of: date) -> Subquery:
    """The counting versions dated after ``as_of``, with their predecessors' counted state.

    Σ (state − predecessor's state) over these rows is "current − as of" (the
    module docstring's telescoping sum).  Read in ``ix_household_versions_ledger``
    order (ledger date, village), so grouping by (ledger_date, village_id)
    streams without sorting.
    """
    v = _V.c
    return (
        select(
            v.ledger_date,
            v.village_id,
            v.active,
            v.status,
            v.operation,
            v.prev_village_id,
            v.prev_status,
            v.prev_operation,
        )
        .where(v.ledger_date > as_of, v.retracted_at.is_(None))
        .subquery("after")
    )


def delta_rows(as_of: date | None, known_at: datetime | None) -> Select:
    """Rows (village_id, status, operation, weight ±1) turning current counts into as-of counts.

    Summing ``weight`` per (village, status, operation) over these rows and
    adding it to the current counts gives the counts as of (``as_of``,
    ``known_at``): the changed households' rows are subtracted and their
    counting versions added.  (Without ``known_at``, ``versions_dated_after``
    gives the same sum far cheaper.)
    """
    h = _H.c
    changed = changed_households(as_of, known_at)
    now = select(h.village_id, h.status, h.operation, literal(-1, Integer).label("weight")).where(
        h.active == true(), h.id.in_(changed)
    )
    newest = newest_versions(as_of, known_at, households=changed)
    n = newest.c
    then = select(n.village_id, n.status, n.operation, literal(1, Integer)).where(
        n.active == true()
    )
    return union_all(now, then)


def current_states(session: Session, ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """Households' rows (identity columns and every field), by id."""
    cols = [_H.c[name] for name in (*IDENTITY, *HOUSEHOLD_FIELDS)]
    chosen = select(*cols).where(one_of(session, _H.c.id, sorted(set(ids))))
    return {row["id"]: dict(row) for row in session.execute(chosen).mappings()}


def shows_state_at(row: Mapping[str, Any], ledger_date: date) -> bool:
    """True when a household's row is its state as of ``ledger_date`` (nothing newer counts)."""
    return bool(row["active"]) and (row["ledger_date"] is None or row["ledger_date"] <= ledger_date)


def present_as_of(session: Session, ids: Iterable[int], as_of: date) -> set[int]:
    """Which of these households exist as of ``as_of`` (a counting, active version dated ≤ it)."""
    wanted = select(_H.c.id).where(one_of(session, _H.c.id, sorted(set(ids))))
    newest = newest_versions(as_of, None, households=wanted)
    return set(session.scalars(select(newest.c.household_id).where(newest.c.active == true())))


def states_as_of(
    session: Session,
    ids: Iterable[int],
    as_of: date,
    *,
    rows: Mapping[int, Mapping[str, Any]] | None = None,
    excluding_batch: int | None = None,
    inactive: bool = False,
    known_at: datetime | None = None,
) -> dict[int, dict[str, Any] | None]:
    """Full states of these households as of ``as_of`` (None: no state then), by id.

    ``rows`` are their ``current_states`` when the caller has them.  A row
    that shows its state as of the date is used as it is; the others are read
    from their counting version.  ``excluding_batch`` leaves one batch's
    versions out; with ``inactive`` a counting version that is inactive is
    returned (``active`` False) rather than None.  ``known_at`` counts only
    versions recorded by then (pass ``rows={}``: a row may show a later state).
    """
    ids = sorted(set(ids))
    rows = rows if rows is not None else current_states(session, ids)
    out: dict[int, dict[str, Any] | None] = {}
    need: list[int] = []
    for hid in ids:
        row = rows.get(hid)
        if row is not None and excluding_batch is None and shows_state_at(row, as_of):
            out[hid] = dict(row)
        else:
            need.append(hid)
    found = _counting_versions(session, need, as_of, known_at, excluding_batch) if need else {}
    for hid in need:
        hit = found.get(hid)
        if hit is None or not hit[0] or not (inactive or hit[0].get("active", True)):
            out[hid] = None
            continue
        state = state_from_json(hit[0])
        identity = rows.get(hid) or {}
        for name in IDENTITY:
            if name not in state:
                state[name] = identity.get(name)
        state["id"] = hid
        state["ledger_date"] = hit[1]
        state["updated_batch_id"] = hit[2]
        out[hid] = state
    return out


def fields_as_of(
    session: Session,
    ids: Iterable[int],
    as_of: date,
    fields: Sequence[str],
    *,
    known_at: datetime | None = None,
) -> dict[int, tuple[int, dict[str, Any]] | None]:
    """Some fields of these households' states as of ``as_of``, read from their counting
    versions: id → (village id, {field: value}), or None when inactive or absent then.

    ``states_as_of`` with ``rows={}``, for readers of a whole district that need a few
    fields and no personal data (``heating.usage.household_states``): the database takes
    just ``fields`` out of each version's JSON (``JSON_EXTRACT`` on SQLite, ``->>`` on
    PostgreSQL, SQLAlchemy's JSON index), so neither the whole state is decoded in Python
    nor its sealed ID number and phone opened. All households of the demo district
    (57,794, ``heating.usage.EVIDENCE_FIELDS``), SQLite, best of two, alternating: as of
    2020-10-31 1.16 → 0.91 s of CPU, as of 2021-10-31 1.51 → 1.28 s (decoding the whole
    JSON in Python before); the same values.
    """
    sealed = set(fields) & set(SEALED_FIELDS)
    if sealed:
        raise ValueError(f"fields_as_of never opens sealed fields: {sorted(sealed)}")
    state = type_coerce(_V.c.after, JSON)
    extracted = [state[f].as_string() for f in fields]
    typed = [(i, f) for i, f in enumerate(fields, start=3) if FIELD_KINDS.get(f, "str") != "str"]
    v = _V.c
    wanted = sorted(set(ids))
    chosen = _counting(
        one_of(session, v.household_id, wanted), as_of, known_at, v.village_id, v.active, *extracted
    )
    found = {row[0]: row for row in session.execute(chosen)}
    out: dict[int, tuple[int, dict[str, Any]] | None] = {}
    for hid in wanted:
        row = found.get(hid)
        if row is None or not row[2]:
            out[hid] = None  # absent then, or inactive
            continue
        values = dict(zip(fields, row[3:], strict=True))
        for i, f in typed:  # dates and decimals are ISO / decimal text in the JSON
            values[f] = to_column_value(f, row[i])
        out[hid] = (row[1], values)
    return out


def _counting_versions(
    session: Session,
    households: Sequence[int],
    as_of: date,
    known_at: datetime | None,
    excluding_batch: int | None,
) -> dict[int, tuple[Any, date, int | None]]:
    """Household id → (its counting version's ``after``, ledger date, batch id) as of
    (``as_of``, ``known_at``), for the households that have one."""
    v = _V.c
    chosen = _counting(
        one_of(session, v.household_id, households),
        as_of,
        known_at,
        v.after,
        v.ledger_date,
        v.batch_id,
        excluding_batch=excluding_batch,
    )
    return {
        hid: (state, ledger_date, batch)
        for hid, state, ledger_date, batch in session.execute(chosen)
    }


def _counting(
    households: ColumnElement[bool],
    as_of: date,
    known_at: datetime | None,
    *columns: Any,
    excluding_batch: int | None = None,
) -> Select:
    """Rows (household id, ``columns`` of its counting version) as of (``as_of``,
    ``known_at``) for the ``households`` selected.

    The versions are ranked on the covering index's columns alone and only each
    household's counting version is joined for ``columns``: what those cost (its
    whole JSON, or fields taken out of it) is paid once per household, not once
    per version.
    """
    v = _V.c
    conditions = [live(known_at), v.ledger_date <= as_of, households]
    if excluding_batch is not None:
        conditions.append(or_(v.batch_id.is_(None), v.batch_id != excluding_batch))
    ranked = select(v.household_id, v.id, _rank_newest_first()).where(*conditions).subquery()
    return (
        select(ranked.c.household_id, *columns)
        .join(_V, v.id == ranked.c.id)
        .where(ranked.c.rank == 1)
    )
