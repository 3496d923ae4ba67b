"""Stream an .xlsx worksheet's rows from its XML, for sheets too large for python-calamine.

python-calamine builds a sheet's whole grid before the first row reaches
Python (its maintainer: it cannot stream, python-calamine issue #42): a
1M-row, 15-column ledger costs ≈ 1.4 GB in the parsing child while it is
built.  Above ``STREAM_ROWS`` rows (``imports.readers``) an .xlsx sheet is
read here instead, a decompressed chunk at a time, and only one row's list
is alive at once.  openpyxl's read-only mode streams too but costs ≈ 10 ×
calamine (``shared/pitfalls.md``); an expat handler makes five Python calls
per cell.  This reader finds the cells with one regular expression per
chunk (``findall``, no match objects) and turns the common forms (``<v>``,
``<is><t>``) into values without a second parse, ≈ 2–3 × calamine's CPU.

It must give exactly the values the calamine path gives (a parse may switch
readers at the threshold): numbers as floats, booleans, text unescaped,
inline and shared strings (rich-text runs joined, phonetic runs left out),
date-formatted numbers as ``date``/``datetime``/``time``/``timedelta`` by
calamine's own rules for number formats (1900 and 1904 systems), formula
cells as their cached value, errors as calamine's words, cells without a
value as "".  Rows are absolute (row 1 first) and padded to the sheet's
width; the rows after the last cell with a value are not yielded, as
calamine's grid ends there.  Merged ranges and hidden rows are no concern
here: calamine yields every row and fills no merged cell either.

Only worksheets whose every cell carries its ``r="A1"`` reference first
(Excel, WPS, LibreOffice, openpyxl, xlsxwriter all write it; the dimension
scan knows) are streamed; rows must come in order (an out-of-order file is
refused as Excel itself refuses it).  Shared strings are kept as one UTF-8
buffer with offsets (≈ their size in the file), not a million ``str``.
"""

from __future__ import annotations

import codecs
import html
import re
import zipfile
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from defusedxml import ElementTree as SafeET

from imports.file_kinds import corrupt
from imports.issues import column_index

# Above this many rows (the sheet's extent from the dimension scan) an .xlsx sheet is streamed.
STREAM_ROWS = 200_000
# Decompressed XML read at a time.  Each chunk lives as text, its slices and the regular
# expression's matches (≈ 10 × the chunk while it is parsed): 1 MB keeps that near 10 MB
# (4 MB cost ≈ 45 MB of the child's peak) for the same CPU.
CHUNK = 1 << 20

_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_EPOCH = datetime(1899, 12, 30)
_OTHER, _DATE, _DURATION = 0, 1, 2


@dataclass
class XlsxBook:
    """What every worksheet of one workbook needs to turn cells into values."""

    strings: SharedStrings
    styles: list[int]  # per cellXfs index: _OTHER, _DATE or _DURATION
    is_1904: bool


class SharedStrings:
    """The shared-string table as one UTF-8 buffer and offsets: ≈ 1 byte per byte of text.

    A Python ``str`` per entry costs ≈ 50 bytes more; a 1M-row ledger saved
    by Excel has several million distinct strings (names, IDs, addresses).
    """

    def __init__(self) -> None:
        self._data = bytearray()
        self._ends = array("q", [0])

    def append(self, text: str) -> None:
        self._data += text.encode("utf-8", "surrogatepass")
        self._ends.append(len(self._data))

    def __len__(self) -> int:
        return len(self._ends) - 1

    def __getitem__(self, i: int) -> str:
        return self._data[self._ends[i] : self._ends[i + 1]].decode("utf-8", "surrogatepass")


