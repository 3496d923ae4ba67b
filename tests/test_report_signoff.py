"""The report knows the sign-off (issue 12 item 5): states on the cover, draft marks,
the 分乡镇 state column, ``--approved-only`` and what changed since an approval.

The tiny district's two-year history (``tests.support.build_history``) is
signed off through ``heating.signoff`` and the workbook read back with openpyxl.
"""

from __future__ import annotations

import io
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, update

from heating import signoff
from heating.measures import coverage
from heating.models import User, Village, utcnow
from heating.report import build_report
from heating.report.reconcile import check_sheets
from heating.report.sheets import SHEETS
from heating.runtime import Runtime
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN, XIACUN
from tests.support.households import write_household
from tests.support.registers import REGISTER, register_xlsx
from tests.support.report import AS_OF, build_history, read_table
from tests.support.signoff import PERIOD, sign_off

BOB_TOWN, CAROL_TOWN = "140405001", "140405101"
DRAFT = "草稿（未全部审核）"
NOW = datetime(2021, 11, 5, 9, 30)
APPROVE_BOB = (("submit", "bob"), ("approve", "rita"))
APPROVE_CAROL = (("submit", "carol"), ("approve", "rita"))


@pytest.fixture
def history(runtime: Runtime, tiny_district: dict[str, int], users: dict[str, int]) -> None:
    build_history(runtime, tiny_district)


def make(runtime: Runtime, *, read_only: bool = True, **kwargs: Any) -> openpyxl.Workbook:
    """The 2021 report known a day from now (after every sign-off the test made).

    Its values only, unless ``read_only=False`` (print headers, document properties);
    without the coverage map (test_picture_draws_withheld_villages_as_no_data draws it).
    """
    kwargs.setdefault("known_at", utcnow() + timedelta(days=1))
    kwargs.setdefault("picture", False)
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=NOW, **kwargs)
    return openpyxl.load_workbook(io.BytesIO(built.content), read_only=read_only)


def cover(wb: openpyxl.Workbook) -> dict[str, str]:
    """The cover's label → value pairs."""
    rows = wb["封面与说明"].iter_rows(max_col=2, values_only=True)
    return {str(label): str(value or "") for label, value in rows if label}


def headers(ws: Any) -> list[str]:
    return [ws.oddHeader.center.text or "", ws.evenHeader.center.text or ""]


# --------------------------------------------------------------------------
# States and the draft mark
# --------------------------------------------------------------------------


def test_unapproved_report_says_draft_in_title_and_on_every_sheet(
    runtime: Runtime, history: None
) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    wb = make(runtime, read_only=False)
    assert DRAFT in wb.properties.title
    assert wb.sheetnames == [title for title, _ in SHEETS]
    for ws in wb.worksheets:
        assert DRAFT in str(ws["A1"].value), ws.title  # the visible title row
        assert all(DRAFT in h for h in headers(ws)), ws.title  # every printed page
        assert ws.oddHeader.center.color == "C00000"
    states = cover(wb)
    assert states["审核情况"].startswith("2021-10-31 期已审核 1/2 个乡镇")
    assert DRAFT in states["审核情况"]


def test_cover_and_townships_sheet_list_every_townships_state(
    runtime: Runtime, history: None
) -> None:
    wb = make(runtime)
    states = cover(wb)
    assert states["麟绛街道（140405001）"] == "未报送"
    assert states["上村镇（140405101）"] == "未报送"
    assert "审核后的变化" not in states  # nothing approved, nothing to compare

    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    sign_off(runtime, CAROL_TOWN, PERIOD, ("submit", "carol"))
    states = cover(make(runtime))
    assert states["麟绛街道（140405001）"].startswith("已审核（rita，")
    assert states["上村镇（140405101）"].startswith("已报送（carol，")

    sign_off(runtime, CAROL_TOWN, PERIOD, ("return", "rita", "上村户数对不上"))
    wb = make(runtime)
    states = cover(wb)
    assert states["上村镇（140405101）"].startswith("已退回（rita，")
    assert states["上村镇（140405101）"].endswith("：上村户数对不上")
    townships = read_table(wb["分乡镇"], "乡镇代码")
    assert [(t["乡镇代码"], t["审核状态"]) for t in townships] == [
        (BOB_TOWN, "已审核"),
        (CAROL_TOWN, "已退回"),
        (None, "已审核 1/2"),
    ]
    per_category = read_table(wb["分乡镇"], "乡镇代码", occurrence=2)
    assert {(t["乡镇代码"], t["审核状态"]) for t in per_category} == {
        (BOB_TOWN, "已审核"),
        (CAROL_TOWN, "已退回"),
    }


