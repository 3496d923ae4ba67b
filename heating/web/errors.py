"""Error pages in Chinese, never a stack trace; JSON for /api/."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from heating.errors import Forbidden, NotFound, Refused

MESSAGES = {
    400: ("请求无效", "提交的内容不完整或已过期，请返回上一页刷新后重试。"),
    401: ("请先登录", "请登录后再访问此页面。"),
    403: ("没有权限", "您的账号无权查看或修改这些数据。如需权限，请联系管理员。"),
    404: ("页面不存在", "找不到您要的页面或数据，请检查地址。"),
    405: ("操作不允许", "此页面不支持这种操作。"),
    413: ("文件太大", "上传的文件超过大小上限，请拆分后再上传，或联系管理员调整上限。"),
    500: ("系统错误", "服务器处理时出错，已记录。请稍后重试；如反复出现，请联系管理员。"),
}


def _render(code: int, message: str | None = None):  # noqa: ANN202
    title, default = MESSAGES.get(code, MESSAGES[500])
    text = message or default
    if request.path.startswith("/api/"):
        return jsonify({"error": title, "message": text}), code
    return render_template("errors/error.html", code=code, title=title, message=text), code


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # noqa: ANN202
        return _render(400, "表单已过期或缺少安全校验（CSRF），请刷新页面后重新提交。")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # noqa: ANN202
        return _render(exc.code or 500)

    @app.errorhandler(Forbidden)
    def forbidden(exc: Forbidden):  # noqa: ANN202
        return _render(403, exc.message)

    @app.errorhandler(NotFound)
    def not_found(exc: NotFound):  # noqa: ANN202
        return _render(404, exc.message)

    @app.errorhandler(Refused)
    def refused(exc: Refused):  # noqa: ANN202
        return _render(400, exc.message)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # noqa: ANN202
        app.logger.exception("unhandled error")
        return _render(500)
