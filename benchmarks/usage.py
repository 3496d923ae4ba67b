"""Benchmark: utility usage import against a bare python-calamine read of the same file.

Writes a utility's monthly electricity export (accounts × 5 months, 户号 /
户名 / 月份 / 用电量, a title row) as .xlsx, then times:

- ``bare read``: python-calamine opening the file and turning the sheet into
  Python rows (``to_python``) — the least any import must do;
- ``preview``: ``imports.usage_batches.preview_usage`` (read and clean in the
  limited child, overlap and reading checks against what is stored, the
  account match, the batch record and the stored file);
- ``commit``: ``commit_usage`` of that preview (every amount written);
- ``re-import``: preview of the same file again (every row unchanged).

Before timing, a 15-row file is previewed once, as a running server has
done since it started (the fork server of ``imports.isolation`` started).

Goal (issue 13): usage import of 1,000,000 monthly rows (200,000 accounts ×
5 months) ≤ 3 × the bare read.  The database holds no households with these
accounts (every account is unmatched): the match is one dictionary look-up
per account either way.

Usage::

    python benchmarks/usage.py                      # 20,000 accounts (100,000 rows)
    python benchmarks/usage.py --accounts 200000    # the 1M-row goal
"""

from __future__ import annotations

import argparse
import io
import tempfile
import time
from datetime import date
from pathlib import Path

MONTHS = ("2021-11", "2021-12", "2022-01", "2022-02", "2022-03")


def write_file(accounts: int) -> bytes:
    """The utility's export: a title row, a header, one row per account and month."""
    buf = io.BytesIO()
    try:
        import xlsxwriter

        wb = xlsxwriter.Workbook(buf, {"in_memory": True})
        ws = wb.add_worksheet("用电明细")
        ws.write_row(0, 0, ["居民用电量明细"])
        ws.write_row(1, 0, ["户号", "户名", "月份", "用电量（kWh）"])
        r = 2
        for a in range(accounts):
            for m in MONTHS:
                ws.write_row(r, 0, [f"{a:010d}", "用户", m, 100 + a % 900])
                r += 1
        wb.close()
    except ImportError:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet("用电明细")
        ws.append(["居民用电量明细"])
        ws.append(["户号", "户名", "月份", "用电量（kWh）"])
        for a in range(accounts):
            for m in MONTHS:
                ws.append([f"{a:010d}", "用户", m, 100 + a % 900])
        wb.save(buf)
    return buf.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20_000)
    parser.add_argument("--db", help="database URL (default: SQLite in a temporary directory)")
    args = parser.parse_args()

    from python_calamine import CalamineWorkbook

    from heating.config import load_config
    from heating.db import make_engine, upgrade
    from heating.runtime import open_runtime
    from heating.sealing import Keyring
    from imports.usage_batches import commit_usage, preview_usage

    data = write_file(args.accounts)
    rows = args.accounts * len(MONTHS)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.db or f"sqlite:///{Path(tmp) / 'bench.db'}"
        upgrade(make_engine(url))
        key = Path(tmp) / "heating.key"
        Keyring.create(key)  # stored files are encrypted at rest: a key of the run's own
        runtime = open_runtime(database_url=url, encryption_key_file=str(key))
        config = load_config({"database_url": url, "encryption_key_file": str(key)}, environ={})
        today = date(2026, 1, 1)

        # Warm up as a running server is: the fork server started, statements compiled.
        with runtime.session() as session:
            preview_usage(
                session,
                write_file(3),
                "热身.xlsx",
                "electric",
                config=config,
                today=today,
                user_id=None,
            )
            session.rollback()

        start = time.perf_counter()
        sheet = CalamineWorkbook.from_object(io.BytesIO(data)).get_sheet_by_index(0).to_python()
        bare = time.perf_counter() - start
        assert len(sheet) == rows + 2

        start = time.perf_counter()
        with runtime.session() as session:
            batch, parsed = preview_usage(
                session, data, "用电.xlsx", "electric", config=config, today=today, user_id=None
            )
            batch_id = batch.id
        preview = time.perf_counter() - start
        assert parsed.counts()["new"] == rows, parsed.counts()

        start = time.perf_counter()
        with runtime.session() as session:
            commit_usage(session, batch_id, parsed, accept_valid=False, user_id=None)
        commit = time.perf_counter() - start

        start = time.perf_counter()
        with runtime.session() as session:
            _, again = preview_usage(
                session, data, "用电.xlsx", "electric", config=config, today=today, user_id=None
            )
        reimport = time.perf_counter() - start
        assert again.counts()["unchanged"] == rows

    print(f"usage import, {args.accounts:,} accounts × {len(MONTHS)} months = {rows:,} rows")
    print(f"  file           {len(data) / 1e6:8.1f} MB")
    print(f"  bare read      {bare:8.2f} s")
    print(f"  preview        {preview:8.2f} s   ({preview / bare:.2f} × bare read; goal ≤ 3 ×)")
    print(f"  commit         {commit:8.2f} s")
    print(f"  re-import      {reimport:8.2f} s   (all unchanged)")


if __name__ == "__main__":
    main()
