"""Village facts: each village's place and household counts, now or as of a date.

The one reader of household counts per village.  The ``households`` table
(the current state) is read with one GROUP BY village; for a date or a
known-at time a second GROUP BY over only the households changed since
corrects it (``heating.history.delta_rows``), so every reader of "as of"
goes through ``heating.history``'s rule: per household, the version with
the latest ledger date ≤ D recorded by K; a household with no such version,
or whose version is inactive, does not count.

**Clean** here is the measures' clean: households whose status is
completed or accepted, less — under ``heat_source_rule = strict`` — the
district-heated ones whose heat source is non-compliant (先立后破,
``heating.heat_sources``); their status is untouched.  Lapsed is taken from
what stays clean.  Both modes count the non-compliant and the unverified
households (``heat_source_noncompliant`` / ``heat_source_unverified``) so
every page can say why a household does not count.  Because every measure,
complete village, zone, enclave, map colour and report figure starts here,
they all agree on it.

``heating.measures`` turns facts into measures (pure arithmetic); the annual
report, compliance, inconsistencies and the map read the facts once and pass
them to the measures' functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Integer, and_, case, func, literal, select, text, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from heating import clock
from heating.errors import NotFound
from heating.evidence import with_evidence
from heating.evidence_cache import kept
from heating.heat_sources import (
    NONCOMPLIANT,
    STRICT,
    counting_rule,
    load_register,
    village_counts,
)
from heating.history import counting_known_at, delta_rows, versions_dated_after
from heating.models import (
    CLEAN_STATUSES,
    LAPSED_OPERATIONS,
    District,
    Household,
    Township,
    Village,
)
from heating.seasons import UsageSettings, counting_usage
from heating.session_memo import remembered
from heating.usage import HouseholdState


@dataclass(frozen=True)
class VillageFacts:
    """One village's place in the hierarchy and its raw household counts."""

    village_id: int
    code: str
    name: str
    category: str | None
    registry_total: int | None
    township_code: str
    township_name: str
    district_code: str
    district_name: str
    ledger_rows: int = 0
    exempt: int = 0
    clean: int = 0  # counted clean (status clean, less non-compliant sources under strict)
    lapsed: int = 0  # counted clean and coal again / abandoned
    heat_source_noncompliant: int = 0  # clean by status, on a non-compliant source (both modes)
    heat_source_unverified: int = 0  # clean by status, source blank or unregistered (counted)
    # Evidence beyond the ledger (heating.usage), filled where there is any:
    # the season judged, households checked against their use, flagged, and
    # flagged but not already lapsed; households with a heated area among the
    # required, and the area of the required and of the clean ones (m²).
    usage_season: int | None = None
    usage_checked: int = 0
    usage_flagged: int = 0
    usage_flagged_live: int = 0
    area_known: int = 0
    area_required_m2: float = 0.0
    area_clean_m2: float = 0.0

    @property
    def raw_required(self) -> int:
        """Required before clamping at 0 (negative means more exempt than registered)."""
        base = self.registry_total if self.registry_total is not None else self.ledger_rows
        return base - self.exempt

    @property
    def required(self) -> int:
        """Households required (``heating.measures``' definition): never negative."""
        return max(0, self.raw_required)


def _count_columns(status: Any, operation: Any, weight: Any = None) -> list[Any]:
    """ledger_rows, exempt, clean, lapsed; a ±1 ``weight`` column lets a delta subtract rows."""
    clean = status.in_(CLEAN_STATUSES)
    if weight is None:
        weight = literal(1, Integer)
        rows = func.count()
    else:
        rows = func.sum(weight)
    return [
        rows.label("ledger_rows"),
        func.sum(case((status == "exempt", weight), else_=0)).label("exempt"),
        func.sum(case((clean, weight), else_=0)).label("clean"),
        func.sum(case((and_(clean, operation.in_(LAPSED_OPERATIONS)), weight), else_=0)).label(
            "lapsed"
        ),
    ]


