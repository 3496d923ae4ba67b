"""Administration: users, audit log, registry, boundaries, heat-source and boiler uploads, the profile."""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import func, select

from geo.boundaries import load_boundaries
from geo.boundary_reading import BoundaryLimits
from heating import users as users_domain
from heating.collation import pinyin_key
from heating.completion import record_decision, revoke_decision
from heating.errors import Refused
from heating.heat_sources import households_served, load_register, unmatched_ledger_sources
from heating.models import ROLES, AuditEntry, CompletionDecision, Township, User, Village, audit
from heating.scope import districts as all_districts
from heating.users import create_user
from heating.web.access import roles_required
from heating.web.auth import request_address
from heating.web.db import app_config, db
from heating.web.params import page_arg, parse_day
from imports.boilers import load_boilers
from imports.heat_sources import load_heat_sources
from imports.registry import load_registry
from imports.storage import storage_summary, sweep

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE = 100
ACTION_LABELS = {
    "login": "登录",
    "login_failed": "登录失败",
    "login_locked": "登录被暂缓",
    "logout": "退出",
    "user_add": "新增用户",
    "user_disable": "停用用户",
    "user_enable": "启用用户",
    "user_reset": "重置密码",
    "user_unlock": "解除登录等待",
    "password_change": "修改本人密码",
    "logout_all": "退出所有设备",
    "upload_retention": "按保留期限删除上传文件",
    "login_throttled": "登录被限流（地址）",
    "login_disabled": "已停用账号尝试登录",
    "import_preview": "上传台账（预览）",
    "import_commit": "写入台账",
    "import_rollback": "撤销批次",
    "import_cancel": "取消预览",
    "registry_load": "加载村庄名录",
    "boundaries_load": "加载村界",
    "zones_derive": "生成禁煤区",
    "completion_decision": "完成认定",
    "completion_decision_revoke": "撤销完成认定",
    "relapse_plan": "记录系统化解决方案",
    "demo_load": "加载演示数据",
    "heat_sources_load": "加载热源名单",
    "boilers_load": "加载锅炉台账",
    # Written before each upload was audited once, by its loader: kept for old entries.
    "registry_upload": "上传村庄名录",
    "heat_sources_upload": "上传热源名单",
    "boilers_upload": "上传锅炉台账",
}
SPREADSHEETS = (".xlsx", ".xls", ".xlsm", ".ods", ".csv")


def _townships() -> list[Township]:
    return list(db().scalars(select(Township).order_by(Township.code)))


def _ip() -> str | None:
    return request_address()


@bp.route("/")
@roles_required("admin")
def index() -> ResponseReturnValue:
    """The administration start page is the user list."""
    return redirect(url_for("admin.users"))


@bp.route("/users", methods=["GET", "POST"])
@roles_required("admin")
def users() -> ResponseReturnValue:
    """List users; add one."""
    session = db()
    form = {"username": "", "role": "clerk", "township": "", "district": ""}
    status = 200
    if request.method == "POST":
        form = {k: request.form.get(k, "").strip() for k in form}
        try:
            user = create_user(
                session,
                form["username"],
                form["role"],
                request.form.get("password", ""),
                form["township"] or None if form["role"] == "clerk" else None,
                form["district"] or None,
            )
            audit(
                session,
                "user_add",
                user=current_user,
                target=user.username,
                detail={"role": user.role, "township": form["township"] or None}
                | ({"district": form["district"]} if form["district"] else {}),
                ip=_ip(),
            )
            session.commit()
            flash(f"已创建用户 {user.username}。", "success")
            return redirect(url_for("admin.users"))
        except Refused as exc:
            session.rollback()
            flash(exc.message, "error")
            status = 400
    rows = list(session.scalars(select(User).order_by(User.username)))
    return render_template(
        "admin/users.html",
        rows=rows,
        roles=ROLES,
        townships=_townships(),
        districts=all_districts(session),
        form=form,
        lockout=app_config().login_max_failures,
    ), status


def _user_or_404(user_id: int) -> User:
    user = db().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _acting_user() -> User:
    return db().get(User, current_user.id)


