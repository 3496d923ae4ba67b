"""Sign-off: townships submit a period, the district approves it, an approved period is locked.

This module holds the states and the transitions.  Beside it:
``heating.signoff_periods`` (what a period is: a report cut-off, the current
one, parsing), ``heating.signoff_lock`` (``check_unlocked``, the lock of an
approved period) and ``heating.signoff_checks`` (what a submission and an
approval see).

**States** of a township's period (no row = 未报送)::

    unsubmitted --submit--> submitted --approve--> approved
         returned --submit--^        \\--return--> returned
    approved --withdraw (admin, reason)--> returned

``TRANSITIONS`` says who may do what: a clerk submits its own township (an
admin may submit for any); a reviewer or an admin approves or returns (a
return needs a reason) but never a submission of their own; only an admin
withdraws an approval, with a reason.  Every transition is a
``SignoffEvent`` (who, when, note or reason) and an audit entry.

**The lock.** While a township's period is approved, nothing dated on or
before its cut-off may change for that township (``heating.signoff_lock``).
Withdrawal lifts it.

**Concurrency.** A transition's first write is a conditional update of the
row (or its insertion), and ``signoff_lock.check_unlocked`` reads the rows ``FOR SHARE``
inside the writer's transaction: on PostgreSQL an approval and a commit of
the same township wait for each other, on SQLite writers queue anyway.  The
approval then records what it saw (``heating.signoff_checks``) after its
write, so nothing commits between what it saw and the lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from heating import clock
from heating.config import Config
from heating.errors import Forbidden, NotFound, Refused
from heating.models import (
    ROLE_LABELS,
    SIGNOFF_ACTION_LABELS,
    SIGNOFF_STATE_LABELS,
    District,
    Signoff,
    SignoffEvent,
    Township,
    User,
    audit,
    utcnow,
)
from heating.signoff_periods import check_period, current_period

UNSUBMITTED, SUBMITTED, APPROVED, RETURNED = "unsubmitted", "submitted", "approved", "returned"


@dataclass(frozen=True)
class Transition:
    """An action: the states it starts from, the state it leads to, who may take it."""

    action: str
    start: tuple[str, ...]
    end: str
    roles: tuple[str, ...]
    needs_reason: bool = False


TRANSITIONS = {
    "submit": Transition("submit", (UNSUBMITTED, RETURNED), SUBMITTED, ("clerk", "admin")),
    "approve": Transition("approve", (SUBMITTED,), APPROVED, ("reviewer", "admin")),
    "return": Transition("return", (SUBMITTED,), RETURNED, ("reviewer", "admin"), True),
    "withdraw": Transition("withdraw", (APPROVED,), RETURNED, ("admin",), True),
}
SUBMITTERS = TRANSITIONS["submit"].roles
REVIEWERS = TRANSITIONS["approve"].roles
WITHDRAWERS = TRANSITIONS["withdraw"].roles
ACTION_VERBS = {"submit": "报送", "approve": "审核", "return": "退回", "withdraw": "撤回审核"}


# --------------------------------------------------------------------------
# States
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    """Where one township's period stands (as ``heating signoff status --json`` prints it)."""

    township: str
    name: str
    period: date
    state: str
    by: str | None  # who made the last transition
    at: datetime | None  # when (naive UTC)
    reason: str | None  # the reason of a return or withdrawal
    note: str | None = None  # the note of the newest submission
    action: str | None = None  # the last transition
    submitted_by: str | None = None  # who made the newest submission

    @property
    def label(self) -> str:
        return SIGNOFF_STATE_LABELS[self.state]

    @property
    def locked(self) -> bool:
        return self.state == APPROVED

    def as_json(self, tz: str = clock.DEFAULT_TIMEZONE) -> dict[str, Any]:
        return {
            "township": self.township,
            "name": self.name,
            "period": self.period.isoformat(),
            "state": self.state,
            "by": self.by,
            "at": clock.iso(self.at, tz),
            "reason": self.reason,
            "state_label": self.label,
            "note": self.note,
        }

    def describe(self, tz: str = clock.DEFAULT_TIMEZONE) -> str:
        """One Chinese phrase: 已审核（dave，2021-11-05 10:00）, 已退回：理由…"""
        if self.state == UNSUBMITTED:
            return self.label
        text = f"{self.label}（{self.by}，{clock.shown(self.at, tz)}）"
        if self.reason:
            text += f"：{self.reason}"
        return text


