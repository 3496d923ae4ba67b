"""A list of values bound as one parameter: ``column`` is one of them.

An IN list binds each value by a name of its own, which SQLAlchemy renders
and fills in again for every statement, and SQLite allows 32,766 of them, so
long lists went in chunks of 5,000, one statement each.  A district read as
of a date asks for tens of thousands of households' versions, a usage import
for tens of thousands of accounts' records.  Here the whole list is one
parameter: PostgreSQL takes an array (``= ANY``), SQLite a JSON array that it
unpacks itself (``json_each``).  ``heating.history.fields_as_of`` of all
57,794 demo households, SQLite, two dates, twice each alternating: 0.94–1.25
→ 0.83–1.10 s of CPU, the same values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, Integer, String, any_, bindparam, func, literal_column, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement


def one_of(
    session: Session, column: Any, values: Sequence[int] | Sequence[str], *, text: bool = False
) -> ColumnElement[bool]:
    """``column`` is one of ``values`` (integers, or strings with ``text=True``), bound as one
    parameter (of a unique name: a statement may hold several such lists)."""
    item = String if text else Integer
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam("values", list(values), type_=ARRAY(item), unique=True))
    unpacked = select(literal_column("value")).select_from(
        func.json_each(bindparam("values", json.dumps(list(values)), type_=String, unique=True))
    )
    return column.in_(unpacked)
