"""The ledger date (台账日期) of an upload: given, written in the file, or the upload day.

A batch has one ledger date: the day its ledger describes ("数据截至").  It
is, in this order of precedence:

1. the option (``--ledger-date``, the upload form's ``ledger_date``);
2. a date in the title or note rows above the header of the first sheet
   that has a header;
3. a date in the file name;
4. the upload day.

Only these count as a date in a title or a file name (anything else, a bare
year included, is not a date):

- a date introduced by 截至 / 截止 / 数据截至: 截至2021年10月31日,
  截止2021.10.31, 截至2021-10-31, 截止日期：20211031;
- a full date in brackets: （2021-10-31）, (2021.10.31), 【2021年10月31日】;
- YYYY年M月底: the last day of that month;
- YYYY年度: a past year means that year's report cut-off (``report_cutoff``),
  the current year the upload day.

A date after 填报 / 填表 / 制表 / 打印 (the day the form was filled or
printed) is ignored.  A date after the upload day is not used: a warning,
and the upload day.  Different dates on different sheets are an error
(``ledger_date_conflict``); a title and a file name that disagree are a
warning naming both (the title wins).

Pure functions: no database, no files.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import PurePath

from heating.config import cutoff_of
from heating.errors import Refused
from imports.issues import Problem

SOURCES = ("option", "title", "file_name", "upload_day")
SOURCE_LABELS = {
    "option": "导入时指定",
    "title": "取自表格标题",
    "file_name": "取自文件名",
    "upload_day": "文件中未写明，按上传当日",
}
EARLIEST = date(2000, 1, 1)
FORMS = "2021-10-31、2021.10.31、2021/10/31、2021年10月31日 或 20211031"

_FULL = (
    r"(?P<y>\d{4})\s*(?:年\s*(?P<m1>\d{1,2})\s*月\s*(?P<d1>\d{1,2})\s*日?"
    r"|[-./](?P<m2>\d{1,2})[-./](?P<d2>\d{1,2})"
    r"|(?P<m3>\d{2})(?P<d3>\d{2}))"
)
_TOKENS = re.compile(
    r"(?P<cut>截至|截止)"
    r"|(?P<fill>填报|填表|制表|打印)"
    r"|(?<!\d)(?P<me_y>\d{4})\s*年\s*(?P<me_m>\d{1,2})\s*月\s*底"
    r"|(?<!\d)" + _FULL + r"(?!\d)"
    r"|(?<!\d)(?P<plan>\d{4})\s*年度"
)
# What may stand between 截至 and its date: 截止日期：, 截至到 …
_CUT_GAP = re.compile(r"^[\s:]*(?:日期|时间|日|到|至)?[\s:]*$")
_OPEN = "([【〔〖"
_CLOSE = ")]】〕〗"
_OPTION = re.compile(r"^\s*" + _FULL + r"\s*$")


@dataclass(frozen=True)
class Found:
    """A date read from a text: the day, the words that said it, and whether it is ahead."""

    day: date
    words: str  # the words that said it ("截至2021年10月31日")
    exact: bool  # a day or a month's end (not 年度)
    future: bool = False
    text: str = ""  # the whole title row or file name it is in


@dataclass
class Decision:
    """The batch's ledger date, where it came from, and what to tell the clerk."""

    day: date | None  # None only on a conflict (an error)
    source: str | None
    words: str | None = None  # the text it was read from
    sheet: str | None = None
    issues: list[Problem] = field(default_factory=list)

    def describe(self) -> str:
        """One Chinese sentence for the preview: the date and where it came from."""
        if self.day is None:
            return "台账日期无法确定：不同工作表的标题写了不同的日期（见问题清单）。"
        day = self.day.isoformat()
        if self.source == "option":
            return f"台账日期：{day}（导入时指定）。"
        if self.source == "title":
            return f"台账日期：{day}（取自工作表“{self.sheet}”的标题“{self.words}”）。"
        if self.source == "file_name":
            return f"台账日期：{day}（取自文件名“{self.words}”）。"
        return f"台账日期：{day}（文件中未写明数据截至日期，按上传当日）。"


def _day(year: str, month: str, day: str) -> date | None:
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _bracketed(text: str, start: int, end: int) -> bool:
    before = text[:start].rstrip()
    after = text[end:].lstrip()
    return bool(before) and before[-1] in _OPEN and bool(after) and after[0] in _CLOSE


