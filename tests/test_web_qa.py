"""What the QA walk-through tripped over: raw keys, unreadable audit lines, doubled punctuation."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from heating import clock
from heating.history import record_update
from heating.models import Household, Village, audit
from tests.support.households import add_households
from tests.support.ledgers import bad_id_number, id_number, ledger_xlsx
from tests.support.web import upload


def _history(page: str) -> str:
    return page.split('id="history"')[1].split("</table>")[0]


def test_village_history_names_villages_and_hides_internal_fields(login, runtime) -> None:
    add_households(runtime, "140405001201", [("M1", "completed", None, None)])
    with runtime.session() as session:
        household = session.scalar(select(Household).where(Household.household_no == "M1"))
        household.completed_on_precision = "day"
        moved_to = session.scalar(select(Village).where(Village.code == "140405001202"))
        record_update(session, household, {"village_id": moved_to.id}, ledger_date=clock.today())

    page = login("alice").get("/villages/140405001202").get_data(as_text=True)
    history = _history(page)
    # The move reads as village names, never as database ids.
    assert "所属村：南街村委会 → 东街村委会" in history
    assert not re.search(r"所属村：\d", history)
    # The creation line lists what the clerk typed, not internal bookkeeping.
    created = _history(login("alice").get("/villages/140405001201").get_data(as_text=True))
    assert "完工日期：2021-06-30" in created
    assert "所属村" not in created
    assert "精度" not in created and "day" not in created
    # Changes recorded by no batch and no user say so instead of leaving a blank cell.
    assert re.search(r"<td>\s*—\s*</td>", history)


def test_audit_log_summarises_long_details_in_chinese(login, runtime) -> None:
    with runtime.session() as session:
        audit(
            session,
            "registry_upload",
            target="名录.xlsx",
            detail={
                "townships": 15,
                "villages": 296,
                "proposed": [
                    {"code": f"1404050012{i:02d}", "name": "长长的村名"} for i in range(80)
                ],
                "counts": {"rows": 10, "rejected": 0},
                "accept_valid": True,
                "sha256": "ab" * 32,
            },
        )
        audit(session, "demo_load", target="140405", detail={"version": "1"})
        audit(session, "import_commit", target="batch:5", detail={"accept_valid": False})

    page = login("alice").get("/admin/audit").get_data(as_text=True)
    assert "长长的村名" not in page  # lists are counted, not dumped
    assert "按城乡分类代码建议类别的村 80 项" in page
    assert "乡镇 15；村庄 296" in page
    assert "计数 （数据行 10；错误行 0）" in page
    assert "只导入无误的行 是" in page
    assert "SHA-256 abababababab…" in page and "ab" * 32 not in page
    table = page.split("<tbody>")[1]
    assert "<td>批次 #5</td>" in table and "batch:5" not in table
    assert "<td>加载演示数据</td>" in table and "demo_load" not in table


def test_admin_registry_upload_is_audited_once_with_counts_only(login, runtime) -> None:
    import io

    from heating.models import AuditEntry
    from tests.support.web import csrf_token

    csv = "乡镇代码,乡镇,村代码,村名,区域类别,总户数\n140405001,麟绛街道,140405001201,南街村委会,县城建成区,10\n"
    client = login("alice")
    resp = client.post(
        "/admin/registry",
        data={
            "file": (io.BytesIO(csv.encode()), "名录.csv"),
            "csrf_token": csrf_token(client, "/admin/registry"),
        },
        content_type="multipart/form-data",
    )
    assert resp.status_code == 200, resp.get_data(as_text=True)
    with runtime.session() as session:
        (entry,) = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("registry%"))
        ).all()  # audited once, by the loader, with the admin who uploaded
        assert entry.action == "registry_load" and entry.username == "alice"
        assert entry.target == "名录.csv" and entry.ip == "127.0.0.1"
        assert set(entry.detail) == {"townships", "villages", "new", "updated"}


def test_rejected_rows_join_reasons_without_doubled_punctuation(login, runtime) -> None:
    client = login("bob")
    rows = [
        ["南街村委会", "A001", "张三", bad_id_number(1), None, "搞定了", None, None],
        ["南街村委会", "A002", "李四", id_number(2), None, "已完工", "煤改电", "2021-06-30"],
    ]
    resp = upload(client, ledger_xlsx(rows), "台账.xlsx")
    batch = re.search(r"/imports/(\d+)$", resp.request.path).group(1)
    from tests.support.web import follow_job, post

    resp = follow_job(client, post(client, f"/imports/{batch}/commit", {"mode": "valid"}))
    body = resp.get_data(as_text=True)
    rejected = body.split("未导入的错误行")[1]
    assert "校验位错误" in rejected and "搞定了" in rejected
    assert "。；" not in rejected


def test_villages_printout_says_which_filters_apply(login, runtime) -> None:
    page = login("dave").get("/villages?township=140405101&meets=no").get_data(as_text=True)
    summary = re.search(r'id="print-filters">(.*?)</p>', page, re.S).group(1)
    assert summary == "乡镇：上村镇；区域类别：全部类别；是否达标：未达标 / 低于目标"


def test_cli_import_lists_issue_fields_by_their_column_names(
    run_cli, tiny_district, tmp_path
) -> None:
    rows = [
        [
            "南街村委会",
            "A001",
            "张三",
            bad_id_number(1),
            None,
            "已完工",
            "煤改电",
            date(2021, 6, 30),
        ]
    ]
    path = tmp_path / "台账.xlsx"
    path.write_bytes(ledger_xlsx(rows))
    result = run_cli("import", str(path), "--township", "140405001")
    assert result.exit_code == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "校验位错误" in x)
    assert line.split("\t")[4] == "身份证号"
    assert "id_number" not in result.stdout
