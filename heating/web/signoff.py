"""报送与审核: townships submit a period, reviewers approve or return it, admins withdraw.

The page lists townships × the latest periods (a clerk sees its own township);
one township's period has its own page with the figures as of the cut-off,
the open problems, the history of transitions and the forms its viewer may
use.  Every transition goes through ``heating.signoff.transition``.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from heating import clock, signoff, signoff_periods
from heating.errors import Forbidden, Refused
from heating.models import SIGNOFF_ACTION_LABELS, Township, User
from heating.signoff_checks import review
from heating.web.access import ALL_ROLES, request_scope, require_township, roles_required
from heating.web.db import app_config, db

bp = Blueprint("signoff", __name__)

DONE = {
    "submit": "已报送，等待区级审核。",
    "approve": "已审核通过，该期截止日（含）以前的数据已锁定。",
    "return": "已退回，乡镇可修改后重新报送。",
    "withdraw": "已撤回审核，锁定已解除。",
}


def _period_arg(raw: str | None) -> date:
    """A period from the URL (404 when it is not a cut-off date)."""
    try:
        return signoff_periods.parse_period(raw or "", app_config())
    except ValueError:
        abort(404)


def _township(code: str) -> Township:
    township = db().scalar(select(Township).where(Township.code == code))
    if township is None:
        abort(404)
    require_township(township.id)
    return township


@bp.route("/signoff")
@roles_required(*ALL_ROLES)
def index() -> ResponseReturnValue:
    """Townships × the latest periods with their states and the actions open to the viewer."""
    session = db()
    config = app_config()
    asked = request.args.get("period", "").strip()
    extra = None
    if asked:
        try:
            extra = signoff_periods.parse_period(asked, config)
        except ValueError as exc:
            flash(f"{exc}。", "error")
    periods = signoff_periods.periods_in_view(session, config, extra=extra)
    scope = request_scope(township="")
    columns = {p: signoff.statuses(session, p, **scope.kwargs) for p in periods}
    townships = [(s.township, s.name) for s in columns[periods[0]]]
    ids = dict(session.execute(select(Township.code, Township.id)).all())
    grid = [
        (code, name, [columns[p][i] for p in periods]) for i, (code, name) in enumerate(townships)
    ]
    return render_template(
        "signoff/index.html",
        periods=periods,
        grid=grid,
        current=signoff_periods.current_period(config),
        approved={p: sum(1 for s in columns[p] if s.locked) for p in periods},
        allowed=lambda status: _allowed(status, ids[status.township]),
        cutoff=config.report_cutoff,
    )


def _allowed(status: signoff.Status, township_id: int) -> set[str]:
    """The actions the viewer may take on this status now (role, township and state)."""
    actions = signoff.allowed_actions(current_user.role, current_user.township_id, township_id)
    open_now = {
        name for name, t in signoff.TRANSITIONS.items() if status.state in t.start
    } & actions
    today = clock.today(app_config().timezone)
    if status.period > today:
        open_now.discard("submit")
    if status.submitted_by == current_user.username:
        open_now.discard("approve")
    return open_now


@bp.route("/signoff/<code>/<period>")
@roles_required(*ALL_ROLES)
def show(code: str, period: str) -> ResponseReturnValue:
    """One township's period: figures as of the cut-off, open problems, history, forms."""
    session = db()
    township = _township(code)
    day = _period_arg(period)
    status = signoff.status_of(session, township, day)
    return render_template(
        "signoff/show.html",
        township=township,
        period=day,
        status=status,
        review=review(session, app_config(), township, day),
        events=signoff.history(session, township, day),
        actions=_allowed(status, township.id),
        action_labels=SIGNOFF_ACTION_LABELS,
        future=day > clock.today(app_config().timezone),
    )


@bp.route("/signoff/<code>/<period>/<action>", methods=["POST"])
@roles_required(*ALL_ROLES)
def act(code: str, period: str, action: str) -> ResponseReturnValue:
    """Submit, approve, return or withdraw; refusals come back as a message on the page."""
    if action not in signoff.TRANSITIONS:
        abort(404)
    session = db()
    township = _township(code)
    day = _period_arg(period)
    back = request.form.get("next") or url_for("signoff.show", code=code, period=period)
    if not back.startswith("/"):
        back = url_for("signoff.show", code=code, period=period)
    text = request.form.get("reason" if signoff.TRANSITIONS[action].needs_reason else "note")
    try:
        signoff.transition(
            session,
            app_config(),
            action,
            township.code,
            day,
            session.get(User, current_user.id),
            text=text,
            confirm=request.form.get("confirm") == "1",
        )
        session.commit()
    except Forbidden:
        session.rollback()
        raise
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    flash(f"{township.name} {day.isoformat()} 期{DONE[action]}", "success")
    return redirect(back)
