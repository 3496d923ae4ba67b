"""A planner reads /usage in chromium: flags, floor-area coverage and subsidies ending agree with the CLI."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from heating.targets import percent
from tests.support.browser import browser_log_in
from tests.support.districts import DONGJIE, NANJIE
from tests.support.households import write_household

pytestmark = pytest.mark.browser

MONTHS = ["2021-11", "2021-12", "2022-01", "2022-02", "2022-03"]
RULES = """
[[subsidy.rules]]
route = "electric"
year = 2020
device = 2500
operating = 2400
seasons = 2
"""


@pytest.fixture
def rules(tmp_path, monkeypatch):
    """Operating subsidies for 2020's 煤改电 paid two seasons (2020, 2021): ending in 2021."""
    config = tmp_path / "heating.toml"
    config.write_text(RULES, encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    return config


@pytest.fixture
def district(rules, runtime, tiny_district, run_cli, tmp_path):
    """南街: 10 煤改电 households done in 2020 (two nearly idle last winter); 东街: 8 pending."""
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
                heated_area_m2=Decimal(100 + i),
                head_name=f"张{'三四五六七八九十甲乙'[i]}",
                device_subsidy=Decimal(2500 if i else 3000),
            )
        for i in range(8):
            write_household(
                session, tiny_district[DONGJIE], f"B{i}", "pending", heated_area_m2=Decimal(80)
            )
    uses = {f"{i}": 2000.0 for i in range(8)} | {"8": 0.0, "9": 150.0}
    lines = ["用电户号,月份,用电量(kWh)"]
    for account, total in uses.items():
        lines += [f"{account},{m},{total / 5}" for m in MONTHS]
    path = tmp_path / "用电量.csv"
    path.write_text("\n".join(lines), encoding="utf-8")
    result = run_cli("usage", "import", str(path), "--kind", "electric", "--commit")
    assert result.exit_code == 0, result.stderr


def _cells(pg, selector: str) -> list[list[str]]:
    return pg.eval_on_selector_all(
        f"{selector} tbody tr",
        "rows => rows.map(r => Array.from(r.cells).map(c => c.innerText.trim()))",
    )


def test_planner_reads_flags_area_coverage_and_subsidies_ending_as_the_cli_says(
    district, run_cli, page, live_server
) -> None:
    pg, base = page.page, live_server
    # Without --season the commands take the season the page defaults to.
    flags = json.loads(run_cli("usage", "flags", "--json").stdout)
    plan = json.loads(run_cli("subsidy", "schedule", "--json").stdout)
    assert flags["season"] == plan["season"] == "2021"
    towns = {
        r["key"]: r for r in json.loads(run_cli("coverage", "--by", "township", "--json").stdout)
    }
    [whole] = json.loads(run_cli("coverage", "--by", "district", "--json").stdout)
    assert flags["flagged"] == 2 and plan["ending_households"] == 10  # the story holds

    browser_log_in(pg, base, "dave")
    pg.click("nav a:has-text('用量核验')")
    assert "2021 采暖季疑似改而不用" in pg.inner_text("#flags-title")  # the default season
    assert pg.inner_text("#flagged-count") == str(flags["flagged"])

    shown = _cells(pg, "#flagged-households")
    expected = [
        [
            h["village"],
            h["household_no"],
            h["head_name"],
            f"{h['use']:,.1f} kWh",
            percent(h["ratio"]),
        ]
        for h in flags["households"]
    ]
    assert [[r[0], r[1], r[2], r[4], r[6]] for r in shown] == expected
    assert {r[2] for r in shown} == {"张*"}  # masked for a planner

    town = pg.locator("#area-140405001")
    assert town.locator(".area-coverage").inner_text() == percent(
        towns["140405001"]["area_coverage"]
    )
    assert towns["140405001"]["area_coverage"] == pytest.approx(1045 / 1685)
    assert pg.locator(f"#area-{whole['key']} .area-coverage").inner_text() == percent(
        whole["area_coverage"]
    )
    assert pg.locator("#area-140405101 .area-coverage").inner_text() == "—"  # no area known

    assert pg.inner_text("#ending-count") == str(plan["ending_households"])
    ending = _cells(pg, "#ending-households")
    assert [[r[0], r[1], r[2]] for r in ending] == [
        [h["village"], h["household_no"], h["head_name"]] for h in plan["ending"]
    ]
    cards = pg.inner_text("#subsidy-cards")
    assert f"{plan['due_total']:,.0f}" in cards
    assert page.blocked == [] and page.console_errors == []
