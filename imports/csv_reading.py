"""Read a CSV ledger: the encoding guessed (UTF-8, else GB18030), the dialect sniffed.

Rows are streamed like a spreadsheet's (``imports.raw_sheet.RawSheet``); a file
with more lines than the row limit, a line no ledger row could be, or a row
wider than the column limit is refused before it is parsed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import PurePath
from typing import Any

from imports.dimensions import MAX_COLUMNS, MAX_LINE_CHARS, SheetExtent, check_extent
from imports.file_kinds import corrupt
from imports.issues import LedgerRejected
from imports.raw_sheet import HEAD_ROWS, ROW_HEADROOM, RawSheet, padded, too_many_rows


def decode_text(data: bytes, file_name: str) -> str:
    """UTF-8 (with or without BOM), else GB18030 (a superset of GBK)."""
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        raise LedgerRejected(
            f"文件“{file_name}”的文字编码无法识别（既不是 UTF-8 也不是 GBK）。"
            "请在 Excel 或 WPS 中打开后另存为 .xlsx，或另存为“CSV UTF-8”再上传。",
            code="file_encoding",
        ) from None


def read_csv(data: bytes, file_name: str, max_rows: int) -> RawSheet:
    text = decode_text(data, file_name)
    sample = text[:16384]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters=",\t;|")
    except csv.Error:
        dialect = csv.excel
    # Count the lines first (cheap, in C) so that a huge file is refused before parsing.
    lines = text.count("\n") + 1
    if lines > max_rows + ROW_HEADROOM:
        raise too_many_rows(file_name, lines, max_rows)
    name = PurePath(file_name).stem or "CSV"
    reader = csv.reader(_csv_lines(text, file_name), dialect)
    head: list[list[Any]] = []
    try:
        for row in reader:
            if len(row) > MAX_COLUMNS:
                raise _csv_too_wide(file_name, reader.line_num, len(row))
            head.append(row)
            if len(head) >= HEAD_ROWS:
                break
    except csv.Error:
        raise corrupt(file_name) from None
    # The header lies in the head: pad every row to the widest of its rows.
    width = max((len(r) for r in head), default=0)
    # Every row is padded to the head's width: a dense grid of lines × width cells.
    check_extent(SheetExtent(name, lines, width, lines * width), file_name)
    for r in head:
        if len(r) < width:
            r.extend([""] * (width - len(r)))
    rest = padded(_csv_rows(reader, file_name), 0, width)
    return RawSheet(name, True, head, lines, None, set(), rest)


def _csv_lines(text: str, file_name: str) -> Iterator[str]:
    """The file's lines for the csv module, refusing a line no ledger row could be."""
    for number, line in enumerate(io.StringIO(text, newline=""), 1):
        if len(line) > MAX_LINE_CHARS:
            raise LedgerRejected(
                f"文件“{file_name}”第 {number} 行长达 {len(line):,} 个字符"
                f"（上限 {MAX_LINE_CHARS:,}），不是台账的一行，已拒绝读取。"
                "请确认这是每户一行的台账 CSV 文件，或在 Excel 中打开后另存为 .xlsx 再上传。",
                code="file_too_complex",
            )
        yield line


def _csv_too_wide(file_name: str, line: int, fields: int) -> LedgerRejected:
    return LedgerRejected(
        f"文件“{file_name}”第 {line} 行有 {fields:,} 列，超过 {MAX_COLUMNS:,} 列的上限，已拒绝读取。"
        "台账一般只有几十列：请删除多余的列，或在 Excel 中打开确认分隔符正确后另存为 .xlsx 再上传。",
        code="file_too_complex",
    )


def _csv_rows(reader: Any, file_name: str) -> Iterator[list[Any]]:
    try:
        for row in reader:
            if len(row) > MAX_COLUMNS:
                raise _csv_too_wide(file_name, reader.line_num, len(row))
            yield row
    except csv.Error:
        raise corrupt(file_name) from None
