"""Villages and townships needing a 系统化解决方案: lapsed or flagged share above relapse_share."""

from __future__ import annotations

import json

from tests.support.districts import DONGJIE, NANJIE, SHANGCUN
from tests.support.households import write_household


def test_places_above_the_relapse_share_are_listed(
    run_cli, runtime, tiny_district, tmp_path, monkeypatch
):
    with runtime.session() as session:
        for i in range(10):  # 南街: 2 of 10 lapsed (20%)
            operation = "coal_again" if i < 2 else "normal"
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                "completed",
                route="electric",
                operation=operation,
            )
        for i in range(10):  # 东街: 1 of 10 (10%: not above)
            operation = "abandoned" if i == 0 else None
            write_household(
                session,
                tiny_district[DONGJIE],
                f"D{i}",
                "completed",
                route="gas",
                operation=operation,
            )
        write_household(session, tiny_district[SHANGCUN], "S1", "pending")
    out = json.loads(run_cli("usage", "plans", "--json").stdout)
    assert out["relapse_share"] == 0.1
    assert [v["key"] for v in out["villages"]] == [NANJIE]
    assert out["villages"][0]["share"] == 0.2
    assert [t["key"] for t in out["townships"]] == ["140405001"]  # 3 of 20: 15%
    config = tmp_path / "heating.toml"
    config.write_text("[usage]\nrelapse_share = 0.25\n", encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    assert json.loads(run_cli("usage", "plans", "--json").stdout)["villages"] == []


def test_village_page_says_a_plan_is_needed(login, runtime, tiny_district):
    with runtime.session() as session:
        for i in range(10):
            operation = "coal_again" if i < 3 else "normal"
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                "completed",
                route="electric",
                operation=operation,
            )
    page = login("dave").get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert 'id="needs-plan"' in page and "30.0%" in page
    assert 'id="needs-plan"' not in login("dave").get(f"/villages/{DONGJIE}").get_data(as_text=True)


# --------------------------------------------------------------------------
# Recording the plans (item 7b): web, CLI, audit, village page, report
# --------------------------------------------------------------------------


def _relapsed_nanjie(runtime, tiny_district, lapsed: int = 3) -> None:
    """南街: 10 completed electric households, ``lapsed`` of them back on coal."""
    with runtime.session() as session:
        for i in range(10):
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                "completed",
                route="electric",
                operation="coal_again" if i < lapsed else "normal",
            )


def _plans(runtime) -> list[tuple[str, str, str, str | None]]:
    from sqlalchemy import select

    from heating.models import RelapsePlan

    with runtime.session() as session:
        return [
            (p.place_kind, p.place_code, p.state, p.responsible_unit)
            for p in session.scalars(select(RelapsePlan).order_by(RelapsePlan.id))
        ]


PLAN_FORM = {
    "place": f"village:{NANJIE}",
    "state": "made",
    "text": "整村改为集中供热，<b>补齐</b>运行补贴",
    "unit": "麟绛街道办事处",
    "due": "2030-03-31",
}


def test_reviewer_records_a_plan_on_the_web_and_it_is_audited(login, runtime, tiny_district):
    from sqlalchemy import select

    from heating.models import AuditEntry
    from tests.support.web import post

    _relapsed_nanjie(runtime, tiny_district)
    client = login("rita")
    page = client.get("/usage/plans").get_data(as_text=True)
    assert f'id="plan-village-{NANJIE}"' in page and "未制定" in page and 'id="plan-form"' in page
    resp = post(client, "/usage/plans", PLAN_FORM)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    assert _plans(runtime) == [("village", NANJIE, "made", "麟绛街道办事处")]
    with runtime.session() as session:
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "relapse_plan"))
        assert entry.username == "rita" and entry.target == f"village:{NANJIE}"
        assert entry.detail["state"] == "已制定" and entry.detail["due_on"] == "2030-03-31"
    page = client.get("/usage/plans").get_data(as_text=True)
    row = page.split(f'id="plan-village-{NANJIE}"')[1].split("</tr>")[0]
    assert "已制定" in row and "麟绛街道办事处" in row and "2030-03-31" in row
    assert "&lt;b&gt;补齐&lt;/b&gt;" in row and "已逾期" not in row
    village = client.get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert 'id="relapse-plans"' in village and "麟绛街道办事处" in village
    assert "记录系统化解决方案" in login("alice").get("/admin/audit").get_data(as_text=True)


def test_clerks_and_planners_cannot_record_a_plan(login, runtime, tiny_district):
    from tests.support.web import post

    _relapsed_nanjie(runtime, tiny_district)
    for name in ("bob", "dave", "erin"):
        client = login(name)
        assert post(client, "/usage/plans", PLAN_FORM).status_code == 403, name
        client.post("/logout", data={"csrf_token": ""})
    assert _plans(runtime) == []
    page = login("dave").get("/usage/plans").get_data(as_text=True)
    assert 'id="plan-form"' not in page and f'id="plan-village-{NANJIE}"' in page
    client = login("carol")  # a clerk of 上村镇: its own township's places only
    assert f'id="plan-village-{NANJIE}"' not in client.get("/usage/plans").get_data(as_text=True)


