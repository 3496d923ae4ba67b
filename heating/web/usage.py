"""用量核验: utility use uploads, the season's 疑似改而不用 list and the subsidy schedule.

Roles: admin, planner and reviewer upload a utility's file, commit and roll
back usage batches (the district's energy bureau receives the utilities'
data; no township's ledger changes); those three and city read the page —
city sees the counts only, no household list.  A clerk reads the page and
the plans for its own township only, read-only, and no usage batch.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select

from heating import clock
from heating.errors import Forbidden, NotFound, Refused
from heating.evidence import default_season
from heating.measures import coverage
from heating.models import PLAN_STATE_LABELS, USAGE_KINDS, ImportBatch, ImportJob, User
from heating.relapse import needing_plan
from heating.relapse_plans import PLACE_LABELS, RECORDERS, plans_in_force, record_plan, with_plans
from heating.subsidy import schedule
from heating.usage_flags import flags_report
from heating.web import jobs
from heating.web.access import bound_district, may_read_code, request_scope, roles_required
from heating.web.admin import saved_upload
from heating.web.db import app_config, db
from heating.web.imports import start_batch_commit
from imports.readers import MB
from imports.usage_batches import preview_usage, rollback_usage

bp = Blueprint("usage", __name__, url_prefix="/usage")

UPLOADERS = ("admin", "planner", "reviewer")
READERS = (*UPLOADERS, "city")  # usage batches and everything on /usage
# A clerk reads /usage and /usage/plans for its own township only, read-only
# (its villages' flags, area coverage, subsidies ending, places needing a plan);
# it sees no usage batch: a utility's file holds the whole district's accounts.
PAGE_READERS = (*READERS, "clerk")
SPREADSHEETS = (".xlsx", ".xlsm", ".xls", ".ods", ".csv")
BATCHES_SHOWN = 20
HOUSEHOLDS_SHOWN = 500


def _season() -> int:
    """The season asked for, else the one the measures judge (``heating.evidence``)."""
    text = request.args.get("season", "").strip()
    if text:
        if not text.isdigit() or not 2000 <= int(text) <= 2100:
            raise Refused("采暖季应为开始年份，如 2021。")
        return int(text)
    return default_season(db(), app_config().usage, app_config().timezone)


@bp.route("")
@roles_required(*PAGE_READERS)
def index() -> ResponseReturnValue:
    """The season's flags per township (and households), the subsidy schedule, usage batches."""
    config = app_config()
    session = db()
    season = _season()
    scope = request_scope(township="")  # a clerk: its township; a district's users: it
    township, district = scope.township_code, scope.district_code
    flags = flags_report(
        session, season, config.usage, township_code=township, district_code=district
    )
    subsidy: dict[str, Any] | None = None
    if config.subsidy:
        subsidy = schedule(
            session,
            season,
            config.subsidy,
            config.usage,
            township_code=township,
            district_code=district,
        )
    # Floor-area coverage now (the national 清洁取暖率), per township and the district.
    areas = coverage(session, config.profile, "township", usage=config.usage, **scope.kwargs)
    if township is None:
        areas += coverage(
            session, config.profile, "district", usage=config.usage, district_code=district
        )
    batches = []
    # a utility's file spans every district: none for a district-bound user
    if current_user.role in READERS and bound_district() is None:
        batches = list(
            session.scalars(
                select(ImportBatch)
                .where(ImportBatch.kind == "usage")
                .order_by(ImportBatch.id.desc())
                .limit(BATCHES_SHOWN)
            )
        )
    return render_template(
        "usage/index.html",
        season=season,
        usage_settings=config.usage,
        flags=flags,
        subsidy=subsidy,
        areas=areas,
        batches=batches,
        kinds=USAGE_KINDS,
        may_upload=current_user.role in UPLOADERS and bound_district() is None,
        show_households=current_user.role != "city",
        show_batches=current_user.role in READERS,
        own_township=township,
        households_shown=HOUSEHOLDS_SHOWN,
        max_mb=config.upload_max_mb,
    )


@bp.route("/upload", methods=["POST"])
@roles_required(*UPLOADERS)
def upload() -> ResponseReturnValue:
    """Preview an uploaded usage file: a preview batch, nothing else written."""
    _unbound()
    session = db()
    kind = request.form.get("kind", "")
    try:
        if kind not in USAGE_KINDS:
            raise Refused("请选择用量类型：用电量或用气量。")
        path, name, tmp = saved_upload("file", SPREADSHEETS)
        with tmp:
            data = path.read_bytes()
        if len(data) > app_config().upload_max_mb * MB:
            raise Refused(f"文件超过 {app_config().upload_max_mb} MB。")
        batch, _ = preview_usage(
            session,
            data,
            name,
            kind,
            config=app_config(),
            today=clock.today(app_config().timezone),
            user_id=current_user.id,
        )
        session.commit()
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("usage.index"))
    return redirect(url_for("usage.show", batch_id=batch.id))


def _unbound() -> None:
    """Refuse a district-bound user: a utility's file spans every district of the city."""
    if bound_district() is not None:
        raise Forbidden(
            "用量文件来自供电/燃气公司，涵盖全市各区县的户号；绑定区县的账号"
            f"（{current_user.district_name}）不能上传、查看、写入或撤销用量批次："
            "请由管理员或不绑定区县的规划人员办理。"
        )


