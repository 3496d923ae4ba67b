"""Numbers you can sign: figures agree wherever they are shown, "—" where the data cannot
support them."""

from __future__ import annotations

import io

import openpyxl

from tests.support import read_table


def test_flagged_reads_dash_wherever_nothing_was_checked(runtime, login, tiny_district) -> None:
    """No use imported: the map said "—" for 疑似改而不用 while the village page and the
    report said 0; "0 flagged" claims a check that never happened."""
    from geo.maps import evidence_tip
    from heating.measures import coverage
    from heating.report import build_report
    from tests.support import NANJIE, add_many

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
