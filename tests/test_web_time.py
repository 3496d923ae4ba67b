"""Times are stored in UTC and shown in the configured time zone (Beijing by default)."""

from __future__ import annotations

from datetime import datetime

import pytest

from heating.config import ConfigError, load_config
from heating.web.layout import when


def test_pages_show_beijing_time(app) -> None:
    with app.test_request_context("/"):
        assert when(datetime(2021, 6, 30, 16, 30)) == "2021-07-01 00:30"


def test_an_unknown_time_zone_names_the_setting() -> None:
    with pytest.raises(ConfigError, match="timezone"):
        load_config(environ={"HEATING_TIMEZONE": "Mars/Olympus"})
