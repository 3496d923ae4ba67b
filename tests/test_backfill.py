"""A district that adopts the tracker today imports its 2021 ledger, then its 2020 one.

Both on the same day, out of order: the figures as of 2020-10-31, as of
2021-10-31 and now each equal a replay of the right file, the 2020 import
only fills history (the households rows stay as the 2021 ledger left them),
and the 2021 report carries the 2021 numbers with the 2020 comparison.  The
same test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import io
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import openpyxl
from sqlalchemy import select

from heating import clock
from heating.history import state_as_of
from heating.models import Household, HouseholdVersion, ImportBatch, utcnow
from heating.report import build_report
from heating.report.sheets.cover import KNOWN_AT_LABEL, LEDGERS_LABEL, RECORDED_LATER_LABEL
from heating.report.snapshot import take_snapshot
from tests.support.districts import DONGJIE, NANJIE
from tests.support.ledgers import ledger_xlsx
from tests.support.report import read_table

NAMES = {NANJIE: "南街村委会", DONGJIE: "东街村委会"}
# 村名, 户号, 户主姓名, 身份证号, 联系电话, 改造状态, 改造方式, 完工日期
LEDGER_2020 = [
    [NAMES[NANJIE], "1", "张一", None, None, "已完工", "煤改电", "2020-09-01"],
    [NAMES[NANJIE], "2", "张二", None, None, "已列入计划", "煤改电", None],
    [NAMES[NANJIE], "3", "张三", None, None, "未改造", None, None],
    [NAMES[NANJIE], "4", "张四", None, None, "未改造", None, None],
    [NAMES[DONGJIE], "5", "李五", None, None, "已完工", "煤改气", "2020-08-01"],
    [NAMES[DONGJIE], "6", "李六", None, None, "未改造", None, None],
]
LEDGER_2021 = [
    [NAMES[NANJIE], "1", "张一", None, None, "已完工", "煤改电", "2020-09-01"],
    [NAMES[NANJIE], "2", "张二", None, None, "已完工", "煤改电", "2021-06-01"],
    [NAMES[NANJIE], "3", "张三", None, None, "已列入计划", "煤改电", None],
    [NAMES[NANJIE], "4", "张四", None, None, "未改造", None, None],
    [NAMES[NANJIE], "7", "张七", None, None, "已完工", "煤改电", "2021-07-01"],
    [NAMES[DONGJIE], "5", "李五", None, None, "已完工", "煤改气", "2020-08-01"],
    [NAMES[DONGJIE], "6", "李六", None, "13800000006", "已完工", "煤改电", "2021-08-01"],
]


def replay(rows: list[list[object]]) -> dict[str, tuple[int, int]]:
    """Village code → (ledger rows, clean rows), read straight from a file's rows."""
    code = {name: c for c, name in NAMES.items()}
    rows_by = Counter(code[r[0]] for r in rows)
    clean_by = Counter(code[r[0]] for r in rows if r[5] in ("已完工", "已验收"))
    return {c: (rows_by[c], clean_by[c]) for c in NAMES}


