"""The app's runtime and config, and a request-scoped database session (``g.db``)."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from heating.config import Config
from heating.runtime import Runtime
from heating.session_memo import remember_reads


def app_runtime() -> Runtime:
    """The runtime ``create_app`` stored on the current app."""
    return current_app.extensions["heating"]


def app_config() -> Config:
    """The resolved settings of the current app."""
    return app_runtime().config


def db() -> Session:
    """Return this request's session; opened on first use.

    A GET or HEAD request only reads: its session remembers the village facts
    and household states it computes, so a page asking for the same figures twice
    pays once.
    """
    if "db" not in g:
        g.db = app_runtime().sessions()
        if has_request_context() and request.method in ("GET", "HEAD"):
            remember_reads(g.db)
    return g.db


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
