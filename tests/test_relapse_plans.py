"""Villages and townships needing a 系统化解决方案: lapsed or flagged share above relapse_share."""

from __future__ import annotations

import json

from tests.support import DONGJIE, NANJIE, SHANGCUN, write_household


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
