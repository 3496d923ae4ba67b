"""Turn raw cell values (what calamine or csv gives) into typed values, one cleaner per kind.

Cleaners are plain functions picked once per column, so the per-cell cost
is one call: no regex unless the cheap checks fail.  A cleaner returns the
cleaned value (None for blank) or, for a cell it cannot use, an
``imports.issues.Problem`` with a stable code and a Chinese message that
says what to do (returned, not raised: a refused word is memoised like any
other, and the caller tells the two apart with one ``type(…) is Problem``).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from imports.fields import Field, normalise_word
from imports.issues import Problem


def _refused(code: str, message: str) -> Problem:
    """A cell value we cannot use; ``code`` is from imports.issues.CODES."""
    return Problem("error", code, message)


# Full-width ASCII (U+FF01–U+FF5E) → ASCII; ideographic space → space.
FULLWIDTH = {i: i - 0xFEE0 for i in range(0xFF01, 0xFF5F)}
FULLWIDTH[0x3000] = 0x20
WHITESPACE = " \t\r\n\v\f\u3000\u00a0\u2002\u2003\u2009\u200b\ufeff"
_INNER_SPACE = str.maketrans("", "", WHITESPACE)

LOST_DIGITS = (
    "按数字存储，末尾几位已丢失（Excel 只保留 15 位有效数字），无法恢复。"
    "请把该列设置为“文本”格式，重新输入或从原始资料粘贴后再上传。"
)
_SCIENTIFIC = re.compile(r"[+-]?\d+(?:\.\d+)?[eE][+-]?\d+")


def text(value: Any) -> str | None:
    """Trimmed text with full-width letters/digits made half-width; None when blank."""
    if type(value) is str:
        # max() finds full-width forms (U+FF01…) in C; CJK ideographs sort below them.
        if not value.isascii() and (max(value) >= "\uff01" or "\u3000" in value):
            value = value.translate(FULLWIDTH)
        value = value.strip(WHITESPACE)
        if "\n" in value or "\r" in value:
            value = " ".join(value.split())
        return value or None
    if value is None:
        return None
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    return str(value).strip() or None


def code(value: Any) -> str | Problem | None:
    """A code stored as text (户号, 村代码): digits kept exactly; numbers that lost digits refused."""
    if type(value) is float:
        if abs(value) >= 1e15:
            return _refused("number_lost_digits", "该编号" + LOST_DIGITS)
        return str(int(value)) if value.is_integer() else repr(value)
    s = text(value)
    if s is None:
        return None
    s = s.translate(_INNER_SPACE)
    if not s.isalnum() and _SCIENTIFIC.fullmatch(s):
        return _refused("number_lost_digits", f"该编号显示为 {s}，" + LOST_DIGITS)
    if s.endswith(".0") and s[:-2].isdigit():
        s = s[:-2]
    return s


def id_number(value: Any) -> str | Problem | None:
    """An ID number as text, upper-case X; a number that lost digits is refused."""
    if type(value) is float or type(value) is int:
        if abs(value) >= 1e15:
            return _refused(
                "number_lost_digits",
                f"身份证号显示为 {value:.5E}，" + LOST_DIGITS,
            )
        return str(int(value))
    s = text(value)
    if s is None:
        return None
    s = s.translate(_INNER_SPACE).upper()
    if _SCIENTIFIC.fullmatch(s):
        return _refused("number_lost_digits", f"身份证号显示为 {s}，" + LOST_DIGITS)
    return s


def phone(value: Any) -> str | None:
    if type(value) is float:
        return str(int(value)) if value.is_integer() else repr(value)
    s = text(value)
    if s is None:
        return None
    return s.translate(_INNER_SPACE)


_NUMBER_NOISE = str.maketrans("", "", ",，元¥￥人户口年 ")


def _number_text(value: Any) -> str | None:
    s = text(value)
    if s is None:
        return None
    return s.translate(_NUMBER_NOISE)


def integer(value: Any) -> int | Problem | None:
    if type(value) is float:
        if value.is_integer():
            return int(value)
        return _refused("not_an_integer", f"应为整数，得到 {value:g}。请填写整数。")
    if type(value) is int:
        return value
    s = _number_text(value)
    if s is None:
        return None
    try:
        return int(s)
    except ValueError:
        pass
    try:
        f = float(s)
    except ValueError:
        return _refused("not_a_number", "应为整数，请只填写数字（不要写文字）。")
    if f.is_integer():
        return int(f)
    return _refused("not_an_integer", f"应为整数，得到 {s}。请填写整数。")


_CENT = Decimal("0.01")


def decimal(value: Any) -> Decimal | Problem | None:
    """Money in yuan, to the cent."""
    return _hundredths(value, "应为金额数字（元），请只填写数字。")


def area(value: Any) -> Decimal | Problem | None:
    """A floor area in m², to 0.01 m² (a trailing m²/平方米/㎡ is allowed)."""
    return _hundredths(
        value, "应为面积数字（平方米），如 85 或 96.5，请只填写数字。", _without_area_unit
    )


def _without_area_unit(s: str) -> str:
    return s.removesuffix("平方米").removesuffix("平米").rstrip("m²㎡2M")


def _hundredths(
    value: Any, message: str, unit: Callable[[str], str] | None = None
) -> Decimal | Problem | None:
    """A decimal number to 0.01 (``unit`` drops a unit written after it)."""
    if type(value) is float:
        return Decimal(repr(value)).quantize(_CENT)
    if type(value) is int:
        return Decimal(value)
    s = _number_text(value)
    if s is None:
        return None
    if unit is not None:
        s = unit(s)
    try:
        return Decimal(s).quantize(_CENT)
    except InvalidOperation:
        return _refused("not_a_number", message)


def _float(value: Any, marks: str, message: str) -> float | Problem | None:
    if type(value) is float:
        return value
    if type(value) is int:
        return float(value)
    s = _number_text(value)
    if s is None:
        return None
    try:
        amount = float(s.rstrip(marks))
    except ValueError:
        amount = math.nan
    if not math.isfinite(amount):
        return _refused("not_a_number", message)
    return amount


def number(value: Any) -> float | Problem | None:
    """Decimal degrees (lon/lat); a trailing ° is allowed."""
    return _float(value, "°", "应为十进制度数（如 112.85），请只填写数字。")


def quantity(value: Any) -> float | Problem | None:
    """A measured amount (capacity in t/h or MW): any decimal number, units kept in the header."""
    return _float(value, "", "应为数字（如 20 或 1.4），请只填写数字，单位写在表头中。")


# --------------------------------------------------------------------------
# Dates: (date, precision) where precision is "day" or "month"
# --------------------------------------------------------------------------

_EXCEL_EPOCH = date(1899, 12, 30)
_TEXT_DATE = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*(?:[-/.月]\s*(?:(\d{1,2})\s*[日号]?)?)?"
    r"(?:[T\s]+\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?"
)
DATE_FORMS = "2021-06-30、2021/6/30、2021.6.30、2021年6月30日、20210630 或 2021.06"


def _bad_date(shown: Any) -> Problem:
    return _refused(
        "invalid_date",
        f"无法识别的日期“{shown}”。请填写日期，如 {DATE_FORMS}，或把单元格设置为日期格式。",
    )


def _make(y: int, m: int, d: int | None, shown: Any) -> tuple[date, str] | Problem:
    try:
        if d is None:
            return date(y, m, 1), "month"
        return date(y, m, d), "day"
    except ValueError:
        return _bad_date(shown)


def _serial(n: float, shown: Any) -> tuple[date, str] | Problem:
    if 20000 <= n <= 80000:  # 1954 … 2119 as Excel serials
        return _EXCEL_EPOCH + timedelta(days=int(n)), "day"
    return _bad_date(shown)


def date_value(value: Any) -> tuple[date, str] | Problem | None:
    """Excel date cells and serials and the text forms of import.md."""
    if isinstance(value, datetime):
        return value.date(), "day"
    if isinstance(value, date):
        return value, "day"
    if type(value) is float or type(value) is int:
        if value.is_integer() if type(value) is float else True:
            n = int(value)
            if 19000101 <= n <= 21001231:
                return _make(n // 10000, n // 100 % 100, n % 100, n)
            if 190001 <= n <= 210012:
                return _make(n // 100, n % 100, None, n)
            return _serial(n, n)
        if 1900 < value < 2100:  # 2021.06 typed as a number
            y, _, m = f"{value:.2f}".partition(".")
            return _make(int(y), int(m), None, value)
        return _serial(value, value)
    if isinstance(value, time | timedelta):
        return _bad_date(value)
    s = text(value)
    if s is None:
        return None
    if s.isdigit():
        n = int(s)
        if len(s) == 8:
            return _make(n // 10000, n // 100 % 100, n % 100, s)
        if len(s) == 6:
            return _make(n // 100, n % 100, None, s)
        if len(s) == 5:
            return _serial(n, s)
        return _bad_date(s)
    m = _TEXT_DATE.fullmatch(s)
    if not m:
        return _bad_date(s)
    day = m.group(3)
    return _make(int(m.group(1)), int(m.group(2)), int(day) if day else None, s)


# --------------------------------------------------------------------------
# Choices (status, route, operation, reason)
# --------------------------------------------------------------------------


def choice(field: Field) -> Callable[[Any], str | Problem | None]:
    """A cleaner for one choice field, memoising raw word → value (values repeat a lot)."""
    words: Mapping[str, str] = field.values
    allowed = "、".join(dict.fromkeys(_labels_of(field)))

    # A refused word is remembered too (its Problem has no place).  Typed: True, 1 and 1.0
    # are equal as dict keys but not as cells (text(True) is "True").
    @functools.lru_cache(maxsize=None, typed=True)
    def clean(value: Any) -> str | Problem | None:
        s = text(value)
        if s is None:
            return None
        found = words.get(normalise_word(s))
        if found is None:
            return _refused(
                "unknown_value", f"“{s[:30]}”不是可用的{field.label}。请填写：{allowed}。"
            )
        return found

    return clean


def _labels_of(field: Field) -> list[str]:
    """The words a refusal lists: the field's offered words, else its distinct values."""
    if field.labels:
        return list(field.labels.values())
    return list(dict.fromkeys(field.values.values()))


