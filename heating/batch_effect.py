"""What a committed ledger batch did to its township's coverage: before → after.

Read back from history, not stored: "before" is the coverage known just
before the batch was committed (``known_at`` one microsecond earlier),
"after" the coverage known at its commit — the figures ``heating coverage
--by township --known-at …`` gives for those instants, and what the
coverage pages showed then (as of today; a version never has a ledger date
after the day it was recorded, so today's and the commit day's states
agree for what was known then).  A batch rolled back later still shows what
its commit did; a back-filled ledger (dated before newer ones) changes
nothing today and shows so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from heating.measures import MeasureRow, coverage
from heating.profile import Profile

JUST_BEFORE = timedelta(microseconds=1)


@dataclass(frozen=True)
class CoverageChange:
    """One township's measures known just before and at a commit."""

    township_code: str
    before: MeasureRow
    after: MeasureRow
    before_known_at: datetime  # naive UTC
    after_known_at: datetime

    @property
    def clean_added(self) -> int:
        return self.after.clean - self.before.clean

    @property
    def required_added(self) -> int:
        return self.after.required - self.before.required


def coverage_change(
    session: Session, profile: Profile, township_code: str, committed_at: datetime
) -> CoverageChange | None:
    """The township's coverage known just before ``committed_at`` and at it (None: unknown)."""
    before_at = committed_at - JUST_BEFORE
    before = coverage(session, profile, "township", known_at=before_at, township_code=township_code)
    after = coverage(
        session, profile, "township", known_at=committed_at, township_code=township_code
    )
    if not before or not after:
        return None
    return CoverageChange(township_code, before[0], after[0], before_at, committed_at)
