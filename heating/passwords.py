"""Passwords: hashing, checking, and the one policy every way of setting one goes through.

``heating user add``, the admin's reset and the self-service 修改密码 page all
call ``check_password_policy``, so a password refused in one place is refused
in all of them.
"""

from __future__ import annotations

import functools
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from heating.errors import Refused

MIN_LENGTH = 10
COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")

HASH_METHOD = "scrypt"  # werkzeug's default KDF at its default cost (scrypt:32768:8:1)


def hash_password(password: str) -> str:
    """Hash with scrypt (werkzeug's default KDF)."""
    return generate_password_hash(password, method=HASH_METHOD)


def hash_method(password_hash: str) -> str:
    """The method and cost a stored hash was made with, e.g. ``scrypt:32768:8:1``."""
    return password_hash.split("$", 1)[0]


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


@functools.cache
def dummy_hash(method: str) -> str:
    """A hash of no one's password made with ``method``, once per process and method."""
    return generate_password_hash("not-a-real-password", method=method)


def spend_one_check(password: str, like: str | None = None) -> None:
    """Cost one check at the method of the stored hash ``like``, as a wrong password would.

    An unknown or locked user must not answer faster than a wrong password of a
    real one, so the check costs what the installation's stored hashes cost:
    their method read from ``like`` (any stored hash), or ``hash_password``'s
    when there is none.  A production installation's hashes are all made by
    ``hash_password``, so there the check costs full scrypt.
    """
    method = hash_method(like) if like and "$" in like else HASH_METHOD
    check_password_hash(dummy_hash(method), password)


@functools.cache
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords (lower case)."""
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, username: str | None = None) -> None:
    """Refuse a password that is blank, shorter than 10, the user name, or a common one."""
    if not password.strip():
        raise Refused("密码不能为空或只有空格，请设置至少 10 位的密码。")
    if len(password) < MIN_LENGTH:
        raise Refused(f"密码至少 {MIN_LENGTH} 位（现在 {len(password)} 位），请换一个更长的密码。")
    folded = "".join(password.split()).casefold()
    if username and folded == "".join(username.split()).casefold():
        raise Refused("密码不能与用户名相同，请换一个密码。")
    if folded in common_passwords():
        raise Refused("这个密码太常见，很容易被猜到，请换一个（例如几个词加数字的组合）。")
