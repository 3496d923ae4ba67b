"""Read record sheets: the village registry, the heat-source register, the boiler ledger.

One record per row, read with the ledger's machinery — ``imports.readers``
(file types, limits, hostile files), ``imports.header`` (the header within
the first 20 rows, synonyms, two-row headers) and ``imports.clean`` (one
cleaner per kind of cell) — and every problem an ``imports.issues.Problem``
placed by sheet, row, column letter and field.  These files are small and
all-or-nothing: the loaders check every row first and write nothing when
any row has an error.  Like a ledger, the file is read and cleaned in the
limited child process of ``imports.isolation``; the loaders' checks against
the database run here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from heating.config import Config
from heating.errors import Refused
from heating.models import ImportBatch, utcnow
from imports import clean
from imports.clean import skip_reason
from imports.fields import Schema
from imports.header import find_header
from imports.issues import Problem, column_letter
from imports.readers import ReadLimits, read_workbook
from imports.storage import keep_bytes


@dataclass
class Record:
    """One cleaned row with where it came from (``columns``: field → column letter)."""

    sheet: str
    row: int
    columns: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class LoadReport:
    """The issues of one load; ``add`` places an issue on a record's cell."""

    issues: list[Problem] = field(default_factory=list)

    def add(
        self,
        severity: str,
        code: str,
        message: str,
        row: Record | None = None,
        field_name: str | None = None,
        value: Any = None,
    ) -> None:
        self.issues.append(
            Problem(
                severity,
                code,
                message,
                row.sheet if row else None,
                row.row if row else None,
                row.columns.get(field_name) if row and field_name else None,
                field_name,
                None if value is None else str(value),
            )
        )

    def place(self, problem: Problem, row: Record, value: Any = None) -> None:
        """Add a problem a rule found (it names its field) at the record's cell."""
        self.add(problem.severity, problem.code, problem.message, row, problem.field, value)

    def has_issue(self, row: Record, field_name: str) -> bool:
        """True when a cell already has an issue (so "blank" would be a second message)."""
        return any(
            i.row == row.row and i.sheet == row.sheet and i.field == field_name for i in self.issues
        )

    @property
    def errors(self) -> int:
        return sum(1 for i in self.issues if i.severity == "error")

    def refusal(self, what: str, file_name: str, n: int = 3) -> str:
        """The one refusal of a file with errors, for the CLI and the web page alike.

        Says how many errors, that nothing was written, the first ``n`` in
        file order with their places (sheet, row, column), and what to do.
        """
        errors = [i for i in self.issues if i.severity == "error"]
        sheets = {name: k for k, name in enumerate(dict.fromkeys(i.sheet for i in errors))}
        examples = []
        for issue in sorted(errors, key=lambda i: (sheets[i.sheet], i.row or 0))[:n]:
            place = f"工作表“{issue.sheet}”" if issue.sheet else ""
            if issue.row:
                place += f"第 {issue.row} 行"
                if issue.column:
                    place += f" {issue.column} 列"
            elif issue.column:
                place += f"{issue.column} 列"
            examples.append((f"{place}：" if place else "") + issue.message.rstrip("。"))
        more = "等" if len(errors) > n else ""
        return (
            f"{what}“{file_name}”有 {len(errors)} 处错误，未写入任何数据。"
            f"例如：{'；'.join(examples)}{more}。请按问题清单修改后重新上传。"
        )


def read_records(
    data: bytes,
    file_name: str,
    config: Config,
    schema: Schema,
    report: LoadReport,
    *,
    required: Sequence[Sequence[str]],
    what: str,
    hint: Sequence[str] = (),
) -> list[Record]:
    """Read every visible sheet that has a ``schema`` header into cleaned records.

    ``required`` lists groups of fields; each group needs at least one of its
    columns (``[("tph", "mw")]``: t/h or MW).  A sheet missing one is an
    error naming the columns; a file where no sheet has a header is refused,
    naming the ``hint`` columns (by default the schema's first five).
    """
    from imports.isolation import ChildLimits, run_isolated

    rows, issues = run_isolated(
        read_records_plain,
        data,
        file_name,
        ReadLimits.from_config(config),
        schema,
        tuple(tuple(group) for group in required),
        what,
        tuple(hint),
        limits=ChildLimits.from_config(config),
        file_name=file_name,
    )
    report.issues.extend(issues)
    return rows


def read_records_plain(
    data: bytes,
    file_name: str,
    limits: ReadLimits,
    schema: Schema,
    required: Sequence[Sequence[str]],
    what: str,
    hint: Sequence[str],
) -> tuple[list[Record], list[Problem]]:
    """``read_records`` without a database or a report: what the child process runs."""
    report = LoadReport()
    workbook = read_workbook(data, file_name, limits)
    cleaners = {f.name: clean.cleaner_for(f) for f in schema.fields}
    rows: list[Record] = []
    found = False
    for sheet in workbook.sheets:
        if not sheet.visible:
            continue
        header = find_header(sheet.rows, sheet.merged, schema)
        if header is None:
            continue
        found = True
        columns = {f: column_letter(c) for c, f in header.fields.items()}
        missing = [
            "或".join(schema.by_name[name].label for name in group)
            for group in required
            if not any(name in columns for name in group)
        ]
        if missing:
            report.add(
                "error",
                "column_missing",
                f"工作表“{sheet.name}”缺少必需的列：{'、'.join(missing)}。",
            )
            continue
        for r in range(header.data_start, len(sheet.rows)):
            raw = sheet.rows[r]
            if skip_reason(raw) is not None or header.repeats(raw):
                continue
            item = Record(sheet.name, r + 1, columns)
            for c, name in header.fields.items():
                value = raw[c] if c < len(raw) else ""
                if (r, c) in sheet.formulas_without_value:
                    report.add(
                        "error",
                        "formula_no_value",
                        "公式单元格没有计算结果：请在 Excel 中重新计算并保存，或填写数值。",
                        item,
                        name,
                    )
                    continue
                if value == "":
                    continue
                cleaned = cleaners[name](value)
                if type(cleaned) is Problem:
                    report.add(cleaned.severity, cleaned.code, cleaned.message, item, name, value)
                    continue
                limit = schema.by_name[name].max_length
                if isinstance(cleaned, str) and limit is not None and len(cleaned) > limit:
                    report.add(
                        "error",
                        "text_too_long",
                        f"内容过长（{len(cleaned)} 字，最多 {limit} 字），请精简。",
                        item,
                        name,
                        cleaned[:40],
                    )
                    continue
                if cleaned is not None:
                    item.values[name] = cleaned
            if item.values:
                rows.append(item)
    if not found:
        names = hint or [f.name for f in schema.fields[:5]]
        labels = "".join(f"“{schema.by_name[n].label}”" for n in names)
        raise Refused(
            f"文件“{file_name}”中找不到{what}的表头（前 20 行内应有{labels}等列名）。"
            f"请按{what}格式整理后再上传。"
        )
    return rows, report.issues


def keep_file(
    session: Session,
    data: bytes,
    file_name: str,
    *,
    kind: str,
    user_id: int | None,
    counts: dict[str, Any],
    issues: list[Problem],
) -> ImportBatch:
    """Keep a loaded file byte-for-byte with a committed batch record, like a ledger."""
    sha256 = keep_bytes(session, data)
    batch = ImportBatch(
        kind=kind,
        user_id=user_id,
        file_name=file_name,
        sha256=sha256,
        size=len(data),
        status="committed",
        committed_at=utcnow(),
        counts=counts,
        issues=[i.as_json() for i in issues],
    )
    session.add(batch)
    session.flush()
    return batch
