"""The preview's ``coal_subsidy_in_zone`` warning (issue 13 item 7a, seed item 9).

"清洁取暖改造已完成的区域，不得再补贴使用煤炭": a ledger row that records a
洁净煤补贴 for a household of a complete village or of a village inside a
current coal-ban zone gets a warning on its 洁净煤补贴 cell.  Where a coal
subsidy is not allowed is judged once, by
``heating.coal_subsidy.places_without_coal_subsidy``, against the stored data
as of the ledger date.  A warning never blocks a commit.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.coal_subsidy import CODE, places_without_coal_subsidy
from heating.models import Village
from heating.profile import Profile
from imports.issues import Problem, household_label


def _amount(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        return None
    return Decimal(str(value)) if value > 0 else None


def warn_coal_subsidies(session: Session, parsed: Any, profile: Profile, as_of: date) -> int:
    """Add the warning to each row paying a coal subsidy where it is not allowed; return how many."""
    rows = [
        r
        for r in parsed.rows
        if (amount := r.get("coal_subsidy")) is not None
        and r.village_id is not None
        and _amount(amount) is not None
        and not any(i.code == CODE for i in r.issues)  # warned once (preview, then commit)
    ]
    if not rows:  # the usual ledger: no judgement of villages needed
        return 0
    places = places_without_coal_subsidy(session, profile, as_of=as_of)
    if not places:
        return 0
    ids = {r.village_id for r in rows}
    villages = {
        v.id: (v.code, v.name)
        for v in session.execute(
            select(Village.id, Village.code, Village.name).where(Village.id.in_(ids))
        )
    }
    warned = 0
    for row in rows:
        code, name = villages[row.village_id]
        where = places.get(code)
        if where is None:
            continue
        amount = _amount(row.values["coal_subsidy"])
        who = household_label(row.values) or f"第 {row.row} 行的户"
        message = (
            f"{who}记有洁净煤补贴 {amount:,.2f} 元，而{name}（{code}）是{where}"
            f"（截至 {as_of.isoformat()}）：清洁取暖改造已完成的区域不得再补贴使用煤炭。"
            "请核实：不应补贴的，在台账中删除该金额后重新上传；确需保留的，在备注中写明原因。"
        )
        issue = Problem(
            "warning",
            CODE,
            message,
            row.sheet,
            row.row,
            row.columns.get("coal_subsidy"),
            "coal_subsidy",
            f"{amount:,.2f}",
        )
        row.issues = [*row.issues, issue]
        warned += 1
    return warned