def _batch(batch_id: int) -> ImportBatch:
    _unbound()
    batch = db().get(ImportBatch, batch_id)
    if batch is None or batch.kind != "usage":
        raise NotFound(f"没有编号为 {batch_id} 的用量批次。")
    return batch


@bp.route("/batches/<int:batch_id>")
@roles_required(*READERS)
def show(batch_id: int) -> ResponseReturnValue:
    """One usage batch: counts, sheets, unmatched accounts, issues; commit or roll back."""
    batch = _batch(batch_id)
    return render_template(
        "usage/batch.html",
        batch=batch,
        counts=batch.counts or {},
        kinds=USAGE_KINDS,
        may_upload=current_user.role in UPLOADERS,
    )


@bp.route("/batches/<int:batch_id>/commit", methods=["POST"])
@roles_required(*UPLOADERS)
def commit(batch_id: int) -> ResponseReturnValue:
    """Start writing a previewed usage file (read again from the stored file) in the background."""
    return start_batch_commit(
        _batch(batch_id),
        "usage_commit",
        jobs.start_usage_commit,
        accept_valid=request.form.get("accept_valid") == "1",
        township_id=None,
        area="usage",
    )


@bp.route("/jobs/<token>")
@roles_required(*UPLOADERS)
def job(token: str) -> ResponseReturnValue:
    """Progress of a background usage commit; refreshes itself until done."""
    _unbound()
    found = db().get(ImportJob, token)
    if found is None or found.kind != "usage_commit":
        abort(404)
    if current_user.role != "admin" and found.user_id != current_user.id:
        abort(403)
    state, message = jobs.effective_state(found)
    if state == "done":
        flash(f"已写入批次 {found.batch_id}。", "ok")
        return redirect(url_for("usage.show", batch_id=found.batch_id))
    return render_template("usage/job.html", job=found, state=state, message=message)


@bp.route("/batches/<int:batch_id>/rollback", methods=["POST"])
@roles_required(*UPLOADERS)
def rollback(batch_id: int) -> ResponseReturnValue:
    """Undo a committed usage batch: what it replaced is in force again."""
    batch = _batch(batch_id)
    session = db()
    try:
        rollback_usage(session, batch, user_id=current_user.id)
        session.commit()
        flash(f"已撤销批次 {batch_id}。", "ok")
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
    return redirect(url_for("usage.show", batch_id=batch_id))


# --------------------------------------------------------------------------
# 系统化解决方案: places above relapse_share and their recorded plans
# --------------------------------------------------------------------------


def _places_needing_plans(session: Any) -> dict[str, list[dict[str, Any]]]:
    """Places above relapse_share now in the user's scope (a clerk: its township), with plans."""
    config = app_config()
    today = clock.today(config.timezone)
    plans = plans_in_force(session)
    scope = request_scope(township="")  # a clerk: its township; a district's users: it
    return {
        by: with_plans(
            needing_plan(
                coverage(session, config.profile, by, usage=config.usage, **scope.kwargs),
                config.usage.relapse_share,
            ),
            by,
            plans,
            today,
        )
        for by in ("village", "township")
    }


def _plan_form(places: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    """The form's values: what was posted, else the chosen place's plan in force."""
    if request.method == "POST":
        return {k: request.form.get(k, "") for k in ("place", "state", "text", "unit", "due")}
    place = request.args.get("place", "")
    for by, rows in places.items():
        for r in rows:
            if f"{by}:{r['key']}" == place:
                plan = r["plan"]
                return {
                    "place": place,
                    "state": plan["state"],
                    "text": plan["text"] or "",
                    "unit": plan["unit"] or "",
                    "due": plan["due_on"].isoformat() if plan["due_on"] else "",
                }
    return {"place": place, "state": "", "text": "", "unit": "", "due": ""}


@bp.route("/plans", methods=["GET", "POST"])
@roles_required(*PAGE_READERS)
def plans() -> ResponseReturnValue:
    """Places needing a 系统化解决方案 with their plans; reviewers and admins record them."""
    session = db()
    status = 200
    if request.method == "POST":
        if current_user.role not in RECORDERS:
            abort(403)
        try:
            kind, _, code = request.form.get("place", "").partition(":")
            if not may_read_code(code.strip()):  # a district-bound reviewer: its own district
                raise Forbidden(
                    f"{code} 不在您的账号可办理的范围内：只能为本区县的村和乡镇记录方案。"
                )
            due_text = request.form.get("due", "").strip()
            try:
                due_on = date.fromisoformat(due_text) if due_text else None
            except ValueError:
                raise Refused(f"完成时限应为日期 YYYY-MM-DD，得到 {due_text!r}。") from None
            record_plan(
                session,
                kind,
                code,
                state=request.form.get("state", ""),
                text=request.form.get("text"),
                unit=request.form.get("unit"),
                due_on=due_on,
                user=session.get(User, current_user.id),
            )
            session.commit()
            flash("已记录系统化解决方案。", "success")
            return redirect(url_for("usage.plans"))
        except Refused as exc:
            session.rollback()
            flash(exc.message, "error")
            status = 403 if isinstance(exc, Forbidden) else 400
    places = _places_needing_plans(session)
    return render_template(
        "usage/plans.html",
        places=places,
        form=_plan_form(places),
        may_record=current_user.role in RECORDERS,
        threshold=app_config().usage.relapse_share,
        states=PLAN_STATE_LABELS,
        place_labels=PLACE_LABELS,
    ), status
