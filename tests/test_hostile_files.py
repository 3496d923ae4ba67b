"""Hostile files: refused with a clear Chinese message, in bounded memory, and the server lives on.

Every file is generated here (small files that declare huge grids).  The
child process that reads uploads gets small limits in these tests
(``CHILD_MB``, ``CHILD_SECONDS``) so that the safety net itself is exercised
quickly: an abort, a memory blow-up and a hang in the child each become a
refusal while the test process (the "server") carries on.

One file of ~690 lines on purpose: a catalogue of small, independent cases (one per kind
of hostile file) that share those limits and the file builders above them.
"""

from __future__ import annotations

import functools
import io
import json
import os
import pickle
import re
import resource
import struct
import subprocess
import sys
import time
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import pytest
import xlwt
from sqlalchemy import func, select

from heating.errors import Refused
from heating.models import Household, ImportBatch
from heating.runtime import open_runtime
from imports.isolation import ChildFailed, ChildLimits, loads_checked, run_isolated
from imports.issues import CODES, LedgerRejected
from imports.pipeline import parse_ledger
from imports.readers import ReadLimits
from tests.support.ledgers import id_number, ledger_xlsx
from tests.support.web import upload

CHILD_MB = 768
CHILD_SECONDS = 20
MAX_FEATURES = 50
TOWNSHIP = "140405001"
LEDGER_HEADER = "户主姓名,改造状态,村"


# --------------------------------------------------------------------------
# Hostile spreadsheets, built byte by byte (small files that declare huge grids)
# --------------------------------------------------------------------------

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
    "</Relationships>"
)
_WORKBOOK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
    '<sheets><sheet name="{name}" sheetId="1" r:id="rId1"/></sheets></workbook>'
)
_WORKBOOK_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
    "</Relationships>"
)


def xlsx_sheet(sheet_data: str, *, name: str = "Sheet1", dimension: str | None = None) -> bytes:
    """An .xlsx whose only worksheet holds exactly this ``<sheetData>`` content."""
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        f"{dim}<sheetData>{sheet_data}</sheetData></worksheet>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES)
        z.writestr("_rels/.rels", _RELS)
        z.writestr("xl/workbook.xml", _WORKBOOK.format(name=name))
        z.writestr("xl/_rels/workbook.xml.rels", _WORKBOOK_RELS)
        z.writestr("xl/worksheets/sheet1.xml", sheet)
    return buf.getvalue()


def xlsx_cells(*cells: tuple[str, str]) -> bytes:
    """An .xlsx holding only these (reference, text) cells, e.g. ("A1", "x"), ("XFD1000000", "y")."""
    rows: dict[int, list[str]] = {}
    for ref, text in cells:
        row = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(row, []).append(f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')
    return xlsx_sheet("".join(f'<row r="{r}">{"".join(c)}</row>' for r, c in sorted(rows.items())))


_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)


def ods_table(table_body: str, *, name: str = "Sheet1") -> bytes:
    """An .ods whose only table holds exactly this XML (rows and cells)."""
    content = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        f'<office:body><office:spreadsheet><table:table table:name="{name}">{table_body}'
        "</table:table></office:spreadsheet></office:body></office:document-content>"
    )
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet"
        )  # stored, first, as ODF requires
        z.writestr("META-INF/manifest.xml", _MANIFEST)
        z.writestr("content.xml", content)
    return buf.getvalue()


def ods_repeated(rows: int, columns: int) -> bytes:
    """The small .ods that expands to ``rows`` × ``columns`` copies of one number."""
    cell = (
        f'<table:table-cell table:number-columns-repeated="{columns}" '
        'office:value-type="float" office:value="1"><text:p>1</text:p></table:table-cell>'
    )
    return ods_table(
        f'<table:table-row table:number-rows-repeated="{rows}">{cell}</table:table-row>'
    )


