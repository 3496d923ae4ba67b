"""A clerk's commit changes its own district's data version only (heating.data_version).

Kept figures (heating.evidence_cache) are keyed by the versions of the districts
they read.  Under load, clerks commit in one district while planners read all of
them: a ledger commit must leave the other districts' kept figures standing and
still change every figure that reads its district — the whole installation's
included.  Anything beyond a district's households, versions and batches (the
registry, zones, usage, the register) changes the installation's version.
"""

from __future__ import annotations

import io
import time
from datetime import date

import openpyxl
import pytest
from sqlalchemy import func, select, text

from heating import data_version, evidence_cache
from heating.models import ImportBatch
from heating.seasons import counting_usage
from heating.usage_flags import judged_households
from heating.village_facts import village_facts
from tests.support.districts import LUCHENG, add_second_district
from tests.support.ledgers import id_number, ledger_xlsx
from tests.support.report import read_table

TUNLIU = "140405"


def versions(runtime) -> dict[str, str]:
    with runtime.session() as s:
        rows = s.execute(text("SELECT key, value FROM meta WHERE key LIKE 'data_version%'"))
        return dict(rows.all())


def commit_ledger(run_cli, tmp_path, n: int = 1, ledger_date: str | None = None) -> None:
    """A 南街 ledger (麟绛街道, 屯留区) of ``n`` finished households, committed by the CLI."""
    path = tmp_path / "台账.xlsx"
    rows = [
        ["南街村", f"P{i:03d}", "张三", id_number(i), None, "已完工", "煤改电", "2021-06-30"]
        for i in range(1, n + 1)
    ]
    path.write_bytes(ledger_xlsx(rows))
    dated = ["--ledger-date", ledger_date] if ledger_date else []
    result = run_cli("import", str(path), "--township", "140405001", "--commit", *dated)
    assert result.exit_code == 0, result.stderr


def clean_of(facts) -> int:
    return sum(f.clean for f in facts)


def test_a_ledger_commit_changes_only_its_districts_version(
    runtime, users, run_cli, tmp_path
) -> None:
    with runtime.session() as s:
        add_second_district(s)
    before = versions(runtime)
    with runtime.session() as s:
        lucheng = data_version.current(s, [LUCHENG])
        tunliu = data_version.current(s, [TUNLIU])
        everything = data_version.current(s)
    commit_ledger(run_cli, tmp_path)
    after = versions(runtime)
    assert after["data_version"] == before["data_version"]
    assert after[f"data_version:{TUNLIU}"] != before.get(f"data_version:{TUNLIU}")
    with runtime.session() as s:
        assert data_version.current(s, [LUCHENG]) == lucheng
        assert data_version.current(s, [TUNLIU]) != tunliu
        assert data_version.current(s) != everything


def test_other_districts_keep_their_figures_and_the_whole_follows(
    runtime, users, run_cli, tmp_path
) -> None:
    with runtime.session() as s:
        add_second_district(s)
    with runtime.session() as s:
        lucheng = village_facts(s, district_code=LUCHENG)
        judged = judged_households(s, 2021, counting_usage(s), district_code=LUCHENG)
        tunliu = village_facts(s, district_code=TUNLIU)
        whole = village_facts(s)
        assert whole == sorted(lucheng + tunliu, key=lambda f: f.code)  # one, in code order
        misses = evidence_cache.stats(s)["misses"]
        assert misses > 0
        assert village_facts(s, district_code=LUCHENG) == lucheng
        assert evidence_cache.stats(s)["misses"] == misses  # kept

    commit_ledger(run_cli, tmp_path, 3)
    with runtime.session() as s:
        misses = evidence_cache.stats(s)["misses"]
        assert village_facts(s, district_code=LUCHENG) == lucheng
        assert judged_households(s, 2021, counting_usage(s), district_code=LUCHENG) == judged
        assert evidence_cache.stats(s)["misses"] == misses  # still kept: 潞城区 untouched
        assert clean_of(village_facts(s, district_code=TUNLIU)) == clean_of(tunliu) + 3
        assert clean_of(village_facts(s)) == clean_of(whole) + 3
        township = village_facts(s, township_code="140405001")
        assert (
            clean_of(township) == clean_of(f for f in tunliu if f.township_code == "140405001") + 3
        )
        kept_whole = village_facts(s)
        evidence_cache.clear(s)
        assert village_facts(s) == kept_whole  # the kept figures are what a fresh count gives


def test_a_declared_district_widens_to_the_installation_when_other_tables_are_written(
    runtime, users
) -> None:
    with runtime.session() as s:
        add_second_district(s)
    before = versions(runtime)
    with runtime.session() as s:
        data_version.writes_districts(s.connection(), [LUCHENG])
        s.execute(text("UPDATE households SET status = status"))
        s.commit()
    middle = versions(runtime)
    assert middle["data_version"] == before["data_version"]
    assert middle[f"data_version:{LUCHENG}"] != before.get(f"data_version:{LUCHENG}")
    with runtime.session() as s:
        data_version.writes_districts(s.connection(), [LUCHENG])
        s.execute(text("UPDATE households SET status = status"))
        s.execute(text("UPDATE villages SET name = name"))  # the registry: every district reads it
        s.commit()
    after = versions(runtime)
    assert after["data_version"] != middle["data_version"]
    with runtime.session() as s:
        s.execute(text("UPDATE households SET status = status"))  # no districts declared
        s.commit()
    assert versions(runtime)["data_version"] != after["data_version"]


