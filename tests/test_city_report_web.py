"""The city report on the web (/reports → 全市报告): the summary workbook, and one link per
district to its full report (each a request of its own; no request builds every district's).

A small city: the tiny district (屯留区) and 潞城区 (tests/support.add_second_district).
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from html import unescape
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.support.districts import LUCHENG, add_second_district
from tests.support.users import PASSWORD, add_district_user
from tests.support.web import log_in, post

YEAR = "2021"


@pytest.fixture
def city(runtime, standard, users) -> None:
    with runtime.session() as s:
        add_second_district(s)
        add_district_user(s, "lucy", "planner", LUCHENG)


def _city_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("heating-city-*")}


def _district_rows(workbook: bytes) -> list[tuple]:
    ws = load_workbook(io.BytesIO(workbook), read_only=True)["分区县"]
    return [r for r in ws.iter_rows(values_only=True) if r and isinstance(r[0], int)]


def _overview_total(workbook: bytes) -> list:
    ws = load_workbook(io.BytesIO(workbook), read_only=True)["总体情况"]
    (row,) = [r for r in ws.iter_rows(values_only=True) if r and r[0] == "合计"]
    return list(row[4:15])  # MEASURE_COLUMNS after 区域类别, 考核方式, 村数, 完成村数


def test_city_summary_download_equals_the_city_command(client, run_cli, city) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    page = client.get("/reports").get_data(as_text=True)
    assert 'id="city-report-form"' in page and 'name="csrf_token"' in page
    resp = post(client, "/reports/city", {"year": YEAR})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:800]
    assert resp.mimetype.endswith("spreadsheetml.sheet")
    assert "%E5%85%A8%E5%B8%822021" in resp.headers["Content-Disposition"]  # 全市2021…
    rows = _district_rows(resp.data)
    cli = run_cli("city", "--as-of", "2021-10-31", "--json")
    assert cli.exit_code == 0, cli.stderr
    expected = json.loads(cli.stdout)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (d["rank"], d["district"], d["name"]) for d in expected["districts"]
    ]
    for row, d in zip(rows, expected["districts"], strict=True):
        # 排名 区县代码 区县 乡镇数 村数, then MEASURE_COLUMNS: 名录总户数 台账户数 无需改造
        # 应改造 已完成 散煤复烧/弃用 覆盖率 有效覆盖率 目标 差距户数 是否达标, then the file
        assert (row[3], row[4]) == (d["townships"], d["villages"])
        assert (row[8], row[9], row[14]) == (d["required"], d["clean"], d["gap"]), row
        assert row[11] == pytest.approx(d["coverage"]), row
        assert row[12] == pytest.approx(d["effective_coverage"]), row
    ws = load_workbook(io.BytesIO(resp.data), read_only=True)["分区县"]
    (total,) = [r for r in ws.iter_rows(values_only=True) if r and r[2] == "全市"]
    assert (total[8], total[9], total[14]) == (
        expected["total"]["required"],
        expected["total"]["clean"],
        expected["total"]["gap"],
    )


def _report_links(page: str) -> dict[str, str]:
    """District code → the href of its report link in the 各区县报告 list."""
    (listing,) = re.findall(r'<ul id="district-report-links">(.*?)</ul>', page, re.S)
    return {
        code: unescape(href)
        for href, code in re.findall(r'<a href="([^"]+)">[^<]*（(\d{6})）', listing)
    }


def test_a_city_user_gets_one_report_link_per_district_each_downloading_it(
    client, run_cli, city, tmp_path
) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    page = client.get("/reports?year=2021&as_of=2021-10-31").get_data(as_text=True)
    assert 'name="kind"' not in page and "zip" not in page
    links = _report_links(page)
    assert set(links) == {"140405", LUCHENG}
    for code, href in links.items():
        assert f"district={code}" in href and "year=2021" in href and "as_of=2021-10-31" in href
        resp = client.get(href)
        assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
        name = "潞城区" if code == LUCHENG else "屯留区"
        assert resp.headers["Content-Disposition"].count("filename") == 2
        assert name in unescape(_filename(resp.headers["Content-Disposition"])), code
        cli = run_cli(
            "report", "--year", YEAR, "--as-of", "2021-10-31", "--district", code,
            "-o", str(tmp_path / f"{code}.xlsx"),
        )  # fmt: skip
        assert cli.exit_code == 0, cli.stderr
        assert _overview_total(resp.data) == _overview_total(
            (tmp_path / f"{code}.xlsx").read_bytes()
        ), code


def _filename(disposition: str) -> str:
    from urllib.parse import unquote

    return unquote(disposition.split("filename*=UTF-8''")[1])


def test_a_district_bound_user_sees_only_their_districts_report_link(client, city) -> None:
    assert log_in(client, "lucy", PASSWORD).status_code == 302
    page = client.get("/reports?year=2021").get_data(as_text=True)
    assert 'id="city-report-form"' not in page
    links = _report_links(page)
    assert list(links) == [LUCHENG]
    assert client.get(links[LUCHENG]).status_code == 200
    assert client.get(links[LUCHENG].replace(LUCHENG, "140405")).status_code == 403


def test_the_city_zip_is_gone(client, city) -> None:
    """The zip built every district's report in one request (minutes: the request timed out)."""
    assert log_in(client, "alice", PASSWORD).status_code == 302
    before = _city_folders()
    resp = post(client, "/reports/city", {"year": YEAR, "kind": "zip"})
    assert resp.status_code == 200 and resp.mimetype.endswith("spreadsheetml.sheet")
    assert _city_folders() == before


