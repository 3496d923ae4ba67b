"""heating.clock: stored UTC, days and --known-at in the configured zone."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from heating import clock


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        # A time covers the unit it is given to: the second, the minute, the day.
        ("2021-11-05T17:30:00+08:00", datetime(2021, 11, 5, 9, 30, 0, 999999)),
        ("2021-11-05T09:30:00Z", datetime(2021, 11, 5, 9, 30, 0, 999999)),
        ("2021-11-05T17:30", datetime(2021, 11, 5, 9, 30, 59, 999999)),  # no offset: Beijing
        ("2021-11-05T17:30+08:00", datetime(2021, 11, 5, 9, 30, 59, 999999)),
        ("2021-11-05 17:30:00", datetime(2021, 11, 5, 9, 30, 0, 999999)),
        ("2021-11-05 17:30:00.250", datetime(2021, 11, 5, 9, 30, 0, 250000)),  # exact
        ("2021-11-05", datetime(2021, 11, 5, 15, 59, 59, 999999)),  # the end of that day
    ],
)
def test_known_at_forms(text: str, utc: datetime) -> None:
    assert clock.parse_known_at(text) == utc


def test_known_at_in_another_zone_and_refusal() -> None:
    assert clock.parse_known_at("2021-11-05T12:00:00", "UTC") == datetime(
        2021, 11, 5, 12, 0, 0, 999999
    )
    with pytest.raises(ValueError, match="ISO 8601"):
        clock.parse_known_at("yesterday")


def test_days_and_times_are_the_zones() -> None:
    assert clock.local_date(datetime(2021, 10, 31, 17)) == date(2021, 11, 1)
    assert clock.local_date(datetime(2021, 10, 31, 15, 59)) == date(2021, 10, 31)
    assert clock.iso(datetime(2021, 11, 5, 9, 30, 5, 123)) == "2021-11-05T17:30:05+08:00"
    assert clock.shown_with_offset(datetime(2021, 11, 5, 9, 30, 5)) == "2021-11-05 17:30:05 +08:00"
    assert clock.shown(datetime(2021, 11, 5, 9, 30)) == "2021-11-05 17:30"


def test_known_at_option_on_the_command_line(run_cli, tiny_district) -> None:
    bad = run_cli("coverage", "--known-at", "last week")
    assert bad.exit_code == 2 and "ISO 8601" in bad.stderr
    ok = run_cli("coverage", "--known-at", "2021-11-05", "--by", "district")
    assert ok.exit_code == 0, ok.stderr
    assert "已知时点 2021-11-05 23:59:59 +08:00" in ok.stdout
    derived = run_cli("zones", "derive", "--as-of", "2021-10-31", "--known-at", "2021-11-05")
    assert derived.exit_code == 0, derived.stderr
