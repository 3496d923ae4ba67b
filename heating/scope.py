"""Which part of the installation a query reads: the whole of it, one district or one township.

An installation may hold several districts (a city).  Every face — pages,
APIs, exports, the map, the report and the commands — resolves the request
to one ``Scope`` here and hands its codes to the domain's queries
(``scope.kwargs``: ``district_code`` and ``township_code``, the parameters
``heating.measures.coverage``, ``village_facts``, ``geo.maps.map_data`` and
the others already take).  With one district installed and no choice made,
the scope is the whole installation: everything reads as before.

Codes nest: a township's 9-digit code and a village's 12-digit code begin
with their district's 6 digits (the registry refuses anything else), so a
scope can judge a code without a query.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import NotFound, Refused
from heating.models import District, Township

# Roles that may be bound to one district (a clerk is bound to one township).
DISTRICT_ROLES = ("planner", "reviewer")


@dataclass(frozen=True)
class Scope:
    """The district and/or township a query is limited to (None: not limited)."""

    district_code: str | None = None
    township_code: str | None = None

    @property
    def kwargs(self) -> dict[str, Any]:
        """The keyword arguments the domain's queries take."""
        return {"district_code": self.district_code, "township_code": self.township_code}

    @property
    def whole(self) -> bool:
        return self.district_code is None and self.township_code is None

    def holds(self, code: str | None) -> bool:
        """True when a township or village code lies inside this scope."""
        if code is None:
            return self.whole
        if self.township_code is not None and not code.startswith(self.township_code):
            return False
        return self.district_code is None or code.startswith(self.district_code)


def find_district(session: Session, code: str) -> District:
    """The district of ``code``; refuse an unknown or malformed code in Chinese."""
    code = code.strip()
    if not (len(code) == 6 and code.isdigit()):
        raise Refused(f"区县代码应为 6 位数字（如 140405），得到 {code!r}。")
    district = session.scalar(select(District).where(District.code == code))
    if district is None:
        known = "、".join(f"{d.name}（{d.code}）" for d in districts(session)) or "无"
        raise NotFound(f"区县代码 {code} 不在村庄名录中：请检查代码。库中的区县：{known}。")
    return district


def districts(session: Session) -> list[District]:
    """Every district of the installation, by code."""
    return list(session.scalars(select(District).order_by(District.code)))


def resolve_scope(
    session: Session, district_code: str | None = None, township_code: str | None = None
) -> Scope:
    """Check the codes exist and nest; return the scope (blank codes mean "not limited")."""
    district_code = (district_code or "").strip() or None
    township_code = (township_code or "").strip() or None
    if district_code is not None:
        find_district(session, district_code)
    if township_code is not None:
        if session.scalar(select(Township.id).where(Township.code == township_code)) is None:
            raise NotFound(
                f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位统计用区划代码）。"
            )
        if district_code is not None and not township_code.startswith(district_code):
            raise Refused(
                f"乡镇 {township_code} 不属于区县 {district_code}：请检查 --township 与 --district。"
            )
    return Scope(district_code, township_code)
