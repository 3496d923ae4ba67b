"""The JSON of many new households' first versions, from one template per set of given fields.

A ledger's new households give the same few fields (the columns of its sheet)
and leave the other twenty-odd empty.  ``dump_json(fields_json(…))`` encodes
every key and every ``null`` again for each of them; here the keys, the
``null``\\ s and the punctuation are a template made once per set of given
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

from heating.history.values import CONVERTED_FIELDS
from heating.models import HOUSEHOLD_FIELDS

# The encoder dump_json uses for text (ensure_ascii=False: Chinese kept as it is).
_ENCODE_TEXT = json.encoder.encode_basestring  # type: ignore[attr-defined]
_TEMPLATES_MAX = 1000

# Per tuple of given keys: the text around the values (a list with an empty place for each
# value, the village id's last but one), and for each given field its index in
# HOUSEHOLD_FIELDS, its place in the list and whether a date or decimal is allowed there.
_Slots = tuple[tuple[int, int, bool], ...]
_templates: dict[tuple[str, ...], tuple[list[str], _Slots]] = {}


def _template(given: tuple[str, ...]) -> tuple[list[str], _Slots]:
    present = frozenset(given)
    text = ["{"]
    slots = []
    for index, name in enumerate(HOUSEHOLD_FIELDS):
        head = ("," if index else "") + json.dumps(name) + ":"
        if name in present:
            text += [head, ""]
            slots.append((index, len(text) - 1, name in CONVERTED_FIELDS))
        else:
            text.append(head + "null")
    text += [',"village_id":', "", ',"active":true}']
    return text, tuple(slots)


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
    ``HOUSEHOLD_FIELDS`` values, ``field_values`` of the state).
    """
    found = _templates.get(given)
    if found is None:
        found = _template(given)
        if len(_templates) < _TEMPLATES_MAX:
            _templates[given] = found
    template, slots = found
    if type(village_id) is not int:
        return None
    text = template.copy()
    for index, place, converted in slots:
        value = values[index]
        kind = type(value)
        if kind is str:
            encoded = _ENCODE_TEXT(value)
        elif value is None:
            encoded = "null"
        elif kind is int:
            encoded = int.__repr__(value)
        elif converted and (kind is date or kind is Decimal):
            encoded = f'"{value}"'  # to_json_value: isoformat() / str()
        elif kind is float:
            encoded = _float(value)
        elif kind is bool:
            encoded = "true" if value else "false"
        else:
            return None
        text[place] = encoded
    text[-2] = int.__repr__(village_id)
    return "".join(text)
