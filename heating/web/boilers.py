"""The 燃煤锅炉 page: coal-boiler 清零 progress and gas low-NOx, read-only, as of a date."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue

from heating.boilers import UNKNOWN_STATE, UNKNOWN_STATE_LABEL, boiler_status
from heating.errors import Refused
from heating.models import BOILER_FUEL_LABELS, BOILER_STATE_LABELS
from heating.web.access import READ_ALL, request_scope, roles_required
from heating.web.db import app_config, db

bp = Blueprint("boilers", __name__, url_prefix="/boilers")

STATE_LABELS = {**BOILER_STATE_LABELS, UNKNOWN_STATE: UNKNOWN_STATE_LABEL}


def _as_of() -> date | None:
    text = request.args.get("as_of", "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise Refused("截至日期应为 年-月-日，如 2021-10-31。") from None


def _max_tph(default: float) -> float:
    text = request.args.get("max_tph", "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1
    if not value > 0:
        raise Refused("蒸吨上限应为正数，如 35。")
    return int(value) if value.is_integer() else value


@bp.route("")
@roles_required(*READ_ALL)
def index() -> ResponseReturnValue:
    """Show in-scope coal boilers cleared and remaining, those inside zones, overdue, gas low-NOx."""
    config = app_config()
    status = boiler_status(
        db(),
        as_of=_as_of(),
        max_tph=_max_tph(config.boiler_max_tph),
        inspection_days=config.boiler_inspection_days,
        district_code=request_scope(township="").district_code,
    )
    return render_template(
        "boilers/index.html",
        status=status,
        data=status.as_json(),
        state_labels=STATE_LABELS,
        fuel_labels=BOILER_FUEL_LABELS,
    )
