"""Login, logout, the login manager and the slow-down after repeated failures."""

from __future__ import annotations

import math
from datetime import datetime

from flask import (
    Blueprint,
    Flask,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from heating.models import User, audit, utcnow
from heating.users import hash_password, verify_password
from heating.web import db as web_db
from heating.web.db import app_config, db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

# Checked against when the user name is unknown, so both paths cost one scrypt.
_DUMMY_HASH: str | None = None


class LoginUser:
    """The Flask-Login view of a user row (detached from any session)."""

    def __init__(self, user: User) -> None:
        self.id = user.id
        self.username = user.username
        self.role = user.role
        self.township_id = user.township_id
        self.township_code = user.township.code if user.township else None
        self.township_name = user.township.name if user.township else None
        self.is_active = user.active
        self.is_authenticated = True
        self.is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)


class LoginForm(FlaskForm):
    class Meta:
        locales = ["zh"]

    username = StringField("用户名", validators=[DataRequired(message="请输入用户名")])
    password = PasswordField("密码", validators=[DataRequired(message="请输入密码")])


def init_app(app: Flask) -> None:
    web_db.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "请先登录。"
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str) -> LoginUser | None:
        user = db().get(User, int(user_id)) if user_id.isdigit() else None
        return LoginUser(user) if user is not None and user.active else None

    @login_manager.unauthorized_handler
    def unauthorized():  # noqa: ANN202
        if request.path.startswith("/api/"):
            return jsonify({"error": "unauthorized", "message": "请先登录。"}), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def lockout_remaining(user: User, *, now: datetime | None = None) -> int:
    """Seconds until ``user`` may try again; 0 when not locked out.

    After ``login_max_failures`` consecutive failures each attempt must wait
    ``login_lockout_seconds`` since the last failure.  Computed from stored
    columns, so no request thread sleeps and every worker agrees.
    """
    cfg = app_config()
    if not cfg.login_max_failures or user.failed_logins < cfg.login_max_failures:
        return 0
    if user.last_failed_at is None:
        return 0
    waited = ((now or utcnow()) - user.last_failed_at).total_seconds()
    return max(0, math.ceil(cfg.login_lockout_seconds - waited))


def _check_unknown_user(password: str) -> None:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    check_password_hash(_DUMMY_HASH, password)


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    """Show the login form; sign in on a correct password unless locked out."""
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        session = db()
        user = session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is None:
            _check_unknown_user(form.password.data)
            flash("用户名或密码错误。", "error")
            return render_template("auth/login.html", form=form), 200
        wait = lockout_remaining(user)
        if wait:
            audit(session, "login_locked", user=user, ip=request.remote_addr)
            session.commit()
            flash(f"连续登录失败次数过多，请在 {wait} 秒后重试。", "error")
            return render_template("auth/login.html", form=form), 429
        if verify_password(user, form.password.data):
            if not user.active:
                flash("该账号已停用，请联系管理员。", "error")
                return render_template("auth/login.html", form=form), 403
            user.failed_logins = 0
            user.last_login_at = utcnow()
            audit(session, "login", user=user, ip=request.remote_addr)
            session.commit()
            login_user(LoginUser(user))
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//") or "\\" in target:
                target = url_for("dashboard.index")
            return redirect(target)
        user.failed_logins += 1
        user.last_failed_at = utcnow()
        audit(
            session,
            "login_failed",
            user=user,
            detail={"failures": user.failed_logins},
            ip=request.remote_addr,
        )
        session.commit()
        flash("用户名或密码错误。", "error")
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # noqa: ANN201
    """Sign out."""
    session = db()
    audit(session, "logout", user=current_user, ip=request.remote_addr)
    session.commit()
    logout_user()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


__all__ = ["bp", "current_user", "login_manager", "lockout_remaining"]
