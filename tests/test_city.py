"""The city: districts ranked by gap then coverage (heating city, /city, /api/city) and the
city report (heating report --city --out DIR) agreeing with each district's own report.

A small city: the tiny district (屯留区, the standard households) and 潞城区
(tests/support.add_second_district) — never the full demo city.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from heating.city import rank_key
from heating.measures import MeasureRow
from tests.support.districts import LUCHENG, LUCHENG_TOWNSHIP, add_second_district
from tests.support.users import PASSWORD, add_district_user
from tests.support.web import log_in


@pytest.fixture
def city(runtime, standard, users) -> dict[str, int]:
    with runtime.session() as s:
        ids = add_second_district(s)
        add_district_user(s, "lucy", "planner", LUCHENG)
    return ids


def _row(key: str, gap: int, coverage: float | None) -> MeasureRow:
    base = MeasureRow.__dataclass_fields__  # every field has a value below
    values = {name: None for name in base}
    values.update(key=key, name=key, gap=gap, coverage=coverage, required=10, clean=5, villages=1)
    return MeasureRow(**values)


def test_ranking_is_gap_first_then_lower_coverage_then_undefined_last() -> None:
    rows = [
        _row("a", 3, 0.9),
        _row("b", 7, 0.5),
        _row("c", 3, 0.4),
        _row("d", 0, None),
        _row("e", 0, 1.0),
    ]
    assert [r.key for r in sorted(rows, key=rank_key)] == ["b", "c", "a", "e", "d"]


def test_city_command_page_and_api_agree_and_rank(run_cli, client, city) -> None:
    out = run_cli("city", "--json")
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    lines = data["districts"]
    assert [d["rank"] for d in lines] == [1, 2]
    keys = [(-d["gap"], d["coverage"]) for d in lines]
    assert keys == sorted(keys)
    by_district = {
        r["key"]: r for r in json.loads(run_cli("coverage", "--by", "district", "--json").stdout)
    }
    for d in lines:
        same = by_district[d["district"]]
        assert (d["required"], d["clean"], d["coverage"], d["gap"], d["meets"]) == (
            same["required"],
            same["clean"],
            same["coverage"],
            same["gap"],
            same["meets"],
        )
    assert data["total"]["required"] == sum(d["required"] for d in lines)
    table = run_cli("city")
    assert table.exit_code == 0 and "潞城区" in table.stdout and "全市" in table.stdout
    assert log_in(client, "dave", PASSWORD).status_code == 302
    assert client.get("/api/city").get_json() == data
    page = client.get("/city").get_data(as_text=True)
    assert page.index("潞城区") != -1 and "全市" in page
    first, second = (d["name"] for d in lines)
    assert page.index(f">{first}</a>") < page.index(f">{second}</a>")
    assert ">全市</a>" in client.get("/").get_data(as_text=True)  # navigation, several districts


def test_district_bound_user_is_refused_the_city_summary(client, city) -> None:
    assert log_in(client, "lucy", PASSWORD).status_code == 302
    for path in ("/city", "/api/city"):
        resp = client.get(path)
        assert resp.status_code == 403
        assert "潞城区" in resp.get_data(as_text=True)
    assert ">全市</a>" not in client.get("/").get_data(as_text=True)


def test_commands_take_a_district(run_cli, city) -> None:
    status = run_cli("signoff", "status", "--district", LUCHENG, "--json")
    assert status.exit_code == 0, status.stderr
    assert [r["township"] for r in json.loads(status.stdout)] == [LUCHENG_TOWNSHIP]
    unknown = run_cli("signoff", "status", "--district", "140499")
    assert unknown.exit_code == 1 and "140499" in unknown.stderr
    outside = run_cli("usage", "flags", "--district", LUCHENG, "--township", "140405001")
    assert outside.exit_code == 1 and "不属于区县" in outside.stderr


def _overview_total(path: Path) -> list:
    ws = load_workbook(io.BytesIO(path.read_bytes()), read_only=True)["总体情况"]
    (row,) = [r for r in ws.iter_rows(values_only=True) if r and r[0] == "合计"]
    return list(row[4:15])  # MEASURE_COLUMNS after 区域类别, 考核方式, 村数, 完成村数


def test_city_report_summary_equals_each_district_report(run_cli, city, tmp_path) -> None:
    out = run_cli("report", "--year", "2021", "--city", "--out", str(tmp_path / "全市"), "--json")
    assert out.exit_code == 0, out.stderr
    result = json.loads(out.stdout)
    files = {d["district"]: Path(d["file"]) for d in result["districts"]}
    assert set(files) == {"140405", LUCHENG} and all(p.exists() for p in files.values())
    summary = load_workbook(io.BytesIO(Path(result["summary_file"]).read_bytes()), read_only=True)[
        "分区县"
    ]
    rows = [r for r in summary.iter_rows(values_only=True) if r and r[1] in files]
    assert [r[0] for r in rows] == [1, 2]
    for r in rows:
        assert list(r[5:16]) == _overview_total(files[r[1]]), r[1]
        assert r[16] == files[r[1]].name
    (city_row,) = [r for r in summary.iter_rows(values_only=True) if r and r[2] == "全市"]
    assert city_row[8] == sum(r[8] for r in rows)  # 应改造
    one = run_cli("report", "--year", "2021", "--district", LUCHENG, "-o", str(tmp_path / "a.xlsx"))
    assert one.exit_code == 0, one.stderr
    assert _overview_total(tmp_path / "a.xlsx") == _overview_total(files[LUCHENG])
    wrong = run_cli("report", "--year", "2021", "--city")
    assert wrong.exit_code == 2


def test_a_report_without_a_district_names_the_choice_on_both_faces(
    run_cli, client, city, tmp_path
) -> None:
    """Several districts: the refusal lists them and says how to choose, page and CLI alike."""
    cli = run_cli("report", "--year", "2021", "-o", str(tmp_path / "r.xlsx"))
    assert cli.exit_code == 1 and not (tmp_path / "r.xlsx").exists()
    assert "潞城区" in cli.stderr and "--district" in cli.stderr
    assert log_in(client, "dave", PASSWORD).status_code == 302
    resp = client.get("/reports/download?year=2021")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and resp.mimetype == "text/html"
    assert "潞城区" in page and "网页上在“区县”中选择" in page


def test_city_over_real_http(live_server, city) -> None:
    """Through waitress with requests: the ranking for a city user, a refusal for a bound one."""
    import re

    import requests

    def session_as(name: str) -> requests.Session:
        http = requests.Session()
        form = http.get(f"{live_server}/login", timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
        resp = http.post(
            f"{live_server}/login",
            data={"username": name, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
            timeout=30,
        )
        assert resp.status_code == 302
        return http

    erin = session_as("erin")  # the city office: every district
    ranked = erin.get(f"{live_server}/api/city", timeout=60).json()["districts"]
    assert [d["rank"] for d in ranked] == [1, 2]
    page = erin.get(f"{live_server}/city", timeout=60)
    assert page.status_code == 200 and "潞城区" in page.text
    lucy = session_as("lucy")
    assert lucy.get(f"{live_server}/api/city", timeout=60).status_code == 403
    refused = lucy.get(f"{live_server}/api/coverage?district=140405", timeout=60)
    assert refused.status_code == 403 and "潞城区" in refused.json()["message"]
    own = lucy.get(f"{live_server}/api/coverage?by=township", timeout=60).json()
    assert [r["key"] for r in own] == [LUCHENG_TOWNSHIP]
