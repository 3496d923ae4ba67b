"""heating.history: the state as of a ledger date, known at a time, equals a plain replay.

Random histories (back-filled ledger dates out of order, several changes in one
second, moves between villages, removals, rolled-back batches) are written
through the production writer; the measures' counts, ``state_as_of`` and the
households rows are then compared with a replay of the versions written:
per household the version with the latest ledger date ≤ D among those
recorded by K and not retracted by K, ties by recorded time then id.
"""

from __future__ import annotations

import hashlib
import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from heating import history
from heating.history import (
    present_as_of,
    record_create,
    record_update,
    retract,
    state_as_of,
    states_as_of,
)
from heating.history.values import to_column_value
from heating.models import Household, HouseholdVersion, ImportBatch, StoredFile, Township
from heating.usage import EVIDENCE_FIELDS, household_states
from heating.village_facts import village_facts

DAYS = [date(2020, 10, 31), date(2020, 12, 20), date(2021, 5, 1), date(2021, 10, 31)]
START = datetime(2021, 11, 1, 8)


def _batches(session, count: int) -> list[int]:
    data = b"history test"
    sha = hashlib.sha256(data).hexdigest()
    if session.get(StoredFile, sha) is None:
        session.add(StoredFile(sha256=sha, size=len(data), content=data))
        session.flush()
    township = session.scalar(select(Township.id))
    ids = []
    for i in range(count):
        batch = ImportBatch(
            kind="ledger",
            township_id=township,
            file_name=f"{i}.xlsx",
            sha256=sha,
            size=1,
            status="committed",
            ledger_date=DAYS[i % len(DAYS)],
            committed_at=START,
        )
        session.add(batch)
        session.flush()
        ids.append(batch.id)
    return ids


def _write_random_history(session, village_ids: list[int], seed: int) -> list[datetime]:
    """Households with random histories; returns the instants worth asking "known at"."""
    rng = random.Random(seed)
    batches = _batches(session, 3)
    clock = START
    instants = [START - timedelta(days=1)]
    households = []
    for n in range(12):
        clock += timedelta(seconds=rng.choice([0, 0, 1, 3600]))
        h = Household(
            village_id=rng.choice(village_ids),
            key=f"no:{seed}-{n}",
            key_kind="household_no",
            household_no=f"{n}",
            head_name=f"户主{n}",
            status=rng.choice(["pending", "planned", "completed"]),
        )
        record_create(
            session,
            h,
            ledger_date=rng.choice(DAYS),
            recorded_at=clock,
            batch_id=rng.choice([None, *batches]),
        )
        households.append(h)
    for _ in range(40):
        clock += timedelta(seconds=rng.choice([0, 1, 60, 86400]))
        h = rng.choice(households)
        changes = rng.choice(
            [
                {"status": rng.choice(["completed", "accepted", "exempt", "planned", "pending"])},
                {"operation": rng.choice(["normal", "coal_again", "abandoned", None])},
                {"village_id": rng.choice(village_ids)},
                {"active": rng.random() < 0.3},
                {  # typed fields, as the evidence reads them (dates, decimals, text)
                    "completed_on": rng.choice([None, *DAYS]),
                    "heated_area_m2": rng.choice([None, Decimal("85.5"), Decimal("120")]),
                    "power_account": rng.choice([None, "0012", "88"]),
                },
            ]
        )
        record_update(
            session,
            h,
            changes,
            ledger_date=rng.choice(DAYS),
            recorded_at=clock,
            batch_id=rng.choice([None, *batches]),
        )
        if rng.random() < 0.2:
            instants.append(clock)
    clock += timedelta(hours=1)
    retract(session, batches[0], history.Stamp(DAYS[0], clock, batches[0]))
    instants.append(clock - timedelta(seconds=1))
    instants.append(clock)
    return instants


def _replay(versions: list[HouseholdVersion], as_of: date | None, known_at: datetime | None):
    """household id → the counting version, by the definition in words."""
    newest: dict[int, HouseholdVersion] = {}
    for v in versions:
        if as_of is not None and v.ledger_date > as_of:
            continue
        if known_at is not None and v.recorded_at > known_at:
            continue
        cut = known_at
        if v.retracted_at is not None and (cut is None or v.retracted_at <= cut):
            continue
        best = newest.get(v.household_id)
        key = (v.ledger_date, v.recorded_at, v.id)
        if best is None or key > (best.ledger_date, best.recorded_at, best.id):
            newest[v.household_id] = v
    return {hid: v for hid, v in newest.items() if v.active}


def _counts(chosen: dict[int, HouseholdVersion], village_ids: list[int]) -> dict[int, list[int]]:
    expected = {vid: [0, 0, 0, 0] for vid in village_ids}
    for v in chosen.values():
        clean = v.status in ("completed", "accepted")
        counts = expected[v.village_id]
        counts[0] += 1
        counts[1] += v.status == "exempt"
        counts[2] += clean
        counts[3] += clean and v.operation in ("coal_again", "abandoned")
    return expected