@pytest.fixture
def runtime(database_url: str):
    """The shared runtime fixture, with the child's limits made small."""
    rt = open_runtime(
        database_url=database_url,
        import_max_memory_mb=CHILD_MB,
        import_max_seconds=CHILD_SECONDS,
        boundaries_max_features=MAX_FEATURES,
    )
    yield rt
    rt.engine.dispose()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def refused(runtime, data: bytes, name: str) -> LedgerRejected:
    """Parse as a clerk would; return the refusal and check the test process did not grow."""
    before = peak_mb()
    with runtime.session() as session, pytest.raises(LedgerRejected) as caught:
        parse_ledger(data, name, session=session, config=runtime.config, township_code=TOWNSHIP)
    # The grids these files declare are 0.8 GB to 500 GB: none of it was built here.
    assert peak_mb() - before < 150
    assert caught.value.code in CODES
    return caught.value


# --------------------------------------------------------------------------
# One test per hostile file
# --------------------------------------------------------------------------


def test_xlsx_with_a1_and_xfd1000000_is_refused_before_calamine_builds_the_grid(
    runtime, tiny_district
) -> None:
    data = xlsx_cells(("A1", "户主姓名"), ("XFD1000000", "x"))
    assert len(data) < 2000
    exc = refused(runtime, data, "台账.xlsx")
    assert exc.code == "file_too_complex"
    assert "工作表“Sheet1”" in exc.message
    assert "100 万 行 × 16,384 列" in exc.message
    assert "A1:XFD1000000" in exc.message
    assert "删除数据区域以外的行和列" in exc.message  # what to do


def test_xlsx_with_a1_and_z1000000_is_refused_as_too_sparse(runtime, tiny_district) -> None:
    exc = refused(runtime, xlsx_cells(("A1", "户主姓名"), ("Z1000000", "x")), "台账.xlsx")
    assert exc.code == "file_too_complex"
    assert "100 万 行 × 26 列" in exc.message
    assert "只有 2 个单元格有内容" in exc.message


def test_small_ods_with_repeated_rows_and_columns_is_refused(runtime, tiny_district) -> None:
    data = ods_repeated(1_000_000, 1_000)
    assert len(data) < 1000
    exc = refused(runtime, data, "台账.ods")
    assert exc.code == "file_too_complex"
    assert "100 万 行 × 1,000 列" in exc.message
    assert "10 亿" in exc.message


def test_xls_with_a1_and_iv65536_written_by_xlwt_is_refused(
    runtime, tiny_district, tmp_path
) -> None:
    book = xlwt.Workbook()
    sheet = book.add_sheet("台账")
    sheet.write(0, 0, "户主姓名")
    sheet.write(65535, 255, "x")
    book.save(tmp_path / "far.xls")
    exc = refused(runtime, (tmp_path / "far.xls").read_bytes(), "台账.xls")
    assert exc.code == "file_too_complex"
    assert "工作表“台账”" in exc.message and "65,536 行 × 256 列" in exc.message


def test_csv_with_five_million_columns_in_one_row_is_refused(runtime, tiny_district) -> None:
    data = (LEDGER_HEADER + "\n" + "," * 5_000_000 + "\n").encode()
    exc = refused(runtime, data, "台账.csv")
    assert exc.code == "file_too_complex"
    assert "第 2 行长达 5,000,001 个字符" in exc.message


def test_44_mb_csv_on_one_line_is_refused_at_once(runtime, tiny_district) -> None:
    data = b"x," * 22_000_000  # 44 MB on one line (22 million fields), under the 50 MB limit
    t = time.perf_counter()
    exc = refused(runtime, data, "台账.csv")
    assert time.perf_counter() - t < 15
    assert exc.code == "file_too_complex" and "第 1 行" in exc.message


