"""The report's faces: /reports for admin, planner and city (not clerks), and ``heating report``."""

from __future__ import annotations

import io
import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from flask.testing import FlaskClient

from heating import evidence_cache, shared_figures
from heating.processes import DIED_MESSAGE, process_ids
from heating.runtime import Runtime, open_runtime
from heating.web import create_app
from tests.support import PASSWORD, log_in
from tests.support.districts import NANJIE
from tests.support.households import at, change_household
from tests.support.report import AS_OF, build_history, read_table


@pytest.fixture
def history(runtime: Runtime, users: dict[str, int], tiny_district: dict[str, int]) -> None:
    build_history(runtime, tiny_district)


@pytest.mark.parametrize("who", ["bob", "carol"])
def test_clerks_may_not_open_or_download_reports(
    login: Callable[[str], FlaskClient], who: str
) -> None:
    client = login(who)
    assert client.get("/reports").status_code == 403
    assert client.get("/reports/download?year=2021").status_code == 403


def test_anonymous_is_sent_to_login(client: FlaskClient, users: dict[str, int]) -> None:
    resp = client.get("/reports/download?year=2021")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


@pytest.mark.parametrize("who", ["erin", "dave", "alice"])
def test_report_page_offers_years_for_city_planner_admin(
    login: Callable[[str], FlaskClient], history: None, who: str
) -> None:
    page = login(who).get("/reports")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="year"' in html and 'name="as_of"' in html
    assert '<option value="2021"' in html and '<option value="2020"' in html
    assert "2021-10-31" in html


def test_city_downloads_the_report_with_a_chinese_file_name(
    login: Callable[[str], FlaskClient], history: None
) -> None:
    resp = login("erin").get("/reports/download?year=2021")
    assert resp.status_code == 200
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = resp.headers["Content-Disposition"]
    name = "屯留区2021年度清洁取暖回头看评估报告（截至20211031）（草稿）.xlsx"  # nothing approved
    assert disposition.startswith("attachment")
    assert f"filename*=UTF-8''{quote(name)}" in disposition
    wb = openpyxl.load_workbook(io.BytesIO(resp.data))
    total = read_table(wb["总体情况"], "区域类别")[-1]
    assert (total["户数|应改造"], total["户数|已完成"]) == (42, 32)


