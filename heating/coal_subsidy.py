"""Coal subsidies where clean heating is complete (seed item 9, issue 13 item 7a).

"清洁取暖改造已完成的区域，不得再补贴使用煤炭": a household with a 洁净煤补贴
recorded (``coal_subsidy`` > 0) in a complete village (``heating.completion``:
all required clean, or decided so) or in a village of a current coal-ban zone
(the newest derivation on or before the date) is ``coal_subsidy_in_zone``.
Listed, never changed.

Both functions take an optional ``district_code``: a district's report asks
for its own villages only, and reads only its own households (a city of
600,000 households cost each district report seconds of CPU reading the
others').  A village's judgement and a household's listing depend on that
village alone, so a district's list equals the city's list cut to the
district.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.completion import complete_village_codes
from heating.models import Zone, ZoneDerivation
from heating.privacy import mask_name
from heating.profile import Profile
from heating.usage import household_states

CODE = "coal_subsidy_in_zone"


def zone_village_codes(session: Session, as_of: date | None = None) -> set[str]:
    """Villages of the coal-ban zones in force (the newest derivation by the date)."""
    query = select(ZoneDerivation.id).order_by(
        ZoneDerivation.as_of.desc(), ZoneDerivation.id.desc()
    )
    if as_of is not None:
        query = query.where(ZoneDerivation.as_of <= as_of)
    newest = session.scalar(query.limit(1))
    if newest is None:
        return set()
    codes: set[str] = set()
    for villages in session.scalars(select(Zone.village_codes).where(Zone.derivation_id == newest)):
        codes.update(villages or ())
    return codes


def places_without_coal_subsidy(
    session: Session,
    profile: Profile,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    district_code: str | None = None,
) -> dict[str, str]:
    """Village code → where a coal subsidy is not allowed ("完成村", "禁煤区内" or both).

    The one judgement of ``coal_subsidy_in_zone``: the list, the report and the
    ledger preview's warning (``imports.coal_subsidy``) all ask it.  With
    ``district_code``, the villages of that district only.
    """
    complete = complete_village_codes(
        session, profile, as_of=as_of, known_at=known_at, district_code=district_code
    )
    zoned = zone_village_codes(session, as_of)
    if district_code is not None:  # zones are derived city-wide: keep the district's villages
        zoned = {code for code in zoned if code.startswith(district_code)}
    out = {}
    for code in complete | zoned:
        where = [
            label for label, inside in (("完成村", complete), ("禁煤区内", zoned)) if code in inside
        ]
        out[code] = "、".join(where)
    return out


def coal_subsidies_in_zones(
    session: Session,
    profile: Profile,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    district_code: str | None = None,
) -> list[dict[str, Any]]:
    """Households with a coal subsidy in a complete village or a current zone (names masked),
    of one district when ``district_code`` is given."""
    places = places_without_coal_subsidy(
        session, profile, as_of=as_of, known_at=known_at, district_code=district_code
    )
    if not places:
        return []  # nowhere a coal subsidy is barred: no household needs reading
    districts = None if district_code is None else {district_code}
    out = []
    for s in household_states(session, as_of, known_at=known_at, district_codes=districts):
        amount = s["coal_subsidy"]
        if not amount or amount <= 0:
            continue
        where = places.get(s.village_code)
        if where is None:
            continue
        out.append(
            {
                "code": CODE,
                "village": s.village_code,
                "township": s.township_code,
                "household_no": s["household_no"],
                "head_name": mask_name(s["head_name"]),
                "coal_subsidy": float(amount),
                "where": where,
            }
        )
    out.sort(key=lambda h: (h["village"], h["household_no"] or ""))
    return out
