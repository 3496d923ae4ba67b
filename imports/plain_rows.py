"""The row steps' fast path: a block of rows at a time, column by column, for plain rows.

Most rows of a ledger are *plain*: every cell cleans, no rule fires, the
village is found, the household is new in the file.  ``imports.row_steps``
works a row at a time (a dict of values, a dozen calls); for plain rows the
same outcome can be had a column at a time, where the loops run in C
(``map``, ``zip``, set operations) and cleaners and rules run once per
*distinct* value (statuses, villages, dates and amounts repeat).  This is
the preview's hot path, guarded by ``benchmarks/import_ledgers.py
--preview-only`` (issue 17: preview ≤ 2 × a bare python-calamine read).

The fast path never makes a problem.  ``plain_block`` decides, conservatively,
which rows of a block can have none — it calls the very cleaners
(``imports.clean``), rules (``imports.validate.RowRules.check``) and resolver
(``imports.villages``) the row steps call, once per distinct value or
combination — and builds those rows; every other row (a refused cell, a rule
that fires, an exempt status, a 15-digit ID number, an unknown village, a
weak key, a formula without value…) goes through the row steps as before.
So every problem and message still comes from the row steps alone, and
``tests/test_plain_rows.py`` checks that both paths give the same rows.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import chain, compress, repeat
from operator import attrgetter, is_not, itemgetter
from typing import Any

from heating.households import id_hash
from heating.names import normalise_text
from imports import clean
from imports.fields import LEDGER_SCHEMA
from imports.issues import Problem
from imports.parsed import KEY_FROM_NO
from imports.row_steps import SheetPlan, route_device
from imports.validate import ID_CHECK, RowRules, check_id_number
from imports.villages import Resolution, VillageIndex

# Fields the cross-field rules read (``RowRules.check``); head_name only as present or not.
RULE_FIELDS = (
    "status",
    "route",
    "exempt_reason",
    "completed_on",
    "accepted_on",
    "residents",
    "plan_year",
    "device_subsidy",
    "operating_subsidy",
    "coal_subsidy",
    "heated_area_m2",
    "lon",
    "lat",
    "heat_source",
)
DATE_FIELDS = ("completed_on", "accepted_on")  # cleaned to (date, precision)
# Cell types that compare equal across types (1 == 1.0 == True): memoised under (type, value).
_CONFLATING = frozenset({int, bool})
_FULL_WIDTH = re.compile("[\uff01-\uff5e]")  # what clean.FULLWIDTH makes half-width
# Words that make a row a footer or subtotal when they begin or end its first cell.
_SKIP_WORDS = (*clean.FOOTER_PREFIXES, "合计", "小计", "总计")
KINDS = {f.name: f.kind for f in LEDGER_SCHEMA.fields}
PLACE_FIELDS = ("township", "village", "village_code")


@dataclass
class ColumnMemo:
    """One field's cleaned values by raw cell value, for a whole parse (values repeat a lot).

    A raw value the cleaner refuses (or whose text is too long) is kept in
    ``refused`` and cleans to None here: its row is not plain, and the row
    steps make its problem.
    """

    cleaner: Callable[[Any], Any]
    max_len: int | None
    values: dict[Any, Any] = field(default_factory=lambda: {"": None})
    refused: set[Any] = field(default_factory=set)

    def clean(self, col: list[Any], bad: set[int]) -> list[Any]:
        """The column cleaned (None for blank); rows whose cell is refused → ``bad``."""
        keys: list[Any] = col
        if not _CONFLATING.isdisjoint(set(map(type, col))):
            keys = list(zip(map(type, col), col, strict=True))  # 1, 1.0 and True apart
        new = set(keys).difference(self.values)
        if new:
            if len(self.values) + len(new) > clean.MEMO_SIZE:
                self.values = {"": None}
                self.refused.clear()
                new = set(keys)
            for key in new:
                self._learn(key, key[1] if keys is not col else key)
        if not self.refused.isdisjoint(keys):
            bad.update(i for i, k in enumerate(keys) if k in self.refused)
        try:
            return list(map(self.values.__getitem__, keys))
        except KeyError:  # a value unequal to itself (NaN): the row steps judge the block
            bad.update(range(len(keys)))
            return [None] * len(keys)

    def _learn(self, key: Any, raw: Any) -> None:
        value = None if raw == "" else self.cleaner(raw)
        if type(value) is Problem or (
            self.max_len is not None and value is not None and len(value) > self.max_len
        ):
            self.refused.add(key)
            value = None
        self.values[key] = value


def _plain_strings(col: list[Any], kind: str) -> bool:
    """True when ``clean``'s cleaner of ``kind`` returns every non-blank cell unchanged.

    Checked on the whole column joined, in C: only text cells, nothing
    ``clean.text`` trims or widens; codes and ID numbers without an exponent
    (``1.4E+17``) or a trailing ``.0``; ID numbers already upper-case.
    """
    if set(map(type, col)) != {str}:
        return False
    joined = "\x00".join(col)
    if not _plain_text(joined):
        return False
    if kind == "code":
        return "e" not in joined and "E" not in joined and ".0\x00" not in joined + "\x00"
    if kind == "id_number":
        return "E" not in joined and joined.upper() == joined
    return kind in ("text", "phone")


def _plain_text(joined: str) -> bool:
    """No character ``clean.text`` trims, collapses or widens (a fast search per character)."""
    if any(ch in joined for ch in clean.WHITESPACE):
        return False
    return joined.isascii() or not _FULL_WIDTH.search(joined)


def none_skipped(raws: list[list[Any]], plan: SheetPlan) -> bool:
    """True when ``skip_reason_of`` is None for every row of the block, found in C.

    So when no cell is a subtotal word, no cell of the header's probe column
    repeats a header, and every first cell is a number (序号) or a text that is
    neither blank nor a footer or subtotal; otherwise the caller asks row by row.
    """
    if not raws or not clean.SUBTOTAL_WORDS.isdisjoint(chain.from_iterable(raws)):
        return False
    header = plan.header
    try:
        probes = map(itemgetter(header.probe), raws)
        if header.fields and not header.texts.isdisjoint(probes):
            return False
        firsts = list(map(itemgetter(0), raws))
    except IndexError:  # a short row
        return False
    if not all(firsts):  # a blank first cell: the row may be blank
        return False
    kinds = set(map(type, firsts))
    if str not in kinds:
        return True
    if kinds != {str}:
        return False
    joined = "\x00".join(firsts)
    return _plain_text(joined) and not any(word in joined for word in _SKIP_WORDS)


def clean_distinct(
    col: list[Any], kind: str, cleaner: Callable[[Any], Any], max_len: int | None, bad: set[int]
) -> list[Any]:
    """A column of mostly distinct values (names, ID numbers) cleaned; refused rows → ``bad``."""
    if _plain_strings(col, kind):
        out = [v or None for v in col]
    else:
        out = [None if v == "" else cleaner(v) for v in col]
        if Problem in set(map(type, out)):
            refused = [i for i, v in enumerate(out) if type(v) is Problem]
            bad.update(refused)
            for i in refused:
                out[i] = None
    if max_len is not None:
        present = list(filter(None, out))
        if present and max(map(len, present)) > max_len:
            bad.update(i for i, v in enumerate(out) if v is not None and len(v) > max_len)
    return out


def texts(col: list[Any]) -> list[str | None]:
    """``clean.text`` of each cell (None for blank): an ignored column's text, as row steps keep it."""
    if _plain_strings(col, "text"):
        return [v or None for v in col]
    return [None if v == "" else clean.text(v) for v in col]