def _current_counts(village_ids: Select | None) -> Select:
    """One GROUP BY village over the active households (their current state)."""
    h = Household
    stmt = (
        select(h.village_id, *_count_columns(h.status, h.operation))
        .where(h.active == true())
        .group_by(h.village_id)
    )
    if village_ids is not None:
        stmt = stmt.where(h.village_id.in_(village_ids))
    return stmt


def _changes(
    as_of: date | None, known_at: datetime | None, village_ids: Select | None
) -> list[Select]:
    """Statements whose rows (village id, four deltas) turn current counts into as-of counts.

    Without a known-at time: the telescoping sum over the versions dated after
    the day (``heating.history.versions_dated_after``), grouped by (ledger date,
    village) in index order — each row subtracts the version's state and adds
    back its predecessor's in the same village; a predecessor in another village
    (a move, rare) is added back by a second statement.  With a known-at time:
    ``heating.history.delta_rows``.
    """
    if known_at is None:
        v = versions_dated_after(as_of).c
        own = case((v.active == true(), -1), else_=0)
        same = case((v.prev_village_id == v.village_id, 1), else_=0)
        stayed = select(
            v.village_id,
            *_count_columns(v.status, v.operation, own),
            *_count_columns(v.prev_status, v.prev_operation, same),
        ).group_by(v.ledger_date, v.village_id)
        moved = (
            select(v.prev_village_id, *_count_columns(v.prev_status, v.prev_operation, 1))
            .where(v.prev_village_id != v.village_id)
            .group_by(v.prev_village_id)
        )
        if village_ids is not None:
            stayed = stayed.where(v.village_id.in_(village_ids))
            moved = moved.where(v.prev_village_id.in_(village_ids))
        return [stayed, moved]
    delta = delta_rows(as_of, known_at).subquery("delta")
    stmt = select(
        delta.c.village_id, *_count_columns(delta.c.status, delta.c.operation, delta.c.weight)
    ).group_by(delta.c.village_id)
    if village_ids is not None:
        stmt = stmt.where(delta.c.village_id.in_(village_ids))
    return [stmt]


def _counts(
    session: Session,
    as_of: date | None,
    village_ids: Select | None,
    known_at: datetime | None = None,
) -> dict[int, list[int]]:
    """village id → [ledger_rows, exempt, clean, lapsed], now or as of a date / known-at."""
    if session.get_bind().dialect.name == "postgresql":
        # Millions of rows make the planner JIT-compile these aggregates, which costs
        # about a second and saves nothing on a single pass (benchmarks/coverage.py, 6M households).
        session.execute(text("SET LOCAL jit = off"))
    known_at = counting_known_at(session, known_at)
    counts = {
        row[0]: [int(x or 0) for x in row[1:]]
        for row in session.execute(_current_counts(village_ids))
    }
    if as_of is not None or known_at is not None:
        for stmt in _changes(as_of, known_at, village_ids):
            for village_id, *delta in session.execute(stmt):
                current = counts.setdefault(village_id, [0, 0, 0, 0])
                for i, d in enumerate(delta):
                    current[i % 4] += int(d or 0)
    return counts


def _village_query(township_code: str | None, district_code: str | None) -> Select:
    stmt = (
        select(
            Village.id,
            Village.code,
            Village.name,
            Village.category,
            Village.total_households,
            Township.code,
            Township.name,
            District.code,
            District.name,
        )
        .join(Township, Village.township_id == Township.id)
        .join(District, Township.district_id == District.id)
        .order_by(Village.code)
    )
    if township_code is not None:
        stmt = stmt.where(Township.code == township_code)
    if district_code is not None:
        stmt = stmt.where(District.code == district_code)
    return stmt


