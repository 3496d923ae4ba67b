"""The blank ledger template (.xlsx) for one township.

A clerk who fills the template in gets a file the import reads without an
error: the header uses import.md's column names, the village, status,
route, operation and exemption-reason columns are dropdowns (Excel data
validation lists kept on a hidden sheet), the ID number, 户号 and phone
columns are formatted as text so Excel cannot turn an ID into 1.40405E+17,
and the header row is frozen.  A second sheet explains every column.  The
columns, their help lines, widths, formats and dropdown words all come from
the ledger schema (``imports.fields.TEMPLATE_FIELDS``).
"""

from __future__ import annotations

from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import NotFound
from heating.formulas import put_text
from heating.models import Township, Village
from imports.fields import HELP_SHEET, LISTS_SHEET, TEMPLATE_FIELDS

LEDGER_SHEET = "台账"
HEADER_ROW = 2
FIRST_DATA_ROW = HEADER_ROW + 1
LAST_DATA_ROW = 5000  # dropdowns and formats reach this far

GENERAL_HELP = (
    "1. 请在“台账”工作表第 3 行起每行填写一户；不要修改、删除或调换表头（第 2 行）。",
    "2. 空白的选填单元格不会清除系统中已有的数据；要更正数据请填写新值。",
    "3. 农户以户号识别；无户号时以身份证号识别；两者都没有时以户主姓名加住址识别（较弱，易重复）。",
    "4. 身份证号、户号、联系电话列为文本格式；从其他表格粘贴时请“只粘贴数值”，避免变成科学计数法。",
    "5. 同一户在一个文件中只能出现一次。上传后先预览，确认无误再提交；提交的批次可以整体撤销。",
)


def _choices(villages: list[str]) -> dict[str, tuple[str, ...]]:
    """Dropdown name (the field) → its words: this township's villages, each choice's words."""
    choices = {"village": tuple(villages)}
    for f in TEMPLATE_FIELDS:
        if f.kind == "choice":
            choices[f.name] = tuple(f.labels.values())
    return choices


def write_template(
    session: Session, township_code: str, path_or_stream: str | Path | IO[bytes]
) -> int:
    """Write the township's blank ledger template; return the number of villages listed."""
    township = session.scalar(select(Township).where(Township.code == township_code))
    if township is None:
        raise NotFound(
            f"乡镇代码 {township_code} 不在村庄名录中：请检查代码（9 位），或先加载村庄名录。"
        )
    villages = list(
        session.scalars(
            select(Village.name).where(Village.township_id == township.id).order_by(Village.code)
        )
    )
    wb = Workbook()
    ws = wb.active
    ws.title = LEDGER_SHEET
    lists = wb.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    ranges = _write_lists(lists, _choices(villages))
    _write_ledger_sheet(ws, f"{township.name}清洁取暖改造台账（乡镇代码 {township.code}）", ranges)
    _write_help_sheet(wb.create_sheet(HELP_SHEET, 1), township, villages)
    wb.active = 0
    if isinstance(path_or_stream, str | Path):
        Path(path_or_stream).parent.mkdir(parents=True, exist_ok=True)
    wb.save(path_or_stream)
    return len(villages)


def _write_lists(ws: Worksheet, choices: dict[str, tuple[str, ...]]) -> dict[str, str]:
    """Put each dropdown's values in a column of the hidden sheet; return name → range."""
    ranges: dict[str, str] = {}
    for index, (name, values) in enumerate(choices.items(), start=1):
        letter = get_column_letter(index)
        ws.cell(row=1, column=index, value=name)
        for offset, value in enumerate(values, start=2):
            put_text(ws.cell(row=offset, column=index), value)  # village names come from users
        last = max(2, len(values) + 1)
        ranges[name] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${last}"
    return ranges


def _write_ledger_sheet(ws: Worksheet, title: str, ranges: dict[str, str]) -> None:
    title_cell = ws.cell(row=1, column=1)
    put_text(title_cell, title)  # the township name comes from the registry upload
    title_cell.font = Font(bold=True, size=14)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    required_font = Font(bold=True, color="C00000")
    for index, column in enumerate(TEMPLATE_FIELDS, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=HEADER_ROW, column=index, value=column.template_header)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.font = required_font if column.requirement == "必填" else Font(bold=True)
        dim = ws.column_dimensions[letter]
        dim.width = column.width
        if column.text_format:
            dim.number_format = "@"
        elif column.number_format:
            dim.number_format = column.number_format
        if column.name in ranges:
            validation = DataValidation(
                type="list",
                formula1=ranges[column.name],
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="请从列表中选择",
                error=f"“{column.template_header}”请从下拉列表中选择。",
            )
            validation.add(f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_DATA_ROW}")
            ws.add_data_validation(validation)
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=1)


def _write_help_sheet(ws: Worksheet, township: Township, villages: list[str]) -> None:
    ws.column_dimensions["A"].width = 18
    ws.column_dimensions["B"].width = 10
    ws.column_dimensions["C"].width = 90
    title = ws.cell(row=1, column=1)
    put_text(title, f"{township.name}台账填写说明")
    title.font = Font(bold=True, size=14)
    row = 3
    for line in GENERAL_HELP:
        ws.cell(row=row, column=1, value=line)
        row += 1
    row += 1
    for index, label in enumerate(("栏目", "要求", "填写方法"), start=1):
        ws.cell(row=row, column=index, value=label).font = Font(bold=True)
    row += 1
    for column in TEMPLATE_FIELDS:
        ws.cell(row=row, column=1, value=column.template_header)
        ws.cell(row=row, column=2, value=column.requirement)
        ws.cell(row=row, column=3, value=column.help).alignment = Alignment(wrap_text=True)
        row += 1
    row += 1
    ws.cell(row=row, column=1, value=f"本乡镇村庄（{len(villages)} 个）").font = Font(bold=True)
    put_text(ws.cell(row=row, column=3), "、".join(villages) or "（名录中尚无村庄）")