def coverage_of(run_cli, *args: str) -> dict[str, tuple[int, int]]:
    result = run_cli("coverage", "--by", "village", "--township", "140405001", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return {r["key"]: (r["ledger_rows"], r["clean"]) for r in json.loads(result.stdout)}


def households_rows(runtime) -> list[tuple]:
    with runtime.session() as session:
        return [
            (h.id, h.status, h.phone, h.completed_on, h.ledger_date, h.updated_batch_id)
            for h in session.scalars(select(Household).order_by(Household.id))
        ]


def test_2021_then_2020_ledger_gives_each_years_figures(
    run_cli, runtime, tiny_district, tmp_path: Path
) -> None:
    newer = tmp_path / "麟绛街道2021年台账.xlsx"
    newer.write_bytes(ledger_xlsx(LEDGER_2021, title="麟绛街道清洁取暖改造台账"))
    older = tmp_path / "麟绛街道台账.xlsx"
    older.write_bytes(
        ledger_xlsx(LEDGER_2020, title="麟绛街道清洁取暖改造台账（截至2020年10月31日）")
    )

    first = run_cli(
        "import", str(newer), "--township", "140405001", "--ledger-date", "2021-10-31",
        "--commit", "--json",
    )  # fmt: skip
    assert first.exit_code == 0, first.stderr
    out = json.loads(first.stdout)
    assert (out["ledger_date"], out["ledger_date_source"]) == ("2021-10-31", "option")
    after_2021 = households_rows(runtime)

    preview = run_cli("import", str(older), "--township", "140405001")
    assert preview.exit_code == 0, preview.stderr
    assert "台账日期：2020-10-31（取自工作表“台账”的标题" in preview.stdout
    assert "早于本乡镇最近一次台账（2021-10-31" in preview.stdout
    assert "只补录 2020-10-31 的历史，不改变当前数据（涉及 6 户）" in preview.stdout
    second = run_cli("import", str(older), "--township", "140405001", "--commit", "--json")
    assert second.exit_code == 0, second.stderr
    out = json.loads(second.stdout)
    assert (out["ledger_date"], out["ledger_date_source"]) == ("2020-10-31", "title")

    # The back-filled ledger left today's rows exactly as the 2021 ledger did.
    assert households_rows(runtime) == after_2021
    assert coverage_of(run_cli) == replay(LEDGER_2021)
    assert coverage_of(run_cli, "--as-of", "2021-10-31") == replay(LEDGER_2021)
    assert coverage_of(run_cli, "--as-of", "2020-10-31") == replay(LEDGER_2020)
    assert coverage_of(run_cli, "--as-of", "2020-10-30") == {NANJIE: (0, 0), DONGJIE: (0, 0)}
    # Known before the 2020 import, as of 2020-10-31 there was nothing yet.
    with runtime.session() as session:
        batch_2020_at = session.scalar(
            select(Household.updated_at).order_by(Household.updated_at.desc())
        )
    known = batch_2020_at.isoformat() + "+00:00"
    assert coverage_of(run_cli, "--as-of", "2020-10-31", "--known-at", known) == {
        NANJIE: (0, 0),
        DONGJIE: (0, 0),
    }

    # A blank optional cell inherits only from the state as of its ledger date.
    with runtime.session() as session:
        state = state_as_of(date(2020, 10, 31), None, ("household_no", "phone"))
        phones = dict(session.execute(select(state.c.household_no, state.c.phone)).all())
        assert phones["6"] is None
        assert session.scalar(select(Household.phone).where(Household.household_no == "6")) == (
            "13800000006"
        )

    # The 2021 report: 2021 numbers, compared with 2020's back-filled ones.
    # (Known now: the default known-at, the generation time truncated to the second,
    # could fall before commits made within this very second.)
    with runtime.session() as session:
        snapshot = take_snapshot(session, runtime.config, 2021, known_at=utcnow())
    total = snapshot.comparison[-1]
    township = next(c for c in snapshot.comparison if c.key == "140405001")
    assert (township.previous.clean, township.current.clean) == (2, 5)
    assert total.current.clean == 5 and total.previous.clean == 2
    ledgers = {t.township_code: t for t in snapshot.sources.ledgers}
    assert ledgers["140405001"].ledger_date == date(2021, 10, 31)
    assert ledgers["140405101"].batch_id is None  # said loudly on the cover


def cover_facts(wb) -> dict[str, str]:
    ws = wb["封面与说明"]
    return {r[0].value: r[1].value for r in ws.iter_rows(min_row=4) if r[0].value and r[1].value}


def report_of(runtime, **kwargs):
    with runtime.session() as session:
        built = build_report(session, runtime.config, 2021, picture=False, **kwargs)
    return openpyxl.load_workbook(io.BytesIO(built.content), read_only=True)


def test_report_with_the_same_known_at_is_identical_after_a_later_back_fill(
    run_cli, runtime, tiny_district, tmp_path: Path
) -> None:
    newer = tmp_path / "2021.xlsx"
    newer.write_bytes(ledger_xlsx(LEDGER_2021, title="麟绛街道台账（截至2021年10月31日）"))
    assert run_cli("import", str(newer), "--township", "140405001", "--commit").exit_code == 0
    known = utcnow()
    now = datetime(2021, 11, 5, 9, 30)
    first = report_of(runtime, now=now, known_at=known)
    facts = cover_facts(first)
    assert facts[KNOWN_AT_LABEL].startswith(clock.shown_with_offset(known.replace(microsecond=0)))
    assert "麟绛街道：台账截至 2021-10-31（批次 1）" in facts[LEDGERS_LABEL]
    assert "上村镇：本系统中没有该乡镇截止日（含）以前的台账（尚未导入）" in facts[LEDGERS_LABEL]
    assert facts[RECORDED_LATER_LABEL] == "已知时点之后没有会改变本报告数字的记录。"

    # Later: the 2020 ledger (the comparison year) and a September 2021 one are back-filled.
    older = tmp_path / "2020.xlsx"
    older.write_bytes(ledger_xlsx(LEDGER_2020, title="麟绛街道台账（截至2020年10月31日）"))
    september = tmp_path / "2021-09.xlsx"
    september.write_bytes(
        ledger_xlsx([[NAMES[NANJIE], "8", "张八", None, None, "已完工", "煤改电", "2021-09-01"]])
    )
    for path, day in ((older, None), (september, "2021-09-30")):
        args = ["import", str(path), "--township", "140405001", "--commit"]
        assert run_cli(*args, *(["--ledger-date", day] if day else [])).exit_code == 0

    again = report_of(runtime, now=now, known_at=known)
    differing = [
        (name, row, column, a, b)
        for name in first.sheetnames
        for row, (row_a, row_b) in enumerate(
            zip(
                first[name].iter_rows(values_only=True),
                again[name].iter_rows(values_only=True),
                strict=True,
            ),
            1,
        )
        for column, (a, b) in enumerate(zip(row_a, row_b, strict=True), 1)
        if a != b
    ]
    # Every cell is the same but the line saying that later records would change it.
    assert len(differing) == 1, differing
    assert cover_facts(again)[RECORDED_LATER_LABEL].startswith("已知时点之后又记录了 7 户")
    # Regenerated without a known-at, the back-filled ledgers count.
    latest = report_of(runtime, now=now, known_at=utcnow())
    total = read_table(latest["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 6  # household 8 of September, on top of the 5
    compared = {r["乡镇名称"]: r for r in read_table(latest["年度对比"], "乡镇代码")}
    assert compared["麟绛街道"]["上年（截至 2020-10-31）|已完成"] == 2
    before = {r["乡镇名称"]: r for r in read_table(first["年度对比"], "乡镇代码")}
    assert before["麟绛街道"]["上年（截至 2020-10-31）|已完成"] == 0


def test_cover_counts_households_resting_on_older_ledgers(
    run_cli, runtime, tiny_district, tmp_path: Path
) -> None:
    older = tmp_path / "2020.xlsx"
    older.write_bytes(ledger_xlsx(LEDGER_2020, title="台账（截至2020年10月31日）"))
    newer = tmp_path / "2021.xlsx"
    without_4 = [r for r in LEDGER_2021 if r[1] != "4"]
    newer.write_bytes(ledger_xlsx(without_4, title="台账（截至2021年10月31日）"))
    for path in (older, newer):
        assert run_cli("import", str(path), "--township", "140405001", "--commit").exit_code == 0
    facts = cover_facts(report_of(runtime, known_at=utcnow()))
    assert (
        "麟绛街道：台账截至 2021-10-31（批次 2）；另有 1 户取自更早台账（最早 2020-10-31）"
        in facts[LEDGERS_LABEL]
    )


def import_commit(run_cli, path: Path, rows, title: str, *args: str) -> int:
    path.write_bytes(ledger_xlsx(rows, title=title))
    result = run_cli("import", str(path), "--township", "140405001", "--commit", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)["batch"]


def test_rolling_back_a_back_fill_or_the_newest_ledger(
    run_cli, runtime, tiny_district, tmp_path: Path
) -> None:
    b2021 = import_commit(run_cli, tmp_path / "a.xlsx", LEDGER_2021, "台账（截至2021年10月31日）")
    b2020 = import_commit(run_cli, tmp_path / "b.xlsx", LEDGER_2020, "台账（截至2020年10月31日）")
    rows = households_rows(runtime)
    # The back-fill goes without touching today's data.
    assert run_cli("batches", "rollback", str(b2020)).exit_code == 0
    assert coverage_of(run_cli, "--as-of", "2020-10-31") == {NANJIE: (0, 0), DONGJIE: (0, 0)}
    assert [r[:5] for r in households_rows(runtime)] == [r[:5] for r in rows]
    with runtime.session() as session:
        marks = session.scalars(
            select(HouseholdVersion).where(
                HouseholdVersion.batch_id == b2020, HouseholdVersion.change == "rollback"
            )
        ).all()
    assert len(marks) == 6
    assert {(m.ledger_date, m.retracted_at is not None) for m in marks} == {
        (date(2020, 10, 31), True)
    }

    # Import 2020 again, then roll back 2021: today's data becomes the 2020 ledger.
    import_commit(run_cli, tmp_path / "c.xlsx", LEDGER_2020, "台账（截至2020年10月31日）")
    assert run_cli("batches", "rollback", str(b2021)).exit_code == 0
    assert coverage_of(run_cli) == replay(LEDGER_2020)
    assert coverage_of(run_cli, "--as-of", "2021-10-31") == replay(LEDGER_2020)
    with runtime.session() as session:
        seven = session.scalar(select(Household).where(Household.household_no == "7"))
        assert not seven.active  # only the rolled-back 2021 ledger knew it


def test_rollback_is_refused_when_a_later_ledger_built_on_it(
    run_cli, runtime, tiny_district, tmp_path: Path
) -> None:
    first = import_commit(run_cli, tmp_path / "a.xlsx", LEDGER_2020, "台账（截至2020年10月31日）")
    later = import_commit(run_cli, tmp_path / "b.xlsx", LEDGER_2021, "台账（截至2021年10月31日）")
    result = run_cli("batches", "rollback", str(first))
    assert result.exit_code == 1
    with runtime.session() as session:
        committed = session.get(ImportBatch, later).committed_at
    # The time is the configured zone's (Beijing), not UTC.
    assert f"之后的批次 {later}（{clock.shown(committed)} 提交）又修改了其中 3 户" in result.stderr
    assert coverage_of(run_cli, "--as-of", "2020-10-31") == replay(LEDGER_2020)


def test_a_report_in_the_same_second_as_a_commit_counts_it(
    run_cli, runtime, tiny_district, tmp_path: Path
) -> None:
    """The default known-at covers the whole second the cover prints, not its start."""
    newer = tmp_path / "2021.xlsx"
    newer.write_bytes(ledger_xlsx(LEDGER_2021, title="麟绛街道台账（截至2021年10月31日）"))
    assert run_cli("import", str(newer), "--township", "140405001", "--commit").exit_code == 0
    with runtime.session() as session:
        recorded = session.scalar(
            select(HouseholdVersion.recorded_at).order_by(HouseholdVersion.id.desc())
        )
    same_second = recorded.replace(
        microsecond=max(recorded.microsecond, 1)
    )  # a moment later, same second

    report = report_of(runtime, now=same_second)

    assert cover_facts(report)[KNOWN_AT_LABEL].startswith(clock.shown_with_offset(recorded))
    total = read_table(report["总体情况"], "区域类别")[-1]
    assert total["户数|已完成"] == 5
    # The printed known-at, typed back, gives the same figures.
    typed = clock.parse_known_at(clock.iso(recorded))
    again = report_of(runtime, now=same_second, known_at=typed)
    assert read_table(again["总体情况"], "区域类别")[-1] == total
