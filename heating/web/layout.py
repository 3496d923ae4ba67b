"""What every page shares: the navigation, labels and number formatting filters."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request, url_for
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from heating import clock, coverage_classes
from heating.heat_sources import HEAT_SOURCE_RULE_LABELS
from heating.models import (
    BATCH_STATUS_LABELS,
    OPERATION_LABELS,
    ROLE_LABELS,
    ROUTE_LABELS,
    SIGNOFF_STATE_LABELS,
    STATUS_LABELS,
    District,
    utcnow,
)
from heating.targets import percent
from heating.web.access import READ_ALL, bound_district
from heating.web.db import app_config, db
from imports.issues import SEVERITY_LABELS
from imports.ledger_date import SOURCE_LABELS


def nav_items() -> list[tuple[str, str, str]]:
    """(href, label, key) of the main navigation for the current user's role."""
    if not current_user.is_authenticated:
        return []
    role = current_user.role
    items = [(url_for("dashboard.index"), "总览", "dashboard")]
    if role in READ_ALL and bound_district() is None and _several_districts():
        items.insert(0, (url_for("city.index"), "全市", "city"))
    items.append((url_for("villages.index"), "村庄", "villages"))
    if role in ("admin", "clerk"):
        items.append((url_for("imports.index"), "台账导入", "imports"))
    items.append((url_for("zones.index"), "禁煤区", "zones"))
    # MAP and REPORT own these pages: plain hrefs so the layout renders without them.
    items.append((url_for("map.page"), "覆盖地图", "map"))
    items.append((url_for("trend.index"), "历年趋势", "trend"))
    items.append((url_for("reports.index"), "年度报告", "reports"))
    if role in READ_ALL:
        items.append((url_for("boilers.index"), "燃煤锅炉", "boilers"))
    if role in (*READ_ALL, "clerk"):  # a clerk: its own township, read-only (heating.web.usage)
        items.append((url_for("usage.index"), "用量核验", "usage"))
    items.append((url_for("signoff.index"), "报送与审核", "signoff"))
    if role == "admin":
        items.append((url_for("admin.users"), "系统管理", "admin"))
    return items


def _district_names() -> dict[str, str]:
    """Code → name of every district of the installation: once per request."""
    if "heating_district_names" not in g:
        g.heating_district_names = dict(
            db().execute(select(District.code, District.name).order_by(District.code)).all()
        )
    return g.heating_district_names


def _several_districts() -> bool:
    """True when the installation holds more than one district (a city)."""
    return len(_district_names()) > 1


# Areas whose pages read ``?district=`` (through heating.web.access.request_scope):
# a link into them carries the district the user chose.  Not the city summary
# (it is every district), the account, the administration or static files.
DISTRICT_AREAS = frozenset(
    {
        "dashboard",
        "villages",
        "zones",
        "map",
        "trend",
        "reports",
        "boilers",
        "usage",
        "signoff",
        "imports",
        "api",
    }
)


def chosen_district() -> str | None:
    """The district an unbound user chose with ``?district=`` on this request, if it exists.

    A district-bound user reads its own district whatever the address says, so
    nothing is carried for it; an unknown or malformed code is not carried either
    (the page itself says what is wrong with it).
    """
    if not has_request_context() or not current_user.is_authenticated:
        return None
    if bound_district() is not None or current_user.role not in READ_ALL:
        return None
    code = (request.args.get("district") or "").strip()
    if not code or code not in _district_names():
        return None
    return code


def district_choices() -> dict[str, Any] | None:
    """The navigation's district picker (several districts, an unbound reader) or None."""
    if not current_user.is_authenticated or current_user.role not in READ_ALL:
        return None
    if bound_district() is not None or not _several_districts():
        return None
    # The picker reloads this page in another district; a page of one record
    # (a village, a batch) belongs to its own district, so it goes to the overview.
    stays = (
        request.method == "GET" and request.blueprint in DISTRICT_AREAS and not request.view_args
    )
    return {
        "action": url_for(request.endpoint) if stays else url_for("dashboard.index"),
        "districts": _district_names(),
        "chosen": chosen_district(),
    }


def district_field() -> Markup:
    """A GET form's hidden ``district`` input, so that filtering stays in the chosen district."""
    district = chosen_district()
    if district is None:
        return Markup("")
    return Markup('<input type="hidden" name="district" value="{}">').format(district)


def carry_district(endpoint: str, values: dict[str, Any]) -> None:
    """Add the chosen district to links into the areas that read it (Flask url_defaults).

    A link that names ``district`` itself (None for "every district") keeps its own.
    """
    if "district" in values or endpoint.partition(".")[0] not in DISTRICT_AREAS:
        return
    district = chosen_district()
    if district is not None:
        values["district"] = district


def when(value: datetime | date | str | None) -> str:
    """Dates and times the way the UI shows them."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    if isinstance(value, datetime):
        return local_time(value).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def printed_at() -> str:
    """Now, as a printout's date line says it (the configured time zone)."""
    return when(utcnow())