def open_book(zf: zipfile.ZipFile) -> XlsxBook:
    """Shared strings, the date styles and the date system of an xlsx (read once per file)."""
    names = set(zf.namelist())
    strings = SharedStrings()
    sst = next((n for n in ("xl/sharedStrings.xml", "xl/SharedStrings.xml") if n in names), None)
    if sst is not None:
        with zf.open(sst) as fh:
            _read_shared_strings(fh, strings)
    styles = _date_styles(zf.read("xl/styles.xml")) if "xl/styles.xml" in names else []
    is_1904 = False
    workbook = SafeET.fromstring(zf.read("xl/workbook.xml"))
    for el in workbook.iter():
        if el.tag.endswith("}workbookPr") or el.tag == "workbookPr":
            is_1904 = (el.get("date1904") or "").lower() in ("1", "true")
    return XlsxBook(strings, styles, is_1904)


# --------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------

_PHONETIC = re.compile(r"<(\w+:)?rPh\b.*?</(\w+:)?rPh>", re.S)
_TEXT = re.compile(r"<(?:\w+:)?t(?:\s[^>]*)?>(.*?)</(?:\w+:)?t>|<(?:\w+:)?t\s*/>", re.S)
_OOXML_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _text(raw: str) -> str:
    """XML character data as a string: entities, line ends and ``_xHHHH_`` escapes undone."""
    if "&" in raw:
        raw = html.unescape(raw)
    if "\r" in raw:
        raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    if "_x" in raw:
        raw = _OOXML_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), raw)
    return raw


def _rich_text(inner: str) -> str:
    """The text of an ``<si>`` or ``<is>``: its ``<t>`` runs joined, phonetic runs left out."""
    if "<![CDATA[" in inner:
        raise _Unusual
    if "rPh" in inner:
        inner = _PHONETIC.sub("", inner)
    return "".join(_text(t) for t in _TEXT.findall(inner))


class _Unusual(Exception):
    """A construct this reader does not handle (CDATA): the file is read by calamine instead."""


_SI = re.compile(r"<(?:\w+:)?si>(.*?)</(?:\w+:)?si>|<(?:\w+:)?si\s*/>", re.S)


def _read_shared_strings(fh: Any, strings: SharedStrings) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    carry = ""
    while True:
        chunk = fh.read(CHUNK)
        text = carry + decoder.decode(chunk, final=not chunk)
        if chunk:
            cut = max(text.rfind("</si>"), text.rfind("/si>"))  # also prefixed </x:si>
            cut = text.find(">", cut) + 1 if cut >= 0 else 0
            block, carry = text[:cut], text[cut:]
        else:
            block, carry = text, ""
        for inner in _SI.findall(block):
            if inner.startswith("<t>") and inner.endswith("</t>") and "<" not in inner[3:-4]:
                strings.append(_text(inner[3:-4]))
            else:
                strings.append(_rich_text(inner))
        if not chunk:
            return


# --------------------------------------------------------------------------
# Number formats (calamine's rules: formats.rs, detect_custom_number_format)
# --------------------------------------------------------------------------


def format_kind(code: str) -> int:
    """Whether a custom number format shows a date/time, a duration, or neither (calamine's rules).

    Only the first section counts; quoted text, escaped (``\\``), skipped
    (``_``) and fill (``*``) characters are literals; ``[h]``-style brackets
    make a duration; any of d m h y s outside brackets makes a date, as does
    ``A/P``-style am/pm.
    """
    escaped = quoted = ampm = hms = False
    brackets = 0
    prev = " "
    for ch in code:
        if escaped:
            escaped = False
        elif ch in "_\\*":
            escaped = True
        elif quoted:
            if ch == '"':
                quoted = False
        elif ch == '"':
            quoted = True
        elif ch == ";":
            return _OTHER
        elif ch == "[":
            brackets += 1
        elif ch == "]" and brackets == 1 and hms:
            return _DURATION
        elif ch == "]":
            brackets = max(0, brackets - 1)
        elif ch in "aA" and not ampm and brackets == 0:
            ampm = True
        elif (
            ch in "pmPM/"
            and ampm
            and brackets == 0
            or ch in "dmhysDMHYS"
            and not ampm
            and brackets == 0
        ):
            return _DATE
        elif not (hms and ch.lower() == prev.lower()):
            hms = prev == "[" and ch in "mhsMHS"
        prev = ch
    return _OTHER


