"""The heat-source register and the rule of 先立后破 (the seed plan's item 8).

**The rule.**  A household with route ``district`` whose heat source is a
registered ``waste_heat`` source is *non-compliant* when the source's
environmental performance grade is not A, B or 引领性 (a blank grade is
unknown and counts as not) or the source is listed for shutdown or phase-out
— from the load that lists it on, whatever its planned date.  A ``district``
household whose source is blank or matches no registered source is
*unverified*: listed, and counted as clean in both modes.  The setting
``heat_source_rule`` decides what non-compliance does: ``strict`` (default)
— the household is not counted as clean in any measure, its status
untouched; ``warn`` — counted, and listed.

**Names.**  Ledgers' 热源 values are matched to the register by
``source_key``: the registry's normalisation (``heating.households``:
NFKC, so full-width letters and digits are half-width, no whitespace) with
company suffixes such as 有限公司 removed.

**Time.**  Every load that changes a source writes a ``HeatSourceVersion``;
``load_register(session, known_at=T)`` reads, per source, the newest
version recorded at or before T, so a figure computed then is reproduced.
As of a past date without a known-at time the register as it stands now
judges the households of that date (the register has load times, not
ledger dates).

**Counting.**  ``village_counts`` gives, per village, the households clean
by status whose source is non-compliant or unverified;
``heating.village_facts`` (the one reader of household counts) takes the
non-compliant ones out of ``clean`` under ``strict`` — so coverage,
completeness, zones, enclaves, gaps, compliance, the map and the report
agree.  The rule in force rides on the session (``counting_rule``): the
runtime puts the setting there.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import Select

from heating.collation import pinyin_key
from heating.config import HEAT_SOURCE_RULES
from heating.history import counting_known_at, state_as_of
from heating.models import (
    CLEAN_STATUSES,
    COMPLIANT_GRADES,
    ENV_GRADE_LABELS,
    HEAT_SOURCE_KIND_LABELS,
    LAPSED_OPERATIONS,
    HeatSource,
    HeatSourceVersion,
    Household,
    HouseholdVersion,
    Township,
    Village,
)
from heating.names import name_base

# Company forms dropped before names are compared (longest first in name_base).
HEAT_SOURCE_SUFFIXES = (
    "股份有限公司",
    "有限责任公司",
    "有限公司",
    "分公司",
    "公司",
)

NONCOMPLIANT = "heat_source_noncompliant"
UNVERIFIED = "heat_source_unverified"
STRICT = "strict"
# The setting's values as people read them (pages, CLI text, report); the
# configuration file and JSON keep the words strict / warn.
HEAT_SOURCE_RULE_LABELS = {STRICT: "严格", "warn": "仅提示"}
NO_NONCOMPLIANT = "无不合规热源供热户"
UNVERIFIED_REASON = "热源未登记或未填写，无法核实（仍计为已完成）"


def counting_rule(session: Session) -> str:
    """The ``heat_source_rule`` the session counts by (the runtime sets it; default strict)."""
    rule = session.info.get("heat_source_rule", STRICT)
    if rule not in HEAT_SOURCE_RULES:
        raise ValueError(f"heat_source_rule 应为 {' / '.join(HEAT_SOURCE_RULES)}，得到 {rule!r}")
    return str(rule)


def source_key(name: str) -> str:
    """A heat-source name as compared: normalised, company suffixes dropped."""
    return name_base(name, HEAT_SOURCE_SUFFIXES)


def is_noncompliant(kind: str | None, env_grade: str | None, shutdown_listed: bool) -> bool:
    """True for a waste-heat source below grade B (or ungraded) or listed for shutdown."""
    return kind == "waste_heat" and (env_grade not in COMPLIANT_GRADES or bool(shutdown_listed))


def noncompliance_reason(kind: str | None, env_grade: str | None, shutdown_listed: bool) -> str:
    """Why a source is non-compliant, in Chinese ("" when it is not)."""
    if not is_noncompliant(kind, env_grade, shutdown_listed):
        return ""
    reasons = []
    if env_grade is None:
        reasons.append("环保绩效等级未知")
    elif env_grade not in COMPLIANT_GRADES:
        label = ENV_GRADE_LABELS.get(env_grade, env_grade)
        space = " " if label[:1].isascii() else ""  # "为 C 级", "为引领性"
        reasons.append(f"环保绩效等级为{space}{label}")
    if shutdown_listed:
        reasons.append("已列入关停淘汰计划")
    return "工业余热热源" + "、".join(reasons) + "（应为 B 级及以上且未列入关停淘汰计划）"


def noncompliant_note(households: int, rule: str) -> str:
    """Why some households do not count (or count only under ``warn``)."""
    if households <= 0:
        return NO_NONCOMPLIANT
    if rule == STRICT:
        return f"{households} 户由不合规热源供热（先立后破），不计为已改造"
    return (
        f"{households} 户由不合规热源供热（先立后破），"
        f"按热源规则“{HEAT_SOURCE_RULE_LABELS['warn']}”仍计为已改造"
    )


def rule_label(rule: str) -> str:
    """热源规则“严格” / “仅提示”: the setting as people read it."""
    return f"热源规则“{HEAT_SOURCE_RULE_LABELS.get(rule, rule)}”"


@dataclass(frozen=True)
class SourceFacts:
    """What the register says about one source (now, or known at a time)."""

    id: int
    name: str
    kind: str | None
    env_grade: str | None
    shutdown_listed: bool
    shutdown_on: date | None = None

    @property
    def noncompliant(self) -> bool:
        return is_noncompliant(self.kind, self.env_grade, self.shutdown_listed)

    @property
    def reason(self) -> str:
        return noncompliance_reason(self.kind, self.env_grade, self.shutdown_listed)

    @property
    def kind_label(self) -> str:
        return HEAT_SOURCE_KIND_LABELS.get(self.kind or "", self.kind or "未知")

    @property
    def grade_label(self) -> str:
        return ENV_GRADE_LABELS.get(self.env_grade or "", "未知")


@dataclass
class Register:
    """The register as matched: source key → facts."""

    sources: dict[str, SourceFacts]

    def match(self, name: str | None) -> SourceFacts | None:
        """The registered source a ledger's 热源 value names, or None."""
        if not name or not name.strip():
            return None
        return self.sources.get(source_key(name))

    def verdict(self, route: str | None, name: str | None) -> str | None:
        """``heat_source_noncompliant`` / ``heat_source_unverified`` / None (compliant or n/a)."""
        if route != "district":
            return None
        facts = self.match(name)
        if facts is None:
            return UNVERIFIED
        return NONCOMPLIANT if facts.noncompliant else None

    def household_note(
        self, status: str | None, route: str | None, name: str | None, rule: str
    ) -> str:
        """Why a household clean by status does not count, or is unverified; "" otherwise."""
        if status not in CLEAN_STATUSES:
            return ""
        verdict = self.verdict(route, name)
        if verdict == UNVERIFIED:
            return UNVERIFIED_REASON
        if verdict == NONCOMPLIANT:
            facts = self.match(name)
            assert facts is not None
            counted = "不计为已改造" if rule == STRICT else f"按{rule_label(rule)}仍计为已改造"
            return f"{facts.reason}：{counted}"
        return ""

    def names_by_verdict(self, names: Iterable[str | None]) -> dict[str, set[str]]:
        """The given raw 热源 values grouped by verdict (for district households)."""
        out: dict[str, set[str]] = {NONCOMPLIANT: set(), UNVERIFIED: set()}
        for name in names:
            if name is None:
                continue
            verdict = self.verdict("district", name)
            if verdict is not None:
                out[verdict].add(name)
        return out


