"""The dashboard: compliance per category, townships, recent imports, zones."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import signoff, signoff_periods
from heating.compliance import compliance
from heating.history import latest_ledgers
from heating.measures import coverage
from heating.models import ImportBatch, Township, ZoneDerivation
from heating.scope import Scope, districts, find_district
from heating.web.access import UPLOADERS, request_scope
from heating.web.db import app_config, db
from heating.web.exports import wants_xlsx
from heating.web.list_exports import export_townships

bp = Blueprint("dashboard", __name__)

RECENT_IMPORTS = 8


def recent_batches(
    session: Session, township_id: int | None, limit: int, district_code: str | None = None
) -> list[ImportBatch]:
    """The newest ledger batches, of one township (or district) when given."""
    query = select(ImportBatch).where(ImportBatch.kind == "ledger")
    if township_id is not None:
        query = query.where(ImportBatch.township_id == township_id)
    if district_code is not None:
        query = query.join(Township, ImportBatch.township_id == Township.id).where(
            Township.code.startswith(district_code)
        )
    return list(session.scalars(query.order_by(ImportBatch.id.desc()).limit(limit)))


def zone_summary(session: Session, prefix: str | None = None) -> dict[str, Any] | None:
    """The latest stored derivation in a few numbers (zones holding villages whose code
    begins with ``prefix`` when given); None before the first one."""
    derivation = session.scalar(select(ZoneDerivation).order_by(ZoneDerivation.id.desc()).limit(1))
    if derivation is None:
        return None
    summary = derivation.summary or {}
    zones = derivation.zones
    enclaves = summary.get("enclaves") or []
    if prefix:
        zones = [z for z in zones if any(c.startswith(prefix) for c in z.village_codes or [])]
        enclaves = [c for c in enclaves if c.startswith(prefix)]
    return {
        "id": derivation.id,
        "as_of": derivation.as_of,
        "created_at": derivation.created_at,
        "zones": len(zones),
        "villages": sum(len(z.village_codes or []) for z in zones),
        "area_km2": sum(z.area_km2 for z in zones),
        "enclaves": enclaves,
    }


def district_heading(session: Session, scope: Scope) -> str | None:
    """The district's name (code) when the page is limited to one of several districts."""
    if scope.district_code is None or len(districts(session)) < 2:
        return None
    district = find_district(session, scope.district_code)
    return f"{district.name}（{district.code}）"


def place_word(session: Session, scope: Scope) -> str:
    """What the page covers, as "…无此类区域" says it: 本乡镇, the district's name, or 全市."""
    if scope.township_code is not None:
        return "本乡镇"
    if scope.district_code is not None:
        return find_district(session, scope.district_code).name
    found = districts(session)
    return found[0].name if len(found) == 1 else "全市"


def _latest_ledgers(session: Session, scope: Scope) -> dict[str, ImportBatch]:
    """Township code → its newest ledger in force (townships of the scope)."""
    codes = {
        tid: code
        for tid, code in session.execute(select(Township.id, Township.code))
        if scope.holds(code)
    }
    return {codes[tid]: batch for tid, batch in latest_ledgers(session).items() if tid in codes}


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    """Show compliance per category, the townships, recent imports and the zones."""
    session = db()
    profile = app_config().profile
    scope = request_scope(township="")
    township_code = scope.township_code
    categories = compliance(session, profile, **scope.kwargs)
    by_category = coverage(session, profile, "category", **scope.kwargs)
    total = by_category[-1]
    townships = coverage(session, profile, "township", **scope.kwargs)
    period = signoff_periods.current_period(app_config())
    states = {s.township: s for s in signoff.statuses(session, period, **scope.kwargs)}
    ledgers = _latest_ledgers(session, scope)
    if wants_xlsx():
        return export_townships(townships, ledgers, states, period)
    batches = []
    if current_user.role in UPLOADERS:
        township_id = current_user.township_id if current_user.role == "clerk" else None
        batches = recent_batches(session, township_id, RECENT_IMPORTS, scope.district_code)
    return render_template(
        "dashboard/index.html",
        categories=categories,
        category_rows={r.key: r for r in by_category},
        total=total,
        townships=townships,
        ledgers=ledgers,
        district=district_heading(session, scope),
        place=place_word(session, scope),
        batches=batches,
        zones=zone_summary(session, scope.township_code or scope.district_code),
        scoped=township_code is not None,
        period=period,
        states=states,
        returned=signoff.returned(session, current_user.township_id)
        if current_user.role == "clerk"
        else [],
    )
