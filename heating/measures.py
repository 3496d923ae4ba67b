"""Measures: required, clean, coverage, effective coverage, gap — now or as of a date.

Definitions are domain.md's ("Measures"):

- ``required`` = registry total households (else the number of ledger rows)
  − exempt rows, per village; never negative (a negative value is reported
  by ``heating.inconsistencies`` and counted as 0);
- ``clean`` = ledger rows with status completed or accepted, less — under
  the setting ``heat_source_rule = strict`` (the default) — the
  district-heated rows whose heat source is non-compliant with 先立后破
  (``heating.heat_sources``; their status is untouched).  The amended
  definition applies in every measure below, because all of them start from
  ``heating.village_facts``.  ``heat_source_noncompliant`` counts those rows
  in both modes (under ``warn`` they stay in clean) and
  ``heat_source_unverified`` the clean rows whose source is blank or not
  registered (always counted);
- ``lapsed`` = clean rows whose look-back operation is coal_again/abandoned;
- ``coverage`` = clean / required, ``None`` when required is 0 (shown "—",
  never 0% or 100%); ``effective_coverage`` = (clean − lapsed) / required;
- ``verified_effective_coverage`` = (clean − lapsed − flagged-and-not-lapsed)
  / required, where flagged is 疑似改而不用 by use in the latest season
  ended by the date (``heating.usage``); None when no household was checked;
- ``area_coverage`` = heated area of clean / of required households, only
  where the area is known for at least 90% of the required households
  (``area_known_share`` always says the share), else None: never a guess;
- ``gap`` to target t = max(0, ceil(t × required) − clean), computed with
  exact fractions so that 80% of 10 is 8, not 9 (0.8 * 10 in floats is 8.000…1).

Aggregates (township, category, district, total) sum the village counts and
take coverage from the sums.  Gap and ``meets`` follow the profile's rule for
each category part of the aggregate:

- a category whose target is 100% ("every_village"): each village must reach
  it, so the part's gap is the sum of the village gaps and it meets only when
  every village with households required meets;
- a category with a target below 100% ("aggregate"): the part's own sums are
  compared with the target, so its gap is the aggregate gap.

A township, district or total row mixes categories: its gap is the sum of its
category parts' gaps and it meets when every judged part meets.  ``meets`` is
``None`` where nothing is required or the category is unknown to the profile.

"As of" a date D (and "known at" a time K): the counts come from
``heating.village_facts`` (each household's state by ``heating.history``'s
rule).  Everything below ``coverage()`` is pure: the annual report and
``heating.compliance`` call ``village_row``, ``aggregate_row`` and the
grouping functions over the facts they have read, so each rule has one
implementation.  Complete villages (all required clean, or decided so) are
``complete_codes`` here; the decisions themselves live in ``heating.completion``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import Refused
from heating.models import District, Township
from heating.profile import Profile
from heating.seasons import UsageSettings
from heating.targets import (
    RULE_EVERY_VILLAGE,
    effective_clean,
    gap_to,
    ratio,
    rule_for,
)
from heating.village_facts import VillageFacts, kept_village_facts

BY_CHOICES = ("village", "township", "category", "district")
TOTAL_KEY = "total"
TOTAL_NAME = "合计"


# --------------------------------------------------------------------------
# Result rows
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasureRow:
    """The measures of one village or of an aggregate of villages."""

    key: str  # village code / township code / category key / district code / "total"
    name: str
    category: str | None  # village rows: its category; category rows: the key; else None
    township_code: str | None  # village and township rows
    villages: int
    registry_households: int  # Σ registry total households where given
    ledger_rows: int  # active ledger rows (all statuses)
    exempt: int
    required: int
    clean: int
    lapsed: int  # clean rows whose operation is coal_again/abandoned
    coverage: float | None  # None when required == 0
    effective_coverage: float | None
    target: float | None
    gap: int
    meets: bool | None
    # Evidence of use (heating.usage): the season judged ("2021"), households
    # checked against their use, flagged, flagged and not already lapsed, and
    # (clean − lapsed − flagged-and-not-lapsed) / required, None when none checked.
    usage_season: str | None = None
    usage_checked: int = 0
    usage_flagged: int = 0
    usage_flagged_not_lapsed: int = 0
    verified_effective_coverage: float | None = None
    # Heated floor area (m²): the share of required households whose area is
    # known, and the area measures where that share is at least 90% (else None).
    area_known_share: float | None = None
    area_required_m2: float | None = None
    area_clean_m2: float | None = None
    area_coverage: float | None = None
    # Raw sums behind the area measures (summed by aggregates, not shown).
    area_known: int = 0
    area_sum_required_m2: float = 0.0
    area_sum_clean_m2: float = 0.0
    heat_source_noncompliant: int = 0  # clean by status, non-compliant source (both modes)
    heat_source_unverified: int = 0  # clean by status, source blank or unregistered

    @property
    def usage_flagged_shown(self) -> int | None:
        """The flagged count people see: None ("—") where nothing was checked, since
        no household checked is no evidence, not "0 flagged" (map, village page, report)."""
        return self.usage_flagged if self.usage_checked > 0 else None

    def as_json(self) -> dict[str, Any]:
        """Return interfaces.md's keys first, then the extra counts."""
        data = {k: v for k, v in asdict(self).items() if not k.startswith("area_sum")}
        promised = (
            "key",
            "name",
            "category",
            "required",
            "clean",
            "coverage",
            "effective_coverage",
            "target",
            "gap",
            "meets",
        )
        ordered = {k: data[k] for k in promised}
        ordered.update({k: v for k, v in data.items() if k not in ordered})
        return ordered


