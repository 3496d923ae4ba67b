"""parse_ledger: read → find header → clean → validate → resolve villages, as data.

Nothing is written here.  The outcome is a ``ParsedLedger`` that the diff and
commit steps (``imports.diff``/``imports.batches``) turn into a preview or a
batch.  A row is rejected iff one of its issues is an error.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from operator import itemgetter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from heating.db import get_meta
from heating.households import household_key
from heating.models import Township
from heating.privacy import PERSONAL_FIELDS, mask_field, mask_id
from imports import clean
from imports.clean import CellProblem, skip_reason
from imports.fields import (
    LEDGER_LABELS,
    LEDGER_SCHEMA,
    REQUIRED_COLUMNS,
    ROUTE_DEVICES,
    VILLAGE_COLUMNS,
    normalise_word,
)
from imports.header import HeaderMatch, find_header
from imports.issues import Issue, IssueCap, LedgerRejected, column_letter
from imports.readers import RawSheet, ReadLimits, read_workbook
from imports.validate import RowRules, check_id_number, status_word_reason
from imports.villages import VillageIndex

PROGRESS_EVERY = 5000


@dataclass
class SheetInfo:
    """A sheet that had a header: where, which columns meant what, what was ignored."""

    name: str
    header_row: int  # 1-based, the first header row
    columns: dict[str, str]  # header as written → field
    ignored_columns: list[str]
    data_rows: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "header_row": self.header_row,
            "columns": dict(self.columns),
            "ignored_columns": list(self.ignored_columns),
            "data_rows": self.data_rows,
        }


_NO_ISSUES: tuple[Issue, ...] = ()
_MISSING = object()
_KEY_FROM_NO = "\x00no"  # LedgerRow._key when the key is "no:" + the row's 户号 (never a key)


class LedgerRow(list):
    """One household row: cleaned values, where each came from, and its issues.

    Compact because a ledger may hold a million of them: the field names of
    ``values`` and the labels of ``extra`` are tuples shared by many rows
    (only the values are per row), a row without issues shares one empty
    tuple, and ``columns`` (field → column letter) is shared by every row of
    a sheet.  ``values`` and ``extra`` are built as dicts when read: treat
    them as read-only.

    A list underneath (fields by position, ``ROW_FIELDS``; build one with
    ``LedgerRow.build``): a million rows then cross the process boundary of
    ``imports.isolation`` at C speed — ``ParsedLedger`` pickles them as plain
    tuples and turns them back with ``LedgerRow(tuple)``, no Python call per
    row.  Only ``issues`` may be replaced (the diff adds a warning); rows
    compare and hash by identity, like any object.
    """

    __slots__ = ()
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    sheet: str = property(itemgetter(0))  # type: ignore[assignment]
    row: int = property(itemgetter(1))  # type: ignore[assignment]  # as Excel shows (1-based)
    _names: tuple[str, ...] = property(itemgetter(2))  # type: ignore[assignment]
    _data: tuple[Any, ...] = property(itemgetter(3))  # type: ignore[assignment]
    columns: dict[str, str] = property(itemgetter(4))  # type: ignore[assignment]  # field → letter
    _extra_labels: tuple[str, ...] = property(itemgetter(5))  # type: ignore[assignment]
    _extra_data: tuple[str, ...] | str | None = property(itemgetter(6))  # type: ignore[assignment]
    village_id: int | None = property(itemgetter(7))  # type: ignore[assignment]
    township_code: str | None = property(itemgetter(8))  # type: ignore[assignment]
    _key: str | None = property(itemgetter(9))  # type: ignore[assignment]
    key_kind: str | None = property(itemgetter(10))  # type: ignore[assignment]
    issues: list[Issue] | tuple[Issue, ...] = property(  # type: ignore[assignment]
        itemgetter(11), lambda self, value: self.__setitem__(11, value)
    )

    @classmethod
    def build(
        cls,
        sheet: str,
        row: int,
        values: dict[str, Any],
        columns: dict[str, str],
        extra: dict[str, str] | None,
        village_id: int | None,
        township_code: str | None,
        key: str | None,
        key_kind: str | None,
        issues: list[Issue] | tuple[Issue, ...],
        *,
        shared: dict[tuple[str, ...], tuple[str, ...]] | None = None,
    ) -> LedgerRow:
        names = tuple(values)
        if shared is not None:
            names = shared.setdefault(names, names)
        extra_data: tuple[str, ...] | str | None
        if extra:
            labels = tuple(extra)
            if shared is not None:
                labels = shared.setdefault(labels, labels)
            data = tuple(extra.values())
            # One ignored column (typically 序号): the text itself, no tuple.
            extra_data = data[0] if len(data) == 1 else data
        else:
            labels, extra_data = (), None
        # "no:" + 户号 (the usual key) is rebuilt when read rather than kept twice.
        if key_kind == "household_no" and key == "no:" + str(values.get("household_no")):
            key = _KEY_FROM_NO
        return cls(
            (
                sheet,
                row,
                names,
                tuple(values.values()),
                columns,
                labels,
                extra_data,
                village_id,
                township_code,
                key,
                key_kind,
                issues or _NO_ISSUES,
            ),
        )

    @property
    def values(self) -> dict[str, Any]:
        """Field → cleaned value (blank cells absent)."""
        return dict(zip(self[2], self[3], strict=True))

    @property
    def extra(self) -> dict[str, str]:
        """Ignored column header → the cell's text (empty cells absent)."""
        data = self[6]
        if data is None:
            return {}
        if type(data) is str:
            return {self[5][0]: data}
        return dict(zip(self[5], data, strict=True))

    @property
    def key(self) -> str | None:
        """The household key (``heating.households.household_key``)."""
        key = self[9]
        if key == _KEY_FROM_NO:
            return "no:" + self[3][self[2].index("household_no")]
        return key

    def items(self) -> Iterator[tuple[str, Any]]:
        """(field, cleaned value) pairs, like ``values.items()`` without building the dict."""
        return zip(self[2], self[3], strict=True)

    def get(self, name: str) -> Any:
        """One cleaned value (None when blank) without building ``values``."""
        try:
            return self[3][self[2].index(name)]
        except ValueError:
            return None

    @property
    def rejected(self) -> bool:
        return any(i.severity == "error" for i in self[11])

    def __repr__(self) -> str:
        return f"LedgerRow({self.sheet!r}, {self.row}, {self.values!r})"


