"""The dashboard: district totals at a glance."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required
from sqlalchemy import func, select

from heating.models import CLEAN_STATUSES, Household, Township, Village
from heating.web.db import db

bp = Blueprint("dashboard", __name__)


@bp.route("/")
@login_required
def index():  # noqa: ANN201
    """Show the district's totals."""
    session = db()
    totals = {
        "townships": session.scalar(select(func.count()).select_from(Township)),
        "villages": session.scalar(select(func.count()).select_from(Village)),
        "households": session.scalar(
            select(func.count()).select_from(Household).where(Household.active)
        ),
        "clean": session.scalar(
            select(func.count())
            .select_from(Household)
            .where(Household.active, Household.status.in_(CLEAN_STATUSES))
        ),
    }
    return render_template("dashboard/index.html", totals=totals)
