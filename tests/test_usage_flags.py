"""Season use and the 疑似改而不用 rule: season bounds, proration, readings, median with fallback."""

from __future__ import annotations

import json
from datetime import date

import pytest

from heating.config import ConfigError, load_config
from heating.seasons import Season, UsageSettings, parse_usage
from heating.usage import reading_on, use_from_periods, use_from_readings

S2021 = Season(2021, date(2021, 11, 1), date(2022, 3, 31))


# --------------------------------------------------------------------------
# Seasons and season use (pure)
# --------------------------------------------------------------------------


def test_season_is_named_by_its_starting_year_and_bounds_are_configurable():
    settings = UsageSettings()
    assert settings.season(2021) == S2021
    assert settings.season_of(date(2021, 11, 1)) == 2021
    assert settings.season_of(date(2022, 3, 31)) == 2021
    assert settings.season_of(date(2022, 4, 1)) is None
    assert settings.latest_ended(date(2022, 3, 30)) == 2020
    assert settings.latest_ended(date(2022, 3, 31)) == 2021
    assert settings.seasons_touching(date(2022, 3, 15), date(2022, 4, 14)) == [2021]
    custom = parse_usage({"season_start": "11-15", "season_end": "03-15", "ratio": 0.25})
    assert custom.season(2021) == Season(2021, date(2021, 11, 15), date(2022, 3, 15))
    assert custom.ratio == 0.25 and custom.min_peers == 10
    with pytest.raises(ConfigError, match="season_end"):
        parse_usage({"season_end": "13-01"})
    with pytest.raises(ConfigError, match="未知"):
        parse_usage({"ratios": 0.3})


def test_usage_table_comes_from_the_configuration_file(tmp_path):
    path = tmp_path / "heating.toml"
    path.write_text("[usage]\nratio = 0.4\nmin_peers = 5\nmin_kwh_per_m2 = 10\n", encoding="utf-8")
    settings = load_config(environ={"HEATING_CONFIG": str(path)}).usage
    assert (settings.ratio, settings.min_peers, settings.min_kwh_per_m2) == (0.4, 5, 10.0)
    assert load_config(environ={}).usage == UsageSettings()


def test_periods_straddling_the_season_bounds_are_prorated_by_days():
    periods = [
        (date(2021, 10, 16), date(2021, 11, 15), 310.0),  # 15 of 31 days inside
        (date(2021, 11, 16), date(2022, 3, 15), 1000.0),
        (date(2022, 3, 16), date(2022, 4, 15), 310.0),  # 16 of 31 days inside
    ]
    assert use_from_periods(periods, S2021) == pytest.approx(150 + 1000 + 160)


def test_periods_covering_less_than_80_percent_of_the_season_are_no_data():
    months = [
        (date(2021, 11, 1), date(2021, 11, 30), 100.0),
        (date(2021, 12, 1), date(2021, 12, 31), 100.0),
    ]
    assert use_from_periods(months, S2021) is None
    four = [
        *months,
        (date(2022, 1, 1), date(2022, 1, 31), 1),
        (date(2022, 2, 1), date(2022, 2, 28), 1),
    ]
    assert use_from_periods(four, S2021) is None  # 120 of 151 days: 79.5%
    four[-1] = (date(2022, 2, 1), date(2022, 3, 2), 1)  # 122 days: 80.8%
    assert use_from_periods(four, S2021) == pytest.approx(202)


def test_readings_are_taken_on_the_day_or_interpolated_within_31_days():
    readings = [
        (date(2021, 10, 22), 1000.0),
        (date(2021, 11, 11), 1100.0),
        (date(2022, 3, 31), 3000.0),
    ]
    assert reading_on(readings, date(2021, 11, 1)) == pytest.approx(1050)
    assert reading_on(readings, date(2022, 3, 31)) == 3000
    assert use_from_readings(readings, S2021) == pytest.approx(1950)
    far = [(date(2021, 9, 1), 1000.0), (date(2021, 12, 1), 1500.0), (date(2022, 3, 31), 3000.0)]
    assert reading_on(far, date(2021, 11, 1)) is None  # the reading before is 61 days away
    assert use_from_readings(far, S2021) is None


# --------------------------------------------------------------------------
# The rule over a district (files usage_imported through the CLI)
# --------------------------------------------------------------------------


