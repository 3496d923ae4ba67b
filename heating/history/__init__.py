"""Household history: the one writer of versions and the one reader of "as of".

Every change to a household is a ``HouseholdVersion`` with two times:

- the **ledger date** (台账日期): the day the ledger describes ("数据截至");
- the **recorded time**: when the tracker learned it (naive UTC).

The state of a household **as of day D, known at time K** is its version with
the latest ledger date ≤ D among those recorded by K and not retracted by K;
among versions with the same ledger date, the one recorded last (then the
higher id).  A version is retracted when its batch is rolled back; the
rollback's own record (kept for the history page) never counts.  A household
with no such version does not exist as of then.  Without K, everything
recorded counts; without D, every ledger date does: the **current** state is
the state as of the newest ledger date, and the ``households`` row always
equals it — so a back-filled older ledger never touches that row.

Writers: ledger commits and rollbacks (``imports.commit``, ``imports.rollback``), the demo loader
and test fixtures all come here (``add_households``, ``add_versions``,
``retract``, ``load_histories``, ``record_create``/``record_update``); nothing
else inserts into ``household_versions``.  Readers: measures, inconsistencies,
the report, zones and the village page select from ``state_as_of`` /
``newest_versions`` / ``delta_rows`` here; nothing else ranks versions.

Speed: measures as of a past date start from the current counts (one GROUP
BY over ``households``) and correct them by the households changed since.
Each version keeps its predecessor's counted state (``prev_*``), so for a
date D the correction is a telescoping sum over the versions dated after D
(state − predecessor's state), read from one covering index with no ranking.
With a known-at time the predecessors of then differ, so those households
are ranked instead (``newest_versions``).
"""

from heating.history.asof import (
    changed_households,
    counting_known_at,
    current_states,
    delta_rows,
    fields_as_of,
    live,
    newest_versions,
    present_as_of,
    regressed_as_of,
    shows_state_at,
    state_as_of,
    states_as_of,
    versions_dated_after,
)
from heating.history.bulk import allocate_ids, bulk_insert, indexes_deferred
from heating.history.edits import record_create, record_update
from heating.history.ledgers import latest_ledgers, newest_ledger
from heating.history.span import (
    first_ledger_date,
    last_ledger_date,
    last_recorded,
    recorded_later,
    village_changes,
)
from heating.history.values import (
    BLANK_STATE,
    CHUNK,
    FIELD_KINDS,
    chunks,
    dump_json,
    household_json,
    state_from_json,
    state_json,
    to_column_value,
    to_json_value,
)
from heating.history.whole_histories import History, load_histories
from heating.history.writing import (
    Change,
    Stamp,
    add_households,
    add_versions,
    later_in_force,
    retract,
    settle,
)

__all__ = [
    "BLANK_STATE",
    "CHUNK",
    "FIELD_KINDS",
    "Change",
    "History",
    "Stamp",
    "add_households",
    "add_versions",
    "allocate_ids",
    "bulk_insert",
    "changed_households",
    "chunks",
    "counting_known_at",
    "current_states",
    "delta_rows",
    "dump_json",
    "first_ledger_date",
    "last_ledger_date",
    "last_recorded",
    "later_in_force",
    "latest_ledgers",
    "live",
    "load_histories",
    "newest_ledger",
    "newest_versions",
    "present_as_of",
    "recorded_later",
    "regressed_as_of",
    "record_create",
    "record_update",
    "retract",
    "settle",
    "shows_state_at",
    "household_json",
    "indexes_deferred",
    "state_json",
    "state_as_of",
    "state_from_json",
    "fields_as_of",
    "states_as_of",
    "to_column_value",
    "to_json_value",
    "versions_dated_after",
    "village_changes",
]
