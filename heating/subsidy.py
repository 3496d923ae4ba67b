"""The subsidy schedule: operating subsidies due, ending, and device subsidies against the rules.

Rules are configuration (``[[subsidy.rules]]`` in the file named by
``HEATING_CONFIG``): route × completion (calendar) year → device subsidy
(元/户), operating subsidy per season (元/户) and the number of seasons it
is paid, starting with the season of completion — the season containing the
completion date, or the next one when it falls between seasons (with the
default season: completed 04-01…12-31 of Y → season Y, 01-01…03-31 → Y−1).

For a season S:

- **due**: completed households, not lapsed (散煤复烧/弃用), with a rule
  whose seasons include S; ``due_total`` sums their operating amounts;
- **ending**: due households whose last paid season is S — at risk of going
  back to coal next winter;
- **mismatched_device**: every completed household a rule covers whose
  recorded device subsidy differs from the rule's; a blank one is
  ``device_missing``, not a mismatch;
- **no_rule**: completed households no rule covers (route and year, or no
  completion date).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import NotFound, Refused
from heating.evidence_cache import kept
from heating.models import ROUTE_LABELS, Township
from heating.privacy import mask_name
from heating.seasons import UsageSettings
from heating.usage import HouseholdState, household_states

README_POINTER = "见 README“补贴发放计划 / Subsidy schedule”一节"

# What the schedule counts per township and route (and in all): households and money.
COUNTS = (
    "due_households",
    "due_total",
    "ending_households",
    "mismatched_device",
    "device_missing",
    "no_rule",
)


@dataclass(frozen=True)
class SubsidyRule:
    """One published scheme line: route × completion year → amounts and seasons."""

    route: str
    year: int
    device: Decimal
    operating: Decimal
    seasons: int


def _amount(value: Any, where: str) -> Decimal:
    from heating.config import ConfigError

    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(f"{where} 应为不小于 0 的金额（元），得到 {value!r}")
    return Decimal(str(value)).quantize(Decimal("0.01"))


def parse_subsidy(raw: Any) -> tuple[SubsidyRule, ...]:
    """The ``[subsidy]`` table's ``rules``; ConfigError names the rule and key that are wrong."""
    from heating.config import ConfigError

    if raw is None:
        return ()
    if isinstance(raw, str):  # HEATING_SUBSIDY as JSON
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"设置 subsidy 不是有效的 JSON：{exc}") from None
    if not isinstance(raw, Mapping) or not isinstance(raw.get("rules", []), list):
        raise ConfigError("设置 subsidy 应为表，补贴规则写成 [[subsidy.rules]]")
    rules: list[SubsidyRule] = []
    seen: set[tuple[str, int]] = set()
    for n, item in enumerate(raw.get("rules", []), start=1):
        where = f"第 {n} 条补贴规则"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where} 应为表")
        unknown = set(item) - {"route", "year", "device", "operating", "seasons"}
        if unknown:
            raise ConfigError(f"{where} 有未知的键：{'、'.join(sorted(unknown))}")
        route = item.get("route")
        if route not in ROUTE_LABELS:
            raise ConfigError(
                f"{where} 的 route 应为 {'/'.join(ROUTE_LABELS)} 之一，得到 {route!r}"
            )
        year = item.get("year")
        if isinstance(year, bool) or not isinstance(year, int) or not 2000 <= year <= 2100:
            raise ConfigError(f"{where} 的 year 应为完工年份（如 2018），得到 {year!r}")
        seasons = item.get("seasons", 0)
        if isinstance(seasons, bool) or not isinstance(seasons, int) or seasons < 0:
            raise ConfigError(f"{where} 的 seasons 应为不小于 0 的整数，得到 {seasons!r}")
        if (route, year) in seen:
            raise ConfigError(f"{where}：{ROUTE_LABELS[route]} {year} 年的规则重复")
        seen.add((route, year))
        rules.append(
            SubsidyRule(
                route,
                year,
                _amount(item.get("device", 0), f"{where} 的 device"),
                _amount(item.get("operating", 0), f"{where} 的 operating"),
                seasons,
            )
        )
    return tuple(rules)


def first_season(state: HouseholdState, settings: UsageSettings) -> int | None:
    """The season of completion, or the next one when completed between seasons."""
    day = state.completed_day
    if day is None:
        return None
    year = settings.season_of(day)
    if year is not None:
        return year
    return next(y for y in (day.year - 1, day.year, day.year + 1) if settings.season(y).start > day)


