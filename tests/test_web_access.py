"""Each role's allowed and refused paths, township scoping, 401 for anonymous API calls."""

from __future__ import annotations

import pytest

from tests.support.database import row_counts
from tests.support.ledgers import add_batch

CLERK_TOWN = "140405001"  # bob's
OTHER_TOWN = "140405101"  # carol's
VILLAGE_BOB = "140405001201"
VILLAGE_CAROL = "140405101201"

# (path, {user: expected status}); "batch:own" / "batch:other" are bob's and carol's batches.
TABLE = [
    ("/", {"alice": 200, "bob": 200, "carol": 200, "dave": 200, "erin": 200, "rita": 200}),
    ("/villages", {"alice": 200, "bob": 200, "carol": 200, "dave": 200, "erin": 200, "rita": 200}),
    (
        f"/villages?township={OTHER_TOWN}",
        {"alice": 200, "bob": 403, "carol": 200, "dave": 200, "rita": 200},
    ),
    (
        f"/villages/{VILLAGE_BOB}",
        {"alice": 200, "bob": 200, "carol": 403, "dave": 200, "erin": 200, "rita": 200},
    ),
    (f"/villages/{VILLAGE_CAROL}", {"bob": 403, "carol": 200}),
    ("/villages/999999999999", {"alice": 404, "dave": 404}),
    ("/imports", {"alice": 200, "bob": 200, "carol": 200, "dave": 403, "erin": 403, "rita": 403}),
    ("batch:bob", {"alice": 200, "bob": 200, "carol": 403, "dave": 403, "rita": 403}),
    ("batch:carol", {"alice": 200, "bob": 403, "carol": 200}),
    (
        f"/template?township={CLERK_TOWN}",
        {"alice": 200, "bob": 200, "carol": 403, "dave": 403, "erin": 403},
    ),
    ("/admin/users", {"alice": 200, "bob": 403, "carol": 403, "dave": 403, "rita": 403}),
    ("/admin/audit", {"alice": 200, "bob": 403, "dave": 403, "erin": 403}),
    ("/admin/profile", {"alice": 200, "bob": 403, "dave": 403}),
    ("/admin/decisions", {"alice": 200, "carol": 403, "erin": 403, "rita": 403}),
    ("/reports", {"alice": 200, "bob": 403, "dave": 200, "erin": 200, "rita": 200}),
    ("/boilers", {"alice": 200, "bob": 403, "dave": 200, "rita": 200}),
    ("/signoff", {"alice": 200, "bob": 200, "carol": 200, "dave": 200, "erin": 200, "rita": 200}),
    (
        f"/signoff/{OTHER_TOWN}/2021-10-31",
        {"alice": 200, "bob": 403, "carol": 200, "dave": 200, "rita": 200},
    ),
    ("/admin/registry", {"alice": 200, "bob": 403, "dave": 403}),
    ("/admin/boundaries", {"alice": 200, "bob": 403, "dave": 403}),
    (
        "/api/coverage?by=township",
        {"alice": 200, "bob": 200, "carol": 200, "dave": 200, "erin": 200, "rita": 200},
    ),
    (
        f"/api/coverage?by=village&township={OTHER_TOWN}",
        {"alice": 200, "bob": 403, "carol": 200, "erin": 200},
    ),
    ("/no/such/page", {"alice": 404, "bob": 404}),
]
USERS = ("alice", "bob", "carol", "dave", "erin", "rita")


@pytest.mark.parametrize("user", USERS)
def test_role_may_or_may_not_open_path(login, runtime, user) -> None:
    batches = {
        "batch:bob": add_batch(runtime, CLERK_TOWN),
        "batch:carol": add_batch(runtime, OTHER_TOWN),
    }
    client = login(user)
    stored = row_counts(runtime)
    wrong = []
    for path, expected in TABLE:
        if user not in expected:
            continue
        url = f"/imports/{batches[path]}" if path.startswith("batch:") else path
        resp = client.get(url)
        body = "" if resp.status_code == 200 else resp.get_data(as_text=True)
        if resp.status_code != expected[user]:
            wrong.append((url, resp.status_code, expected[user], body[:200]))
        elif resp.status_code in (403, 404) and not url.startswith("/api/"):
            assert ("没有权限" if resp.status_code == 403 else "不存在") in body
            assert "Traceback" not in body
    assert not wrong, wrong
    assert row_counts(runtime) == stored  # reading, allowed or refused, stores nothing


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/", 302),
        ("/villages", 302),
        ("/imports", 302),
        ("/admin/users", 302),
        ("/api/coverage", 401),
        ("/api/villages.geojson", 401),
        ("/api/zones.geojson", 401),
    ],
)
def test_anonymous_is_sent_to_login_or_refused_401(client, users, path, status) -> None:
    resp = client.get(path)
    assert resp.status_code == status
    if status == 401:
        assert resp.get_json()["message"] == "请先登录。"
    else:
        assert resp.headers["Location"].startswith("/login")


