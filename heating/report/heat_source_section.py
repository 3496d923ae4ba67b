"""The report's heat-source check (热源核查) as of the cut-off, known at its known-at time.

The register is the one known at the report's known-at time
(``heating.heat_sources.load_register``); the households are the district
households clean by status as of the cut-off (``clean_district_sources``,
the same reading the village facts take the rule from), so the
non-compliant households here are exactly those the measures leave out of
clean under ``strict`` (or keep, and list, under ``warn``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from heating.collation import pinyin_key
from heating.heat_sources import (
    NONCOMPLIANT,
    UNVERIFIED,
    SourceFacts,
    clean_district_sources,
    counting_rule,
    load_register,
    source_key,
)
from heating.village_facts import VillageFacts


@dataclass(frozen=True)
class SourceLine:
    """One registered source with the households it serves (clean by status, as of)."""

    facts: SourceFacts
    by_township: dict[str, int]  # township code → households served

    @property
    def households(self) -> int:
        return sum(self.by_township.values())


@dataclass(frozen=True)
class TownshipHeat:
    """One township's district-heated households clean by status, by verdict."""

    township_code: str
    township_name: str
    district_clean: int  # district route, clean by status
    noncompliant: int
    unverified: int


@dataclass(frozen=True)
class FlaggedSource:
    """Households of one village heated by one non-compliant or unverified source name."""

    township_code: str
    township_name: str
    village_code: str
    village_name: str
    source: str  # the register's name, or the ledger's 热源 value ("" when blank)
    households: int
    verdict: str  # NONCOMPLIANT / UNVERIFIED
    reason: str


@dataclass(frozen=True)
class HeatSourceSection:
    rule: str
    sources: list[SourceLine]
    townships: list[TownshipHeat]
    flagged: list[FlaggedSource]  # non-compliant first, then unverified

    @property
    def noncompliant(self) -> int:
        return sum(t.noncompliant for t in self.townships)

    @property
    def unverified(self) -> int:
        return sum(t.unverified for t in self.townships)

    def only(self, townships: Collection[str]) -> HeatSourceSection:
        """The section of these townships alone (an approved-only report withholds the rest)."""
        keep = set(townships)
        return replace(
            self,
            sources=[
                replace(line, by_township={k: n for k, n in line.by_township.items() if k in keep})
                for line in self.sources
            ],
            townships=[t for t in self.townships if t.township_code in keep],
            flagged=[f for f in self.flagged if f.township_code in keep],
        )


def heat_source_section(
    session: Session, facts: list[VillageFacts], as_of: date, known_at: datetime
) -> HeatSourceSection:
    """Sources, households served and flagged households of the villages in ``facts``."""
    register = load_register(session, known_at=known_at)
    by_id = {f.village_id: f for f in facts}
    served: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    township_counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    flagged: dict[tuple[int, str, str], int] = defaultdict(int)
    names: dict[tuple[int, str, str], str] = {}
    # The report's villages only: a district's report reads no other district's households.
    for village_id, name, _lapsed, n in clean_district_sources(
        session, as_of=as_of, known_at=known_at, village_ids=list(by_id)
    ):
        f = by_id.get(village_id)
        if f is None:
            continue
        counts = township_counts[f.township_code]
        counts[0] += n
        source = register.match(name)
        if source is not None:
            served[source.id][f.township_code] += n
        verdict = register.verdict("district", name)
        if verdict is None:
            continue
        counts[1 if verdict == NONCOMPLIANT else 2] += n
        key = (village_id, verdict, source_key(name or ""))
        flagged[key] += n
        # A registered source under its register name; an unregistered one as first written.
        names.setdefault(key, source.name if source is not None else (name or "").strip())
    townships = []
    seen: dict[str, str] = {}
    for f in facts:
        seen.setdefault(f.township_code, f.township_name)
    for code in sorted(seen):
        district_clean, noncompliant, unverified = township_counts.get(code, [0, 0, 0])
        townships.append(TownshipHeat(code, seen[code], district_clean, noncompliant, unverified))
    flagged_lines = []
    for (village_id, verdict, _key), n in flagged.items():
        f = by_id[village_id]
        source = register.match(names[(village_id, verdict, _key)])
        reason = (
            source.reason
            if verdict == NONCOMPLIANT and source is not None
            else "热源未登记或未填写，无法核实"
        )
        flagged_lines.append(
            FlaggedSource(
                f.township_code,
                f.township_name,
                f.code,
                f.name,
                names[(village_id, verdict, _key)],
                n,
                verdict,
                reason,
            )
        )
    order = {NONCOMPLIANT: 0, UNVERIFIED: 1}
    # names in 拼音 order (heating.collation), as every list of names is sorted
    flagged_lines.sort(key=lambda x: (order[x.verdict], x.village_code, pinyin_key(x.source)))
    sources = [SourceLine(s, dict(served.get(s.id, {}))) for s in register.sources.values()]
    sources.sort(
        key=lambda line: (
            not line.facts.noncompliant,
            line.facts.kind or "",
            pinyin_key(line.facts.name),
        )
    )
    return HeatSourceSection(counting_rule(session), sources, townships, flagged_lines)