def packed(
    names: tuple[str, ...],
    cols: list[list[Any]],
    shared: dict[tuple[str, ...], tuple[str, ...]],
) -> tuple[list[tuple[str, ...]], list[tuple[Any, ...]]]:
    """Per row: the names of its present (non-None) values and those values, in ``names`` order.

    What ``LedgerRow.build`` makes of a values dict, for many rows at once:
    rows with the same blanks share one names tuple (through ``shared``).
    """
    n = len(cols[0]) if cols else 0
    blank = [i for i, col in enumerate(cols) if not any(map(is_not, col, repeat(None)))]
    if blank:  # columns blank throughout the block: as if the sheet had none
        names = tuple(f for i, f in enumerate(names) if i not in blank)
        cols = [col for i, col in enumerate(cols) if i not in blank]
    rows = list(zip(*cols, strict=True)) if cols else [()] * n
    partly = [i for i, col in enumerate(cols) if None in col]
    if not partly:
        every = shared.setdefault(names, names)
        return [every] * n, rows
    # Per row, which of the partly blank columns it fills (the others it always does).
    marks = list(zip(*(list(map(is_not, cols[i], repeat(None))) for i in partly), strict=True))
    selectors, by_mark = {}, {}
    for mark in set(marks):
        filled = dict(zip(partly, mark, strict=True))
        selector = tuple(filled.get(i, True) for i in range(len(names)))
        these = tuple(compress(names, selector))
        selectors[mark] = selector
        by_mark[mark] = shared.setdefault(these, these)
    return list(map(by_mark.__getitem__, marks)), list(
        map(tuple, map(compress, rows, map(selectors.__getitem__, marks)))
    )


