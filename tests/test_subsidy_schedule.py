"""The subsidy schedule from configured rules: 长治's 2018–2020 煤改电 scheme, season by season."""

from __future__ import annotations

import json
from datetime import date

import pytest

from heating.config import ConfigError, load_config
from heating.subsidy import parse_subsidy
from tests.support.districts import NANJIE, SHANGCUN
from tests.support.households import write_household

CHANGZHI = """
[[subsidy.rules]]
route = "electric"
year = 2018
device = 4500
operating = 2400
seasons = 3

[[subsidy.rules]]
route = "electric"
year = 2019
device = 3500
operating = 2400
seasons = 2

[[subsidy.rules]]
route = "electric"
year = 2020
device = 2500
operating = 2400
seasons = 1
"""


@pytest.fixture
def rules_file(tmp_path, monkeypatch):
    path = tmp_path / "heating.toml"
    path.write_text(CHANGZHI, encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(path))
    return path


@pytest.fixture
def households(runtime, tiny_district):
    v = tiny_district
    with runtime.session() as session:

        def add(village, no, completed_on, device=None, route="electric", **fields):
            write_household(
                session,
                v[village],
                no,
                "completed",
                route=route,
                completed_on=completed_on,
                device_subsidy=device,
                **fields,
            )

        add(NANJIE, "E18A", date(2018, 6, 30), 4500)  # seasons 2018, 2019, 2020
        add(NANJIE, "E18B", date(2019, 1, 15), 3500)  # year 2019 rule, season 2018: 2018, 2019
        add(NANJIE, "E19", date(2019, 11, 20), 3000)  # 2019, 2020; device differs
        add(SHANGCUN, "E20", date(2020, 8, 1))  # between seasons → 2020 only; device blank
        add(SHANGCUN, "E20L", date(2020, 8, 1), 2000, operation="coal_again")  # lapsed
        add(SHANGCUN, "G21", date(2021, 6, 1), 3000, route="gas")  # no rule
        write_household(session, v[NANJIE], "P1", "planned", route="electric")
    return v


def schedule(run_cli, season: int, *args: str) -> dict:
    result = run_cli("subsidy", "schedule", "--season", str(season), *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_each_completion_year_of_the_example_is_due_for_its_seasons(
    run_cli, rules_file, households
):
    s2018 = schedule(run_cli, 2018)
    assert (s2018["due_households"], s2018["due_total"], s2018["ending_households"]) == (
        2,
        4800.0,
        0,
    )
    s2019 = schedule(run_cli, 2019)
    assert (s2019["due_households"], s2019["ending_households"]) == (3, 1)
    assert [h["household_no"] for h in s2019["ending"]] == ["E18B"]
    s2020 = schedule(run_cli, 2020)
    for key in (
        "season",
        "due_households",
        "due_total",
        "ending_households",
        "mismatched_device",
        "device_missing",
        "no_rule",
        "by_township",
    ):
        assert key in s2020
    assert s2020["season"] == "2020"
    assert (s2020["due_households"], s2020["due_total"]) == (3, 7200.0)
    assert {h["household_no"] for h in s2020["ending"]} == {"E18A", "E19", "E20"}
    # Device subsidies: E19 (3000 ≠ 3500) and the lapsed E20L (2000 ≠ 2500) differ; E20 is blank.
    assert (s2020["mismatched_device"], s2020["device_missing"], s2020["no_rule"]) == (2, 1, 1)
    towns = {t["township"]: t for t in s2020["by_township"]}
    assert set(towns["140405001"]) >= {
        "township",
        "name",
        "due_households",
        "due_total",
        "ending_households",
        "mismatched_device",
    }
    assert (towns["140405001"]["due_households"], towns["140405101"]["due_households"]) == (2, 1)
    assert schedule(run_cli, 2021)["due_households"] == 0
    only = schedule(run_cli, 2020, "--township", "140405101")
    assert only["due_households"] == 1 and only["no_rule"] == 1


def test_without_rules_the_command_says_so_and_exits_1(run_cli, households):
    result = run_cli("subsidy", "schedule", "--season", "2021")
    assert result.exit_code == 1
    assert "没有配置补贴规则" in result.stderr and "README" in result.stderr


def test_bad_rules_are_refused_naming_the_rule():
    with pytest.raises(ConfigError, match="第 2 条补贴规则"):
        parse_subsidy(
            {"rules": [{"route": "electric", "year": 2018}, {"route": "coal", "year": 2019}]}
        )
    with pytest.raises(ConfigError, match="重复"):
        parse_subsidy({"rules": [{"route": "gas", "year": 2018}] * 2})


def test_rules_are_read_from_the_configuration_file(rules_file):
    rules = load_config(environ={"HEATING_CONFIG": str(rules_file)}).subsidy
    assert [(r.year, int(r.device), r.seasons) for r in rules] == [
        (2018, 4500, 3),
        (2019, 3500, 2),
        (2020, 2500, 1),
    ]
