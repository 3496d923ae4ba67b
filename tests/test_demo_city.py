"""heating demo --city, small: the generated districts of 长治市 beside the tiny district.

The full city (about 3,000 villages, 600,000 households) is never loaded in
tests; ``load_city`` takes smaller sizes and the same code writes them.
"""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from heating.demo.city import GENERATED_MARK, counties, load_city
from heating.measures import coverage
from heating.models import District, Household, Township, Village
from heating.profile import DEFAULT_PROFILE
from tests.support.users import PASSWORD
from tests.support.web import log_in


def _small_city(runtime) -> None:
    with runtime.session() as s:
        city = load_city(
            s,
            password=PASSWORD,
            districts=2,
            villages_per_district=50,
            households_per_village=(4, 8),
        )
    assert not city.already_loaded
    assert (city.districts, city.villages) == (3, 4 + 100)


def test_counties_are_changzhi_real_names_without_the_demo_district() -> None:
    found = {c.code: c.name for c in counties()}
    assert found["140403"] == "潞州区" and found["140431"] == "沁源县"
    assert "140405" not in found and len(found) == 11


def test_small_city_is_generated_marked_and_loads_once(runtime, tiny_district, users) -> None:
    _small_city(runtime)
    with runtime.session() as s:
        generated = s.execute(
            select(Township.name, Village.name, Village.boundary_generated, Village.geometry)
            .join(Township, Village.township_id == Township.id)
            .where(Village.code.startswith("140403"))
        ).all()
        assert len(generated) == 50
        assert all(
            GENERATED_MARK in t and GENERATED_MARK in v and g and w for t, v, g, w in generated
        )
        assert s.scalar(select(District.name).where(District.code == "140404")) == "上党区"
        households = s.scalar(select(func.count()).select_from(Household))
        assert 400 <= households <= 800
        again = load_city(s, password=PASSWORD, districts=2, villages_per_district=50)
        assert again.already_loaded and again.households == households
        # the history replays: now equals as of the last ledger, earlier years hold fewer clean
        now = coverage(s, DEFAULT_PROFILE, "district", district_code="140403")[0]
        last = coverage(
            s, DEFAULT_PROFILE, "district", district_code="140403", as_of=date(2021, 12, 31)
        )[0]
        early = coverage(
            s, DEFAULT_PROFILE, "district", district_code="140403", as_of=date(2017, 10, 31)
        )[0]
        assert (now.required, now.clean) == (last.required, last.clean)
        assert early.clean < now.clean and now.required > 0


def test_small_city_ranks_and_its_district_users_are_held_to_their_district(
    runtime, tiny_district, users, run_cli, client
) -> None:
    _small_city(runtime)
    data = json.loads(run_cli("city", "--json").stdout)
    assert sorted(d["district"] for d in data["districts"]) == ["140403", "140404", "140405"]
    assert [d["rank"] for d in data["districts"]] == [1, 2, 3]
    assert log_in(client, "planner_luzhou", PASSWORD).status_code == 302
    rows = client.get("/api/coverage?by=township").get_json()
    assert {r["key"][:6] for r in rows} == {"140403"} and len(rows) == 10
    assert client.get("/api/coverage?district=140405").status_code == 403
