"""Clean-heating rate by heated floor area: computed only where 90% of the areas are known."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.support.districts import DONGJIE, NANJIE
from tests.support.households import write_household


@pytest.fixture
def areas(runtime, tiny_district):
    """南街 (10 registered): 9 areas known (90%); 东街 (8 registered): 7 known (87.5%)."""
    with runtime.session() as session:
        for i in range(10):
            area = None if i == 9 else Decimal(100 + 10 * i)
            status = "completed" if i < 6 else "pending"
            write_household(
                session,
                tiny_district[NANJIE],
                f"N{i}",
                status,
                route="electric",
                heated_area_m2=area,
            )
        for i in range(8):
            area = None if i == 7 else Decimal(80)
            write_household(
                session,
                tiny_district[DONGJIE],
                f"D{i}",
                "completed",
                route="gas",
                heated_area_m2=area,
            )


def test_area_coverage_is_null_below_90_percent_known(run_cli, areas):
    result = run_cli("coverage", "--by", "village", "--json")
    assert result.exit_code == 0, result.stderr
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    nanjie, dongjie = rows[NANJIE], rows[DONGJIE]
    assert nanjie["area_known_share"] == pytest.approx(0.9)
    assert nanjie["area_required_m2"] == sum(100 + 10 * i for i in range(9))  # 1260
    assert nanjie["area_clean_m2"] == sum(100 + 10 * i for i in range(6))  # 750
    assert nanjie["area_coverage"] == pytest.approx(750 / 1260)
    assert dongjie["area_known_share"] == pytest.approx(7 / 8)
    assert dongjie["area_required_m2"] is None and dongjie["area_coverage"] is None
    # The township sums both villages: 16 of 18 known (88.9%) → null as well.
    town = {
        r["key"]: r for r in json.loads(run_cli("coverage", "--by", "township", "--json").stdout)
    }
    assert town["140405001"]["area_known_share"] == pytest.approx(16 / 18)
    assert town["140405001"]["area_coverage"] is None
    text = run_cli("coverage", "--by", "township").stdout
    assert "按面积清洁取暖率" in text


def test_without_any_evidence_the_keys_are_there_and_empty(run_cli, tiny_district):
    rows = json.loads(run_cli("coverage", "--json").stdout)
    for key in (
        "area_required_m2",
        "area_clean_m2",
        "area_coverage",
        "area_known_share",
        "usage_season",
        "usage_checked",
        "usage_flagged",
        "verified_effective_coverage",
    ):
        assert key in rows[0]
    assert rows[0]["usage_checked"] == 0 and rows[0]["verified_effective_coverage"] is None