def _status(
    code: str, name: str, period: date, events: list[SignoffEvent], known_at: datetime | None
) -> Status:
    """The state after the events recorded by ``known_at`` (all without it)."""
    if known_at is not None:
        events = [e for e in events if e.at <= known_at]
    if not events:
        return Status(code, name, period, UNSUBMITTED, None, None, None)
    last = events[-1]
    submission = next((e for e in reversed(events) if e.action == "submit"), None)
    return Status(
        code,
        name,
        period,
        last.to_state,
        last.username,
        last.at,
        last.text if last.action in ("return", "withdraw") else None,
        note=submission.text if submission else None,
        action=last.action,
        submitted_by=submission.username if submission else None,
    )


def statuses(
    session: Session,
    period: date,
    *,
    township_code: str | None = None,
    district_code: str | None = None,
    known_at: datetime | None = None,
) -> list[Status]:
    """One status per township (unsubmitted ones included), by code.

    With ``known_at`` (naive UTC) the states are as they stood then, so a
    report regenerated at the same known-at time says the same.
    """
    query = select(Township).order_by(Township.code)
    if township_code:
        query = query.where(Township.code == township_code)
    if district_code:
        query = query.join(District, District.id == Township.district_id).where(
            District.code == district_code
        )
    townships = list(session.scalars(query))
    if township_code and not townships:
        raise NotFound(f"乡镇代码 {township_code} 不在村庄名录中：请检查 9 位乡镇代码。")
    events: dict[int, list[SignoffEvent]] = {}
    rows = session.execute(
        select(Signoff.township_id, SignoffEvent)
        .join(SignoffEvent, SignoffEvent.signoff_id == Signoff.id)
        .where(Signoff.period == period, Signoff.township_id.in_([t.id for t in townships]))
        .order_by(SignoffEvent.at, SignoffEvent.id)
    )
    for township_id, event in rows:
        events.setdefault(township_id, []).append(event)
    return [_status(t.code, t.name, period, events.get(t.id, []), known_at) for t in townships]


def status_of(session: Session, township: Township, period: date) -> Status:
    """One township's status for ``period``."""
    return statuses(session, period, township_code=township.code)[0]


def history(session: Session, township: Township, period: date) -> list[SignoffEvent]:
    """Every transition of a township's period, oldest first."""
    return list(
        session.scalars(
            select(SignoffEvent)
            .join(Signoff, Signoff.id == SignoffEvent.signoff_id)
            .where(Signoff.township_id == township.id, Signoff.period == period)
            .order_by(SignoffEvent.at, SignoffEvent.id)
        )
    )


def returned(session: Session, township_id: int) -> list[Status]:
    """The township's periods that stand returned (newest first): what its clerk must fix."""
    township = session.get(Township, township_id)
    if township is None:
        return []
    periods = session.scalars(
        select(Signoff.period)
        .where(Signoff.township_id == township_id, Signoff.state == RETURNED)
        .order_by(Signoff.period.desc())
    )
    return [status_of(session, township, p) for p in periods]


# --------------------------------------------------------------------------
# Who acts
# --------------------------------------------------------------------------


def acting_user(session: Session, username: str) -> User:
    """The user named on the command line (``--user``); refused unless it exists and is active."""
    name = (username or "").strip()
    user = session.scalar(select(User).where(User.username == name))
    if user is None:
        raise NotFound(
            f"用户 {name!r} 不存在：--user 应为系统中的用户名（heating user add 创建）。"
        )
    if not user.active:
        raise Forbidden(f"用户 {name} 已停用，不能报送或审核。")
    return user


