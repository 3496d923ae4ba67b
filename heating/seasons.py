"""Heating seasons and the ``[usage]`` settings that judge use within them.

A season is named by the year it starts: with the default bounds
(``season_start`` = "11-01", ``season_end`` = "03-31") season 2021 runs
from 2021-11-01 to 2022-03-31 inclusive.  ``UsageSettings`` is the parsed
``[usage]`` table of the configuration file (``heating.config`` declares it
once); its defaults are the rule of issue 13.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any


def _month_day(value: Any, name: str) -> tuple[int, int]:
    from heating.config import ConfigError

    try:
        month, day = (int(part) for part in str(value).split("-"))
        date(2000, month, day)  # a leap year: 02-29 is allowed
    except (TypeError, ValueError):
        raise ConfigError(f"设置 usage.{name} 应为“月-日”，如 11-01，得到 {value!r}") from None
    return month, day


@dataclass(frozen=True)
class UsageSettings:
    """The ``[usage]`` table: season bounds and the 疑似改而不用 rule's parameters."""

    ratio: float = 0.3
    min_peers: int = 10
    min_kwh_per_m2: float | None = None
    min_m3_per_m2: float | None = None
    season_start: tuple[int, int] = (11, 1)
    season_end: tuple[int, int] = (3, 31)
    relapse_share: float = 0.1

    def season(self, year: int) -> Season:
        """The season named ``year``."""
        start = date(year, *self.season_start)
        end_year = year + 1 if self.season_end <= self.season_start else year
        return Season(year, start, date(end_year, *self.season_end))

    def season_of(self, day: date) -> int | None:
        """The season containing ``day``, or None between seasons."""
        for year in (day.year - 1, day.year):
            s = self.season(year)
            if s.start <= day <= s.end:
                return year
        return None

    def seasons_touching(self, start: date, end: date) -> list[int]:
        """Seasons that share at least one day with ``start``…``end``."""
        return [
            year
            for year in range(start.year - 1, end.year + 1)
            if self.season(year).start <= end and start <= self.season(year).end
        ]

    def latest_ended(self, day: date) -> int | None:
        """The latest season that ended on or before ``day``."""
        for year in (day.year, day.year - 1, day.year - 2):
            if self.season(year).end <= day:
                return year
        return None

    def current_or_next(self, day: date) -> int:
        """The season containing ``day``, else the next one to start (subsidies "this season")."""
        found = self.season_of(day)
        if found is not None:
            return found
        return next(y for y in (day.year - 1, day.year, day.year + 1) if self.season(y).start > day)

    def floor_per_m2(self, route: str) -> float | None:
        return self.min_kwh_per_m2 if route == "electric" else self.min_m3_per_m2


@dataclass(frozen=True)
class Season:
    """A heating season: its name (starting year) and first and last day, inclusive."""

    year: int
    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def day_before(self) -> date:
        return self.start - timedelta(days=1)


def counting_usage(session: Any) -> UsageSettings:
    """The ``[usage]`` settings the session counts by (the runtime sets them; else the defaults).

    Like ``heating.heat_sources.counting_rule``: every reader of household
    counts in one session judges use the same way without each caller
    passing the settings on, so the dashboard, the lists, the map and the
    CLI cannot disagree by forgetting them.
    """
    settings = session.info.get("usage")
    return settings if isinstance(settings, UsageSettings) else UsageSettings()


def parse_usage(raw: Any) -> UsageSettings:
    """Build UsageSettings from the ``[usage]`` table; ConfigError names a bad key."""
    from heating.config import ConfigError

    if raw is None:
        return UsageSettings()
    if isinstance(raw, str):  # HEATING_USAGE as JSON
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"设置 usage 不是有效的 JSON：{exc}") from None
    if not isinstance(raw, Mapping):
        raise ConfigError("设置 usage 应为表（[usage]）")
    known = {
        "ratio",
        "min_peers",
        "min_kwh_per_m2",
        "min_m3_per_m2",
        "season_start",
        "season_end",
        "relapse_share",
    }
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"[usage] 中有未知的键：{'、'.join(sorted(unknown))}")
    values: dict[str, Any] = {}
    for name in ("ratio", "relapse_share"):
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise ConfigError(f"设置 usage.{name} 应为 0 到 1 之间的小数，得到 {value!r}")
            values[name] = float(value)
    if "min_peers" in raw:
        value = raw["min_peers"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"设置 usage.min_peers 应为正整数，得到 {value!r}")
        values["min_peers"] = value
    for name in ("min_kwh_per_m2", "min_m3_per_m2"):
        if name in raw:
            value = raw[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"设置 usage.{name} 应为正数，得到 {value!r}")
            values[name] = float(value)
    for name in ("season_start", "season_end"):
        if name in raw:
            values[name] = _month_day(raw[name], name)
    settings = UsageSettings(**values)
    if settings.season_start == settings.season_end:
        raise ConfigError("设置 usage.season_start 与 season_end 不能相同")
    return settings
