"""Security headers on every response: CSP, framing, sniffing, referrer, caching.

One place decides them all, so a new page cannot forget one:

- ``Content-Security-Policy``: only this site's scripts (``script-src 'self'``,
  no inline script), styles may be inline, no framing by other sites
  (``frame-ancestors 'self'``), forms post only here.
- ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: SAMEORIGIN``,
  ``Referrer-Policy: same-origin``.
- ``Cache-Control: no-store`` on every page and download (any of them may show
  personal data or a township's figures); only static assets may be cached.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, request
from werkzeug.wrappers import Response

from heating.web.db import app_config

# Pages that draw the coverage map may load basemap tiles from ``basemap_url``'s origin.
# (The map itself runs under script-src 'self': its script is /map/script.js.)
MAP_ENDPOINTS = frozenset({"map.page", "zones.index"})


def content_security_policy(endpoint: str | None, basemap_url: str = "") -> str:
    """The CSP for a response of ``endpoint``."""
    images = "'self' data: blob:"
    if endpoint in MAP_ENDPOINTS and basemap_url:
        parts = urlsplit(basemap_url)
        if parts.scheme in ("http", "https") and parts.netloc:
            images += f" {parts.scheme}://{parts.netloc}"
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "font-src 'self' data:",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'self'",
        ]
    )


def init_app(app: Flask) -> None:
    @app.after_request
    def security_headers(response: Response) -> Response:
        endpoint = request.endpoint
        response.headers["Content-Security-Policy"] = content_security_policy(
            endpoint, app_config().basemap_url
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Referrer-Policy"] = "same-origin"
        if endpoint != "static":
            response.headers["Cache-Control"] = "no-store"
            response.headers.pop("Expires", None)
        return response
