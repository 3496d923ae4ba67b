"""Coal subsidies where clean heating is complete: listed as coal_subsidy_in_zone."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import openpyxl

from heating import clock
from heating.models import utcnow
from heating.report import build_report
from tests.support.districts import DONGJIE, NANJIE, SHANGCUN
from tests.support.households import write_household
from tests.support.report import read_table
from tests.support.web import upload
from tests.support.zones import add_zone


def complete_nanjie(session, tiny_district, coal_subsidy_of_n0: Decimal | None = None) -> None:
    """南街: all 10 registered households clean (a complete village); N0 may get a coal subsidy."""
    for i in range(10):
        write_household(
            session,
            tiny_district[NANJIE],
            f"N{i}",
            "completed",
            route="electric",
            coal_subsidy=coal_subsidy_of_n0 if i == 0 else None,
        )


def test_coal_subsidy_in_a_complete_village_or_a_zone_is_listed(run_cli, runtime, tiny_district):
    with runtime.session() as session:
        complete_nanjie(session, tiny_district, coal_subsidy_of_n0=Decimal(300))
        # 东街: incomplete, but inside the current zone.
        write_household(session, tiny_district[DONGJIE], "D1", "pending", coal_subsidy=Decimal(200))
        # 上村: incomplete, outside any zone: a coal subsidy there is allowed.
        write_household(
            session, tiny_district[SHANGCUN], "S1", "pending", coal_subsidy=Decimal(200)
        )
    add_zone(runtime, [DONGJIE], [])
    result = run_cli("usage", "coal-subsidy", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["code"] == "coal_subsidy_in_zone"
    listed = {h["household_no"]: h["where"] for h in out["list"]}
    assert listed == {"N0": "完成村", "D1": "禁煤区内"}
    text = run_cli("usage", "coal-subsidy").stdout
    assert "不得再补贴使用煤炭" in text and "户*" in text


def test_the_report_lists_them_under_subsidies(runtime, tiny_district):
    with runtime.session() as session:
        complete_nanjie(session, tiny_district, coal_subsidy_of_n0=Decimal(300))
    today = clock.today()
    with runtime.session() as session:
        built = build_report(
            session, runtime.config, today.year, as_of=today, known_at=utcnow(), picture=False
        )
    ws = openpyxl.load_workbook(io.BytesIO(built.content))["补贴"]
    [row] = read_table(ws, "村代码")
    assert row["户号"] == "N0" and row["位置"] == "完成村" and row["洁净煤补贴（元）"] == 300


def _ledger(path, rows: list[list]) -> None:
    """A clerk's ledger written by openpyxl: a title row, then the header, 洁净煤补贴 in column F."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "台账"
    ws.append(["麟绛街道清洁取暖台账"])
    ws.append(["村", "户号", "户主姓名", "改造状态", "改造方式", "洁净煤补贴（元）"])
    for row in rows:
        ws.append(row)
    wb.save(path)


def test_the_ledger_preview_warns_of_a_coal_subsidy_in_a_complete_village_or_a_zone(
    run_cli, runtime, tiny_district, tmp_path
):
    with runtime.session() as session:  # 南街 complete: all 10 registered households clean
        complete_nanjie(session, tiny_district)
    path = tmp_path / "麟绛街道台账.xlsx"
    _ledger(
        path,
        [
            ["南街村委会", "N0", "张三丰", "已完工", "煤改电", 300],
            ["南街村委会", "N1", "李四", "已完工", "煤改电", None],
            ["东街村委会", "D1", "王五", "未改造", None, 200],
        ],
    )
    result = run_cli("import", str(path), "--township", "140405001", "--json")
    assert result.exit_code == 0, result.stderr
    warned = [i for i in json.loads(result.stdout)["issues"] if i["code"] == "coal_subsidy_in_zone"]
    assert [(i["severity"], i["sheet"], i["row"], i["column"], i["field"]) for i in warned] == [
        ("warning", "台账", 3, "F", "coal_subsidy")
    ]
    [issue] = warned
    assert issue["household"] == "户号 N0 · 张**" and "张三丰" not in issue["message"]
    assert "南街村委会（140405001201）是完成村" in issue["message"]
    assert "删除该金额后重新上传" in issue["message"] and issue["value"] == "300.00"

    add_zone(runtime, [DONGJIE], [])  # now 东街 is inside the current zone
    result = run_cli("import", str(path), "--township", "140405001", "--commit", "--json")
    assert result.exit_code == 0, result.stderr  # warnings never block a commit
    out = json.loads(result.stdout)
    warned = [i for i in out["issues"] if i["code"] == "coal_subsidy_in_zone"]
    assert [(i["row"], i["household"]) for i in warned] == [
        (3, "户号 N0 · 张**"),
        (5, "户号 D1 · 王*"),
    ]
    assert "禁煤区内" in warned[1]["message"]
    assert out["status"] == "committed"
    listed = json.loads(run_cli("usage", "coal-subsidy", "--json").stdout)["list"]
    assert {h["household_no"]: h["where"] for h in listed} == {"N0": "完成村", "D1": "禁煤区内"}


def test_the_web_preview_shows_the_warning(login, runtime, tiny_district, tmp_path):
    with runtime.session() as session:
        complete_nanjie(session, tiny_district)
    path = tmp_path / "台账.xlsx"
    _ledger(path, [["南街村委会", "N0", "张三丰", "已完工", "煤改电", 300]])
    resp = upload(login("bob"), path.read_bytes(), "麟绛街道台账.xlsx")
    page = resp.get_data(as_text=True)
    assert "不得再补贴使用煤炭" in page and "户号 N0 · 张**" in page
    assert "确认写入" in page  # a warning does not block the commit
    assert "张三丰" not in page
