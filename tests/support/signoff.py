"""Sign-off of a township's period, step by step as the cast."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from heating import signoff
from heating.models import User
from heating.runtime import Runtime

PERIOD = date(2021, 10, 31)


def sign_off(
    runtime: Runtime,
    township_code: str,
    period: date,
    *steps: tuple[str, ...],
    confirm: bool = True,
) -> str:
    """Take sign-off steps ``(action, username[, note or reason])`` in order; return the state."""
    state = ""
    for action, username, *text in steps:
        with runtime.session() as session:
            user = session.scalar(select(User).where(User.username == username))
            state = signoff.transition(
                session,
                runtime.config,
                action,
                township_code,
                period,
                user,
                text=text[0] if text else None,
                confirm=confirm,
            ).state
    return state