def flags(run_cli, *args: str) -> dict:
    result = run_cli("usage", "flags", "--season", "2021", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_median_rule_with_township_fallback_zero_use_and_no_data(run_cli, usage_imported):
    out = flags(run_cli)
    for key in ("season", "checked", "flagged", "no_data", "by_township", "households"):
        assert key in out
    assert out["season"] == "2021"
    # Judged: 12 + NOACC + SHORT in 麟绛街道 (LATE is not), 3 in 上村镇.
    assert (out["checked"], out["no_data"]) == (15, 2)
    flagged = {h["household_no"]: h for h in out["households"]}
    # 麟绛街道's own 12 (zero and low included): median (1030 + 1040) / 2.
    assert set(flagged) == {"LOW", "ZERO", "B1", "B2", "B3"}
    assert flagged["LOW"]["median"] == pytest.approx(1035)
    assert flagged["LOW"]["ratio"] == pytest.approx(200 / 1035, abs=1e-3)
    # 上村镇 has 3 households: the district's median (the 8th of 15: 1020) judges them.
    assert flagged["B1"]["median"] == pytest.approx(1020)
    assert flagged["ZERO"]["use"] == 0 and flagged["ZERO"]["lapsed"] is True
    assert flagged["LOW"]["head_name"] == "户*" + "*" * (len("户主LOW") - 2)
    towns = {t["township"]: t for t in out["by_township"]}
    assert towns["140405001"] | {"name": None} == {
        "township": "140405001",
        "name": None,
        "checked": 12,
        "flagged": 2,
        "no_data": 2,
    }
    assert towns["140405101"]["flagged"] == 3
    only = flags(run_cli, "--township", "140405101")
    assert only["checked"] == 3 and {h["household_no"] for h in only["households"]} == {
        "B1",
        "B2",
        "B3",
    }


def test_township_median_is_used_when_it_has_enough_peers(
    run_cli, usage_imported, tmp_path, monkeypatch
):
    config = tmp_path / "heating.toml"
    config.write_text("[usage]\nmin_peers = 3\n", encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    out = flags(run_cli)
    # 上村镇's own median (260) now judges it: none of 250/260/270 is below 78.
    assert {h["household_no"] for h in out["households"]} == {"LOW", "ZERO"}


def test_without_enough_peers_anywhere_only_zero_use_is_flagged(
    run_cli, usage_imported, tmp_path, monkeypatch
):
    config = tmp_path / "heating.toml"
    config.write_text("[usage]\nmin_peers = 100\n", encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    out = flags(run_cli)
    [zero] = out["households"]
    assert zero["household_no"] == "ZERO" and zero["median"] is None and zero["ratio"] is None


def test_per_area_floor_also_flags(run_cli, runtime, usage_imported, tmp_path, monkeypatch):
    config = tmp_path / "heating.toml"
    config.write_text("[usage]\nmin_kwh_per_m2 = 20\n", encoding="utf-8")
    monkeypatch.setenv("HEATING_CONFIG", str(config))
    from sqlalchemy import update

    from heating.models import Household

    with runtime.session() as session:
        session.execute(
            update(Household).where(Household.household_no == "A1").values(heated_area_m2=100)
        )
    out = flags(run_cli)  # A1 used 1010 kWh on 100 m²: 10.1 kWh/m² < 20
    assert "A1" in {h["household_no"] for h in out["households"]}


def test_coverage_json_gains_the_usage_keys_and_verified_effective_coverage(
    run_cli, usage_imported
):
    result = run_cli("coverage", "--by", "township", "--as-of", "2022-04-30", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    town = rows["140405001"]
    assert town["usage_season"] == "2021"
    assert (town["usage_checked"], town["usage_flagged"]) == (12, 2)
    # 18 registry households, 15 clean (14 + LATE), ZERO lapsed, LOW flagged and not lapsed.
    assert town["required"] == 18 and town["clean"] == 15
    assert town["verified_effective_coverage"] == pytest.approx((15 - 1 - 1) / 18)
    before = json.loads(
        run_cli("coverage", "--by", "township", "--as-of", "2022-03-30", "--json").stdout
    )
    assert {r["key"]: r["usage_season"] for r in before}["140405001"] == "2020"
    assert all(r["verified_effective_coverage"] is None for r in before)  # nothing checked in 2020
