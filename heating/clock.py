"""Times: stored as naive UTC, read and shown in the configured time zone.

The database keeps every instant as naive UTC (both engines store it the same
way).  People live in the configured zone (``timezone``, Asia/Shanghai by
default): a "day" — a ledger date, the upload day, the date part of a
``--known-at`` — is a day there, and every time shown or printed carries that
zone's offset.  This module is the one place that converts.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"

# ISO 8601 forms --known-at accepts (said in the refusal).
KNOWN_AT_FORMS = "2021-11-01、2021-11-01T18:00、2021-11-01 18:00:00、2021-11-01T18:00:00+08:00"
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_FRACTION = re.compile(r"\d{2}:\d{2}:\d{2}[.,]\d")
# A time given to the minute: HH:MM not followed by :SS (an offset's +08:00 follows a time).
_TO_MINUTE = re.compile(r"[T ]\d{2}:\d{2}(?!:\d)(?:Z|[+-]\d{2}:?\d{2})?$")


@cache
def zone(name: str = DEFAULT_TIMEZONE) -> ZoneInfo:
    return ZoneInfo(name)


def utc_naive(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """An instant as the database stores it; a naive ``moment`` is read in ``tz``."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=zone(tz))
    return aware.astimezone(UTC).replace(tzinfo=None)


def local(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """A stored (naive UTC) or aware instant in the configured zone, aware."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(zone(tz))


def local_date(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> date:
    """The day an instant falls on in the configured zone (2021-10-31 17:00 UTC → 11-01)."""
    return local(moment, tz).date()


def today(tz: str = DEFAULT_TIMEZONE) -> date:
    """Today in the configured zone (the upload day)."""
    return datetime.now(zone(tz)).date()


def end_of_day(day: date, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """The last instant of ``day`` in the zone, as naive UTC (inclusive bound)."""
    midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=zone(tz))
    return midnight.astimezone(UTC).replace(tzinfo=None) - timedelta(microseconds=1)


def end_of_second(moment: datetime) -> datetime:
    """The last instant of ``moment``'s second (inclusive bound).

    A known-at shown or typed to the second covers the whole second: a report
    generated at 10:00:05.4 must count a batch committed at 10:00:05.2, and
    regenerating it with the printed ``10:00:05`` must give the same figures.
    """
    return moment.replace(microsecond=999_999)


def parse_known_at(text: str, tz: str = DEFAULT_TIMEZONE) -> datetime:
    """Read ``--known-at``: ISO 8601; no offset → the zone; a date alone → the end of that day.

    A time covers the whole unit it is given to: ``18:00`` the minute,
    ``18:00:05`` the second (``end_of_second``); fractions of a second are exact.
    Returns naive UTC.  Raises ``ValueError`` with a Chinese message naming the forms.
    """
    raw = (text or "").strip()
    try:
        if _DATE_ONLY.match(raw):
            return end_of_day(date.fromisoformat(raw), tz)
        moment = utc_naive(datetime.fromisoformat(raw), tz)
        if _FRACTION.search(raw):
            return moment
        if _TO_MINUTE.search(raw):
            return moment + timedelta(seconds=59, microseconds=999_999)
        return end_of_second(moment)
    except ValueError:
        raise ValueError(
            f"时间应为 ISO 8601 格式，如 {KNOWN_AT_FORMS}（不带时区时按 {tz}），得到 {text!r}"
        ) from None


def iso(moment: datetime | None, tz: str = DEFAULT_TIMEZONE) -> str | None:
    """An instant for JSON: ISO 8601 in the zone with its offset, to the second."""
    if moment is None:
        return None
    return local(moment, tz).isoformat(timespec="seconds")


def shown(moment: datetime | None, tz: str = DEFAULT_TIMEZONE, *, seconds: bool = False) -> str:
    """An instant for people: ``2021-11-02 18:05`` in the configured zone."""
    if moment is None:
        return ""
    return local(moment, tz).strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def shown_with_offset(moment: datetime, tz: str = DEFAULT_TIMEZONE) -> str:
    """``2021-11-02 18:05:09 +08:00``: for the report cover, where the zone must be explicit."""
    text = local(moment, tz).strftime("%Y-%m-%d %H:%M:%S %z")
    return text[:-2] + ":" + text[-2:]
