"""The web application factory.

``create_app()`` reads settings, opens the database and registers one
blueprint per area.  Nothing is built at import time, so a WSGI server can
call ``heating.web:create_app()`` in each worker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask

from heating.config import Config
from heating.figures_warmup import warm_at_start
from heating.runtime import Runtime, open_runtime


def templates_dir() -> Path:
    """The Jinja templates: the repository's ``templates/`` or the installed copy."""
    here = Path(__file__).resolve().parent.parent  # heating/
    for candidate in (here.parent / "templates", here / "templates"):
        if (candidate / "base.html").is_file():
            return candidate
    raise RuntimeError("templates/ not found next to the heating package")


def max_request_bytes(config: Config) -> int:
    """The largest request body accepted: one upload plus room for the form's other fields."""
    return config.upload_max_mb * 1024 * 1024 + 64 * 1024


def server_options(config: Config, *, threads: int = 8) -> dict[str, Any]:
    """waitress settings: the body limit follows ``upload_max_mb``.

    waitress spools a body of up to 1 GB by default before the app can refuse
    it; with this limit it stops reading and answers 413 as soon as the
    declared or received length passes the upload limit.
    """
    return {
        "threads": threads,
        "max_request_body_size": max_request_bytes(config),
        "ident": "heating",
    }


def create_app(
    config: Config | None = None, *, runtime: Runtime | None = None, **overrides: Any
) -> Flask:
    """Build the Flask app for ``config`` (or settings from file and environment)."""
    from heating.db import get_meta, require_initialised
    from heating.sealing import require_key

    runtime = runtime or open_runtime(config, **overrides)
    require_initialised(runtime.engine)
    require_key(runtime.config)
    if runtime.config.upload_retention_days is not None:
        from imports.storage import sweep

        with runtime.session() as session:  # the start-up retention sweep
            sweep(session, runtime.config.upload_retention_days)
    app = Flask(
        "heating",
        template_folder=str(templates_dir()),
        static_folder=str(Path(__file__).resolve().parent.parent / "static"),
    )
    cfg = runtime.config
    secret = cfg.secret_key
    if not secret:
        with runtime.session() as session:
            secret = get_meta(session, "secret_key")
    app.config.update(
        SECRET_KEY=secret,
        MAX_CONTENT_LENGTH=max_request_bytes(cfg),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cfg.session_cookie_secure,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=cfg.session_cookie_secure,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["heating"] = runtime

    from heating.web import setup as web_setup

    web_setup.init_app(app)
    warm_at_start(runtime)
    return app
