"""Coal subsidies where clean heating is complete: listed as coal_subsidy_in_zone."""

from __future__ import annotations

import json
from decimal import Decimal

from tests.support import DONGJIE, NANJIE, SHANGCUN, add_zone, write_household


def test_coal_subsidy_in_a_complete_village_or_a_zone_is_listed(run_cli, runtime, tiny_district):
    with runtime.session() as session:
        # 南街: 10 registered, all 10 clean → complete; one still gets a coal subsidy.
        for i in range(10):
            subsidy = Decimal(300) if i == 0 else None
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                "completed",
                route="electric",
                coal_subsidy=subsidy,
            )
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
    import io

    import openpyxl

    from heating import clock
    from heating.models import utcnow
    from heating.report import build_report
    from tests.support import read_table

    with runtime.session() as session:
        for i in range(10):
            subsidy = Decimal(300) if i == 0 else None
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                "completed",
                route="electric",
                coal_subsidy=subsidy,
            )
    today = clock.today()
    with runtime.session() as session:
        built = build_report(
            session, runtime.config, today.year, as_of=today, known_at=utcnow(), picture=False
        )
    ws = openpyxl.load_workbook(io.BytesIO(built.content))["补贴"]
    [row] = read_table(ws, "村代码")
    assert row["户号"] == "N0" and row["位置"] == "完成村" and row["洁净煤补贴（元）"] == 300
