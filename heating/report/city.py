"""The city's annual report: each district's full report as its own file, and a summary.

``build_city_reports`` writes, into one folder, every district's report
(``heating.report.build_report``, the same workbook ``heating report
--district`` makes) and a city summary workbook (全市汇总) whose 分区县 sheet
ranks the districts (``heating.city``).  All files share one generation time,
so one as-of date and one known-at time: the summary's line for a district
equals the 合计 row of that district's 总体情况 sheet.

``city_summary_workbook`` writes the same summary workbook without building
the districts' reports (the web's 全市汇总表 download): its figures come from
``heating.city`` anyway, and each report's file name and draft mark from its
district's sign-off (``heating.report.file_name_of``, ``mark_of``), as the
report itself would name them.  A dozen full reports cost minutes of CPU on
the demo city; the summary alone costs the city summary's seconds.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy.orm import Session

from heating import clock
from heating.city import CitySummary, city_summary
from heating.clock import end_of_second
from heating.config import Config
from heating.errors import Refused
from heating.models import utcnow
from heating.report import BuiltReport, build_report, file_name_of, mark_of
from heating.report.district_year import check_year, default_as_of, report_district_name
from heating.report.sheets.places import MEASURE_COLUMNS, measure_values
from heating.report.signoff_section import gather
from heating.report.workbook import Column, Row, Table, key_value_rows, stamp, write_table
from heating.scope import districts

SUMMARY_SHEET = "分区县"


@dataclass(frozen=True)
class DistrictFile:
    """What the summary says of one district's report: its name, file and mark."""

    name: str  # the district's name as its report prints it
    file_name: str
    mark: str  # 草稿（未全部审核）…, "" for a final report


@dataclass(frozen=True)
class CityReports:
    summary: CitySummary
    summary_file: Path
    reports: dict[str, tuple[Path, BuiltReport]]  # district code → its file and report
    as_of: date
    known_at: datetime  # naive UTC
    generated_at: datetime  # naive UTC

    @property
    def files(self) -> dict[str, DistrictFile]:
        return {
            code: DistrictFile(b.snapshot.district_name, path.name, mark_of(b.snapshot.signoff))
            for code, (path, b) in self.reports.items()
        }


def city_file_name(year: int, as_of: date) -> str:
    return f"全市{year}年度清洁取暖回头看评估汇总（截至{as_of:%Y%m%d}）.xlsx"


