"""The test run's database side: its encryption key file, rows per table."""

from __future__ import annotations

import tempfile
from pathlib import Path

from sqlalchemy import func, select

from heating.models import Base
from heating.runtime import Runtime

# The run's encryption key file, outside the repository; tests/conftest.py creates
# the key there and points HEATING_ENCRYPTION_KEY_FILE at it.
KEY_FILE = Path(tempfile.mkdtemp(prefix="heating-test-key-")) / "heating.key"


def row_counts(runtime: Runtime) -> dict[str, int]:
    """Rows per table: compare before and after a refused request to prove nothing was stored.

    Not ``kept_figures``: reading a page fills it (figures computed once for every app
    process, ``heating.shared_figures``), as it fills each process's memory.
    """
    with runtime.session() as session:
        return {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name != "kept_figures"
        }
