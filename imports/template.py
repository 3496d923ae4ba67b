"""The blank ledger template (.xlsx) for one township.

A clerk who fills the template in gets a file the import reads without an
error: the header uses import.md's column names, the village, status,
route, operation and exemption-reason columns are dropdowns (Excel data
validation lists kept on a hidden sheet), the ID number, 户号 and phone
columns are formatted as text so Excel cannot turn an ID into 1.40405E+17,
and the header row is frozen.  A second sheet explains every column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import IO

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.errors import NotFound
from heating.formulas import put_text
from heating.models import EXEMPT_REASONS, Township, Village

LEDGER_SHEET = "台账"
HELP_SHEET = "填写说明"
LISTS_SHEET = "选项"
HEADER_ROW = 2
FIRST_DATA_ROW = HEADER_ROW + 1
LAST_DATA_ROW = 5000  # dropdowns and formats reach this far

STATUS_CHOICES = ("未改造", "已列入计划", "施工中", "已完工", "已验收", "无需改造")
ROUTE_CHOICES = ("煤改电", "煤改气", "集中供热", "生物质", "地热能", "太阳能", "其他")
OPERATION_CHOICES = ("正常", "运行不稳定", "散煤复烧", "设备弃用")


@dataclass(frozen=True)
class TemplateColumn:
    """One column of the template: header, width, whether required, help text."""

    header: str
    width: int
    required: str  # 必填 / 选填 / 条件必填
    help: str
    text: bool = False  # formatted as text ("@")
    choices: str | None = None  # name of the dropdown list
    number_format: str | None = None


COLUMNS: tuple[TemplateColumn, ...] = (
    TemplateColumn("村", 16, "必填", "从下拉列表选择本乡镇的行政村/社区。", choices="villages"),
    TemplateColumn(
        "户号",
        14,
        "选填",
        "本村农户编号；填写后作为该户的唯一标识，以后每次上传请保持不变。",
        text=True,
    ),
    TemplateColumn("户主姓名", 12, "必填", "户主姓名。"),
    TemplateColumn(
        "身份证号",
        22,
        "选填",
        "18 位身份证号（末位可为 X）；本列已设为文本格式，请勿改为数字格式。无户号时用于识别农户。",
        text=True,
    ),
    TemplateColumn("联系电话", 15, "选填", "手机或固定电话。", text=True),
    TemplateColumn(
        "住址", 24, "选填", "门牌号或家庭住址；既无户号也无身份证号时与姓名一起识别农户。"
    ),
    TemplateColumn("常住人口", 10, "选填", "整数，不小于 0。"),
    TemplateColumn(
        "改造状态",
        12,
        "必填",
        "从下拉列表选择：未改造、已列入计划、施工中、已完工、已验收、无需改造。",
        choices="status",
    ),
    TemplateColumn(
        "改造方式",
        12,
        "条件必填",
        "已列入计划、施工中、已完工、已验收时必填：煤改电、煤改气、集中供热、生物质、地热能、太阳能、其他。",
        choices="route",
    ),
    TemplateColumn("设备类型", 16, "选填", "如 空气源热泵、蓄热式电暖器、燃气壁挂炉。"),
    TemplateColumn("热源", 16, "选填", "集中供热时填写热源单位名称。"),
    TemplateColumn("计划年度", 10, "选填", "改造计划年度，如 2021（2016–2035）。"),
    TemplateColumn(
        "完工日期",
        12,
        "条件必填",
        "已完工、已验收时应填写，如 2021-06-30；只知道月份可填 2021.06。",
        number_format="yyyy-mm-dd",
    ),
    TemplateColumn(
        "验收日期", 12, "选填", "不早于完工日期，如 2021-09-30。", number_format="yyyy-mm-dd"
    ),
    TemplateColumn("设备补贴（元）", 14, "选填", "设备购置补贴金额，单位元，不小于 0。"),
    TemplateColumn("运行补贴（元/年）", 16, "选填", "每年运行补贴金额，单位元，不小于 0。"),
    TemplateColumn(
        "运行情况",
        12,
        "选填",
        "回头看结果：正常、运行不稳定、散煤复烧、设备弃用；未检查时留空。",
        choices="operation",
    ),
    TemplateColumn(
        "无需改造原因",
        14,
        "条件必填",
        "改造状态为“无需改造”时必填：空置、拆迁、已有清洁取暖、其他。",
        choices="exempt_reason",
    ),
    TemplateColumn("经度", 12, "选填", "十进制度，如 112.8861；与纬度同时填写或同时留空。"),
    TemplateColumn("纬度", 12, "选填", "十进制度，如 36.3116；须在本区范围内。"),
    TemplateColumn("备注", 24, "选填", "其他说明。"),
)

GENERAL_HELP = (
    "1. 请在“台账”工作表第 3 行起每行填写一户；不要修改、删除或调换表头（第 2 行）。",
    "2. 空白的选填单元格不会清除系统中已有的数据；要更正数据请填写新值。",
    "3. 农户以户号识别；无户号时以身份证号识别；两者都没有时以户主姓名加住址识别（较弱，易重复）。",
    "4. 身份证号、户号、联系电话列为文本格式；从其他表格粘贴时请“只粘贴数值”，避免变成科学计数法。",
    "5. 同一户在一个文件中只能出现一次。上传后先预览，确认无误再提交；提交的批次可以整体撤销。",
)


def _choices(villages: list[str]) -> dict[str, tuple[str, ...]]:
    return {
        "villages": tuple(villages),
        "status": STATUS_CHOICES,
        "route": ROUTE_CHOICES,
        "operation": OPERATION_CHOICES,
        "exempt_reason": EXEMPT_REASONS,
    }


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


def _write_lists(ws, choices: dict[str, tuple[str, ...]]) -> dict[str, str]:  # noqa: ANN001
    """Put each dropdown's values in a column of the hidden sheet; return name → range."""
    ranges: dict[str, str] = {}
    for index, (name, values) in enumerate(choices.items(), start=1):
        letter = get_column_letter(index)
        ws.cell(row=1, column=index, value=name)
        for offset, value in enumerate(values, start=2):
            cell = ws.cell(row=offset, column=index, value=value)
            cell.data_type = "s"
        last = max(2, len(values) + 1)
        ranges[name] = f"'{LISTS_SHEET}'!${letter}$2:${letter}${last}"
    return ranges


