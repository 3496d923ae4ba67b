"""The import commands: exit codes 0/1/2, readable summaries and --json shapes."""

from __future__ import annotations

import io
import json

from openpyxl import Workbook, load_workbook

HEADER = ["村", "户号", "户主姓名", "身份证号", "改造状态", "改造方式", "完工日期"]
GOOD = [
    ["南街村", "A001", "张三", None, "已完工", "煤改电", "2021-06-30"],
    ["东街村", "B001", "王五", None, "施工中", "煤改气", None],
]
BAD_ID = "140405198001010010"  # wrong check digit


def write_ledger(path, rows) -> str:
    wb = Workbook()
    ws = wb.active
    ws.append(["麟绛街道清洁取暖台账"])
    ws.append(HEADER)
    for row in rows:
        ws.append(row)
    wb.save(path)
    return str(path)


def test_import_previews_by_default_and_writes_nothing(run_cli, users, tmp_path):
    path = write_ledger(tmp_path / "麟绛街道台账.xlsx", GOOD)
    result = run_cli("import", path, "--township", "140405001")
    assert result.exit_code == 0, result.stderr
    assert "新增 2" in result.stdout
    assert "这是预览，未写入任何数据" in result.stdout
    listed = json.loads(run_cli("batches", "list", "--json").stdout)
    assert [(b["status"], b["township"]) for b in listed] == [("preview", "140405001")]


def test_import_json_has_the_outcome_keys(run_cli, users, tmp_path):
    path = write_ledger(
        tmp_path / "台账.xlsx", [*GOOD, ["南街村", "A002", "李四", BAD_ID, "未改造", None, None]]
    )
    result = run_cli("import", path, "--township", "140405001", "--json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("file", "sha256", "township", "sheets", "counts", "issues", "not_in_file"):
        assert key in out
    assert out["file"] == "台账.xlsx" and out["township"] == "140405001"
    assert set(out["counts"]) >= {
        "rows",
        "new",
        "updated",
        "unchanged",
        "rejected",
        "skipped",
        "warnings",
    }
    assert out["sheets"][0]["header_row"] == 2
    [issue] = [i for i in out["issues"] if i["severity"] == "error"]
    assert (issue["code"], issue["row"], issue["column"], issue["field"]) == (
        "id_number_checksum",
        5,
        "D",
        "id_number",
    )
    assert BAD_ID not in result.stdout


def test_commit_with_errors_exits_1_and_accept_valid_commits(run_cli, users, tmp_path):
    path = write_ledger(
        tmp_path / "台账.xlsx", [*GOOD, ["南街村", "A002", "李四", BAD_ID, "未改造", None, None]]
    )
    refused = run_cli("import", path, "--township", "140405001", "--commit")
    assert refused.exit_code == 1
    assert "错误：" in refused.stderr and "未写入任何数据" in refused.stderr
    assert "身份证号" in refused.stdout  # the issue table says what to fix
    done = run_cli(
        "import", path, "--township", "140405001", "--commit", "--accept-valid", "--json"
    )
    assert done.exit_code == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "committed"
    assert (out["counts"]["new"], out["counts"]["rejected"]) == (2, 1)
    statuses = [b["status"] for b in json.loads(run_cli("batches", "list", "--json").stdout)]
    # The refused strict commit left a preview; the later commit of the township expired it.
    assert statuses == ["committed", "expired"]


def test_rollback_from_the_command_line(run_cli, users, tmp_path):
    path = write_ledger(tmp_path / "台账.xlsx", GOOD)
    out = json.loads(
        run_cli("import", path, "--township", "140405001", "--commit", "--json").stdout
    )
    batch = out["batch"]
    result = run_cli("batches", "rollback", str(batch))
    assert result.exit_code == 0, result.stderr
    assert f"已撤销批次 {batch}" in result.stdout
    again = run_cli("batches", "rollback", str(batch))
    assert again.exit_code == 1 and "已撤销" in again.stderr
    missing = run_cli("batches", "rollback", "999")
    assert missing.exit_code == 1 and "不存在" in missing.stderr
    text = run_cli("batches", "list")
    assert text.exit_code == 0 and "已撤销" in text.stdout


def test_refused_files_and_wrong_usage(run_cli, users, tmp_path):
    docx = tmp_path / "台账.xlsx"
    docx.write_bytes(b"PK\x03\x04 not really a workbook")
    result = run_cli("import", str(docx))
    assert result.exit_code == 1 and result.stderr.startswith("错误：")
    assert run_cli("import", str(tmp_path / "nope.xlsx")).exit_code == 2
    assert run_cli("import").exit_code == 2
    assert run_cli("batches", "rollback", "abc").exit_code == 2
    unknown = run_cli("import", write_ledger(tmp_path / "a.xlsx", GOOD), "--township", "999999999")
    assert unknown.exit_code == 1 and "999999999" in unknown.stderr


def test_registry_load_json_and_refusal(run_cli, runtime, tmp_path):
    wb = Workbook()
    ws = wb.active
    ws.append(["乡镇代码", "乡镇", "村代码", "村名", "区域类别", "总户数"])
    ws.append(["140405001", "麟绛街道", "140405001201", "南街村委会", "县城建成区", 300])
    ws.append(["140405001", "麟绛街道", "140405001202", "东街村委会", "农村地区", None])
    good = tmp_path / "名录.xlsx"
    wb.save(good)
    result = run_cli("registry", "load", str(good), "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    assert {k: report[k] for k in ("townships", "villages", "new", "updated", "issues")} == {
        "townships": 1,
        "villages": 2,
        "new": 2,
        "updated": 0,
        "issues": [],
    }
    text = run_cli("registry", "load", str(good))
    assert text.exit_code == 0 and "1 个乡镇，2 个村" in text.stdout
    ws.append(["140405001", "麟绛街道", "1404050012", "短码村", "农村地区", 1])
    bad = tmp_path / "坏名录.xlsx"
    wb.save(bad)
    refused = run_cli("registry", "load", str(bad), "--json")
    assert refused.exit_code == 1 and "第 4 行" in refused.stderr
    assert json.loads(refused.stdout)["issues"][0]["code"] == "village_code_format"


def test_template_command_writes_an_xlsx(run_cli, tiny_district, tmp_path):
    out = tmp_path / "模板.xlsx"
    result = run_cli("template", "--township", "140405101", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert "2 个村" in result.stdout
    wb = load_workbook(io.BytesIO(out.read_bytes()))
    assert wb.sheetnames[:2] == ["台账", "填写说明"]
    assert (
        run_cli("template", "--township", "140405101", "-o", str(tmp_path / "x.csv")).exit_code == 2
    )
    assert run_cli("template", "-o", str(out)).exit_code == 2
    assert run_cli("template", "--township", "999", "-o", str(out)).exit_code == 1
