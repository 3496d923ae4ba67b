"""The report checks its own totals before anyone signs it.

Two kinds of check, both returning plain sentences (empty when all agree):

- ``check_sums``: every 合计/小计 row of every table ``write_table`` laid out
  (any sheet, also those added later) equals the sum of the rows it closes, in
  each count column (``Column.sums``; gaps judged on a total are exempt).  It
  needs the tables as written, so it runs on the workbook being built.
- ``check_sheets``: the figures one sheet summarises from another agree —
  总体情况 with 分乡镇, 分村 and 未达标清单, and 年度对比's district line.  It
  reads cell values only, so it also runs on a saved file (tests open the
  CLI's and the web download's workbook with openpyxl).

``write_workbook`` runs both and refuses to save a workbook that disagrees
with itself (``ReportDisagrees``): a report a city signs must not.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from heating.report.workbook import WRITTEN, Table

COUNTS = ("名录总户数", "台账户数", "无需改造", "应改造", "已完成", "散煤复烧/弃用")
MEASURES = (*(f"户数|{c}" for c in COUNTS), "覆盖率|覆盖率", "覆盖率|有效覆盖率", "差距户数")
EVERY_VILLAGE = "每村均须达到"
AGGREGATE = "按总体达到"
NOT_MET = "未达标"
TOTAL = "合计"
WITHHELD = "—"  # an approved-only report's unapproved village or township (heating.report.withheld)


def _is_total(value: Any) -> bool:
    """合计, or 合计（仅含已审核乡镇（n/N）） in an approved-only report."""
    return isinstance(value, str) and value.startswith(TOTAL)


class ReportDisagrees(Exception):
    """A generated workbook whose totals disagree (a bug, never the user's input)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("报告合计与明细不一致：" + "；".join(problems[:20]))
        self.problems = problems


def ensure_agrees(wb: Workbook) -> None:
    """Raise ``ReportDisagrees`` when any check finds a disagreement."""
    problems = check_sums(wb) + check_sheets(wb)
    if problems:
        raise ReportDisagrees(problems)


# --------------------------------------------------------------------------
# Totals against the rows they close
# --------------------------------------------------------------------------


def _label(values: Iterable[Any]) -> str | None:
    """合计 / 小计 when one of the row's first three text cells says so."""
    for value in list(values)[:3]:
        if isinstance(value, str) and (value.startswith(TOTAL) or "小计" in value):
            return TOTAL if value.startswith(TOTAL) else "小计"
    return None


def check_sums(wb: Workbook) -> list[str]:
    """Every 合计 row = the sum of the table's data rows; every 小计 = the rows since the last."""
    problems = []
    for sheet, table in WRITTEN.get(wb, []):
        problems += _table_sums(sheet, table)
    return problems


def _table_sums(sheet: str, table: Table) -> list[str]:
    columns = [i for i, c in enumerate(table.columns) if c.kind in ("int", "area") and c.sums]
    problems = []
    since: list[Any] = []
    every: list[Any] = []
    for row in table.rows:
        label = _label(row.values) if row.total else None
        if label is None:
            since.append(row)
            every.append(row)
            continue
        closed = every if label == TOTAL else since
        for i in columns:
            shown = row.values[i]
            added = sum(r.values[i] or 0 for r in closed if isinstance(r.values[i], int | float))
            if isinstance(shown, int | float) and abs(shown - added) > 1e-6:
                header = table.columns[i].header
                problems.append(
                    f"{sheet}「{table.title}」{label}行的{header} {shown} ≠ 明细之和 {added}"
                )
        since = []
    return problems


# --------------------------------------------------------------------------
# Sheets against the sheets they summarise
# --------------------------------------------------------------------------


def read_table(ws: Worksheet, first_header: str, occurrence: int = 1) -> list[dict[str, Any]]:
    """The rows below the ``occurrence``-th header row whose first cell is ``first_header``.

    Grouped columns are keyed "group|header"; the table ends at the first row
    whose cells after the first are all empty (a merged note or a blank row).
    """
    found = [c.row for c in ws["A"] if c.value == first_header]
    if len(found) < occurrence:
        return []
    top = found[occurrence - 1]
    ncols = ws.max_column
    two_level = ws.cell(top + 1, 1).value is None and any(
        ws.cell(top + 1, j).value for j in range(2, ncols + 1)
    )
    keys: list[str | None] = []
    group = None
    for j in range(1, ncols + 1):
        head = ws.cell(top, j).value
        if not two_level:
            keys.append(head)
            continue
        sub = ws.cell(top + 1, j).value
        if head is not None:
            group = head
        keys.append(head if sub is None else f"{group}|{sub}")
    rows = []
    for r in range(top + (2 if two_level else 1), ws.max_row + 1):
        values = [ws.cell(r, j).value for j in range(1, ncols + 1)]
        if all(v is None for v in values[1:]):
            break
        rows.append({k: v for k, v in zip(keys, values, strict=True) if k is not None})
    return rows


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, int | float) and isinstance(b, int | float):
        return abs(a - b) < 1e-9
    return a == b


