"""heating.session_memo.remember_reads: a read-only request computes each set of facts once.

Found by benchmarks/load.py: the dashboard asked for the district's facts three
times (compliance, categories, townships), each time judging every household's
usage again.  A GET request's session now remembers them; any write, commit or
rollback in that session forgets them.
"""

from __future__ import annotations

import re

from sqlalchemy import text, update

from heating import data_version
from heating.models import Household
from heating.session_memo import remember_reads
from heating.usage import household_states
from heating.village_facts import village_facts
from tests.support.districts import NANJIE
from tests.support.households import add_many


def counts(session, code: str = NANJIE) -> tuple[int, int]:
    fact = next(f for f in village_facts(session) if f.code == code)
    return fact.ledger_rows, fact.clean


def test_remembered_until_the_session_writes(runtime, standard) -> None:
    with runtime.session() as s:
        remember_reads(s)
        first = village_facts(s)
        again = village_facts(s)
        assert again == first and all(a is b for a, b in zip(again, first, strict=True))
        assert village_facts(s, township_code="140405001") != first  # other arguments: computed
        assert counts(s) == (10, 9)
        add_many(s, standard[NANJIE], 2, "completed")  # an ORM flush forgets
        assert counts(s) == (12, 11)
        s.execute(
            update(Household).where(Household.village_id == standard[NANJIE]).values(active=False)
        )
        assert counts(s) == (0, 0)  # a Core write through the session forgets
        s.rollback()
        assert counts(s) == (10, 9)


def test_a_session_without_it_takes_the_facts_kept_until_the_data_change(runtime, standard) -> None:
    # heating.evidence_cache: kept per process, validated by the data version on each read.
    with runtime.session() as s:
        assert village_facts(s)[0] is village_facts(s)[0]
        assert counts(s) == (10, 9)
        add_many(s, standard[NANJIE], 2, "completed")
        assert counts(s) == (12, 11)  # its own write: computed, not kept
        s.commit()
    with runtime.session() as s:
        assert counts(s) == (12, 11)


def without_csrf(page: str) -> str:
    """The page without its CSRF tokens: they carry the second they were signed in."""
    return re.sub(r'(name="csrf[-_]token" (?:content|value)=)"[^"]*"', r"\1", page)


def test_the_dashboard_shows_the_same_figures(login, standard) -> None:
    client = login("dave")
    first = without_csrf(client.get("/").get_data(as_text=True))
    assert without_csrf(client.get("/").get_data(as_text=True)) == first
    api = client.get("/api/coverage?by=township").get_json()
    assert sum(r["clean"] for r in api) == 38


def test_facts_without_evidence_are_remembered_apart(runtime, standard) -> None:
    """Zone derivations ask for counts only; a page asking next still gets the evidence."""
    with runtime.session() as s:
        add_many(s, standard[NANJIE], 2, "completed", heated_area_m2=90)
        s.commit()
        remember_reads(s)
        light = next(f for f in village_facts(s, evidence=False) if f.code == NANJIE)
        full = next(f for f in village_facts(s) if f.code == NANJIE)
        assert (light.clean, light.area_known) == (full.clean, 0)
        assert full.area_known == 2 and full.area_clean_m2 == 180
        assert next(f for f in village_facts(s, evidence=False) if f.code == NANJIE) is light


def test_household_states_are_remembered_until_the_session_writes(runtime, standard) -> None:
    """A report reads its district's states twice (use evidence, coal subsidies): once."""
    with runtime.session() as s:
        remember_reads(s)
        first = household_states(s, district_codes={"140405"})
        data_version.current(s)  # a textual read (every kept figure makes one): remembered
        again = household_states(s, district_codes=("140405",))
        assert all(a is b for a, b in zip(again, first, strict=True)) and len(first) > 0
        s.execute(text("UPDATE households SET status = status WHERE id = -1"))  # a textual write
        assert household_states(s, district_codes={"140405"})[0] is not first[0]
        add_many(s, standard[NANJIE], 2, "completed")  # an ORM flush forgets
        assert len(household_states(s, district_codes={"140405"})) == len(first) + 2
