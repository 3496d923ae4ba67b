"""Login, logout, the account page, and the login manager over server-side sessions.

The cookie holds a session token (``heating.sessions``), not the user id, so
logging out, a password reset or a deactivation ends a session everywhere at
once.  Counting failures and locking out belong to ``heating.users``; the
per-address and global limits to ``heating.web.throttle``.
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from heating.errors import Refused
from heating.models import User, audit
from heating.sessions import forget_old, live_sessions, open_session, resolve, revoke
from heating.users import attempt_login, change_own_password, sign_out_everywhere
from heating.web import db as web_db
from heating.web.db import app_config, db
from heating.web.throttle import LoginThrottle, client_address

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

# One answer for an unknown user, a wrong password, a locked or a disabled account.
LOGIN_REFUSED = (
    "用户名或密码错误。连续输错多次后需等待一段时间才能再试；如仍无法登录，请联系管理员。"
)


class LoginUser:
    """The Flask-Login view of a user row (detached from any session)."""

    def __init__(self, user: User, token: str) -> None:
        self.id = user.id
        self.token = token
        self.username = user.username
        self.role = user.role
        self.township_id = user.township_id
        self.township_code = user.township.code if user.township else None
        self.township_name = user.township.name if user.township else None
        # The district the user is held to: its own (planner, reviewer) or its township's.
        bound = user.district or (user.township.district if user.township else None)
        self.district_id = bound.id if bound else None
        self.district_code = bound.code if bound else None
        self.district_name = bound.name if bound else None
        self.is_active = user.active
        self.is_authenticated = True
        self.is_anonymous = False

    def get_id(self) -> str:
        """What Flask-Login keeps in the cookie: the session token."""
        return self.token


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
    app.extensions["heating_login_throttle"] = LoginThrottle()

    @login_manager.user_loader
    def load_user(token: str) -> LoginUser | None:
        user = resolve(db(), token, app_config())
        return LoginUser(user, token) if user is not None else None

    @login_manager.unauthorized_handler
    def unauthorized() -> ResponseReturnValue:
        if request.path.startswith("/api/"):
            return jsonify({"error": "unauthorized", "message": "请先登录。"}), 401
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


def request_address() -> str:
    """The client address of this request (X-Forwarded-For only behind a trusted proxy)."""
    return client_address(request, app_config().trusted_proxies)


def safe_next(target: str | None) -> str | None:
    """``target`` when it is a path on this site, else None.

    Browsers drop tab, CR and LF inside URLs and read ``\\`` as ``/``, so
    ``/\\t/evil.example`` becomes ``//evil.example``: any control character or
    backslash refuses the target outright; what is left must be a path
    starting with one ``/`` and without scheme or host.
    """
    if not target:
        return None
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    if not target.startswith("/") or target.startswith("//"):
        return None
    return target


def _throttle() -> LoginThrottle:
    return current_app.extensions["heating_login_throttle"]


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Show the login form; sign in on a correct password within the limits."""
    form = LoginForm()
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 200
    config = app_config()
    address = request_address()
    throttle = _throttle()
    delay = throttle.global_delay(config)
    if delay:
        time.sleep(delay)
    slot, retry_after = throttle.take(address, config)
    if slot is None:
        audit(db(), "login_throttled", detail={"retry_after": retry_after}, ip=address)
        db().commit()
        flash(f"来自本地址的登录失败次数过多，请在 {retry_after} 秒后重试。", "error")
        page = render_template("auth/login.html", form=form)
        return page, 429, {"Retry-After": str(retry_after)}
    outcome = attempt_login(db(), form.username.data, form.password.data, config, ip=address)
    if outcome.user is None:
        throttle.failed()
        flash(LOGIN_REFUSED, "error")
        return render_template("auth/login.html", form=form), 200
    throttle.succeeded(address, slot)
    token = open_session(db(), outcome.user, ip=address)
    forget_old(db(), outcome.user.id, config)
    audit(db(), "login", user=outcome.user, ip=address)
    db().commit()
    session.clear()  # nothing from before the login survives it (session fixation)
    login_user(LoginUser(outcome.user, token))
    return redirect(safe_next(request.args.get("next")) or url_for("dashboard.index"))


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> ResponseReturnValue:
    """Sign out: this session ends on the server too."""
    revoke(db(), current_user.token)
    audit(db(), "logout", user=current_user, ip=request_address())
    db().commit()
    logout_user()
    flash("已退出登录。", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> ResponseReturnValue:
    """The user's own account: 修改密码 and how many sessions are open."""
    status = 200
    if request.method == "POST":
        new = request.form.get("new_password", "")
        try:
            if new != request.form.get("new_password_again", ""):
                raise Refused("两次输入的新密码不一致，请重新输入。")
            user = db().get(User, current_user.id)
            ended = change_own_password(
                db(),
                user,
                request.form.get("current_password", ""),
                new,
                keep_token=current_user.token,
                ip=request_address(),
            )
            db().commit()
            more = f"，已退出其他 {ended} 个设备上的登录" if ended else ""
            flash(f"密码已修改{more}。", "success")
            return redirect(url_for("auth.account"))
        except Refused as exc:
            db().rollback()
            flash(exc.message, "error")
            status = 400
    sessions = live_sessions(db(), current_user.id, app_config())
    return render_template("auth/account.html", sessions=sessions), status


@bp.route("/account/logout-all", methods=["POST"])
@login_required
def logout_all() -> ResponseReturnValue:
    """End every session of this user, this one included (退出所有设备)."""
    user = db().get(User, current_user.id)
    ended = sign_out_everywhere(db(), user, ip=request_address())
    db().commit()
    logout_user()
    flash(f"已退出所有设备上的登录（{ended} 个）。", "info")
    return redirect(url_for("auth.login"))


__all__ = ["bp", "current_user", "login_manager", "request_address", "safe_next"]