def _number(value: Any) -> int | float:
    return value if isinstance(value, int | float) else 0


def check_sheets(wb: Workbook) -> list[str]:
    """Cross-sheet agreement of the measures sheets (those present in ``wb``)."""
    if "总体情况" not in wb.sheetnames:
        return []
    problems: list[str] = []
    overview = read_table(wb["总体情况"], "区域类别")
    categories = [r for r in overview if not _is_total(r["区域类别"])]
    total = next((r for r in overview if _is_total(r["区域类别"])), None)
    if total is None:
        return ["总体情况没有合计行"]
    gaps = sum(_number(r["差距户数"]) for r in categories)
    if gaps != total["差距户数"]:
        problems.append(f"总体情况合计差距 {total['差距户数']} ≠ 各类别差距之和 {gaps}")
    problems += _townships(wb, categories, total)
    problems += _villages(wb, categories)
    problems += _failing(wb, categories)
    problems += _comparison(wb, total)
    problems += _trend(wb, overview)
    return problems


def _townships(wb: Workbook, categories: list[dict[str, Any]], total: dict[str, Any]) -> list[str]:
    if "分乡镇" not in wb.sheetnames:
        return []
    problems = []
    rows = read_table(wb["分乡镇"], "乡镇代码")
    last = next((r for r in rows if _is_total(r["乡镇名称"])), None)
    if last is None:
        return ["分乡镇没有合计行"]
    for key in MEASURES:
        if not _close(last[key], total[key]):
            problems.append(f"分乡镇合计 {key} {last[key]} ≠ 总体情况合计 {total[key]}")
    by_category: dict[str, Counter[str]] = defaultdict(Counter)
    for r in read_table(wb["分乡镇"], "乡镇代码", occurrence=2):
        for c in COUNTS:
            by_category[r["区域类别"]][c] += _number(r[f"户数|{c}"])
    for cat in categories:
        for c in COUNTS:
            if by_category[cat["区域类别"]][c] != _number(cat[f"户数|{c}"]):
                problems.append(
                    f"分乡镇×类别 {cat['区域类别']} {c} 之和 {by_category[cat['区域类别']][c]}"
                    f" ≠ 总体情况 {cat[f'户数|{c}']}"
                )
    return problems


def _villages(wb: Workbook, categories: list[dict[str, Any]]) -> list[str]:
    if "分村" not in wb.sheetnames:
        return []
    problems = []
    sums: dict[str, Counter[str]] = defaultdict(Counter)
    for r in read_table(wb["分村"], "村代码"):
        if r["户数|应改造"] == WITHHELD:  # withheld: not in 总体情况's approved-only totals
            continue
        sums[r["区域类别"]]["村数"] += 1
        for c in COUNTS:
            sums[r["区域类别"]][c] += _number(r[f"户数|{c}"])
    for cat in categories:
        name = cat["区域类别"]
        for c in ("村数", *COUNTS):
            shown = cat["村数"] if c == "村数" else cat[f"户数|{c}"]
            if sums[name][c] != _number(shown):
                problems.append(f"分村 {name} {c} 之和 {sums[name][c]} ≠ 总体情况 {shown}")
    return problems


