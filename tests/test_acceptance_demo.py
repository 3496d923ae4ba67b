"""Acceptance: the user's path through the promised commands and pages, on the tiny district.

Template → fill → preview → commit → coverage → zones → map → report → dashboard, with the
exit codes of interfaces.md (0 done, 1 refused with Chinese on stderr, 2 wrong usage).
The demo itself is too large for a fast test; the tiny district exercises the same code.
"""

from __future__ import annotations

import json
import re

from openpyxl import load_workbook

from heating import clock
from tests.support.ledgers import bad_id_number, id_number

TODAY = clock.today()  # the configured zone's day: ledger dates are days there


def _fill_template(path, rows) -> None:
    wb = load_workbook(path)
    ws = wb["台账"]
    headers = {c.value: c.column_letter for c in ws[2] if c.value}
    for offset, row in enumerate(rows):
        for header, value in row.items():
            ws[f"{headers[header]}{3 + offset}"].value = value
    wb.save(path)


def _row(i: int, **extra: object) -> dict[str, object]:
    return {
        "村": "南街村委会",
        "户号": f"N{i:03d}",
        "户主姓名": f"户主{i}",
        "身份证号": id_number(i),
        "改造状态": "已完工",
        "改造方式": "煤改电",
        "完工日期": "2021-06-30",
    } | extra


def test_clerk_to_city_path_through_the_commands_and_pages(run_cli, login, users, tmp_path) -> None:
    template = tmp_path / "麟绛街道模板.xlsx"
    result = run_cli("template", "--township", "140405001", "-o", str(template))
    assert result.exit_code == 0, result.stderr

    # A ledger with one bad ID number: strict commit is refused, nothing written.
    _fill_template(template, [_row(i) for i in range(9)] + [_row(9, 身份证号=bad_id_number(9))])
    result = run_cli("import", str(template), "--township", "140405001", "--commit")
    assert result.exit_code == 1
    assert "未写入任何数据" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("coverage", "--by", "village", "--json")
    south = next(r for r in json.loads(result.stdout) if r["key"] == "140405001201")
    assert south["clean"] == 0

    # Fixed file: all ten households of 南街村委会 (registry total 10) are clean.
    _fill_template(template, [_row(i) for i in range(10)])
    result = run_cli("import", str(template), "--township", "140405001", "--commit", "--json")
    assert result.exit_code == 0, result.stderr
    outcome = json.loads(result.stdout)
    assert outcome["counts"]["new"] == 10 and outcome["counts"]["rejected"] == 0

    result = run_cli("coverage", "--by", "category", "--json")
    rows = {r["key"]: r for r in json.loads(result.stdout)}
    assert list(rows)[-1] == "total"
    assert rows["county_core"]["coverage"] == 1.0 and rows["county_core"]["meets"] is True
    assert rows["fringe"]["coverage"] == 0.0 and rows["fringe"]["gap"] == 8
    assert rows["city_core"]["coverage"] is None  # no villages: undefined, never 0%

    result = run_cli("zones", "derive", "--as-of", TODAY.isoformat(), "--json")
    assert result.exit_code == 0, result.stderr
    zones = json.loads(result.stdout)["zones"]
    assert [z["villages"] for z in zones] == [["140405001201"]]

    html = tmp_path / "map.html"
    assert run_cli("map", "-o", str(html)).exit_code == 0
    page = html.read_text(encoding="utf-8")
    assert "南街村委会" in page
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?://", page)  # offline

    report = tmp_path / "report.xlsx"
    result = run_cli(
        "report", "--year", str(TODAY.year), "--as-of", TODAY.isoformat(), "-o", str(report)
    )
    assert result.exit_code == 0, result.stderr
    assert "总体情况" in load_workbook(report, read_only=True).sheetnames

    # Wrong usage is exit 2; a refused input is exit 1 with a Chinese reason, no traceback.
    assert run_cli("coverage", "--by", "nonsense").exit_code == 2
    refused = run_cli("template", "--township", "999999999", "-o", str(tmp_path / "x.xlsx"))
    assert refused.exit_code == 1 and "乡镇代码 999999999" in refused.stderr
    assert "Traceback" not in refused.stderr

    # The city official sees the same numbers on the dashboard the planner browses.
    dashboard = login("erin").get("/").get_data(as_text=True)
    assert 'id="total-clean">10<' in dashboard
    assert "100.0%" in dashboard
