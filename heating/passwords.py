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

# Checked against when a user name is unknown or locked, so every path costs one scrypt.
_DUMMY_HASH: str | None = None


def hash_password(password: str) -> str:
    """Hash with scrypt (werkzeug's default KDF)."""
    return generate_password_hash(password, method="scrypt")


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


def spend_one_check(password: str) -> None:
    """Cost one scrypt check without a user, so refusals take as long as a wrong password."""
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("not-a-real-password")
    check_password_hash(_DUMMY_HASH, password)


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
