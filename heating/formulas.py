"""User text written to spreadsheets and CSV files: shown as text, never run as a formula.

Village and township names, notes and file names come from users.  A leading
``= + - @ TAB CR LF`` would make Excel or LibreOffice evaluate the text (OWASP
CSV injection), so such text gets a leading apostrophe.  The report workbook,
the ledger template and the zones export all write text through here;
``put_verbatim`` writes a clerk's own cells back unchanged as string cells.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # openpyxl (and numpy with it) costs ≈ 0.4 s to import: not for every command
    from openpyxl.cell.cell import Cell

# openpyxl.cell.cell.ILLEGAL_CHARACTERS_RE (control characters XML 1.0 cannot hold), kept here
# so that neutralising a name does not import openpyxl (tests/test_formulas.py compares them).
ILLEGAL_CHARACTERS_RE = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")

FORMULA_LEADERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def formula_safe(text: str) -> str:
    """Prefix an apostrophe when a spreadsheet would read ``text`` as a formula."""
    return "'" + text if text.startswith(FORMULA_LEADERS) else text


def neutralise(text: str) -> str:
    """Text that no spreadsheet will read as a formula; illegal XML characters dropped."""
    return formula_safe(ILLEGAL_CHARACTERS_RE.sub("", text))


def put_text(cell: Cell, text: str) -> None:
    """Write user-originated text as a string cell, never a formula."""
    cell.value = neutralise(text)
    cell.data_type = "s"


def put_verbatim(cell: Cell, text: str) -> None:
    """Write a user's cell text back unchanged, as a string cell (never evaluated).

    For sheets that hand a clerk's own cells back to fix and upload again
    (``imports.issue_list``): a leading apostrophe would change "-" or
    "+86…" on the way back.  A string cell is not a formula in Excel, WPS or
    LibreOffice whatever it starts with; only illegal XML characters are dropped.
    """
    cell.value = ILLEGAL_CHARACTERS_RE.sub("", text)
    cell.data_type = "s"