def _line(state: HouseholdState) -> dict[str, Any]:
    return {
        "village": state.village_code,
        "township": state.township_code,
        "household_no": state["household_no"],
        "head_name": mask_name(state["head_name"]),
        "route": state["route"],
        "completed_on": state.completed_day.isoformat() if state.completed_day else None,
    }


def schedule(
    session: Session,
    season: int,
    rules: tuple[SubsidyRule, ...],
    settings: UsageSettings,
    *,
    township_code: str | None = None,
    as_of: date | None = None,
    known_at: datetime | None = None,
    district_code: str | None = None,
) -> dict[str, Any]:
    """The schedule of one season (module docstring), in all and per township × route
    (of one township or district when given).

    Households as they are now, or as of a date (the annual report's cut-off).
    Kept until the data change (``heating.evidence_cache``): it reads every
    household of its scope.
    """
    key = (
        "schedule",
        season,
        tuple(rules),
        settings,
        township_code,
        as_of,
        known_at,  # as given: the register and usage batches have times of their own
        district_code,
    )
    return kept(
        session,
        key,
        lambda: _schedule(
            session, season, rules, settings, township_code, as_of, known_at, district_code
        ),
    )


def _schedule(
    session: Session,
    season: int,
    rules: tuple[SubsidyRule, ...],
    settings: UsageSettings,
    township_code: str | None,
    as_of: date | None,
    known_at: datetime | None,
    district_code: str | None,
) -> dict[str, Any]:
    """``schedule`` computed."""
    if not rules:
        raise Refused(
            "没有配置补贴规则：请在 HEATING_CONFIG 指向的配置文件中按路线和完工年份写 [[subsidy.rules]]"
            f"（device、operating、seasons），{README_POINTER}。"
        )
    names = dict(session.execute(select(Township.code, Township.name)).all())
    if township_code is not None and township_code not in names:
        raise NotFound(
            f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位统计用区划代码）。"
        )
    by_key = {(r.route, r.year): r for r in rules}
    towns: dict[str, dict[str, Any]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    routes: dict[tuple[str, str], dict[str, Any]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    ending: list[dict[str, Any]] = []
    mismatched: list[dict[str, Any]] = []
    # A district's schedule reads that district's households only (not the city's, then dropped).
    districts = {district_code} if district_code else None
    for s in household_states(
        session, as_of, township_code=township_code, known_at=known_at, district_codes=districts
    ):
        if not s.clean:
            continue
        day = s.completed_day
        rule = by_key.get((s["route"], day.year)) if day is not None else None
        counts = (towns[s.township_code], routes[(s.township_code, s["route"] or "")])
        if rule is None:
            for c in counts:
                c["no_rule"] += 1
            continue
        recorded = s["device_subsidy"]
        if recorded is None:
            for c in counts:
                c["device_missing"] += 1
        elif Decimal(recorded) != rule.device:
            for c in counts:
                c["mismatched_device"] += 1
            mismatched.append(_line(s) | {"recorded": float(recorded), "rule": float(rule.device)})
        first = first_season(s, settings)
        if s.lapsed or first is None or not first <= season < first + rule.seasons:
            continue
        for c in counts:
            c["due_households"] += 1
            c["due_total"] += rule.operating
        if season == first + rule.seasons - 1:
            for c in counts:
                c["ending_households"] += 1
            ending.append(_line(s))
    total = {k: sum(t[k] for t in towns.values()) for k in COUNTS}
    order = list(ROUTE_LABELS)
    return {
        "season": str(season),
        **{k: float(v) if k == "due_total" else v for k, v in total.items()},
        "by_township": [
            {
                "township": code,
                "name": names.get(code),
                **{k: float(v) if k == "due_total" else v for k, v in t.items()},
                "by_route": [
                    {
                        "route": route,
                        **{k: float(v) if k == "due_total" else v for k, v in r.items()},
                    }
                    for (tcode, route), r in sorted(
                        routes.items(),
                        key=lambda kv: order.index(kv[0][1]) if kv[0][1] in order else 99,
                    )
                    if tcode == code
                ],
            }
            for code, t in sorted(towns.items())
        ],
        "ending": sorted(ending, key=lambda h: (h["village"], h["household_no"] or "")),
        "mismatched": sorted(mismatched, key=lambda h: (h["village"], h["household_no"] or "")),
    }
