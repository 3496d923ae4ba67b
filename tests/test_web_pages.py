"""Pages over HTTP: masking per role, village filters and history, dashboard, zones, error pages."""

from __future__ import annotations

import re

import pytest

from tests.support.database import row_counts
from tests.support.households import add_households
from tests.support.ledgers import id_number
from tests.support.web import post

VILLAGE = "140405001201"  # bob's township
FULL_ID = id_number(7)
PHONE = "13812345678"


@pytest.fixture
def households(runtime, users) -> None:
    add_households(
        runtime,
        VILLAGE,
        [("A001", "completed", FULL_ID, PHONE), ("A002", "pending", None, None)],
    )


@pytest.mark.parametrize(
    ("user", "visible"),
    [("alice", True), ("bob", True), ("dave", False)],
)
def test_personal_data_masked_unless_admin_or_own_clerk(login, households, user, visible) -> None:
    page = login(user).get(f"/villages/{VILLAGE}").get_data(as_text=True)
    assert "户主A001" in page
    if visible:
        assert FULL_ID in page and PHONE in page
    else:
        assert FULL_ID not in page and PHONE not in page
        assert f"{FULL_ID[:6]}********{FULL_ID[-4:]}" in page
        assert "138****5678" in page
        assert "已脱敏" in page


def test_history_is_masked_too_for_planners(login, households) -> None:
    page = login("dave").get(f"/villages/{VILLAGE}").get_data(as_text=True)
    history = page.split('id="history"')[1]
    assert "新增" in history and "已完工" in history
    assert FULL_ID not in history and PHONE not in history


def test_city_user_sees_measures_but_no_households(login, households) -> None:
    page = login("erin").get(f"/villages/{VILLAGE}").get_data(as_text=True)
    assert 'id="measures"' in page
    assert "户主A001" not in page and FULL_ID not in page


def test_village_page_shows_measures_and_gap(login, households) -> None:
    page = login("dave").get(f"/villages/{VILLAGE}").get_data(as_text=True)
    # Registry total 10, one clean: coverage 10%, target 100% → gap 9.
    assert "10.0%" in page
    assert re.search(r'id="gap">9<', page)


def test_villages_list_filters_by_township_category_and_meets(login, households) -> None:
    client = login("dave")
    page = client.get("/villages").get_data(as_text=True)
    assert page.count("/villages/1404") == 4
    page = client.get("/villages?township=140405101").get_data(as_text=True)
    assert "上村村委会" in page and "南街村委会" not in page
    page = client.get("/villages?category=fringe").get_data(as_text=True)
    assert "东街村委会" in page and "上村村委会" not in page
    page = client.get("/villages?meets=no").get_data(as_text=True)
    assert "南街村委会" in page and "下村村委会" not in page
    # 下村 has no registry total and no ledger rows: nothing required, no judgement.
    page = client.get("/villages?meets=none").get_data(as_text=True)
    assert "下村村委会" in page and "南街村委会" not in page


def test_clerk_villages_list_is_its_own_township(login, households) -> None:
    page = login("carol").get("/villages").get_data(as_text=True)
    assert "上村村委会" in page and "南街村委会" not in page


def test_dashboard_shows_categories_targets_townships(login, households) -> None:
    page = login("dave").get("/").get_data(as_text=True)
    for text in ("县城建成区", "农村地区", "80%", "100%", "麟绛街道", "上村镇", "尚未生成禁煤区"):
        assert text in page
    assert re.search(r'id="total-clean">1<', page)
    assert "最近导入" not in page  # planners do not handle batches


def test_admin_derives_zones_and_everyone_reads_and_downloads(login, runtime, users) -> None:
    # Make 东街村委会 (registry total 8) complete.
    add_households(runtime, "140405001202", [(f"E{i}", "completed", None, None) for i in range(8)])
    admin = login("alice")
    resp = post(admin, "/zones/derive", {"as_of": "2030-01-01"}, follow_redirects=True)
    page = resp.get_data(as_text=True)
    assert "已生成禁煤区" in page
    assert "东街村委会" in page.split('id="zones"')[1]
    for fmt, magic in (("geojson", b"{"), ("gpkg", b"SQLite format 3"), ("zip", b"PK")):
        resp = admin.get(f"/zones/download/{fmt}")
        assert resp.status_code == 200 and resp.data.startswith(magic), fmt
    assert "禁煤区" in admin.get("/").get_data(as_text=True)


def test_only_admin_may_derive_zones(login, runtime, users) -> None:
    client = login("dave")
    assert "/zones/derive" not in client.get("/zones").get_data(as_text=True)
    stored = row_counts(runtime)
    assert post(client, "/zones/derive", {}).status_code == 403
    assert row_counts(runtime) == stored


def test_admin_records_a_completion_decision(login, runtime, users) -> None:
    admin = login("alice")
    resp = post(
        admin,
        "/admin/decisions",
        {"village": "140405101202", "reason": "已整体拆迁", "decided_on": "2021-05-01"},
        follow_redirects=True,
    )
    page = resp.get_data(as_text=True)
    assert "已整体拆迁" in page and "有效" in page
    resp = post(admin, "/admin/decisions", {"village": "140405101202", "reason": ""})
    assert resp.status_code == 400 and "请填写认定理由" in resp.get_data(as_text=True)


def test_profile_page_is_read_only(login) -> None:
    page = login("alice").get("/admin/profile").get_data(as_text=True)
    assert "3个100%，1个80%" in page and "农村地区" in page and '<form method="post"' not in page


@pytest.fixture
def broken_app(app):
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.add_url_rule("/boom", "boom", boom)
    return app


def test_unexpected_error_is_a_chinese_500_without_trace(broken_app, users) -> None:
    client = broken_app.test_client()
    resp = client.get("/boom")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 500
    assert "系统错误" in body and "secret internals" not in body and "Traceback" not in body


def test_pages_are_chinese_and_use_no_cdn(login, households) -> None:
    client = login("alice")
    for path in ("/", "/villages", f"/villages/{VILLAGE}", "/imports", "/zones", "/admin/users"):
        page = client.get(path).get_data(as_text=True)
        assert '<html lang="zh-CN">' in page
        assert not re.search(r'(src|href)="(https?:)?//', page), path
        assert "/static/app.css" in page