def local_time(value: datetime) -> datetime:
    """Stored times are naive UTC; show them in the configured time zone (Beijing by default)."""
    return clock.local(value, app_config().timezone)


# Audit details are stored as JSON by many areas; these are the keys an admin meets.
DETAIL_LABELS = {
    "file": "文件",
    "sha256": "SHA-256",
    "counts": "计数",
    "rows": "数据行",
    "new": "新增",
    "updated": "更新",
    "unchanged": "未变",
    "rejected": "错误行",
    "skipped": "跳过",
    "warnings": "警告",
    "errors": "错误",
    "accept_valid": "只导入无误的行",
    "households": "农户",
    "townships": "乡镇",
    "villages": "村庄",
    "crs": "坐标系",
    "features": "要素",
    "matched": "已匹配",
    "repaired": "已修复",
    "as_of": "截至",
    "ledger_date": "台账日期",
    "expired": "因此过期的预览批次",
    "zones": "禁煤区片数",
    "role": "角色",
    "township": "乡镇",
    "via": "方式",
    "version": "版本",
    "decision": "认定编号",
    "reason": "理由",
    "decided_on": "认定日期",
    "batch": "批次",
    "new_townships": "新增乡镇",
    "period": "报送期",
    "from": "原状态",
    "to": "新状态",
    "note": "说明",
    "proposed": "按城乡分类代码建议类别的村",
    "plan": "方案编号",
    "state": "状态",
    "unit": "责任单位",
    "due_on": "完成时限",
}
TARGET_PREFIXES = {"batch": "批次 #", "derivation": "禁煤区推导 #", "user": "用户 #"}
DETAIL_TEXT_MAX = 80


def _detail_value(key: str, value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "—"
    if isinstance(value, dict):
        return "（" + audit_detail(value) + "）"
    if isinstance(value, (list, tuple)):
        return f"{len(value)} 项"
    if key == "role":
        return ROLE_LABELS.get(str(value), str(value))
    text = str(value)
    if key == "sha256":
        return text[:12] + "…"
    return text if len(text) <= DETAIL_TEXT_MAX else text[:DETAIL_TEXT_MAX] + "…"


def audit_detail(detail: dict[str, Any] | None) -> str:
    """One readable line for an audit entry's JSON detail: Chinese keys, lists counted.

    Some areas store whole result objects (a registry upload lists every village);
    the audit page must stay a table an administrator can scan.
    """
    if not detail:
        return ""
    if not isinstance(detail, dict):
        return _detail_value("", detail)
    return "；".join(f"{DETAIL_LABELS.get(k, k)} {_detail_value(k, v)}" for k, v in detail.items())


def audit_target(target: str | None) -> str:
    """An audit target such as "batch:5" as the admin reads it ("批次 #5")."""
    if not target:
        return ""
    kind, sep, rest = target.partition(":")
    if sep and kind in TARGET_PREFIXES and rest.isdigit():
        return TARGET_PREFIXES[kind] + rest
    return target


def yesno(value: bool | None) -> str:
    if value is None:
        return "—"
    return "是" if value else "否"


def page_url(**changes: Any) -> str:
    """This page's URL with some query arguments replaced (for filters and pagination)."""
    args: dict[str, Any] = request.args.to_dict()
    for key, value in changes.items():
        # None, not a missing key: url_for then leaves the argument out instead of
        # filling it in again (carry_district)
        args[key] = None if value is None or value == "" else value
    return url_for(request.endpoint, **(request.view_args or {}), **args)


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        pct=percent, when=when, yesno=yesno, audit_detail=audit_detail, audit_target=audit_target
    )

    # Globals (not a context processor) so that imported macros see them too.
    app.jinja_env.globals.update(
        nav_items=nav_items,
        page_url=page_url,
        district_choices=district_choices,
        chosen_district=chosen_district,
        district_field=district_field,
        printed_at=printed_at,
        ROLE_LABELS=ROLE_LABELS,
        STATUS_LABELS=STATUS_LABELS,
        SIGNOFF_STATE_LABELS=SIGNOFF_STATE_LABELS,
        ROUTE_LABELS=ROUTE_LABELS,
        HEAT_SOURCE_RULE_LABELS=HEAT_SOURCE_RULE_LABELS,
        OPERATION_LABELS=OPERATION_LABELS,
        BATCH_STATUS_LABELS=BATCH_STATUS_LABELS,
        SEVERITY_LABELS=SEVERITY_LABELS,
        LEDGER_DATE_SOURCES=SOURCE_LABELS,
        profile=app.extensions["heating"].config.profile,
    )

    app.url_defaults(carry_district)

    @app.route("/palette.css")
    def palette_css() -> Response:
        """The colours of the coverage classes and status tones (heating.coverage_classes)."""
        response = Response(coverage_classes.palette_css(), mimetype="text/css")
        response.cache_control.max_age = 3600
        return response
