"""Villages: the filterable list and one village's measures, households and history."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import func, select

from heating.history import newest_ledger
from heating.measures import MeasureRow, coverage
from heating.models import (
    HOUSEHOLD_FIELDS,
    Household,
    Township,
    Village,
)
from heating.privacy import PERSONAL_FIELDS, mask_field
from heating.village_history import VillageChange, village_history
from heating.web.access import (
    HOUSEHOLD_READERS,
    require_township,
    scoped_township_code,
    sees_personal_data,
)
from heating.web.db import app_config, db
from heating.web.params import page_arg

bp = Blueprint("villages", __name__, url_prefix="/villages")

LIST_PAGE = 100
HOUSEHOLD_PAGE = 50
HISTORY_LIMIT = 100
MEETS_FILTERS = {"yes": True, "no": False, "none": None}


def _page(total: int, size: int) -> tuple[int, int]:
    pages = max(1, math.ceil(total / size))
    return page_arg(pages), pages


def filter_rows(rows: list[MeasureRow], category: str, meets: str) -> list[MeasureRow]:
    """Keep the village rows of a category and/or with a given 'meets' outcome."""
    if category:
        rows = [r for r in rows if (r.category or "") == category]
    if meets in MEETS_FILTERS:
        rows = [r for r in rows if r.meets is MEETS_FILTERS[meets]]
    return rows


@bp.route("")
@login_required
def index() -> ResponseReturnValue:
    """List villages with their measures, filtered by township, category and target."""
    session = db()
    profile = app_config().profile
    township_code = scoped_township_code(request.args.get("township"))
    category = request.args.get("category", "").strip()
    meets = request.args.get("meets", "").strip()
    townships_query = select(Township).order_by(Township.code)
    if current_user.role == "clerk":
        townships_query = townships_query.where(Township.id == current_user.township_id)
    townships = list(session.scalars(townships_query))
    if township_code and not any(t.code == township_code for t in townships):
        abort(404)
    rows = filter_rows(
        coverage(session, profile, "village", township_code=township_code), category, meets
    )
    page, pages = _page(len(rows), LIST_PAGE)
    return render_template(
        "villages/index.html",
        rows=rows[(page - 1) * LIST_PAGE : page * LIST_PAGE],
        total=len(rows),
        page=page,
        pages=pages,
        townships=townships,
        township_names={t.code: t.name for t in townships},
        filters={"township": township_code or "", "category": category, "meets": meets},
    )


def _household_view(h: Household, visible: bool) -> dict[str, Any]:
    data = {f: getattr(h, f) for f in HOUSEHOLD_FIELDS}
    if not visible:
        for field in PERSONAL_FIELDS:
            data[field] = mask_field(field, data[field])
    data["id"] = h.id
    return data


@bp.route("/<code>")
@login_required
def show(code: str) -> ResponseReturnValue:
    """One village: measures, gap, households (masked as the role requires), history."""
    session = db()
    village = session.scalar(select(Village).where(Village.code == code))
    if village is None:
        abort(404)
    require_township(village.township_id)
    profile = app_config().profile
    measures = next(
        (
            r
            for r in coverage(session, profile, "village", township_code=village.township.code)
            if r.key == village.code
        ),
        None,
    )
    households: list[dict[str, Any]] = []
    history: list[VillageChange] = []
    total = page = pages = 0
    visible = sees_personal_data(village.township_id)
    show_households = current_user.role in HOUSEHOLD_READERS
    if show_households:
        query = select(Household).where(Household.village_id == village.id, Household.active)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page, pages = _page(total, HOUSEHOLD_PAGE)
        households = [
            _household_view(h, visible)
            for h in session.scalars(
                query.order_by(Household.household_no, Household.id)
                .offset((page - 1) * HOUSEHOLD_PAGE)
                .limit(HOUSEHOLD_PAGE)
            )
        ]
        history = village_history(session, village, visible, HISTORY_LIMIT)
    return render_template(
        "villages/show.html",
        village=village,
        ledger=newest_ledger(session, village.township_id),
        m=measures,
        households=households,
        history=history,
        total=total,
        page=page,
        pages=pages,
        visible=visible,
        show_households=show_households,
    )