def id_numbers_valid(ids: list[str | None]) -> list[bool]:
    """Per cleaned ID number: None, or one ``check_id_number`` finds nothing wrong with.

    The common column (18 ASCII digits, the last may be X) is checked in C:
    GB 11643's weights are 2^k mod 11 and 13 ≡ 2 (mod 11), so
    Σ wᵢ·dᵢ ≡ 2 · int(first 17 digits, base 13) (mod 11).
    """
    present = [s for s in ids if s is not None]
    if not present:
        return [True] * len(ids)
    heads = [s[:17] for s in present]
    digits = "".join(heads)
    lasts = "".join(s[17:] for s in present)
    if (
        set(map(len, present)) != {18}
        or not (digits.isascii() and digits.isdigit())
        or not (lasts.isascii() and lasts.replace("X", "0").isdigit())
    ):
        return [s is None or check_id_number(s) is None for s in ids]
    good = iter(
        [
            ID_CHECK[2 * n % 11] == last
            for n, last in zip(map(int, heads, repeat(13)), lasts, strict=True)
        ]
    )
    return [True if s is None else next(good) for s in ids]


@dataclass
class PlainBlock:
    """Per household row of a block: its LedgerRow as a tuple, or None for the row steps.

    ``pairs`` is each plain row's (scope, key) for ``imports.row_steps.Duplicates``.
    """

    rows: list[tuple[Any, ...] | None]  # ``tuple(LedgerRow)``: ``LedgerRow(row)`` rebuilds it
    pairs: list[tuple[Any, str] | None]

    @classmethod
    def none(cls, n: int) -> PlainBlock:
        return cls([None] * n, [None] * n)