# --------------------------------------------------------------------------
# Arithmetic
# --------------------------------------------------------------------------


AREA_KNOWN_MIN = 0.9


def evidence_fields(
    required: int,
    clean: int,
    lapsed: int,
    season: int | str | None,
    checked: int,
    flagged: int,
    flagged_live: int,
    area_known: int,
    area_required: float,
    area_clean: float,
) -> dict[str, Any]:
    """The evidence measures of a row from its counts (the module docstring's definitions)."""
    share = min(1.0, area_known / required) if required > 0 else None
    enough = share is not None and share >= AREA_KNOWN_MIN
    return {
        "usage_season": None if season is None else str(season),
        "usage_checked": checked,
        "usage_flagged": flagged,
        "usage_flagged_not_lapsed": flagged_live,
        "verified_effective_coverage": (
            ratio(clean - lapsed - flagged_live, required) if checked > 0 else None
        ),
        "area_known_share": share,
        "area_required_m2": round(area_required, 2) if enough else None,
        "area_clean_m2": round(area_clean, 2) if enough else None,
        "area_coverage": area_clean / area_required if enough and area_required > 0 else None,
        "area_known": area_known,
        "area_sum_required_m2": area_required,
        "area_sum_clean_m2": area_clean,
    }


# --------------------------------------------------------------------------
# Building rows
# --------------------------------------------------------------------------


# The villages' measures of the last few facts tuples (``village_rows``): id → (facts, profile, rows).
_ROWS: OrderedDict[tuple[int, int], tuple[tuple[VillageFacts, ...], str, list[MeasureRow]]] = (
    OrderedDict()
)
_ROWS_LOCK = threading.Lock()
ROWS_KEPT = 16


def village_rows(facts: tuple[VillageFacts, ...], profile: Profile) -> list[MeasureRow]:
    """``village_row`` of each of ``facts``, kept while the same facts tuple is asked again.

    ``kept_village_facts`` gives the same tuple until the data change, and the
    dashboard measures it three times per request (compliance, categories,
    townships) and again on every click: on the city demo (3,046 villages)
    those passes were most of its CPU once the facts were kept.  The entry
    holds the tuple, so its id cannot be reused while the entry lives.
    """
    shown = repr(profile)
    key = (id(facts), hash(shown))
    with _ROWS_LOCK:
        hit = _ROWS.get(key)
        if hit is not None and hit[0] is facts and hit[1] == shown:
            _ROWS.move_to_end(key)
            return list(hit[2])
    rows = [village_row(f, profile) for f in facts]
    with _ROWS_LOCK:
        _ROWS[key] = (facts, shown, rows)
        while len(_ROWS) > ROWS_KEPT:
            _ROWS.popitem(last=False)
    return list(rows)


