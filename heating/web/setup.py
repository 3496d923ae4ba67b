"""Wire extensions, blueprints and error pages into the app."""

from __future__ import annotations

from flask import Flask
from flask_wtf import CSRFProtect

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    """Register CSRF, login, blueprints and error handlers."""
    from heating.web import auth, dashboard, errors

    csrf.init_app(app)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