def test_a_fully_approved_report_is_not_a_draft(runtime: Runtime, history: None) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    sign_off(runtime, CAROL_TOWN, PERIOD, *APPROVE_CAROL)
    wb = make(runtime, read_only=False)
    assert "草稿" not in wb.properties.title
    for ws in wb.worksheets:
        assert "草稿" not in str(ws["A1"].value), ws.title
        assert headers(ws) == ["", ""], ws.title
    states = cover(wb)
    assert states["审核情况"] == "2021-10-31 期全部 2 个乡镇（街道）的数据均已经区级审核。"
    assert "均无变化" in states["审核后的变化"]
    assert "用电用气数据" in states["审核后的变化"]


def test_states_replay_to_the_known_at_time_and_withdrawal_makes_a_draft(
    runtime: Runtime, history: None
) -> None:
    before = utcnow().replace(microsecond=0) - timedelta(seconds=1)
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    sign_off(runtime, CAROL_TOWN, PERIOD, *APPROVE_CAROL)
    assert cover(make(runtime, known_at=before))["麟绛街道（140405001）"] == "未报送"
    approved_at = utcnow() + timedelta(minutes=1)
    with runtime.session() as s:  # withdrawn five minutes from now
        alice = s.scalar(select(User).where(User.username == "alice"))
        signoff.transition(s, runtime.config, "withdraw", BOB_TOWN, PERIOD, alice,
                           text="市里抽查", now=utcnow() + timedelta(minutes=5))  # fmt: skip
    wb = make(runtime)
    assert DRAFT in str(wb["分村"]["A1"].value)
    assert cover(wb)["麟绛街道（140405001）"].endswith("：市里抽查")
    # Known before the withdrawal, the report is the approved one it was.
    with runtime.session() as s:
        built = build_report(s, runtime.config, 2021, now=NOW, known_at=approved_at)
    assert not built.snapshot.draft


def test_a_report_whose_cut_off_is_not_a_period_is_a_draft(runtime: Runtime, history: None) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    sign_off(runtime, CAROL_TOWN, PERIOD, *APPROVE_CAROL)
    wb = make(runtime, as_of=date(2021, 9, 30))
    assert DRAFT in str(wb["总体情况"]["A1"].value)
    assert "不是报送期" in cover(wb)["审核情况"]


# --------------------------------------------------------------------------
# --approved-only
# --------------------------------------------------------------------------


