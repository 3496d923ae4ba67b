"""Helpers the command modules share: the runtime from the click context, JSON output."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import click

from heating.clock import parse_known_at
from heating.db import require_initialised
from heating.runtime import Runtime, open_runtime


def get_runtime(ctx: click.Context | None = None, *, initialised: bool = True) -> Runtime:
    """Open (once per invocation) the runtime for the ``--db`` given to the group."""
    ctx = ctx or click.get_current_context()
    root = ctx.find_root()
    root.ensure_object(dict)
    runtime = root.obj.get("runtime")
    if runtime is None:
        runtime = open_runtime(database_url=root.obj.get("database_url"))
        root.obj["runtime"] = runtime
        root.call_on_close(runtime.engine.dispose)
    if initialised:
        require_initialised(runtime.engine)
    return runtime


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def emit_json(data: Any) -> None:
    """Print ``data`` as UTF-8 JSON (Chinese kept readable) on stdout."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def parse_known_at_option(
    value: str | None, tz: str, option: str = "--known-at"
) -> datetime | None:
    """Parse ``--known-at`` (ISO 8601; no offset → the configured zone; a date → its end)."""
    if value is None:
        return None
    try:
        return parse_known_at(value, tz)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=option) from None


def parse_date_option(value: str | None, option: str = "--as-of") -> date | None:
    """Parse an ISO date option; refuse with a Chinese message naming the option."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"日期应为 YYYY-MM-DD，如 2021-10-31，得到 {value!r}", param_hint=option
        ) from None


def district_option(command: Any) -> Any:
    """``--district CODE``: limit a command to one district (``heating.scope``)."""
    return click.option(
        "--district",
        "district_code",
        metavar="CODE",
        help="只看一个区县（6 位代码；库中有多个区县时使用）",
    )(command)
