"""Villages: the filterable list and one village's measures, households and history."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, abort, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import func, select

from heating.errors import NotFound
from heating.heat_sources import (
    NONCOMPLIANT,
    STRICT,
    Register,
    counting_rule,
    load_register,
    noncompliant_note,
)
from heating.history import newest_ledger
from heating.measures import MeasureRow, coverage
from heating.models import (
    CLEAN_STATUSES,
    HOUSEHOLD_FIELDS,
    Household,
    Township,
    Village,
)
from heating.privacy import PERSONAL_FIELDS, mask_field
from heating.village_history import VillageChange, village_history
from heating.village_lists import DIRECTIONS, SORTS, search_rows, sort_rows
from heating.web.access import (
    HOUSEHOLD_READERS,
    request_scope,
    require_township,
    sees_personal_data,
)
from heating.web.db import app_config, db
from heating.web.exports import wants_xlsx
from heating.web.params import page_arg
from heating.web.village_evidence import village_evidence_view
from heating.web.village_exports import (
    export_households,
    export_villages,
    filtered_households,
    household_filters,
)

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
    """List villages with their measures: filter, search by name or code, sort, export."""
    session = db()
    profile = app_config().profile
    scope = request_scope()
    township_code = scope.township_code
    category = request.args.get("category", "").strip()
    meets = request.args.get("meets", "").strip()
    query = request.args.get("q", "").strip()
    sort = request.args.get("sort", "code")
    sort = sort if sort in SORTS else "code"
    direction = request.args.get("dir", "asc")
    direction = direction if direction in DIRECTIONS else "asc"
    townships_query = select(Township).order_by(Township.code)
    if current_user.role == "clerk":
        townships_query = townships_query.where(Township.id == current_user.township_id)
    elif scope.district_code is not None:
        townships_query = townships_query.where(Township.code.startswith(scope.district_code))
    townships = list(session.scalars(townships_query))
    if township_code and not any(t.code == township_code for t in townships):
        abort(404)
    township_names = {t.code: t.name for t in townships}
    rows = filter_rows(coverage(session, profile, "village", **scope.kwargs), category, meets)
    rows = sort_rows(
        search_rows(rows, query),
        sort,
        direction,
        township_names=township_names,
        category_label=profile.label,
    )
    filters = {
        "township": township_code or "",
        "district": scope.district_code or "",
        "category": category,
        "meets": meets,
        "q": query,
        "sort": sort,
        "dir": direction,
    }
    if wants_xlsx():
        return export_villages(rows, township_names, filters)
    page, pages = _page(len(rows), LIST_PAGE)
    return render_template(
        "villages/index.html",
        rows=rows[(page - 1) * LIST_PAGE : page * LIST_PAGE],
        total=len(rows),
        page=page,
        pages=pages,
        townships=townships,
        township_names=township_names,
        filters=filters,
        sorts=SORTS,
    )


def _household_view(h: Household, visible: bool, register: Register, rule: str) -> dict[str, Any]:
    data = {f: getattr(h, f) for f in HOUSEHOLD_FIELDS}
    if not visible:
        for field in PERSONAL_FIELDS:
            data[field] = mask_field(field, data[field])
    data["id"] = h.id
    data["heat_source_note"] = register.household_note(h.status, h.route, h.heat_source, rule)
    data["heat_source_excluded"] = (
        rule == STRICT
        and h.status in CLEAN_STATUSES
        and register.verdict(h.route, h.heat_source) == NONCOMPLIANT
    )
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
    scope = request_scope(township="")  # ?district= carried by the links (403/404 as elsewhere)
    if not scope.holds(village.code):
        raise NotFound(
            f"村 {village.code} 不在所选区县 {scope.district_code} 中：请在导航的区县中选择"
            "“全部区县”或该村所在的区县后再打开。"
        )
    config = app_config()
    profile = config.profile
    measures = next(
        (
            r
            for r in coverage(
                session,
                profile,
                "village",
                township_code=village.township.code,
            )
            if r.key == village.code
        ),
        None,
    )
    households: list[dict[str, Any]] = []
    history: list[VillageChange] = []
    total = page = pages = 0
    visible = sees_personal_data(village.township_id)
    show_households = current_user.role in HOUSEHOLD_READERS
    chosen = household_filters(request.args)
    rule = counting_rule(session)
    if show_households:
        register = load_register(session)
        query = filtered_households(village.id, chosen)
        if wants_xlsx():
            found = session.scalars(query.order_by(Household.household_no, Household.id))
            views = [_household_view(h, visible, register, rule) for h in found]
            return export_households(village, views, chosen)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        page, pages = _page(total, HOUSEHOLD_PAGE)
        households = [
            _household_view(h, visible, register, rule)
            for h in session.scalars(
                query.order_by(Household.household_no, Household.id)
                .offset((page - 1) * HOUSEHOLD_PAGE)
                .limit(HOUSEHOLD_PAGE)
            )
        ]
        history = village_history(session, village, visible, HISTORY_LIMIT)
    evidence = village_evidence_view(session, village, measures, visible and show_households)
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
        chosen=chosen,
        evidence=evidence,
        heat_source_note=noncompliant_note(measures.heat_source_noncompliant, rule)
        if measures is not None and measures.heat_source_noncompliant
        else "",
    )