def _failing(wb: Workbook, categories: list[dict[str, Any]]) -> list[str]:
    if "未达标清单" not in wb.sheetnames or "分村" not in wb.sheetnames:
        return []
    problems = []
    below: Counter[str] = Counter()
    for r in read_table(wb["分村"], "村代码"):
        if r["是否达标"] == NOT_MET:
            below[r["区域类别"]] += 1
    ws = wb["未达标清单"]
    deciding = read_table(ws, "序号")
    listed: Counter[str] = Counter()
    subtotals: dict[str, Any] = {}
    total_gap = None
    for r in deciding:
        label = r.get("村名称") or ""
        if r.get("村代码"):
            listed[r["区域类别"]] += 1
        elif label.startswith(TOTAL):
            total_gap = r["户数|差距"]
        elif "小计" in label:
            subtotals[label.split("小计")[0]] = r["户数|差距"]
    context = read_table(ws, "序号", occurrence=2)
    context_listed = Counter(r["区域类别"] for r in context if r.get("村代码"))
    judged_whole = {r["区域类别"]: r for r in read_table(ws, "区域类别")}
    every_gap = 0
    for cat in categories:
        name = cat["区域类别"]
        if cat["考核方式"] == EVERY_VILLAGE:
            every_gap += _number(cat["差距户数"])
            if listed[name] != below[name]:
                problems.append(
                    f"未达标清单表一 {name} {listed[name]} 个村 ≠ 分村未达标 {below[name]} 个"
                )
            if _number(subtotals.get(name, 0)) != _number(cat["差距户数"]):
                problems.append(
                    f"未达标清单表一 {name} 小计差距 {subtotals.get(name, 0)} ≠ 总体情况 {cat['差距户数']}"
                )
        elif cat["考核方式"] == AGGREGATE:
            line = judged_whole.get(name)
            if line is None:
                problems.append(f"未达标清单表三缺少 {name}")
                continue
            if line["类别合计|类别差距"] != cat["差距户数"]:
                problems.append(
                    f"未达标清单表三 {name} 类别差距 {line['类别合计|类别差距']} ≠ 总体情况 {cat['差距户数']}"
                )
            if line["低于目标的村数"] != below[name]:
                problems.append(
                    f"未达标清单表三 {name} 低于目标 {line['低于目标的村数']} 个 ≠ 分村 {below[name]} 个"
                )
            if context_listed[name] < below[name]:
                problems.append(
                    f"未达标清单表二 {name} 只列 {context_listed[name]} 个村，少于 {below[name]} 个"
                )
    if _number(total_gap) != every_gap:
        problems.append(
            f"未达标清单表一合计差距 {total_gap} ≠ 总体情况 100% 类别差距之和 {every_gap}"
        )
    return problems


def _comparison(wb: Workbook, total: dict[str, Any]) -> list[str]:
    if "年度对比" not in wb.sheetnames:
        return []
    rows = read_table(wb["年度对比"], "乡镇代码")
    last = next((r for r in rows if _is_total(r.get("乡镇名称"))), None)
    if last is None:
        return []
    problems = []
    for header, wanted in (("应改造", total["户数|应改造"]), ("已完成", total["户数|已完成"])):
        key = next((k for k in last if k.startswith("本年") and k.endswith(f"|{header}")), None)
        if key is not None and last[key] != wanted:
            problems.append(f"年度对比合计 {key} {last[key]} ≠ 总体情况 {wanted}")
    return problems


def _trend(wb: Workbook, overview: list[dict[str, Any]]) -> list[str]:
    """历年趋势's last row (the report's cut-off) = 总体情况, category by category."""
    if "历年趋势" not in wb.sheetnames:
        return []
    rows = read_table(wb["历年趋势"], "年度")
    if not rows:
        return []
    last = rows[-1]
    problems = []
    for cat in overview:
        for header, key in (("应改造", "户数|应改造"), ("已完成", "户数|已完成")):
            shown = last.get(f"{cat['区域类别']}|{header}")
            if shown != cat[key]:
                problems.append(
                    f"历年趋势最后一行 {cat['区域类别']} {header} {shown} ≠ 总体情况 {cat[key]}"
                )
    return problems
