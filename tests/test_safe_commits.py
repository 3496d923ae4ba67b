"""Safe commits: a stale preview never overwrites newer data; older previews expire;
a clean household said to be unfinished is a warning; an unchanged file confirms its date.
"""

from __future__ import annotations

import json
import re
from datetime import date

from sqlalchemy import func, select

from heating import clock
from heating.history import newest_ledger
from heating.models import Household, HouseholdVersion, ImportBatch, Township
from tests.support.ledgers import LEDGER_HEADER, ledger_xlsx
from tests.support.web import batch_id_of, follow_job, post, upload

SOUTH, UP = "南街村委会", "上村村委会"


def row(village: str, no: str, status: str, completed: str | None = None) -> list:
    route = "煤改电" if status != "未改造" else None
    return [village, no, f"户主{no}", None, None, status, route, completed]


def household(runtime, no: str) -> Household:
    with runtime.session() as session:
        return session.scalar(select(Household).where(Household.household_no == no))


def status_of(runtime, batch_id: int) -> str:
    with runtime.session() as session:
        return session.get(ImportBatch, batch_id).status


def commit_page(client, batch_id: int):
    return follow_job(client, post(client, f"/imports/{batch_id}/commit", {"mode": "strict"}))


def test_a_stale_preview_is_refused_and_offers_a_fresh_preview(login, runtime) -> None:
    client = login("alice")
    base = ledger_xlsx([row(SOUTH, "1", "已列入计划"), row(UP, "2", "未改造")])
    first = batch_id_of(upload(client, base, "两镇台账.xlsx"))
    assert "已写入" in commit_page(client, first).get_data(as_text=True)

    # A preview of a file spanning both townships (so no expiry applies) …
    stale = ledger_xlsx([row(SOUTH, "1", "已列入计划"), row(UP, "2", "已完工", "2021-09-01")])
    previewed = batch_id_of(upload(client, stale, "两镇台账-旧.xlsx"))
    # … then 麟绛街道 commits newer data for household 1 (same ledger date, today).
    newer = ledger_xlsx([row(SOUTH, "1", "已完工", "2021-10-01")])
    second = batch_id_of(upload(client, newer, "麟绛街道台账.xlsx", township="140405001"))
    commit_page(client, second)

    page = commit_page(client, previewed)
    body = page.get_data(as_text=True)
    assert f"不能写入批次 {previewed}：预览之后批次 {second}" in body
    assert "已修改了这些农户：南街村委会1" in body
    assert "用同一文件重新预览" in body
    # Nothing written: household 1 keeps the newer values, household 2 is untouched.
    assert household(runtime, "1").status == "completed"
    assert household(runtime, "2").status == "pending"
    assert status_of(runtime, previewed) == "preview"

    # The offered fresh preview judges the same stored file against the data as it is now.
    token = re.search(r'action="(/imports/\d+/repreview)"', body).group(1)
    fresh = follow_job(client, post(client, token))
    fresh_id = batch_id_of(fresh)
    assert fresh_id not in (previewed, second)
    text = fresh.get_data(as_text=True)
    assert "两镇台账-旧.xlsx" in text
    assert "status_regressed" not in text  # codes are not shown; the message is
    assert "状态倒退" in text  # household 1: 已完工 in the data, 已列入计划 in this file


def test_a_row_previewed_as_new_that_now_exists_is_refused(login, runtime) -> None:
    client = login("alice")
    previewed = batch_id_of(
        upload(client, ledger_xlsx([row(SOUTH, "9", "未改造"), row(UP, "8", "未改造")]), "a.xlsx")
    )
    other = batch_id_of(
        upload(
            client, ledger_xlsx([row(SOUTH, "9", "已完工", "2021-10-01")]), "b.xlsx", "140405001"
        )
    )
    commit_page(client, other)
    body = commit_page(client, previewed).get_data(as_text=True)
    assert f"预览之后批次 {other}" in body and "南街村委会9" in body
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == 1


def test_older_previews_of_the_township_expire_when_one_commits(login, runtime) -> None:
    client = login("bob")
    older = batch_id_of(upload(client, ledger_xlsx([row(SOUTH, "1", "未改造")]), "旧.xlsx"))
    newer = batch_id_of(
        upload(client, ledger_xlsx([row(SOUTH, "1", "已完工", "2021-10-01")]), "新.xlsx")
    )
    commit_page(client, newer)
    assert status_of(runtime, older) == "expired"
    page = client.get(f"/imports/{older}").get_data(as_text=True)
    assert "已过期" in page and 'id="repreview"' in page and 'id="commit-strict"' not in page
    # Posting the commit anyway writes nothing and says why.
    resp = post(client, f"/imports/{older}/commit", {"mode": "strict"}, follow_redirects=True)
    assert "不是待确认状态" in resp.get_data(as_text=True)
    assert household(runtime, "1").status == "completed"


