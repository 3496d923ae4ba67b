"""Wire extensions, blueprints and error pages into the app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from flask_wtf import CSRFProtect

from heating.web import (
    admin,  # 用户管理
    api,  # /api: coverage, villages, GeoJSON for scripts
    auth,  # 登录、退出、改密码
    boilers,  # /boilers (清零 progress)
    city,  # 全市汇总 (several districts)
    dashboard,  # 总览
    errors,
    headers,
    imports,  # 台账导入: preview, commit, rollback, jobs
    layout,
    reports,  # /reports and the .xlsx download
    signoff,  # 报送与审核
    trend,  # 历年趋势
    usage,  # 用量核验: utility use, flags, subsidies
    villages,  # 村庄列表与村庄页
    zones,  # 禁煤区
)
from heating.web import map as map_page  # /map and the GeoJSON endpoints

csrf = CSRFProtect()

# Ledger parsing runs off the request thread so a 100k-row preview never times out.
UPLOAD_WORKERS = 2

BLUEPRINTS = (
    auth,
    dashboard,
    imports,
    villages,
    zones,
    admin,
    api,
    map_page,
    reports,
    boilers,
    trend,
    signoff,
    usage,
    city,
)


def init_app(app: Flask) -> None:
    """Register CSRF, login, blueprints and error handlers."""
    csrf.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    layout.init_app(app)
    app.extensions["heating_jobs"] = ThreadPoolExecutor(
        max_workers=UPLOAD_WORKERS, thread_name_prefix="heating-upload"
    )
    for module in BLUEPRINTS:
        app.register_blueprint(module.bp)
