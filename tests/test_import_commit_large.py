"""A 100k-row ledger previews and commits completely (speed lives in benchmarks/)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from heating.models import Household, HouseholdVersion
from imports.batches import preview
from imports.commit import commit

ROWS = 100_000


def big_csv() -> bytes:
    lines = ["村,户号,户主姓名,联系电话,改造状态,改造方式,完工日期,设备补贴"]
    villages = ("南街村", "东街村")
    for n in range(ROWS):
        done = n % 5 != 0
        lines.append(
            f"{villages[n % 2]},H{n:06d},户主{n},138{n:08d},"
            + ("已完工,煤改电,2021-06-30,24000" if done else "未改造,,,")
        )
    return ("\r\n".join(lines) + "\r\n").encode("utf-8-sig")


@pytest.mark.slow
def test_a_100k_row_ledger_commits_completely(runtime, tiny_district):
    data = big_csv()
    with runtime.session() as session:
        batch, out = preview(
            session,
            data,
            "麟绛街道大台账.csv",
            user_id=None,
            township_code="140405001",
            config=runtime.config,
            today=date(2024, 1, 15),
        )
        batch_id = batch.id
    assert out["counts"]["new"] == ROWS and out["counts"]["rejected"] == 0
    with runtime.session() as session:
        _, out = commit(session, batch_id, config=runtime.config)
    assert out["counts"]["new"] == ROWS
    with runtime.session() as session:
        assert session.scalar(select(func.count()).select_from(Household)) == ROWS
        assert (
            session.scalar(
                select(func.count())
                .select_from(HouseholdVersion)
                .where(HouseholdVersion.batch_id == batch_id)
            )
            == ROWS
        )
        completed = session.scalar(
            select(func.count()).select_from(Household).where(Household.status == "completed")
        )
    assert completed == ROWS * 4 // 5