def test_download_with_an_as_of_date_and_refusals(
    login: Callable[[str], FlaskClient], history: None
) -> None:
    client = login("dave")
    resp = client.get("/reports/download?year=2021&as_of=2020-10-31")
    assert resp.status_code == 200
    total = read_table(openpyxl.load_workbook(io.BytesIO(resp.data))["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 10
    bad = client.get("/reports/download?year=2021&as_of=31.10.2021")
    assert bad.status_code == 400
    assert "截止日期应为日期（年-月-日）" in bad.get_data(as_text=True)
    assert client.get("/reports/download?year=abc").status_code == 400
    assert "2000 到 2100" in client.get("/reports/download?year=1999").get_data(as_text=True)


def test_cli_writes_the_report(
    run_cli: Callable[..., object], runtime: Runtime, history: None, tmp_path: Path
) -> None:
    out = tmp_path / "报告.xlsx"
    result = run_cli("report", "--year", "2021", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["as_of"] == AS_OF.isoformat()
    assert (outcome["required"], outcome["clean"]) == (42, 32)
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames[0] == "封面与说明"
    plain = run_cli("report", "--year", "2020", "--as-of", "2020-12-31", "-o", str(out))
    assert plain.exit_code == 0 and "数据截至 2020-12-31" in plain.stdout


def test_cli_refuses_with_chinese_messages(
    run_cli: Callable[..., object], tiny_district: dict[str, int], tmp_path: Path
) -> None:
    wrong = run_cli("report", "--year", "2021", "-o", str(tmp_path / "r.pdf"))
    assert wrong.exit_code == 1 and ".xlsx" in wrong.stderr
    date = run_cli(
        "report", "--year", "2021", "--as-of", "2021/10/31", "-o", str(tmp_path / "r.xlsx")
    )
    assert date.exit_code == 2 and "YYYY-MM-DD" in date.stderr
    unknown = run_cli(
        "report", "--year", "2021", "--district", "999999", "-o", str(tmp_path / "r.xlsx")
    )
    assert unknown.exit_code == 1 and "999999" in unknown.stderr


def test_cli_asks_for_a_district_when_there_are_several(
    run_cli: Callable[..., object], runtime: Runtime, tiny_district: dict[str, int], tmp_path: Path
) -> None:
    from heating.models import District

    with runtime.session() as s:
        s.add(District(code="140404", name="上党区"))
    out = tmp_path / "r.xlsx"
    result = run_cli("report", "--year", "2021", "-o", str(out))
    assert result.exit_code == 1 and "--district" in result.stderr and "上党区" in result.stderr
    assert (
        run_cli("report", "--year", "2021", "--district", "140405", "-o", str(out)).exit_code == 0
    )


def test_the_same_report_is_built_once_until_the_data_change(
    login: Callable[[str], FlaskClient], runtime: Runtime, history: None, tiny_district
) -> None:
    """Downloads with the same choices get the same file while nothing is committed
    (heating.web.reports._kept_report); a change to a household is in the next one."""
    client = login("erin")
    first = client.get("/reports/download?year=2021")
    time.sleep(1.1)  # a report built again would carry another generation time
    again = client.get("/reports/download?year=2021")
    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    with runtime.session() as s:
        change_household(
            s, tiny_district[NANJIE], "S10", at("2021-07-01 10:00"), status="completed"
        )
    after = client.get("/reports/download?year=2021")
    total = read_table(openpyxl.load_workbook(io.BytesIO(after.data))["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 33  # was 32


def test_a_report_built_by_one_worker_is_downloaded_from_another(
    login: Callable[[str], FlaskClient], runtime: Runtime, history: None, tiny_district
) -> None:
    """Workers share built reports through the database (heating.shared_figures): the
    second worker's download is the first's file (its generation time too), not a second build;
    a commit in between makes both build again."""
    first = login("erin")
    shared_figures.share_between_processes(first.application.extensions["heating"].engine, True)
    other = create_app(runtime=open_runtime(runtime.config))  # a worker of the same settings
    other.config.update(TESTING=True)
    shared_figures.share_between_processes(other.extensions["heating"].engine, True)
    second = other.test_client()
    assert log_in(second, "erin", PASSWORD).status_code == 302
    built = first.get("/reports/download?year=2021")
    time.sleep(1.1)  # a report built again would carry another generation time
    fetched = second.get("/reports/download?year=2021")
    assert built.status_code == fetched.status_code == 200
    assert fetched.data == built.data
    with other.extensions["heating"].session() as session:
        assert evidence_cache.stats(session)["shared_hits"] >= 1
    with runtime.session() as s:
        change_household(
            s, tiny_district[NANJIE], "S10", at("2021-07-01 10:00"), status="completed"
        )
    rebuilt = second.get("/reports/download?year=2021")
    assert rebuilt.status_code == 200 and rebuilt.data != built.data
    total = read_table(openpyxl.load_workbook(io.BytesIO(rebuilt.data))["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 33  # was 32
    assert first.get("/reports/download?year=2021").data == rebuilt.data
    other.extensions["heating"].engine.dispose()


def test_a_report_is_built_in_a_report_process_and_one_that_died_is_said_so(
    login: Callable[[str], FlaskClient], runtime: Runtime, history: None, tiny_district
) -> None:
    """Downloads are built outside the web process (a build no longer holds the worker's
    interpreter lock); a report process killed meanwhile gives a page that says so, not a
    crash, and the next download gets a new process."""
    client = login("erin")
    assert client.get("/reports/download?year=2021").status_code == 200
    pids = process_ids("reports")
    assert pids and os.getpid() not in pids
    # Built at a lower priority than the pages (POOL_NICENESS): planners' clicks come first.
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    assert all(os.getpriority(os.PRIO_PROCESS, pid) >= min(mine + 10, 19) for pid in pids)
    for pid in pids:  # as the OOM killer would
        os.kill(pid, signal.SIGKILL)
    with runtime.session() as s:  # a new data version: the kept file may not be served
        change_household(
            s, tiny_district[NANJIE], "S10", at("2021-07-01 10:00"), status="completed"
        )
    failed = client.get("/reports/download?year=2021")
    assert failed.status_code == 503
    assert "报告生成失败" in failed.get_data(as_text=True)
    assert DIED_MESSAGE in failed.get_data(as_text=True)
    again = client.get("/reports/download?year=2021")
    assert again.status_code == 200 and again.mimetype.endswith("sheet")
    assert not set(process_ids("reports")) & set(pids)


@pytest.mark.parametrize("settings", [{"report_wait_seconds": 0}])
def test_a_report_still_building_gives_a_page_that_refreshes_until_the_file_comes(
    login: Callable[[str], FlaskClient], runtime: Runtime, history: None, tiny_district
) -> None:
    """A build longer than report_wait_seconds does not hold the request: the page says so in
    Chinese (202, refreshing itself) while the build goes on, and a later request gets the file."""
    client = login("erin")
    first = client.get("/reports/download?year=2021")
    assert first.status_code == 202
    assert first.headers["Refresh"] == "5"
    page = first.get_data(as_text=True)
    assert "报告生成中" in page and 'http-equiv="refresh"' in page
    for _ in range(600):  # a browser asks again every 5 s; the test every 0.1 s
        again = client.get("/reports/download?year=2021")
        if again.status_code != 202:
            break
        time.sleep(0.1)
    assert again.status_code == 200 and again.mimetype.endswith("sheet")
    total = read_table(openpyxl.load_workbook(io.BytesIO(again.data))["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 32