def test_approved_only_withholds_unapproved_villages_and_judges_no_partial_category(
    runtime: Runtime, history: None
) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    wb = make(runtime, read_only=False, approved_only=True)
    label = "仅含已审核乡镇（1/2）"
    profile = runtime.config.profile
    with runtime.session() as s:
        bob_villages = coverage(s, profile, "village", as_of=AS_OF, township_code=BOB_TOWN)
        full = coverage(s, profile, "category", as_of=AS_OF)
    for ws in wb.worksheets:
        assert label in str(ws["A1"].value) and all(label in h for h in headers(ws)), ws.title

    villages = {line["村代码"]: line for line in read_table(wb["分村"], "村代码")}
    for code in (SHANGCUN, XIACUN):  # 上村镇 is not approved
        line = villages[code]
        assert line["户数|应改造"] == line["覆盖率|覆盖率"] == line["是否达标"] == "—"
        assert line["完成村"] == "—"
    assert villages[NANJIE]["户数|应改造"] == 9 and villages[DONGJIE]["户数|已完成"] == 8

    overview = read_table(wb["总体情况"], "区域类别")
    total = overview[-1]
    assert total["区域类别"] == f"合计（{label}）"
    assert total["户数|应改造"] == sum(r.required for r in bob_villages) == 17
    assert total["户数|已完成"] == sum(r.clean for r in bob_villages)
    assert total["是否达标"] == "—"
    by_name = {line["区域类别"]: line for line in overview}
    rural = next(r for r in full if r.key == "rural")
    # 上村 fails its rural target in the full report; approved-only cannot call rural 达标.
    assert rural.meets is False
    assert by_name[rural.name]["是否达标"] == "—"

    townships = {t["乡镇代码"]: t for t in read_table(wb["分乡镇"], "乡镇代码")}
    assert townships[CAROL_TOWN]["户数|应改造"] == "—" and townships[BOB_TOWN]["户数|应改造"] == 17
    assert townships[None]["乡镇名称"] == f"合计（{label}）"
    listed = read_table(wb["未达标清单"], "序号") + read_table(wb["未达标清单"], "序号", 2)
    assert {line.get("村代码") for line in listed} & {NANJIE, SHANGCUN} == {NANJIE}
    compared = {c["乡镇代码"]: c for c in read_table(wb["年度对比"], "乡镇代码")}
    assert compared[CAROL_TOWN][f"本年（截至 {AS_OF:%Y-%m-%d}）|应改造"] == "—"
    assert compared[None][f"本年（截至 {AS_OF:%Y-%m-%d}）|应改造"] == 17
    problems = read_table(wb["回头看问题户"], "村代码")
    assert XIACUN not in {p["村代码"] for p in problems}  # 下村's abandoned household is withheld
    assert label in cover(wb)["仅含已审核乡镇"]
    assert check_sheets(wb) == []  # the sheets agree with each other on the saved file


def test_approved_only_without_any_approval_withholds_everything(
    runtime: Runtime, history: None
) -> None:
    wb = make(runtime, approved_only=True)
    total = read_table(wb["总体情况"], "区域类别")[-1]
    assert total["区域类别"] == "合计（仅含已审核乡镇（0/2））"
    assert (total["户数|应改造"], total["覆盖率|覆盖率"], total["是否达标"]) == (0, "—", "—")


def test_approved_only_without_any_approval_shows_no_false_zero(
    runtime: Runtime, history: None, run_cli: Any, tmp_path: Path
) -> None:
    """No township approved: "未达标村 0 个" claimed a count nothing supports."""
    out = tmp_path / "r.xlsx"
    text = run_cli("report", "--year", "2021", "--approved-only", "-o", str(out)).stdout
    assert "未达标村 —（无已审核的村）" in text
    assert "未达标村 0 个" not in text and "低于目标的村 0 个" not in text
    result = run_cli("report", "--year", "2021", "--approved-only", "-o", str(out), "--json")
    data = json.loads(result.stdout)
    assert (data["failing_villages"], data["below_target_villages"]) == (None, None)
    wb = openpyxl.load_workbook(out)
    failing = [str(c.value) for row in wb["未达标清单"].iter_rows() for c in row if c.value]
    assert any("—（无已审核的村）" in v for v in failing), failing
    assert not any("共 0 个村未达到" in v or "均已达到 100%" in v for v in failing), failing
    overview = [str(c.value) for row in wb["总体情况"].iter_rows() for c in row if c.value]
    assert not any("未达标的 0 个村" in v for v in overview), overview
    assert check_sheets(wb) == []


