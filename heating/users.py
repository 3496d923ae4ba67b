"""Users: creation, enabling and disabling, passwords, lockout — for the web and the CLI alike.

Each operation that changes a user writes its audit entry here, so the admin
pages and ``heating user …`` record the same thing.  ``actor`` is the user
doing it (None for the command line).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from heating.config import Config
from heating.errors import Refused
from heating.models import ROLE_LABELS, ROLES, Township, User, audit, utcnow
from heating.passwords import (
    check_password_policy,
    hash_password,
    password_matches,
    spend_one_check,
)
from heating.scope import DISTRICT_ROLES, find_district
from heating.sessions import revoke_all

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.\-\u4e00-\u9fff]{2,64}$")


def verify_password(user: User, password: str) -> bool:
    return password_matches(user.password_hash, password)


def find_user(session: Session, username: str) -> User:
    """The user called ``username``; refuse with a Chinese message when there is none."""
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        raise Refused(f"用户 {username} 不存在。")
    return user


def create_user(
    session: Session,
    username: str,
    role: str,
    password: str,
    township_code: str | None = None,
    district_code: str | None = None,
) -> User:
    """Create a user; refuse bad names, roles, townships, districts and weak passwords.

    A clerk is bound to one township; a planner or reviewer may be bound to one
    district (``district_code``) and then reads and changes only that district.
    """
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
    district = None
    if district_code:
        if role not in DISTRICT_ROLES:
            raise Refused(
                "只有规划人员（planner）和区级审核（reviewer）可以绑定区县；"
                f"角色 {role} 请不要指定 --district。"
            )
        district = find_district(session, district_code)
    check_password_policy(password, username)
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise Refused(f"用户名 {username} 已存在。")
    user = User(
        username=username,
        role=role,
        township_id=township.id if township else None,
        district_id=district.id if district else None,
        password_hash=hash_password(password),
    )
    session.add(user)
    session.flush()
    return user


def set_active(
    session: Session, user: User, active: bool, *, actor: User | None = None, ip: str | None = None
) -> None:
    """Enable or disable a login; disabling ends all its sessions, never one's own account."""
    if not active and actor is not None and actor.id == user.id:
        raise Refused("不能停用自己的账号。")
    user.active = active
    if active:
        _clear_failures(user)
    else:
        revoke_all(session, user.id)
    audit(
        session,
        "user_enable" if active else "user_disable",
        user=actor,
        target=user.username,
        ip=ip,
    )


def reset_password(
    session: Session, user: User, password: str, *, actor: User | None = None, ip: str | None = None
) -> None:
    """Set a new password (policy checked), lift the lockout and end all the user's sessions."""
    check_password_policy(password, user.username)
    user.password_hash = hash_password(password)
    _clear_failures(user)
    revoke_all(session, user.id)
    audit(session, "user_reset", user=actor, target=user.username, ip=ip)


def change_own_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    *,
    keep_token: str | None = None,
    ip: str | None = None,
) -> int:
    """Self-service change: the current password proves it; other sessions end.

    Returns how many other sessions were ended.
    """
    if not verify_password(user, current):
        raise Refused("当前密码不正确，密码未修改。")
    if current == new:
        raise Refused("新密码不能与当前密码相同。")
    check_password_policy(new, user.username)
    user.password_hash = hash_password(new)
    ended = revoke_all(session, user.id, keep_token=keep_token)
    audit(session, "password_change", user=user, target=user.username, ip=ip)
    return ended


def sign_out_everywhere(session: Session, user: User, *, ip: str | None = None) -> int:
    """End every session of ``user`` (the "退出所有设备" button); return how many."""
    ended = revoke_all(session, user.id)
    audit(session, "logout_all", user=user, target=user.username, detail={"sessions": ended}, ip=ip)
    return ended


def unlock(
    session: Session, user: User, *, actor: User | None = None, ip: str | None = None
) -> None:
    """Lift the login lockout without changing the password."""
    _clear_failures(user)
    audit(session, "user_unlock", user=actor, target=user.username, ip=ip)


def _clear_failures(user: User) -> None:
    user.failed_logins = 0
    user.last_failed_at = None


# --------------------------------------------------------------------------
# Lockout: counted in the database, one atomic statement per attempt
# --------------------------------------------------------------------------


def lockout_remaining(user: User, config: Config, *, now: datetime | None = None) -> int:
    """Seconds until ``user`` may try again; 0 when not locked out.

    After ``login_max_failures`` consecutive failures each attempt must wait
    ``login_lockout_seconds`` since the last failure.  Computed from stored
    columns, so no request thread sleeps and every worker agrees.
    """
    if not config.login_max_failures or user.failed_logins < config.login_max_failures:
        return 0
    if user.last_failed_at is None:
        return 0
    waited = ((now or utcnow()) - user.last_failed_at).total_seconds()
    return max(0, math.ceil(config.login_lockout_seconds - waited))


@dataclass(frozen=True)
class LoginOutcome:
    """What one login attempt came to; ``user`` is set only when it succeeded."""

    result: str  # ok / unknown / locked / wrong / disabled
    user: User | None = None


def attempt_login(
    session: Session, username: str, password: str, config: Config, *, ip: str | None = None
) -> LoginOutcome:
    """Check a password under the lockout rule; commit the counting before the slow check.

    Each attempt first takes a slot with one conditional UPDATE (failed_logins
    + 1 unless the user is locked out): two parallel requests cannot both see
    "4 failures" and both be checked, and no increment is lost.  A correct
    password then resets the count.  Every path costs one check at the stored
    hashes' cost, so the answer time does not tell whether a user exists or is
    locked.
    """
    now = utcnow()
    user = session.scalar(select(User).where(User.username == username.strip()))
    if user is None:
        # Any stored hash gives the cost a wrong password would have cost.
        spend_one_check(password, like=session.scalar(select(User.password_hash).limit(1)))
        audit(session, "login_failed", detail={"reason": "unknown"}, ip=ip)
        session.commit()
        return LoginOutcome("unknown")
    user_id = user.id
    take_slot = update(User).where(User.id == user_id)
    if config.login_max_failures:
        take_slot = take_slot.where(
            or_(
                User.failed_logins < config.login_max_failures,
                User.last_failed_at.is_(None),
                User.last_failed_at <= now - timedelta(seconds=config.login_lockout_seconds),
            )
        )
    took_slot = session.execute(
        take_slot.values(
            failed_logins=User.failed_logins + 1, last_failed_at=now
        ).execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    session.refresh(user)
    if not took_slot:
        spend_one_check(password, like=user.password_hash)
        audit(session, "login_locked", user=user, ip=ip)
        session.commit()
        return LoginOutcome("locked")
    if not verify_password(user, password):
        audit(session, "login_failed", user=user, detail={"failures": user.failed_logins}, ip=ip)
        session.commit()
        return LoginOutcome("wrong")
    # The slot taken above was not a failure after all.
    session.execute(
        update(User)
        .where(User.id == user_id)
        .values(failed_logins=0, last_failed_at=None, last_login_at=now)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    session.refresh(user)
    if not user.active:
        audit(session, "login_disabled", user=user, ip=ip)
        session.commit()
        return LoginOutcome("disabled")
    return LoginOutcome("ok", user)