def test_a_plan_without_the_csrf_token_is_refused_and_nothing_stored(login, runtime, tiny_district):
    _relapsed_nanjie(runtime, tiny_district)
    resp = login("alice").post("/usage/plans", data=PLAN_FORM)
    assert resp.status_code == 400
    assert _plans(runtime) == []


def test_a_made_plan_needs_text_unit_and_due_date(login, runtime, tiny_district):
    from tests.support.web import post

    _relapsed_nanjie(runtime, tiny_district)
    resp = post(login("alice"), "/usage/plans", PLAN_FORM | {"unit": "", "due": ""})
    assert resp.status_code == 400
    text = resp.get_data(as_text=True)
    assert "请填写责任单位、完成时限后再保存" in text and "南街" in text
    assert _plans(runtime) == []


def test_cli_records_a_plan_and_the_list_shows_state_unit_due_and_overdue(
    run_cli, runtime, tiny_district
):
    _relapsed_nanjie(runtime, tiny_district)
    out = json.loads(run_cli("usage", "plans", "--json").stdout)
    [village] = out["villages"]
    assert village["plan"]["state"] == "none" and village["plan"]["state_label"] == "未制定"
    refused = run_cli("usage", "plans", "set", "--village", NANJIE, "--state", "已制定")
    assert refused.exit_code == 1 and "请填写方案内容、责任单位、完成时限" in refused.stderr
    refused = run_cli(
        "usage", "plans", "set", "--village", NANJIE, "--state", "已完成", "--user", "bob",
        "--text", "x", "--unit", "y", "--due", "2030-01-01",
    )  # fmt: skip
    assert refused.exit_code == 1 and "只有区级审核和管理员" in refused.stderr
    result = run_cli(
        "usage", "plans", "set", "--village", NANJIE, "--state", "已制定", "--user", "rita",
        "--text", "改为集中供热", "--unit", "麟绛街道办事处", "--due", "2021-03-31",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "已逾期" in result.stdout
    [village] = json.loads(run_cli("usage", "plans", "--json").stdout)["villages"]
    plan = village["plan"]
    assert (plan["state_label"], plan["unit"], plan["due_on"], plan["overdue"], plan["by"]) == (
        "已制定",
        "麟绛街道办事处",
        "2021-03-31",
        True,
        "rita",
    )
    assert (
        "方案：已制定，责任单位 麟绛街道办事处，完成时限 2021-03-31，已逾期"
        in run_cli("usage", "plans").stdout
    )
    done = run_cli(
        "usage", "plans", "set", "--village", NANJIE, "--state", "done",
        "--text", "已改为集中供热", "--unit", "麟绛街道办事处", "--due", "2021-03-31",
    )  # fmt: skip
    assert done.exit_code == 0, done.stderr
    [village] = json.loads(run_cli("usage", "plans", "--json").stdout)["villages"]
    assert village["plan"]["state"] == "done" and village["plan"]["overdue"] is False
    assert len(_plans(runtime)) == 2  # every recording kept
    assert run_cli("usage", "plans", "set", "--state", "已制定").exit_code == 2


def test_the_report_lists_each_place_with_its_plan(runtime, tiny_district):
    import io
    from datetime import date

    import openpyxl

    from heating import clock
    from heating.models import utcnow
    from heating.relapse_plans import record_plan
    from heating.report import build_report
    from tests.support.report import read_table

    _relapsed_nanjie(runtime, tiny_district)
    with runtime.session() as session:
        record_plan(
            session,
            "township",
            "140405001",
            state="made",
            text='=HYPERLINK("x")',
            unit="麟绛街道",
            due_on=date(2021, 1, 1),
        )
    today = clock.today()
    with runtime.session() as session:
        built = build_report(
            session, runtime.config, today.year, as_of=today, known_at=utcnow(), picture=False
        )
    ws = openpyxl.load_workbook(io.BytesIO(built.content))["用量核验"]
    rows = {r["代码"]: r for r in read_table(ws, "类型")}
    town, village = rows["140405001"], rows[NANJIE]
    assert (town["类型"], town["方案状态"], town["责任单位"], town["是否逾期"]) == (
        "乡镇",
        "已制定",
        "麟绛街道",
        "已逾期",
    )
    assert town["完成时限"].date() == date(2021, 1, 1)
    assert town["方案内容"].endswith('HYPERLINK("x")') and not town["方案内容"].startswith("=")
    assert (village["类型"], village["方案状态"], village["责任单位"], village["完成时限"]) == (
        "村",
        "未制定",
        None,
        "—",
    )
    assert village["占已完成户"] == 0.3 and village["散煤复烧/弃用"] == 3
    text = "".join(str(c.value) for line in ws.iter_rows() for c in line if c.value)
    assert "relapse_share" not in text  # a setting's key is no word for the city office
