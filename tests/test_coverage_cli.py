"""``heating coverage``: the JSON interfaces.md promises and the Chinese table."""

from __future__ import annotations

import json
from datetime import date, datetime

from heating.history import record_update
from tests.support.districts import NANJIE, SHANGCUN, XIACUN
from tests.support.households import add_many

PROMISED = {
    "key",
    "name",
    "category",
    "required",
    "clean",
    "coverage",
    "effective_coverage",
    "target",
    "gap",
    "meets",
}


def test_by_category_json_lists_four_categories_and_total(run_cli, standard) -> None:
    result = run_cli("coverage", "--by", "category", "--json")
    assert result.exit_code == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["key"] for r in rows] == ["city_core", "county_core", "fringe", "rural", "total"]
    for row in rows:
        assert set(row) >= PROMISED
    city, *_, rural, total = rows
    assert (city["name"], city["required"], city["coverage"], city["meets"]) == (
        "城市建成区",
        0,
        None,
        None,
    )
    assert (rural["required"], rural["clean"], rural["target"], rural["gap"]) == (30, 23, 0.8, 1)
    assert rural["meets"] is False
    assert (total["name"], total["required"], total["clean"], total["gap"]) == ("合计", 46, 38, 2)


def test_by_village_and_township_json(run_cli, standard) -> None:
    villages = json.loads(run_cli("coverage", "--json").stdout)
    assert [v["key"] for v in villages][2:] == [SHANGCUN, XIACUN]
    assert villages[0]["category"] == "county_core"
    assert villages[0]["coverage"] == 0.9 and villages[0]["effective_coverage"] == 0.8
    townships = json.loads(run_cli("coverage", "--by", "township", "--json").stdout)
    assert [(t["key"], t["name"]) for t in townships] == [
        ("140405001", "麟绛街道"),
        ("140405101", "上村镇"),
    ]
    only = json.loads(run_cli("coverage", "--township", "140405101", "--json").stdout)
    assert [v["key"] for v in only] == [SHANGCUN, XIACUN]


def test_as_of_option(run_cli, runtime, tiny_district) -> None:
    with runtime.session() as s:
        (h,) = add_many(s, tiny_district[XIACUN], 1, "pending", at=datetime(2021, 5, 1))
        record_update(
            s,
            h,
            {"status": "completed"},
            ledger_date=date(2021, 11, 2),
            recorded_at=datetime(2021, 11, 2),
        )
    then = json.loads(run_cli("coverage", "--as-of", "2021-10-31", "--json").stdout)
    now = json.loads(run_cli("coverage", "--json").stdout)
    assert [v["clean"] for v in then if v["key"] == XIACUN] == [0]
    assert [v["clean"] for v in now if v["key"] == XIACUN] == [1]


def test_table_is_chinese_with_dash_for_no_coverage(run_cli, runtime, tiny_district) -> None:
    with runtime.session() as s:
        add_many(s, tiny_district[SHANGCUN], 19, "completed")
        add_many(s, tiny_district[SHANGCUN], 1, "pending")
    result = run_cli("coverage")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert "应改造户数" in lines[1] and "覆盖率" in lines[1]
    shangcun = next(line for line in lines if line.startswith(SHANGCUN))
    assert "95.0%" in shangcun and "80.0%" in shangcun and "是" in shangcun
    xiacun = next(line for line in lines if line.startswith(XIACUN))
    assert xiacun.split()[3:7] == ["0", "0", "—", "—"]  # required 0: coverage undefined
    # Aligned: every data line has the coverage column at the same display offset.
    from heating.cli.measures import display_width

    header = lines[1]
    end = display_width(header[: header.index("覆盖率") + 3])
    for line in lines[3:7]:
        cells = line.split()
        assert display_width(line[: line.index(cells[5]) + len(cells[5])]) == end


def test_category_table_ends_with_total(run_cli, standard) -> None:
    result = run_cli("coverage", "--by", "category")
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    names = {"城市建成区", "农村地区", "合计"}  # rows by the category's name, not its key
    body = [line for line in lines if line.split()[0] in names]
    assert [line.split()[0] for line in body] == ["城市建成区", "农村地区", "合计"]
    assert "82.6%" in body[-1]  # 38 / 46


def test_bad_date_is_usage_error(run_cli, tiny_district) -> None:
    result = run_cli("coverage", "--as-of", "2021/10/31")
    assert result.exit_code == 2
    assert "YYYY-MM-DD" in result.stderr


def test_unknown_township_is_refused(run_cli, tiny_district) -> None:
    result = run_cli("coverage", "--township", "140405999", "--json")
    assert result.exit_code == 1
    assert "140405999" in result.stderr and "乡镇" in result.stderr
    assert result.stdout == ""


def test_empty_database_says_what_to_do(run_cli) -> None:
    result = run_cli("coverage")
    assert result.exit_code == 0
    assert "村庄名录" in result.stdout
    assert json.loads(run_cli("coverage", "--json").stdout) == []


def test_category_table_says_how_each_category_complies(run_cli, standard) -> None:
    out = run_cli("coverage", "--by", "category").stdout
    assert "城市建成区（目标 100.0%）：所选范围内无此类区域的村，不作判断。" in out
    assert "县城建成区（目标 100.0%）：未达标，须每村达标：南街村委会（缺 1 户）。" in out
    assert "城乡结合部（目标 100.0%）：每个村均已达标。" in out
    assert "农村地区（目标 80.0%）：按全类别合计 76.7%，未达标，还差 1 户。" in out


def test_inconsistencies_listed_on_request(run_cli, runtime, tiny_district) -> None:
    with runtime.session() as s:
        add_many(s, tiny_district[NANJIE], 11, "completed")  # registry says 10
    plain = run_cli("coverage").stdout
    assert "不一致" not in plain
    out = run_cli("coverage", "--inconsistencies").stdout
    assert "数据不一致 2 项" in out
    assert "[ledger_exceeds_registry]" in out and "[clean_exceeds_required]" in out
    assert run_cli("coverage", "--json", "--inconsistencies").stdout.lstrip().startswith("[")


def test_unknown_category_is_named_as_unknown_in_the_tables(run_cli, runtime, standard) -> None:
    """A category key the profile does not know reads 未知类别（key）, never the bare key."""
    from sqlalchemy import update

    from heating.models import Village

    with runtime.session() as s:
        s.execute(update(Village).where(Village.code == NANJIE).values(category="county"))
    villages = run_cli("coverage", "--by", "village")
    assert villages.exit_code == 0, villages.stderr
    (line,) = [ln for ln in villages.stdout.splitlines() if ln.startswith(NANJIE)]
    assert "未知类别（county）" in line
    categories = run_cli("coverage", "--by", "category").stdout
    assert "未知类别（county）" in categories
    assert not any(ln.split()[0] == "county" for ln in categories.splitlines() if ln.strip())
    rows = json.loads(run_cli("coverage", "--by", "village", "--json").stdout)
    assert [r["category"] for r in rows if r["key"] == NANJIE] == ["county"]  # JSON: the key
