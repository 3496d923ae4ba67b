"""``heating import`` loads what a ledger import needs and no more (≈ 0.4 s of CPU per command).

Alembic (migrations), openpyxl and numpy (writing workbooks) and geopandas
(maps) are imported by the commands that use them, not by ``heating.db``,
``heating.formulas`` or the import command's modules.
"""

from __future__ import annotations

import subprocess
import sys

from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE as OPENPYXL_ILLEGAL

from heating.formulas import ILLEGAL_CHARACTERS_RE, neutralise

HEAVY = ("alembic", "openpyxl", "numpy", "geopandas", "matplotlib")


def test_the_import_command_loads_no_migration_or_workbook_library() -> None:
    code = (
        "import sys, heating.cli, heating.cli.imports, imports.commit, imports.batches;"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_formulas_drop_the_characters_openpyxl_refuses() -> None:
    assert ILLEGAL_CHARACTERS_RE.pattern == OPENPYXL_ILLEGAL.pattern
    assert ILLEGAL_CHARACTERS_RE.flags == OPENPYXL_ILLEGAL.flags
    text = "".join(map(chr, range(0x20))) + "=SUM(A1)"
    assert neutralise("=SUM(A1)\x07") == "'=SUM(A1)"
    assert OPENPYXL_ILLEGAL.sub("", text) == ILLEGAL_CHARACTERS_RE.sub("", text)
