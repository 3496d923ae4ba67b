"""Loading the village registry (村庄名录): create, update, propose categories, refuse errors."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from heating.errors import Refused
from heating.models import District, ImportBatch, Township, Village
from imports.registry import load_registry

HEADER = ["乡镇代码", "乡镇", "村代码", "村名", "区域类别", "总户数", "城乡分类代码"]
ROWS = [
    ["140405001", "麟绛街道", "140405001201", "南街村委会", "县城建成区", 320, None],
    ["140405001", "麟绛街道", "140405001202", "东街村委会", "fringe", 210, "122"],
    ["140405101", "上村镇", "140405101201", "上村村委会", "农村地区", 455, "220"],
    ["140405101", "上村镇", "140405101202", "下村村委会", None, None, "220"],
]


def xlsx(rows: list[list], header: list[str] = HEADER, title: bool = True) -> bytes:
    wb = Workbook()
    ws = wb.active
    if title:
        ws.append(["屯留区村庄名录（2020）"])
    ws.append(header)
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def load(runtime, data: bytes, name: str = "村庄名录.xlsx", **overrides):
    config = runtime.config.with_overrides(**overrides) if overrides else runtime.config
    with runtime.session() as session:
        return load_registry(session, data, name, config=config)


def villages(runtime) -> dict[str, Village]:
    with runtime.session() as session:
        return {v.code: v for v in session.scalars(select(Village))}


def test_load_creates_district_townships_and_villages(runtime):
    report = load(runtime, xlsx(ROWS), district_name="屯留区")
    assert {k: report[k] for k in ("townships", "villages", "new", "updated")} == {
        "townships": 2,
        "villages": 4,
        "new": 4,
        "updated": 0,
    }
    assert report["issues"] == []
    stored = villages(runtime)
    assert stored["140405001201"].category == "county_core"
    assert stored["140405001201"].total_households == 320
    assert stored["140405001202"].category == "fringe"
    assert stored["140405001202"].urban_rural_code == "122"
    assert stored["140405101201"].category_proposed is False
    # No category given: proposed from 220 and said so.
    assert stored["140405101202"].category == "rural"
    assert stored["140405101202"].category_proposed is True
    assert [p["code"] for p in report["proposed"]] == ["140405101202"]
    assert report["proposed"][0]["category_label"] == "农村地区"
    with runtime.session() as session:
        district = session.scalar(select(District))
        assert (district.code, district.name) == ("140405", "屯留区")
        names = {t.code: t.name for t in session.scalars(select(Township))}
        assert names == {"140405001": "麟绛街道", "140405101": "上村镇"}
        batch = session.scalar(select(ImportBatch))
        assert (batch.kind, batch.status) == ("registry", "committed")


def test_district_name_falls_back_to_the_county_table(runtime):
    load(runtime, xlsx(ROWS))
    with runtime.session() as session:
        assert session.scalar(select(District.name)) == "屯留区"  # heating/data/counties_2024.csv


def test_seat_township_turns_121_into_county_core(runtime):
    header = [*HEADER, "是否驻地"]
    rows = [
        ["140405001", "麟绛街道", "140405001201", "南街", None, None, "121", "是"],
        ["140405101", "上村镇", "140405101201", "上村", None, None, "121", "否"],
    ]
    report = load(runtime, xlsx(rows, header))
    stored = villages(runtime)
    assert stored["140405001201"].category == "county_core"
    assert stored["140405101201"].category == "rural"
    assert len(report["proposed"]) == 2
    with runtime.session() as session:
        assert session.scalar(select(District.seat_township_code)) == "140405001"


def test_reload_updates_changed_villages_and_blank_cells_keep_values(runtime):
    load(runtime, xlsx(ROWS))
    rows = [list(r) for r in ROWS]
    rows[0][5] = 330  # total households changed
    rows[2][5] = None  # blank: keep 455
    rows[2][4] = None  # blank category: keep the given 农村地区 (not proposed)
    rows.append(["140405101", "上村镇", "140405101203", "新村", "农村地区", 90, None])
    report = load(runtime, xlsx(rows))
    assert (report["new"], report["updated"]) == (1, 1)
    stored = villages(runtime)
    assert stored["140405001201"].total_households == 330
    assert stored["140405101201"].total_households == 455
    assert stored["140405101201"].category == "rural"
    assert stored["140405101201"].category_proposed is False
    assert len(stored) == 5


@pytest.mark.parametrize(
    ("row", "code", "words"),
    [
        (
            ["140405001", "麟绛街道", "14040500120", "短码村", "农村地区", 1, None],
            "village_code_format",
            "12 位",
        ),
        (
            ["140405001", "麟绛街道", "140405101299", "错乡镇村", "农村地区", 1, None],
            "village_code_mismatch",
            "不以所属乡镇代码",
        ),
        (
            ["140405001", "麟绛街道", "140405001299", "怪类别村", "山区", 1, None],
            "unknown_value",
            "城市建成区（city_core）",
        ),
        (
            ["140405001", "麟绛街道", "140405001201", "重复村", "农村地区", 1, None],
            "duplicate_village",
            "已出现过",
        ),
        (
            ["140405001", "麟绛街道", "140405001298", "无类别村", None, 1, None],
            "category_missing",
            "请填写区域类别",
        ),
        (
            ["140405001", "麟绛街道", "140405001297", "负数村", "农村地区", -3, None],
            "negative",
            "不能为负数",
        ),
    ],
)
def test_errors_refuse_the_whole_file_and_say_where(runtime, row, code, words):
    data = xlsx([*ROWS, row])
    with pytest.raises(Refused, match="未写入任何数据") as exc:
        load(runtime, data)
    issues = exc.value.detail["issues"]
    [issue] = [i for i in issues if i["severity"] == "error"]
    assert issue["code"] == code
    assert words in issue["message"]
    assert issue["row"] == 7 and issue["sheet"] == "Sheet"
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Village)) == 0
        assert session.scalar(select(func.count()).select_from(Township)) == 0


def test_gbk_csv_with_the_statistical_bureau_column_names(runtime):
    text = "township_code,township_name,village_code,village_name,urban_rural_code,区域类别\r\n"
    text += "140405001,麟绛街道,140405001201,南街村委会,121,\r\n"
    text += "140405100,余吾镇,140405100201,余吾村委会,220,\r\n"
    report = load(runtime, text.encode("gbk"), "名录.csv")
    assert (report["new"], report["townships"]) == (2, 2)
    stored = villages(runtime)
    assert stored["140405100201"].name == "余吾村委会"
    assert stored["140405001201"].category == "rural"  # 121 outside the (unknown) seat


def test_a_file_without_a_registry_header_is_refused(runtime):
    with pytest.raises(Refused, match="找不到村庄名录的表头"):
        load(runtime, xlsx([["a", "b"]], header=["甲", "乙", "丙"]))


def registry_dump(runtime) -> list[tuple]:
    """Every stored district, township and village, column by column, plus the batch count."""
    out: list[tuple] = []
    with runtime.session() as session:
        for model in (District, Township, Village):
            columns = [c.key for c in model.__table__.columns]
            for item in session.scalars(select(model).order_by(model.id)):
                out.append((model.__name__, *(getattr(item, c) for c in columns)))
        out.append(("batches", session.scalar(select(func.count()).select_from(ImportBatch))))
    return out


def test_a_refused_registry_leaves_the_registry_byte_identical(
    runtime, run_cli, login, tmp_path
) -> None:
    from tests.support.web import csrf_token

    load(runtime, xlsx(ROWS), district_name="屯留区")
    before = registry_dump(runtime)
    bad = xlsx(
        [
            # A valid update of a township's and a village's name …
            ["140405001", "麟绛街道（新）", "140405001201", "南街社区", "县城建成区", 999, None],
            # … and a township new to the registry that has no name: an error.
            ["140405102", None, "140405102201", "新村", "农村地区", 10, None],
        ]
    )
    with pytest.raises(Refused) as caught:
        load(runtime, bad, "名录.xlsx")
    message = caught.value.message
    assert registry_dump(runtime) == before
    assert message == (
        "村庄名录“名录.xlsx”有 1 处错误，未写入任何数据。例如：工作表“Sheet”第 4 行 B 列："
        "乡镇 140405102 不在名录中，文件中也没有它的名称：请在“乡镇”列填写乡镇名称。"
        "请按问题清单修改后重新上传。"
    )
    # The command line and the admin page say exactly the same.
    path = tmp_path / "名录.xlsx"
    path.write_bytes(bad)
    result = run_cli("registry", "load", str(path))
    assert result.exit_code == 1 and result.stderr.strip() == f"错误：{message}"
    client = login("alice")
    before = registry_dump(runtime)
    import io as _io

    page = client.post(
        "/admin/registry",
        data={"file": (_io.BytesIO(bad), "名录.xlsx"), "csrf_token": csrf_token(client, "/")},
        content_type="multipart/form-data",
    ).get_data(as_text=True)
    assert message in page
    assert registry_dump(runtime) == before


def test_a_refusal_lists_the_first_errors_as_sentences_not_characters(runtime) -> None:
    rows = [
        ["140405001", "麟绛街道", "140405001298", "无类别村", None, 1, None],
        ["140405001", "麟绛街道", "1404050012", "短代码村", "农村地区", 1, None],
        ["140405001", "麟绛街道", "140405001297", "负数村", "农村地区", -3, None],
        ["140405001", "麟绛街道", "140405001296", "又无类别村", None, 1, None],
    ]
    with pytest.raises(Refused) as caught:
        load(runtime, xlsx(rows), "名录.xlsx")
    message = caught.value.message
    assert "例；如" not in message and "；；" not in message
    assert message.startswith(
        "村庄名录“名录.xlsx”有 4 处错误，未写入任何数据。例如：工作表“Sheet”第 3 行"
    )
    assert message.count("；") == 2 and "等。请按问题清单修改后重新上传。" in message
