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
from heating.web.access import UPLOADERS, scoped_township_code
from heating.web.db import app_config, db
from heating.web.exports import wants_xlsx
from heating.web.list_exports import export_townships

bp = Blueprint("dashboard", __name__)

RECENT_IMPORTS = 8


def recent_batches(session: Session, township_id: int | None, limit: int) -> list[ImportBatch]:
    """The newest ledger batches, of one township when given."""
    query = select(ImportBatch).where(ImportBatch.kind == "ledger")
    if township_id is not None:
        query = query.where(ImportBatch.township_id == township_id)
    return list(session.scalars(query.order_by(ImportBatch.id.desc()).limit(limit)))


def zone_summary(session: Session) -> dict[str, Any] | None:
    """The latest stored derivation in a few numbers; None before the first one."""
    derivation = session.scalar(select(ZoneDerivation).order_by(ZoneDerivation.id.desc()).limit(1))
    if derivation is None:
        return None
    summary = derivation.summary or {}
    return {
        "id": derivation.id,
        "as_of": derivation.as_of,
        "created_at": derivation.created_at,
        "zones": len(derivation.zones),
        "villages": sum(len(z.village_codes or []) for z in derivation.zones),
        "area_km2": sum(z.area_km2 for z in derivation.zones),
        "enclaves": summary.get("enclaves") or [],
    }


def _latest_ledgers(session: Session) -> dict[str, ImportBatch]:
    """Township code → its newest ledger in force."""
    codes = dict(session.execute(select(Township.id, Township.code)).all())
    return {codes[tid]: batch for tid, batch in latest_ledgers(session).items() if tid in codes}


@bp.route("/")
@login_required
def index() -> ResponseReturnValue:
    """Show compliance per category, the townships, recent imports and the zones."""
    session = db()
    profile = app_config().profile
    township_code = scoped_township_code(None)
    categories = compliance(session, profile, township_code=township_code)
    by_category = coverage(session, profile, "category", township_code=township_code)
    total = by_category[-1]
    townships = coverage(session, profile, "township", township_code=township_code)
    period = signoff_periods.current_period(app_config())
    states = {s.township: s for s in signoff.statuses(session, period, township_code=township_code)}
    if wants_xlsx():
        return export_townships(townships, _latest_ledgers(session), states, period)
    batches = []
    if current_user.role in UPLOADERS:
        township_id = current_user.township_id if current_user.role == "clerk" else None
        batches = recent_batches(session, township_id, RECENT_IMPORTS)
    return render_template(
        "dashboard/index.html",
        categories=categories,
        category_rows={r.key: r for r in by_category},
        total=total,
        townships=townships,
        ledgers=_latest_ledgers(session),
        batches=batches,
        zones=zone_summary(session),
        scoped=township_code is not None,
        period=period,
        states=states,
        returned=signoff.returned(session, current_user.township_id)
        if current_user.role == "clerk"
        else [],
    )