def _scope_district(
    session: Session, township_code: str | None, district_code: str | None
) -> str | None:
    """The district of the scope (the township's, or the one given); unknown codes refused."""
    if township_code is not None:
        found = session.scalar(
            select(District.code)
            .join(Township, Township.district_id == District.id)
            .where(Township.code == township_code)
        )
        if found is None:
            raise NotFound(
                f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位统计用区划代码）。"
            )
        if district_code is not None and district_code != found:
            # A township outside the district: nothing in scope (as the joined query gave).
            _check_district(session, district_code)
            return district_code
        return found
    if district_code is not None:
        _check_district(session, district_code)
    return district_code


def _check_district(session: Session, district_code: str) -> None:
    if session.scalar(select(District.id).where(District.code == district_code)) is None:
        raise NotFound(f"区县代码 {district_code} 不在村庄名录中：请检查代码（6 位）。")


def kept_village_facts(
    session: Session,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
    usage: UsageSettings | None = None,
    heat_source_rule: str | None = None,
    evidence: bool = True,
) -> tuple[VillageFacts, ...]:
    """Every village in scope (by code) with its household counts now or as of a date.

    ``evidence=False`` leaves the evidence counts out (``usage_*``, ``area_*``
    at their defaults): for readers that show only households required and
    clean (the trend) or whether a village is complete (zone derivations),
    which then skip judging use.

    Kept per process until the data change (``heating.evidence_cache``), and
    remembered within a session ``remember_reads`` was called on: the same
    arguments and settings give the same tuple (``heating.measures.village_rows``
    keeps the villages' measures by it).
    """
    rule = heat_source_rule or counting_rule(session)
    settings = usage or counting_usage(session)
    args = (as_of, known_at, township_code, district_code, settings, rule, evidence)
    key = ("facts", as_of, known_at, township_code, district_code, repr(settings), rule, evidence)
    return remembered(session, key, lambda: _kept_facts(session, *args))


def village_facts(
    session: Session,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    township_code: str | None = None,
    district_code: str | None = None,
    usage: UsageSettings | None = None,
    heat_source_rule: str | None = None,
    evidence: bool = True,
) -> list[VillageFacts]:
    """``kept_village_facts`` as a list of its own (callers only read the facts)."""
    return list(
        kept_village_facts(
            session,
            as_of=as_of,
            known_at=known_at,
            township_code=township_code,
            district_code=district_code,
            usage=usage,
            heat_source_rule=heat_source_rule,
            evidence=evidence,
        )
    )


def _kept_facts(
    session: Session,
    as_of: date | None,
    known_at: datetime | None,
    township_code: str | None,
    district_code: str | None,
    settings: UsageSettings,
    rule: str,
    evidence: bool,
) -> tuple[VillageFacts, ...]:
    """The facts, kept until the data change (``heating.evidence_cache``).

    Kept per district, under that district's data version: a clerk's commit
    in one district leaves the others' facts standing.  A township's facts are
    its district's, filtered (its evidence is judged against the whole
    district's peers anyway); the whole installation's are every district's,
    in village-code order, kept as one tuple so that the measures kept by it
    (``heating.measures.village_rows``) stay too.
    """
    district = _scope_district(session, township_code, district_code)  # unknown: refused
    facts = _scope_facts(session, district, as_of, known_at, settings, rule, evidence)
    if township_code is None:
        return facts
    return tuple(f for f in facts if f.township_code == township_code)


