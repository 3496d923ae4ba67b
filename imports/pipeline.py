"""parse_ledger: read → find header → clean → validate → resolve villages, as data.

Nothing is written here.  The outcome is an ``imports.parsed.ParsedLedger``
that the diff, preview and commit steps (``imports.diff``, ``imports.batches``,
``imports.commit``) turn into a preview or a batch.  This module holds the sheets' part (header,
ignored and missing columns) and the loop over a sheet's rows; each row's
work is a sequence of small steps in ``imports.row_steps`` that return
problems, placed here on the row.  What the parse reads from the database is
loaded beforehand, in the parent (``imports.ledger_references``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import date
from itertools import islice, repeat
from typing import Any

from sqlalchemy.orm import Session

from imports import clean
from imports.fields import (
    LEDGER_LABELS,
    LEDGER_SCHEMA,
    REQUIRED_COLUMNS,
    TEMPLATE_EXTRA_SHEETS,
    VILLAGE_COLUMNS,
)
from imports.header import HeaderMatch, find_header
from imports.issue_rows import is_issue_sheet, is_reason_column
from imports.issues import IssueCap, LedgerRejected, Problem, column_letter
from imports.ledger_references import LedgerReferences, ledger_references
from imports.parsed import LedgerRow, ParsedLedger, SheetInfo, gc_paused, shown
from imports.plain_rows import PlainBlock, PlainRows, none_skipped
from imports.readers import RawSheet, ReadLimits, read_workbook
from imports.row_steps import (
    Duplicates,
    SheetPlan,
    clean_cells,
    extra_cells,
    formula_problems,
    id_problems,
    key_problems,
    missing_column_problems,
    rule_problems,
    skip_reason_of,
    unfold_values,
)

PROGRESS_EVERY = 5000


def parse_ledger(
    data: bytes,
    file_name: str,
    *,
    session: Session,
    config: Any,
    township_code: str | None,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
    references: LedgerReferences | None = None,
    record: Callable[[bytes], None] | None = None,
) -> ParsedLedger:
    """Read and validate a household ledger; raise LedgerRejected when the whole file is refused.

    Reading and parsing run in a child process with the configured memory and
    time limits (``imports.isolation``); the database is read here (or
    ``references`` given were read already).  ``record`` receives the child's
    messages as they arrive (``replay_ledger`` turns them into the same result).
    """
    from imports.isolation import ChildKilled, ChildLimits, run_isolated

    today = today or date.today()
    if township_code is not None:
        township_code = township_code.strip()
    if references is None:
        references = ledger_references(session, config, township_code, today)
    # Rows arrive in parts while the child is still reading: the child never holds them all,
    # and the parent rebuilds each part (plain tuples) with no Python call per row.
    rows: list[LedgerRow] = []

    def take(part: list[tuple[Any, ...]]) -> None:
        rows.extend(map(LedgerRow, part))

    def parse(limits: ReadLimits) -> ParsedLedger:
        return run_isolated(
            parse_ledger_file,
            data,
            file_name,
            references,
            limits,
            limits=ChildLimits.from_config(config),
            file_name=file_name,
            progress=progress,
            on_part=take,
            record=record,
        )

    limits = ReadLimits.from_config(config)
    with gc_paused():
        try:
            # The first sheet's declared size is trusted (``ReadLimits.trust_declared``) ...
            parsed = parse(replace(limits, trust_declared=True))
        except ChildKilled:
            if rows:
                raise
            # ... and if the child died before any row came back, perhaps building a sheet
            # whose declaration lied, the file is read again with every cell judged first:
            # a hostile sheet is then refused as it always was (``file_too_complex``).
            parsed = parse(limits)
    rows.extend(parsed.rows)
    parsed.rows = rows
    return parsed


def replay_ledger(stream: Any) -> ParsedLedger:
    """The ParsedLedger of a parse's recorded messages (``parse_ledger(record=…)``)."""
    from imports.isolation import replay

    rows: list[LedgerRow] = []
    with gc_paused():
        parsed = replay(stream, lambda part: rows.extend(map(LedgerRow, part)))
    if not isinstance(parsed, ParsedLedger):
        raise ValueError("recorded result is not a parsed ledger")
    rows.extend(parsed.rows)
    parsed.rows = rows
    return parsed


