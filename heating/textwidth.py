"""How wide a text shows: CJK and other wide characters take two columns.

Shared by the terminal tables of the CLI and the column widths of the report
workbook; kept free of openpyxl so CLI commands do not load it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache


@lru_cache(maxsize=65536)
def display_width(text: str) -> int:
    """Columns ``text`` needs; cached because large sheets repeat the same names."""
    if text.isascii():  # numbers, codes, dates: most cells of a large sheet
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