def test_clerk_api_coverage_is_own_township_only(login) -> None:
    client = login("bob")
    rows = client.get("/api/coverage?by=township").get_json()
    assert [r["key"] for r in rows] == [CLERK_TOWN]
    villages = client.get("/api/coverage?by=village").get_json()
    assert {r["key"] for r in villages} == {"140405001201", "140405001202"}
    resp = client.get(f"/api/coverage?by=category&township={OTHER_TOWN}")
    assert resp.status_code == 403
    assert resp.get_json()["error"] == "没有权限"


def test_planner_api_coverage_by_category_ends_with_total(login) -> None:
    rows = login("dave").get("/api/coverage?by=category").get_json()
    assert rows[-1]["key"] == "total"
    assert {"key", "name", "required", "clean", "coverage", "target", "gap", "meets"} <= set(
        rows[0]
    )


def test_api_refuses_bad_arguments_in_chinese(login) -> None:
    client = login("dave")
    resp = client.get("/api/coverage?by=river")
    assert resp.status_code == 400
    assert "by 应为" in resp.get_json()["message"]
    resp = client.get("/api/coverage?by=village&as_of=31.10.2021")
    assert resp.status_code == 400
    assert "as_of" in resp.get_json()["message"]


def test_clerk_cannot_upload_for_another_township(login, runtime) -> None:
    import io

    from tests.support.web import csrf_token

    client = login("bob")
    stored = row_counts(runtime)
    resp = client.post(
        "/imports",
        data={
            "file": (io.BytesIO(b"x"), "台账.xlsx"),
            "township": OTHER_TOWN,
            "csrf_token": csrf_token(client, "/imports"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 403
    assert row_counts(runtime) == stored  # no file, batch or job kept


def test_disabled_user_session_ends(login, runtime, users) -> None:
    from heating.models import User

    client = login("dave")
    assert client.get("/").status_code == 200
    with runtime.session() as session:
        session.get(User, users["dave"]).active = False
    assert client.get("/").status_code == 302


def test_clerks_download_and_see_only_zones_holding_their_villages(login, runtime, users) -> None:
    import json

    from geo.zone_derivations import derive_zones
    from heating.clock import today
    from tests.support.districts import NANJIE, SHANGCUN
    from tests.support.households import add_households_by_status

    add_households_by_status(runtime, _village_id(runtime, NANJIE), clean=10)
    add_households_by_status(runtime, _village_id(runtime, SHANGCUN), clean=20)
    with runtime.session() as session:
        derive_zones(session, runtime.config.profile, as_of=today(runtime.config.timezone))

    def zone_villages(who: str) -> list[str]:
        resp = login(who).get("/zones/download/geojson")
        assert resp.status_code == 200
        return sorted(f["properties"]["villages"] for f in json.loads(resp.data)["features"])

    assert zone_villages("dave") == [NANJIE, SHANGCUN]
    assert zone_villages("bob") == [NANJIE]
    assert zone_villages("carol") == [SHANGCUN]
    page = login("bob").get("/zones").get_data(as_text=True)
    assert "南街村委会" in page and "上村村委会" not in page
    for fmt in ("gpkg", "zip"):
        assert login("bob").get(f"/zones/download/{fmt}").status_code == 200


def _village_id(runtime, code: str) -> int:
    from sqlalchemy import select

    from heating.models import Village

    with runtime.session() as session:
        return session.scalar(select(Village.id).where(Village.code == code))