def _write_ledger_sheet(ws, title: str, ranges: dict[str, str]) -> None:  # noqa: ANN001
    title_cell = ws.cell(row=1, column=1)
    put_text(title_cell, title)  # the township name comes from the registry upload
    title_cell.font = Font(bold=True, size=14)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    required_font = Font(bold=True, color="C00000")
    for index, column in enumerate(COLUMNS, start=1):
        letter = get_column_letter(index)
        cell = ws.cell(row=HEADER_ROW, column=index, value=column.header)
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cell.font = required_font if column.required == "必填" else Font(bold=True)
        dim = ws.column_dimensions[letter]
        dim.width = column.width
        if column.text:
            dim.number_format = "@"
        elif column.number_format:
            dim.number_format = column.number_format
        if column.choices:
            validation = DataValidation(
                type="list",
                formula1=ranges[column.choices],
                allow_blank=True,
                showErrorMessage=True,
                errorTitle="请从列表中选择",
                error=f"“{column.header}”请从下拉列表中选择。",
            )
            validation.add(f"{letter}{FIRST_DATA_ROW}:{letter}{LAST_DATA_ROW}")
            ws.add_data_validation(validation)
    ws.freeze_panes = ws.cell(row=FIRST_DATA_ROW, column=1)


def _write_help_sheet(ws, township: Township, villages: list[str]) -> None:  # noqa: ANN001
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
    for column in COLUMNS:
        ws.cell(row=row, column=1, value=column.header)
        ws.cell(row=row, column=2, value=column.required)
        ws.cell(row=row, column=3, value=column.help).alignment = Alignment(wrap_text=True)
        row += 1
    row += 1
    ws.cell(row=row, column=1, value=f"本乡镇村庄（{len(villages)} 个）").font = Font(bold=True)
    put_text(ws.cell(row=row, column=3), "、".join(villages) or "（名录中尚无村庄）")
