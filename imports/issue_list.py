"""A batch's issue list as a workbook a clerk can download, sort and work through.

A preview lists at most ``import_max_issues`` row issues and only counts the
rest (a hostile or badly broken file must not store millions of them).  The
clerk still needs every problem to fix the file, so when a batch's stored list
was cut short its download judges the stored file again, with no cap, in the
same limited child process as a preview.  The regenerated list is judged
against the registry and households as they are at download time; the sheet
says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from heating import clock
from heating.config import Config
from heating.formulas import neutralise
from heating.models import ImportBatch, StoredFile, utcnow
from imports.batches import judge
from imports.diff import outcome
from imports.fields import LEDGER_LABELS
from imports.issues import CODES, SEVERITY_LABELS

NOT_LISTED = "issues_not_listed"
UNCAPPED = 10**9  # row issues listed by a download: all of them
HEADER = ("级别", "工作表", "行", "列", "字段", "单元格内容", "说明", "问题代码", "农户")
WIDTHS = (8, 16, 8, 6, 14, 24, 70, 22, 22)


@dataclasses.dataclass
class IssueList:
    """The issues of a batch and where they come from."""

    issues: list[dict[str, Any]]
    note: str  # one sentence on where the list comes from, shown above the table


def was_cut_short(issues: Iterable[dict[str, Any]]) -> bool:
    """Whether a stored list names only part of its row issues (``issues_not_listed``)."""
    return any(i.get("code") == NOT_LISTED for i in issues)


def batch_issues(session: Session, batch: ImportBatch, config: Config) -> IssueList:
    """Every issue of ``batch``: the stored list, or the file judged again when it was cut short."""
    stored_issues = list(batch.issues or [])
    if not was_cut_short(stored_issues):
        return IssueList(stored_issues, "问题清单与预览时保存的一致。")
    stored = session.get(StoredFile, batch.sha256)
    if stored is None:
        return IssueList(
            stored_issues,
            "原文件已按保留期限删除，无法重新生成完整清单：以下只含预览时列出的问题。",
        )
    return IssueList(
        _judge_again(session, batch, stored.content, config), _regenerated_note(config)
    )


def _judge_again(
    session: Session, batch: ImportBatch, data: bytes, config: Config
) -> list[dict[str, Any]]:
    """The stored file judged like a preview (``imports.batches.judge``), every row issue listed."""
    _, _, diff = judge(
        session,
        data,
        batch.file_name,
        config=config.with_overrides(import_max_issues=UNCAPPED),
        township_code=batch.township.code if batch.township else None,
        ledger_date=batch.ledger_date if batch.ledger_date_source == "option" else None,
        today=clock.today(config.timezone),
    )
    return outcome(diff)["issues"]


def _regenerated_note(config: Config) -> str:
    now = clock.shown(utcnow(), config.timezone)
    return (
        "预览时问题超过 import_max_issues，只保存了前一部分；本清单于 "
        f"{now} 按原文件重新核查，列出全部问题（村庄名录与农户按下载时的数据）。"
    )


def filtered(
    issues: list[dict[str, Any]], severity: str, field: str, code: str = ""
) -> list[dict[str, Any]]:
    """The issues of one severity, one field and/or one code (blank: all)."""
    if severity:
        issues = [i for i in issues if i.get("severity") == severity]
    if field:
        issues = [i for i in issues if (i.get("field") or "") == field]
    if code:
        issues = [i for i in issues if i.get("code") == code]
    return issues


def code_groups(issues: list[dict[str, Any]]) -> list[tuple[str, str, str, int]]:
    """(code, label, severity, count) of each kind of issue, most frequent first.

    4,795 errors of one kind read as one line "… 4,795 条" with a link to
    their pages, not as 24 pages of the same text.
    """
    counts: dict[str, int] = {}
    severity: dict[str, str] = {}
    for i in issues:
        code = i.get("code") or ""
        counts[code] = counts.get(code, 0) + 1
        severity.setdefault(code, i.get("severity") or "")
    order = {"error": 0, "warning": 1, "note": 2}
    return sorted(
        ((c, CODES.get(c, c), severity[c], n) for c, n in counts.items()),
        key=lambda g: (order.get(g[2], 3), -g[3], g[0]),
    )


def write_workbook(
    batch: ImportBatch, listing: IssueList, issues: list[dict[str, Any]], out: IO[bytes]
) -> None:
    """One sheet 问题清单: a title, where the list comes from, then one row per issue.

    Every text cell goes through ``heating.formulas.neutralise``: cell values
    come from the clerk's file and must never become formulas.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet("问题清单")
    for column, width in zip("ABCDEFGHI", WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    title = WriteOnlyCell(
        sheet, neutralise(f"批次 {batch.id}“{batch.file_name}”问题清单（共 {len(issues):,} 条）")
    )
    title.font = Font(bold=True, size=13)
    sheet.append([title])
    sheet.append([neutralise(listing.note)])
    header = []
    for text in HEADER:
        cell = WriteOnlyCell(sheet, text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for issue in issues:
        sheet.append(_row(issue))
    book.save(out)


def _row(issue: dict[str, Any]) -> list[Any]:
    field = issue.get("field") or ""
    value = issue.get("value")
    return [
        SEVERITY_LABELS.get(issue.get("severity", ""), issue.get("severity", "")),
        neutralise(str(issue.get("sheet") or "")),
        issue.get("row"),
        neutralise(str(issue.get("column") or "")),
        LEDGER_LABELS.get(field, neutralise(field)),
        "" if value is None else neutralise(str(value)),
        neutralise(str(issue.get("message") or "")),
        neutralise(str(issue.get("code") or "")),
        neutralise(str(issue.get("household") or "")),
    ]
