"""``heating signoff``: status JSON, the four transitions, exit codes 0 / 1 / 2 in Chinese."""

from __future__ import annotations

import json
from datetime import date

import pytest

from heating.models import Village
from heating.signoff_periods import current_period, period_of_year

BOB_TOWN, CAROL_TOWN = "140405001", "140405101"
P = ("--township", BOB_TOWN, "--period", "2021-10-31")


def test_status_without_period_lists_every_township_for_the_current_period(
    run_cli, runtime, users
) -> None:
    result = run_cli("signoff", "status", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    period = current_period(runtime.config).isoformat()
    assert [
        {k: r[k] for k in ("township", "name", "period", "state", "by", "at", "reason")}
        for r in rows
    ] == [
        {"township": BOB_TOWN, "name": "麟绛街道", "period": period, "state": "unsubmitted",
         "by": None, "at": None, "reason": None},
        {"township": CAROL_TOWN, "name": "上村镇", "period": period, "state": "unsubmitted",
         "by": None, "at": None, "reason": None},
    ]  # fmt: skip


def test_submit_return_resubmit_approve_withdraw_on_the_command_line(run_cli, users) -> None:
    result = run_cli("signoff", "submit", *P, "--user", "bob", "--note", "第一次报送")
    assert result.exit_code == 0, result.stderr
    assert "应改造 18 户" in result.stdout and "没有发现待处理问题" in result.stdout
    assert "“已报送”" in result.stdout
    result = run_cli("signoff", "return", *P, "--user", "rita", "--reason", "东街村户数不对")
    assert result.exit_code == 0, result.stderr
    result = run_cli("signoff", "status", "--period", "2021-10-31", "--json")
    (bob, _) = json.loads(result.stdout)
    assert (bob["state"], bob["by"], bob["reason"]) == ("returned", "rita", "东街村户数不对")
    assert run_cli("signoff", "submit", *P, "--user", "bob").exit_code == 0
    result = run_cli("signoff", "approve", *P, "--user", "rita", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["state"], data["by"], data["reason"]) == ("approved", "rita", None)
    assert data["at"].startswith(str(date.today().year))
    result = run_cli("signoff", "withdraw", *P, "--user", "alice", "--reason", "市里抽查")
    assert result.exit_code == 0, result.stderr
    assert "锁定已解除" in result.stdout
    text = run_cli("signoff", "status", "--period", "2021-10-31").stdout
    assert "已退回" in text and "市里抽查" in text and "0/2 个乡镇已审核" in text


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("approve", *P, "--user", "rita"), "尚未报送"),
        (("submit", *P, "--user", "carol"), "只能报送本乡镇"),
        (("submit", *P, "--user", "dave"), "不能报送"),
        (("submit", *P, "--user", "nobody"), "不存在"),
        (("return", *P, "--user", "rita", "--reason", "x"), "尚未报送"),
        (("withdraw", *P, "--user", "rita", "--reason", "x"), "不能撤回审核"),
    ],
)
def test_refused_transitions_exit_1_with_a_chinese_reason(run_cli, users, args, says) -> None:
    result = run_cli("signoff", *args)
    assert result.exit_code == 1
    assert says in result.stderr and result.stderr.startswith("错误：")
    assert "Traceback" not in result.stderr


def test_clerk_approving_and_return_without_reason_exit_1(run_cli, users) -> None:
    assert run_cli("signoff", "submit", *P, "--user", "bob").exit_code == 0
    result = run_cli("signoff", "approve", *P, "--user", "bob")
    assert result.exit_code == 1 and "不能审核" in result.stderr
    result = run_cli("signoff", "return", *P, "--user", "rita")
    assert result.exit_code == 1 and "退回须填写理由" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("submit", "--township", BOB_TOWN, "--period", "2021-10-31"),  # no --user
        ("submit", "--township", BOB_TOWN, "--period", "31.10.2021", "--user", "bob"),
        ("submit", "--township", BOB_TOWN, "--period", "2021-09-30", "--user", "bob"),
        ("status", "--period", "2021-13-01"),
        ("approve", "--period", "2021-10-31", "--user", "rita"),  # no --township
    ],
)
def test_usage_errors_exit_2(run_cli, users, args) -> None:
    result = run_cli("signoff", *args)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr


def test_a_future_period_is_refused(run_cli, runtime, users) -> None:
    future = period_of_year(runtime.config, date.today().year + 1).isoformat()
    result = run_cli("signoff", "submit", "--township", BOB_TOWN, "--period", future,
                     "--user", "bob")  # fmt: skip
    assert result.exit_code == 1 and "截止日还没到" in result.stderr


def test_submit_with_problems_needs_confirm_and_lists_them(run_cli, runtime, tiny_district) -> None:
    with runtime.session() as session:
        session.get(Village, tiny_district["140405001201"]).geometry = None
    result = run_cli("signoff", "submit", *P, "--user", "bob")
    assert result.exit_code == 1
    assert "南街村委会" in result.stderr and "--confirm" in result.stderr
    assert "待处理问题 1 项" in result.stdout  # the review was shown first
    result = run_cli("signoff", "submit", *P, "--user", "bob", "--confirm")
    assert result.exit_code == 0, result.stderr
