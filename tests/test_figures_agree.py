"""Numbers you can sign: one district's figures agree wherever they are shown.

One small district is built through the production paths — the two
townships' ledgers imported from .xlsx files by ``heating import``, the
heat-source register by ``heating heat-sources load``, a season of
electricity use by ``heating usage import`` — and the same figures are read
back from every face: ``heating coverage --json``, the dashboard, the village
list, /api/coverage and /api/villages.geojson (what the map reads), the
map's tooltips, the annual report workbook and ``heating report --json``.
Under ``heat_source_rule`` strict and warn.

The district (tests/support.TINY), ledgers dated 2021-10-31:

- 南街 (county core, 10 registered): 4 served by 屯留热电厂 (grade A), 2 by
  屯留县兴旺钢铁 (waste heat, grade C: non-compliant), 4 煤改电;
- 东街 (fringe, 8 registered): 8 煤改电, one of them burning coal again;
- 上村 (rural, 20 registered): 12 煤改电, 4 not yet;
- 下村 (rural, no registry total): 3 煤改电, 1 not yet.

Season 2020 use: every 煤改电 household used 1,000 kWh but three (南街 N10:
0, 东街 E8: 50, 上村 U12: 0) — 疑似改而不用.  Under strict 南街 counts 8 of
10 clean and is not complete; under warn 10 of 10.
"""

from __future__ import annotations

import io
import json
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from geo.maps import map_data
from heating.heat_sources import noncompliant_note
from heating.targets import percent
from tests.support.ledgers import LEDGER_HEADER, ledger_xlsx
from tests.support.registers import REGISTER, register_xlsx
from tests.support.report import read_table

LINJIANG, SHANGCUN_TOWN = "140405001", "140405101"
NANJIE = "140405001201"
LEDGER_DATE = "2021-10-31"
DONE = date(2020, 9, 1)
SEASON_MONTHS = ["2020-11", "2020-12", "2021-01", "2021-02", "2021-03"]
FLAGGED_USE = {"N10": 0, "E8": 50, "U12": 0}
NONCOMPLIANT = 2  # 南街's two households served by the grade-C waste-heat source

STRICT = {"heat_source_rule": "strict"}
WARN = {"heat_source_rule": "warn"}


def _rows() -> dict[str, list[list[Any]]]:
    """Ledger rows per township: LEDGER_HEADER + 热源, 电力户号, 运行情况."""
    south, east, up, down = "南街村委会", "东街村委会", "上村村委会", "下村村委会"

    def row(village, no, status="已完成", route="煤改电", source=None, operation=None):
        electric = route == "煤改电" and status == "已完成"
        return [village, no, f"户主{no}", None, None, status, route if status == "已完成" else None,
                DONE if status == "已完成" else None, source, f"P{no}" if electric else None,
                operation]  # fmt: skip

    linjiang = (
        [row(south, f"N{i}", route="集中供热", source="屯留热电厂") for i in range(1, 5)]
        + [row(south, f"N{i}", route="集中供热", source="屯留县兴旺钢铁") for i in (5, 6)]
        + [row(south, f"N{i}") for i in range(7, 11)]
        + [row(east, f"E{i}", operation="散煤复烧" if i == 1 else None) for i in range(1, 9)]
    )
    shangcun = (
        [row(up, f"U{i}") for i in range(1, 13)]
        + [row(up, f"U{i}", status="未改造") for i in range(13, 17)]
        + [row(down, f"D{i}") for i in range(1, 4)]
        + [row(down, "D4", status="未改造")]
    )
    return {LINJIANG: linjiang, SHANGCUN_TOWN: shangcun}


def _usage_xlsx(path: Path, accounts: list[str]) -> str:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["户号", "月份", "用电量"])
    for account in accounts:
        total = FLAGGED_USE.get(account[1:], 1000)
        for month in SEASON_MONTHS:
            ws.append([account, month, total / len(SEASON_MONTHS)])
    wb.save(path)
    return str(path)


