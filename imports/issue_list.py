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
from datetime import date, time
from typing import IO, Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font
from sqlalchemy.orm import Session

from heating import clock
from heating.config import Config
from heating.formulas import neutralise, put_text, put_verbatim
from heating.models import ImportBatch, StoredFile, utcnow
from imports.batches import judge
from imports.fields import LEDGER_LABELS
from imports.issue_rows import ISSUE_SHEET, REASON_HEADER, OriginalSheet, original_rows
from imports.issues import CODES, SEVERITY_LABELS, column_letter
from imports.outcome import outcome

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


# Issues about a sheet or a column rather than one row (some carry the first data row's number).
SHEET_CODES = frozenset(
    {"sheet_hidden", "sheet_empty", "sheet_no_header", "column_ignored", "column_duplicate"}
)


def problem_rows(issues: Iterable[dict[str, Any]]) -> dict[str, set[int]]:
    """Sheet → spreadsheet rows that the issues are about (the rows to fix)."""
    wanted: dict[str, set[int]] = {}
    for issue in issues:
        sheet, row = issue.get("sheet"), issue.get("row")
        if sheet and row and issue.get("code") not in SHEET_CODES:
            wanted.setdefault(sheet, set()).add(int(row))
    return wanted


def batch_rows(
    session: Session, batch: ImportBatch, config: Config, issues: list[dict[str, Any]]
) -> list[OriginalSheet] | None:
    """The original rows the issues are about, read from the stored file (None: file deleted)."""
    stored = session.get(StoredFile, batch.sha256)
    if stored is None:
        return None
    return original_rows(stored.content, batch.file_name, config, problem_rows(issues))


def write_workbook(
    batch: ImportBatch,
    listing: IssueList,
    issues: list[dict[str, Any]],
    out: IO[bytes],
    originals: list[OriginalSheet] | None = None,
) -> None:
    """Sheet 问题清单 (a title, where the list comes from, one row per issue), then for
    each sheet of the file with problem rows a sheet of the same name: its title rows,
    one header row, every problem row with all its original cells and a last column
    问题说明 with the reasons (``imports.issue_rows``) — fix those cells and upload this
    workbook again; the reader skips 问题清单 and 问题说明.

    Every text cell goes through ``heating.formulas``: cell values come from the
    clerk's file and must never become formulas.
    """
    book = Workbook(write_only=True)
    sheet = book.create_sheet(ISSUE_SHEET)
    for column, width in zip("ABCDEFGHI", WIDTHS, strict=True):
        sheet.column_dimensions[column].width = width
    title = WriteOnlyCell(
        sheet, neutralise(f"批次 {batch.id}“{batch.file_name}”问题清单（共 {len(issues):,} 条）")
    )
    title.font = Font(bold=True, size=13)
    sheet.append([title])
    sheet.append([neutralise(listing.note)])
    sheet.append([ORIGINALS_GONE if originals is None else ORIGINALS_NOTE if originals else None])
    header = []
    for text in HEADER:
        cell = WriteOnlyCell(sheet, text)
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for issue in issues:
        sheet.append(_row(issue))
    reasons = _reasons(issues)
    for original in originals or []:
        _write_original(book, original, reasons)
    book.save(out)


ORIGINALS_NOTE = (
    "其后各工作表是原文件中有问题的行（与原工作表同名，单元格为上传时的原样，最后一列写明问题）："
    "在那里改正后，可直接上传本文件，“问题清单”表和“问题说明”列会被跳过。"
)
ORIGINALS_GONE = (
    "原文件已按保留期限删除，无法附上原始行：请在自己的台账中按上表的工作表和行号修改。"
)


def _reasons(issues: list[dict[str, Any]]) -> dict[tuple[str, int], list[str]]:
    out: dict[tuple[str, int], list[str]] = {}
    for issue in issues:
        sheet, row = issue.get("sheet"), issue.get("row")
        if not sheet or not row or issue.get("code") in SHEET_CODES:
            continue
        field = issue.get("field") or ""
        place = " ".join(
            part
            for part in (
                f"{issue['column']} 列" if issue.get("column") else "",
                LEDGER_LABELS.get(field, ""),
            )
            if part
        )
        level = SEVERITY_LABELS.get(issue.get("severity", ""), "")
        text = f"{level}：{place + '：' if place else ''}{issue.get('message') or ''}"
        out.setdefault((sheet, int(row)), []).append(text)
    return out


def _sheet_title(name: str, taken: set[str]) -> str:
    """A worksheet name Excel accepts (≤ 31 characters, none of []:*?/ or backslash), unique."""
    title = "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31] or "台账"
    if title == ISSUE_SHEET:
        title = f"{ISSUE_SHEET}（原表）"
    base, n = title, 2
    while title in taken:
        suffix = f"_{n}"
        title, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(title)
    return title


def _write_original(
    book: Workbook, original: OriginalSheet, reasons: dict[tuple[str, int], list[str]]
) -> None:
    taken = set(book.sheetnames)
    sheet = book.create_sheet(_sheet_title(original.name, taken))
    width = len(original.header)
    for column in range(width + 1):
        sheet.column_dimensions[column_letter(column)].width = 14
    sheet.column_dimensions[column_letter(width)].width = 60
    for title in original.titles:
        sheet.append([_original_cell(sheet, v) for v in title])
    header = []
    for text in [*original.header, REASON_HEADER]:
        cell = WriteOnlyCell(sheet, neutralise(text))
        cell.font = Font(bold=True)
        header.append(cell)
    sheet.append(header)
    for number, cells in original.rows:
        padded = list(cells) + [None] * (width - len(cells))
        reason = "；".join(reasons.get((original.name, number), []))
        sheet.append(
            [
                *(_original_cell(sheet, v) for v in padded),
                _text_cell(sheet, f"原第 {number} 行。{reason}"),
            ]
        )


def _text_cell(sheet: Any, text: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet)
    put_text(cell, text)
    return cell


def _original_cell(sheet: Any, value: Any) -> Any:
    """A cell as the clerk typed it: numbers and dates as they were, text as a text cell.

    Text is written verbatim as a string cell (``heating.formulas.put_verbatim``):
    a string cell is never evaluated, and the clerk's "-" or "+86…" must come back
    unchanged when the file is uploaded again.
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet)
        put_verbatim(cell, value)
        return cell
    if isinstance(value, bool | int | float | date | time):
        return value
    return _text_cell(sheet, str(value))


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
