"""Reading real ledgers: file types, headers, cleaning and skipped rows.

Every file is written by a real tool (openpyxl, xlwt, LibreOffice, Python's
codecs for GBK/UTF-8-BOM CSV, msoffcrypto-tool for an encrypted workbook).

One file of ~650 lines on purpose: a catalogue of small, independent cases of one step
(a file read into rows), each writing its own file.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest

from heating.config import load_config
from imports.issues import CODES, LedgerRejected
from imports.parsed import ParsedLedger
from imports.pipeline import parse_ledger
from tests.support.ledgers import workbook_xlsx

TODAY = date(2024, 1, 15)
HEADER = ["序号", "村", "户号", "户主姓名", "身份证号", "改造状态", "改造方式", "完工日期"]
ROW_A = [1, "南街村", "A001", "张三", None, "已完工", "煤改电", "2021-06-30"]
ROW_B = [2, "东街", "A002", "李四", None, "未改造", None, None]


def one_sheet(rows: list[list]) -> bytes:
    return workbook_xlsx(("台账", rows))


@pytest.fixture
def parse(runtime, tiny_district):
    """parse_ledger on the tiny district as the clerk of 麟绛街道 (140405001) unless told."""

    def run(data: bytes, name: str = "台账.xlsx", township: str | None = "140405001", **cfg):
        config = load_config(overrides=cfg, environ={})
        with runtime.session() as session:
            return parse_ledger(
                data, name, session=session, config=config, township_code=township, today=TODAY
            )

    return run


def problems(parsed: ParsedLedger) -> list[tuple[int | None, str]]:
    return [(i.row, i.code) for i in parsed.all_issues() if i.severity != "note"]


# --------------------------------------------------------------------------
# Formats
# --------------------------------------------------------------------------


def test_xlsx_with_title_row_reads_every_household(parse):
    data = workbook_xlsx(("台账", [["麟绛街道2021年清洁取暖改造台账"], HEADER, ROW_A, ROW_B]))
    parsed = parse(data)
    assert parsed.kind == "xlsx"
    assert [(s.name, s.header_row, s.data_rows) for s in parsed.sheets] == [("台账", 2, 2)]
    assert parsed.sheets[0].ignored_columns == ["序号"]
    assert parsed.sheets[0].columns["户主姓名"] == "head_name"
    assert [r.row for r in parsed.rows] == [3, 4]
    first = parsed.rows[0]
    assert first.values["status"] == "completed"
    assert first.values["route"] == "electric"
    assert first.values["completed_on"] == date(2021, 6, 30)
    assert first.values["completed_on_precision"] == "day"
    assert first.village_id is not None and first.township_code == "140405001"
    assert (first.key, first.key_kind) == ("no:A001", "household_no")
    assert first.extra == {"序号": "1"}
    assert first.columns["head_name"] == "D"
    assert problems(parsed) == []
    assert len(parsed.sha256) == 64


def test_xls_written_by_xlwt(parse):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook(encoding="utf-8")
    ws = book.add_sheet("台账")
    for r, row in enumerate([["标题"], HEADER, ROW_A, ROW_B]):
        for c, value in enumerate(row):
            if value is not None:
                ws.write(r, c, value)
    buf = io.BytesIO()
    book.save(buf)
    parsed = parse(buf.getvalue(), "台账.xls")
    assert parsed.kind == "xls"
    assert [r.values["head_name"] for r in parsed.rows] == ["张三", "李四"]
    assert problems(parsed) == []


def csv_bytes(rows: list[list], encoding: str) -> bytes:
    lines = [",".join("" if v is None else str(v) for v in r) for r in rows]
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


@pytest.mark.parametrize("encoding", ["gbk", "utf-8-sig", "utf-8", "gb18030"])
def test_csv_in_every_encoding_clerks_save(parse, encoding):
    data = csv_bytes(
        [HEADER, ROW_A, [3, "南街", "A003", "王五", None, "已验收", "煤改气", "2021/7/1"]], encoding
    )
    parsed = parse(data, "台账.csv")
    assert parsed.kind == "csv"
    assert [r.values["head_name"] for r in parsed.rows] == ["张三", "王五"]
    assert parsed.rows[1].values["status"] == "accepted"
    assert parsed.rows[1].values["completed_on"] == date(2021, 7, 1)
    assert problems(parsed) == []


@pytest.fixture(scope="session")
def ods_ledger(tmp_path_factory) -> bytes:
    """An .ods converted by LibreOffice from an openpyxl workbook with a two-row header."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if not soffice:
        pytest.skip("LibreOffice (soffice) not installed")
    folder = tmp_path_factory.mktemp("ods")
    source = folder / "台账.xlsx"
    source.write_bytes(two_row_header_workbook())
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{folder}/profile",
            "--convert-to",
            "ods",
            "--outdir",
            str(folder),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return (folder / "台账.ods").read_bytes()