@pytest.mark.parametrize("who", ["lucy", "bob"])
def test_users_without_the_city_are_refused_and_nothing_is_built(client, city, who) -> None:
    before = _city_folders()
    assert log_in(client, who, PASSWORD).status_code == 302
    page = client.get("/reports")
    assert 'id="city-report-form"' not in page.get_data(as_text=True)
    resp = post(client, "/reports/city", {"year": YEAR})
    assert resp.status_code == 403
    if who == "lucy":  # says which district the account holds and what to do
        assert "潞城区" in resp.get_data(as_text=True) and "全市报告" in resp.get_data(as_text=True)
    assert not resp.mimetype.endswith(("sheet", "zip"))
    assert _city_folders() == before


def test_without_the_form_token_nothing_is_built(client, city) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    resp = client.post("/reports/city", data={"year": YEAR})
    assert resp.status_code == 400 and resp.mimetype == "text/html"


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"year": "abc"}, "请选择报告年度"),
        ({"year": "<b>x</b>"}, "&lt;b&gt;x&lt;/b&gt;"),
        ({"year": YEAR, "as_of": "2021-13-01"}, "截止日期应为日期"),
        ({"year": YEAR, "known_at": "<script>"}, "已知时点"),
    ],
)
def test_bad_city_forms_are_refused_in_chinese_and_escaped(client, city, form, words) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    resp = post(client, "/reports/city", form)
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and words in page, page[:2000]
    assert "<b>x</b>" not in page and "<script>" not in page.split("<main>")[1].split("</main>")[0]


def test_a_single_district_has_no_city_report(client, standard, users) -> None:
    assert log_in(client, "erin", PASSWORD).status_code == 302
    assert 'id="city-report-form"' not in client.get("/reports").get_data(as_text=True)
    resp = post(client, "/reports/city", {"year": YEAR})
    assert resp.status_code == 403 and "只有一个区县" in resp.get_data(as_text=True)


def test_summary_alone_equals_the_summary_written_beside_the_reports(
    runtime, city, tmp_path
) -> None:
    """city_summary_workbook (the web's summary) = build_city_reports' summary, cell by cell,
    a final district (潞城区 approved) and a draft one (屯留区) alike."""
    from datetime import date, timedelta

    from heating.models import utcnow
    from heating.report.city import build_city_reports, city_summary_workbook
    from tests.support import LUCHENG_TOWNSHIP, sign_off

    assert (
        sign_off(
            runtime, LUCHENG_TOWNSHIP, date(2021, 10, 31), ("submit", "alice"), ("approve", "rita")
        )
        == "approved"
    )
    now = utcnow().replace(microsecond=0) + timedelta(seconds=1)  # after the approval
    with runtime.session() as s:
        full = build_city_reports(s, runtime.config, 2021, tmp_path, now=now, picture=False)
        content, name = city_summary_workbook(s, runtime.config, 2021, now=now)
    assert name == full.summary_file.name
    alone = load_workbook(io.BytesIO(content), read_only=True)
    beside = load_workbook(io.BytesIO(full.summary_file.read_bytes()), read_only=True)
    assert alone.sheetnames == beside.sheetnames
    for sheet in beside.sheetnames:
        cells = [list(r) for r in beside[sheet].iter_rows(values_only=True)]
        assert [list(r) for r in alone[sheet].iter_rows(values_only=True)] == cells, sheet
    files = [r[16] for r in _district_rows(content)]
    assert any("草稿" not in f and f.startswith("潞城区") for f in files)
    assert any("草稿" in f for f in files)
