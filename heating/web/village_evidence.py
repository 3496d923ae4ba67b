"""The village page's evidence block: use flags of the season judged and subsidies ending."""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from sqlalchemy.orm import Session

from heating import clock
from heating.measures import MeasureRow
from heating.models import Village
from heating.privacy import mask_name
from heating.relapse import relapse_share
from heating.relapse_plans import plan_view, plans_in_force
from heating.subsidy import schedule
from heating.usage_flags import village_evidence
from heating.web.access import HOUSEHOLD_READERS
from heating.web.db import app_config


def village_evidence_view(
    session: Session, village: Village, measures: MeasureRow | None, names_visible: bool
) -> dict[str, Any]:
    """Judged households (flagged first) and subsidies ending this season, names masked by role."""
    config = app_config()
    out: dict[str, Any] = {"households": [], "ending": [], "subsidy_season": None}
    share = relapse_share(measures) if measures is not None else None
    if share is not None and share > config.usage.relapse_share:
        out["relapse"] = {"share": share, "threshold": config.usage.relapse_share}
    out["plans"] = _plans(session, village, needed="relapse" in out)
    if current_user.role not in HOUSEHOLD_READERS:
        return out
    if measures is not None and measures.usage_season is not None:
        out["households"] = village_evidence(
            session, village.id, int(measures.usage_season), config.usage
        )
    if config.subsidy:
        season = config.usage.current_or_next(clock.today(config.timezone))
        plan = schedule(
            session, season, config.subsidy, config.usage, township_code=village.township.code
        )
        out["subsidy_season"] = season
        out["ending"] = [h for h in plan["ending"] if h["village"] == village.code]
    if not names_visible:
        for h in out["households"]:
            h["head_name"] = mask_name(h["head_name"])
    return out


def _plans(session: Session, village: Village, *, needed: bool) -> list[dict[str, Any]]:
    """The village's plan (when it needs one or has one) and its township's recorded plan."""
    today = clock.today(app_config().timezone)
    plans = plans_in_force(session)
    out = []
    own = plans.get(("village", village.code))
    if needed or own is not None:
        out.append(
            {"where": f"本村（{village.name}）", "kind": "village", "code": village.code}
            | plan_view(own, today)
        )
    township = plans.get(("township", village.township.code))
    if township is not None:
        out.append(
            {
                "where": f"所属乡镇（{village.township.name}）",
                "kind": "township",
                "code": village.township.code,
            }
            | plan_view(township, today)
        )
    return out
