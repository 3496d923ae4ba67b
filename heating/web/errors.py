"""Error pages in Chinese, never a stack trace; JSON for /api/."""

from __future__ import annotations

from html import escape

from flask import Flask, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from heating.errors import Forbidden, NotFound, Refused
from heating.web.db import app_config

MESSAGES = {
    400: ("请求无效", "提交的内容不完整或已过期，请返回上一页刷新后重试。"),
    401: ("请先登录", "请登录后再访问此页面。"),
    403: ("没有权限", "您的账号无权查看或修改这些数据。如需权限，请联系管理员。"),
    404: ("页面不存在", "找不到您要的页面或数据，请检查地址。"),
    405: ("操作不允许", "此页面不支持这种操作。"),
    413: ("文件太大", "上传的文件超过大小上限，请拆分后再上传，或联系管理员调整上限。"),
    429: ("请求过于频繁", "请稍后再试。"),
    500: ("系统错误", "服务器处理时出错，已记录。请稍后重试；如反复出现，请联系管理员。"),
}


def render_error(code: int, message: str | None = None) -> ResponseReturnValue:
    """The Chinese error page (or JSON under /api/) for ``code``."""
    title, default = MESSAGES.get(code, MESSAGES[500])
    text = message or default
    if request.path.startswith("/api/"):
        return jsonify({"error": title, "message": text}), code
    try:
        return render_template("errors/error.html", code=code, title=title, message=text), code
    except Exception:  # the page itself failed (e.g. database down): plain text, still Chinese
        current_app.logger.exception("error page failed")
        body = f"<!doctype html><meta charset=utf-8><h1>{code} · {escape(title)}</h1><p>{escape(text)}</p>"
        return body, code, {"Content-Type": "text/html; charset=utf-8"}


def stale_form_message() -> str:
    """Why a form's security token failed, in the words of what happened to the user.

    Most often the login expired (idle timeout, logout elsewhere) while the
    page stood open; otherwise the page is older than the current login.
    """
    if request.path.rstrip("/") == "/login":
        return "登录页已打开太久，已失效：请刷新页面后重新登录。"
    action = "上传" if request.path.startswith("/imports") else "提交"
    if not current_user.is_authenticated:
        return f"登录已过期，请重新登录后再{action}。"
    return (
        f"这个页面是在本次登录之前打开的，或已打开很久，表单已失效：请刷新页面后重新{action}"
        "（如选过文件，需要重新选择）。"
    )


def _too_large_message() -> str:
    limit = app_config().upload_max_mb
    return (
        f"上传的文件超过 {limit} MB 的上限，请拆分后再上传，或联系管理员调整上限（upload_max_mb）。"
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> ResponseReturnValue:
        return render_error(400, stale_form_message())

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        if exc.code == 413:
            return render_error(413, _too_large_message())
        return render_error(exc.code or 500)

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden) -> ResponseReturnValue:
        return render_error(403, exc.message)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound) -> ResponseReturnValue:
        return render_error(404, exc.message)

    @app.errorhandler(Refused)
    def refused(exc: Refused) -> ResponseReturnValue:
        return render_error(400, exc.message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        app.logger.exception("unhandled error")
        return render_error(500)