def test_state_as_of_equals_a_replay_of_random_histories(runtime, tiny_district) -> None:
    village_ids = list(tiny_district.values())
    for seed in range(3):
        with runtime.session() as s:
            for h in s.scalars(select(Household)):
                h.key = f"old:{h.id}"  # keys stay unique across seeds
            instants = _write_random_history(s, village_ids, seed)
        with runtime.session() as s:
            versions = list(s.scalars(select(HouseholdVersion)))
            rows = {h.id: h for h in s.scalars(select(Household))}
            # The households row is the newest counting version, always.
            now = _replay(versions, None, None)
            for hid, row in rows.items():
                if hid in now:
                    v = now[hid]
                    assert (row.active, row.status, row.village_id, row.ledger_date) == (
                        True,
                        v.status,
                        v.village_id,
                        v.ledger_date,
                    ), hid
                else:
                    assert not row.active or hid not in {v.household_id for v in versions}
            for as_of in (None, date(2020, 1, 1), *DAYS[1:], date(2020, 11, 30)):
                for known_at in (None, *instants[-3:], instants[0]):
                    chosen = _replay(versions, as_of, known_at)
                    got = {
                        f.village_id: [f.ledger_rows, f.exempt, f.clean, f.lapsed]
                        for f in village_facts(s, as_of=as_of, known_at=known_at)
                    }
                    assert got == _counts(chosen, village_ids), (seed, as_of, known_at)
                    state = state_as_of(as_of, known_at, ("household_no",))
                    rows_then = {
                        r.household_id: (r.village_id, r.status, r.operation, r.ledger_date)
                        for r in s.execute(select(state))
                    }
                    assert rows_then == {
                        hid: (v.village_id, v.status, v.operation, v.ledger_date)
                        for hid, v in chosen.items()
                    }, (seed, as_of, known_at)
                    # The evidence's reader (versions' JSON read without opening sealed values).
                    judged = {
                        st.id: (st.village_id, {f: st[f] for f in EVIDENCE_FIELDS})
                        for st in household_states(s, as_of, known_at=known_at)
                    }
                    assert judged == {
                        hid: (
                            v.village_id,
                            {f: to_column_value(f, v.after.get(f)) for f in EVIDENCE_FIELDS},
                        )
                        for hid, v in chosen.items()
                    }, (seed, as_of, known_at)
                    if as_of is not None:
                        _assert_readers_of_lists_agree(s, list(rows), as_of, known_at, chosen)


def _assert_readers_of_lists_agree(s, ids: list[int], as_of: date, known_at, chosen) -> None:
    """The readers given lists of households (diff, back-fill, rollback) say what the replay
    says, for every household asked: none left out, none added."""
    replayed = {hid: (v.village_id, v.status, v.ledger_date) for hid, v in chosen.items()}
    then = states_as_of(s, ids, as_of, rows={}, known_at=known_at)
    assert set(then) == set(ids)
    assert {
        hid: (st["village_id"], st["status"], st["ledger_date"]) for hid, st in then.items() if st
    } == replayed, (as_of, known_at)
    if known_at is None:  # rows show today's knowledge
        assert present_as_of(s, ids, as_of) == set(replayed), as_of
        shortcut = states_as_of(s, ids, as_of)  # rows that show the state then are used as is
        assert {
            hid: (st["village_id"], st["status"], st["ledger_date"])
            for hid, st in shortcut.items()
            if st
        } == replayed, as_of


def test_a_back_filled_version_never_moves_the_row_and_relinks_its_successor(
    runtime, tiny_district
) -> None:
    village = next(iter(tiny_district.values()))
    with runtime.session() as s:
        h = Household(
            village_id=village,
            key="no:1",
            key_kind="household_no",
            household_no="1",
            head_name="户主",
            status="completed",
        )
        record_create(s, h, ledger_date=date(2021, 10, 31), recorded_at=START)
        record_update(
            s,
            h,
            {"status": "planned"},
            ledger_date=date(2020, 10, 31),
            recorded_at=START + timedelta(hours=1),
        )
        assert (h.status, h.ledger_date) == ("completed", date(2021, 10, 31))
        versions = {
            v.ledger_date: v
            for v in s.scalars(
                select(HouseholdVersion).where(HouseholdVersion.household_id == h.id)
            )
        }
        # The 2021 version now follows the back-filled 2020 one.
        assert versions[date(2021, 10, 31)].prev_status == "planned"
        assert versions[date(2020, 10, 31)].prev_status is None
        # Per-day states follow.
        then = defaultdict(int)
        for f in village_facts(s, as_of=date(2020, 12, 31)):
            then["clean"] += f.clean
            then["rows"] += f.ledger_rows
        assert dict(then) == {"clean": 0, "rows": 1}


def test_fields_as_of_never_opens_sealed_values(runtime) -> None:
    """Evidence reads whole districts of versions: it must not decrypt ID numbers and phones."""
    with runtime.session() as s, pytest.raises(ValueError, match="id_number"):
        history.fields_as_of(s, [1], date(2020, 1, 1), ("status", "id_number"))
