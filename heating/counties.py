"""District names from the national county-level code table shipped in ``heating/data``.

A village registry may carry no district name; the report cover and the map
then showed "区县140405".  The Ministry of Civil Affairs' county-level codes
(2024, see ``heating/data/README.md``) name it instead.  A name the registry
or the ``district_name`` setting gives always wins.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib.resources import files

PLACEHOLDER = "区县{code}"


@cache
def _table() -> dict[str, str]:
    """6-digit code → county name (read once; 3,355 rows)."""
    text = files("heating.data").joinpath("counties_2024.csv").read_text(encoding="utf-8")
    return {row["county_code"]: row["county_name"] for row in csv.DictReader(text.splitlines())}


def county_name(code: str) -> str | None:
    """The county-level unit's name for a 6-digit code, or None when the table lacks it."""
    return _table().get(code.strip())


def district_name(code: str, stored: str | None = None) -> str:
    """The name to show: the stored one unless it is missing or the placeholder, else the table's."""
    placeholder = PLACEHOLDER.format(code=code)
    if stored and stored.strip() and stored != placeholder:
        return stored
    return county_name(code) or placeholder