def village_row(facts: VillageFacts, profile: Profile) -> MeasureRow:
    """The measures of one village against its category's target."""
    target = profile.target(facts.category)
    required = facts.required
    gap = gap_to(target, required, facts.clean)
    meets = None if target is None or required == 0 else gap == 0
    return MeasureRow(
        key=facts.code,
        name=facts.name,
        category=facts.category,
        township_code=facts.township_code,
        villages=1,
        registry_households=facts.registry_total or 0,
        ledger_rows=facts.ledger_rows,
        exempt=facts.exempt,
        required=required,
        clean=facts.clean,
        lapsed=facts.lapsed,
        coverage=ratio(facts.clean, required),
        effective_coverage=ratio(effective_clean(facts.clean, facts.lapsed), required),
        target=target,
        gap=gap,
        meets=meets,
        **evidence_fields(
            required,
            facts.clean,
            facts.lapsed,
            facts.usage_season,
            facts.usage_checked,
            facts.usage_flagged,
            facts.usage_flagged_live,
            facts.area_known,
            facts.area_required_m2,
            facts.area_clean_m2,
        ),
        heat_source_noncompliant=facts.heat_source_noncompliant,
        heat_source_unverified=facts.heat_source_unverified,
    )


def _judge_part(target: float | None, rows: list[MeasureRow]) -> tuple[int, bool | None]:
    """Gap and meets of the villages of ONE category by the profile's rule."""
    if target is None:
        return 0, None
    required = sum(r.required for r in rows)
    if required == 0:
        return 0, None
    if rule_for(target) == RULE_EVERY_VILLAGE:
        gap = sum(r.gap for r in rows)
        return gap, all(r.meets for r in rows if r.meets is not None)
    gap = gap_to(target, required, sum(r.clean for r in rows))
    return gap, gap == 0


def aggregate_row(
    key: str,
    name: str,
    rows: Iterable[MeasureRow],
    *,
    category: str | None = None,
    township_code: str | None = None,
) -> MeasureRow:
    """Sum village rows; judge each category part by its rule; combine (module docstring)."""
    rows = list(rows)
    parts: dict[str | None, list[MeasureRow]] = defaultdict(list)
    for r in rows:
        parts[r.category].append(r)
    gap = 0
    judged: list[bool] = []
    targets = set()
    for part in parts.values():
        target = part[0].target
        targets.add(target)
        part_gap, part_meets = _judge_part(target, part)
        gap += part_gap
        if part_meets is not None:
            judged.append(part_meets)
    required = sum(r.required for r in rows)
    clean = sum(r.clean for r in rows)
    lapsed = sum(r.lapsed for r in rows)
    return MeasureRow(
        key=key,
        name=name,
        category=category,
        township_code=township_code,
        villages=sum(r.villages for r in rows),
        registry_households=sum(r.registry_households for r in rows),
        ledger_rows=sum(r.ledger_rows for r in rows),
        exempt=sum(r.exempt for r in rows),
        required=required,
        clean=clean,
        lapsed=lapsed,
        coverage=ratio(clean, required),
        effective_coverage=ratio(effective_clean(clean, lapsed), required),
        target=targets.pop() if len(targets) == 1 else None,
        gap=gap,
        meets=(all(judged) if judged else None) if required > 0 else None,
        **evidence_fields(
            required,
            clean,
            lapsed,
            next((r.usage_season for r in rows if r.usage_season), None),
            sum(r.usage_checked for r in rows),
            sum(r.usage_flagged for r in rows),
            sum(r.usage_flagged_not_lapsed for r in rows),
            sum(r.area_known for r in rows),
            sum(r.area_sum_required_m2 for r in rows),
            sum(r.area_sum_clean_m2 for r in rows),
        ),
        heat_source_noncompliant=sum(r.heat_source_noncompliant for r in rows),
        heat_source_unverified=sum(r.heat_source_unverified for r in rows),
    )


def _category_row(profile: Profile, key: str | None, rows: list[MeasureRow]) -> MeasureRow:
    target = profile.target(key)
    row = aggregate_row(key or "", profile.label(key), rows, category=key)
    if row.target != target:  # a category with no villages still shows its target
        row = replace(row, target=target)
    return row


