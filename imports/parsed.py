"""What reading a ledger gives, before anything is written: ``ParsedLedger`` and its rows.

``imports.pipeline`` builds these (in the limited child process of
``imports.isolation``); the diff and commit steps (``imports.diff``,
``imports.batches``) and the pages read them.  A row is rejected iff one of
its problems is an error.  ``masked``/``shown`` are the one place a cell's
value is made safe to show in a problem.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from operator import itemgetter
from typing import Any

from heating.privacy import PERSONAL_FIELDS, mask_field
from imports.issues import Problem, household_label


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


_NO_ISSUES: tuple[Problem, ...] = ()
KEY_FROM_NO = "\x00no"  # LedgerRow._key when the key is "no:" + the row's 户号 (never a key)


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
    issues: list[Problem] | tuple[Problem, ...] = property(  # type: ignore[assignment]
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
        issues: list[Problem] | tuple[Problem, ...],
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
            key = KEY_FROM_NO
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
        if key == KEY_FROM_NO:
            return "no:" + self[3][self[2].index("household_no")]
        return key

    def items(self) -> Iterator[tuple[str, Any]]:
        """(field, cleaned value) pairs, like ``values.items()`` without building the dict."""
        return zip(self[2], self[3], strict=True)

    def get(self, name: str) -> Any:
        """One cleaned value (None when blank) without building ``values``."""
        names = self[2]
        return self[3][names.index(name)] if name in names else None

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
    issues: list[Problem]
    kind: str = ""
    township_code: str | None = None
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    # Per sheet with a header (workbook order): its rows above the header as text,
    # where clerks write the title and "数据截至…" (imports.ledger_date reads them).
    titles: list[tuple[str, list[str]]] = field(default_factory=list)
    omitted: dict[str, int] = field(default_factory=dict)
    summaries: list[Problem] = field(default_factory=list)
    max_listed: int | None = None  # row issues listed at most (``import_max_issues``)

    def __getstate__(self) -> dict[str, Any]:
        # The rows as plain tuples: pickled and restored at C speed (see LedgerRow).
        state = dict(self.__dict__)
        state["rows"] = list(map(tuple, self.rows))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["rows"] = list(map(LedgerRow, state["rows"]))
        self.__dict__.update(state)

    def all_issues(self) -> Iterator[Problem]:
        yield from self.issues
        for row in self.rows:
            yield from row.issues

    def listed_issues(self) -> list[Problem]:
        """File-level issues, then row issues up to ``max_listed``, then a note of the rest."""
        out = list(self.issues)
        limit = self.max_listed
        listed = 0
        for row in self.rows:
            if not row.issues:
                continue
            if limit is not None and listed + len(row.issues) > limit:
                break
            household = household_label(row.values)
            out.extend(replace(p, household=household) for p in row.issues)
            listed += len(row.issues)
        total = sum(len(r.issues) for r in self.rows)
        if total > listed:
            out.append(
                Problem(
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


def shown(field_name: str | None, values: dict[str, Any]) -> str | None:
    """A row's cleaned value of ``field_name`` as a problem shows it (dates ISO, masked)."""
    if field_name is None:
        return None
    v = values.get(field_name)
    if v is None:
        return None
    if isinstance(v, date):
        return v.isoformat()
    return masked(field_name, v)


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a ledger's rows are built or received.

    A parse makes millions of small objects (cells, tuples) and no reference
    cycles, and each collection walks them all again: pausing it cut
    receiving 100k rows from 1.1 s of CPU to 0.16 s and the parse by a
    third (``benchmarks/import_ledgers.py --preview-only``).  The collector is
    process-wide: it is switched back on only by whoever switched it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
