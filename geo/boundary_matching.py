"""Match boundary features to registry villages: which columns, then which village.

A boundary file names its villages in columns we do not know in advance:
``find_code_field`` / ``find_name_field`` / ``find_township_field`` pick them
by content.  Each feature is then placed by the one village resolver the
ledger import uses (``imports.villages.VillageIndex``): its 12-digit code
when the registry knows it, else its township (from a township column or
the code's first 9 digits) and village name, else its name alone when it is
unique in the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from imports.villages import VillageIndex

# Resolver problems as a boundary report says them (the ledger's own
# messages tell a clerk what to type; here an administrator picks a field).
_NOT_FOUND = "{where}没有名为“{name}”的村"
_AMBIGUOUS = "{where}有多个村叫“{name}”，请提供村代码字段"
_REASONS = {
    "village_unknown": _NOT_FOUND,
    "village_ambiguous": _AMBIGUOUS,
    "township_required": _AMBIGUOUS,
}


def cell_text(value: Any) -> str | None:
    """A data-frame cell as text; None for a missing value (None, NaN, NA) or blank text."""
    if value is None or pd.isna(value):
        return None
    text = str(value).strip()
    return text or None


def as_code(value: Any, digits: int) -> str | None:
    """A statistical code as text: "140405001201" from str, int or integral float."""
    if value is None or pd.isna(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text if len(text) == digits and text.isdigit() else None


def text_columns(frame: pd.DataFrame) -> list[str]:
    """The attribute columns holding text."""
    return [
        c
        for c in frame.columns
        if c != frame.geometry.name
        and (frame[c].dtype == object or pd.api.types.is_string_dtype(frame[c]))
    ]


def find_code_field(frame: pd.DataFrame, digits: int = 12, share: float = 0.8) -> str | None:
    """The column whose non-empty values are mostly ``digits``-digit codes, if any."""
    best, best_share = None, 0.0
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        values = frame[column].dropna()
        if values.empty:
            continue
        hits = sum(as_code(v, digits) is not None for v in values) / len(values)
        if hits >= share and hits > best_share:
            best, best_share = column, hits
    return best


def find_name_field(frame: pd.DataFrame, index: VillageIndex) -> str | None:
    """The text column whose values match the most registry village names."""
    best, best_hits = None, 0
    for column in text_columns(frame):
        hits = sum(index.knows_village_name(str(v)) for v in frame[column].dropna())
        if hits > best_hits:
            best, best_hits = column, hits
    return best


def find_township_field(frame: pd.DataFrame, index: VillageIndex, exclude: set[str]) -> str | None:
    """The column whose values mostly name or code a registry township, if any."""
    best, best_share = None, 0.0
    for column in frame.columns:
        if column == frame.geometry.name or column in exclude:
            continue
        values = frame[column].dropna()
        if values.empty:
            continue
        hits = sum(township_of(index, v) is not None for v in values) / len(values)
        if hits >= 0.8 and hits > best_share:
            best, best_share = column, hits
    return best


def township_of(index: VillageIndex, value: Any) -> str | None:
    """The township code a cell names (a 9-digit code or a name), None if none."""
    code = as_code(value, 9)
    if code:
        return code if code in index.townships else None
    text = cell_text(value)
    return index.township_code(text) if text else None


@dataclass
class Match:
    """The village code a feature matched (or why it matched none) and by what."""

    code: str | None
    by: str | None  # "code" / "name"
    reason: str | None = None


def match_feature(
    index: VillageIndex,
    *,
    code_value: Any,
    name_value: Any,
    township_value: Any,
) -> Match:
    """Match one feature: its 12-digit code, else its township + name, else its unique name."""
    code = as_code(code_value, 12)
    if code and code in index.villages:
        return Match(code, "code")
    name = cell_text(name_value)
    if name is None:
        reason = f"村代码 {code} 不在村庄名录中" if code else "没有村代码，也没有村名"
        return Match(None, None, reason)
    township = township_of(index, township_value)
    if township is None and code and code[:9] in index.townships:
        township = code[:9]
    place = index.resolve(township, name, None)
    if place.village_code is not None:
        return Match(place.village_code, "name")
    where = f"乡镇 {township} 中" if township else "村庄名录中"
    problem = place.problems[0].code if place.problems else "village_unknown"
    return Match(None, None, _REASONS.get(problem, _NOT_FOUND).format(where=where, name=name))
