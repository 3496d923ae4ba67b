"""Sign-off periods: a period is a report cut-off, ``YYYY-report_cutoff``.

2021-10-31 with the default ``10-31``.  The *current* period is the latest
cut-off on or before today; a period whose cut-off is after today cannot be
submitted (``heating.signoff.transition``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating import clock
from heating.config import Config, cutoff_of
from heating.models import ImportBatch, Signoff

PERIOD_FORM = "YYYY-MM-DD"


def period_of_year(config: Config, year: int) -> date:
    """The period (report cut-off) of ``year``."""
    return cutoff_of(year, config.report_cutoff)


def current_period(config: Config, today: date | None = None) -> date:
    """The latest cut-off on or before today (in the configured zone)."""
    today = today or clock.today(config.timezone)
    this_year = period_of_year(config, today.year)
    return this_year if this_year <= today else period_of_year(config, today.year - 1)


def recent_periods(config: Config, count: int = 3, today: date | None = None) -> list[date]:
    """The current period and the ``count - 1`` before it, newest first."""
    newest = current_period(config, today)
    return [period_of_year(config, newest.year - i) for i in range(count)]


def periods_in_view(
    session: Session, config: Config, *, extra: date | None = None, limit: int = 4
) -> list[date]:
    """The periods worth showing, newest first: the current one, the one the newest
    ledger falls in (a district may be catching up on past years), those with any
    sign-off, and ``extra`` (asked for); at most ``limit`` besides ``extra``."""
    found = {current_period(config)}
    newest = session.scalar(
        select(func.max(ImportBatch.ledger_date)).where(
            ImportBatch.status == "committed", ImportBatch.kind.in_(("ledger", "demo"))
        )
    )
    if newest is not None:
        found.add(current_period(config, newest))
    found.update(
        session.scalars(
            select(Signoff.period).distinct().order_by(Signoff.period.desc()).limit(limit)
        )
    )
    chosen = sorted(found, reverse=True)[:limit]
    if extra is not None and extra not in chosen:
        chosen = sorted([*chosen, extra], reverse=True)
    return chosen


def parse_period(text: str, config: Config) -> date:
    """A period given as text; ``ValueError`` (Chinese) unless it is a cut-off date."""
    raw = (text or "").strip()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"报送期应为 {PERIOD_FORM} 格式的报告截止日，如 {period_of_year(config, 2021)}，"
            f"得到 {text!r}"
        ) from None
    check_period(day, config)
    return day


def check_period(day: date, config: Config) -> None:
    """``ValueError`` (Chinese) unless ``day`` is the report cut-off of its year."""
    if day != period_of_year(config, day.year):
        raise ValueError(
            f"{day.isoformat()} 不是报送期：报送期是每年的报告截止日（report_cutoff = "
            f"{config.report_cutoff}），如 {period_of_year(config, day.year).isoformat()}"
        )
