"""Several districts in one installation: scoping by ?district= and district-bound users.

The tiny district (屯留区 140405) plus 潞城区 (140406, tests/support.add_second_district).
A planner bound to 潞城区 (lucy) and a reviewer bound to 屯留区 (rex) see and change
only their own district; unbound users may choose one with ?district=.
"""

from __future__ import annotations

import io
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from heating.models import ImportBatch, Signoff, User
from tests.support.districts import (
    LUCHENG,
    LUCHENG_TOWNSHIP,
    LUCHENG_VILLAGES,
    NANJIE,
    add_second_district,
)
from tests.support.signoff import sign_off
from tests.support.users import PASSWORD, add_district_user
from tests.support.web import log_in, post

PERIOD = date(2021, 10, 31)


@pytest.fixture
def city(runtime, users) -> dict[str, int]:
    with runtime.session() as s:
        ids = add_second_district(s)
        add_district_user(s, "lucy", "planner", LUCHENG)
        add_district_user(s, "rex", "reviewer", "140405")
    return ids


def _as(client, name: str):
    assert log_in(client, name, PASSWORD).status_code == 302
    return client


def _townships(client, query: str = "") -> list[str]:
    resp = client.get(f"/api/coverage?by=township{query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [r["key"] for r in resp.get_json()]


def test_district_bound_planner_reads_only_its_district(client, city) -> None:
    c = _as(client, "lucy")
    assert _townships(c) == [LUCHENG_TOWNSHIP]
    assert _townships(c, f"&district={LUCHENG}") == [LUCHENG_TOWNSHIP]
    villages = [r["key"] for r in c.get("/api/coverage?by=village").get_json()]
    assert villages == list(LUCHENG_VILLAGES)
    page = c.get("/").get_data(as_text=True)
    assert "潞华街道" in page and "麟绛街道" not in page
    listing = c.get("/villages").get_data(as_text=True)
    assert "东关村委会" in listing and "南街村委会" not in listing
    geo = c.get("/api/villages.geojson").get_json()
    assert sorted(f["properties"]["code"] for f in geo["features"]) == list(LUCHENG_VILLAGES)
    export = load_workbook(io.BytesIO(c.get("/?export=xlsx").data))
    cells = {str(v) for row in export.active.iter_rows(values_only=True) for v in row if v}
    assert "潞华街道" in cells and "麟绛街道" not in cells
    signoff_page = c.get("/signoff").get_data(as_text=True)
    assert LUCHENG_TOWNSHIP in signoff_page and "140405001" not in signoff_page


@pytest.mark.parametrize(
    "path",
    [
        "/?district=140405",
        "/api/coverage?by=village&district=140405",
        "/api/coverage?township=140405001",
        "/villages?township=140405001",
        f"/villages/{NANJIE}",
        "/map?district=140405",
        "/map/script.js?township=140405101",
        "/api/villages.geojson?district=140405",
        "/api/zones.geojson?district=140405",
        "/zones?district=140405",
        "/trend?district=140405",
        "/reports/download?year=2021&district=140405",
        "/signoff/140405001/2021-10-31",
        "/usage?district=140405",
    ],
)
def test_district_bound_planner_is_refused_another_district(client, city, path) -> None:
    resp = _as(client, "lucy").get(path)
    assert resp.status_code == 403, path
    if not path.startswith(f"/villages/{NANJIE}") and not path.startswith("/signoff/"):
        assert "潞城区" in resp.get_data(as_text=True)  # says which district the account holds


def test_unbound_users_choose_a_district_or_read_all(client, city) -> None:
    c = _as(client, "dave")
    assert _townships(c) == ["140405001", "140405101", LUCHENG_TOWNSHIP]
    assert _townships(c, f"&district={LUCHENG}") == [LUCHENG_TOWNSHIP]
    assert _townships(c, "&district=140405") == ["140405001", "140405101"]
    assert c.get("/api/coverage?district=999999").status_code == 404
    assert c.get("/api/coverage?district=14040").status_code == 400
    assert c.get(f"/?district={LUCHENG}").status_code == 200
    assert "潞城区（140406）" in c.get(f"/?district={LUCHENG}").get_data(as_text=True)


def test_district_bound_reviewer_cannot_approve_another_district(
    client, city, runtime, run_cli
) -> None:
    sign_off(runtime, LUCHENG_TOWNSHIP, PERIOD, ("submit", "alice"))
    c = _as(client, "rex")
    resp = post(c, f"/signoff/{LUCHENG_TOWNSHIP}/{PERIOD}/approve", {})
    assert resp.status_code == 403
    cli = run_cli(
        "signoff", "approve", "--township", LUCHENG_TOWNSHIP, "--period", str(PERIOD),
        "--user", "rex",
    )  # fmt: skip
    assert cli.exit_code == 1 and "只能办理所属区县" in cli.stderr
    with runtime.session() as s:
        (row,) = s.scalars(select(Signoff)).all()
        assert row.state == "submitted"
    # its own district it may approve
    sign_off(runtime, "140405001", PERIOD, ("submit", "alice"), ("approve", "rex"))


def test_district_bound_user_cannot_upload_usage_and_nothing_is_stored(
    client, city, runtime
) -> None:
    c = _as(client, "lucy")
    resp = post(c, "/usage/upload", {"kind": "electric", "file": (io.BytesIO(b"x"), "a.csv")})
    assert resp.status_code == 403
    assert "用量文件" in resp.get_data(as_text=True)
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_user_add_binds_planners_and_reviewers_to_a_district(run_cli, city, runtime) -> None:
    ok = run_cli(
        "user", "add", "lu2", "--role", "reviewer", "--district", LUCHENG, "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert ok.exit_code == 0, ok.stderr
    clerk = run_cli(
        "user", "add", "c9", "--role", "clerk", "--township", LUCHENG_TOWNSHIP,
        "--district", LUCHENG, "--password-stdin", input=PASSWORD + "\n",
    )  # fmt: skip
    assert clerk.exit_code == 1 and "只有规划人员" in clerk.stderr
    unknown = run_cli(
        "user", "add", "p9", "--role", "planner", "--district", "140499", "--password-stdin",
        input=PASSWORD + "\n",
    )  # fmt: skip
    assert unknown.exit_code == 1 and "140499" in unknown.stderr
    with runtime.session() as s:
        names = set(s.scalars(select(User.username)))
        assert "lu2" in names and not {"c9", "p9"} & names
        assert s.scalar(select(User).where(User.username == "lu2")).district.code == LUCHENG


def test_district_bound_reviewer_records_plans_only_in_its_district(
    client, city, runtime, run_cli
) -> None:
    from heating.models import RelapsePlan

    form = {"place": f"village:{LUCHENG_VILLAGES[0]}", "state": "none", "unit": "某单位"}
    resp = post(_as(client, "rex"), "/usage/plans", form)
    assert resp.status_code == 403 and "只能为本区县的村和乡镇记录方案" in resp.get_data(
        as_text=True
    )
    cli = run_cli(
        "usage", "plans", "set", "--village", LUCHENG_VILLAGES[0], "--state", "未制定",
        "--user", "rex",
    )  # fmt: skip
    assert cli.exit_code == 1 and "只能为所属区县" in cli.stderr
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(RelapsePlan)) == 0
    ok = run_cli("usage", "plans", "set", "--village", NANJIE, "--state", "未制定", "--user", "rex")
    assert ok.exit_code == 0, ok.stderr


def test_admin_narrows_pages_to_a_district(client, city) -> None:
    c = _as(client, "alice")
    imports = c.get(f"/imports?district={LUCHENG}")
    assert imports.status_code == 200
    page = imports.get_data(as_text=True)
    assert "潞华街道" in page and "麟绛街道" not in page
    for path in ("/zones", "/trend", "/boilers", "/signoff", "/usage", "/villages"):
        assert c.get(f"{path}?district={LUCHENG}").status_code == 200, path
    listing = c.get(f"/villages?district={LUCHENG}").get_data(as_text=True)
    assert "东关村委会" in listing and "南街村委会" not in listing
