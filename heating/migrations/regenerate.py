"""Development only: regenerate the single initial migration from the models.

Until the first release there is one migration, ``0001``; after a change to
``heating/models.py`` run ``python -m heating.migrations.regenerate``.  Once a
release has shipped, write a new revision instead (``alembic revision
--autogenerate``), never rewrite ``0001``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config


def main() -> None:
    versions = Path(__file__).parent / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent))
        cfg.set_main_option("sqlalchemy.url", f"sqlite:///{tmp}/empty.db")
        command.revision(cfg, message="initial schema", autogenerate=True, rev_id="0001")
    for new in versions.glob("0001_*.py"):
        text = new.read_text(encoding="utf-8").replace("Revises: \n", "Revises:\n")
        new.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
