"""Users: creation, password hashing and checks, independent of the web layer."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from heating.errors import Refused
from heating.models import ROLE_LABELS, ROLES, Township, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}$")
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    """Hash with scrypt (werkzeug's default KDF)."""
    return generate_password_hash(password, method="scrypt")


def verify_password(user: User, password: str) -> bool:
    return check_password_hash(user.password_hash, password)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Refused(f"密码至少 {MIN_PASSWORD} 位，请换一个更长的密码。")


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    township_code: str | None = None,
) -> User:
    """Create a user; refuse bad names, roles, townships and weak passwords."""
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise Refused("用户名应为 2–64 位字母、数字、汉字或 _ . -。")
    if role not in ROLES:
        allowed = "、".join(f"{r}（{ROLE_LABELS[r]}）" for r in ROLES)
        raise Refused(f"角色 {role!r} 无效，可选：{allowed}。")
    township = None
    if role == "clerk":
        if not township_code:
            raise Refused("乡镇填报员（clerk）必须用 --township 指定所属乡镇的 9 位代码。")
        township = session.scalar(select(Township).where(Township.code == township_code))
        if township is None:
            raise Refused(f"乡镇代码 {township_code} 不在村庄名录中，请先加载名录或检查代码。")
    elif township_code:
        raise Refused("只有乡镇填报员（clerk）绑定乡镇；其他角色请不要指定 --township。")
    check_password_strength(password)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Refused(f"用户名 {username} 已存在。")
    user = User(
        username=username,
        role=role,
        township_id=township.id if township else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user
