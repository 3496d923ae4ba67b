"""The boiler ledger and its 清零 progress: units, state history as of a date, zones, refusals.

The tiny district's villages are boxes in a row at 36.30–36.31°N:
南街 112.80–112.81, 东街 112.81–112.82, 上村 112.82–112.83, 下村 112.83–112.84.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from shapely.geometry import box
from sqlalchemy import func, select

from heating.boilers import boiler_status, tph_of_mw
from heating.errors import Refused
from heating.models import Boiler, BoilerInspection, ImportBatch
from imports.boilers import load_boilers
from tests.support.database import row_counts
from tests.support.districts import SHANGCUN
from tests.support.registers import boiler_row, boiler_xlsx
from tests.support.zones import add_zone


def load(runtime, data: bytes, name: str = "锅炉台账.xlsx"):
    with runtime.session() as session:
        return load_boilers(session, data, name, config=runtime.config, today=date(2022, 1, 1))


def status(runtime, as_of: date, **kwargs):
    with runtime.session() as session:
        return boiler_status(session, as_of=as_of, **kwargs)


def test_capacity_in_tph_or_mw(runtime, tiny_district) -> None:
    result = load(
        runtime,
        boiler_xlsx(
            [
                boiler_row("GL-1", tph=10),
                boiler_row("GL-2", tph=None, mw=0.7),  # 1 t/h
                boiler_row("GL-3", tph=None, mw=24.5),  # exactly 35 t/h: in scope
                boiler_row("GL-4", tph=None, mw=25),  # 35.7 t/h: out of scope
                boiler_row("GL-5", tph=35),
                boiler_row("GL-6", tph=40),
                boiler_row(
                    "GL-7", tph=20, mw=7
                ),  # 10 t/h by MW: the t/h column wins, with a warning
            ]
        ),
    )
    assert {k: result[k] for k in ("boilers", "new", "updated")} == {
        "boilers": 7,
        "new": 7,
        "updated": 0,
    }
    assert [(i["code"], i["row"], i["column"]) for i in result["issues"]] == [
        ("capacity_mismatch", 9, "H")
    ]
    with runtime.session() as s:
        tph = dict(s.execute(select(Boiler.code, Boiler.tph)).all())
    assert tph == {
        "GL-1": 10,
        "GL-2": 1,
        "GL-3": 35,
        "GL-4": pytest.approx(35.714286),
        "GL-5": 35,
        "GL-6": 40,
        "GL-7": 20,
    }
    assert tph_of_mw(0.7) == 1
    scope = {b.code for b in status(runtime, date(2021, 12, 31)).boilers}
    assert scope == {"GL-1", "GL-2", "GL-3", "GL-5", "GL-7"}
    scope = {b.code for b in status(runtime, date(2021, 12, 31), max_tph=10).boilers}
    assert scope == {"GL-1", "GL-2"}


def test_state_as_of_follows_the_history(runtime, tiny_district) -> None:
    load(
        runtime,
        boiler_xlsx(
            [
                boiler_row("GL-1", state="在用"),  # undated: in use from the start
                boiler_row("GL-1", state="停用", state_date="2018-05-01", inspected="2018-06-01"),
                boiler_row("GL-1", state="拆除", state_date="2020-09-01"),
                boiler_row("GL-2", state="烟道切断", state_date="2019-03-01"),
                boiler_row("GL-3", state="改为清洁能源", state_date="2019-10-15"),
            ]
        ),
    )

    def states(day: date) -> dict[str, str]:
        return {b.code: b.state for b in status(runtime, day).boilers}

    assert states(date(2017, 1, 1)) == {"GL-1": "in_use", "GL-2": "unknown", "GL-3": "unknown"}
    assert states(date(2018, 5, 1)) == {"GL-1": "idle", "GL-2": "unknown", "GL-3": "unknown"}
    assert states(date(2019, 12, 31)) == {"GL-1": "idle", "GL-2": "flue_cut", "GL-3": "converted"}
    assert states(date(2021, 10, 31)) == {
        "GL-1": "removed",
        "GL-2": "flue_cut",
        "GL-3": "converted",
    }
    early = status(runtime, date(2017, 1, 1)).as_json()
    assert (early["in_scope"], early["cleared"], early["remaining"]) == (3, 0, 3)
    assert early["by_state"]["unknown"] == 2
    late = status(runtime, date(2021, 10, 31)).as_json()
    assert (late["in_scope"], late["cleared"], late["remaining"]) == (3, 2, 1)
    assert late["by_state"] == {
        "in_use": 0,
        "idle": 0,
        "flue_cut": 1,
        "standby": 0,
        "removed": 1,
        "deregistered": 0,
        "converted": 1,
        "unknown": 0,
    }
    assert late["by_township"] == [
        {
            "township": "140405001",
            "in_scope": 3,
            "cleared": 2,
            "remaining": 1,
            "name": "麟绛街道",
            "remaining_in_zones": 0,
            "inspection_overdue": 1,
        }
    ]


def test_reload_updates_by_id_and_keeps_the_history(runtime, tiny_district) -> None:
    load(runtime, boiler_xlsx([boiler_row("GL-1", state="停用", state_date="2019-01-01")]))
    again = load(
        runtime,
        boiler_xlsx([boiler_row("GL-1", state="停用", state_date="2019-01-01")]),
        "同一份.xlsx",
    )
    assert (again["new"], again["updated"]) == (0, 0)
    later = load(
        runtime,
        boiler_xlsx(
            [boiler_row("GL-1", unit="改名后的单位", state="拆除", state_date="2021-03-01")]
        ),
        "2021台账.xlsx",
    )
    assert (later["new"], later["updated"]) == (0, 1)
    with runtime.session() as s:
        boiler = s.scalar(select(Boiler))
        assert boiler.unit == "改名后的单位"
        assert (boiler.state, boiler.state_date) == ("removed", date(2021, 3, 1))
        history = [(st.state, st.state_date) for st in boiler.states]
        assert history == [("idle", date(2019, 1, 1)), ("removed", date(2021, 3, 1))]
        assert s.scalar(select(func.count()).select_from(ImportBatch)) == 3
    assert status(runtime, date(2020, 1, 1)).boilers[0].state == "idle"
    assert status(runtime, date(2021, 3, 1)).boilers[0].state == "removed"


def test_scope_goes_by_the_fuel_first_recorded(runtime, tiny_district) -> None:
    load(
        runtime,
        boiler_xlsx(
            [
                boiler_row("GL-1", fuel="燃煤", state="在用", state_date="2017-01-01"),
                boiler_row("GL-1", fuel="燃气", state="改为清洁能源", state_date="2019-06-01"),
                boiler_row("GQ-1", fuel="天然气", tph=4, state="在用"),
            ]
        ),
    )
    result = status(runtime, date(2020, 1, 1))
    assert [b.code for b in result.boilers] == ["GL-1"]
    assert result.boilers[0].cleared
    # Converted to gas: now counted for the low-NOx retrofit too.
    assert sorted(b.code for b in result.gas) == ["GL-1", "GQ-1"]


def test_inspections_overdue_for_dormant_boilers(runtime, tiny_district, monkeypatch) -> None:
    load(
        runtime,
        boiler_xlsx(
            [
                boiler_row("GL-1", state="停用", state_date="2020-01-01", inspected="2021-09-01"),
                boiler_row(
                    "GL-2", state="烟道切断", state_date="2020-01-01", inspected="2021-06-01"
                ),
                boiler_row("GL-3", state="应急备用", state_date="2020-01-01"),
                boiler_row("GL-4", state="在用", state_date="2020-01-01"),
            ]
        ),
    )
    result = status(runtime, date(2021, 10, 31), inspection_days=90)
    assert {b.code: b.overdue for b in result.boilers} == {
        "GL-1": False,  # 60 days ago
        "GL-2": True,  # 152 days ago
        "GL-3": True,  # never inspected
        "GL-4": False,  # in use: inspected by other rules
    }
    data = result.as_json()
    assert data["inspection_overdue"] == 2
    assert [(i["id"], i["last_inspection"]) for i in data["inspections"]] == [
        ("GL-1", "2021-09-01"),
        ("GL-2", "2021-06-01"),
        ("GL-3", None),
    ]
    # As of a date before the September inspection, GL-1's latest one is older.
    earlier = status(runtime, date(2021, 8, 31), inspection_days=90)
    assert {b.code: b.last_inspection for b in earlier.boilers}["GL-1"] is None
    with runtime.session() as s:
        assert s.scalar(select(func.count()).select_from(BoilerInspection)) == 2


def test_gas_low_nox_counts(runtime, tiny_district) -> None:
    load(
        runtime,
        boiler_xlsx(
            [
                boiler_row("GQ-1", fuel="燃气", tph=50, low_nox="已完成", low_nox_on="2020-10-01"),
                boiler_row("GQ-2", fuel="燃气", tph=2, low_nox="未完成"),
                boiler_row(
                    "GQ-3", fuel="燃气", tph=2, low_nox="已完成"
                ),  # no date: not done (warned)
                boiler_row(
                    "GQ-4", fuel="燃气", state="拆除", state_date="2020-05-01"
                ),  # gone: not counted
                boiler_row("GL-1", fuel="燃煤"),
            ]
        ),
    )
    now = status(runtime, date(2021, 10, 31)).as_json()["gas_low_nox"]
    assert {k: now[k] for k in ("total", "done", "remaining")} == {
        "total": 3,
        "done": 1,
        "remaining": 2,
    }
    assert [b["id"] for b in now["boilers"]] == ["GQ-2", "GQ-3"]
    before = status(runtime, date(2020, 4, 30)).as_json()["gas_low_nox"]
    assert (before["total"], before["done"]) == (4, 0)


def test_remaining_in_zones_with_an_edge_and_an_enclave(runtime, tiny_district) -> None:
    # A zone over 南街 and 东街, and a later one with a hole where 上村 is (an enclave).
    add_zone(runtime, [], [], (112.80, 36.30, 112.82, 36.31), as_of=date(2020, 10, 31))
    ring = box(112.80, 36.30, 112.84, 36.31).difference(box(112.82, 36.30, 112.83, 36.31))
    add_zone(runtime, [], [], as_of=date(2021, 10, 31), geometry=ring, enclaves=[SHANGCUN])
    load(
        runtime,
        boiler_xlsx(
            [
                boiler_row("GL-1", lon=112.805, lat=36.305),  # inside 南街
                boiler_row("GL-2", lon=112.82, lat=36.305),  # exactly on the first zone's edge
                boiler_row("GL-3", township="上村镇", lon=112.825, lat=36.305),  # in 上村
                boiler_row("GL-4", lon=112.805, lat=36.305, state="拆除", state_date="2019-01-01"),
                boiler_row("GL-5", lon=None, lat=None),  # no coordinates: never inside
            ]
        ),
    )
    before_zones = status(runtime, date(2019, 12, 31))
    assert before_zones.derivation is None
    assert before_zones.as_json()["remaining_in_zones"] == 0

    first = status(runtime, date(2021, 1, 1))
    assert {b.code: (b.in_zone, b.in_enclave) for b in first.boilers} == {
        "GL-1": (True, False),
        "GL-2": (True, False),
        "GL-3": (False, False),
        "GL-4": (True, False),
        "GL-5": (False, False),
    }
    data = first.as_json()
    assert data["remaining_in_zones"] == 2  # GL-4 is cleared
    assert data["zones"]["as_of"] == "2020-10-31"

    second = status(runtime, date(2021, 10, 31)).as_json()
    flags = {b["id"]: (b["in_zone"], b["in_enclave"]) for b in second["boilers"]}
    assert flags["GL-3"] == (False, True)  # surrounded by zone, not in it
    assert flags["GL-2"] == (True, False)
    assert second["remaining_in_zones"] == 2
    assert set(second["boilers"][0]) >= {
        "id",
        "unit",
        "township",
        "tph",
        "fuel",
        "state",
        "state_date",
        "in_zone",
        "in_enclave",
        "last_inspection",
        "overdue",
    }


@pytest.mark.parametrize(
    ("bad", "code", "column"),
    [
        (boiler_row("GL-9", state="报废中"), "unknown_value", "J"),
        (boiler_row("GL-9", tph=-4), "negative", "G"),
        (boiler_row("GL-9", tph=None, mw=-1), "negative", "H"),
        (boiler_row("GL-9", lon=113.5, lat=36.305), "coordinates_outside", "E"),
        (boiler_row("GL-9", lon=36.305, lat=112.805), "coordinates_outside", "E"),
        (boiler_row("GL-9", lat=None), "coordinates_incomplete", "F"),
        (boiler_row("GL-9", state="拆除", state_date=None), "state_date_required", "K"),
        (boiler_row("GL-9", tph=None), "capacity_required", "G"),
        (boiler_row("GL-9", township="不存在镇"), "township_not_found", "C"),
        (boiler_row("GL-9", village="没有这个村"), "village_unknown", "D"),
        (boiler_row("GL-9", fuel="核能"), "unknown_value", "I"),
        (boiler_row("GL-9", state_date="2030-01-01"), "date_in_future", "K"),
    ],
)
def test_bad_rows_are_refused_and_nothing_is_written(
    runtime, tiny_district, bad, code, column
) -> None:
    good = boiler_row("GL-1", state="停用", state_date="2019-01-01")
    with pytest.raises(Refused) as caught:
        load(runtime, boiler_xlsx([good, bad]))
    errors = [i for i in caught.value.detail["issues"] if i["severity"] == "error"]
    assert [(e["code"], e["sheet"], e["row"], e["column"]) for e in errors] == [
        (code, "锅炉台账", 4, column)
    ]
    assert "未写入任何数据" in caught.value.message
    counts = row_counts(runtime)
    for table in (
        "boilers",
        "boiler_states",
        "boiler_inspections",
        "import_batches",
        "stored_files",
    ):
        assert counts[table] == 0


def test_two_states_on_one_day_are_refused(runtime, tiny_district) -> None:
    rows = [
        boiler_row("GL-1", state="停用", state_date="2019-01-01"),
        boiler_row("GL-1", state="拆除", state_date="2019-01-01"),
    ]
    with pytest.raises(Refused) as caught:
        load(runtime, boiler_xlsx(rows))
    [error] = [i for i in caught.value.detail["issues"] if i["severity"] == "error"]
    assert (error["code"], error["row"]) == ("duplicate_boiler", 4)


def test_cli_load_and_status_json(runtime, tiny_district, run_cli, tmp_path) -> None:
    path = tmp_path / "锅炉.xlsx"
    path.write_bytes(
        boiler_xlsx(
            [
                boiler_row("GL-1", state="停用", state_date="2019-01-01"),
                boiler_row("GL-2", state="拆除", state_date="2020-01-01"),
                boiler_row("GQ-1", fuel="燃气", low_nox="未完成"),
            ]
        )
    )
    out = run_cli("boilers", "load", str(path), "--json")
    assert out.exit_code == 0, out.stderr
    assert list(json.loads(out.stdout)) == ["boilers", "new", "updated", "issues"]
    out = run_cli("boilers", "status", "--as-of", "2021-10-31", "--json")
    assert out.exit_code == 0, out.stderr
    data = json.loads(out.stdout)
    assert list(data)[:9] == [
        "as_of",
        "max_tph",
        "in_scope",
        "cleared",
        "remaining",
        "remaining_in_zones",
        "by_state",
        "by_township",
        "boilers",
    ]
    assert (data["as_of"], data["max_tph"], data["in_scope"], data["cleared"]) == (
        "2021-10-31",
        35,
        2,
        1,
    )
    assert data["gas_low_nox"]["remaining"] == 1
    out = run_cli("boilers", "status", "--max-tph", "5", "--json")
    assert json.loads(out.stdout)["max_tph"] == 5
    out = run_cli("boilers", "status")
    assert out.exit_code == 0
    assert "范围内 2 台，已清零 1 台，剩余 1 台" in out.stdout
    out = run_cli("boilers", "status", "--as-of", "2021-13-01")
    assert out.exit_code == 2


def test_cli_refusal_names_the_place(runtime, tiny_district, run_cli, tmp_path) -> None:
    path = tmp_path / "锅炉.xlsx"
    path.write_bytes(boiler_xlsx([boiler_row("GL-1", tph=-3)]))
    out = run_cli("boilers", "load", str(path))
    assert out.exit_code == 1
    assert "第 3 行 G 列" in out.stderr
    assert "额定蒸发量不能为负数" in out.stderr


def test_a_formula_without_a_cached_value_is_refused(runtime, tiny_district) -> None:
    # openpyxl writes a string starting with "=" as a formula, with no cached result.
    with pytest.raises(Refused) as caught:
        load(runtime, boiler_xlsx([boiler_row("GL-1", unit='=CONCAT("锅炉","房")')]))
    [error] = [i for i in caught.value.detail["issues"] if i["severity"] == "error"]
    assert (error["code"], error["row"], error["column"]) == ("formula_no_value", 3, "B")
