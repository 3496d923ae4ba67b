"""JSON API: measures per village, township or category, scoped by role."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from heating.errors import Refused
from heating.measures import coverage
from heating.web.access import ALL_ROLES, request_scope, roles_required
from heating.web.db import app_config, db
from heating.web.params import date_arg

bp = Blueprint("api", __name__, url_prefix="/api")

API_BY = ("village", "township", "category")


@bp.route("/coverage")
@roles_required(*ALL_ROLES)
def coverage_json() -> ResponseReturnValue:
    """Measures as JSON: ``?by=village|township|category[&as_of=DATE][&township=CODE][&district=CODE]``."""
    by = request.args.get("by", "village")
    if by not in API_BY:
        raise Refused(f"by 应为 {' / '.join(API_BY)} 之一，得到 {by!r}")
    scope = request_scope()
    as_of = date_arg("as_of", "截止日期 as_of ")
    profile = app_config().profile
    rows = coverage(db(), profile, by, as_of=as_of, **scope.kwargs)
    return jsonify([r.as_json() for r in rows])
