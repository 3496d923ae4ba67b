"""The steps one ledger row goes through, each a small function that returns problems.

``imports.pipeline`` runs them in this order for every data row of a sheet:

1. ``skip_reason_of`` — blank, subtotal, footer or a repeated header: not a household;
2. ``clean_cells`` — every ledger cell through its field's cleaner (``imports.clean``);
3. ``extra_cells`` — the text of the columns that are not ledger fields (kept, not imported);
4. ``formula_problems`` — formula cells saved without a value;
5. ``unfold_values`` — values that say more than one thing (a date's precision, a
   status word that is also the exempt reason, a route word that names the device);
6. ``id_problems`` and ``rule_problems`` — ``imports.validate``'s rules;
7. ``missing_column_problems`` — the sheet lacks a required column;
8. the place (``imports.villages.VillageIndex.resolve``, problems inside);
9. ``key_problems`` — the household key (``heating.households.household_key``);
10. ``Duplicates.problems`` — the same household earlier in the file.

Every step returns ``imports.issues.Problem``s without a place, naming their
field (``clean_cells`` also the masked value); the pipeline places them on
the row.  A row without problems allocates none: the steps return the shared
empty tuple.  The whole loop is guarded by ``benchmarks/import_ledgers.py``
(the preview's CPU time in the child): the fast paths below say so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from heating.households import household_key
from imports.clean import skip_reason
from imports.fields import LEDGER_LABELS, LEDGER_SCHEMA, ROUTE_DEVICES, normalise_word
from imports.header import HeaderMatch
from imports.issues import Problem, column_letter
from imports.parsed import masked
from imports.readers import RawSheet
from imports.validate import RowRules, check_id_number, status_word_reason

NONE: tuple[Problem, ...] = ()  # the problems of a row step that found none (shared)
_MISSING = object()
# Route words remembered per sheet (a route cell as written → the device it names).
ROUTE_MEMO_SIZE = 1000


@dataclass(slots=True)
class SheetPlan:
    """What the row steps need of one sheet's header, worked out once per sheet."""

    name: str
    header: HeaderMatch
    columns: dict[str, str]  # field → column letter (shared by every row of the sheet)
    # (column index, field, cleaner, longest text) for every ledger column, in order
    cells: list[tuple[int, str, Callable[[Any], Any], int | None]]
    extras: list[tuple[int, str]]  # column index → header of a column that is not a field
    status_column: int | None
    route_column: int | None
    gaps: dict[int, list[int]]  # row index → columns with a formula but no saved value
    missing: str  # the required columns this sheet lacks, as the message lists them
    route_devices: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        sheet: RawSheet,
        header: HeaderMatch,
        cleaners: dict[str, Callable[[Any], Any]],
        missing: list[str],
    ) -> SheetPlan:
        gaps: dict[int, list[int]] = {}
        for r, c in sheet.formulas_without_value:
            if c in header.fields:
                gaps.setdefault(r, []).append(c)
        by_field = {f: c for c, f in header.fields.items()}
        return cls(
            name=sheet.name,
            header=header,
            columns={f: column_letter(c) for c, f in header.fields.items()},
            cells=[
                (c, f, cleaners[f], LEDGER_SCHEMA.by_name[f].max_length)
                for c, f in sorted(header.fields.items())
            ],
            extras=sorted(header.ignored.items()),
            status_column=by_field.get("status"),
            route_column=by_field.get("route"),
            gaps=gaps,
            missing="、".join(missing),
        )


def skip_reason_of(raw: list[Any], plan: SheetPlan) -> str | None:
    """Why a row is not a household ("blank", "subtotal", "footer", "repeated_header"), or None."""
    reason = skip_reason(raw)
    if reason is None and plan.header.repeats(raw):
        return "repeated_header"
    return reason


