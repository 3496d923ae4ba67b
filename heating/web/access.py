"""Who may do what: role checks, township scoping and personal-data visibility."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user, login_required

from heating.privacy import can_see_personal_data

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


def may_read_township(township_id: int | None) -> bool:
    """Admins, planners, reviewers and city users read every township; a clerk only its own."""
    if not current_user.is_authenticated:
        return False
    if current_user.role in READ_ALL:
        return True
    return current_user.role == "clerk" and township_id == current_user.township_id


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
    return requested


def sees_personal_data(household_township_id: int | None) -> bool:
    """True when the current user may see full ID numbers and phones of this township."""
    return can_see_personal_data(current_user.role, current_user.township_id, household_township_id)
