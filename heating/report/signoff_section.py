"""What the report knows of sign-off (issue 12 item 5): each township's state, draft or not.

The report's **period** is its cut-off: a report as of 2021-10-31 reads the
townships' 2021-10-31 sign-offs as they stood at the report's known-at time
(``heating.signoff.statuses``), so a report regenerated with the same
known-at says the same.  A report whose cut-off is not a period (an explicit
``--as-of`` that is not ``report_cutoff``) is covered by no approval.

A report is a **draft** (草稿（未全部审核）) unless every township of the
district is approved for its period.  With ``approved_only`` the figures of
townships that are not approved are withheld ("—"; ``heating.report.withheld``).

While a township is approved, ``changes`` lists what the report reads at
generation time (the registry's totals and categories, boundaries, the
requirement profile, the heat-source register, the boiler ledger) that differs
from what the approval recorded, and usage records of the township's accounts
loaded or rolled back since (``heating.signoff_checks.changes_since``, the one
place that knows what an approval covers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating import clock, signoff, signoff_periods
from heating.config import Config
from heating.measures import MeasureRow
from heating.models import Signoff, SignoffEvent, Township
from heating.signoff_checks import changes_since

DRAFT_MARK = "草稿（未全部审核）"


@dataclass(frozen=True)
class TownshipSignoff:
    """One township's state for the report's period and, when approved, what changed since."""

    status: signoff.Status
    changes: tuple[str, ...] = ()

    @property
    def approved(self) -> bool:
        return self.status.state == signoff.APPROVED

    def state_text(self, tz: str) -> str:
        """已审核（rita，2021-11-05 10:00） / 已报送（bob，…） / 未报送 / 已退回（…）：理由."""
        s = self.status
        if s.state == signoff.APPROVED:
            return f"已审核（{s.by}，{clock.shown(s.at, tz)}）"
        return s.describe(tz)


@dataclass(frozen=True)
class SignoffSection:
    """The states of every township of the district for the report's period."""

    period: date  # the cut-off the states are for
    is_period: bool  # False: the report's as-of is not a period (no approval covers it)
    townships: tuple[TownshipSignoff, ...]
    approved_only: bool = False

    @property
    def approved_codes(self) -> frozenset[str]:
        """Townships whose figures are approved for the report's as-of date."""
        if not self.is_period:
            return frozenset()
        return frozenset(t.status.township for t in self.townships if t.approved)

    @property
    def draft(self) -> bool:
        return len(self.approved_codes) < len(self.townships) or not self.townships

    def withheld(self, township_code: str | None) -> bool:
        """Whether ``approved_only`` hides this township's figures."""
        return self.approved_only and township_code not in self.approved_codes

    @property
    def count_label(self) -> str:
        """仅含已审核乡镇（n/N）: the label of totals in an approved-only report."""
        return f"仅含已审核乡镇（{len(self.approved_codes)}/{len(self.townships)}）"

    def state_label(self, township_code: str) -> str:
        """The short state of a township (分乡镇's column)."""
        for t in self.townships:
            if t.status.township == township_code:
                return t.status.label
        return signoff.SIGNOFF_STATE_LABELS[signoff.UNSUBMITTED]

    def as_json(self, tz: str) -> dict[str, Any]:
        return {
            "period": self.period.isoformat(),
            "is_period": self.is_period,
            "draft": self.draft,
            "approved_only": self.approved_only,
            "approved": len(self.approved_codes),
            "townships": [
                {**t.status.as_json(tz), "changes_since_approval": list(t.changes)}
                for t in self.townships
            ],
        }


def report_period(config: Config, as_of: date) -> tuple[date, bool]:
    """The period a report as of ``as_of`` belongs to, and whether ``as_of`` is that cut-off."""
    period = signoff_periods.period_of_year(config, as_of.year)
    return period, period == as_of


def gather(
    session: Session,
    config: Config,
    *,
    district_code: str,
    as_of: date,
    known_at: datetime,
    townships: list[MeasureRow],
    approved_only: bool = False,
) -> SignoffSection:
    """Every township's state for the report's period as known at ``known_at``.

    ``townships`` are the report's township rows: an approved township's
    figures are compared with those its approval recorded.
    """
    period, is_period = report_period(config, as_of)
    rows = {r.key: r for r in townships}
    found = []
    for status in signoff.statuses(session, period, district_code=district_code, known_at=known_at):
        changes: tuple[str, ...] = ()
        if status.state == signoff.APPROVED and is_period:
            township = signoff.township_by_code(session, status.township)
            record = approval_record_of(session, township, period, status.at)
            changes = tuple(
                changes_since(
                    session, config, township, record, status.at, rows.get(township.code), period
                )
            )
        found.append(TownshipSignoff(status, changes))
    return SignoffSection(period, is_period, tuple(found), approved_only)


def approval_record_of(
    session: Session, township: Township, period: date, approved_at: datetime | None
) -> dict[str, Any] | None:
    """What the approval made at ``approved_at`` recorded (``Signoff.approval``).

    The row holds the record while the approval stands; a withdrawal moves it
    into its event's detail, where a report known-at before the withdrawal
    finds it.
    """
    row = session.scalar(
        select(Signoff).where(Signoff.township_id == township.id, Signoff.period == period)
    )
    if row is None or approved_at is None:
        return None
    events = list(
        session.scalars(
            select(SignoffEvent)
            .where(SignoffEvent.signoff_id == row.id, SignoffEvent.at >= approved_at)
            .order_by(SignoffEvent.at, SignoffEvent.id)
        )
    )
    # Events share a second: the approval is the last approve of that second.
    approvals = [i for i, e in enumerate(events) if e.action == "approve" and e.at == approved_at]
    if not approvals:
        return None
    later = events[approvals[-1] + 1 :]
    if not later:
        return row.approval
    withdrawal = next((e for e in later if e.action == "withdraw"), None)
    if withdrawal is not None and withdrawal.detail:
        return withdrawal.detail.get("approval")
    return None