def write_district(session, code: str = TUNLIU) -> None:
    """A write of ``code``'s households only (textually: it matches no row, so locks none)."""
    data_version.writes_districts(session.connection(), [code])
    session.execute(text("UPDATE households SET status = status WHERE id = -1"))


def test_a_commit_writes_the_version_it_chose_and_a_later_write_drops_the_choice(
    runtime, users
) -> None:
    """Figures computed inside a commit are stored under the version it will make
    (heating.figures_warmup): that version must be exactly what readers see after it."""
    with runtime.session() as s:
        s.execute(text("DELETE FROM meta WHERE key = :key"), {"key": f"data_version:{TUNLIU}"})
        s.commit()
    for _first_and_later in range(2):  # the district's first commit makes its row
        with runtime.session() as s:
            write_district(s)
            assert data_version.current(s, [TUNLIU]) is None  # written, nothing chosen: keep none
            assert data_version.reserve(s) == {TUNLIU}
            chosen = data_version.current(s, [TUNLIU])
            assert chosen is not None and chosen == data_version.current(s, [TUNLIU])
            s.commit()
        with runtime.session() as s:
            assert data_version.current(s, [TUNLIU]) == chosen

    with runtime.session() as s:
        write_district(s)
        data_version.reserve(s)
        chosen = data_version.current(s, [TUNLIU])
        s.execute(text("UPDATE households SET status = status WHERE id = -2"))  # after the choice
        assert data_version.current(s, [TUNLIU]) is None
        s.commit()
    with runtime.session() as s:
        assert data_version.current(s, [TUNLIU]) not in (None, chosen)

    with runtime.session() as s:
        write_district(s)
        s.execute(text("UPDATE villages SET name = name"))  # beyond the district: no choice
        assert data_version.reserve(s) == frozenset()
        s.rollback()


def test_a_commit_of_the_same_district_between_the_choice_and_the_commit_voids_it(
    runtime, users
) -> None:
    """Two clerks of one district: figures the first computed without the second's rows
    must never be read as current, so its commit writes a fresh version instead."""
    if runtime.engine.dialect.name == "sqlite":
        pytest.skip("SQLite has one writer at a time: no commit can come between")
    with runtime.session() as s:
        write_district(s)
        s.commit()
    with runtime.session() as first:
        write_district(first)
        data_version.reserve(first)
        chosen = data_version.current(first, [TUNLIU])
        with runtime.session() as second:
            write_district(second)
            second.commit()
        with runtime.session() as s:
            landed = data_version.current(s, [TUNLIU])
        assert landed != chosen
        assert data_version.current(first, [TUNLIU]) is None  # figures computed now: not kept
        first.commit()
    with runtime.session() as s:
        assert data_version.current(s, [TUNLIU]) not in (chosen, landed)


def test_figures_as_of_a_date_stay_kept_across_ledgers_dated_after_it(
    runtime, users, run_cli, tmp_path
) -> None:
    """Planners read a district as of last winter while clerks commit this winter's ledgers
    (benchmarks/load.py's "township as of"): a ledger dated after the date leaves those
    figures kept, one dated on or before it changes them, and what is kept is what a
    fresh count gives."""
    then = date(2021, 6, 30)
    commit_ledger(run_cli, tmp_path, 1, ledger_date="2021-06-30")
    with runtime.session() as s:
        before = village_facts(s, district_code=TUNLIU, as_of=then)
        now = village_facts(s, district_code=TUNLIU)
        misses = evidence_cache.stats(s)["misses"]

    commit_ledger(run_cli, tmp_path, 3, ledger_date="2021-09-30")  # P002, P003 new, later
    with runtime.session() as s:
        assert village_facts(s, district_code=TUNLIU, as_of=then) == before
        assert evidence_cache.stats(s)["misses"] == misses  # kept across the later ledger
        assert clean_of(village_facts(s, district_code=TUNLIU)) == clean_of(now) + 2
        assert clean_of(village_facts(s, district_code=TUNLIU, as_of=date(2021, 10, 31))) == (
            clean_of(now) + 2
        )  # a date on or after the ledger's follows it
        evidence_cache.clear(s)
        assert village_facts(s, district_code=TUNLIU, as_of=then) == before  # a fresh count

    commit_ledger(run_cli, tmp_path, 4, ledger_date="2021-06-30")  # back-filled: P002–P004 then
    with runtime.session() as s:
        assert clean_of(village_facts(s, district_code=TUNLIU, as_of=then)) == clean_of(before) + 3


