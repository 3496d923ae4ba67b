"""The first sheet's declared size stands in for reading every cell reference — only when sound."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import date

import pytest

from imports.dimensions_xlsx import declared_xlsx_sheet, scan_xlsx_sheet
from imports.ledger_references import LedgerReferences
from imports.pipeline import parse_ledger_file
from imports.readers import ReadLimits
from tests.support.ledgers import ledger_xlsx, with_check_digit

HEADER = [
    "村",
    "户号",
    "户主姓名",
    "身份证号",
    "改造状态",
    "改造方式",
    "完工日期",
    "设备补贴（元）",
]


def ledger(n: int) -> bytes:
    rows = [
        [
            "南街村" if i % 3 else "东街村",
            f"A{i:05}",
            f"户主{i}",
            with_check_digit(f"14040519800101{i % 1000:03}") if i % 7 else None,
            ["已完工", "未改造", "施工中"][i % 3],
            "煤改电" if i % 3 == 0 else None,
            "2021-06-30" if i % 3 == 0 else None,
            3000 if i % 5 == 0 else None,
        ]
        for i in range(n)
    ]
    rows[5][2] = None  # a row with a problem among them
    return ledger_xlsx(rows, header=HEADER)


def sheet_xml(data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return zf.read("xl/worksheets/sheet1.xml")


def test_an_openpyxl_ledger_is_measured_by_its_declaration() -> None:
    xml = sheet_xml(ledger(300))
    declared = declared_xlsx_sheet(io.BytesIO(xml), "台账", 200_000)
    full = scan_xlsx_sheet(io.BytesIO(xml), "台账")
    assert declared is not None
    assert (declared.extent.rows, declared.extent.columns) == (
        full.extent.rows,
        full.extent.columns,
    )
    assert declared.has_formula == full.has_formula


@pytest.mark.parametrize(
    ("dimension", "why"),
    [
        (None, "no declaration"),
        ("A1:H2", "its last cell lies outside (a stale declaration)"),
        ("A1:H400000", "more rows than trusted (the streaming reader needs the full scan)"),
        ("A1:ALM302", "a column past the limit: the full scan words the refusal"),
        ("A1:Z90000", "too sparse for its cells"),
    ],
)
def test_a_doubtful_declaration_is_not_trusted(dimension: str | None, why: str) -> None:
    xml = sheet_xml(ledger(300))
    if dimension:
        xml = with_dimension(xml, dimension)
    else:
        start = xml.index(b"<dimension")
        xml = xml[:start] + xml[xml.index(b"/>", start) + 2 :]
    assert declared_xlsx_sheet(io.BytesIO(xml), "台账", 200_000) is None, why


def with_dimension(xml: bytes, dimension: str) -> bytes:
    start = xml.index(b"<dimension")
    end = xml.index(b"/>", start) + 2
    return xml[:start] + f'<dimension ref="{dimension}"/>'.encode() + xml[end:]


def test_cells_are_counted_exactly_across_reads(monkeypatch) -> None:
    """Trusted only with more than grid / 50 cells, counted a chunk at a time: a token cut
    by a chunk's end is counted once, never twice."""
    from imports import dimensions_xlsx

    xml = sheet_xml(ledger(4_000))
    cells = xml.count(b'<c r="')
    for chunk in (1 << 22, 4096, 97, 13):
        monkeypatch.setattr(dimensions_xlsx, "CHUNK", chunk)
        # A declared grid (8 columns) that needs exactly ``cells`` cells, then one more.
        for need, trusted in ((cells, True), (cells + 1, False)):
            rows = -(-50 * (need - 1) // 8)
            sheet = io.BytesIO(with_dimension(xml, f"A1:H{rows}"))
            found = declared_xlsx_sheet(sheet, "台账", 200_000)
            assert (found is not None) == trusted, (chunk, need)


def test_the_trusted_and_the_full_measure_parse_the_same(tiny_district_refs) -> None:
    data = ledger(2_000)
    limits = ReadLimits(max_mb=50, max_rows=100_000, max_unzipped_mb=500)
    full = parse_ledger_file(data, "台账.xlsx", tiny_district_refs, limits)
    trusted = parse_ledger_file(
        data, "台账.xlsx", tiny_district_refs, replace(limits, trust_declared=True)
    )
    assert [list(r) for r in trusted.rows] == [list(r) for r in full.rows]
    assert [i.message for i in trusted.all_issues()] == [i.message for i in full.all_issues()]
    assert any(r.rejected for r in full.rows)


@pytest.fixture
def tiny_district_refs(runtime, tiny_district) -> LedgerReferences:
    with runtime.session() as session:
        return LedgerReferences.load(session, "140405001", date(2024, 1, 15))