def build_city_reports(
    session: Session,
    config: Config,
    year: int,
    out_dir: Path,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    now: datetime | None = None,
    picture: bool = True,
) -> CityReports:
    """Write every district's report and the city summary into ``out_dir``."""
    found = districts(session)
    if not found:
        raise Refused(
            "村庄名录为空：请先导入村庄名录（heating registry load）或 heating demo --city。"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    now = (now or utcnow()).replace(microsecond=0)
    reports: dict[str, tuple[Path, BuiltReport]] = {}
    for district in found:
        built = build_report(
            session,
            config,
            year,
            as_of=as_of,
            district_code=district.code,
            now=now,
            known_at=known_at,
            picture=picture,
        )
        path = out_dir / built.file_name
        path.write_bytes(built.content)
        reports[district.code] = (path, built)
    first = next(iter(reports.values()))[1].snapshot
    summary = city_summary(session, config.profile, as_of=first.as_of, known_at=first.known_at)
    summary_file = out_dir / city_file_name(year, first.as_of)
    result = CityReports(summary, summary_file, reports, first.as_of, first.known_at, now)
    buffer = io.BytesIO()
    write_city_workbook(
        CityHeading(summary, result.files, result.as_of, result.known_at, now), config, year, buffer
    )
    summary_file.write_bytes(buffer.getvalue())
    return result


@dataclass(frozen=True)
class CityHeading:
    """Everything the summary workbook shows."""

    summary: CitySummary
    files: dict[str, DistrictFile]  # district code → its report, by code
    as_of: date
    known_at: datetime  # naive UTC
    generated_at: datetime  # naive UTC


def city_summary_workbook(
    session: Session,
    config: Config,
    year: int,
    *,
    as_of: date | None = None,
    known_at: datetime | None = None,
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """The summary workbook ``build_city_reports`` writes, without the districts' reports.

    Returns the workbook's bytes and its file name.  Every date is settled as
    ``take_snapshot`` settles it, so the workbook equals the one written beside
    the reports at the same ``now`` (tested cell by cell).
    """
    found = districts(session)
    if not found:
        raise Refused(
            "村庄名录为空：请先导入村庄名录（heating registry load）或 heating demo --city。"
        )
    check_year(year)
    now = (now or utcnow()).replace(microsecond=0)
    as_of = as_of or default_as_of(config, year)
    known_at = known_at or end_of_second(now)
    files = {}
    for district in found:
        signoff = gather(
            session,
            config,
            district_code=district.code,
            as_of=as_of,
            known_at=known_at,
            townships=[],  # the figures are not compared: only the approvals count here
        )
        name = report_district_name(config, district, len(found))
        files[district.code] = DistrictFile(
            name, file_name_of(name, year, as_of, signoff), mark_of(signoff)
        )
    summary = city_summary(session, config.profile, as_of=as_of, known_at=known_at)
    buffer = io.BytesIO()
    write_city_workbook(CityHeading(summary, files, as_of, known_at, now), config, year, buffer)
    return buffer.getvalue(), city_file_name(year, as_of)


def write_city_workbook(result: CityHeading, config: Config, year: int, target: io.BytesIO) -> None:
    """封面与说明 and 分区县 (ranked, with each district's report file)."""
    from heating.report.reconcile import ensure_agrees

    wb = Workbook()
    wb.remove(wb.active)
    _cover(wb.create_sheet("封面与说明"), result, config, year)
    ws = wb.create_sheet(SUMMARY_SHEET)
    columns = [
        Column("排名", "int", sums=False),
        Column("区县代码"),
        Column("区县"),
        Column("乡镇数", "int"),
        Column("村数", "int"),
        *MEASURE_COLUMNS,
        Column("区县报告文件"),
    ]
    rows = [
        Row(
            [
                line.rank,
                line.code,
                line.name,
                line.townships,
                line.total.villages,
                *measure_values(line.total),
                result.files[line.code].file_name if line.code in result.files else None,
            ]
        )
        for line in result.summary.lines
    ]
    t = result.summary.total
    townships = sum(line.townships for line in result.summary.lines)
    rows.append(
        Row([None, None, "全市", townships, t.villages, *measure_values(t), None], total=True)
    )
    write_table(
        ws,
        Table(
            f"全市{year}年度清洁取暖改造分区县情况",
            columns,
            rows,
            subtitle=f"数据截至 {result.as_of:%Y-%m-%d} · 按缺口从大到小、再按覆盖率从低到高排名",
            notes=(
                "各区县的数字与该区县报告“总体情况”表的合计行相同（同一截止日、同一已知时点）。",
                "差距户数 = 达到目标还需改造的户数（目标 100% 的类别按村累加，其余按类别合计）；"
                "应改造为 0 时覆盖率显示“—”。",
            ),
        ),
    )
    drafts = [code for code, f in result.files.items() if f.mark]
    if drafts:
        for sheet in wb.worksheets:
            stamp(sheet, f"含草稿区县报告（{len(drafts)}/{len(result.files)}）")
    wb.properties.title = f"全市{year}年度清洁取暖回头看评估汇总"
    wb.properties.creator = "heating"
    wb.properties.created = result.generated_at
    wb.properties.modified = result.generated_at
    ensure_agrees(wb)
    wb.save(target)


def _cover(ws: Worksheet, result: CityHeading, config: Config, year: int) -> None:
    tz = config.timezone
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 90
    title = ws.cell(row=1, column=1)
    title.value = f"全市{year}年度清洁取暖回头看评估汇总"
    files = "\n".join(f"{code} {f.name}：{f.file_name}" for code, f in result.files.items())
    key_value_rows(
        ws,
        [
            ("年度", str(year)),
            ("数据截至", result.as_of.isoformat()),
            ("已知时点", clock.shown(result.known_at, tz)),
            ("生成时间", clock.shown(result.generated_at, tz)),
            ("区县数", str(len(result.files))),
            ("要求配置", config.profile.name),
            ("各区县报告", files),
        ],
        start_row=3,
    )
