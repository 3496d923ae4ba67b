"""Login, logout and the login manager."""

from __future__ import annotations

from flask import Blueprint, Flask, flash, jsonify, redirect, render_template, request, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired

from heating.models import User, audit, utcnow
from heating.users import verify_password
from heating.web import db as web_db
from heating.web.db import db

bp = Blueprint("auth", __name__)
login_manager = LoginManager()


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

    @login_manager.user_loader
    def load_user(user_id: str) -> LoginUser | None:
        user = db().get(User, int(user_id)) if user_id.isdigit() else None
        return LoginUser(user) if user is not None and user.active else None

    @login_manager.unauthorized_handler
    def unauthorized():  # noqa: ANN202
        if request.path.startswith("/api/"):
            return jsonify({"error": "unauthorized", "message": "请先登录。"}), 401
        return redirect(url_for("auth.login", next=request.full_path))


@bp.route("/login", methods=["GET", "POST"])
def login():  # noqa: ANN201
    """Show the login form; sign in on a correct password."""
    form = LoginForm()
    if form.validate_on_submit():
        session = db()
        user = session.scalar(select(User).where(User.username == form.username.data.strip()))
        if user is not None and user.active and verify_password(user, form.password.data):
            user.failed_logins = 0
            user.last_login_at = utcnow()
            audit(session, "login", user=user, ip=request.remote_addr)
            session.commit()
            login_user(LoginUser(user))
            target = request.args.get("next") or ""
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("dashboard.index")
            return redirect(target)
        if user is not None:
            user.failed_logins += 1
            user.last_failed_at = utcnow()
            audit(session, "login_failed", user=user, ip=request.remote_addr)
            session.commit()
        flash("用户名或密码错误。", "error")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():  # noqa: ANN201
    """Sign out."""
    logout_user()
    return redirect(url_for("auth.login"))


__all__ = ["bp", "current_user", "login_manager"]
