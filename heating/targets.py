"""A target met exactly: households needed, the gap, shares, and the compliance rule.

``needed`` is ceil(target × required) in integers from the target's decimal
(0.8 → 4/5), never in binary floating point: 0.7 × 20 is 14.000000000000002
in floats, and a village of 20 households would need 15.  Every figure that
says how many households are still to retrofit comes from here (the pages,
the map, the CLI, the report).
"""

from __future__ import annotations

from fractions import Fraction
from functools import cache

# How a category's target is judged (domain.md "Compliance with the profile").
RULE_EVERY_VILLAGE = "every_village"
RULE_AGGREGATE = "aggregate"


@cache
def _exact(target: float) -> tuple[int, int]:
    """The target as the fraction its configured decimal means (0.8 → 4, 5).

    Kept per target (a profile has a handful): the dashboard asks for every
    village's gap three times, and building the fraction each time was half
    of its CPU on the city demo (3,046 villages).
    """
    exact = Fraction(repr(target))
    return exact.numerator, exact.denominator


def needed(target: float, required: int) -> int:
    """Clean households needed to reach ``target`` of ``required``: ceil(t × required), exactly."""
    numerator, denominator = _exact(target)
    return -(-numerator * required // denominator)


def gap_to(target: float | None, required: int, clean: int) -> int:
    """Households still to retrofit to reach the target (0 without a target)."""
    if target is None:
        return 0
    return max(0, needed(target, required) - clean)


def effective_clean(clean: int, lapsed: int) -> int:
    """Households effectively clean: counted clean and not lapsed."""
    return clean - lapsed


def ratio(numerator: int, required: int) -> float | None:
    """``numerator`` ÷ ``required``; None when nothing is required (never 0 % or 100 %)."""
    return numerator / required if required > 0 else None


def percent(value: float | None, digits: int = 1) -> str:
    """A share as "95.2%"; None (nothing required) as "—", never 0% or 100%."""
    return "—" if value is None else f"{value * 100:.{digits}f}%"


def rule_for(target: float | None) -> str | None:
    """The compliance rule of a category target (domain.md "Compliance with the profile")."""
    if target is None:
        return None
    return RULE_EVERY_VILLAGE if target >= 1 else RULE_AGGREGATE
