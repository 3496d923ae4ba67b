"""User text written to spreadsheets and CSV files: shown as text, never run as a formula.

Village and township names, notes and file names come from users.  A leading
``= + - @ TAB CR LF`` would make Excel or LibreOffice evaluate the text (OWASP
CSV injection), so such text gets a leading apostrophe.  The report workbook,
the ledger template and the zones export all write text through here.
"""

from __future__ import annotations

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE, Cell

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
