"""The sign-off state machine: every transition from every state by every role, and its audit."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from heating import signoff, signoff_periods
from heating.errors import Forbidden, Refused
from heating.models import AuditEntry, SignoffEvent, User, Village
from tests.support.signoff import PERIOD, sign_off

BOB_TOWN = "140405001"  # 麟绛街道, bob's
CAROL_TOWN = "140405101"  # 上村镇, carol's
USERS = ("alice", "bob", "carol", "dave", "erin", "rita")

# How to bring bob's township's period into a state (the actors are allowed ones).
SETUP = {
    "unsubmitted": (),
    "submitted": (("submit", "bob"),),
    "approved": (("submit", "bob"), ("approve", "rita")),
    "returned": (("submit", "bob"), ("return", "rita", "请核对南街村的完工户数")),
}
# What each user may do, written out here rather than read from heating.signoff:
# (action, start state) → users for whom it succeeds; every other user with the right
# role is refused for the state, every user without it for the role.
ALLOWED = {
    ("submit", "unsubmitted"): {"alice", "bob"},
    ("submit", "returned"): {"alice", "bob"},
    ("approve", "submitted"): {"alice", "rita"},
    ("return", "submitted"): {"alice", "rita"},
    ("withdraw", "approved"): {"alice"},
}
ROLE_HOLDERS = {
    "submit": {"alice", "bob"},  # carol is a clerk of another township
    "approve": {"alice", "rita"},
    "return": {"alice", "rita"},
    "withdraw": {"alice"},
}
END = {"submit": "submitted", "approve": "approved", "return": "returned", "withdraw": "returned"}


def _user(session, name: str) -> User:
    return session.scalar(select(User).where(User.username == name))


def _events(runtime) -> int:
    with runtime.session() as session:
        return session.scalar(select(func.count()).select_from(SignoffEvent))


@pytest.mark.parametrize("action", ["submit", "approve", "return", "withdraw"])
def test_every_transition_from_every_state_by_every_role(runtime, users, action) -> None:
    """One period per (state, user): the table above decides success or the kind of refusal."""
    year = 2000
    wrong = []
    for start, steps in SETUP.items():
        for name in USERS:
            year += 1
            period = date(year, 10, 31)
            sign_off(runtime, BOB_TOWN, period, *steps)
            before = _events(runtime)
            text = "理由：数字对不上" if action in ("return", "withdraw") else "备注"
            try:
                with runtime.session() as session:
                    status = signoff.transition(
                        session,
                        runtime.config,
                        action,
                        BOB_TOWN,
                        period,
                        _user(session, name),
                        text=text,
                    )
                outcome = status.state
            except Forbidden as exc:
                outcome = "forbidden"
                assert "不能" in exc.message
            except Refused as exc:
                outcome = "refused"
                assert "期" in exc.message
            if name in ALLOWED.get((action, start), set()):
                expected = END[action]
            elif name in ROLE_HOLDERS[action]:
                expected = "refused"
            else:
                expected = "forbidden"
            if outcome != expected:
                wrong.append((start, name, outcome, expected))
            assert _events(runtime) == before + (outcome == END[action])
    assert not wrong, wrong


def test_a_reviewer_never_approves_a_submission_of_their_own(runtime, users) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "alice", "管理员代报"))
    with pytest.raises(Refused, match="不能由本人审核"):
        sign_off(runtime, BOB_TOWN, PERIOD, ("approve", "alice"))
    assert sign_off(runtime, BOB_TOWN, PERIOD, ("approve", "rita")) == "approved"


def test_clerk_cannot_submit_another_township(runtime, users) -> None:
    with pytest.raises(Forbidden, match="只能报送本乡镇"):
        sign_off(runtime, CAROL_TOWN, PERIOD, ("submit", "bob"))
    assert sign_off(runtime, CAROL_TOWN, PERIOD, ("submit", "carol")) == "submitted"


@pytest.mark.parametrize("action", ["return", "withdraw"])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_return_and_withdraw_need_a_reason(runtime, users, action, reason) -> None:
    steps = SETUP["submitted" if action == "return" else "approved"]
    sign_off(runtime, BOB_TOWN, PERIOD, *steps)
    who = "rita" if action == "return" else "alice"
    with pytest.raises(Refused, match="须填写理由"):
        sign_off(runtime, BOB_TOWN, PERIOD, (action, who, reason))
    with runtime.session() as session:
        township = signoff.township_by_code(session, BOB_TOWN)
        assert signoff.status_of(session, township, PERIOD).state == steps[-1][0].replace(
            "submit", "submitted"
        ).replace("approve", "approved")


def test_a_period_is_a_cutoff_and_not_in_the_future(runtime, users) -> None:
    with pytest.raises(Refused, match="不是报送期"):
        sign_off(runtime, BOB_TOWN, date(2021, 9, 30), ("submit", "bob"))
    future = signoff_periods.period_of_year(runtime.config, date.today().year + 1)
    with pytest.raises(Refused, match="截止日还没到"):
        sign_off(runtime, BOB_TOWN, future, ("submit", "bob"))
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        signoff_periods.parse_period("31.10.2021", runtime.config)


def test_current_period_is_the_latest_cutoff_on_or_before_today(runtime) -> None:
    config = runtime.config
    assert signoff_periods.current_period(config, date(2022, 10, 31)) == date(2022, 10, 31)
    assert signoff_periods.current_period(config, date(2022, 10, 30)) == date(2021, 10, 31)
    assert signoff_periods.current_period(config, date(2023, 1, 5)) == date(2022, 10, 31)
    assert signoff_periods.recent_periods(config, 2, date(2023, 1, 5)) == [
        date(2022, 10, 31),
        date(2021, 10, 31),
    ]


def test_every_transition_is_audited_with_who_when_and_why(runtime, users) -> None:
    sign_off(
        runtime,
        BOB_TOWN,
        PERIOD,
        ("submit", "bob", "第一次报送"),
        ("return", "rita", "南街村完工户数与验收单不符"),
        ("submit", "bob", "已核对更正"),
        ("approve", "rita"),
        ("withdraw", "alice", "市里抽查发现东街村有漏报户"),
    )
    with runtime.session() as session:
        township = signoff.township_by_code(session, BOB_TOWN)
        events = signoff.history(session, township, PERIOD)
        trail = [(e.action, e.from_state, e.to_state, e.username, e.text) for e in events]
        audits = list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action.like("signoff_%"))
                .order_by(AuditEntry.id)
            )
        )
        status = signoff.status_of(session, township, PERIOD)
    assert trail == [
        ("submit", "unsubmitted", "submitted", "bob", "第一次报送"),
        ("return", "submitted", "returned", "rita", "南街村完工户数与验收单不符"),
        ("submit", "returned", "submitted", "bob", "已核对更正"),
        ("approve", "submitted", "approved", "rita", None),
        ("withdraw", "approved", "returned", "alice", "市里抽查发现东街村有漏报户"),
    ]
    assert all(isinstance(e.at, datetime) for e in events)
    assert [(a.action, a.username) for a in audits] == [
        ("signoff_submit", "bob"),
        ("signoff_return", "rita"),
        ("signoff_submit", "bob"),
        ("signoff_approve", "rita"),
        ("signoff_withdraw", "alice"),
    ]
    assert audits[1].detail["reason"] == "南街村完工户数与验收单不符"
    assert audits[0].detail == {
        "township": BOB_TOWN,
        "period": "2021-10-31",
        "from": "未报送",
        "to": "已报送",
        "note": "第一次报送",
    }
    # The state says the withdrawal and its reason; the approval record went with it.
    assert (status.state, status.by, status.reason) == (
        "returned",
        "alice",
        "市里抽查发现东街村有漏报户",
    )
    assert events[3].detail["figures"]["required"] == 18  # 南街 10 + 东街 8 from the registry


def test_status_lists_every_township_and_replays_to_a_known_at_time(runtime, users) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob"), ("approve", "rita"))
    with runtime.session() as session:
        township = signoff.township_by_code(session, BOB_TOWN)
        submission, approval = signoff.history(session, township, PERIOD)
        submission.at = approval.at - timedelta(hours=1)  # submitted an hour before
    with runtime.session() as session:
        rows = signoff.statuses(session, PERIOD)
        submitted_at = submission.at
        then = signoff.statuses(session, PERIOD, known_at=submitted_at)
    assert [(r.township, r.state, r.by) for r in rows] == [
        (BOB_TOWN, "approved", "rita"),
        (CAROL_TOWN, "unsubmitted", None),
    ]
    assert rows[0].as_json()["at"].endswith("+08:00")
    assert set(rows[1].as_json()) >= {"township", "name", "period", "state", "by", "at", "reason"}
    assert [(r.township, r.state) for r in then] == [
        (BOB_TOWN, "submitted"),
        (CAROL_TOWN, "unsubmitted"),
    ]


def test_submission_with_open_problems_needs_confirmation(runtime, users, tiny_district) -> None:
    with runtime.session() as session:
        session.get(
            Village, tiny_district["140405001202"]
        ).geometry = None  # 东街 loses its boundary
    with pytest.raises(Refused) as refused:
        sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob"), confirm=False)
    assert "1 项待处理问题" in refused.value.message
    assert "东街村委会" in refused.value.message and "--confirm" in refused.value.message
    assert refused.value.detail["problems"][0]["kind"] == "no_boundary"
    assert _events(runtime) == 0
    assert sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob"), confirm=True) == "submitted"
    with runtime.session() as session:
        event = session.scalars(select(SignoffEvent)).one()
    assert event.detail["confirmed"] is True
    assert event.detail["problems"][0]["count"] == 1
