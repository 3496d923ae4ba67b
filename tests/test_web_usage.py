"""The 用量核验 page over HTTP: upload → preview → commit → flags, rollback, roles, CSRF."""

from __future__ import annotations

import io
import json
from datetime import date

import pytest
from sqlalchemy import func, select

from heating.models import UsageRecord
from tests.support.districts import NANJIE
from tests.support.households import write_household
from tests.support.web import csrf_token, follow_job, post

MONTHS = ["2021-11", "2021-12", "2022-01", "2022-02", "2022-03"]


@pytest.fixture
def holders(runtime, tiny_district):
    with runtime.session() as session:
        for i in range(10):
            write_household(
                session,
                tiny_district[NANJIE],
                f"A{i}",
                "completed",
                route="electric",
                completed_on=date(2020, 9, 1),
                power_account=f"00{i}",
                head_name=f"<b>户主{i}</b>",
            )


def csv_bytes(uses: dict[str, float]) -> bytes:
    lines = ["用电户号,月份,用电量(kWh)"]
    for account, total in uses.items():
        lines += [f"{account},{m},{total / 5}" for m in MONTHS]
    lines.append("99999999,2021-11,-3")  # a bad row: negative
    return "\n".join(lines).encode("gbk")


def upload(client, data: bytes, name: str = "用电量.csv", kind: str = "electric"):
    return client.post(
        "/usage/upload",
        data={
            "file": (io.BytesIO(data), name),
            "kind": kind,
            "csrf_token": csrf_token(client, "/usage"),
        },
        content_type="multipart/form-data",
    )


def test_planner_uploads_previews_commits_and_sees_the_flags(login, runtime, holders):
    planner = login("dave")
    uses = {f"{i}": 1000.0 for i in range(9)} | {"9": 0.0}  # the utility dropped the zeros
    resp = upload(planner, csv_bytes(uses))
    assert resp.status_code == 302
    page = planner.get(resp.headers["Location"]).get_data(as_text=True)
    assert "用电量" in page and 'id="matched">10<' in page
    assert "negative" in page and "用量不能为负数" in page
    assert "account_leading_zeros" in page
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 0
    batch = resp.headers["Location"].rsplit("/", 1)[1]
    started = post(planner, f"/usage/batches/{batch}/commit")  # a background job, as ledgers
    assert started.status_code == 302 and "/usage/jobs/" in started.headers["Location"]
    failed = follow_job(planner, started)
    assert 'id="job-failed"' in failed.get_data(as_text=True)
    assert "有 1 处错误" in failed.get_data(as_text=True)
    done = follow_job(
        planner, post(planner, f"/usage/batches/{batch}/commit", {"accept_valid": "1"})
    )
    assert done.request.path == f"/usage/batches/{batch}"
    assert f"已写入批次 {batch}" in done.get_data(as_text=True)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 50
    index = planner.get("/usage?season=2021").get_data(as_text=True)
    assert 'id="flagged-count">1<' in index
    assert "&lt;*****" in index and "<b>" not in index  # masked and escaped
    assert "没有配置补贴规则" in index
    rolled = post(planner, f"/usage/batches/{batch}/rollback")
    assert rolled.status_code == 302
    assert 'id="flagged-count">0<' in planner.get("/usage?season=2021").get_data(as_text=True)
    assert login("rita").get(started.headers["Location"]).status_code == 403  # not rita's job


@pytest.mark.parametrize(
    ("user", "status"), [("alice", 200), ("rita", 200), ("erin", 200), ("bob", 200)]
)
def test_who_may_read_the_usage_page(login, holders, user, status):
    assert login(user).get("/usage").status_code == status


def test_city_reads_counts_but_may_not_upload(login, holders):
    city = login("erin")
    page = city.get("/usage").get_data(as_text=True)
    assert 'id="usage-upload"' not in page
    assert upload(city, csv_bytes({"1": 10})).status_code == 403