def test_csv_with_two_million_columns_is_refused_and_wide_files_cap_their_issues(
    runtime, tiny_district
) -> None:
    header = LEDGER_HEADER + "," + ",".join(f"x{i}" for i in range(2_000_000))
    exc = refused(runtime, (header + "\n张三,已完工,南街\n").encode(), "台账.csv")
    assert exc.code == "file_too_complex"
    # Under the column limit, 990 unknown columns give 100 listed issues and a count of the rest.
    header = LEDGER_HEADER + "," + ",".join(f"x{i}" for i in range(990))
    data = (header + "\n张三,已完工,南街村委会" + "," * 990 + "\n").encode()
    with runtime.session() as session:
        parsed = parse_ledger(
            data, "台账.csv", session=session, config=runtime.config, township_code=TOWNSHIP
        )
    ignored = [i for i in parsed.issues if i.code == "column_ignored"]
    assert len(ignored) == 101
    assert "另有 890 处" in ignored[-1].message
    assert parsed.issue_counts()["note"] >= 990


def test_row_issues_beyond_import_max_issues_are_counted_not_listed(runtime, tiny_district) -> None:
    from imports.batches import preview

    rows = "".join(f"张三{i},已完工,无此村\n" for i in range(30))  # each row: village_unknown
    data = (LEDGER_HEADER + "\n" + rows).encode()
    config = runtime.config.with_overrides(import_max_issues=10)
    with runtime.session() as session:
        batch, outcome = preview(
            session, data, "台账.csv", user_id=None, township_code=TOWNSHIP, config=config
        )
        stored = list(batch.issues)
    row_issues = [i for i in outcome["issues"] if i["row"] is not None]
    assert 5 <= len(row_issues) <= 10  # whole rows' issues, at most import_max_issues
    assert outcome["counts"]["errors"] >= 30 and outcome["counts"]["rejected"] == 30
    [note] = [i for i in outcome["issues"] if i["code"] == "issues_not_listed"]
    assert "另有" in note["message"] and "import_max_issues" in note["message"]
    assert len(stored) == len(outcome["issues"])


