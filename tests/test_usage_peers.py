"""heating.usage.flag_against_peers: the peers' median by the rule, at a district's scale.

The load test (benchmarks/load.py) found every dashboard and coverage API call
spending seconds of CPU here: the median was taken again for every judged
household, sorting its whole peer group each time.  These tests pin the rule
(township's peers, the district's when the township has too few, none when
the district has too few) and that a large township is judged in linear time.
"""

from __future__ import annotations

import random
import statistics
import time

from heating.seasons import UsageSettings
from heating.usage import HouseholdState, Judgement, flag_against_peers


def judgement(n: int, township: str, use: float | None, route: str = "electric") -> Judgement:
    state = HouseholdState(
        id=n,
        village_id=1,
        village_code=f"{township}001",
        township_code=township,
        township_name=township,
        district_code=township[:6],
        fields={"status": "completed", "route": route, "heated_area_m2": None},
    )
    return Judgement(state, route, use)


def test_township_peers_then_the_district_then_none() -> None:
    settings = UsageSettings(ratio=0.3, min_peers=3)
    big = [judgement(i, "140405001", use) for i, use in enumerate([100.0, 120.0, 80.0, 20.0])]
    small = [judgement(10, "140405002", 20.0), judgement(11, "140405002", None)]
    gas = [judgement(20, "140405001", 0.0, "gas")]
    out = {j.household.id: j for j in flag_against_peers(big + small + gas, settings)}
    assert out[0].median == 90.0 and not out[0].flagged
    assert out[3].median == 90.0 and out[3].flagged  # 20 < 0.3 × 90
    # 140405002 has one peer: the district's five uses decide.
    assert out[10].median == statistics.median([100.0, 120.0, 80.0, 20.0, 20.0])
    assert out[10].flagged
    assert out[11].use is None and out[11].median is None and not out[11].flagged
    # One gas household in the whole district: no median, only zero use is flagged.
    assert out[20].median is None and out[20].flagged


def test_a_large_township_is_judged_in_linear_time() -> None:
    rng = random.Random(17)
    uses = [rng.uniform(0, 5000) for _ in range(40_000)]
    first = [judgement(i, "140405001", use) for i, use in enumerate(uses)]
    settings = UsageSettings()
    start = time.process_time()
    out = flag_against_peers(first, settings)
    spent = time.process_time() - start
    median = statistics.median(uses)
    assert all(j.median == median for j in out)
    assert [j.flagged for j in out] == [u <= 0 or u < settings.ratio * median for u in uses]
    # The median per household took ≈ 40,000 sorts of 40,000 values (minutes); once per group, ms.
    assert spent < 2.0, spent
