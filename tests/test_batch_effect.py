"""After a commit, the batch page shows its township's coverage before → after (issue 15).

The figures equal what coverage showed just before and just after the commit
(/api/coverage, the pages' source) and what ``heating coverage --known-at``
gives for those instants, also after a later rollback.
"""

from __future__ import annotations

import json
import re

from tests.support.web import batch_id_of, follow_job, post, upload

TOWNSHIP = "140405001"
FIELDS = ("required", "clean", "coverage", "gap", "meets")


def _ledger() -> bytes:
    rows = ["户号,户主姓名,村,改造状态,改造方式,完工日期"]
    rows += [f"N{i},张{i},南街村委会,已完工,煤改电,2021-06-01" for i in range(6)]
    rows += [f"N{i},张{i},南街村委会,未改造,," for i in range(6, 10)]
    rows += [f"D{i},李{i},东街村委会,已完工,煤改气,2021-06-01" for i in range(3)]
    return ("\n".join(rows) + "\n").encode()


def _township_row(client) -> dict:
    [row] = client.get(f"/api/coverage?by=township&township={TOWNSHIP}").get_json()
    return {k: row[k] for k in FIELDS}


def _shown(page: str) -> list[list[str]]:
    table = page.split('id="coverage-effect"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><th>(写入[前后])</th>(.*?)</tr>", table, re.S)
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", cells, re.S)]
        for _, cells in rows
    ]


def _as_shown(row: dict) -> list[str]:
    pct = "—" if row["coverage"] is None else f"{row['coverage'] * 100:.1f}%"
    return [f"{row['required']:,}", f"{row['clean']:,}", pct, f"{row['gap']:,}"]


def test_the_batch_page_shows_the_townships_coverage_before_and_after(login, run_cli) -> None:
    client = login("bob")  # clerk of 麟绛街道
    batch_id = batch_id_of(upload(client, _ledger(), "麟绛街道台账.csv", township=TOWNSHIP))
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert 'id="coverage-effect"' not in page  # a preview changed nothing yet
    before = _township_row(client)
    follow_job(client, post(client, f"/imports/{batch_id}/commit", {"mode": "strict"}))
    after = _township_row(client)
    assert after["clean"] == before["clean"] + 9 and after != before

    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert "麟绛街道覆盖率：写入前 → 写入后" in page
    shown_before, shown_after = _shown(page)
    # required, clean, coverage as the pages show them; (effective, target) skipped; gap.
    assert [*shown_before[:3], shown_before[5]] == _as_shown(before)
    assert [*shown_after[:3], shown_after[5]] == _as_shown(after)
    added = after["required"] - before["required"]
    assert f"已完成户数增加 9 户，应改户数增加 {added} 户" in page

    # The command the page names gives the same figures for both instants.
    known = re.findall(r"--known-at ([0-9T:.+-]+)", page)
    assert len(known) == 2
    for moment, expected in zip(known, (before, after), strict=True):
        result = run_cli(
            "coverage", "--by", "township", "--township", TOWNSHIP, "--known-at", moment, "--json"
        )
        assert result.exit_code == 0, result.stderr
        [row] = json.loads(result.stdout)
        assert {k: row[k] for k in FIELDS} == expected

    # Rolled back later, the page still says what the commit did.
    follow_job(client, post(client, f"/imports/{batch_id}/rollback"))
    assert _township_row(client) == before
    page = client.get(f"/imports/{batch_id}").get_data(as_text=True)
    assert _shown(page)[1][:2] == _as_shown(after)[:2] and "本批次已撤销" in page
