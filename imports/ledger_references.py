"""What a ledger parse reads from the database and settings, loaded once in the parent.

The parse itself (``imports.pipeline``) runs in a limited child process that
never opens a database connection; everything it needs from the database —
the village index, the ID salt, the cross-field rules' data — is gathered
here as plain data and travels to the child pickled.  The same references
decide whether a kept parse may stand in for a new one (``parse_fingerprint``,
``imports.parse_cache``).  Kept apart from the parse so that the parse's
module holds only what the child runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.db import get_meta
from heating.models import Township
from imports.issues import LedgerRejected
from imports.readers import ReadLimits
from imports.validate import RowRules
from imports.villages import VillageIndex


@dataclass
class LedgerReferences:
    """What parsing needs from the database, loaded once by the caller as plain data.

    The parse itself runs in a child process (``imports.isolation``) that
    never opens a database connection: the village index, the ID salt and
    the cross-field rules' data (district extent, heat sources) travel to it
    pickled.
    """

    township_code: str | None
    index: VillageIndex
    salt: str
    rules: RowRules

    @classmethod
    def load(cls, session: Session, township_code: str | None, today: date) -> LedgerReferences:
        index = VillageIndex.load(session, township_code)
        rules = RowRules(session, today, index.district_ids)
        rules.extent()
        rules.register()
        rules.session = None  # type: ignore[assignment]  # everything it reads is loaded
        return cls(township_code, index, get_meta(session, "id_salt") or "", rules)


def ledger_references(
    session: Session, config: Any, township_code: str | None, today: date
) -> LedgerReferences:
    """What a parse of a ledger for ``township_code`` reads from the database and settings.

    Raises LedgerRejected when the township is not in the registry.
    """
    known = select(Township.id).where(Township.code == township_code)
    if township_code is not None and session.scalar(known) is None:
        raise LedgerRejected(
            f"乡镇代码 {township_code} 不在村庄名录中。请核对代码（9 位），或先导入村庄名录。",
            code="township_unknown",
        )
    references = LedgerReferences.load(session, township_code, today)
    references.rules.heat_source_rule = config.heat_source_rule
    return references


def parse_fingerprint(references: LedgerReferences, config: Any, sha256: str) -> str | None:
    """What a kept parse must match to stand in for a new one (``imports.parse_cache``).

    None when the references have no stable form (the parse is then never kept).
    """
    from imports import parse_cache

    try:
        return parse_cache.fingerprint(sha256, references, ReadLimits.from_config(config))
    except parse_cache.Unstable:
        return None