def test_a_rollback_changes_its_district_as_of_its_ledger_date_only(
    runtime, users, run_cli, tmp_path
) -> None:
    """A mistaken import undone (``heating batches rollback``): the other district's kept
    figures and this district's figures as of dates before the batch's ledger date stay kept;
    today's follow; and what is kept is what a fresh count gives."""
    with runtime.session() as s:
        add_second_district(s)
    then = date(2021, 6, 30)
    commit_ledger(run_cli, tmp_path, 1, ledger_date="2021-06-30")
    commit_ledger(run_cli, tmp_path, 3, ledger_date="2021-09-30")  # the mistake: P002, P003
    with runtime.session() as s:
        batch = s.scalar(select(func.max(ImportBatch.id)))
        lucheng = village_facts(s, district_code=LUCHENG)
        before = village_facts(s, district_code=TUNLIU, as_of=then)
        now = village_facts(s, district_code=TUNLIU)
        misses = evidence_cache.stats(s)["misses"]
    installation = versions(runtime)["data_version"]

    result = run_cli("batches", "rollback", str(batch))
    assert result.exit_code == 0, result.stderr
    assert versions(runtime)["data_version"] == installation
    assert versions(runtime)[f"data_version:{TUNLIU}"].split(";")[0].endswith("@2021-09-30")
    with runtime.session() as s:
        assert village_facts(s, district_code=LUCHENG) == lucheng
        assert village_facts(s, district_code=TUNLIU, as_of=then) == before
        assert evidence_cache.stats(s)["misses"] == misses  # both kept across the rollback
        assert clean_of(village_facts(s, district_code=TUNLIU)) == clean_of(now) - 2
        evidence_cache.clear(s)
        assert village_facts(s, district_code=TUNLIU, as_of=then) == before  # a fresh count
        assert village_facts(s, district_code=LUCHENG) == lucheng


def test_each_commit_of_a_district_keeps_its_dated_entry(runtime, users) -> None:
    """The row's log is prepended to by the database itself: a commit that waited for another
    of the same district keeps the other's entry (else a reader as of a date could take a
    version from before a commit that changed its figures)."""
    key = f"data_version:{TUNLIU}"
    one_writer = runtime.engine.dialect.name == "sqlite"  # no commit can come between
    with runtime.session() as first:
        if not one_writer:
            write_district(first)
            data_version.writes_dated(first.connection(), date(2022, 10, 31))
        with runtime.session() as second:
            write_district(second)
            data_version.writes_dated(second.connection(), date(2021, 6, 30))
            second.commit()
        if one_writer:
            write_district(first)
            data_version.writes_dated(first.connection(), date(2022, 10, 31))
        first.commit()
    log = versions(runtime)[key]
    entries = log.split(";")
    assert [entry[17:] for entry in entries[:2]] == ["2022-10-31", "2021-06-30"]
    with runtime.session() as s:
        assert data_version.current(s, [TUNLIU], as_of=date(2023, 1, 1))[1] == entries[0]
        assert data_version.current(s, [TUNLIU], as_of=date(2022, 1, 1))[1] == entries[1]
        # No commit old enough in the log: the newest, as a reader of today takes.
        assert data_version.current(s, [TUNLIU], as_of=date(2021, 1, 1))[1] == entries[0]
        assert data_version.current(s, [TUNLIU])[1] == entries[0]
    for _ in range(data_version.LOG_ENTRIES + 3):
        with runtime.session() as s:
            write_district(s)
            s.commit()
    assert versions(runtime)[key].count(";") == data_version.LOG_ENTRIES  # cut to its length


def completed_in_report(client, district: str) -> tuple[bytes, int]:
    """The report's bytes and its 总体情况 total of completed households."""
    resp = client.get(f"/reports/download?year=2021&district={district}")
    assert resp.status_code == 200, resp.get_data(as_text=True)
    sheet = openpyxl.load_workbook(io.BytesIO(resp.data), read_only=True)["总体情况"]
    return resp.data, read_table(sheet, "区域类别")[-1]["户数|已完成"]


def test_a_districts_report_stays_until_its_district_or_the_ledger_span_changes(
    login, runtime, users, run_cli, tmp_path
) -> None:
    """The web report is kept per district: a clerk's ledger in 屯留区 leaves 潞城区's file
    as it was (same bytes, so its generation time too) unless it moves the installation's
    newest ledger date, which sets the years of every report's trend."""
    with runtime.session() as s:
        add_second_district(s)
    commit_ledger(run_cli, tmp_path, 1, ledger_date="2021-06-30")
    client = login("erin")
    lucheng, _ = completed_in_report(client, LUCHENG)
    _, tunliu = completed_in_report(client, TUNLIU)
    time.sleep(1.1)  # a report built again would carry another generation time

    commit_ledger(run_cli, tmp_path, 3, ledger_date="2021-06-30")  # the same span
    assert completed_in_report(client, LUCHENG)[0] == lucheng
    assert completed_in_report(client, TUNLIU)[1] == tunliu + 2  # P002, P003 are new

    commit_ledger(run_cli, tmp_path, 4, ledger_date="2021-09-30")  # a newer ledger
    assert completed_in_report(client, LUCHENG)[0] != lucheng
