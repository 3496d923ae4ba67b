"""Users, their login sessions and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from heating.models.base import Base, utcnow
from heating.models.registry import District, Township


class User(Base):
    """A login: role, optional township (clerks) or district (planners, reviewers), hashed password.

    A clerk is bound to one township; a planner or reviewer may be bound to
    one district (``district_id``) and then reads and changes only that
    district; unbound, they read the whole installation.
    """

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    township_id: Mapped[int | None] = mapped_column(ForeignKey("townships.id"))
    district_id: Mapped[int | None] = mapped_column(ForeignKey("districts.id"))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    last_failed_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    township: Mapped[Township | None] = relationship()
    district: Mapped[District | None] = relationship()


class UserSession(Base):
    """One signed-in browser: the server-side half of the session cookie.

    The cookie carries a random token; only its SHA-256 is stored, so a copy
    of the database does not hold live sessions.  Logging out revokes the row;
    a password reset, a deactivation or "退出所有设备" revokes all of a
    user's rows; idle and absolute limits are checked on every request.
    """

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    ip: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """Who did what, when: logins, uploads, commits, rollbacks, user changes."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    username: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(255))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(64))


def audit(
    session: Any,
    action: str,
    *,
    user: User | int | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> AuditEntry:
    """Add an audit entry to the session (committed with the caller's unit of work).

    ``user`` is the user or their id (domain functions receive ids).
    """
    if isinstance(user, int):
        user = session.get(User, user)
    entry = AuditEntry(
        user_id=user.id if user else None,
        username=user.username if user else None,
        action=action,
        target=target,
        detail=detail,
        ip=ip,
    )
    session.add(entry)
    return entry