def coverage(
    session: Session,
    profile: Profile,
    by: str = "village",
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
    usage: UsageSettings | None = None,
) -> list[MeasureRow]:
    """Measures per village, township, category or district, now or as of a date.

    ``known_at`` (naive UTC) restricts to what was recorded by then, so the
    figures can be reproduced later whatever was back-filled since.

    ``by="category"`` lists every category of the profile (also those without
    villages), then any category found on villages but unknown to the profile,
    and ends with the ``"total"`` row.  Rows are ordered by code otherwise.
    """
    if by not in BY_CHOICES:
        raise Refused(f"--by 应为 {' / '.join(BY_CHOICES)} 之一，得到 {by!r}")
    kept_facts = kept_village_facts(
        session,
        as_of=as_of,
        known_at=known_at,
        township_code=township_code,
        district_code=district_code,
        usage=usage,
    )
    facts, rows = list(kept_facts), village_rows(kept_facts, profile)
    if by == "village":
        return rows
    if by == "township":
        # Townships without villages still appear (with nothing required).
        stmt = select(Township.code, Township.name).join(District).order_by(Township.code)
        if township_code is not None:
            stmt = stmt.where(Township.code == township_code)
        if district_code is not None:
            stmt = stmt.where(District.code == district_code)
        return township_rows(facts, rows, session.execute(stmt).all())
    if by == "district":
        return district_rows(facts, rows)
    return category_rows(profile, rows)


# --------------------------------------------------------------------------
# Grouping village rows (pure: the report and compliance call these too)
# --------------------------------------------------------------------------


def category_rows(profile: Profile, rows: list[MeasureRow]) -> list[MeasureRow]:
    """One row per profile category (+ unknown ones found on villages), then "total"."""
    by_cat: dict[str | None, list[MeasureRow]] = defaultdict(list)
    for r in rows:
        by_cat[r.category].append(r)
    keys: list[str | None] = list(profile.keys())
    keys += sorted((k for k in by_cat if k not in keys), key=lambda k: (k is None, k or ""))
    result = [_category_row(profile, k, by_cat.get(k, [])) for k in keys]
    result.append(aggregate_row(TOTAL_KEY, TOTAL_NAME, rows))
    return result


def township_rows(
    facts: list[VillageFacts],
    rows: list[MeasureRow],
    townships: Iterable[tuple[str, str]],
) -> list[MeasureRow]:
    """One aggregate row per township (code, name) given, in that order, empty ones included.

    ``facts`` and ``rows`` are parallel (``rows[i] = village_row(facts[i])``).
    """
    groups: dict[str, list[MeasureRow]] = defaultdict(list)
    for f, r in zip(facts, rows, strict=True):
        groups[f.township_code].append(r)
    return [
        aggregate_row(code, name, groups.get(code, []), township_code=code)
        for code, name in townships
    ]


def township_category_rows(
    profile: Profile, facts: list[VillageFacts], rows: list[MeasureRow]
) -> list[MeasureRow]:
    """One row per township × category present, by township then profile order.

    Each row carries its category's target (``heating.compliance`` shows a
    category's rows per township; the report's 分乡镇 sheet shows them all).
    """
    groups: dict[tuple[str, str | None], list[MeasureRow]] = defaultdict(list)
    names: dict[str, str] = {}
    for f, r in zip(facts, rows, strict=True):
        groups[(f.township_code, f.category)].append(r)
        names[f.township_code] = f.township_name
    order = {k: i for i, k in enumerate(profile.keys())}
    keys = sorted(groups, key=lambda k: (k[0], order.get(k[1] or "", len(order)), k[1] or ""))
    result = []
    for tcode, cat in keys:
        row = aggregate_row(
            tcode, names[tcode], groups[(tcode, cat)], category=cat, township_code=tcode
        )
        result.append(replace(row, target=profile.target(cat)))
    return result


def district_rows(facts: list[VillageFacts], rows: list[MeasureRow]) -> list[MeasureRow]:
    """One aggregate row per district that has villages, by code."""
    groups: dict[str, list[MeasureRow]] = defaultdict(list)
    names: dict[str, str] = {}
    for f, r in zip(facts, rows, strict=True):
        groups[f.district_code].append(r)
        names[f.district_code] = f.district_name
    return [aggregate_row(code, names[code], groups[code]) for code in sorted(groups)]


def complete_codes(facts: Iterable[VillageFacts], decided_village_ids: Iterable[int]) -> set[str]:
    """Codes of complete villages among ``facts``: required > 0 and all clean, or decided so.

    ``decided_village_ids`` are the villages a completion decision in force
    declares complete (``heating.completion``); those outside ``facts`` are ignored.
    """
    decided = set(decided_village_ids)
    return {
        f.code
        for f in facts
        if (f.required > 0 and f.clean >= f.required) or f.village_id in decided
    }