def parse_ledger_file(
    data: bytes,
    file_name: str,
    references: LedgerReferences,
    limits: ReadLimits,
    *,
    progress: Callable[[int, int], None] | None = None,
    emit: Callable[[list[tuple[Any, ...]]], None] | None = None,
    plain_rows: bool = True,
) -> ParsedLedger:
    """Read and parse a ledger with no database at hand (what the child process runs).

    With ``emit``, rows are handed over in parts of ``PROGRESS_EVERY`` as plain
    tuples (``LedgerRow``) while reading goes on, and the result holds only
    the last part.  ``plain_rows=False`` sends every row through the row
    steps, none by the fast path (``imports.plain_rows``): the tests compare the two.
    """
    with gc_paused():
        # The parser (its duplicate keys, memos) is gone when _parsed returns: the
        # collection after the pause then walks the result only.
        return _parsed(data, file_name, references, limits, progress, emit, plain_rows)


def _parsed(
    data: bytes,
    file_name: str,
    references: LedgerReferences,
    limits: ReadLimits,
    progress: Callable[[int, int], None] | None,
    emit: Callable[[list[tuple[Any, ...]]], None] | None,
    plain_rows: bool,
) -> ParsedLedger:
    workbook = read_workbook(data, file_name, limits)
    parser = _LedgerParser(references, progress, file_name, emit)
    if not plain_rows:
        parser.plain = None
    parser.max_rows = limits.max_rows
    parser.hold_rows = limits.hold_rows
    visible = []
    # Sheets are read one at a time; the progress total grows as each is opened.
    for sheet in workbook.sheets:
        parser.total += sheet.height
        parser.sheet(sheet)
        if sheet.visible:
            visible.append(sheet.name)
    if not parser.sheets:
        seen = "、".join(f"“{name}”" for name in visible) or "（无可见工作表）"
        raise LedgerRejected(
            f"文件“{file_name}”的工作表 {seen} 中都找不到表头（前 20 行内应有“户主姓名”“改造状态”"
            "“村”等列名）。请使用台账模板，或在数据上方加上列名后再上传。",
            code="file_no_header",
        )
    if progress:
        progress(parser.total, parser.total)
    summaries = parser.cap.summaries()
    return ParsedLedger(
        file_name=file_name,
        sha256=hashlib.sha256(data).hexdigest(),
        sheets=parser.sheets,
        rows=list(map(LedgerRow, parser.rows)),  # plain rows are kept as tuples
        skipped=sum(parser.skipped.values()),
        issues=parser.issues + summaries,
        kind=workbook.kind,
        township_code=references.township_code,
        skipped_by_reason=dict(parser.skipped),
        titles=parser.titles,
        omitted=parser.cap.omitted,
        summaries=summaries,
        max_listed=limits.max_issues,
    )