ROW_FIELDS = (
    "sheet",
    "row",
    "_names",
    "_data",
    "columns",
    "_extra_labels",
    "_extra_data",
    "village_id",
    "township_code",
    "_key",
    "key_kind",
    "issues",
)


@dataclass
class ParsedLedger:
    """The outcome of reading a ledger (nothing written yet).

    ``issues`` holds file- and sheet-level issues; each row carries its own
    (``all_issues()`` yields both, in order).  File-level issues are listed
    at most ``FILE_ISSUES_PER_CODE`` per code (``summaries`` say how many
    more; ``omitted`` counts them by severity); ``listed_issues()`` stops
    listing row issues after ``max_listed`` of them.  ``issue_counts()``
    always counts every issue.
    """

    file_name: str
    sha256: str
    sheets: list[SheetInfo]
    rows: list[LedgerRow]
    skipped: int
    issues: list[Issue]
    kind: str = ""
    township_code: str | None = None
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    # Per sheet with a header (workbook order): its rows above the header as text,
    # where clerks write the title and "数据截至…" (imports.ledger_date reads them).
    titles: list[tuple[str, list[str]]] = field(default_factory=list)
    omitted: dict[str, int] = field(default_factory=dict)
    summaries: list[Issue] = field(default_factory=list)
    max_listed: int | None = None  # row issues listed at most (``import_max_issues``)

    def __getstate__(self) -> dict[str, Any]:
        # The rows as plain tuples: pickled and restored at C speed (see LedgerRow).
        state = dict(self.__dict__)
        state["rows"] = list(map(tuple, self.rows))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["rows"] = list(map(LedgerRow, state["rows"]))
        self.__dict__.update(state)

    def all_issues(self) -> Iterator[Issue]:
        yield from self.issues
        for row in self.rows:
            yield from row.issues

    def listed_issues(self) -> list[Issue]:
        """File-level issues, then row issues up to ``max_listed``, then a note of the rest."""
        out = list(self.issues)
        limit = self.max_listed
        listed = 0
        for row in self.rows:
            if not row.issues:
                continue
            if limit is not None and listed + len(row.issues) > limit:
                break
            out.extend(row.issues)
            listed += len(row.issues)
        total = sum(len(r.issues) for r in self.rows)
        if total > listed:
            out.append(
                Issue(
                    "note",
                    "issues_not_listed",
                    f"另有 {total - listed:,} 处行问题未逐条列出（共 {total:,} 处，"
                    f"只列出前 {listed:,} 处，设置 import_max_issues）。"
                    "请按已列出的问题修改后重新上传预览。",
                )
            )
        return out

    def issue_counts(self) -> dict[str, int]:
        """Every issue by severity, listed or not (summary notes themselves not counted)."""
        counts = dict.fromkeys(("error", "warning", "note"), 0)
        for issue in self.all_issues():
            counts[issue.severity] = counts.get(issue.severity, 0) + 1
        counts["note"] -= len(self.summaries)
        for severity, n in self.omitted.items():
            counts[severity] = counts.get(severity, 0) + n
        return counts

    @property
    def rejected(self) -> int:
        return sum(1 for r in self.rows if r.rejected)

    @property
    def warnings(self) -> int:
        return self.issue_counts()["warning"]

    @property
    def ignored_columns(self) -> list[str]:
        return list(dict.fromkeys(c for s in self.sheets for c in s.ignored_columns))


