"""Household values as history stores them: column types and the JSON of a state.

A version keeps the household's state before and after it as JSON
(``state_json``; ``household_json`` for an ORM row; ``state_from_json`` is
the inverse).  The annual report's ``Snapshot`` is another thing: every
number of the report, gathered once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    Date,
    Float,
    Integer,
    Numeric,
)

from heating.models import (
    HOUSEHOLD_FIELDS,
    Household,
)
from heating.sealing import seal_record

CHUNK = 5000  # ids per IN list
CENT = Decimal("0.01")


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of ``size``: one IN list per query, never one query per id."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


# Columns of ``households`` beside the fields that identify a household or carry its row.
IDENTITY = (
    "id",
    "village_id",
    "key",
    "key_kind",
    "id_hash",
    "active",
    "extra",
    "ledger_date",
    "updated_batch_id",
)


# --------------------------------------------------------------------------
# Values and the JSON of a state (a version's before/after)
# --------------------------------------------------------------------------


def _column_kind(name: str) -> str:
    col_type = Household.__table__.c[name].type
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
# Fields whose Python values are not JSON-safe as they are (dates, decimals).
CONVERTED_FIELDS = tuple(f for f, k in FIELD_KINDS.items() if k in ("date", "decimal"))
# A state's ``HOUSEHOLD_FIELDS`` values, in order (the columns of a households row).
field_values = itemgetter(*HOUSEHOLD_FIELDS)
_CONVERTED_AT = tuple(
    (HOUSEHOLD_FIELDS.index(f), f) for f in CONVERTED_FIELDS if f in HOUSEHOLD_FIELDS
)


def to_json_value(value: Any) -> Any:
    """Dates as ISO strings, decimals as strings: JSON-safe and exact."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def to_column_value(name: str, value: Any) -> Any:
    """Turn a cleaned cell value (or a value from a state's JSON) into the column's Python type.

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


def state_json(state: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON of a state as a version keeps it: every household field, village and active.

    Written for speed (it runs once per household of a 100k-row commit; guarded by
    benchmarks/import_ledgers.py): only
    dates and decimals need converting.  ``state`` must hold every household
    field (None where empty).
    """
    return fields_json(field_values(state), state["village_id"], state["active"])


def fields_json(values: tuple[Any, ...], village_id: int, active: Any) -> dict[str, Any]:
    """``state_json`` of a state given as its ``HOUSEHOLD_FIELDS`` values (``field_values``).

    The bulk writer has that tuple in hand for the household's row already.
    """
    data = dict(zip(HOUSEHOLD_FIELDS, values, strict=True))
    for index, f in _CONVERTED_AT:
        value = values[index]
        if value is not None:
            data[f] = to_json_value(value)
    data["village_id"] = village_id
    data["active"] = bool(active)
    return data


def household_json(household: Household) -> dict[str, Any]:
    """``state_json`` of an ORM household."""
    state = {f: getattr(household, f) for f in HOUSEHOLD_FIELDS}
    state.update(village_id=household.village_id, active=household.active)
    return state_json(state)


def state_from_json(data: Mapping[str, Any]) -> dict[str, Any]:
    """Column values from a version's JSON of a state (the inverse of ``state_json``)."""
    state = {f: to_column_value(f, data.get(f)) for f in HOUSEHOLD_FIELDS}
    state["village_id"] = int(data["village_id"])
    state["active"] = bool(data.get("active", True))
    return state


BLANK_STATE: dict[str, Any] = dict.fromkeys(HOUSEHOLD_FIELDS)


# One encoder for every dump: ``json.dumps`` with options builds an encoder per call, and
# ``JSONEncoder.encode`` its C encoder per call too (a 100k-household commit dumps 200k).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _no_default(value: Any) -> Any:
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


_C_ENCODE = (
    json.encoder.c_make_encoder(  # type: ignore[attr-defined]
        None, _no_default, json.encoder.encode_basestring, None, ":", ",", False, False, True
    )
    if getattr(json.encoder, "c_make_encoder", None) is not None
    else None
)


def dump_json(value: Any) -> str:
    """Serialise a JSON-safe value compactly (Chinese kept as UTF-8); as ``json.dumps`` would."""
    if _C_ENCODE is not None and type(value) is dict:
        return "".join(_C_ENCODE(value, 0))
    return _ENCODE(value)


def dump_snapshot(snap: Mapping[str, Any]) -> str:
    """A version's stored JSON: ``dump_json`` with the ID number and phone sealed."""
    return dump_json(seal_record(snap))


def counted(state: Mapping[str, Any] | None) -> tuple[Any, Any, Any]:
    """(village, status, operation) a state adds to the counts, or NULLs when it adds nothing."""
    if state is None or not state.get("active", True):
        return None, None, None
    return state["village_id"], state["status"], state.get("operation")