def clean_cells(
    raw: list[Any], plan: SheetPlan
) -> tuple[dict[str, Any], list[Problem] | tuple[Problem, ...]]:
    """Each ledger cell cleaned (blank cells absent); refused cells and over-long text as problems.

    The hottest loop of an import (a cell at a time): locals only, no call
    but the cleaner's, one ``type(…) is Problem`` per cell —
    ``benchmarks/import_ledgers.py`` guards it.
    """
    values: dict[str, Any] = {}
    problems: list[Problem] | tuple[Problem, ...] = NONE
    for c, f, cleaner, max_len in plan.cells:
        v = raw[c]
        if v == "":
            continue
        value = cleaner(v)
        if value is None:
            continue
        if type(value) is Problem:
            refused = Problem(
                value.severity, value.code, value.message, field=f, value=masked(f, v)
            )
        elif max_len is not None and len(value) > max_len:
            refused = Problem(
                "error",
                "text_too_long",
                f"内容过长（{len(value)} 字，最多 {max_len} 字），请精简。",
                field=f,
                value=masked(f, value),
            )
        else:
            values[f] = value
            continue
        if problems is NONE:
            problems = []
        problems.append(refused)  # type: ignore[union-attr]
    return values, problems


def extra_cells(
    raw: list[Any], plan: SheetPlan, text: Callable[[Any], str | None]
) -> dict[str, str]:
    """Header → the cell's text for the columns that are not ledger fields (empty cells absent)."""
    extra = {}
    for c, label in plan.extras:
        v = raw[c]
        if v != "":
            t = text(v)
            if t is not None:
                extra[label] = t
    return extra


def formula_problems(r: int, plan: SheetPlan) -> list[Problem]:
    """Formula cells of row ``r`` (0-based) saved without their computed value."""
    return [
        Problem(
            "error",
            "formula_no_value",
            "公式单元格没有保存计算结果。请在 Excel 中打开文件、重新计算并保存，"
            "或把公式替换为数值后再上传。",
            field=plan.header.fields[c],
        )
        for c in plan.gaps.get(r, ())
    ]


def unfold_values(values: dict[str, Any], raw: list[Any], plan: SheetPlan) -> None:
    """Values that say more than one thing, unfolded in place.

    A completion date carries its precision (day or month); 空置/拆迁 as the
    status also say the exempt reason; a route word such as 空气源热泵 names
    the device too.
    """
    t = values.get("completed_on")
    if t is not None:
        values["completed_on"], values["completed_on_precision"] = t
    t = values.get("accepted_on")
    if t is not None:
        values["accepted_on"] = t[0]
    if values.get("status") == "exempt" and "exempt_reason" not in values:
        why = status_word_reason(raw[plan.status_column])
        if why:
            values["exempt_reason"] = why
    if plan.route_column is not None and "device" not in values and "route" in values:
        device = route_device(raw[plan.route_column], plan.route_devices)
        if device:
            values["device"] = device


def route_device(word: Any, memo: dict[str, str | None]) -> str | None:
    if type(word) is not str:
        return None
    device = memo.get(word, _MISSING)
    if device is _MISSING:
        device = ROUTE_DEVICES.get(normalise_word(word))
        if len(memo) < ROUTE_MEMO_SIZE:
            memo[word] = device
    return device  # type: ignore[return-value]


def id_problems(values: dict[str, Any]) -> tuple[Problem, ...]:
    """The ID number's length, characters and check digit (``imports.validate``)."""
    idn = values.get("id_number")
    if idn is None:
        return NONE
    problem = check_id_number(idn)
    return NONE if problem is None else (problem,)


def rule_problems(
    values: dict[str, Any], rules: RowRules, earlier: list[Problem] | tuple[Problem, ...]
) -> list[Problem]:
    """The cross-field rules, except "required" for a cell an earlier step already refused."""
    found = rules.check(values)
    if not earlier or not found:
        return found
    refused = {p.field for p in earlier if p.severity == "error"}
    return [p for p in found if not (p.code == "required" and p.field in refused)]


def missing_column_problems(plan: SheetPlan) -> tuple[Problem, ...]:
    """Every row of a sheet without a required column is refused, saying which."""
    if not plan.missing:
        return NONE
    return (Problem("error", "column_missing", f"缺少必需的列：{plan.missing}，本行无法导入。"),)