@bp.route("/users/<int:user_id>/active", methods=["POST"])
@roles_required("admin")
def set_active(user_id: int) -> ResponseReturnValue:
    """Disable (ending all its sessions) or re-enable a user; never oneself."""
    session = db()
    user = _user_or_404(user_id)
    enable = request.form.get("active") == "1"
    try:
        users_domain.set_active(session, user, enable, actor=_acting_user(), ip=_ip())
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.users"))
    session.commit()
    flash(f"已{'启用' if enable else '停用'}用户 {user.username}。", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/password", methods=["POST"])
@roles_required("admin")
def reset_password(user_id: int) -> ResponseReturnValue:
    """Set a new password, lift the lockout and end all the user's sessions."""
    session = db()
    user = _user_or_404(user_id)
    try:
        users_domain.reset_password(
            session, user, request.form.get("password", ""), actor=_acting_user(), ip=_ip()
        )
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin.users"))
    session.commit()
    flash(f"已重置用户 {user.username} 的密码，其所有登录已退出。", "success")
    return redirect(url_for("admin.users"))


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@roles_required("admin")
def unlock(user_id: int) -> ResponseReturnValue:
    """Lift a user's login lockout without changing the password."""
    session = db()
    user = _user_or_404(user_id)
    users_domain.unlock(session, user, actor=_acting_user(), ip=_ip())
    session.commit()
    flash(f"已解除用户 {user.username} 的登录等待。", "success")
    return redirect(url_for("admin.users"))


@bp.route("/uploads", methods=["GET", "POST"])
@roles_required("admin")
def uploads() -> ResponseReturnValue:
    """Stored uploads: their total size, the retention setting, a sweep on demand."""
    session = db()
    days = app_config().upload_retention_days
    if request.method == "POST":
        result = sweep(session, days)
        session.commit()
        if days is None:
            flash("未设置保留期限（upload_retention_days），没有删除任何文件。", "info")
        else:
            flash(
                f"已清理：{result.expired_previews} 个超过期限的预览改为已过期，"
                f"删除 {result.purged_files} 个文件。",
                "success",
            )
        return redirect(url_for("admin.uploads"))
    return render_template(
        "admin/uploads.html", summary=storage_summary(session), retention_days=days
    )


@bp.route("/audit")
@roles_required("admin")
def audit_log() -> ResponseReturnValue:
    """The audit log, newest first, filterable by action and user name."""
    session = db()
    action = request.args.get("action", "").strip()
    username = request.args.get("user", "").strip()
    query = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if username:
        query = query.where(AuditEntry.username == username)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / AUDIT_PAGE))
    page = page_arg(pages)
    rows = session.scalars(
        query.order_by(AuditEntry.id.desc()).offset((page - 1) * AUDIT_PAGE).limit(AUDIT_PAGE)
    )
    return render_template(
        "admin/audit.html",
        rows=list(rows),
        page=page,
        pages=pages,
        total=total,
        action=action,
        username=username,
        actions=ACTION_LABELS,
    )


@bp.route("/profile")
@roles_required("admin")
def profile() -> ResponseReturnValue:
    """Show the requirement profile (read-only: it is configuration)."""
    cfg = app_config()
    return render_template("admin/profile.html", profile=cfg.profile, source=cfg.source)