class _LedgerParser:
    """Holds what is built once per parse: village index, salt, rules, duplicate keys."""

    def __init__(
        self,
        references: LedgerReferences,
        progress: Callable[[int, int], None] | None,
        file_name: str = "",
        emit: Callable[[list[tuple[Any, ...]]], None] | None = None,
    ) -> None:
        self.file_name = file_name
        self.emit = emit
        self.emitted = 0  # rows already handed over by ``emit``
        self.max_rows: int | None = None  # household rows allowed in the whole file
        self.hold_rows = 200_000  # ReadLimits.hold_rows
        self.index = references.index
        self.salt = references.salt
        self.rules = references.rules
        self.progress = progress
        self.total = 0
        self.done = 0
        self.sheets: list[SheetInfo] = []
        # LedgerRows, or their tuples (the fast path's): handed over as tuples either way.
        self.rows: list[LedgerRow | tuple[Any, ...]] = []
        self.issues: list[Problem] = []
        self.cap = IssueCap()
        self.skipped: dict[str, int] = {}
        self.titles: list[tuple[str, list[str]]] = []
        self.duplicates = Duplicates()
        # Field-name and label tuples shared by rows (see LedgerRow).
        self.shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.cleaners = {f.name: clean.cleaner_for(f) for f in LEDGER_SCHEMA.fields}
        self.plain: PlainRows | None = PlainRows(self.index, self.salt, self.rules)

    def note(self, severity: str, code: str, message: str, sheet: str, **place: Any) -> None:
        issue = Problem(severity, code, message, sheet, **place)
        if self.cap.admit(issue):
            self.issues.append(issue)

    # ------------------------------------------------------------------
    def sheet(self, sheet: RawSheet) -> None:
        name = sheet.name
        # The template's instructions and lists, the issue list's own sheet: no note.
        if name in TEMPLATE_EXTRA_SHEETS or is_issue_sheet(name, sheet.head):
            self.done += sheet.height
            return
        if not sheet.visible:
            self.note("note", "sheet_hidden", f"工作表“{name}”是隐藏的，已跳过。", name)
            return
        if not any(any(r) for r in sheet.head) and not any(any(r) for r in sheet.iter_rows()):
            self.note("note", "sheet_empty", f"工作表“{name}”是空的，已跳过。", name)
            self.done += sheet.height
            return
        header = find_header(sheet.head, sheet.merged, LEDGER_SCHEMA)
        if header is None:
            severity = "note" if "说明" in name else "warning"
            self.note(
                severity,
                "sheet_no_header",
                f"工作表“{name}”前 20 行内找不到表头（如“户主姓名”“改造状态”），已跳过。"
                "如果这张表是台账，请在数据上方加上列名。",
                name,
            )
            self.done += sheet.height
            return
        info = SheetInfo(
            name,
            header.first_row + 1,
            {header.labels[c]: f for c, f in header.fields.items()},
            list(header.ignored.values()),
        )
        self.sheets.append(info)
        self.titles.append((name, [_row_text(r) for r in sheet.head[: header.first_row]]))
        missing = self.note_columns(name, header)
        plan = SheetPlan.of(sheet, header, self.cleaners, missing)
        self.done += header.data_start
        hold = sheet.height > self.hold_rows and not sheet.streamed and hasattr(self.emit, "hold")
        if hold:
            self.emit.hold()  # type: ignore[union-attr]
        rows = sheet.iter_rows()
        for _ in islice(rows, header.data_start):
            pass
        self.data_rows(rows, header.data_start, plan, info)
        if hold:
            # The rows are read: calamine's sheet went with its iterator. Its memory
            # goes back to the system before the parent receives the held rows.
            from imports.isolation import release_freed_memory

            release_freed_memory()
            self.emit.release()  # type: ignore[union-attr]

    def note_columns(self, name: str, header: HeaderMatch) -> list[str]:
        """Notes on ignored and duplicate columns; the required columns missing, as labels."""
        for c, label in header.ignored.items():
            if is_reason_column(label):  # the reasons the issue-list download added
                continue
            self.note(
                "note",
                "column_ignored",
                f"列“{label}”不是台账的字段，已保留在导入记录中但不导入。",
                name,
                row=header.last_row + 1,
                column=column_letter(c),
            )
        for c, label in header.duplicates.items():
            self.note(
                "warning",
                "column_duplicate",
                f"列“{label}”与前面的列是同一字段，只使用前面那一列，这一列已忽略。",
                name,
                row=header.last_row + 1,
                column=column_letter(c),
            )
        fields = set(header.fields.values())
        missing = [f.label for f in REQUIRED_COLUMNS if f.name not in fields]
        if fields.isdisjoint(VILLAGE_COLUMNS):
            missing.append(LEDGER_LABELS["village"])
        if missing:
            self.note(
                "error",
                "column_missing",
                f"工作表“{name}”缺少必需的列：{'、'.join(missing)}。请在表头中加上这些列后再上传。",
                name,
                row=header.last_row + 1,
            )
        return missing

    # ------------------------------------------------------------------
    def data_rows(
        self, rows: Iterator[list[Any]], r: int, plan: SheetPlan, info: SheetInfo
    ) -> None:
        """The rows below the header (the first is 0-based ``r``), a block at a time.

        A block ends where the rows read so far are handed over (every
        ``PROGRESS_EVERY`` rows, as a row at a time would).
        """
        carried: list[list[Any]] = []  # the row whose count started a hand-over
        while True:
            want = PROGRESS_EVERY - 1 - self.done % PROGRESS_EVERY
            block = carried + list(islice(rows, want))
            self.done += len(block) - len(carried)
            self.block(r, block, plan, info)
            r += len(block)
            nxt = next(rows, None)
            if nxt is None:
                return
            carried = [nxt]
            self.done += 1
            self.hand_over()

    def block(self, r: int, raws: list[list[Any]], plan: SheetPlan, info: SheetInfo) -> None:
        """Rows ``r``… (0-based): skipped, or households; plain ones by the fast path.

        ``imports.plain_rows`` builds the rows that can have no problem a
        column at a time; the others go through the row steps one by one.
        Either way the rows are kept in order.
        """
        numbers = list(range(r + 1, r + 1 + len(raws)))
        households = raws
        if not none_skipped(raws, plan):
            reasons = list(map(skip_reason_of, raws, repeat(plan)))
            for reason in filter(None, reasons):
                self.skipped[reason] = self.skipped.get(reason, 0) + 1
            households = [raw for raw, why in zip(raws, reasons, strict=True) if why is None]
            numbers = [r + 1 + i for i, why in enumerate(reasons) if why is None]
        if self.plain is None:
            plain = PlainBlock.none(len(households))
        else:
            plain = self.plain.block(households, numbers, plan, self.shared)
        if None not in plain.rows and self.duplicates.take(plain.pairs, plan.name, numbers):
            self.add(plain.rows, numbers, plan, info)  # type: ignore[arg-type]
            return
        for raw, number, row, pair in zip(
            households, numbers, plain.rows, plain.pairs, strict=True
        ):
            if row is not None and self.duplicates.take([pair], plan.name, [number]):
                self.add([row], [number], plan, info)
            else:
                self.row(number - 1, raw, plan, info)

    def row(self, r: int, raw: list[Any], plan: SheetPlan, info: SheetInfo) -> None:
        """One household row (0-based ``r``, not skipped) through the row steps."""
        values, problems = clean_cells(raw, plan)
        if not values and not problems:
            # Nothing in a ledger column (perhaps a pre-numbered 序号 only): a blank row.
            self.skipped["blank"] = self.skipped.get("blank", 0) + 1
            return
        self.add([self.checked(r + 1, raw, values, problems, plan)], [r + 1], plan, info)

    def add(self, rows: list[Any], numbers: list[int], plan: SheetPlan, info: SheetInfo) -> None:
        """Keep household rows (Excel's ``numbers``), refusing the file past ``max_rows``."""
        self.rows += rows
        info.data_rows += len(rows)
        over = self.emitted + len(self.rows) - (self.max_rows or 0)
        if self.max_rows is not None and over > 0:
            raise LedgerRejected(
                f"文件“{self.file_name}”的数据行超过上限 {self.max_rows} 行（已读到工作表"
                f"“{plan.name}”第 {numbers[len(rows) - over]} 行；标题、表头、空行和合计行不计）。"
                "请按乡镇或村拆分成多个文件后分别上传。",
                code="file_too_many_rows",
            )

    def checked(
        self,
        rownum: int,
        raw: list[Any],
        values: dict[str, Any],
        problems: list[Problem] | tuple[Problem, ...],
        plan: SheetPlan,
    ) -> LedgerRow:
        """The row steps after cleaning, in order; their problems placed on the row."""
        extra = extra_cells(raw, plan, clean.text) if plan.extras else {}
        problems = list(problems)
        if plan.gaps:
            problems += formula_problems(rownum - 1, plan)
        unfold_values(values, raw, plan)
        problems += id_problems(values)
        problems += rule_problems(values, self.rules, problems)
        problems += missing_column_problems(plan)
        place = self.index.resolve(
            values.get("township"), values.get("village"), values.get("village_code")
        )
        problems += place.problems
        key, key_kind, weak = key_problems(values, self.salt)
        problems += weak
        scope = place.village_id if place.village_id is not None else values.get("village")
        problems += self.duplicates.problems(scope, key, plan.name, rownum, key_kind, plan.columns)
        columns = plan.columns
        issues = [
            p.placed(
                plan.name,
                rownum,
                columns.get(p.field),  # type: ignore[arg-type]
                p.value if p.value is not None else shown(p.field, values),
            )
            for p in problems
        ]
        return LedgerRow.build(
            plan.name,
            rownum,
            values,
            columns,
            extra,
            place.village_id,
            place.township_code,
            key,
            key_kind,
            issues,
            shared=self.shared,
        )

    def hand_over(self) -> None:
        """Report progress; with ``emit``, hand the rows read so far to the parent."""
        if self.progress:
            self.progress(self.done, self.total)
        if self.emit is not None and self.rows:
            self.emit(list(map(tuple, self.rows)))
            self.emitted += len(self.rows)
            self.rows.clear()


def _row_text(cells: Any) -> str:
    """A row above the header as one text ("数据截至：" and its date may sit in two cells)."""
    parts = []
    for value in cells:
        if value is None or value == "":
            continue
        if isinstance(value, date):
            parts.append(value.isoformat()[:10])
        elif isinstance(value, float) and value.is_integer():
            parts.append(str(int(value)))
        else:
            parts.append(str(value).strip())
    return " ".join(p for p in parts if p)
