"""Whole histories at once: households written with every version of their history (the demo).

``heating.history.writing`` writes versions as ledgers and edits bring them,
one change on top of the stored state.  The demo generators
(``heating.demo.loader``, ``heating.demo.city``) know each household's whole
history up front, so they skip every read: ``load_histories`` writes the
households and all their versions in one bulk pass, each version's
``before`` the previous one's ``after`` (the same JSON string).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from heating.history.bulk import bulk_insert, next_id, sync_sequence
from heating.history.values import CONVERTED_FIELDS, dump_snapshot, field_values, to_json_value
from heating.history.writing import (
    HOUSEHOLD_COLUMNS,
    HOUSEHOLDS,
    VERSION_COLUMNS,
    VERSIONS,
    Stamp,
    version_row,
)
from heating.models import HOUSEHOLD_FIELDS


@dataclass
class History:
    """A household written with its whole history: identity and (stamp, full state) steps.

    Steps must be in ledger order (ledger date, then recorded time); fields
    listed in ``fixed`` do not change across the steps (serialised once).
    """

    village_id: int
    key: str
    key_kind: str
    id_hash: str | None
    steps: list[tuple[Stamp, dict[str, Any]]]


def load_histories(
    session: Session, histories: Iterable[History], fixed: Sequence[str] = ()
) -> tuple[int, int]:
    """Insert households with every version of their history in bulk; return the counts.

    The demo's 58,000 households and 200,000 versions load in seconds: a
    version's ``before`` is the previous one's ``after`` (the same string),
    and the ``fixed`` fields' JSON is written once per household.
    """
    changing = tuple(f for f in HOUSEHOLD_FIELDS if f not in fixed)
    converted = tuple(f for f in changing if f in CONVERTED_FIELDS)
    next_household = next_id(session, HOUSEHOLDS)
    next_version = next_id(session, VERSIONS)
    households: list[tuple[Any, ...]] = []
    versions: list[tuple[Any, ...]] = []
    for history in histories:
        hid = next_household
        next_household += 1
        final_stamp, final = history.steps[-1]
        static = {f: to_json_value(final[f]) for f in fixed}
        static.update(village_id=history.village_id, active=True)
        prefix = dump_snapshot(static)[:-1] + ","
        before_json = None
        before: dict[str, Any] | None = None
        for stamp, state in history.steps:
            moving = {f: state[f] for f in changing}
            for name in converted:
                if moving[name] is not None:
                    moving[name] = to_json_value(moving[name])
            after_json = prefix + dump_snapshot(moving)[1:]
            after = {**state, "village_id": history.village_id, "active": True}
            versions.append(
                version_row(
                    next_version,
                    hid,
                    "create" if before is None else "update",
                    before,
                    after,
                    stamp,
                    before_json=before_json,
                    after_json=after_json,
                )
            )
            next_version += 1
            before, before_json = after, after_json
        households.append(
            (
                hid,
                history.village_id,
                history.key,
                history.key_kind,
                history.id_hash,
                True,
                *field_values(final),
                None,
                history.steps[0][0].batch_id,
                final_stamp.batch_id,
                final_stamp.recorded_at,
                final_stamp.ledger_date,
            )
        )
    bulk_insert(session, HOUSEHOLDS, HOUSEHOLD_COLUMNS, households)
    bulk_insert(session, VERSIONS, VERSION_COLUMNS, versions)
    for table in (HOUSEHOLDS, VERSIONS):
        sync_sequence(session, table)
    return len(households), len(versions)