def saved_upload(
    field: str, allowed: tuple[str, ...]
) -> tuple[Path, str, tempfile.TemporaryDirectory]:
    """Save an uploaded file under a generated name keeping its suffix; return path and name."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise Refused("请选择要上传的文件。")
    name = upload.filename
    suffix = (
        "".join(Path(name).suffixes[-2:]).lower()
        if name.lower().endswith(".shp.zip")
        else Path(name).suffix.lower()
    )
    if suffix not in allowed:
        raise Refused(
            f"不支持的文件类型 {suffix or '（无扩展名）'}，请上传 {'、'.join(allowed)} 文件。"
        )
    tmp = tempfile.TemporaryDirectory(prefix="heating-upload-")
    path = Path(tmp.name) / f"upload{suffix}"
    upload.save(path)
    return path, name, tmp


def _load_upload(loader: Callable[..., dict[str, Any]]) -> tuple[dict[str, Any] | None, int]:
    """Run a loader (registry, heat sources, boilers) on the upload; (result, status).

    The loader writes the one audit entry of the load (with this admin and address),
    as it does for the command line.
    """
    session = db()
    try:
        path, name, tmp = saved_upload("file", SPREADSHEETS)
        with tmp:
            result = loader(
                session,
                path.read_bytes(),
                name,
                config=app_config(),
                user_id=current_user.id,
                ip=_ip(),
            )
        session.commit()
        return result, 200
    except Refused as exc:
        session.rollback()
        flash(exc.message, "error")
        return (exc.detail if isinstance(exc.detail, dict) else None), 400


@bp.route("/registry", methods=["GET", "POST"])
@roles_required("admin")
def registry() -> ResponseReturnValue:
    """Upload the village registry (村庄名录) and show what was loaded."""
    result, status = None, 200
    if request.method == "POST":
        result, status = _load_upload(load_registry)
        if status == 200:
            flash("村庄名录已加载。", "success")
    return render_template("admin/registry.html", result=result), status


@bp.route("/boundaries", methods=["GET", "POST"])
@roles_required("admin")
def boundaries() -> ResponseReturnValue:
    """Upload village boundaries and show the match report."""
    result = None
    status = 200
    form = {k: request.form.get(k, "").strip() for k in ("code_field", "name_field", "encoding")}
    if request.method == "POST":
        session = db()
        try:
            path, name, tmp = saved_upload(
                "file", (".geojson", ".json", ".gpkg", ".zip", ".shp.zip")
            )
            with tmp:
                report = load_boundaries(
                    session,
                    path,
                    code_field=form["code_field"] or None,
                    name_field=form["name_field"] or None,
                    encoding=form["encoding"] or None,
                    source_name=name,
                    limits=BoundaryLimits.from_config(app_config()),
                    user_id=current_user.id,
                )
            result = report.as_json()
            session.commit()
            flash("村界已加载。", "success")
        except Refused as exc:
            session.rollback()
            flash(exc.message, "error")
            status = 400
    return render_template("admin/boundaries.html", result=result, form=form), status


@bp.route("/decisions", methods=["GET", "POST"])
@roles_required("admin")
def decisions() -> ResponseReturnValue:
    """Completion decisions: record that a village counts as complete, or revoke one."""
    session = db()
    status = 200
    form = {k: request.form.get(k, "").strip() for k in ("village", "reason", "decided_on")}
    if request.method == "POST":
        try:
            if request.form.get("revoke"):
                revoke_decision(session, request.form.get("revoke", type=int) or 0, current_user.id)
                flash("已撤销该完成认定。", "success")
            else:
                decided_on = parse_day(form["decided_on"], "认定日期") or date.today()
                record_decision(
                    session, form["village"], form["reason"], decided_on, current_user.id
                )
                flash(f"已记录村庄 {form['village']} 的完成认定。", "success")
            session.commit()
            return redirect(url_for("admin.decisions"))
        except Refused as exc:
            session.rollback()
            flash(exc.message, "error")
            status = 400
    rows = list(
        session.scalars(
            select(CompletionDecision).order_by(
                CompletionDecision.decided_on.desc(), CompletionDecision.id.desc()
            )
        )
    )
    villages = list(
        session.execute(select(Village.code, Village.name).order_by(Village.code)).all()
    )
    return render_template(
        "admin/decisions.html",
        rows=rows,
        villages=villages,
        form=form,
        today=date.today().isoformat(),
    ), status


@bp.route("/heat-sources", methods=["GET", "POST"])
@roles_required("admin")
def heat_sources() -> ResponseReturnValue:
    """Upload the heat-source register; list it with households served and unmatched names."""
    result, status = None, 200
    if request.method == "POST":
        result, status = _load_upload(load_heat_sources)
        if status == 200:
            flash("热源名单已加载。", "success")
    session = db()
    register = load_register(session)
    # by type, then by name in 拼音 order (heating.collation), as names are sorted elsewhere
    sources = sorted(register.sources.values(), key=lambda f: (f.kind or "", pinyin_key(f.name)))
    return render_template(
        "admin/heat_sources.html",
        result=result,
        sources=sources,
        served=households_served(session, register),
        unmatched=unmatched_ledger_sources(session, register),
        township_names=dict(session.execute(select(Township.code, Township.name)).all()),
        rule=app_config().heat_source_rule,
    ), status


@bp.route("/boilers", methods=["GET", "POST"])
@roles_required("admin")
def boilers() -> ResponseReturnValue:
    """Upload the boiler ledger and show what was loaded."""
    result, status = None, 200
    if request.method == "POST":
        result, status = _load_upload(load_boilers)
        if status == 200:
            flash("锅炉台账已加载。", "success")
    return render_template("admin/boilers.html", result=result), status
