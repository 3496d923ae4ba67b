"""A request-scoped database session (``g.db``), closed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def db() -> Session:
    """Return this request's session; opened on first use."""
    if "db" not in g:
        g.db = current_app.extensions["heating"].sessions()
    return g.db


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()