def key_problems(values: dict[str, Any], salt: str) -> tuple[str, str, tuple[Problem, ...]]:
    """The household key and its kind; a warning when only name + address identify it."""
    idn = values.get("id_number")
    key, kind = household_key(
        household_no=values.get("household_no"),
        id_number=idn if idn is not None and len(idn) == 18 else None,
        head_name=values.get("head_name"),
        address=values.get("address"),
        salt=salt,
    )
    if kind != "name_address":
        return key, kind, NONE
    return (
        key,
        kind,
        (
            Problem(
                "warning",
                "key_weak",
                "没有户号和身份证号，只能按户主姓名+住址识别这一户；改名或改地址会被当作新的一户。"
                "建议填写户号或身份证号。",
            ),
        ),
    )


# Which column makes two rows the same household, by the key's kind (``household_key``).
KEY_FIELDS = {
    "household_no": ("household_no",),
    "id_hash": ("id_number",),
    "name_address": ("head_name", "address"),
}


class Duplicates:
    """Households seen so far in the file: per scope (village, or unresolved village name),
    each key → where it was first seen.

    The parsing child holds this for the whole file while the parent holds
    the rows it already received (the end of a 1M-row parse is the import's
    peak memory).  One dict per scope and the place packed in one int
    (``row << 24 | sheet``) cost ≈ 140 bytes a household; the earlier
    ``(scope, key) → (sheet, row)`` map cost ≈ 250 (two tuples more each).
    """

    def __init__(self) -> None:
        self._scopes: dict[Any, dict[str, int]] = {}
        self._sheets: list[str] = []  # by the index packed in a place
        self._sheet_ids: dict[str, int] = {}

    def _place(self, sheet: str) -> int:
        found = self._sheet_ids.get(sheet)
        if found is None:
            found = self._sheet_ids[sheet] = len(self._sheets)
            self._sheets.append(sheet)
        return found

    def first_seen(self, scope: Any, key: str) -> tuple[str, int] | None:
        """(sheet, row) where the household was first seen, or None."""
        place = self._scopes.get(scope, {}).get(key)
        if place is None:
            return None
        return self._sheets[place & 0xFFFFFF], place >> 24

    def problems(
        self,
        scope: Any,
        key: str,
        sheet: str,
        row: int,
        kind: str = "household_no",
        columns: dict[str, str] | None = None,
    ) -> tuple[Problem, ...]:
        """Nothing the first time a household is seen; an error naming where it was before.

        The error names the key's field and column (户号, 身份证号, or 户主姓名 and
        住址), so the clerk sees which cell makes the two rows one household.
        """
        keys = self._scopes.get(scope)
        if keys is None:
            keys = self._scopes[scope] = {}
        here = row << 24 | self._place(sheet)
        place = keys.setdefault(key, here)
        if place == here:
            return NONE
        first = (self._sheets[place & 0xFFFFFF], place >> 24)
        where = "本表" if first[0] == sheet else f"工作表“{first[0]}”"
        fields = KEY_FIELDS.get(kind, ("household_no",))
        columns = columns or {}
        named = "和".join(
            f"{LEDGER_LABELS[f]}（{columns[f]} 列）" if f in columns else LEDGER_LABELS[f]
            for f in fields
        )
        fix = {
            "household_no": "核对户号",
            "id_hash": "核对身份证号",
            "name_address": "填写户号或身份证号区分两户",
        }.get(kind, "核对户号")
        return (
            Problem(
                "error",
                "duplicate_household",
                f"{named}与{where}第 {first[1]} 行相同，是同一户。请删除重复的一行，或{fix}。",
                field=fields[0],
            ),
        )

    def take(self, pairs: list[tuple[Any, str]], sheet: str, rows: list[int]) -> bool:
        """Record many first sightings at once (``imports.plain_rows``).

        False, recording nothing, when one of them was seen before or repeats
        among them: the caller then goes row by row (``problems``).
        """
        scopes = self._scopes
        sheet_id = self._place(sheet)
        for i, ((scope, key), row) in enumerate(zip(pairs, rows, strict=True)):
            keys = scopes.get(scope)
            if keys is None:
                keys = scopes[scope] = {}
            elif key in keys:  # seen before, or earlier in this call: undo this call
                for scope, key in pairs[:i]:
                    del scopes[scope][key]
                return False
            keys[key] = row << 24 | sheet_id
        return True
