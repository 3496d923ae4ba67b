"""What every page shares: the navigation, labels and number formatting filters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, request, url_for
from flask_login import current_user

from heating.models import (
    OPERATION_LABELS,
    ROLE_LABELS,
    ROUTE_LABELS,
    STATUS_LABELS,
)

BATCH_STATUS_LABELS = {
    "parsing": "正在解析",
    "failed": "解析失败",
    "preview": "待确认",
    "committed": "已写入",
    "rolled_back": "已撤销",
    "cancelled": "已取消",
}
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "note": "提示"}


def nav_items() -> list[tuple[str, str, str]]:
    """(href, label, key) of the main navigation for the current user's role."""
    if not current_user.is_authenticated:
        return []
    role = current_user.role
    items = [(url_for("dashboard.index"), "总览", "dashboard")]
    items.append((url_for("villages.index"), "村庄", "villages"))
    if role in ("admin", "clerk"):
        items.append((url_for("imports.index"), "台账导入", "imports"))
    items.append((url_for("zones.index"), "禁煤区", "zones"))
    # MAP and REPORT own these pages: plain hrefs so the layout renders without them.
    items.append(("/map", "覆盖地图", "map"))
    items.append(("/reports", "年度报告", "reports"))
    if role == "admin":
        items.append((url_for("admin.users"), "系统管理", "admin"))
    return items


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage; None (undefined) as an em dash, never 0% or 100%."""
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f}%"


def when(value: datetime | date | str | None) -> str:
    """Dates and times the way the UI shows them."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def yesno(value: bool | None) -> str:
    if value is None:
        return "—"
    return "是" if value else "否"


def page_url(**changes: Any) -> str:
    """This page's URL with some query arguments replaced (for filters and pagination)."""
    args = request.args.to_dict()
    for key, value in changes.items():
        if value is None or value == "":
            args.pop(key, None)
        else:
            args[key] = value
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(pct=pct, when=when, yesno=yesno)

    # Globals (not a context processor) so that imported macros see them too.
    app.jinja_env.globals.update(
        nav_items=nav_items,
        page_url=page_url,
        ROLE_LABELS=ROLE_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        ROUTE_LABELS=ROUTE_LABELS,
        OPERATION_LABELS=OPERATION_LABELS,
        BATCH_STATUS_LABELS=BATCH_STATUS_LABELS,
        SEVERITY_LABELS=SEVERITY_LABELS,
        profile=app.extensions["heating"].config.profile,
    )