# Fields whose values are mostly distinct (names, ID numbers): memoising would only cost.
DISTINCT = frozenset(
    {
        "head_name",
        "id_number",
        "phone",
        "address",
        "household_no",
        "note",
        "power_account",
        "gas_account",
    }
)
# Raw values remembered per field (dates, villages, amounts repeat a lot).
MEMO_SIZE = 20_000


def cleaner_for(field: Field) -> Callable[[Any], Any]:
    """The cleaning function for a field's kind (memoised unless values are mostly distinct).

    A refused cell gives a ``Problem`` without a place (memoised like a value:
    the caller places a copy).
    """
    fn = _cleaner(field)
    if field.name in DISTINCT or field.kind == "choice":
        return fn
    # Typed, so that a TRUE cell is not cleaned as the 1.0 seen before it (or the reverse).
    return functools.lru_cache(maxsize=MEMO_SIZE, typed=True)(fn)


def _cleaner(field: Field) -> Callable[[Any], Any]:
    if field.kind == "choice":
        return choice(field)
    return {
        "text": text,
        "code": code,
        "id_number": id_number,
        "phone": phone,
        "int": integer,
        "decimal": decimal,
        "float": number,
        "quantity": quantity,
        "area": area,
        "date": date_value,
    }[field.kind]


# --------------------------------------------------------------------------
# Rows that are not data
# --------------------------------------------------------------------------

SUBTOTAL_WORDS = frozenset(
    w
    for base in ("合计", "小计", "总计")
    for w in (base, base[0] + " " + base[1], base[0] + "\u3000" + base[1], base + ":", base + "：")
)
FOOTER_PREFIXES = (
    "填表人",
    "审核人",
    "制表人",
    "填报人",
    "负责人",
    "注:",
    "注：",
    "说明:",
    "说明：",
    "备注:",
    "备注：",
)


def skip_reason(raw: list[Any]) -> str | None:
    """ "blank" | "subtotal" | "footer" when a row is not a household, else None."""
    if not any(raw):
        return "blank"
    if not SUBTOTAL_WORDS.isdisjoint(raw):
        return "subtotal"
    for c in raw:
        if c == "" or c is None:
            continue
        if type(c) is str:
            s = c.strip(WHITESPACE)
            if not s:
                continue
            if s.startswith(FOOTER_PREFIXES):
                return "footer"
            if s.endswith(("合计", "小计", "总计")) and len(s) <= 12:
                return "subtotal"
        return None
    return "blank"