@pytest.fixture
def district(run_cli, runtime, tiny_district, settings, tmp_path, monkeypatch) -> dict[str, Any]:
    """The district above, built by the CLI; the runtime's settings are the CLI's too."""
    for name, value in settings.items():
        text = value if isinstance(value, str) else json.dumps(value)
        monkeypatch.setenv(f"HEATING_{name.upper()}", text)
    register = tmp_path / "热源名单.xlsx"
    register.write_bytes(register_xlsx(REGISTER))
    result = run_cli("heat-sources", "load", str(register))
    assert result.exit_code == 0, result.stderr
    header = [*LEDGER_HEADER, "热源", "电力户号", "运行情况"]
    accounts = []
    for township, rows in _rows().items():
        path = tmp_path / f"{township}.xlsx"
        path.write_bytes(ledger_xlsx(rows, header=header))
        result = run_cli(
            "import", str(path), "--township", township, "--ledger-date", LEDGER_DATE,
            "--commit", "--json",
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr + result.stdout
        outcome = json.loads(result.stdout)
        assert outcome["counts"]["rejected"] == 0, outcome
        accounts += [r[9] for r in rows if r[9]]
    usage = _usage_xlsx(tmp_path / "用电.xlsx", accounts)
    result = run_cli("usage", "import", usage, "--kind", "electric", "--commit")
    assert result.exit_code == 0, result.stderr + result.stdout
    return {"tmp": tmp_path}


# --------------------------------------------------------------------------
# Reading each face into the same shape: key → (required, clean, coverage, gap, meets)
# --------------------------------------------------------------------------

MEETS_WORDS = {"达标": True, "未达标": False, "无数据": None, "—": None}


def figure(required, clean, coverage, gap, meets) -> tuple:
    """Figures as people read them: counts, coverage to 0.1%, meets yes/no/—."""
    if isinstance(coverage, int | float) or coverage is None:  # a workbook's 1 is an int
        coverage = percent(coverage)
    if isinstance(meets, str):
        meets = MEETS_WORDS[meets]
    as_int = [
        int(str(x).replace(",", "")) if x not in (None, "—") else None
        for x in (required, clean, gap)
    ]
    return (as_int[0], as_int[1], coverage, as_int[2], meets)


def from_json(rows: list[dict[str, Any]]) -> dict[str, tuple]:
    return {
        r["key"]: figure(r["required"], r["clean"], r["coverage"], r["gap"], r["meets"])
        for r in rows
    }


class _Tables(HTMLParser):
    """The text of every cell of the tables with an id, row by row."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._table = dict(attrs).get("id")
            if self._table:
                self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def page_tables(client, path: str) -> dict[str, list[list[str]]]:
    resp = client.get(path)
    assert resp.status_code == 200, path
    parser = _Tables()
    parser.feed(resp.get_data(as_text=True))
    return parser.tables


def _meets_word(text: str) -> str:
    """A village of a total-judged category reads 达到/低于 80%: the same yes/no."""
    return text if text in MEETS_WORDS else ("未达标" if text.startswith("低于") else "达标")


def measure_cells(cells: list[str]) -> tuple:
    """required, clean, coverage, effective, target, gap, meets (the measure_cells macro)."""
    required, clean, coverage, _effective, _target, gap, meets = cells
    return figure(required, clean, coverage, gap, _meets_word(meets))


def from_report(rows: list[dict[str, Any]], key: str) -> dict[str, tuple]:
    return {
        str(r[key]): figure(
            r["户数|应改造"], r["户数|已完成"], r["覆盖率|覆盖率"], r["差距户数"], r["是否达标"]
        )
        for r in rows
    }


# --------------------------------------------------------------------------
# The figures
# --------------------------------------------------------------------------


def expected_figures(rule: str) -> dict[str, Any]:
    """What the data support, worked out by hand (module docstring)."""
    south_clean = 10 if rule == "warn" else 10 - NONCOMPLIANT
    south = figure(10, south_clean, south_clean / 10, 10 - south_clean, south_clean == 10)
    rural = figure(24, 15, 15 / 24, 20 - 15, False)  # ceil(0.8 × 24) = 20
    return {
        "南街": south,
        "rural": rural,
        "complete": {"county_core": int(south_clean == 10), "fringe": 1, "rural": 0},
        "flagged": len(FLAGGED_USE),
    }


@pytest.mark.parametrize("settings", [STRICT, WARN], ids=["strict", "warn"])
def test_every_face_shows_the_same_figures(run_cli, runtime, login, district, settings) -> None:
    rule = settings["heat_source_rule"]
    want = expected_figures(rule)

    def cli_json(*args: str) -> Any:
        result = run_cli(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    # The CLI: the reference every other face is compared with.
    cli_villages = cli_json("coverage")
    cli_townships = cli_json("coverage", "--by", "township")
    cli_categories = cli_json("coverage", "--by", "category")
    villages, townships = from_json(cli_villages), from_json(cli_townships)
    categories = from_json(cli_categories)
    # ...which says what the data say.
    assert villages[NANJIE] == want["南街"]
    assert categories["rural"] == want["rural"]
    total = next(r for r in cli_categories if r["key"] == "total")
    assert total["usage_flagged"] == want["flagged"]
    noncompliant = sum(r["heat_source_noncompliant"] for r in cli_villages)
    assert noncompliant == NONCOMPLIANT  # listed in both modes
    complete_codes = {
        r["key"] for r in cli_villages if r["required"] > 0 and r["clean"] >= r["required"]
    }
    complete = {
        cat: sum(1 for r in cli_villages if r["category"] == cat and r["key"] in complete_codes)
        for cat in want["complete"]
    }
    assert complete == want["complete"]

    # Coal-ban zones are drawn from the complete villages (all four have boundaries).
    zones = cli_json("zones", "derive", "--as-of", LEDGER_DATE)
    assert {code for zone in zones["zones"] for code in zone["villages"]} == complete_codes

    client = login("alice")
    # The JSON API.
    for by, reference in (("village", villages), ("township", townships), ("category", categories)):
        api = client.get(f"/api/coverage?by={by}").get_json()
        assert from_json(api) == reference, by

    # The dashboard: categories and townships.
    tables = page_tables(client, "/")
    names = {r["name"]: r["key"] for r in cli_categories}
    dashboard_categories = {
        names.get(row[0], "total"): measure_cells(row[3:10]) for row in tables["categories"][1:]
    }
    assert dashboard_categories == categories
    # Each category's count of villages below target is the list its link opens.
    for row in tables["categories"][1:-1]:
        key = names[row[0]]
        below = [r for r in cli_villages if r["category"] == key and r["meets"] is False]
        if not any(r["category"] == key for r in cli_villages):
            # A category without villages is not judged: "—" and why, never "0 个".
            assert row[10].startswith("—（") and "0 个" not in row[10], row
        else:
            assert re.search(rf"的村 {len(below)} 个", row[10]), row
        listed = page_tables(client, f"/villages?category={key}&meets=no")["villages"][1:]
        assert sorted(r[0] for r in listed if len(r) > 1) == sorted(r["key"] for r in below)
    town_names = {r["name"]: r["key"] for r in cli_townships}
    dashboard_townships = {
        town_names[row[0]]: measure_cells(row[4:11]) for row in tables["townships"][1:]
    }
    assert dashboard_townships == townships

    # The village list (every village on one page).
    list_rows = page_tables(client, "/villages")["villages"][1:]
    # ...its last cells: the measure cells with 核验后有效覆盖率 after 有效覆盖率.
    assert {row[0]: measure_cells(row[-8:-4] + row[-3:]) for row in list_rows} == villages

    # 历年趋势: the year of the ledgers is the figures above (one cut-off, 10-31).
    trend = page_tables(client, "/trend")["trend"]
    heads = trend[0][2:]
    assert len(heads) == 5  # four categories and the total
    (year,) = [row for row in trend[2:] if row[0] == "2021"]
    assert {
        names.get(name, "total"): figure(*year[2 + 3 * i : 5 + 3 * i], None, None)[:3]
        for i, name in enumerate(heads)
    } == {key: categories[key][:3] for key in (names.get(name, "total") for name in heads)}

    # The planners' Excel exports of both tables.
    def exported(path: str, first_header: str) -> dict[str, tuple]:
        resp = client.get(path)
        assert resp.status_code == 200, path
        rows = read_table(openpyxl.load_workbook(io.BytesIO(resp.data)).active, first_header)
        return {
            str(r[first_header]): figure(
                r["应改户数"],
                r["已完成户数"],
                r["覆盖率"],
                r["差距（户）"],
                _meets_word(r["是否达标"]),
            )
            for r in rows
        }

    assert exported("/?export=xlsx", "乡镇代码") == townships
    assert exported("/villages?export=xlsx", "村代码") == villages

    # What the map reads: the village layer's numbers.
    geo = client.get("/api/villages.geojson").get_json()
    map_villages = {
        f["properties"]["code"]: figure(
            *(f["properties"][k] for k in ("required", "clean", "coverage", "gap", "meets"))
        )
        for f in geo["features"]
    }
    assert map_villages == villages
    # ...and the map page's document: each village's tooltip (geo.maps, as /map/script.js).
    with runtime.session() as session:
        drawn = map_data(session, runtime.config).areas
    tips = dict(zip(drawn["code"], drawn["tip"], strict=True))
    assert {
        code: figure(tip[3], tip[4], tip[5], tip[8], villages[code][4])
        for code, tip in tips.items()
    } == villages
    flagged_by_village = {r["key"]: r["usage_flagged"] for r in cli_villages}
    assert {code: int(tip[9]) for code, tip in tips.items()} == flagged_by_village

    # 疑似改而不用: the usage command, the 用量核验 page and each village page.
    flags = cli_json("usage", "flags", "--season", "2020")
    assert flags["flagged"] == want["flagged"]
    assert {t["township"]: (t["checked"], t["flagged"]) for t in flags["by_township"]} == {
        r["key"]: (r["usage_checked"], r["usage_flagged"]) for r in cli_townships
    }
    usage_page = client.get("/usage").get_data(as_text=True)
    assert f'id="flagged-count">{want["flagged"]}<' in usage_page
    for code, count in flagged_by_village.items():
        page = client.get(f"/villages/{code}").get_data(as_text=True)
        assert f'id="usage-flagged">{count}<' in page, code

    # The annual report (as of the ledgers' date) and its JSON.
    out = district["tmp"] / "report.xlsx"
    outcome = cli_json("report", "--year", "2021", "-o", str(out))
    assert (
        figure(outcome["required"], outcome["clean"], outcome["coverage"], None, outcome["meets"])[
            :3
        ]
        == categories["total"][:3]
    )
    assert from_json(outcome["categories"]) == categories
    wb = openpyxl.load_workbook(out)
    overview = read_table(wb["总体情况"], "区域类别")
    names_of = {r["name"]: r["key"] for r in cli_categories}
    assert {names_of[k]: v for k, v in from_report(overview, "区域类别").items()} == categories
    assert {
        names_of[r["区域类别"]]: r["完成村数"] for r in overview if r["区域类别"] != "合计"
    } == {**{"city_core": 0}, **want["complete"]}
    report_towns = from_report(read_table(wb["分乡镇"], "乡镇代码"), "乡镇代码")
    assert {k: v for k, v in report_towns.items() if k in townships} == townships
    village_sheet = read_table(wb["分村"], "村代码")
    assert {r["村代码"] for r in village_sheet if r["完成村"] == "是"} == complete_codes
    report_villages = from_report(village_sheet, "村代码")
    assert {k: v for k, v in report_villages.items() if k in villages} == villages
    evidence = {r["项目"]: r["数值"] for r in read_table(wb["总体情况"], "项目")}
    assert evidence["疑似改而不用户数"] == str(want["flagged"])
    usage_towns = {r["乡镇名称"]: r for r in read_table(wb["用量核验"], "乡镇代码")}
    assert usage_towns["合计"]["疑似改而不用"] == want["flagged"]
    sources = {r["乡镇代码"]: r for r in read_table(wb["热源核查"], "乡镇代码")}
    assert {code: sources[code]["不合规热源户"] for code in townships} == {
        r["key"]: r["heat_source_noncompliant"] for r in cli_townships
    }
    # The village page and the map's tooltip say the same of 南街's two.
    note = noncompliant_note(NONCOMPLIANT, rule)
    assert note in tips[NANJIE][-1]
    south_page = client.get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert f'id="heat-source-note">{note}' in south_page


def test_flagged_reads_dash_wherever_nothing_was_checked(runtime, login, tiny_district) -> None:
    """No use imported: the map said "—" for 疑似改而不用 while the village page and the
    report said 0; "0 flagged" claims a check that never happened."""
    from geo.map_tips import evidence_tip
    from heating.measures import coverage
    from heating.report import build_report
    from tests.support.districts import NANJIE
    from tests.support.households import add_many

    with runtime.session() as s:
        add_many(s, tiny_district[NANJIE], 3, "completed", route="electric")
    with runtime.session() as s:
        (row,) = [r for r in coverage(s, runtime.config.profile) if r.key == NANJIE]
        built = build_report(s, runtime.config, 2021, picture=False)
    assert row.usage_checked == 0 and row.usage_flagged_shown is None
    assert evidence_tip(row)[0] == "—"
    page = login("alice").get(f"/villages/{NANJIE}").get_data(as_text=True)
    assert 'id="usage-flagged">—<' in page
    wb = openpyxl.load_workbook(io.BytesIO(built.content))
    evidence = {r["项目"]: r["数值"] for r in read_table(wb["总体情况"], "项目")}
    assert evidence["疑似改而不用户数"] == "—"


# A stricter 疑似改而不用 rule than the default: use below 1% of the median (not
# 30%) — 东街's E8 (50 kWh of a 1,000 median) is no longer flagged, the two
# zero-use households still are.
STRICT_RATIO = {"heat_source_rule": "strict", "usage": {"ratio": 0.01}}


@pytest.mark.parametrize("settings", [STRICT_RATIO], ids=["ratio-1%"])
def test_configured_usage_settings_reach_every_face(run_cli, runtime, login, district) -> None:
    """The dashboard, village list, map and compliance counted with the default [usage]
    settings while the CLI and report used the configured ones: 3 flagged against 2."""
    from heating.compliance import compliance
    from heating.measures import coverage

    def cli_json(*args: str) -> Any:
        result = run_cli(*args, "--json")
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    cli_villages = {r["key"]: r for r in cli_json("coverage")}
    cli_total = cli_json("coverage", "--by", "category")[-1]
    assert cli_total["usage_flagged"] == 2  # N10 and U12; E8's 5% is above 1%
    verified = percent(cli_total["verified_effective_coverage"])
    by_village = {
        code: (r["usage_flagged"], percent(r["verified_effective_coverage"]))
        for code, r in cli_villages.items()
    }

    # The domain, called as every face calls it: no settings passed.
    with runtime.session() as session:
        rows = coverage(session, runtime.config.profile, "category")
        judged = compliance(session, runtime.config.profile)
    assert rows[-1].usage_flagged == 2
    assert percent(rows[-1].verified_effective_coverage) == verified
    assert sum(c.aggregate.usage_flagged for c in judged) == 2

    client = login("alice")
    dashboard = client.get("/").get_data(as_text=True)
    assert f'id="total-verified-effective">{verified}<' in dashboard
    heads, *list_rows = page_tables(client, "/villages")["villages"]
    column = heads.index("核验后有效覆盖率")
    assert {row[0]: row[column] for row in list_rows} == {
        code: shown for code, (_, shown) in by_village.items()
    }
    geo = client.get("/api/villages.geojson").get_json()
    assert {
        f["properties"]["code"]: (
            f["properties"]["usage_flagged"],
            percent(f["properties"]["verified_effective_coverage"]),
        )
        for f in geo["features"]
    } == by_village
    with runtime.session() as session:
        drawn = map_data(session, runtime.config).areas
    tips = dict(zip(drawn["code"], drawn["tip"], strict=True))
    assert {code: (int(tip[9]), tip[10]) for code, tip in tips.items()} == by_village
    for code, (flagged, shown) in by_village.items():
        page = client.get(f"/villages/{code}").get_data(as_text=True)
        assert f'id="usage-flagged">{flagged}<' in page, code
        assert f'id="verified-effective">{shown}<' in page, code

    out = district["tmp"] / "report.xlsx"
    cli_json("report", "--year", "2021", "-o", str(out))
    evidence = {
        r["项目"]: r["数值"] for r in read_table(openpyxl.load_workbook(out)["总体情况"], "项目")
    }
    assert evidence["疑似改而不用户数"] == "2"
    assert evidence["核验后有效覆盖率"] == verified
