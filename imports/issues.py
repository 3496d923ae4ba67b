"""Problems found in a file: one ``Problem`` per problem, with its place and a stable code.

A clerk needs to know *where* (sheet, spreadsheet row, column letter),
*what* (a stable machine code from ``CODES`` plus a Chinese message) and
*what to do*.  ID numbers and phones are masked before they ever reach a
placed Problem, so outcomes can be shown and stored freely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from heating.errors import Refused
from heating.privacy import mask_name

SEVERITIES = ("error", "warning", "note")
# File- and sheet-level issues listed per code (a 900-column header is 100 notes and a count).
FILE_ISSUES_PER_CODE = 100

# The documented list of issue codes (stable machine words → Chinese description).
CODES: dict[str, str] = {
    # Whole-file refusals (LedgerRejected.code)
    "file_empty": "文件为空",
    "file_too_large": "文件超过大小上限",
    "file_too_many_rows": "数据行数超过上限",
    "file_encrypted": "工作簿已加密或设置了打开密码",
    "file_corrupt": "文件已损坏，无法读取",
    "file_not_spreadsheet": "不是表格文件（如改了扩展名的 Word、PDF 文件）",
    "file_unsupported": "不支持的表格格式（如 WPS .et、.xlsb）",
    "file_zip_bomb": "解压后体积异常（疑似压缩炸弹）",
    "file_too_complex": "工作表声明的范围过大（行 × 列超过 3000 万个单元格、超过 1000 列，"
    "或远大于实际内容），或 CSV 的行过长、列过多",
    "file_too_large_to_read": "读取所需内存超过上限（import_max_memory_mb）",
    "file_read_timeout": "读取时间超过上限（import_max_seconds）",
    "file_encoding": "CSV 文件编码无法识别",
    "file_no_header": "没有任何工作表能找到表头",
    "township_unknown": "指定的乡镇代码不存在",
    # Sheets and columns
    "sheet_hidden": "隐藏的工作表已跳过",
    "sheet_no_header": "工作表中找不到表头，已跳过",
    "sheet_empty": "工作表为空，已跳过",
    "column_ignored": "无法识别的列，已保留在导入记录中但不导入",
    "column_duplicate": "同一字段出现多列，只使用第一列",
    "column_missing": "缺少必需的列",
    # Cells
    "required": "必填项为空",
    "formula_no_value": "公式单元格没有计算结果",
    "number_lost_digits": "身份证号或户号按数字存储，已丢失位数",
    "id_number_format": "身份证号格式错误",
    "id_number_checksum": "身份证号校验位错误",
    "id_number_old": "15 位旧身份证号（已接受）",
    "not_a_number": "应为数字",
    "not_an_integer": "应为整数",
    "negative": "不能为负数",
    "out_of_range": "数值超出允许范围",
    "invalid_date": "无法识别的日期",
    "date_in_future": "日期晚于今天",
    "unknown_value": "取值不在允许的选项中",
    "text_too_long": "文字过长",
    # Cross-field rules
    "completed_on_missing": "状态为已完工/已验收但完工日期为空",
    "accepted_before_completed": "验收日期早于完工日期",
    "route_required": "该状态必须填写改造方式",
    "exempt_reason_required": "无需改造必须填写原因",
    "coordinates_incomplete": "经度和纬度应同时填写或同时留空",
    "coordinates_outside": "坐标不在本区范围内",
    "heat_source_unknown": "热源不在已登记的热源名单中",
    "heat_source_noncompliant": "热源不合规（工业余热环保绩效低于 B 级、等级未知或列入关停淘汰计划）",
    # Places
    "township_required": "未指定乡镇，且行中没有乡镇",
    "township_not_found": "乡镇名称或代码在名录中不存在",
    "township_mismatch": "该行属于其他乡镇",
    "village_required": "村名和村代码都为空",
    "village_code_format": "村代码应为 12 位数字",
    "village_code_unknown": "村代码在名录中不存在",
    "village_code_mismatch": "村代码不属于该乡镇",
    "village_name_mismatch": "村名与村代码对应的村不一致（以村代码为准）",
    "village_unknown": "村名在该乡镇的名录中不存在",
    "village_ambiguous": "村名对应名录中的多个村",
    # Households
    "duplicate_household": "同一户在文件中出现多次",
    "key_weak": "没有户号和身份证号，按户主姓名+住址识别农户",
    "status_regressed": "已完工/已验收的户在本台账中为未完成状态（完工、验收日期将清除）",
    "coal_subsidy_in_zone": "完成村或禁煤区内的户记有洁净煤补贴（不得再补贴使用煤炭）",
    # The ledger date (imports.ledger_date)
    "ledger_date_conflict": "不同工作表的标题写了不同的台账日期",
    "ledger_date_mismatch": "标题与文件名中的台账日期不一致（按标题）",
    "ledger_date_future": "文件中写的台账日期晚于今天，按上传当日",
    # Heat-source register and boiler ledger
    "duplicate_source": "同一热源在文件中出现多次",
    "shutdown_date_without_listing": "填写了计划关停日期但未标明列入关停淘汰计划",
    "duplicate_boiler": "同一锅炉同一状态日期在文件中出现多次",
    "capacity_required": "额定蒸发量和额定热功率都为空",
    "capacity_mismatch": "额定蒸发量与额定热功率不一致（0.7 MW = 1 t/h）",
    "state_date_required": "拆除/注销/改为清洁能源须填写状态日期",
    "coordinates_missing": "没有坐标，无法判断是否位于禁煤区内",
    "low_nox_date_missing": "低氮改造已完成但没有日期（按未完成统计）",
    # Utility use (imports.usage)
    "period_overlap": "同一户号的用量时段重叠",
    "period_reversed": "截止日期早于起始日期",
    "period_too_long": "起止日期相隔超过一年",
    "duplicate_reading": "同一户号同一天有两个表示数",
    "reading_decreased": "表示数小于之前的表示数",
    "date_out_of_range": "日期早于 2000 年",
    "account_shared": "同一户号在台账中属于多户（按无数据处理）",
    "account_leading_zeros": "户号去掉开头的 0 后才与台账匹配",
    # Lists
    "issues_not_listed": "行问题超过 import_max_issues，其余只计数、未逐条列出",
}


# How a severity reads on the pages, the command line and the issue-list download.
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "note": "提示"}


@dataclass(slots=True)
class Problem:
    """One problem: severity "error" | "warning" | "note", a stable code, a message, its place.

    The one shape of every problem an import finds: a cell a cleaner refuses
    (``imports.clean`` returns one instead of a value), a rule over a row's
    values (``imports.validate``), a place the registry does not know
    (``imports.villages``), a sheet or a whole file.  A step that sees only
    values names the ``field`` and leaves the place empty; the reader that
    knows sheet, row and column places it (``placed``).
    """

    severity: str
    code: str
    message: str
    sheet: str | None = None
    row: int | None = None
    column: str | None = None
    field: str | None = None
    value: str | None = None
    household: str | None = None  # "户号 A001 · 张*": which household a row's problem is about

    def placed(
        self, sheet: str | None, row: int | None, column: str | None, value: str | None
    ) -> Problem:
        """This problem at a sheet's row and column, showing ``value`` (already masked)."""
        return Problem(
            self.severity, self.code, self.message, sheet, row, column, self.field, value
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "sheet": self.sheet,
            "row": self.row,
            "column": self.column,
            "field": self.field,
            "value": self.value,
            "message": self.message,
            "household": self.household,
        }


