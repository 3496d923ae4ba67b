"""Answers remembered within one read-only session, forgotten when it writes.

A page request asks for the same figures several times (the dashboard: the
district's facts for compliance, categories and townships), and a report's
snapshot reads the district's household states twice (usage evidence and
coal subsidies, the same date and known-at time).  Each is seconds of CPU
for a district of 50,000 households, and the same within one transaction
that has written nothing: so a session that only reads remembers them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import TextClause, event
from sqlalchemy.orm import ORMExecuteState, Session

T = TypeVar("T")
# session.info key of the answers remembered (remember_reads).
MEMO = "heating.session_memo"


def remember_reads(session: Session) -> None:
    """Remember answers in ``session`` (``remembered``) until it writes, commits or rolls back."""
    if MEMO in session.info:
        return
    session.info[MEMO] = {}

    def forget(*_: object) -> None:
        session.info.get(MEMO, {}).clear()

    def forget_on_write(state: ORMExecuteState) -> None:
        if _writes(state):
            forget()

    for name in ("after_flush", "after_commit", "after_rollback"):
        event.listen(session, name, forget)
    event.listen(session, "do_orm_execute", forget_on_write)


def _writes(state: ORMExecuteState) -> bool:
    """Whether a statement run through the session may write. A textual one is judged by its
    text: the data version is read by one (``heating.data_version.current``, on every kept
    figure), and taking every textual statement for a write forgot everything at once."""
    if isinstance(state.statement, TextClause):
        return _READS.match(state.statement.text) is None
    return not state.is_select


# A textual statement that only reads.
_READS = re.compile(r"^\s*(?:SELECT|SHOW|EXPLAIN)\b", re.IGNORECASE)


def remembered(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``, once per ``key`` in a session ``remember_reads`` was called on
    (callers only read what it returns); computed each time elsewhere."""
    memo = session.info.get(MEMO)
    if memo is None:
        return compute()
    if key not in memo:
        memo[key] = compute()
    return memo[key]
