"""The annual evaluation report (回头看评估报告) for the city office, as an .xlsx.

``build_report`` takes a frozen as-of snapshot (``snapshot.take_snapshot``),
draws the coverage map (``picture``) and lays out the sheets (``sheets``)
with openpyxl.  The default as-of date is the configured cut-off of the year.
The snapshot also holds the townships' sign-off for that period
(``signoff_section``): a report not approved throughout is marked 草稿
(``report_mark``) on every sheet, and ``approved_only`` withholds the
figures of unapproved townships (``withheld``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import BinaryIO

from openpyxl import Workbook
from sqlalchemy.orm import Session

from heating.config import Config
from heating.report.district_year import default_as_of
from heating.report.signoff_section import SignoffSection
from heating.report.snapshot import Snapshot, take_snapshot

__all__ = [
    "BuiltReport",
    "build_report",
    "default_as_of",
    "file_name_of",
    "mark_of",
    "report_file_name",
    "report_mark",
    "write_workbook",
]


@dataclass(frozen=True)
class BuiltReport:
    snapshot: Snapshot
    content: bytes
    file_name: str


def report_file_name(snapshot: Snapshot) -> str:
    """The Chinese file name a download and the CLI suggest.

    A draft or approved-only report says so in its name too (…（草稿）.xlsx):
    a file saved to disk and forwarded must not pass for the final report.
    """
    return file_name_of(snapshot.district_name, snapshot.year, snapshot.as_of, snapshot.signoff)


def file_name_of(district_name: str, year: int, as_of: date, signoff: SignoffSection | None) -> str:
    """``report_file_name`` from its parts: a report's name is known before it is built
    (the city summary names every district's report without building them)."""
    marks = []
    if signoff is None or signoff.draft:
        marks.append("草稿")
    if signoff is not None and signoff.approved_only:
        marks.append("仅含已审核乡镇")
    suffix = f"（{'·'.join(marks)}）" if marks else ""
    return f"{district_name}{year}年度清洁取暖回头看评估报告（截至{as_of:%Y%m%d}）{suffix}.xlsx"


def report_mark(snapshot: Snapshot) -> str:
    """What every sheet's title and page header say of the sign-off: draft, approved only."""
    return mark_of(snapshot.signoff)


def mark_of(signoff: SignoffSection | None) -> str:
    """``report_mark`` from the report's sign-off section alone."""
    from heating.report.signoff_section import DRAFT_MARK

    marks = []
    if signoff is None or signoff.draft:
        marks.append(DRAFT_MARK)
    if signoff is not None and signoff.approved_only:
        marks.append(signoff.count_label)
    return " · ".join(marks)


def write_workbook(
    snapshot: Snapshot, picture: bytes | None, target: str | Path | BinaryIO
) -> None:
    """Lay out every sheet of ``snapshot`` and save the workbook to ``target``."""
    from heating.report.reconcile import ensure_agrees
    from heating.report.sheets import SHEETS
    from heating.report.workbook import stamp

    wb = Workbook()
    wb.remove(wb.active)
    mark = report_mark(snapshot)
    for title, writer in SHEETS:
        ws = wb.create_sheet(title)
        writer(ws, snapshot, picture)
        if mark:
            stamp(ws, mark)
    wb.properties.title = f"{snapshot.district_name}{snapshot.year}年度清洁取暖回头看评估报告"
    if mark:
        wb.properties.title += f"（{mark}）"
    wb.properties.creator = "heating"
    # The file's own timestamps follow the snapshot, not the wall clock.
    wb.properties.created = snapshot.generated_at
    wb.properties.modified = snapshot.generated_at
    ensure_agrees(wb)  # a report whose totals disagree is a bug: never saved
    wb.save(target)


def build_report(
    session: Session,
    config: Config,
    year: int,
    *,
    as_of: date | None = None,
    district_code: str | None = None,
    now: datetime | None = None,
    known_at: datetime | None = None,
    picture: bool = True,
    approved_only: bool = False,
) -> BuiltReport:
    """Compute the snapshot, draw the map and return the workbook's bytes.

    ``now`` and ``known_at`` are naive UTC (``heating.clock``); ``approved_only``
    withholds the figures of townships not approved (``heating.report.withheld``).
    """
    from heating.report.picture import coverage_map_png

    snapshot = take_snapshot(
        session,
        config,
        year,
        as_of=as_of,
        district_code=district_code,
        now=now,
        known_at=known_at,
        approved_only=approved_only,
    )
    png = coverage_map_png(session, snapshot) if picture else None
    buffer = io.BytesIO()
    write_workbook(snapshot, png, buffer)
    return BuiltReport(snapshot, buffer.getvalue(), report_file_name(snapshot))