def load_register(session: Session, *, known_at: datetime | None = None) -> Register:
    """The register now, or as known at ``known_at`` (newest version recorded by then)."""
    facts: list[SourceFacts]
    if known_at is None:
        facts = [
            SourceFacts(s.id, s.name, s.kind, s.env_grade, bool(s.shutdown_listed), s.shutdown_on)
            for s in session.scalars(select(HeatSource).order_by(HeatSource.id))
        ]
    else:
        v = HeatSourceVersion
        rank = (
            func.row_number()
            .over(partition_by=v.heat_source_id, order_by=(v.recorded_at.desc(), v.id.desc()))
            .label("rank")
        )
        ranked = (
            select(
                v.heat_source_id,
                v.name,
                v.kind,
                v.env_grade,
                v.shutdown_listed,
                v.shutdown_on,
                rank,
            )
            .where(v.recorded_at <= known_at)
            .subquery()
        )
        facts = [
            SourceFacts(sid, name, kind, grade, bool(listed), on)
            for sid, name, kind, grade, listed, on, _rank in session.execute(
                select(ranked).where(ranked.c.rank == 1).order_by(ranked.c.heat_source_id)
            )
        ]
    return Register({source_key(f.name): f for f in facts})


def ledger_sources(session: Session) -> list[tuple[str, str, str | None, int]]:
    """(township code, township name, 热源 value, households) of active district households now."""
    h = Household
    stmt = (
        select(Township.code, Township.name, h.heat_source, func.count())
        .select_from(h)
        .join(Village, h.village_id == Village.id)
        .join(Township, Village.township_id == Township.id)
        .where(h.active == true(), h.route == "district")
        .group_by(Township.code, Township.name, h.heat_source)
        .order_by(Township.code, h.heat_source)
    )
    return [(code, tname, source, int(n)) for code, tname, source, n in session.execute(stmt)]


