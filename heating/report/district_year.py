"""Which district and year a report is for: the year checked, its cut-off, the district and its name.

The district report (``heating.report.snapshot``), the city summary
(``heating.report.city``) and the reports page (``heating.web.reports``)
all settle these before any number is gathered, and must settle them alike:
a report's file name and cover are known before it is built.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from heating.config import Config, cutoff_of
from heating.counties import district_name
from heating.errors import NotFound, Refused
from heating.models import District


def default_as_of(config: Config, year: int) -> date:
    """The configured report cut-off (``report_cutoff``, e.g. 10-31) of ``year``."""
    return cutoff_of(year, config.report_cutoff)


def check_year(year: int) -> None:
    if not 2000 <= year <= 2100:
        raise Refused(f"报告年度应在 2000 到 2100 之间，得到 {year}。")


def resolve_district(session: Session, code: str | None) -> District:
    """The district to report on: the one given, or the only one there is."""
    if code:
        district = session.scalar(select(District).where(District.code == code))
        if district is None:
            raise NotFound(f"区县代码 {code} 不在村庄名录中：请检查 6 位区县代码。")
        return district
    districts = list(session.scalars(select(District).order_by(District.code)))
    if not districts:
        raise Refused(
            "村庄名录为空：请先用 heating registry load 导入村庄名录（或 heating demo）。"
        )
    if len(districts) > 1:
        listed = "、".join(f"{d.name}（{d.code}）" for d in districts)
        raise Refused(
            f"数据库中有多个区县：{listed}。请指定要出报告的区县"
            "（网页上在“区县”中选择；命令行用 --district 区县代码）。"
        )
    return districts[0]


def report_district_name(config: Config, district: District, installed: int) -> str:
    """The district's name as its report prints it: the setting where the installation holds
    this one district (``installed`` districts in all; the setting names a single district,
    so a city's reports would all carry it), else the registry's or the national list's name."""
    if config.district_name and installed == 1:
        return config.district_name
    return district_name(district.code, district.name)


def installed_districts(session: Session) -> int:
    """How many districts the installation holds (``report_district_name``)."""
    return session.scalar(select(func.count()).select_from(District)) or 0