def township_by_code(session: Session, code: str) -> Township:
    township = session.scalar(select(Township).where(Township.code == (code or "").strip()))
    if township is None:
        raise NotFound(f"乡镇代码 {code} 不在村庄名录中：请检查 9 位乡镇代码。")
    return township


def _who(user: User) -> str:
    return f"{user.username}（{ROLE_LABELS.get(user.role, user.role)}）"


def _place(township: Township, period: date) -> str:
    return f"{township.name}（{township.code}）{period.isoformat()} 期"


def allowed_actions(user_role: str, user_township_id: int | None, township_id: int) -> set[str]:
    """The actions this role may take on this township (state not considered)."""
    allowed = set()
    for name, t in TRANSITIONS.items():
        if user_role not in t.roles:
            continue
        if user_role == "clerk" and user_township_id != township_id:
            continue
        allowed.add(name)
    return allowed


def _check_role(user: User, action: str, township: Township) -> None:
    t = TRANSITIONS[action]
    verb = ACTION_VERBS[action]
    if user.role not in t.roles:
        who = "、".join(f"{ROLE_LABELS[r]}（{r}）" for r in t.roles)
        raise Forbidden(f"{_who(user)} 不能{verb}：{verb}须由{who}进行。")
    if user.role == "clerk" and user.township_id != township.id:
        raise Forbidden(
            f"{_who(user)} 只能报送本乡镇的数据，不能报送{township.name}（{township.code}）。"
        )
    if user.district_id is not None and township.district_id != user.district_id:
        raise Forbidden(
            f"{_who(user)} 只能办理所属区县的乡镇，{township.name}（{township.code}）不在其中："
            "请由该区县的审核人员或全市账号办理。"
        )


def _check_state(status: Status, action: str, township: Township, tz: str) -> None:
    t = TRANSITIONS[action]
    if status.state in t.start:
        return
    place = _place(township, status.period)
    state = status.describe(tz)
    if action == "submit":
        if status.state == SUBMITTED:
            raise Refused(
                f"{place}已报送（{status.by}，{clock.shown(status.at, tz)}），等待区级审核，不需要重复报送。"
            )
        raise Refused(f"{place}{state}，不能再次报送；如需修改数据，请管理员先撤回审核。")
    if action == "withdraw":
        raise Refused(f"{place}当前为“{status.label}”，只有已审核的报送期可以撤回审核。")
    verb = ACTION_VERBS[action]
    if status.state == UNSUBMITTED:
        raise Refused(f"{place}尚未报送，不能{verb}：须先由乡镇报送。")
    if status.state == APPROVED:
        raise Refused(f"{place}{state}，不能再{verb}；如需重新审核，请管理员先撤回审核。")
    raise Refused(f"{place}已退回，等待乡镇重新报送后才能{verb}。")


# --------------------------------------------------------------------------
# Transitions
# --------------------------------------------------------------------------


