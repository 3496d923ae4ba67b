"""The JSON of many new households' first versions, from one template per set of given fields.

A ledger's new households give the same few fields (the columns of its sheet)
and leave the other twenty-odd empty.  ``dump_json(fields_json(…))`` encodes
every key and every ``null`` again for each of them; here the keys, the
``null``\\ s and the punctuation are a ``%``-template made once per set of given
fields, and only the given values are encoded.  The text is the same, byte for
byte (``tests/test_json_templates.py``); a value of a type the template does
not know makes it answer None, and the caller dumps that state the usual way.

Written for speed: a 100k-row ledger of new households dumps 100k of these
(benchmarks/import_ledgers.py, issue 17: about half the time of the C encoder
over the whole dict).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from heating.history.values import _CONVERTED
from heating.models import HOUSEHOLD_FIELDS

# The encoder dump_json uses for text (ensure_ascii=False: Chinese kept as it is).
_ENCODE_TEXT = json.encoder.encode_basestring  # type: ignore[attr-defined]
_TEMPLATES_MAX = 1000

# Per tuple of given keys: the template, and for each given field its index in
# HOUSEHOLD_FIELDS and whether a date or decimal is allowed there (``_CONVERTED``).
_templates: dict[tuple[str, ...], tuple[str, tuple[tuple[int, bool], ...]]] = {}


def _template(given: tuple[str, ...]) -> tuple[str, tuple[tuple[int, bool], ...]]:
    present = frozenset(given)
    parts = [
        f"{json.dumps(name)}:{'%s' if name in present else 'null'}" for name in HOUSEHOLD_FIELDS
    ]
    slots = tuple(
        (index, name in _CONVERTED)
        for index, name in enumerate(HOUSEHOLD_FIELDS)
        if name in present
    )
    return "{" + ",".join(parts) + ',"village_id":%s,"active":true}', slots


def _float(value: float) -> str:
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "Infinity" if value > 0 else "-Infinity"
    return float.__repr__(value)


def dump_new_state(given: tuple[str, ...], values: Sequence[Any], village_id: int) -> str | None:
    """``dump_json(fields_json(values, village_id, True))``, or None for a value it cannot encode.

    ``given`` names the fields that may hold a value (any other name is
    ignored); every field not named must be None in ``values`` (the
    ``HOUSEHOLD_FIELDS`` values, ``_FIELDS_GETTER`` of the state).
    """
    found = _templates.get(given)
    if found is None:
        found = _template(given)
        if len(_templates) < _TEMPLATES_MAX:
            _templates[given] = found
    template, slots = found
    if type(village_id) is not int:
        return None
    encoded = []
    for index, converted in slots:
        value = values[index]
        kind = type(value)
        if kind is str:
            encoded.append(_ENCODE_TEXT(value))
        elif value is None:
            encoded.append("null")
        elif kind is int:
            encoded.append(int.__repr__(value))
        elif converted and (kind is date or kind is Decimal):
            encoded.append(f'"{value}"')  # to_json_value: isoformat() / str()
        elif kind is float:
            encoded.append(_float(value))
        elif kind is bool:
            encoded.append("true" if value else "false")
        else:
            return None
    encoded.append(int.__repr__(village_id))
    return template % tuple(encoded)
