"""全市汇总: every district ranked by gap, then coverage (``heating.city``).

For the roles that read every district (admin, planner, city, reviewer) when
their account is not bound to one district: a district-bound account is
refused, since the ranking shows the other districts' figures.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user

from heating.city import CitySummary, city_summary
from heating.errors import Forbidden
from heating.web.access import READ_ALL, bound_district, roles_required
from heating.web.db import app_config, db
from heating.web.params import date_arg

bp = Blueprint("city", __name__)


def _summary() -> CitySummary:
    if bound_district() is not None:
        raise Forbidden(
            f"您的账号只能查看{current_user.district_name}（{current_user.district_code}）的数据，"
            "全市汇总含其他区县的数字：请打开本区县的总览，或请管理员调整账号绑定的区县。"
        )
    return city_summary(db(), app_config().profile, as_of=date_arg("as_of", "截止日期 as_of "))


@bp.route("/city")
@roles_required(*READ_ALL)
def index() -> ResponseReturnValue:
    """Rank the districts: gap, then coverage; links to each district's pages."""
    summary = _summary()
    return render_template("city/index.html", summary=summary, profile=app_config().profile)


@bp.route("/api/city")
@roles_required(*READ_ALL)
def api() -> ResponseReturnValue:
    """The ranking as JSON (the same object as ``heating city --json``)."""
    return jsonify(_summary().as_json())
