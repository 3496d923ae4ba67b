"""The cast of users: six roles, one password (made once, in the template database)."""

from __future__ import annotations

from functools import cache

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from heating.models import District, User
from heating.scope import DISTRICT_ROLES
from heating.users import create_user

PASSWORD = "correct-horse-1"

# The scrypt cost of the cast's stored password hashes (tests/conftest.py re-makes them at it).
CAST_HASH_METHOD = "scrypt:1024:8:1"

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


@cache
def cast_hash() -> str:
    """``PASSWORD`` hashed at the cast's cost, once per process."""
    return generate_password_hash(PASSWORD, method=CAST_HASH_METHOD)


def add_district_user(session: Session, username: str, role: str, district_code: str) -> int:
    """A planner or reviewer bound to a district, with ``PASSWORD`` at the cast's cost; its id.

    The row ``heating.users.create_user`` writes for such a user (username, role,
    district), whose hash werkzeug checks at the cost it reads from it, like the
    cast's.  ``create_user`` itself spends ≈ 0.11 s of production-cost scrypt per
    call: the multi-district fixtures made one or two such users per test (≈ 8 s of
    CPU per run, and ≈ 0.08 s per login).  Binding through ``create_user`` and
    ``heating user add --district`` is what tests/test_users.py and
    tests/test_districts.py test.
    """
    assert role in DISTRICT_ROLES, role
    district_id = session.scalar(select(District.id).where(District.code == district_code))
    assert district_id is not None, district_code
    user = User(username=username, role=role, district_id=district_id, password_hash=cast_hash())
    session.add(user)
    session.flush()
    return user.id
