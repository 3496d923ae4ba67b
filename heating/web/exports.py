"""Sending a page's table as an Excel download (see ``heating.table_export``)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from flask import Response, request, send_file

from heating import clock
from heating.models import utcnow
from heating.report.workbook import Column
from heating.table_export import XLSX, table_xlsx
from heating.web.db import app_config


def wants_xlsx() -> bool:
    """The page was asked for as a download (``?export=xlsx``), not as HTML."""
    return request.args.get("export") == "xlsx"


def xlsx_download(
    title: str,
    columns: Sequence[Column],
    rows: Sequence[Sequence[Any]],
    *,
    file_stem: str,
    subtitle: str = "",
    notes: Sequence[str] = (),
) -> Response:
    """The table as ``<file_stem>（导出时间）.xlsx``; the subtitle says when it was taken."""
    stamp = clock.shown_with_offset(utcnow(), app_config().timezone)
    data = table_xlsx(
        title,
        columns,
        rows,
        subtitle="；".join(p for p in (subtitle, f"导出时间 {stamp}") if p),
        notes=notes,
    )
    return send_file(
        io.BytesIO(data),
        mimetype=XLSX,
        as_attachment=True,
        download_name=f"{file_stem}.xlsx",
        max_age=0,
    )