def dates_in(text: str, *, today: date, cutoff: str = "10-31") -> list[Found]:
    """Every ledger date ``text`` states, in order (see the module docstring for the forms)."""
    original = (text or "").strip()
    text = unicodedata.normalize("NFKC", text or "")
    found: list[Found] = []
    context: str | None = None  # the keyword governing the next date
    context_end = 0
    for m in _TOKENS.finditer(text):
        if m.group("cut") or m.group("fill"):
            context = "cut" if m.group("cut") else "fill"
            context_end = m.end()
            continue
        governing, context = context, None
        if governing == "fill":
            continue
        words = text[m.start() : m.end()]
        if m.group("me_y"):
            year, month = int(m.group("me_y")), int(m.group("me_m"))
            if not 1 <= month <= 12:
                continue
            day: date | None = date(year, month, calendar.monthrange(year, month)[1])
            exact = True
        elif m.group("plan"):
            year = int(m.group("plan"))
            if year < today.year:
                day = cutoff_of(year, cutoff)
            elif year == today.year:
                day = today
            else:
                day = date(year, 1, 1)  # ahead of the upload day: refused below
            exact = False
        else:
            introduced = governing == "cut" and _CUT_GAP.match(text[context_end : m.start()])
            if not introduced and not _bracketed(text, m.start(), m.end()):
                continue
            day = _day(
                m.group("y"),
                m.group("m1") or m.group("m2") or m.group("m3"),
                m.group("d1") or m.group("d2") or m.group("d3"),
            )
            exact = True
        if day is None or day < EARLIEST:
            continue
        if governing == "cut":
            words = text[text.rfind("截", 0, m.start()) : m.end()]
        found.append(Found(day, words, exact, future=day > today, text=original))
    return found


def first_date(texts: Iterable[str], *, today: date, cutoff: str = "10-31") -> Found | None:
    """The date a source states: its first exact date, else its first 年度."""
    mentions = [f for t in texts for f in dates_in(t, today=today, cutoff=cutoff)]
    exact = [f for f in mentions if f.exact]
    return (exact or mentions or [None])[0]


def parse_option(text: str) -> date:
    """Read an explicitly given ledger date; ``ValueError`` (Chinese, naming the forms) if unreadable."""
    m = _OPTION.match(unicodedata.normalize("NFKC", text or ""))
    day = None
    if m:
        day = _day(
            m.group("y"),
            m.group("m1") or m.group("m2") or m.group("m3"),
            m.group("d1") or m.group("d2") or m.group("d3"),
        )
    if day is None:
        raise ValueError(f"台账日期应写成 {FORMS}，得到 {text!r}")
    return day


def check_option(day: date, today: date) -> date:
    """Refuse a given ledger date in the future or before 2000 (exit 1, Chinese message)."""
    if day > today:
        raise Refused(
            f"台账日期 {day.isoformat()} 晚于今天（{today.isoformat()}）：台账日期是台账所描述的"
            "那一天（数据截至），不能是将来的日期。请改为台账的截至日期。"
        )
    if day < EARLIEST:
        raise Refused(
            f"台账日期 {day.isoformat()} 早于 2000 年，不像是清洁取暖台账的日期。"
            "请检查年份，改为台账的截至日期。"
        )
    return day


def decide(
    *,
    option: date | None,
    titles: Sequence[tuple[str, Sequence[str]]],
    file_name: str,
    today: date,
    cutoff: str = "10-31",
) -> Decision:
    """Choose the batch's ledger date by the precedence in the module docstring.

    ``titles`` are, per sheet that has a header (in workbook order), the texts
    of its rows above the header.
    """
    if option is not None:
        return Decision(option, "option")
    per_sheet = [
        (sheet, found)
        for sheet, texts in titles
        if (found := first_date(texts, today=today, cutoff=cutoff)) is not None
    ]
    stated = {}
    for sheet, found in per_sheet:
        if not found.future:
            stated.setdefault(found.day, (sheet, found))
    if len(stated) > 1:
        listed = "，".join(
            f"工作表“{sheet}”为 {day.isoformat()}（“{found.words}”）"
            for day, (sheet, found) in stated.items()
        )
        message = (
            f"各工作表标题中的台账日期不一致：{listed}。一个批次只能有一个台账日期："
            "请把不同日期的台账分成不同文件上传，或修改标题，或在导入时指定台账日期"
            "（命令行 --ledger-date，网页上的“台账日期”）。"
        )
        return Decision(None, None, issues=[Problem("error", "ledger_date_conflict", message)])
    stem = PurePath(file_name).stem
    named = first_date([stem], today=today, cutoff=cutoff)
    first_sheet = titles[0][0] if titles else None
    title = next((found for sheet, found in per_sheet if sheet == first_sheet), None)
    if title is not None:
        if title.future:
            return _future(title, today, first_sheet, f"工作表“{first_sheet}”的标题")
        decision = Decision(title.day, "title", title.text, first_sheet)
        if named is not None and not named.future and named.day != title.day:
            decision.issues.append(
                Problem(
                    "warning",
                    "ledger_date_mismatch",
                    f"标题写的台账日期是 {title.day.isoformat()}（“{title.words}”），"
                    f"文件名写的是 {named.day.isoformat()}（“{named.words}”）：按标题，"
                    f"使用 {title.day.isoformat()}。如不对，请在导入时指定台账日期。",
                    first_sheet,
                )
            )
        return decision
    if named is not None:
        if named.future:
            return _future(named, today, None, "文件名")
        return Decision(named.day, "file_name", stem)
    return Decision(today, "upload_day")


def _future(found: Found, today: date, sheet: str | None, where: str) -> Decision:
    message = (
        f"{where}中的台账日期“{found.words}”晚于今天（{today.isoformat()}），不能作为台账日期，"
        f"已按上传当日 {today.isoformat()} 记录。如不对，请在导入时指定台账日期。"
    )
    return Decision(
        today, "upload_day", issues=[Problem("warning", "ledger_date_future", message, sheet)]
    )
