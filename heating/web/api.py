"""JSON API: measures per village, township or category, scoped by role."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, jsonify, request

from heating.errors import Refused
from heating.measures import coverage
from heating.web.access import ALL_ROLES, roles_required, scoped_township_code
from heating.web.db import app_config, db

bp = Blueprint("api", __name__, url_prefix="/api")

API_BY = ("village", "township", "category")


def parse_as_of(text: str | None) -> date | None:
    """An ISO date from the query string; 400 with a Chinese message when malformed."""
    if not text:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise Refused(f"as_of 应为日期，如 2021-10-31，得到 {text!r}") from None


@bp.route("/coverage")
@roles_required(*ALL_ROLES)
def coverage_json():  # noqa: ANN201
    """Measures as JSON: ``?by=village|township|category[&as_of=DATE][&township=CODE]``."""
    by = request.args.get("by", "village")
    if by not in API_BY:
        raise Refused(f"by 应为 {' / '.join(API_BY)} 之一，得到 {by!r}")
    township_code = scoped_township_code(request.args.get("township"))
    as_of = parse_as_of(request.args.get("as_of"))
    profile = app_config().profile
    rows = coverage(db(), profile, by, as_of=as_of, township_code=township_code)
    return jsonify([r.as_json() for r in rows])