def two_row_header_workbook() -> bytes:
    """Title row, a date row, then a two-row header with merged cells, as clerks make them."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "2021年"
    ws.append(["麟绛街道清洁取暖改造台账"])
    ws.merge_cells("A1:H1")
    ws.append(["填报日期：2021年10月"])
    ws.append(["序号", "村名", "户主", "状态", "改造方式", "补贴(元)", None, "备注"])
    ws.append([None, None, None, None, None, "设备补贴", "运行补贴", None])
    for col in "ABCDEH":
        ws.merge_cells(f"{col}3:{col}4")
    ws.merge_cells("F3:G3")
    ws.append([1, "南街村委会", "张三", "已完工", "空气源热泵", 8000, 1200.5, "先立后破"])
    ws.append([2, "东街村", "李四", "施工中", "燃气壁挂炉", "6,000", None, None])
    ws.append(["合计", None, None, None, None, 14000, 1200.5, None])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def check_two_row_header(parsed: ParsedLedger) -> None:
    sheet = parsed.sheets[0]
    assert sheet.header_row == 3
    assert set(sheet.columns.values()) >= {
        "village",
        "head_name",
        "status",
        "route",
        "device_subsidy",
        "operating_subsidy",
        "note",
    }
    a, b = parsed.rows
    assert (a.row, b.row) == (5, 6)
    assert a.values["device_subsidy"] == Decimal("8000.00")
    assert a.values["operating_subsidy"] == Decimal("1200.50")
    assert a.values["device"] == "空气源热泵"  # a device word given as the route fills device
    assert a.values["route"] == "electric"
    assert b.values["route"] == "gas" and b.values["device"] == "燃气壁挂炉"
    assert b.values["device_subsidy"] == Decimal("6000.00")
    assert parsed.skipped_by_reason == {"subtotal": 1}
    # Only warnings: no 户号/ID (weak key) and a completed row without completion date.
    assert problems(parsed) == [(5, "completed_on_missing"), (5, "key_weak"), (6, "key_weak")]


def test_title_rows_and_merged_two_row_header(parse):
    check_two_row_header(parse(two_row_header_workbook()))


@pytest.mark.slow  # a LibreOffice conversion (soffice, 2-4 s): not in the quick run, always in CI
def test_ods_written_by_libreoffice(parse, ods_ledger):
    parsed = parse(ods_ledger, "台账.ods")
    assert parsed.kind == "ods"
    check_two_row_header(parsed)


# --------------------------------------------------------------------------
# Header finding
# --------------------------------------------------------------------------


def test_header_synonyms_full_width_and_units(parse):
    header = [
        "行政村",
        "户主姓名",
        "身份证号码",
        "完成情况",
        "清洁取暖方式",
        "竣工日期",
        "设备补贴（元）",
        "常住\n人数",
        "联系方式",
        "ｘｘ自定义",
    ]
    row = [
        "南街村委会",
        "张三",
        "14040519900101123X",
        "是",
        "集中供热",
        "2021.6.30",
        "3000",
        "３",
        "13800138000",
        "随便",
    ]
    parsed = parse(one_sheet([header, row]))
    columns = parsed.sheets[0].columns
    assert columns["设备补贴（元）"] == "device_subsidy"
    assert columns["常住 人数"] == "residents" or "residents" in columns.values()
    assert parsed.sheets[0].ignored_columns == ["ｘｘ自定义"]
    v = parsed.rows[0].values
    assert (v["status"], v["route"], v["residents"]) == ("completed", "district", 3)
    assert v["completed_on"] == date(2021, 6, 30)
    assert parsed.rows[0].extra == {"ｘｘ自定义": "随便"}


def test_sheet_without_header_is_skipped_with_a_warning_and_hidden_sheet_with_a_note(parse):
    data = workbook_xlsx(
        ("说明", [["本表由乡镇填报"], ["联系人：王"]]),
        ("台账", [HEADER, ROW_A]),
        ("草稿", [["随便写的"], [1, 2, 3]]),
        ("旧台账", [HEADER, ROW_B]),
        hidden=("旧台账",),
    )
    parsed = parse(data)
    assert [s.name for s in parsed.sheets] == ["台账"]
    assert [r.values["head_name"] for r in parsed.rows] == ["张三"]
    found = {(i.sheet, i.code, i.severity) for i in parsed.issues}
    assert ("草稿", "sheet_no_header", "warning") in found
    assert ("说明", "sheet_no_header", "note") in found
    assert ("旧台账", "sheet_hidden", "note") in found


def test_every_visible_sheet_is_read(parse):
    data = workbook_xlsx(("南街", [HEADER, ROW_A]), ("东街", [["东街台账"], HEADER, ROW_B]))
    parsed = parse(data)
    assert [(r.sheet, r.row) for r in parsed.rows] == [("南街", 2), ("东街", 3)]


def test_no_header_anywhere_refuses_the_file(parse):
    with pytest.raises(LedgerRejected) as err:
        parse(one_sheet([["姓名单"], ["张三", "李四"]]))
    assert err.value.code == "file_no_header"
    assert "表头" in err.value.message


def test_missing_required_column_rejects_rows_and_says_which(parse):
    parsed = parse(
        one_sheet([["村", "户号", "户主姓名", "改造方式"], ["南街", "1", "张三", "煤改电"]])
    )
    sheet_issue = [i for i in parsed.issues if i.code == "column_missing"]
    assert sheet_issue and "改造状态" in sheet_issue[0].message
    assert parsed.rows[0].rejected


# --------------------------------------------------------------------------
# Rows that are not households
# --------------------------------------------------------------------------


def test_blank_subtotal_footer_and_repeated_header_rows_are_skipped_and_counted(parse):
    rows = [
        HEADER,
        ROW_A,
        [None] * 8,
        ["", "  ", None, "\u3000", None, None, None, None],
        HEADER,  # header printed again at a page break
        ROW_B,
        [3, None, None, None, None, None, None, None],  # a pre-numbered empty row
        [None, "南街村小计", None, None, None, None, None, None],
        ["合 计", None, None, None, None, None, None, None],
        ["总计：", None, None, None, None, None, None, None],
        ["填表人：王五", None, None, "审核人：赵六", None, None, None, None],
        ["注：状态填写已完工/未改造", None, None, None, None, None, None, None],
    ]
    parsed = parse(one_sheet(rows))
    assert [r.values["head_name"] for r in parsed.rows] == ["张三", "李四"]
    assert parsed.skipped == 9
    assert parsed.skipped_by_reason == {
        "blank": 3,
        "repeated_header": 1,
        "subtotal": 3,
        "footer": 2,
    }
    assert problems(parsed) == []


# --------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------


def test_full_width_digits_and_odd_spaces_are_cleaned(parse):
    rows = [
        HEADER + ["联系电话", "常住人口", "计划年度"],
        [
            "１",
            "\u3000南街村\u00a0",
            " Ａ００１ ",
            "张三\n",
            "１４０４０５１９９００１０１００８ｘ",
            " 已完工 ",
            "煤改电\u3000",
            "２０２１－０６－３０",
            "１３８ ００１３ ８０００",
            "３",
            "２０２１",
        ],
    ]
    parsed = parse(one_sheet(rows))
    v = parsed.rows[0].values
    assert v["village"] == "南街村"
    assert v["household_no"] == "A001"
    assert v["head_name"] == "张三"
    assert v["id_number"] == "14040519900101008X"  # lower-case x became X
    assert v["status"] == "completed"
    assert v["completed_on"] == date(2021, 6, 30)
    assert v["phone"] == "13800138000"
    assert (v["residents"], v["plan_year"]) == (3, 2021)
    assert problems(parsed) == []


def test_numbers_as_text_and_text_as_numbers(parse):
    rows = [
        [
            "村代码",
            "户号",
            "户主姓名",
            "改造状态",
            "改造方式",
            "常住人口",
            "设备补贴",
            "联系电话",
            "住址",
        ],
        [140405001201, 1023, "张三", "未改造", None, "4", "2,500.5", 13800138000, 12],
    ]
    parsed = parse(one_sheet(rows))
    v = parsed.rows[0].values
    assert v["village_code"] == "140405001201"
    assert v["household_no"] == "1023"
    assert v["residents"] == 4
    assert v["device_subsidy"] == Decimal("2500.50")
    assert v["phone"] == "13800138000"
    assert v["address"] == "12"
    assert parsed.rows[0].village_id is not None
    assert problems(parsed) == []


@pytest.mark.parametrize(
    ("cell", "expected", "precision"),
    [
        (datetime(2021, 6, 30, 0, 0), date(2021, 6, 30), "day"),  # a date cell
        (44377, date(2021, 6, 30), "day"),  # an Excel serial number typed as a number
        ("44377", date(2021, 6, 30), "day"),
        ("2021-06-30", date(2021, 6, 30), "day"),
        ("2021/6/30", date(2021, 6, 30), "day"),
        ("2021.6.30", date(2021, 6, 30), "day"),
        ("2021年6月30日", date(2021, 6, 30), "day"),
        ("20210630", date(2021, 6, 30), "day"),
        (20210630, date(2021, 6, 30), "day"),
        ("2021.06", date(2021, 6, 1), "month"),
        ("2021年6月", date(2021, 6, 1), "month"),
        ("2021-06-30 00:00:00", date(2021, 6, 30), "day"),
    ],
)
def test_every_date_form(parse, cell, expected, precision):
    parsed = parse(one_sheet([HEADER, [1, "南街", "A1", "张三", None, "已完工", "煤改电", cell]]))
    v = parsed.rows[0].values
    assert (v["completed_on"], v["completed_on_precision"]) == (expected, precision)
    assert problems(parsed) == []


@pytest.mark.parametrize("cell", ["2021-13-01", "去年冬天", "2021.02.30"])
def test_unreadable_date_is_an_error_with_the_forms_to_use(parse, cell):
    parsed = parse(one_sheet([HEADER, [1, "南街", "A1", "张三", None, "已完工", "煤改电", cell]]))
    [issue] = [i for i in parsed.rows[0].issues if i.code == "invalid_date"]
    assert (issue.column, issue.field, issue.row) == ("H", "completed_on", 2)
    assert "2021年6月30日" in issue.message
    assert parsed.rows[0].rejected


@pytest.mark.parametrize(
    "cell",
    [140405199001011234, "1.40405E+17", "140405199001011000"],
    ids=["number", "scientific-text", "rounded-zeros"],
)
def test_id_number_that_lost_digits_says_to_format_as_text(parse, cell):
    parsed = parse(one_sheet([HEADER, [1, "南街", "A1", "张三", cell, "未改造", None, None]]))
    [issue] = [i for i in parsed.rows[0].issues if i.field == "id_number"]
    assert issue.code == "number_lost_digits"
    assert "文本" in issue.message and issue.column == "E"
    assert parsed.rows[0].rejected
    assert "199001011" not in (issue.value or "")


def test_household_no_stored_as_a_long_number_is_refused(parse):
    parsed = parse(
        one_sheet([HEADER, [1, "南街", 140405001201000123, "张三", None, "未改造", None, None]])
    )
    [issue] = [i for i in parsed.rows[0].issues if i.severity == "error"]
    assert (issue.code, issue.field, issue.column) == ("number_lost_digits", "household_no", "C")


def test_formula_without_cached_value_is_an_error_and_cached_value_is_used(parse):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["村", "户主姓名", "改造状态", "改造方式", "户号", "常住人口"])
    ws.append(["南街", "张三", "未改造", None, "A1", "=1+2"])  # openpyxl writes no cached value
    ws.append(["南街", "李四", "未改造", None, "A2", 3])
    buf = io.BytesIO()
    wb.save(buf)
    parsed = parse(buf.getvalue())
    [issue] = parsed.rows[0].issues
    assert (issue.code, issue.row, issue.column, issue.field) == (
        "formula_no_value",
        2,
        "F",
        "residents",
    )
    assert not parsed.rows[1].issues


@pytest.mark.slow  # a LibreOffice conversion (soffice, 2-4 s): not in the quick run, always in CI
def test_formula_with_cached_value_from_libreoffice_is_read(parse, tmp_path):
    soffice = shutil.which("soffice")
    if not soffice:
        pytest.skip("LibreOffice (soffice) not installed")
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["村", "户主姓名", "改造状态", "改造方式", "户号", "常住人口"])
    ws.append(["南街", "张三", "未改造", None, "A1", "=1+2"])
    src = tmp_path / "in" / "f.xlsx"
    src.parent.mkdir()
    wb.save(src)
    subprocess.run(
        [
            soffice,
            "--headless",
            f"-env:UserInstallation=file://{tmp_path}/profile",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            str(src),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    parsed = parse((tmp_path / "f.xlsx").read_bytes())
    assert parsed.rows[0].values["residents"] == 3
    assert not parsed.rows[0].issues


# --------------------------------------------------------------------------
# Refused files
# --------------------------------------------------------------------------


def docx_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def zip_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr("xl/worksheets/sheet1.xml", b"\0" * (40 * 1024 * 1024))
    return buf.getvalue()


def encrypted_xlsx() -> bytes:
    msoffcrypto = pytest.importorskip("msoffcrypto", reason="msoffcrypto-tool is a test dependency")
    from msoffcrypto.format.ooxml import OOXMLFile

    plain = io.BytesIO(one_sheet([HEADER, ROW_A]))
    out = io.BytesIO()
    OOXMLFile(plain).encrypt("secret", out)
    assert msoffcrypto  # used for the import check above
    return out.getvalue()


def ole_doc() -> bytes:
    """An OLE2 compound file holding a WordDocument stream (a .doc), built by hand."""
    header = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    name = "WordDocument".encode("utf-16-le")
    entry = name + b"\0" * (64 - len(name)) + b"\0" * 64
    return header + entry + b"\0" * 384


@pytest.mark.parametrize(
    ("make", "name", "code", "words"),
    [
        (lambda: b"", "台账.xlsx", "file_empty", "空"),
        (lambda: b"  \r\n ", "台账.csv", "file_empty", "空"),
        (docx_bytes, "台账.xlsx", "file_not_spreadsheet", "Word"),
        (
            lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n",
            "台账.xlsx",
            "file_not_spreadsheet",
            "PDF",
        ),
        (ole_doc, "台账.xls", "file_not_spreadsheet", "Word"),
        (lambda: ole_doc(), "台账.et", "file_not_spreadsheet", "Word"),
        (lambda: one_sheet([HEADER, ROW_A])[:3000], "台账.xlsx", "file_corrupt", "损坏"),
        (zip_bomb, "台账.xlsx", "file_zip_bomb", "压缩炸弹"),
        (encrypted_xlsx, "台账.xlsx", "file_encrypted", "密码"),
        (lambda: bytes(range(256)) * 40, "台账.xlsx", "file_not_spreadsheet", "不是"),
    ],
    ids=[
        "empty",
        "blank-text",
        "docx",
        "pdf",
        "doc",
        "doc-as-et",
        "truncated-zip",
        "zip-bomb",
        "encrypted",
        "binary",
    ],
)
def test_refused_files_say_what_is_wrong(parse, make, name, code, words):
    with pytest.raises(LedgerRejected) as err:
        parse(make(), name)
    assert err.value.code == code
    assert code in CODES
    assert words in err.value.message
    assert "请" in err.value.message  # says what to do


def test_wps_et_file_is_refused_with_save_as_advice(parse):
    xlwt = pytest.importorskip("xlwt")
    book = xlwt.Workbook(encoding="utf-8")
    book.add_sheet("台账").write(0, 0, "户主姓名")
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(LedgerRejected) as err:
        parse(buf.getvalue(), "台账.et")
    assert err.value.code == "file_unsupported" and "另存为" in err.value.message


def test_total_uncompressed_size_over_the_limit_is_refused(parse):
    with pytest.raises(LedgerRejected) as err:
        parse(one_sheet([HEADER] + [ROW_A] * 200), import_max_unzipped_mb=0)
    assert err.value.code == "file_zip_bomb"


def test_file_over_size_limit_is_refused(parse):
    data = csv_bytes([HEADER] + [ROW_A] * 20000, "utf-8")
    assert len(data) > 1024 * 1024
    with pytest.raises(LedgerRejected) as err:
        parse(data, "台账.csv", upload_max_mb=1)
    assert err.value.code == "file_too_large" and "1 MB" in err.value.message


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_file_over_row_limit_is_refused(parse, fmt):
    rows = [HEADER] + [[i, "南街", f"A{i}", "张三", None, "未改造", None, None] for i in range(30)]
    data = one_sheet(rows) if fmt == "xlsx" else csv_bytes(rows, "utf-8")
    with pytest.raises(LedgerRejected) as err:
        parse(data, f"台账.{fmt}", import_max_rows=20)
    assert err.value.code == "file_too_many_rows" and "拆分" in err.value.message
    assert len(parse(data, f"台账.{fmt}", import_max_rows=40).rows) == 30


@pytest.mark.parametrize("fmt", ["xlsx", "csv"])
def test_row_limit_counts_data_rows_not_titles_headers_or_subtotals(parse, fmt):
    """import_max_rows = N accepts exactly N households under a title and a header."""

    def ledger(households: int) -> bytes:
        rows = [["南街村清洁取暖台账"], ["填报日期：2021年12月"], HEADER]
        rows += [
            [i, "南街", f"A{i}", "张三", None, "未改造", None, None] for i in range(households)
        ]
        rows += [[None, "合计", None, None, None, None, None, None], ["填表人：王五"]]
        return one_sheet(rows) if fmt == "xlsx" else csv_bytes(rows, "utf-8")

    parsed = parse(ledger(5), f"台账.{fmt}", import_max_rows=5)
    assert len(parsed.rows) == 5 and parsed.sheets[0].data_rows == 5
    with pytest.raises(LedgerRejected) as err:
        parse(ledger(6), f"台账.{fmt}", import_max_rows=5)
    assert err.value.code == "file_too_many_rows"
    assert "数据行超过上限 5 行" in err.value.message and "拆分" in err.value.message
    assert "第 9 行" in err.value.message  # the 6th household: below 2 title rows and the header


def test_row_limit_counts_households_of_every_sheet(parse):
    rows = [HEADER] + [[i, "南街", f"A{i}", "张三", None, "未改造", None, None] for i in range(3)]
    more = [HEADER] + [[i, "南街", f"B{i}", "李四", None, "未改造", None, None] for i in range(3)]
    data = workbook_xlsx(("一组", rows), ("二组", more))
    assert len(parse(data, import_max_rows=6).rows) == 6
    with pytest.raises(LedgerRejected) as err:
        parse(data, import_max_rows=5)
    assert err.value.code == "file_too_many_rows" and "二组" in err.value.message


def test_unknown_township_argument_is_refused(parse):
    with pytest.raises(LedgerRejected) as err:
        parse(one_sheet([HEADER, ROW_A]), township="999999999")
    assert err.value.code == "township_unknown"


SAMPLES = {
    # file: (households, skipped rows)
    "麟绛街道2021台账_两行表头.xlsx": (4, 2),
    "麟绛街道台账_GBK.csv": (2, 1),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_files_in_tests_data_read_without_errors(parse, name):
    path = Path(__file__).parent / "data" / "ledgers" / name
    parsed = parse(path.read_bytes(), path.name)
    assert not [i for i in parsed.all_issues() if i.severity == "error"]
    assert (len(parsed.rows), parsed.skipped) == SAMPLES[name]
    assert all(r.village_id for r in parsed.rows)