def test_cli_refuses_a_hostile_file_with_exit_1_and_no_backtrace(
    runtime, tiny_district, database_url, tmp_path
) -> None:
    path = tmp_path / "台账.xlsx"
    path.write_bytes(xlsx_cells(("A1", "户主姓名"), ("XFD1000000", "x")))
    proc = subprocess.run(
        [sys.executable, "-c", "from heating.cli import main; main()"]
        + ["--db", database_url, "import", str(path), "--township", TOWNSHIP],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HEATING_IMPORT_MAX_MEMORY_MB": str(CHILD_MB)},
        check=False,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("错误：文件“台账.xlsx”无法读取：工作表“Sheet1”")
    assert "Traceback" not in proc.stderr and "panicked" not in proc.stderr


# --------------------------------------------------------------------------
# Damaged compressed data: refused as a damaged file, and nothing is stored
# --------------------------------------------------------------------------

SHEET = "xl/worksheets/sheet1.xml"


def broken_deflate(data: bytes, member: str, error: type[Exception] = zlib.error) -> bytes:
    """``data`` with 8 bytes in the middle of ``member``'s compressed data overwritten in place
    so that reading the member raises ``error``: ``zlib.error`` (the deflate stream is
    invalid) or ``zipfile.BadZipFile`` (it inflates, to the wrong bytes: the CRC fails).
    The zip's directory, the sizes and the CRC are untouched: only reading the member
    finds the damage."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo(member)
    assert info.compress_type == zipfile.ZIP_DEFLATED
    local = struct.unpack_from("<4s2B4HL2L2H", data, info.header_offset)  # zipfile's local header
    start = info.header_offset + 30 + local[10] + local[11]
    for at in range(start + info.compress_size // 2, start + info.compress_size - 8):
        for fill in (b"\xff" * 8, b"\x00" * 8):
            broken = data[:at] + fill + data[at + 8 :]
            with zipfile.ZipFile(io.BytesIO(broken)) as zf:
                assert zf.getinfo(member).CRC == info.CRC  # the directory still reads
                try:
                    zf.read(member)
                except Exception as exc:  # noqa: BLE001 - the kind is checked
                    if type(exc) is error:
                        return broken
    raise AssertionError(f"no 8 bytes in the middle of {member} raise {error.__name__}")


@functools.cache  # bytes, never changed: written once (0.6 s of openpyxl) for the four tests
def intact_ledger() -> bytes:
    """A real ledger written by openpyxl: 2,000 households of 南街."""
    rows = [
        ["南街村委会", f"A{i:04d}", f"张{i}", id_number(i), "13800001111", "已完工", "煤改电"]
        + ["2021-06-30"]
        for i in range(1, 2001)
    ]
    return ledger_xlsx(rows)


def assert_damaged(message: str, file_name: str) -> None:
    """The refusal of a damaged file (``imports.file_kinds.corrupt``): which file, what to do."""
    assert f"文件“{file_name}”已损坏，无法读取" in message
    assert "请在 Excel 或 WPS 中打开确认，必要时重新保存后再上传" in message


def _stored(runtime) -> tuple[int, int]:
    with runtime.session() as session:
        return (
            session.scalar(select(func.count()).select_from(ImportBatch)),
            session.scalar(select(func.count()).select_from(Household)),
        )


@pytest.mark.parametrize("reader", ["calamine", "streamed"])
def test_xlsx_whose_sheet_does_not_inflate_is_refused_as_damaged_and_nothing_is_stored(
    runtime, tiny_district, monkeypatch, reader
) -> None:
    """A corrupt deflate stream in the worksheet: zlib.error escaped the declared-size read
    (and, with the streaming reader chosen, the full size scan), and the child's failure
    (``ChildFailed``) reached the clerk as a system error."""
    from imports.batches import preview

    if reader == "streamed":  # the streaming reader's threshold at 0: every sheet is streamed
        from_config = ReadLimits.from_config
        monkeypatch.setattr(
            ReadLimits,
            "from_config",
            classmethod(lambda cls, config: replace(from_config(config), stream_rows=0)),
        )
    intact = intact_ledger()
    before = _stored(runtime)
    with runtime.session() as session, pytest.raises(LedgerRejected) as caught:
        preview(
            session,
            broken_deflate(intact, SHEET),
            "台账.xlsx",
            user_id=None,
            township_code=TOWNSHIP,
            config=runtime.config,
        )
    assert caught.value.code == "file_corrupt"
    assert_damaged(caught.value.message, "台账.xlsx")
    assert _stored(runtime) == before == (0, 0)
    # The same ledger undamaged previews (one batch, no household before a commit).
    with runtime.session() as session:
        _, outcome = preview(
            session,
            intact,
            "台账.xlsx",
            user_id=None,
            township_code=TOWNSHIP,
            config=runtime.config,
        )
    assert outcome["counts"]["rejected"] == 0
    assert _stored(runtime) == (1, 0)


def test_ods_whose_content_fails_its_crc_is_refused_as_damaged(runtime, tiny_district) -> None:
    cell = '<table:table-cell office:value-type="string"><text:p>{}</text:p></table:table-cell>'
    rows = "".join(
        f"<table:table-row>{cell.format(f'张{i}')}{cell.format('已完工')}{cell.format('南街')}"
        "</table:table-row>"
        for i in range(2000)
    )
    # (Deflate is forgiving: damage in the middle of this content.xml inflates to wrong bytes,
    # which its CRC finds; an invalid stream (zlib.error) takes the same branch.)
    data = broken_deflate(ods_table(rows), "content.xml", zipfile.BadZipFile)
    exc = refused(runtime, data, "台账.ods")
    assert exc.code == "file_corrupt"
    assert_damaged(exc.message, "台账.ods")


def test_the_streaming_reader_refuses_a_sheet_that_does_not_inflate() -> None:
    """The streaming reader inflates the sheet again itself (``imports.streaming_xlsx``): damage
    met there is the same refusal.  (The size scan reads the same bytes first and meets it
    before; here the scan of the intact file stands in for it.)"""
    from imports.readers import _Streamer, _xlsx_extents

    intact = intact_ledger()
    _, _, scans, _ = _xlsx_extents(intact, "台账.xlsx")
    [(name, (_, scan))] = scans.items()
    streamer = _Streamer(broken_deflate(intact, SHEET), scans, "台账.xlsx", 0)
    with pytest.raises(LedgerRejected) as caught:
        sheet = streamer.sheet(name, scan.extent)
        assert sheet is not None and sheet.streamed
        list(sheet.iter_rows())
    assert caught.value.code == "file_corrupt"
    assert_damaged(caught.value.message, "台账.xlsx")


def test_a_clerk_uploading_a_sheet_that_does_not_inflate_sees_the_refusal(login, runtime) -> None:
    client = login("bob")
    resp = upload(client, broken_deflate(intact_ledger(), SHEET), "台账.xlsx")
    page = resp.get_data(as_text=True)
    assert 'id="job-failed"' in page
    assert_damaged(page, "台账.xlsx")
    assert "系统错误" not in page and "Traceback" not in page
    assert _stored(runtime) == (0, 0)


# --------------------------------------------------------------------------
# Dense, legitimate and merely odd sheets are still read
# --------------------------------------------------------------------------


def test_styled_empty_cell_far_away_does_not_refuse_a_small_ledger(runtime, tiny_district) -> None:
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>户主姓名</t></is></c>'
        '<c r="B1" t="inlineStr"><is><t>改造状态</t></is></c>'
        '<c r="C1" t="inlineStr"><is><t>村</t></is></c></row>'
        '<row r="2"><c r="A2" t="inlineStr"><is><t>张三</t></is></c>'
        '<c r="B2" t="inlineStr"><is><t>已完工</t></is></c>'
        '<c r="C2" t="inlineStr"><is><t>南街村委会</t></is></c></row>'
        '<row r="1048576"><c r="XFD1048576" s="1"/></row>'
    )
    with runtime.session() as session:
        parsed = parse_ledger(
            xlsx_sheet(rows, dimension="A1:XFD1048576"),
            "台账.xlsx",
            session=session,
            config=runtime.config,
            township_code=TOWNSHIP,
        )
    assert [r.get("head_name") for r in parsed.rows] == ["张三"]


def test_a_far_column_behind_a_small_declared_size_is_refused_as_before(
    runtime, tiny_district
) -> None:
    """The first sheet's <dimension> is trusted before calamine builds it; calamine's sheet
    reaching past it (here XFD1, a 3 × 16,384 grid) sends it to the full measure."""
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>户主姓名</t></is></c>'
        '<c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>y</t></is></c></row>'
    )
    exc = refused(runtime, xlsx_sheet(rows, dimension="A1:B3"), "台账.xlsx")
    assert exc.code == "file_too_complex"
    assert "16,384 列" in exc.message and "A1:XFD3" in exc.message


def test_a_far_cell_out_of_order_behind_a_small_declared_size_is_refused_as_before(
    runtime, tiny_district
) -> None:
    """A lie calamine cannot survive (XFD1000000 written before row 3, the sheet declared
    A1:B3): the child dies building the grid, and the file is read again with every cell
    judged first: the same refusal as a file without a declaration."""
    rows = (
        '<row r="1"><c r="A1" t="inlineStr"><is><t>户主姓名</t></is></c></row>'
        '<row r="1000000"><c r="XFD1000000" t="inlineStr"><is><t>x</t></is></c></row>'
        '<row r="3"><c r="A3" t="inlineStr"><is><t>y</t></is></c></row>'
    )
    exc = refused(runtime, xlsx_sheet(rows, dimension="A1:B3"), "台账.xlsx")
    assert exc.code == "file_too_complex"
    assert "100 万 行 × 16,384 列" in exc.message and "A1:XFD1000000" in exc.message


def test_cells_without_references_are_placed_by_counting(runtime, tiny_district) -> None:
    # Some writers leave out r="…": the cells are counted into place, as calamine does.
    row = "<row>" + "<c><v>1</v></c>" * 1001 + "</row>"
    exc = refused(runtime, xlsx_sheet(row), "台账.xlsx")
    assert exc.code == "file_too_complex" and "1,001 列" in exc.message


# --------------------------------------------------------------------------
# The safety net: whatever the library does in the child, the parent gets a refusal
# --------------------------------------------------------------------------

LIMITS = ChildLimits(memory_mb=256, seconds=1)


def test_a_child_that_aborts_like_calamine_is_a_refusal() -> None:
    with pytest.raises(LedgerRejected) as caught:
        run_isolated(os.abort, limits=LIMITS, file_name="台账.xlsx")
    assert caught.value.code == "file_too_large_to_read"
    assert "台账.xlsx" in caught.value.message and "256 MB" in caught.value.message


def test_a_child_over_its_memory_limit_is_a_refusal() -> None:
    before = peak_mb()
    with pytest.raises(LedgerRejected) as caught:
        run_isolated(bytearray, 2 << 30, limits=LIMITS, file_name="台账.xlsx")
    assert caught.value.code == "file_too_large_to_read"
    assert peak_mb() - before < 100  # the 2 GB were asked for in the child, not here


def test_a_child_over_its_cpu_time_is_stopped_and_refused() -> None:
    import itertools

    t = time.perf_counter()
    with pytest.raises(LedgerRejected) as caught:
        run_isolated(sum, itertools.count(), limits=LIMITS, file_name="台账.xlsx")  # never ends
    assert time.perf_counter() - t < 10
    assert caught.value.code == "file_read_timeout" and "1 秒 CPU 时间" in caught.value.message


def test_a_child_that_hangs_is_killed_after_three_times_the_limit() -> None:
    t = time.perf_counter()
    with pytest.raises(LedgerRejected) as caught:
        run_isolated(time.sleep, 60, limits=LIMITS, file_name="台账.xlsx")  # uses no CPU
    assert 2.5 < time.perf_counter() - t < 10
    assert caught.value.code == "file_read_timeout"


def test_a_bug_in_the_child_is_not_swallowed() -> None:
    with pytest.raises(ChildFailed, match="ValueError"):
        run_isolated(int, "not a number", limits=LIMITS, file_name="台账.xlsx")


def test_the_parent_unpickles_only_plain_data_and_our_classes() -> None:
    from imports.issues import Problem

    issue = Problem("error", "required", "户主姓名为空")
    assert loads_checked(pickle.dumps(("ok", [issue]))) == ("ok", [issue])
    with pytest.raises(pickle.UnpicklingError, match="不允许"):
        loads_checked(pickle.dumps(os.system))
    with pytest.raises(pickle.UnpicklingError):
        loads_checked(pickle.dumps(Path("/etc/passwd")))


# --------------------------------------------------------------------------
# Through the real server: each upload is refused and the server still answers
# --------------------------------------------------------------------------


def test_live_server_refuses_every_hostile_upload_and_keeps_answering(live_server, users) -> None:
    import http.cookiejar
    import urllib.request

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))

    def get(path: str) -> tuple[str, str]:
        with opener.open(live_server + path, timeout=60) as resp:
            return resp.geturl(), resp.read().decode()

    def token(page: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)

    _, page = get("/login")
    form = f"username=bob&password=correct-horse-1&csrf_token={token(page)}".encode()
    opener.open(live_server + "/login", data=form, timeout=60).read()
    hostile = {
        "远端单元格.xlsx": xlsx_cells(("A1", "户主姓名"), ("XFD1000000", "x")),
        "稀疏.xlsx": xlsx_cells(("A1", "户主姓名"), ("Z1000000", "x")),
        "重复.ods": ods_repeated(1_000_000, 1_000),
        "超宽.csv": (LEDGER_HEADER + "\n" + "," * 5_000_000).encode(),
    }
    for name, data in hostile.items():
        _, page = get("/imports")
        boundary = "----hostile-boundary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
                f"{token(page)}\r\n--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="{name}"\r\nContent-Type: application/octet-stream\r\n\r\n'
            ).encode()
            + data
            + f"\r\n--{boundary}--\r\n".encode()
        )
        request = urllib.request.Request(
            live_server + "/imports",
            data=body,
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with opener.open(request, timeout=60) as resp:
            url, page = resp.geturl(), resp.read().decode()
        deadline = time.monotonic() + 60
        while 'http-equiv="refresh"' in page:
            assert time.monotonic() < deadline, f"{name}: job did not finish"
            time.sleep(0.3)
            url, page = get(url.removeprefix(live_server))
        assert 'id="job-failed"' in page, name
        assert "已拒绝" in page, name
        # The server still answers, and quickly.
        t = time.perf_counter()
        _, home = get("/")
        assert "总览" in home or "清洁取暖" in home
        assert time.perf_counter() - t < 5


# --------------------------------------------------------------------------
# Boundaries: bounded in size and features, read in the child
# --------------------------------------------------------------------------


def squares_geojson(count: int) -> bytes:
    """``count`` tiny squares (the first four are the tiny district's villages)."""
    features = []
    for i in range(count):
        x = 112.80 + 0.01 * i
        ring = [[x, 36.30], [x + 0.01, 36.30], [x + 0.01, 36.31], [x, 36.31], [x, 36.30]]
        features.append(
            {
                "type": "Feature",
                "properties": {"code": f"1404051012{i:02d}", "name": f"村{i}"},
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return json.dumps({"type": "FeatureCollection", "features": features}).encode()


def test_boundaries_with_too_many_features_are_refused_and_the_admin_page_answers(
    login, runtime
) -> None:
    from tests.support.web import csrf_token

    client = login("alice")
    # The limit is a setting (MAX_FEATURES here): one feature over it is refused before matching.
    resp = client.post(
        "/admin/boundaries",
        data={
            "file": (io.BytesIO(squares_geojson(51)), "村界.geojson"),
            "csrf_token": csrf_token(client, "/admin/boundaries"),
        },
        content_type="multipart/form-data",
    )
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert "有 51 个要素，超过上限 50 个" in page and "boundaries_max_features" in page
    assert client.get("/admin/boundaries").status_code == 200


def test_boundaries_zip_bomb_is_refused_before_gdal_opens_it(
    runtime, tiny_district, tmp_path
) -> None:
    from geo.boundaries import load_boundaries
    from geo.boundary_reading import BoundaryLimits

    path = tmp_path / "村界.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("村界.dbf", b"\0" * (60 * 1024 * 1024))
    assert path.stat().st_size < 200_000
    limits = BoundaryLimits.from_config(runtime.config.with_overrides(import_max_unzipped_mb=50))
    with runtime.session() as session, pytest.raises(Refused) as caught:
        load_boundaries(session, path, limits=limits)
    assert "解压后约 60 MB，超过上限 50 MB" in caught.value.message


def test_boundaries_read_in_the_child_come_back_as_the_same_frame(
    runtime, tiny_district, tmp_path
) -> None:
    from geo.boundary_files import read_boundary_file
    from geo.boundary_reading import read_boundary_file_limited

    path = tmp_path / "村界.geojson"
    path.write_bytes(squares_geojson(4))
    here = read_boundary_file(path)
    there = read_boundary_file_limited(path)
    assert there.crs == here.crs and there.driver == here.driver
    assert list(there.frame.columns) == list(here.frame.columns)
    assert there.frame.geometry.geom_equals(here.frame.geometry).all()
    assert there.frame["code"].tolist() == here.frame["code"].tolist()