def test_upload_without_csrf_is_refused(login, holders):
    planner = login("dave")
    resp = planner.post(
        "/usage/upload",
        data={"file": (io.BytesIO(csv_bytes({"1": 1})), "u.csv"), "kind": "electric"},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 400


def test_a_refused_file_says_why_in_chinese(login, holders):
    planner = login("dave")
    resp = upload(planner, "姓名,年龄\n张三,3\n".encode("gbk"), "x.csv")
    page = planner.get(resp.headers["Location"]).get_data(as_text=True)
    assert "找不到用量表头" in page


def test_village_page_shows_the_flags_and_verified_effective_coverage(
    login, run_cli, holders, tmp_path
):
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes({f"{i}": 1000.0 for i in range(9)} | {"9": 0.0}))
    result = run_cli(
        "usage", "import", str(path), "--kind", "electric", "--commit", "--accept-valid"
    )
    assert result.exit_code == 0, result.stderr
    page = login("dave").get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert 'id="usage-flagged">1<' in page
    # 10 registered, 10 clean, none lapsed, 1 flagged: (10 − 0 − 1) / 10.
    assert 'id="verified-effective">90.0%<' in page
    assert 'id="area-coverage">—<' in page and "不足 90% 时不计算" in page
    assert page.count("疑似改而不用</span>") == 1


def test_map_tooltip_shows_the_same_flags_as_the_village_page(runtime, run_cli, holders, tmp_path):
    from geo.maps import map_data

    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes({f"{i}": 1000.0 for i in range(9)} | {"9": 0.0}))
    assert (
        run_cli(
            "usage", "import", str(path), "--kind", "electric", "--commit", "--accept-valid"
        ).exit_code
        == 0
    )
    with runtime.session() as session:
        data = map_data(session, runtime.config)
    tips = dict(zip(data.areas["code"], data.areas["tip"], strict=True))
    assert tips[NANJIE][-4:-1] == ["1", "90.0%", "—"]  # then 热源核查


def test_a_clerk_reads_only_its_own_townships_flags_and_no_batch(login, run_cli, holders, tmp_path):
    """bob (麟绛街道) sees 南街's flagged household; carol (上村镇) sees none; neither sees batches."""
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes({f"{i}": 1000.0 for i in range(9)} | {"9": 0.0}))
    result = run_cli(
        "usage", "import", str(path), "--kind", "electric", "--commit", "--accept-valid", "--json"
    )
    batch = json.loads(result.stdout)["batch"]
    bob = login("bob")
    page = bob.get("/usage").get_data(as_text=True)
    assert 'id="flagged-count">1<' in page and 'id="own-township"' in page
    assert 'id="usage-batches"' not in page and 'id="usage-upload"' not in page
    assert 'id="area-140405001"' in page and 'id="area-140405101"' not in page
    assert ">用量核验<" in bob.get("/").get_data(as_text=True)  # in the clerk's navigation
    assert bob.get(f"/usage/batches/{batch}").status_code == 403
    assert upload(bob, csv_bytes({"1": 10})).status_code == 403
    assert post(bob, f"/usage/batches/{batch}/rollback").status_code == 403
    bob.post("/logout", data={"csrf_token": csrf_token(bob)})
    carol = login("carol")
    page = carol.get("/usage").get_data(as_text=True)
    assert 'id="flagged-count">0<' in page and 'id="flagged-households"' not in page
    assert NANJIE not in page and 'id="area-140405001"' not in page


def test_flags_and_schedule_default_to_the_season_the_page_shows(
    login, run_cli, holders, tmp_path, monkeypatch
):
    season = json.loads(run_cli("usage", "flags", "--json").stdout)["season"]
    page = login("dave").get("/usage").get_data(as_text=True)  # no use data at all
    assert f"{season} 采暖季疑似改而不用" in page
    path = tmp_path / "u.csv"
    path.write_bytes(csv_bytes({f"{i}": 1000.0 for i in range(9)} | {"9": 0.0}))
    run_cli("usage", "import", str(path), "--kind", "electric", "--commit", "--accept-valid")
    default = json.loads(run_cli("usage", "flags", "--json").stdout)
    assert default == json.loads(run_cli("usage", "flags", "--season", "2021", "--json").stdout)
    assert default["season"] == "2021" and default["flagged"] == 1
    page = login("dave").get("/usage").get_data(as_text=True)
    assert "2021 采暖季疑似改而不用" in page and 'id="flagged-count">1<' in page
    assert 'name="season" min="2000" max="2100" value="2021"' in page
    config = tmp_path / "heating.toml"
    config.write_text(
        '[[subsidy.rules]]\nroute = "electric"\nyear = 2020\ndevice = 2500\n'
        "operating = 2400\nseasons = 2\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    schedule = json.loads(run_cli("subsidy", "schedule", "--json").stdout)
    assert schedule["season"] == "2021" and schedule["ending_households"] == 10
    assert (
        json.loads(run_cli("subsidy", "schedule", "--season", "2022", "--json").stdout)["season"]
        == "2022"
    )