def unmatched_ledger_sources(session: Session, register: Register) -> list[dict[str, Any]]:
    """Ledgers' 热源 names that match no registered source, per township, with households."""
    counts: dict[tuple[str, str], int] = defaultdict(int)
    names: dict[tuple[str, str], str] = {}
    for tcode, _tname, source, n in ledger_sources(session):
        if source is None or not source.strip() or register.match(source) is not None:
            continue
        key = (tcode, source_key(source))
        counts[key] += n
        names.setdefault(key, source)
    # per township, names in 拼音 order (heating.collation), not by code point
    return [
        {"township": tcode, "name": names[(tcode, key)], "households": counts[(tcode, key)]}
        for tcode, key in sorted(counts, key=lambda k: (k[0], pinyin_key(names[k])))
    ]


def households_served(session: Session, register: Register) -> dict[int, int]:
    """Registered source id → active district households naming it now."""
    served: dict[int, int] = defaultdict(int)
    for _tcode, _tname, source, n in ledger_sources(session):
        facts = register.match(source)
        if facts is not None:
            served[facts.id] += n
    return dict(served)


@dataclass
class HeatSourceCounts:
    """One village's households clean by status, by what the register says of their source."""

    noncompliant: int = 0  # on a non-compliant source (strict: not counted as clean)
    noncompliant_lapsed: int = 0  # of those, lapsed (coal again / abandoned)
    unverified: int = 0  # source blank or not registered (counted as clean)


def clean_district_sources(
    session: Session,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    village_ids: Select | None = None,
) -> list[tuple[int, str | None, bool, int]]:
    """(village id, 热源 value, lapsed, households) of district households clean by status.

    The state of each household is ``heating.history``'s as of (``as_of``,
    ``known_at``); one GROUP BY, names judged by the caller (matching is by
    normalised name, in Python).  As of a date, the households district-heated
    now are the ones read (a household that switched away from district
    heating after the date is not judged by its source for that date): this
    keeps "as of" as cheap as the current count where few households are
    district-heated (benchmarks/coverage.py).
    """
    lapsed_of: Any
    counting = counting_known_at(session, known_at)
    if as_of is None and counting is None:
        h = Household
        lapsed_of = h.operation.in_(LAPSED_OPERATIONS)
        stmt = select(h.village_id, h.heat_source, lapsed_of, func.count()).where(
            h.active == true(), h.route == "district", h.status.in_(CLEAN_STATUSES)
        )
        village = h.village_id
        group = (h.village_id, h.heat_source, lapsed_of)
    else:
        # Only households district-heated now are read (through ix_households_district_sources),
        # so only their history is ranked; one that left district heating since the
        # date is judged by its status alone then (README, "The rule").
        district_now = select(Household.id).where(Household.route == "district")
        if village_ids is not None:
            # ... and of those only the ones of these villages, now or in any version
            # (a household moved out since the date counts where it was then): one
            # district's page ranks its own history, not the city's.
            v = HouseholdVersion
            district_now = district_now.where(
                Household.village_id.in_(village_ids)
                | Household.id.in_(select(v.household_id).where(v.village_id.in_(village_ids)))
            )
        s = state_as_of(as_of, counting, ("route", "heat_source"), among=district_now).c
        lapsed_of = s.operation.in_(LAPSED_OPERATIONS)
        stmt = select(s.village_id, s.heat_source, lapsed_of, func.count()).where(
            s.route == "district", s.status.in_(CLEAN_STATUSES)
        )
        village = s.village_id
        group = (s.village_id, s.heat_source, lapsed_of)
    if village_ids is not None:
        stmt = stmt.where(village.in_(village_ids))
    return [
        (int(vid), name, bool(lapsed), int(n))
        for vid, name, lapsed, n in session.execute(stmt.group_by(*group))
    ]


def village_counts(
    session: Session,
    register: Register,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    village_ids: Select | None = None,
) -> dict[int, HeatSourceCounts]:
    """Village id → counts of its district households clean by status, judged by ``register``."""
    out: dict[int, HeatSourceCounts] = {}
    for village_id, name, lapsed, n in clean_district_sources(
        session, as_of=as_of, known_at=known_at, village_ids=village_ids
    ):
        verdict = register.verdict("district", name)
        if verdict is None:
            continue
        counts = out.setdefault(village_id, HeatSourceCounts())
        if verdict == NONCOMPLIANT:
            counts.noncompliant += n
            if lapsed:
                counts.noncompliant_lapsed += n
        else:
            counts.unverified += n
    return out