def test_a_clean_household_said_unfinished_warns_and_clears_its_dates(login, runtime) -> None:
    client = login("bob")
    header = [*LEDGER_HEADER, "验收日期"]
    base = ledger_xlsx(
        [row(SOUTH, "1", "已验收", "2021-06-01") + ["2021-07-01"], row(SOUTH, "2", "已完工", "2021-06-01") + [None]],
        header=header,
    )  # fmt: skip
    commit_page(client, batch_id_of(upload(client, base, "基础.xlsx", ledger_date="2021-10-31")))
    again = ledger_xlsx(
        [row(SOUTH, "1", "施工中") + [None], row(SOUTH, "2", "施工中", "2021-06-01") + [None]],
        header=header,
    )
    preview = upload(client, again, "回退.xlsx", ledger_date="2021-11-30")
    body = preview.get_data(as_text=True)
    assert "户 1：上一版台账（台账日期 2021-10-31）为“已验收”，本表为“施工中”" in body
    assert "写入后将清除完工日期、验收日期（本行未填写）" in body
    assert "户 2：上一版台账（台账日期 2021-10-31）为“已完工”" in body
    commit_page(client, batch_id_of(preview))
    one, two = household(runtime, "1"), household(runtime, "2")
    assert (one.status, one.completed_on, one.accepted_on) == ("in_progress", None, None)
    assert (two.status, two.completed_on) == ("in_progress", date(2021, 6, 1))  # given: kept


def test_an_unchanged_file_confirms_its_date_without_versions(login, runtime) -> None:
    client = login("bob")
    data = ledger_xlsx([row(SOUTH, "1", "已完工", "2021-06-01"), row(SOUTH, "2", "未改造")])
    first = batch_id_of(upload(client, data, "10月.xlsx", ledger_date="2021-10-31"))
    commit_page(client, first)
    with runtime.session() as session:
        versions = session.scalar(select(func.count()).select_from(HouseholdVersion))
    preview = upload(client, data, "11月.xlsx", ledger_date="2021-11-30")
    body = preview.get_data(as_text=True)
    assert f"未变化的行与以下批次写入的数据相同：批次 {first}（2 户）" in body
    second = batch_id_of(preview)
    commit_page(client, second)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(HouseholdVersion)) == versions
        township = session.scalar(select(Township).where(Township.code == "140405001"))
        latest = newest_ledger(session, township.id)
        assert (latest.id, latest.ledger_date, latest.status) == (
            second,
            date(2021, 11, 30),
            "committed",
        )


def test_the_upload_form_takes_a_ledger_date_and_refuses_a_future_one(login, runtime) -> None:
    client = login("bob")
    data = ledger_xlsx([row(SOUTH, "1", "未改造")])
    page = upload(client, data, "台账.xlsx", ledger_date="2020-10-31").get_data(as_text=True)
    assert "2020-10-31" in page and "导入时指定" in page
    tomorrow = date.fromordinal(clock.today().toordinal() + 1).isoformat()
    form = {"file": (__import__("io").BytesIO(data), "x.xlsx"), "ledger_date": tomorrow}
    resp = post(client, "/imports", form, content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "晚于今天" in resp.get_data(as_text=True)
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(ImportBatch)) == 1


def test_ledger_date_option_on_the_command_line(run_cli, users, tmp_path) -> None:
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx([row(SOUTH, "1", "未改造")]))
    bad = run_cli("import", str(path), "--township", "140405001", "--ledger-date", "31/10/2021")
    assert bad.exit_code == 2
    assert "2021-10-31、2021.10.31、2021/10/31、2021年10月31日" in bad.stderr
    future = run_cli("import", str(path), "--township", "140405001", "--ledger-date", "2099-01-01")
    assert future.exit_code == 1 and "晚于今天" in future.stderr
    old = run_cli("import", str(path), "--township", "140405001", "--ledger-date", "1999-10-31")
    assert old.exit_code == 1 and "早于 2000 年" in old.stderr
    good = run_cli(
        "import", str(path), "--township", "140405001", "--ledger-date", "2021年10月31日", "--json"
    )
    out = json.loads(good.stdout)
    assert (out["ledger_date"], out["ledger_date_source"]) == ("2021-10-31", "option")