class PlainRows:
    """The fast path for one parse: memos by field and rule outcomes, kept across blocks."""

    def __init__(self, index: VillageIndex, salt: str, rules: RowRules) -> None:
        self.index = index
        self.salt = salt
        self.rules = rules
        self.memos: dict[str, ColumnMemo] = {}
        self.rule_ok: dict[tuple[Any, ...], bool] = {}

    def block(
        self,
        raws: list[list[Any]],
        rownums: list[int],
        plan: SheetPlan,
        shared: dict[tuple[str, ...], tuple[str, ...]],
    ) -> PlainBlock:
        """The rows (as tuples) of the plain rows among ``raws`` (household rows: none skipped).

        ``rownums`` are the rows as Excel shows them.  A row that is not
        provably plain gets None: the caller runs the row steps on it.
        """
        n = len(raws)
        if plan.missing or not n:
            return PlainBlock.none(n)
        bad: set[int] = set()
        if plan.gaps:
            bad.update(i for i, r in enumerate(rownums) if r - 1 in plan.gaps)
        got = self.cleaned(raws, plan, bad)
        self.judge(got, n, bad)
        places = self.places(got, n, bad)
        keys, kinds, real_keys = self.keys(got, n, bad)
        if len(bad) == n:
            return PlainBlock.none(n)
        names, values = packed(*self.unfolded(got, raws, plan), shared)
        labels, extra = self.extras(raws, plan, shared)
        village_ids = list(map(attrgetter("village_id"), places))
        # LedgerRow's fields as a plain tuple: what crosses to the parent (ROW_FIELDS).
        rows: list[Any] = list(
            zip(
                repeat(plan.name),
                rownums,
                names,
                values,
                repeat(plan.columns),
                labels,
                extra,
                village_ids,
                map(attrgetter("township_code"), places),
                keys,
                kinds,
                repeat(()),
            )
        )
        village_names = got.get("village") or [None] * n
        scopes = [
            v if v is not None else name for v, name in zip(village_ids, village_names, strict=True)
        ]
        pairs: list[Any] = list(zip(scopes, real_keys, strict=True))
        for i in bad:
            rows[i] = pairs[i] = None
        return PlainBlock(rows, pairs)

    # ------------------------------------------------------------------
    def cleaned(
        self, raws: list[list[Any]], plan: SheetPlan, bad: set[int]
    ) -> dict[str, list[Any]]:
        """Field → its column cleaned, in column order (``clean_cells``, a column at a time)."""
        got = {}
        for c, f, cleaner, max_len in plan.cells:
            col = list(map(itemgetter(c), raws))
            if f in clean.DISTINCT:
                got[f] = clean_distinct(col, KINDS[f], cleaner, max_len, bad)
            else:
                memo = self.memos.get(f)
                if memo is None:
                    memo = self.memos[f] = ColumnMemo(cleaner, max_len)
                got[f] = memo.clean(col, bad)
        return got

    def judge(self, got: dict[str, list[Any]], n: int, bad: set[int]) -> None:
        """Rows an ID-number check or a cross-field rule would speak of → ``bad``.

        ``RowRules.check`` runs once per distinct combination of the fields it
        reads (head_name only as present or not); an exempt or blank status
        is never plain (its reason may unfold from the status word).
        """
        if "id_number" in got:
            bad.update(i for i, ok in enumerate(id_numbers_valid(got["id_number"])) if not ok)
        fields = [f for f in RULE_FIELDS if f in got]
        heads = got.get("head_name") or [None] * n
        columns = [list(map(is_not, heads, repeat(None)))]
        for f in fields:
            col = got[f]
            columns.append([t if t is None else t[0] for t in col] if f in DATE_FIELDS else col)
        combos = list(zip(*columns, strict=True))
        for combo in set(combos).difference(self.rule_ok):
            values = {f: v for f, v in zip(fields, combo[1:], strict=True) if v is not None}
            if combo[0]:
                values["head_name"] = "?"  # only its presence is read
            status = values.get("status")
            self.rule_ok[combo] = status not in (None, "exempt") and not self.rules.check(values)
        if not all(map(self.rule_ok.__getitem__, combos)):
            bad.update(i for i, combo in enumerate(combos) if not self.rule_ok[combo])

    def places(self, got: dict[str, list[Any]], n: int, bad: set[int]) -> list[Resolution]:
        """Each row's village (``VillageIndex.resolve``, once per distinct place)."""
        triples = list(zip(*(got.get(f) or [None] * n for f in PLACE_FIELDS), strict=True))
        found = {t: self.index.resolve(*t) for t in set(triples)}
        places = list(map(found.__getitem__, triples))
        if any(p.problems for p in found.values()):
            bad.update(i for i, p in enumerate(places) if p.problems)
        return places

    def keys(
        self, got: dict[str, list[Any]], n: int, bad: set[int]
    ) -> tuple[list[str | None], list[str], list[str]]:
        """Each row's household key as ``LedgerRow`` keeps it, its kind, and the key itself.

        A 户号 that ``normalise_text`` leaves alone is the key ``"no:" + 户号``
        (kept as ``KEY_FROM_NO``); without one, the salted ID hash; a row with
        neither (``key_weak``) or with a 户号 that normalises differently is
        not plain.
        """
        numbers = got.get("household_no") or [None] * n
        present = list(filter(None, numbers))
        joined = "".join(present)
        if present and not (joined.isascii() and joined.isprintable() and " " not in joined):
            bad.update(i for i, no in enumerate(numbers) if no and normalise_text(no) != no)
        if None not in numbers:  # every row has its 户号 (the usual ledger)
            return [KEY_FROM_NO] * n, ["household_no"] * n, ["no:" + no for no in numbers]
        ids = got.get("id_number") or [None] * n
        kept: list[str | None] = []
        kinds: list[str] = []
        real: list[str] = []
        for i, (no, idn) in enumerate(zip(numbers, ids, strict=True)):
            if no:
                key, kind, keep = "no:" + no, "household_no", KEY_FROM_NO
            elif idn is not None and len(idn) == 18:
                key = keep = "id:" + id_hash(idn, self.salt)
                kind = "id_hash"
            else:
                bad.add(i)
                key, kind, keep = "", "name_address", None
            kept.append(keep)
            kinds.append(kind)
            real.append(key)
        return kept, kinds, real

    @staticmethod
    def unfolded(
        got: dict[str, list[Any]], raws: list[list[Any]], plan: SheetPlan
    ) -> tuple[tuple[str, ...], list[list[Any]]]:
        """``unfold_values`` a column at a time: dates with their precision, a route's device.

        The names in the order a row's values dict gets them: its columns,
        then ``completed_on_precision``, then a device the route word names.
        """
        names = list(got)
        cols = [
            [t if t is None else t[0] for t in col] if f in DATE_FIELDS else col
            for f, col in got.items()
        ]
        if "completed_on" in got:
            names.append("completed_on_precision")
            cols.append([t if t is None else t[1] for t in got["completed_on"]])
        if plan.route_column is not None and "route" in got:
            words = list(map(itemgetter(plan.route_column), raws))
            devices = {w: route_device(w, plan.route_devices) for w in set(words)}
            if any(devices.values()):
                have = got.get("device") or [None] * len(raws)
                names.append("device")
                cols.append(
                    [
                        devices[w] if d is None and r is not None else None
                        for w, d, r in zip(words, have, got["route"], strict=True)
                    ]
                )
        return tuple(names), cols

    @staticmethod
    def extras(
        raws: list[list[Any]], plan: SheetPlan, shared: dict[tuple[str, ...], tuple[str, ...]]
    ) -> tuple[Iterable[tuple[str, ...]], Iterable[Any]]:
        """The ignored columns' text per row, as ``LedgerRow`` keeps it (labels, text or texts)."""
        if not plan.extras:
            return repeat(()), repeat(None)
        labels = tuple(label for _c, label in plan.extras)
        cols = [texts(list(map(itemgetter(c), raws))) for c, _label in plan.extras]
        names, data = packed(labels, cols, shared)
        # One ignored column (typically 序号): the text itself, no tuple; all blank: None.
        return names, [d[0] if len(d) == 1 else (d or None) for d in data]
