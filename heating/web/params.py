"""Dates and numbers from query strings and forms: parsed once, refused in Chinese.

A value that does not parse or lies outside its range is a ``Refused`` (400
with the message), never a 500 from deep inside a query: ``as_of=9999-12-31``
used to overflow when the measures added a day to it.
"""

from __future__ import annotations

from datetime import date

from flask import request

from heating.errors import Refused

EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)


def parse_day(text: str | None, label: str) -> date | None:
    """A date between 2000-01-01 and 2100-12-31, or None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused(f"{label}应为日期（年-月-日），如 2021-10-31，得到 {text!r}。") from None
    if not EARLIEST <= day <= LATEST:
        raise Refused(
            f"{label}应在 {EARLIEST.isoformat()} 到 {LATEST.isoformat()} 之间，得到 {text}。"
        )
    return day


def date_arg(name: str, label: str) -> date | None:
    """The query parameter ``name`` as a date (see ``parse_day``)."""
    return parse_day(request.args.get(name), label)


def int_arg(name: str, label: str, *, default: int, minimum: int, maximum: int) -> int:
    """The query parameter ``name`` as an integer within [minimum, maximum]."""
    text = request.args.get(name, "").strip()
    if not text:
        return default
    if not text.isdigit() or not minimum <= int(text) <= maximum:
        raise Refused(f"{label}应为 {minimum} 到 {maximum} 之间的整数，得到 {text!r}。")
    return int(text)


YES = ("1", "true", "on", "yes")
NO = ("", "0", "false", "off", "no")


def flag_arg(name: str, label: str) -> bool:
    """The query parameter ``name`` as yes/no (a checkbox sends "1" or nothing)."""
    text = request.args.get(name, "").strip().lower()
    if text in YES:
        return True
    if text in NO:
        return False
    raise Refused(f"{label}应为 1（是）或 0（否），得到 {text!r}。")


def page_arg(pages: int) -> int:
    """The ``page`` parameter: a positive integer; past the last page shows the last."""
    return min(int_arg("page", "页码 page", default=1, minimum=1, maximum=10**9), pages)
