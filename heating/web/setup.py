"""Wire extensions, blueprints and error pages into the app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from flask import Flask
from flask_wtf import CSRFProtect

csrf = CSRFProtect()

# Ledger parsing runs off the request thread so a 100k-row preview never times out.
UPLOAD_WORKERS = 2


def init_app(app: Flask) -> None:
    """Register CSRF, login, blueprints and error handlers."""
    from heating.web import (
        admin,
        api,
        auth,
        dashboard,
        errors,
        headers,
        imports,
        layout,
        villages,
        zones,
    )

    csrf.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    headers.init_app(app)
    layout.init_app(app)
    app.extensions["heating_jobs"] = ThreadPoolExecutor(
        max_workers=UPLOAD_WORKERS, thread_name_prefix="heating-upload"
    )
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(imports.bp)
    app.register_blueprint(villages.bp)
    app.register_blueprint(zones.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(api.bp)
    from heating.web import map as map_page  # MAP: /map and the GeoJSON endpoints

    app.register_blueprint(map_page.bp)
    from heating.web import reports  # REPORT: /reports and the .xlsx download

    app.register_blueprint(reports.bp)
    from heating.web import boilers  # BOILERS: /boilers (清零 progress)

    app.register_blueprint(boilers.bp)
    from heating.web import trend  # 历年趋势

    app.register_blueprint(trend.bp)
    from heating.web import signoff  # 报送与审核

    app.register_blueprint(signoff.bp)
    from heating.web import usage  # 用量核验: utility use, flags, subsidies

    app.register_blueprint(usage.bp)
    from heating.web import city  # 全市汇总 (several districts)

    app.register_blueprint(city.bp)