def test_cli_json_agrees_with_the_approved_only_sheets(
    runtime: Runtime, history: None, run_cli: Any, tmp_path: Path
) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    out = tmp_path / "r.xlsx"
    result = run_cli("report", "--year", "2021", "--approved-only", "-o", str(out), "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["draft"], data["approved_only"]) == (True, True)
    assert data["total_label"] == "合计（仅含已审核乡镇（1/2））"
    assert (data["required"], data["meets"]) == (17, None)
    overview = read_table(openpyxl.load_workbook(out)["总体情况"], "区域类别")
    assert [(c["name"], c["required"], c["meets"]) for c in data["categories"]] == [
        (
            line["区域类别"],
            line["户数|应改造"],
            {"达标": True, "未达标": False, "—": None}[line["是否达标"]],
        )
        for line in overview
    ]
    rural = next(c for c in data["categories"] if c["key"] == "rural")
    assert rural["meets"] is None
    states = {t["township"]: t["state"] for t in data["signoff"]["townships"]}
    assert states == {BOB_TOWN: "approved", CAROL_TOWN: "unsubmitted"}
    text = run_cli("report", "--year", "2021", "-o", str(out)).stdout
    assert "已审核 1/2 个乡镇，本报告为草稿（未全部审核）" in text


def test_picture_draws_withheld_villages_as_no_data(runtime: Runtime, history: None) -> None:
    from heating.report.picture import coverage_map_png, village_classes
    from heating.report.snapshot import take_snapshot

    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    codes = [NANJIE, DONGJIE, SHANGCUN, XIACUN]
    with runtime.session() as s:
        full = take_snapshot(s, runtime.config, 2021)
        only = take_snapshot(s, runtime.config, 2021, approved_only=True)
        assert coverage_map_png(s, only) is not None
    assert {v.row.key for v in only.villages if v.withheld} == {SHANGCUN, XIACUN}
    before, after = village_classes(full, codes), village_classes(only, codes)
    assert before[:2] == after[:2]
    assert before[2] != "no_data" and after[2:] == ["no_data", "no_data"]


def test_web_download_takes_approved_only(login: Any, runtime: Runtime, history: None) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    client = login("erin")
    page = client.get("/reports").get_data(as_text=True)
    assert 'name="approved_only"' in page

    def shangcun(query: str) -> Any:
        resp = client.get(f"/reports/download?year=2021{query}")
        assert resp.status_code == 200, resp.get_data(as_text=True)
        wb = openpyxl.load_workbook(io.BytesIO(resp.data), read_only=True)
        villages = {line["村代码"]: line for line in read_table(wb["分村"], "村代码")}
        return villages[SHANGCUN]["户数|应改造"]

    for query in ("&approved_only=1", "&approved_only=true", "&approved_only=on"):
        assert shangcun(query) == "—", query
    for query in ("", "&approved_only=0", "&approved_only="):
        assert shangcun(query) == 20, query
    resp = client.get("/reports/download?year=2021&approved_only=maybe")
    assert resp.status_code == 400 and "approved_only" in resp.get_data(as_text=True)


def test_download_name_says_draft_and_approved_only(
    login: Any, runtime: Runtime, history: None
) -> None:
    """A draft saved to disk looked like the final report: only its sheets said 草稿."""
    from urllib.parse import unquote

    client = login("erin")

    def name(query: str = "") -> str:
        resp = client.get(f"/reports/download?year=2021{query}")
        assert resp.status_code == 200
        return unquote(resp.headers["Content-Disposition"].split("filename*=UTF-8''")[1])

    assert name().endswith("（草稿）.xlsx")
    assert name("&approved_only=1").endswith("（草稿·仅含已审核乡镇）.xlsx")
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    sign_off(runtime, CAROL_TOWN, PERIOD, *APPROVE_CAROL)
    final = name()
    assert "草稿" not in final and final.endswith("（截至20211031）.xlsx")


# --------------------------------------------------------------------------
# What changed since the approval
# --------------------------------------------------------------------------


def test_cover_lists_what_changed_since_the_approval(
    runtime: Runtime, history: None, run_cli: Any, tmp_path: Path
) -> None:
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)
    sign_off(runtime, CAROL_TOWN, PERIOD, *APPROVE_CAROL)
    with runtime.session() as s:
        south = s.scalar(select(Village).where(Village.code == NANJIE))
        south.total_households = 12
        east = s.scalar(select(Village).where(Village.code == DONGJIE))
        east.category = "rural"
    register = tmp_path / "热源名单.xlsx"
    register.write_bytes(register_xlsx(REGISTER[:1]))
    assert run_cli("heat-sources", "load", str(register)).exit_code == 0
    wb = make(runtime)
    changes = cover(wb)["审核后的变化"]
    bob_line = next(line for line in changes.split("\n") if line.startswith("麟绛街道"))
    assert "南街村委会 10 → 12" in bob_line
    label = runtime.config.profile.label
    assert f"东街村委会 {label('fringe')} → {label('rural')}" in bob_line
    assert "户数与审核时不同" in bob_line  # the registry total moved required
    assert "屯留热电厂" in bob_line  # the heat-source register
    carol_line = next(line for line in changes.split("\n") if line.startswith("上村镇"))
    assert "村庄名录" not in carol_line and "屯留热电厂" in carol_line
    assert "须由管理员撤回审核" in changes and "用电用气" not in changes
    # The report is approved (not a draft) but says what moved under it.
    assert "草稿" not in str(wb["封面与说明"]["A1"].value)


