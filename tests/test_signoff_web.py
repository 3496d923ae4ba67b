"""The 报送与审核 pages: who sees what, the forms, CSRF, and the return reason where clerks look."""

from __future__ import annotations

import pytest

from heating.models import SignoffEvent, Village
from tests.support.database import row_counts
from tests.support.signoff import PERIOD, sign_off
from tests.support.web import csrf_token, post

BOB_TOWN, CAROL_TOWN = "140405001", "140405101"
PAGE = f"/signoff/{BOB_TOWN}/{PERIOD}"


def act(client, action: str, **form: str):
    return post(client, f"{PAGE}/{action}", form, follow_redirects=True)


@pytest.mark.parametrize("user", ["alice", "bob", "carol", "dave", "erin", "rita"])
def test_every_role_opens_the_page_and_a_clerk_sees_only_its_township(login, user) -> None:
    body = login(user).get("/signoff").get_data(as_text=True)
    assert "报送与审核" in body
    assert ("麟绛街道" in body) == (user != "carol")
    assert ("上村镇" in body) == (user != "bob")


def test_clerk_cannot_open_another_township_and_odd_periods_are_404(login) -> None:
    client = login("bob")
    assert client.get(f"/signoff/{CAROL_TOWN}/{PERIOD}").status_code == 403
    assert client.get(f"/signoff/{BOB_TOWN}/2021-09-30").status_code == 404
    assert client.get(PAGE).status_code == 200


def test_clerk_submits_with_a_note_and_the_reviewer_approves(login, runtime) -> None:
    client = login("bob")
    page = client.get(PAGE).get_data(as_text=True)
    assert "截至 2021-10-31 的数字" in page and 'id="submit-form"' in page
    assert "没有发现待处理问题" in page
    body = act(client, "submit", note="已与村里核对").get_data(as_text=True)
    assert "已报送，等待区级审核" in body and "已与村里核对" in body
    client = login("rita")
    grid = client.get("/signoff").get_data(as_text=True)
    assert "审核通过" in grid and 'name="reason"' in grid
    body = act(client, "approve", next="/signoff").get_data(as_text=True)
    assert "已审核通过" in body
    assert "已审核 1/2" in body


def test_return_needs_a_reason_and_the_clerk_sees_it_on_dashboard_and_imports(
    login, runtime
) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob"))
    client = login("rita")
    body = act(client, "return", reason="  ").get_data(as_text=True)
    assert "退回须填写理由" in body
    body = act(client, "return", reason="东街村完工户数 <b>对不上</b>").get_data(as_text=True)
    assert "已退回" in body
    client = login("bob")
    for path in ("/", "/imports", "/signoff"):
        page = client.get(path).get_data(as_text=True)
        assert "东街村完工户数 &lt;b&gt;对不上&lt;/b&gt;" in page, path
    assert "重新报送" in client.get("/").get_data(as_text=True)
    # Another township's clerk does not see it.
    assert "对不上" not in login("carol").get("/").get_data(as_text=True)


def test_dashboard_shows_each_townships_state_for_the_current_period(login, runtime) -> None:
    from heating.signoff_periods import current_period

    period = current_period(runtime.config)
    sign_off(runtime, BOB_TOWN, period, ("submit", "bob"))
    page = login("dave").get("/").get_data(as_text=True)
    assert f"{period} 期报送" in page
    assert page.count('class="signoff-state"') == 2
    assert "已报送" in page and "未报送" in page


def test_submitting_with_problems_needs_the_checkbox(login, runtime, tiny_district) -> None:
    with runtime.session() as session:
        session.get(Village, tiny_district["140405001202"]).geometry = None
    client = login("bob")
    page = client.get(PAGE).get_data(as_text=True)
    assert "缺少村界" in page and 'name="confirm"' in page
    body = act(client, "submit").get_data(as_text=True)
    assert "1 项待处理问题" in body and "东街村委会" in body
    body = act(client, "submit", confirm="1").get_data(as_text=True)
    assert "已报送" in body and "确认了 1 项问题" in body


def test_roles_without_the_right_get_403_and_nothing_is_stored(login, runtime) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob"))
    stored = row_counts(runtime)
    volatile = ("audit_log", "user_sessions")  # logins are audited and make sessions
    stored = {k: v for k, v in stored.items() if k not in volatile}
    for user, action in (("dave", "approve"), ("erin", "return"), ("bob", "approve"),
                         ("rita", "withdraw"), ("carol", "submit")):  # fmt: skip
        resp = post(login(user), f"{PAGE}/{action}", {"reason": "x"})
        assert resp.status_code == 403, (user, action)
        assert "没有权限" in resp.get_data(as_text=True)
    assert {k: v for k, v in row_counts(runtime).items() if k not in volatile} == stored


def test_forms_refuse_a_post_without_csrf_token(login, runtime) -> None:
    client = login("bob")
    resp = client.post(f"{PAGE}/submit", data={"note": "x"})
    assert resp.status_code == 400
    assert "表单已失效" in resp.get_data(as_text=True)
    with runtime.session() as session:
        assert session.query(SignoffEvent).count() == 0
    token = csrf_token(client, PAGE)
    assert client.post(f"{PAGE}/submit", data={"csrf_token": token}).status_code == 302


def test_admin_withdraws_an_approval_with_a_reason(login, runtime) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, ("submit", "bob"), ("approve", "rita"))
    client = login("alice")
    page = client.get(PAGE).get_data(as_text=True)
    assert "撤回审核" in page and "该期已审核" in page
    body = act(client, "withdraw", reason="市里抽查发现漏报").get_data(as_text=True)
    assert "已撤回审核，锁定已解除" in body
    assert "撤回理由：市里抽查发现漏报" in body
