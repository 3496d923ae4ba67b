"""Reading real ledgers: formats, headers, cleaning, skipped rows (files written by real tools)."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl
import pytest

from heating.config import load_config
from imports.issues import LedgerRejected
from imports.pipeline import ParsedLedger, parse_ledger

TODAY = date(2024, 1, 15)
HEADER = ["序号", "村", "户号", "户主姓名", "身份证号", "改造状态", "改造方式", "完工日期"]


def xlsx(rows: list[list], *, title: str | None = None, sheet: str = "台账") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = sheet
    if title:
        ws.append([title])
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def parse(runtime, tiny_district):
    """parse_ledger on the tiny district as clerk of 麟绛街道 (140405001) unless told."""

    def run(data: bytes, name: str = "台账.xlsx", township: str | None = "140405001", **cfg):
        config = load_config(overrides=cfg, environ={})
        with runtime.session() as session:
            return parse_ledger(
                data, name, session=session, config=config, township_code=township, today=TODAY
            )

    return run


def codes(parsed: ParsedLedger) -> list[tuple[int | None, str]]:
    return [(i.row, i.code) for i in parsed.all_issues() if i.severity != "note"]


def test_plain_xlsx_with_title_row_reads_every_household(parse):
    data = xlsx(
        [
            HEADER,
            [1, "南街村", "A001", "张三", None, "已完工", "煤改电", "2021-06-30"],
            [2, "东街", "A002", "李四", None, "未改造", None, None],
        ],
        title="麟绛街道2021年清洁取暖改造台账",
    )
    parsed = parse(data)
    assert [s.header_row for s in parsed.sheets] == [2]
    assert parsed.sheets[0].ignored_columns == ["序号"]
    assert [r.row for r in parsed.rows] == [3, 4]
    first = parsed.rows[0]
    assert first.values["status"] == "completed"
    assert first.values["completed_on"] == date(2021, 6, 30)
    assert first.values["completed_on_precision"] == "day"
    assert first.village_id is not None and first.key == "no:A001"
    assert first.extra == {"序号": "1"}
    assert codes(parsed) == []
    assert parsed.sha256 and parsed.skipped == 0
