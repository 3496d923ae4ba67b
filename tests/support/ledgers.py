"""Ledgers as clerks send them (written by openpyxl), ID numbers, batch rows."""

from __future__ import annotations

import hashlib
import io
from typing import Any

from openpyxl import Workbook
from sqlalchemy import select

from heating.models import ImportBatch, StoredFile, Township
from heating.runtime import Runtime


def add_batch(runtime: Runtime, township_code: str, *, status: str = "committed") -> int:
    """A batch row of a township, as the import would leave it."""
    data = f"ledger of {township_code} {status}".encode()
    sha = hashlib.sha256(data).hexdigest()
    with runtime.session() as session:
        if session.get(StoredFile, sha) is None:
            session.add(StoredFile(sha256=sha, size=len(data), content=data))
            session.flush()
        township = session.scalar(select(Township).where(Township.code == township_code))
        batch = ImportBatch(
            kind="ledger",
            township_id=township.id,
            file_name=f"{township.name}台账.xlsx",
            sha256=sha,
            size=len(data),
            status=status,
            counts={"rows": 1, "new": 1, "updated": 0, "unchanged": 0, "rejected": 0},
            issues=[],
        )
        session.add(batch)
        session.flush()
        return batch.id


LEDGER_HEADER = [
    "村名",
    "户号",
    "户主姓名",
    "身份证号",
    "联系电话",
    "改造状态",
    "改造方式",
    "完工日期",
]


def ledger_xlsx(
    rows: list[list[object]],
    *,
    title: str | None = "麟绛街道清洁取暖台账",
    header: list[str] = LEDGER_HEADER,
) -> bytes:
    """An .xlsx ledger written by openpyxl, with a title row above the header as clerks do."""
    wb = Workbook()
    ws = wb.active
    ws.title = "台账"
    if title:
        ws.append([title])
    ws.append(header)
    for row in rows:
        ws.append(row)
    for cell in ws["D"]:
        cell.number_format = "@"
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def with_check_digit(body17: str) -> str:
    """A valid 18-digit ID number (GB 11643 check digit) for a 17-digit body."""
    total = sum(int(d) * w for d, w in zip(body17, ID_WEIGHTS, strict=True))
    return body17 + "10X98765432"[total % 11]


def id_number(seed: int) -> str:
    """A valid 18-digit ID number from a seed."""
    return with_check_digit(
        f"140405199{seed % 10}{(seed // 10) % 12 + 1:02d}{seed % 28 + 1:02d}{seed % 1000:03d}"
    )


def bad_id_number(seed: int) -> str:
    """An ID number whose check digit is wrong."""
    good = id_number(seed)
    return good[:-1] + ("0" if good[-1] != "0" else "1")


def workbook_xlsx(*sheets: tuple[str, list[list[Any]]], hidden: tuple[str, ...] = ()) -> bytes:
    """A workbook with the given (name, rows) sheets, written by openpyxl."""
    wb = Workbook()
    wb.remove(wb.active)
    for name, rows in sheets:
        ws = wb.create_sheet(name)
        for r in rows:
            ws.append(r)
        if name in hidden:
            ws.sheet_state = "hidden"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
