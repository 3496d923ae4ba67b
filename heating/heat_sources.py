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
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from heating.models import (
    COMPLIANT_GRADES,
    ENV_GRADE_LABELS,
    HEAT_SOURCE_KIND_LABELS,
    HeatSource,
    HeatSourceVersion,
    Household,
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
        reasons.append(f"环保绩效等级为{ENV_GRADE_LABELS.get(env_grade, env_grade)}")
    if shutdown_listed:
        reasons.append("已列入关停淘汰计划")
    return "工业余热热源" + "、".join(reasons) + "（应为 B 级及以上且未列入关停淘汰计划）"


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
    return [
        {"township": tcode, "name": names[(tcode, key)], "households": counts[(tcode, key)]}
        for tcode, key in sorted(counts)
    ]


def households_served(session: Session, register: Register) -> dict[int, int]:
    """Registered source id → active district households naming it now."""
    served: dict[int, int] = defaultdict(int)
    for _tcode, _tname, source, n in ledger_sources(session):
        facts = register.match(source)
        if facts is not None:
            served[facts.id] += n
    return dict(served)
