"""A season of electricity use for the 疑似改而不用 cases (conftest's ``usage_district``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import openpyxl

MONTHS = ["2021-11", "2021-12", "2022-01", "2022-02", "2022-03"]
LEDGER_DAY = date(2021, 10, 31)


def usage_file(path: Path, uses: dict[str, float], months=MONTHS) -> str:
    """Monthly electricity: each account's season use spread evenly over the months."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["户号", "月份", "用电量（kWh）"])
    for account, total in uses.items():
        for month in months:
            ws.append([account, month, total / len(months)])
    wb.save(path)
    return str(path)
