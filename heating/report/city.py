"""The city's annual report: each district's full report as its own file, and a summary.

``build_city_reports`` writes, into one folder, every district's report
(``heating.report.build_report``, the same workbook ``heating report
--district`` makes) and a city summary workbook (全市汇总) whose 分区县 sheet
ranks the districts (``heating.city``).  All files share one generation time,
so one as-of date and one known-at time: the summary's line for a district
equals the 合计 row of that district's 总体情况 sheet.
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
from heating.config import Config
from heating.errors import Refused
from heating.models import utcnow
from heating.report import BuiltReport, build_report, report_mark
from heating.report.sheets.places import MEASURE_COLUMNS, measure_values
from heating.report.workbook import Column, Row, Table, key_value_rows, stamp, write_table
from heating.scope import districts

SUMMARY_SHEET = "分区县"


@dataclass(frozen=True)
class CityReports:
    summary: CitySummary
    summary_file: Path
    reports: dict[str, tuple[Path, BuiltReport]]  # district code → its file and report
    as_of: date
    known_at: datetime  # naive UTC
    generated_at: datetime  # naive UTC


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
    write_city_workbook(result, config, year, buffer)
    summary_file.write_bytes(buffer.getvalue())
    return result


def write_city_workbook(result: CityReports, config: Config, year: int, target: io.BytesIO) -> None:
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
                result.reports[line.code][0].name if line.code in result.reports else None,
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
    drafts = [code for code, (_, b) in result.reports.items() if report_mark(b.snapshot)]
    if drafts:
        for sheet in wb.worksheets:
            stamp(sheet, f"含草稿区县报告（{len(drafts)}/{len(result.reports)}）")
    wb.properties.title = f"全市{year}年度清洁取暖回头看评估汇总"
    wb.properties.creator = "heating"
    wb.properties.created = result.generated_at
    wb.properties.modified = result.generated_at
    ensure_agrees(wb)
    wb.save(target)


def _cover(ws: Worksheet, result: CityReports, config: Config, year: int) -> None:
    tz = config.timezone
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 90
    title = ws.cell(row=1, column=1)
    title.value = f"全市{year}年度清洁取暖回头看评估汇总"
    files = "\n".join(
        f"{code} {built.snapshot.district_name}：{path.name}"
        for code, (path, built) in result.reports.items()
    )
    key_value_rows(
        ws,
        [
            ("年度", str(year)),
            ("数据截至", result.as_of.isoformat()),
            ("已知时点", clock.shown(result.known_at, tz)),
            ("生成时间", clock.shown(result.generated_at, tz)),
            ("区县数", str(len(result.reports))),
            ("要求配置", config.profile.name),
            ("各区县报告", files),
        ],
        start_row=3,
    )