def transition(
    session: Session,
    config: Config,
    action: str,
    township_code: str,
    period: date,
    user: User,
    *,
    text: str | None = None,
    confirm: bool = False,
    today: date | None = None,
    now: datetime | None = None,
) -> Status:
    """Take ``action`` (submit / approve / return / withdraw) on a township's period.

    ``text`` is the submission's optional note or the required reason of a
    return or withdrawal.  A submission with open problems
    (``heating.signoff_checks.review``) needs ``confirm``.  Refusals are
    ``Refused`` (``Forbidden`` for the wrong role) with a Chinese message;
    nothing is written then.
    """
    from heating import signoff_checks

    if action not in TRANSITIONS:
        raise Refused(f"未知操作 {action!r}，可选：{'、'.join(TRANSITIONS)}。")
    try:
        check_period(period, config)
    except ValueError as exc:
        raise Refused(f"{exc}。") from None
    tz = config.timezone
    t = TRANSITIONS[action]
    township = township_by_code(session, township_code)
    _check_role(user, action, township)
    text = (text or "").strip() or None
    if t.needs_reason and not text:
        raise Refused(
            "退回须填写理由：写明要乡镇修改或核实什么。"
            if action == "return"
            else "撤回审核须填写理由：写明为什么要修改已审核的数据。"
        )
    status = status_of(session, township, period)
    _check_state(status, action, township, tz)
    detail: dict[str, Any] = {}
    if action == "submit":
        today = today or clock.today(tz)
        if period > today:
            raise Refused(
                f"{_place(township, period)}的截止日还没到（今天是 {today.isoformat()}），不能报送；"
                f"当前报送期是 {current_period(config, today).isoformat()}。"
            )
        found = signoff_checks.review(session, config, township, period)
        if found.problems and not confirm:
            raise Refused(
                f"{_place(township, period)}报送前发现 {len(found.problems)} 项待处理问题：\n"
                + "\n".join(f"  - {p.message}" for p in found.problems)
                + "\n请先核对或处理；确认仍要报送时，命令行加 --confirm，网页上勾选“已核对以上问题，确认报送”。",
                detail={"problems": [p.as_json() for p in found.problems]},
            )
        detail = {
            "figures": found.figures_json(),
            "problems": [p.as_json() for p in found.problems],
            "confirmed": bool(found.problems),
        }
    if action == "approve" and status.submitted_by == user.username:
        raise Refused(
            f"{_place(township, period)}是 {user.username} 本人报送的，不能由本人审核：请另一位区级审核人员审核。"
        )
    # Full precision: "changed after the approval" compares record times with this one,
    # and cut to the second a change made earlier in that second read as later.
    when = now or utcnow()
    row = _write_state(session, township, period, status.state, t.end, when)
    if action == "approve":
        row.approval = signoff_checks.approval_record(session, config, township, period)
        detail = {"figures": row.approval.get("figures")}
    elif action == "withdraw":
        detail = {"approval": row.approval}
        row.approval = None
    event = SignoffEvent(
        signoff_id=row.id,
        action=action,
        from_state=status.state,
        to_state=t.end,
        user_id=user.id,
        username=user.username,
        at=when,
        text=text,
        detail=detail or None,
    )
    session.add(event)
    audit(
        session,
        f"signoff_{action}",
        user=user,
        target=f"{township.code} {period.isoformat()}",
        detail={
            "township": township.code,
            "period": period.isoformat(),
            "from": SIGNOFF_STATE_LABELS[status.state],
            "to": SIGNOFF_STATE_LABELS[t.end],
            **({"reason" if t.needs_reason else "note": text} if text else {}),
        },
    )
    session.flush()
    return status_of(session, township, period)


def _write_state(
    session: Session, township: Township, period: date, before: str, after: str, when: datetime
) -> Signoff:
    """Move the row from ``before`` to ``after`` with one conditional write (module docstring)."""
    if before == UNSUBMITTED:
        row = Signoff(township_id=township.id, period=period, state=after, updated_at=when)
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            raise Refused(
                f"{_place(township, period)}刚刚已被其他人报送，请刷新后查看当前状态。"
            ) from None
        return row
    touched = session.execute(
        update(Signoff)
        .where(
            Signoff.township_id == township.id, Signoff.period == period, Signoff.state == before
        )
        .values(state=after, updated_at=when)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not touched:
        raise Refused(f"{_place(township, period)}的状态刚刚被其他人改变，请刷新后重试。")
    return session.scalars(
        select(Signoff)
        .where(Signoff.township_id == township.id, Signoff.period == period)
        .execution_options(populate_existing=True)
    ).one()


def action_label(action: str) -> str:
    return SIGNOFF_ACTION_LABELS.get(action, action)
