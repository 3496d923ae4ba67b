"""Who may do what: role checks, township and district scoping, personal-data visibility.

A clerk is held to its township; a planner or reviewer bound to a district
(``users.district_id``) is held to that district; everyone else reads the
whole installation and may choose a district with ``?district=CODE``.
``request_scope`` turns a request into one ``heating.scope.Scope`` that the
views hand to the domain's queries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort, g, request
from flask_login import current_user, login_required

from heating.errors import Forbidden
from heating.privacy import can_see_personal_data
from heating.scope import Scope, resolve_scope
from heating.web.db import db

F = TypeVar("F", bound=Callable[..., Any])

# roles that read the whole district (a reviewer reads like a planner)
READ_ALL = ("admin", "planner", "city", "reviewer")
ALL_ROLES = ("admin", "clerk", "planner", "city", "reviewer")
UPLOADERS = ("admin", "clerk")  # may upload ledgers and read import batches
# see household lists (masked or not)
HOUSEHOLD_READERS = ("admin", "clerk", "planner", "reviewer")


def roles_required(*roles: str) -> Callable[[F], F]:
    """Require login and one of ``roles``; 403 otherwise (401 for /api/ when anonymous)."""

    def decorator(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def bound_district() -> str | None:
    """The district the current user is held to (its own or its township's), or None."""
    return getattr(current_user, "district_code", None)


def _outside_message(what: str) -> str:
    return (
        f"您的账号只能查看和办理{current_user.district_name}（{current_user.district_code}）的数据，"
        f"{what}不在其中：请选择本区县的乡镇或村，或请管理员调整账号绑定的区县。"
    )


def may_read_code(code: str | None) -> bool:
    """True when a township or village code lies inside what the current user may read."""
    if not current_user.is_authenticated or code is None:
        return False
    if current_user.role == "clerk":
        return current_user.township_code is not None and code.startswith(
            current_user.township_code
        )
    district = bound_district()
    return current_user.role in READ_ALL and (district is None or code.startswith(district))


def may_read_township(township_id: int | None) -> bool:
    """Admins, planners, reviewers and city users read every township of their district
    (all of them when unbound); a clerk only its own."""
    if not current_user.is_authenticated:
        return False
    if current_user.role == "clerk":
        return township_id == current_user.township_id
    if current_user.role not in READ_ALL:
        return False
    if bound_district() is None:
        return True
    from heating.models import Township

    code = db().get(Township, township_id).code if township_id is not None else None
    return may_read_code(code)


def require_township(township_id: int | None) -> None:
    """Abort with 403 unless the current user may read this township."""
    if not may_read_township(township_id):
        abort(403)


def scoped_township_code(requested: str | None) -> str | None:
    """The township a query is limited to: a clerk's own (403 for another), else the request."""
    requested = (requested or "").strip() or None
    if current_user.role == "clerk":
        if requested and requested != current_user.township_code:
            abort(403)
        return current_user.township_code
    if requested and not may_read_code(requested):
        raise Forbidden(_outside_message(f"乡镇 {requested}"))
    return requested


def scoped_district_code(requested: str | None) -> str | None:
    """The district a query is limited to: a bound user's own (403 for another), else the request."""
    requested = (requested or "").strip() or None
    district = bound_district()
    if district is not None:
        if requested and requested != district:
            raise Forbidden(_outside_message(f"区县 {requested}"))
        return district
    return requested


def request_scope(township: str | None = None) -> Scope:
    """The scope of this request: ``?district=`` and ``?township=`` (or ``township``) held to
    what the user may read (403 outside it, 404 for an unknown code)."""
    if township is None:
        township = request.args.get("township")
    cached = g.get("heating_scope")
    key = (request.args.get("district"), township)
    if cached is not None and cached[0] == key:
        return cached[1]
    district_code = scoped_district_code(request.args.get("district"))
    township_code = scoped_township_code(township)
    scope = resolve_scope(db(), district_code, township_code)
    g.heating_scope = (key, scope)
    return scope


def sees_personal_data(household_township_id: int | None) -> bool:
    """True when the current user may see full ID numbers and phones of this township."""
    return can_see_personal_data(current_user.role, current_user.township_id, household_township_id)