class IssueCap:
    """Lists at most ``per_code`` issues of each code and counts the rest.

    A hostile or broken file can raise the same problem thousands of times
    (an ignored column per header cell, a hidden sheet per sheet); listing
    each would bury the real problems and bloat the stored outcome.  The
    counts are kept: ``summaries()`` says how many more there were, and
    ``omitted`` gives them by severity for the outcome's totals.
    """

    def __init__(self, per_code: int = FILE_ISSUES_PER_CODE) -> None:
        self.per_code = per_code
        self._seen: dict[str, int] = {}
        self._first_omitted: dict[str, Problem] = {}

    def admit(self, issue: Problem) -> bool:
        """True when the issue is to be listed; otherwise it is only counted."""
        n = self._seen.get(issue.code, 0) + 1
        self._seen[issue.code] = n
        if n <= self.per_code:
            return True
        self._first_omitted.setdefault(issue.code, issue)
        return False

    @property
    def omitted(self) -> dict[str, int]:
        """Issues counted but not listed, by severity."""
        out: dict[str, int] = {}
        for code, first in self._first_omitted.items():
            out[first.severity] = out.get(first.severity, 0) + self._seen[code] - self.per_code
        return out

    def summaries(self) -> list[Problem]:
        """One note per capped code: how many more there were, and what they are."""
        out = []
        for code, first in self._first_omitted.items():
            more = self._seen[code] - self.per_code
            out.append(
                Problem(
                    "note",
                    code,
                    f"另有 {more:,} 处同类问题（{CODES.get(code, code)}）未逐条列出，"
                    f"共 {self._seen[code]:,} 处；以上只列出前 {self.per_code} 处。",
                    first.sheet,
                )
            )
        return out


class LedgerRejected(Refused):
    """The whole file is refused; ``code`` is one of ``CODES``, message says what to do."""

    def __init__(self, message: str, *, code: str = "file_corrupt", detail: Any = None) -> None:
        super().__init__(message, detail=detail)
        self.code = code


def column_index(letters: str | bytes) -> int:
    """Spreadsheet letters → 0-based column index (A → 0, AA → 26): the inverse of ``column_letter``.

    Takes the letters as text or as the bytes of a worksheet's XML.
    """
    n = 0
    for ch in letters.encode() if isinstance(letters, str) else letters:
        n = n * 26 + ch - 64
    return n - 1


def column_letter(index: int) -> str:
    """0-based column index → spreadsheet letters (0 → A, 26 → AA)."""
    if index < len(_LETTERS):
        return _LETTERS[index]
    return _letter(index)


def _letter(index: int) -> str:
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


_LETTERS = [_letter(i) for i in range(702)]


def household_label(values: dict[str, Any]) -> str | None:
    """Which household a row is, as an issue names it: 户号 and the head's name masked (张*).

    Masked because issue lists are kept with the batch in clear text; the
    户号 (or the masked name with the row number) is enough to find the row.
    """
    parts = []
    if values.get("household_no"):
        parts.append(f"户号 {values['household_no']}")
    if values.get("head_name"):
        parts.append(mask_name(str(values["head_name"])) or "")
    return " · ".join(parts) or None