def masked(field_name: str, value: Any) -> str | None:
    """A cell value safe to show in an issue: ID numbers and phones masked, long text cut."""
    if value is None or value == "":
        return None
    if type(value) is float and value.is_integer() and abs(value) < 1e15:
        value = int(value)
    text = str(value) if not isinstance(value, float) else f"{value:.15g}"
    if field_name in PERSONAL_FIELDS:
        return mask_field(field_name, "".join(text.split()))
    return text if len(text) <= 60 else text[:57] + "…"


@dataclass
class LedgerReferences:
    """What parsing needs from the database, loaded once by the caller as plain data.

    The parse itself runs in a child process (``imports.isolation``) that
    never opens a database connection: the village index, the ID salt and
    the cross-field rules' data (district extent, heat sources) travel to it
    pickled.
    """

    township_code: str | None
    index: VillageIndex
    salt: str
    rules: RowRules

    @classmethod
    def load(cls, session: Session, township_code: str | None, today: date) -> LedgerReferences:
        index = VillageIndex.load(session, township_code)
        rules = RowRules(session, today, index.district_ids)
        rules.extent()
        rules.register()
        rules.session = None  # type: ignore[assignment]  # everything it reads is loaded
        return cls(township_code, index, get_meta(session, "id_salt") or "", rules)