def _scope_facts(
    session: Session,
    district: str | None,
    as_of: date | None,
    known_at: datetime | None,
    settings: UsageSettings,
    rule: str,
    evidence: bool,
) -> tuple[VillageFacts, ...]:
    """One district's facts kept under its own data version; without a district, every
    district's kept facts in one tuple, in village-code order.

    The key holds every argument and today (the evidence's season without a date is
    the latest ended by today); the known-at time as given, not as
    ``counting_known_at`` reduces it for the households: the heat-source register
    and usage batches have times of their own.
    """
    args = (as_of, known_at, settings, rule)

    def compute() -> tuple[VillageFacts, ...]:
        if district is None:
            codes = session.scalars(select(District.code).order_by(District.code)).all()
            facts = (f for code in codes for f in _scope_facts(session, code, *args, evidence))
            return tuple(sorted(facts, key=lambda f: f.code))
        if not evidence:
            return tuple(_village_facts(session, as_of, known_at, None, district, rule))
        # The counts without evidence are kept under their own key and shared: a report
        # asks for both of each year (with, and for the trend without), and the as-of
        # heat-source count in them costs ~0.7 s of PostgreSQL per district on the city
        # demo (benchmarks/load.py).
        base = _scope_facts(session, district, *args, False)
        return tuple(_add_evidence(session, list(base), as_of, known_at, settings, rule))

    key = ("facts", district, *args, evidence, clock.today())
    scope = None if district is None else (district,)
    # As of a date, every household is read as of it: ledgers dated later leave it kept.
    return kept(session, key, compute, shared=True, districts=scope, as_of=as_of)


def _village_facts(
    session: Session,
    as_of: date | None,
    known_at: datetime | None,
    township_code: str | None,
    district_code: str | None,
    heat_source_rule: str | None,
) -> list[VillageFacts]:
    """``village_facts`` computed, without the evidence counts (``_add_evidence``).

    ``known_at`` (naive UTC) counts only what was recorded by then — the
    households and the heat-source register alike.  ``heat_source_rule``
    defaults to the session's (``heating.heat_sources.counting_rule``).
    """
    strict = (heat_source_rule or counting_rule(session)) == STRICT
    scoped = township_code is not None or district_code is not None
    ids = None
    if scoped:
        ids = (
            select(Village.id)
            .join(Township, Village.township_id == Township.id)
            .join(District, Township.district_id == District.id)
        )
        if township_code is not None:
            ids = ids.where(Township.code == township_code)
        if district_code is not None:
            ids = ids.where(District.code == district_code)
    counts = _counts(session, as_of, ids, known_at)
    register = load_register(session, known_at=known_at)
    sources = village_counts(session, register, as_of=as_of, known_at=known_at, village_ids=ids)
    facts = []
    for vid, code, name, cat, total, tcode, tname, dcode, dname in session.execute(
        _village_query(township_code, district_code)
    ):
        ledger_rows, exempt, clean, lapsed = counts.get(vid, (0, 0, 0, 0))
        heat = sources.get(vid)
        noncompliant = heat.noncompliant if heat else 0
        if strict and heat is not None:
            clean -= heat.noncompliant
            lapsed -= heat.noncompliant_lapsed
        facts.append(
            VillageFacts(
                vid,
                code,
                name,
                cat,
                total,
                tcode,
                tname,
                dcode,
                dname,
                ledger_rows,
                exempt,
                clean,
                lapsed,
                noncompliant,
                heat.unverified if heat else 0,
            )  # fmt: skip
        )

    return facts


def _add_evidence(
    session: Session,
    facts: list[VillageFacts],
    as_of: date | None,
    known_at: datetime | None,
    usage: UsageSettings | None,
    heat_source_rule: str | None,
) -> list[VillageFacts]:
    """The facts with their evidence counts (``heating.evidence``: use flags of the latest
    season ended by the date, heated areas, with the ``[usage]`` settings given, else the
    configured ones; the households as of the date).  Under the strict rule a household on
    a non-compliant source is not judged for use (it is not counted clean)."""
    strict = (heat_source_rule or counting_rule(session)) == STRICT
    register = load_register(session, known_at=known_at) if strict else None

    def excluded(state: HouseholdState) -> bool:
        return (
            register is not None
            and register.verdict(state["route"], state["heat_source"]) == NONCOMPLIANT
        )

    return with_evidence(
        session,
        facts,
        as_of,
        usage or counting_usage(session),
        known_at,
        not_clean=excluded,
        rule=STRICT if strict else "counted",
    )
