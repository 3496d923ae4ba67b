"""Server-side login sessions: open, resolve, revoke.

Flask's session cookie is only signed, so a copy of it would stay valid until
it expires whatever happens on the server.  Each login therefore gets a
random token whose SHA-256 is a ``UserSession`` row; the cookie carries the
token and every request resolves it here.  A session ends when it is revoked
(logout, password reset, deactivation, "退出所有设备"), when it has been idle
longer than ``session_idle_minutes``, or ``session_max_hours`` after login.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from heating.config import Config
from heating.models import User, UserSession, utcnow

# last_seen_at is written at most this often per session (a write per request is waste).
TOUCH_EVERY = timedelta(seconds=60)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, *, ip: str | None = None) -> str:
    """Start a session for ``user``; return the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        UserSession(
            user_id=user.id, token_hash=_digest(token), created_at=now, last_seen_at=now, ip=ip
        )
    )
    return token


def _expired(row: UserSession, config: Config, now: datetime) -> bool:
    return (
        row.revoked_at is not None
        or now - row.last_seen_at > timedelta(minutes=config.session_idle_minutes)
        or now - row.created_at > timedelta(hours=config.session_max_hours)
    )


def resolve(
    session: Session, token: str, config: Config, *, now: datetime | None = None
) -> User | None:
    """The active user of a live session token, or None (and the session is ended)."""
    if not token:
        return None
    now = now or utcnow()
    row = session.scalar(select(UserSession).where(UserSession.token_hash == _digest(token)))
    if row is None:
        return None
    if _expired(row, config, now):
        if row.revoked_at is None:
            row.revoked_at = now
            session.commit()
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.commit()
    return user


def revoke(session: Session, token: str) -> None:
    """End one session (logout)."""
    session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _digest(token), UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


def revoke_all(session: Session, user_id: int, *, keep_token: str | None = None) -> int:
    """End every session of a user (except ``keep_token``'s); return how many were live."""
    query = update(UserSession).where(
        UserSession.user_id == user_id, UserSession.revoked_at.is_(None)
    )
    if keep_token:
        query = query.where(UserSession.token_hash != _digest(keep_token))
    return session.execute(query.values(revoked_at=utcnow())).rowcount or 0


def live_sessions(session: Session, user_id: int, config: Config) -> int:
    """How many sessions of a user are still usable."""
    now = utcnow()
    rows = session.scalars(
        select(UserSession).where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
    )
    return sum(1 for row in rows if not _expired(row, config, now))


def forget_old(session: Session, user_id: int, config: Config) -> None:
    """Delete a user's sessions that ended more than a day ago (keeps the table small)."""
    cutoff = utcnow() - timedelta(hours=config.session_max_hours) - timedelta(days=1)
    session.execute(
        UserSession.__table__.delete().where(
            UserSession.user_id == user_id,
            or_(UserSession.created_at < cutoff, UserSession.revoked_at < cutoff),
        )
    )
