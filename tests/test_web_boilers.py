"""Heat-source and boiler pages over HTTP: admin uploads, the read-only 燃煤锅炉 page, access."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from heating.models import Boiler, HeatSource
from tests.support.districts import NANJIE
from tests.support.households import write_household
from tests.support.registers import REGISTER, boiler_row, boiler_xlsx, register_xlsx
from tests.support.web import csrf_token


def _upload(client, path: str, data: bytes, name: str):
    return client.post(
        path,
        data={"file": (io.BytesIO(data), name), "csrf_token": csrf_token(client, path)},
        content_type="multipart/form-data",
    )


def test_admin_loads_the_register_and_sees_verdicts_and_unmatched_names(
    login, runtime, tiny_district
) -> None:
    with runtime.session() as s:
        for no, source in (("1", "屯留县兴旺钢铁"), ("2", "城东供热站")):
            write_household(
                s, tiny_district[NANJIE], no, "completed", route="district", heat_source=source
            )
    client = login("alice")
    resp = _upload(client, "/admin/heat-sources", register_xlsx(REGISTER), "热源名单.xlsx")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 200, page
    assert "热源名单已加载" in page
    assert "屯留县兴旺钢铁有限责任公司" in page
    assert "不合规" in page and "环保绩效等级为 C 级" in page
    assert "城东供热站" in page  # unmatched, listed under its township
    assert "上传热源名单" in client.get("/admin/audit").get_data(as_text=True)


def test_a_refused_register_shows_where_and_writes_nothing(login, runtime) -> None:
    rows = [list(r) for r in REGISTER]
    rows[1][1] = "煤矿瓦斯"
    client = login("alice")
    resp = _upload(client, "/admin/heat-sources", register_xlsx(rows), "热源名单.xlsx")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "未写入任何数据" in page
    assert "煤矿瓦斯" in page and '<td>热源名单</td><td class="num">4</td><td>B</td>' in page
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(HeatSource)) == 0


def test_admin_loads_boilers_and_planner_reads_the_page(login, runtime, client) -> None:
    admin = login("alice")
    data = boiler_xlsx(
        [
            boiler_row(
                "GL-1", unit="<img src=x onerror=alert(1)>", state="停用", state_date="2019-01-01"
            ),
            boiler_row("GL-2", state="拆除", state_date="2020-01-01"),
            boiler_row("GQ-1", fuel="燃气", low_nox="未完成"),
        ]
    )
    resp = _upload(admin, "/admin/boilers", data, "锅炉台账.xlsx")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert "锅炉台账已加载" in resp.get_data(as_text=True)
    admin.post("/logout", data={"csrf_token": csrf_token(admin, "/")})
    planner = login("dave")
    page = planner.get("/boilers?as_of=2021-10-31").get_data(as_text=True)
    assert "燃煤锅炉清零" in page
    assert 'href="/boilers"' in page  # in the navigation
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "从未检查" in page and "逾期" in page
    assert "燃气锅炉 1 台" in page
    assert "蒸吨上限应为正数" in planner.get("/boilers?max_tph=-3").get_data(as_text=True)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(Boiler)) == 3


@pytest.mark.parametrize(("user", "status"), [("erin", 200), ("alice", 200), ("bob", 403)])
def test_who_may_read_the_boiler_page(login, user, status) -> None:
    assert login(user).get("/boilers").status_code == status


def test_only_admins_upload(login) -> None:
    planner = login("dave")
    assert planner.get("/admin/boilers").status_code == 403
    assert planner.get("/admin/heat-sources").status_code == 403


def test_anonymous_is_sent_to_login(client) -> None:
    resp = client.get("/boilers")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