def _builtin_kind(number_format_id: str) -> int:
    if number_format_id == "46":
        return _DURATION
    if number_format_id in ("14", "15", "16", "17", "18", "19", "20", "21", "22", "45", "47"):
        return _DATE
    return _OTHER


def _date_styles(xml: bytes) -> list[int]:
    """Per cell style (``s``): what its number format makes of a number."""
    root = SafeET.fromstring(xml)
    custom: dict[str, str] = {}
    kinds: list[int] = []
    for el in root:
        local = el.tag.rsplit("}", 1)[-1]
        if local == "numFmts":
            for fmt in el:
                custom[fmt.get("numFmtId", "")] = fmt.get("formatCode", "")
        elif local == "cellXfs":
            for xf in el:
                fid = xf.get("numFmtId", "0")
                kinds.append(format_kind(custom[fid]) if fid in custom else _builtin_kind(fid))
    return kinds


def excel_date(value: float, kind: int, is_1904: bool) -> Any:
    """A date-formatted number as python-calamine gives it (date, datetime, time or timedelta)."""
    if kind == _DURATION:
        return timedelta(milliseconds=round(value * 86_400_000))
    serial = value
    if is_1904:
        serial += 1462
    elif serial < 60:
        serial += 1  # Excel's 1900-02-29 that never was: serials below it count from 12-31
    try:
        moment = _EPOCH + timedelta(milliseconds=round(serial * 86_400_000))
    except OverflowError:
        return value
    if value < 1:
        return moment.time()
    if moment.time() == time(0):
        return moment.date()
    return moment


# --------------------------------------------------------------------------
# Cells and rows
# --------------------------------------------------------------------------

_ATTR = re.compile(r'\b([st])="([^"]*)"')
_VALUE = re.compile(r"<(?:\w+:)?v(?:\s[^>]*)?>(.*?)</(?:\w+:)?v>", re.S)
_INLINE = re.compile(r"<(?:\w+:)?is>(.*?)</(?:\w+:)?is>", re.S)


def cell_pattern(prefix: str) -> re.Pattern[str]:
    """One cell with its reference first.

    Groups: column letters, row number, the other attributes, then the
    content in one of three places: a lone ``<v>`` (numbers, shared
    strings), a lone plain ``<is><t>`` (inline text), or anything else
    (formulas, rich text, escapes: ``_Cells.value``).  A cell without
    content (``<c …/>``) has all three empty.
    """
    p = re.escape(prefix)
    return re.compile(
        rf'<{p}c r="([A-Z]{{1,3}})([0-9]{{1,7}})"([^>]*?)'
        rf"(?:/>|>(?:<{p}v>([^<]+)</{p}v>|<{p}is><{p}t>([^<]+)</{p}t></{p}is>|(.*?))</{p}c>)",
        re.S,
    )


class _Cells:
    """Turns a cell's type, style and content into its value (caches per attribute string)."""

    def __init__(self, book: XlsxBook, file_name: str) -> None:
        self.book = book
        self.file_name = file_name
        self.kinds: dict[str, tuple[str, int]] = {}

    def kind(self, attrs: str) -> tuple[str, int]:
        found = self.kinds.get(attrs)
        if found is None:
            values = dict(_ATTR.findall(attrs))
            style = values.get("s", "")
            styles = self.book.styles
            date = styles[int(style)] if style.isdigit() and int(style) < len(styles) else _OTHER
            found = self.kinds[attrs] = (values.get("t", "n"), date)
        return found

    def value(self, attrs: str, inner: str) -> Any:
        kind, dated = self.kind(attrs)
        if kind == "inlineStr":
            if (
                inner.startswith("<is><t>")
                and inner.endswith("</t></is>")
                and "<" not in inner[7:-9]
            ):
                return _text(inner[7:-9])
            found = _INLINE.search(inner)
            return _rich_text(found.group(1)) if found else ""
        if inner.startswith("<v>") and inner.endswith("</v>") and "<" not in inner[3:-4]:
            raw = inner[3:-4]
        else:
            found = _VALUE.search(inner)
            if found is None:
                return ""
            raw = found.group(1)
        if kind == "n":
            try:
                number = float(raw)
            except ValueError:
                return ""
            return excel_date(number, dated, self.book.is_1904) if dated else number
        if kind == "s":
            try:
                return self.book.strings[int(raw)]
            except (ValueError, IndexError):
                return ""
        if kind == "str":
            return _text(raw)
        if kind == "b":
            return raw.strip() in ("1", "true")
        if kind == "e":
            return ""  # python-calamine gives an error cell as ""
        if kind == "d":
            return _iso_date(raw.strip())
        return _text(raw)