def parse_ledger(
    data: bytes,
    file_name: str,
    *,
    session: Session,
    config: Any,
    township_code: str | None,
    today: date | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ParsedLedger:
    """Read and validate a household ledger; raise LedgerRejected when the whole file is refused.

    Reading and parsing run in a child process with the configured memory and
    time limits (``imports.isolation``); the database is read here.
    """
    from imports.isolation import ChildLimits, run_isolated

    today = today or date.today()
    if township_code is not None:
        township_code = township_code.strip()
        if session.scalar(select(Township.id).where(Township.code == township_code)) is None:
            raise LedgerRejected(
                f"乡镇代码 {township_code} 不在村庄名录中。请核对代码（9 位），或先导入村庄名录。",
                code="township_unknown",
            )
    references = LedgerReferences.load(session, township_code, today)
    references.rules.heat_source_rule = config.heat_source_rule
    # Rows arrive in parts while the child is still reading: the child never holds them all,
    # and the parent rebuilds each part (plain tuples) with no Python call per row.
    rows: list[LedgerRow] = []

    def take(part: list[tuple[Any, ...]]) -> None:
        rows.extend(map(LedgerRow, part))

    parsed = run_isolated(
        parse_ledger_file,
        data,
        file_name,
        references,
        ReadLimits.from_config(config),
        limits=ChildLimits.from_config(config),
        file_name=file_name,
        progress=progress,
        on_part=take,
    )
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
) -> ParsedLedger:
    """Read and parse a ledger with no database at hand (what the child process runs).

    With ``emit``, rows are handed over in parts of ``PROGRESS_EVERY`` as plain
    tuples (``LedgerRow``) while reading goes on, and the result holds only
    the last part.
    """
    workbook = read_workbook(data, file_name, limits)
    parser = _LedgerParser(references, progress, file_name, emit)
    parser.max_rows = limits.max_rows
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
        rows=parser.rows,
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
        self.index = references.index
        self.salt = references.salt
        self.rules = references.rules
        self.progress = progress
        self.total = 0
        self.done = 0
        self.sheets: list[SheetInfo] = []
        self.rows: list[LedgerRow] = []
        self.issues: list[Issue] = []
        self.cap = IssueCap()
        self.skipped: dict[str, int] = {}
        self.titles: list[tuple[str, list[str]]] = []
        # Village (or unresolved village name) → household key → (sheet, row) that first had it.
        self.seen: dict[Any, dict[str, tuple[str, int]]] = {}
        # Field-name and label tuples shared by rows (see LedgerRow).
        self.shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        self.cleaners = {f.name: clean.cleaner_for(f) for f in LEDGER_SCHEMA.fields}

    def note(self, severity: str, code: str, message: str, sheet: str, **place: Any) -> None:
        issue = Issue(severity, code, message, sheet, **place)
        if self.cap.admit(issue):
            self.issues.append(issue)

    # ------------------------------------------------------------------
    def sheet(self, sheet: RawSheet) -> None:
        name = sheet.name
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
        for c, label in header.ignored.items():
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
        self._rows(sheet, header, info, missing)

    # ------------------------------------------------------------------
    def _rows(
        self, sheet: RawSheet, header: HeaderMatch, info: SheetInfo, missing: list[str]
    ) -> None:
        name = sheet.name
        letters = {c: column_letter(c) for c in header.fields}
        columns = {f: letters[c] for c, f in header.fields.items()}
        specs = [
            (c, f, self.cleaners[f], letters[c], LEDGER_SCHEMA.by_name[f].max_length)
            for c, f in sorted(header.fields.items())
        ]
        extras = sorted(header.ignored.items())
        header_texts = header.texts
        probe = min(header.fields)  # a column whose header text would repeat
        status_col = next((c for c, f in header.fields.items() if f == "status"), None)
        route_col = next((c for c, f in header.fields.items() if f == "route"), None)
        gaps: dict[int, list[int]] = {}
        for r, c in sheet.formulas_without_value:
            if c in header.fields:
                gaps.setdefault(r, []).append(c)
        missing_issue = (
            Issue(
                "error",
                "column_missing",
                f"缺少必需的列：{'、'.join(missing)}，本行无法导入。",
                name,
            )
            if missing
            else None
        )
        text = clean.text
        skipped = self.skipped
        out = self.rows
        resolve = self.index.resolve
        check = self.rules.check
        seen = self.seen
        salt = self.salt
        progress = self.progress
        shared = self.shared
        max_rows = self.max_rows
        emit = self.emit
        emitted = self.emitted
        route_devices: dict[str, str | None] = {}  # route cell as written → device it names
        start = header.data_start
        self.done += start
        for r, raw in enumerate(sheet.iter_rows()):
            if r < start:
                continue
            self.done += 1
            if self.done % PROGRESS_EVERY == 0:
                if progress:
                    progress(self.done, self.total)
                if emit is not None and out:
                    emit(list(map(tuple, out)))
                    emitted += len(out)
                    out.clear()
            reason = skip_reason(raw)
            if (
                reason is None
                and raw[probe] in header_texts
                and sum(1 for v in raw if v in header_texts) * 2 >= len(header.fields)
            ):
                reason = "repeated_header"
            if reason is not None:
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            rownum = r + 1
            values: dict[str, Any] = {}
            issues: list[Issue] = []
            for c, f, cleaner, letter, max_len in specs:
                v = raw[c]
                if v == "":
                    continue
                try:
                    value = cleaner(v)
                except CellProblem as p:
                    issues.append(
                        Issue(p.severity, p.code, p.message, name, rownum, letter, f, masked(f, v))
                    )
                    continue
                if value is None:
                    continue
                if max_len is not None and len(value) > max_len:
                    issues.append(
                        Issue(
                            "error",
                            "text_too_long",
                            f"内容过长（{len(value)} 字，最多 {max_len} 字），请精简。",
                            name,
                            rownum,
                            letter,
                            f,
                            masked(f, value),
                        )
                    )
                    continue
                values[f] = value
            extra = {}
            for c, label in extras:
                v = raw[c]
                if v != "":
                    t = text(v)
                    if t is not None:
                        extra[label] = t
            if not values and not issues:
                # Nothing in a ledger column (perhaps a pre-numbered 序号 only): a blank row.
                skipped["blank"] = skipped.get("blank", 0) + 1
                continue
            if gaps and r in gaps:
                for c in gaps[r]:
                    f = header.fields[c]
                    issues.append(
                        Issue(
                            "error",
                            "formula_no_value",
                            "公式单元格没有保存计算结果。请在 Excel 中打开文件、重新计算并保存，"
                            "或把公式替换为数值后再上传。",
                            name,
                            rownum,
                            letters[c],
                            f,
                        )
                    )
            # Values that say more than one thing.
            t = values.get("completed_on")
            if t is not None:
                values["completed_on"], values["completed_on_precision"] = t
            t = values.get("accepted_on")
            if t is not None:
                values["accepted_on"] = t[0]
            if values.get("status") == "exempt" and "exempt_reason" not in values:
                why = status_word_reason(raw[status_col])
                if why:
                    values["exempt_reason"] = why
            if route_col is not None and "device" not in values and "route" in values:
                word = raw[route_col]
                if type(word) is str:
                    device = route_devices.get(word, _MISSING)
                    if device is _MISSING:
                        device = ROUTE_DEVICES.get(normalise_word(word))
                        if len(route_devices) < 1000:
                            route_devices[word] = device
                    if device:
                        values["device"] = device
            idn = values.get("id_number")
            if idn is not None:
                problem = check_id_number(idn)
                if problem is not None:
                    issues.append(
                        Issue(
                            problem[0],
                            problem[1],
                            problem[3],
                            name,
                            rownum,
                            columns["id_number"],
                            "id_number",
                            mask_id(idn),
                        )
                    )
            # A cell already refused while cleaning is not also "blank" to the rules below.
            refused = {i.field for i in issues if i.severity == "error"} if issues else ()
            for severity, code, f, message in check(values):
                if code == "required" and f in refused:
                    continue
                issues.append(
                    Issue(
                        severity, code, message, name, rownum, columns.get(f), f, _shown(f, values)
                    )
                )
            if missing_issue is not None:
                issues.append(
                    Issue("error", missing_issue.code, missing_issue.message, name, rownum)
                )
            place = resolve(
                values.get("township"), values.get("village"), values.get("village_code")
            )
            for severity, code, f, message in place.problems:
                issues.append(
                    Issue(
                        severity, code, message, name, rownum, columns.get(f), f, _shown(f, values)
                    )
                )
            key, key_kind = household_key(
                household_no=values.get("household_no"),
                id_number=idn if idn is not None and len(idn) == 18 else None,
                head_name=values.get("head_name"),
                address=values.get("address"),
                salt=salt,
            )
            if key_kind == "name_address":
                issues.append(
                    Issue(
                        "warning",
                        "key_weak",
                        "没有户号和身份证号，只能按户主姓名+住址识别这一户；改名或改地址会被当作新的一户。"
                        "建议填写户号或身份证号。",
                        name,
                        rownum,
                    )
                )
            scope = place.village_id if place.village_id is not None else values.get("village")
            keys = seen.get(scope)
            if keys is None:
                keys = seen[scope] = {}
            first = keys.get(key)
            if first is not None:
                where = "本表" if first[0] == name else f"工作表“{first[0]}”"
                issues.append(
                    Issue(
                        "error",
                        "duplicate_household",
                        f"与{where}第 {first[1]} 行是同一户（户号、身份证号或户主姓名+住址相同）。"
                        "请删除重复的一行，或核对户号/身份证号。",
                        name,
                        rownum,
                    )
                )
            row = LedgerRow.build(
                name,
                rownum,
                values,
                columns,
                extra,
                place.village_id,
                place.township_code,
                key,
                key_kind,
                issues,
                shared=shared,
            )
            if first is None:
                keys[key] = (name, rownum)
            out.append(row)
            info.data_rows += 1
            if max_rows is not None and emitted + len(out) > max_rows:
                raise LedgerRejected(
                    f"文件“{self.file_name}”的数据行超过上限 {max_rows} 行（已读到工作表“{name}”"
                    f"第 {rownum} 行；标题、表头、空行和合计行不计）。"
                    "请按乡镇或村拆分成多个文件后分别上传。",
                    code="file_too_many_rows",
                )
        self.emitted = emitted


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


def _shown(field_name: str | None, values: dict[str, Any]) -> str | None:
    if field_name is None:
        return None
    v = values.get(field_name)
    if v is None:
        return None
    if isinstance(v, date):
        return v.isoformat()
    return masked(field_name, v)