def test_a_change_just_before_the_approval_in_the_same_second_is_not_after_it(
    runtime: Runtime, history: None, run_cli: Any, tmp_path: Path
) -> None:
    """The approval time was cut to the second: a register loaded at 10:00:05.3 and
    approved at 10:00:05.8 read as "changed after the approval" (approved at 10:00:05)."""
    from heating.models import HeatSourceVersion

    register = tmp_path / "热源名单.xlsx"
    register.write_bytes(register_xlsx(REGISTER[:1]))
    assert run_cli("heat-sources", "load", str(register)).exit_code == 0
    with runtime.session() as s:
        loaded = s.scalar(select(func.max(HeatSourceVersion.recorded_at)))
        if loaded.microsecond == 999_999:  # keep the approval after it, in its second
            s.execute(update(HeatSourceVersion).values(recorded_at=loaded.replace(microsecond=0)))
            loaded = loaded.replace(microsecond=0)
        later_in_that_second = loaded.replace(microsecond=999_999)
        for action, name in APPROVE_BOB:
            user = s.scalar(select(User).where(User.username == name))
            signoff.transition(
                s, runtime.config, action, BOB_TOWN, PERIOD, user,
                confirm=True, now=later_in_that_second,
            )  # fmt: skip
    changes = cover(make(runtime))["审核后的变化"]
    bob_lines = [line for line in changes.split("\n") if line.startswith("麟绛街道")]
    assert not any("屯留热电厂" in line for line in bob_lines), changes


def test_usage_loaded_after_the_approval_is_listed_when_dated_by_the_cut_off(
    runtime: Runtime, history: None, run_cli: Any, tmp_path: Path, tiny_district: dict[str, int]
) -> None:
    with runtime.session() as s:
        write_household(s, tiny_district[NANJIE], "P1", "completed", route="electric",
                        power_account="0012345", recorded_at=datetime(2021, 5, 1, 9))  # fmt: skip
    sign_off(runtime, BOB_TOWN, PERIOD, *APPROVE_BOB)

    def load(name: str, month: str) -> None:
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.append(["户号", "户名", "月份", "用电量（kWh）"])
        ws.append(["12345", "张三", month, 310.5])  # the utility dropped the zeros
        wb.save(tmp_path / name)
        result = run_cli("usage", "import", str(tmp_path / name), "--kind", "electric", "--commit")
        assert result.exit_code == 0, result.stderr

    load("after.xlsx", "2021-12")  # after the cut-off: not under the approval
    assert "均无变化" in cover(make(runtime))["审核后的变化"]
    load("before.xlsx", "2021-09")
    changes = cover(make(runtime))["审核后的变化"]
    assert changes.startswith("麟绛街道（rita ")
    assert (
        "用电用气数据：审核后有 1 条截止日以前的记录随批次 " in changes and "写入或撤销" in changes
    )
