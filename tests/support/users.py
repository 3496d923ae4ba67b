"""The cast of users: six roles, one password (made once, in the template database)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from heating.users import create_user

PASSWORD = "correct-horse-1"

# username → (role, township code)
CAST = {
    "alice": ("admin", None),
    "bob": ("clerk", "140405001"),
    "carol": ("clerk", "140405101"),
    "dave": ("planner", None),
    "erin": ("city", None),
    "rita": ("reviewer", None),
}


def load_cast(session: Session) -> dict[str, int]:
    """Create the cast through ``heating.users``; return username → id."""
    return {
        name: create_user(session, name, role, PASSWORD, township).id
        for name, (role, township) in CAST.items()
    }