def _iso_date(raw: str) -> Any:
    try:
        moment = datetime.fromisoformat(raw.rstrip("Z"))
    except ValueError:
        return raw
    return moment.date() if "T" not in raw and " " not in raw else moment


def stream_rows(
    zf: zipfile.ZipFile,
    path: str,
    book: XlsxBook,
    *,
    width: int,
    prefix: str = "",
    file_name: str = "",
) -> Iterator[list[Any]]:
    """Every row of one worksheet from row 1, ``width`` cells each, as calamine's grid has them.

    Blank rows between rows with values are yielded as they come; blank
    rows after the last value are not (calamine's grid ends there).
    """
    pattern = cell_pattern(prefix)
    cells = _Cells(book, file_name)
    kinds = cells.kinds
    strings = book.strings
    is_1904 = book.is_1904
    columns: dict[str, int] = {}
    end_tag = f"</{prefix}c>"
    decoder = codecs.getincrementaldecoder("utf-8")("strict")
    blank = [""] * width
    row: list[Any] | None = None
    row_key = ""  # the current row's number as written
    number = 0  # the current row's number
    emitted = 0  # rows yielded so far
    with zf.open(path) as fh:
        carry = ""
        while True:
            chunk = fh.read(CHUNK)
            text = carry + decoder.decode(chunk, final=not chunk)
            if chunk:
                cut = text.rfind(end_tag)
                cut = cut + len(end_tag) if cut >= 0 else 0
                block, carry = text[:cut], text[cut:]
            else:
                block, carry = text, ""
            for letters, key, attrs, v, t, inner in pattern.findall(block):
                # The common cells inline (a million rows × 15 cells): a number, a
                # shared string, plain inline text; everything else through _Cells.
                kind = kinds.get(attrs) or cells.kind(attrs)
                if v:
                    if kind[0] == "n":
                        try:
                            value: Any = float(v)
                        except ValueError:
                            value = ""
                        if kind[1] and value != "":
                            value = excel_date(value, kind[1], is_1904)
                    elif kind[0] == "s":
                        try:
                            value = strings[int(v)]
                        except (ValueError, IndexError):
                            value = ""
                    else:
                        value = cells.value(attrs, f"<v>{v}</v>")
                elif t:
                    if kind[0] == "inlineStr":
                        value = _text(t) if "&" in t or "\r" in t or "_x" in t else t
                    else:
                        value = cells.value(attrs, f"<is><t>{t}</t></is>")
                elif inner:
                    value = cells.value(attrs, inner)
                    if value == "" and not _counts_when_empty(attrs, inner):
                        continue  # holds nothing: opens no row (calamine's grid ends before it)
                else:
                    continue  # <c …/>: a style only
                if key != row_key:
                    n = int(key)
                    if n < number:
                        raise corrupt(file_name)
                    if row is not None and n != number:
                        yield row
                        emitted += 1
                    if n != number:
                        while emitted < n - 1:
                            yield blank.copy()
                            emitted += 1
                        row = blank.copy()
                    number, row_key = n, key
                col = columns.get(letters)
                if col is None:
                    col = columns[letters] = column_index(letters)
                if col < width and row is not None:
                    row[col] = value
            if not chunk:
                break
    if row is not None:
        yield row


def _counts_when_empty(attrs: str, inner: str) -> bool:
    """Whether a cell whose value reads "" still extends calamine's grid (empty text does)."""
    return 't="s"' in attrs or 't="str"' in attrs or ("<is>" in inner and 't="inlineStr"' in attrs)
