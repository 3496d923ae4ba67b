"""导出 Excel of the dashboard's townships, the zones and the import batches.

Each export is the page's table for the user's scope (a clerk: its own
township), laid out by ``heating.table_export`` with formula-safe text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask import Response

from heating import clock
from heating.measures import MeasureRow
from heating.models import BATCH_STATUS_LABELS, ImportBatch, Zone
from heating.report.workbook import Column
from heating.web.db import app_config
from heating.web.exports import xlsx_download

MEASURE_COLUMNS = [
    Column("村庄数", "int"),
    Column("应改户数", "int"),
    Column("已完成户数", "int"),
    Column("覆盖率", "pct"),
    Column("有效覆盖率", "pct"),
    Column("差距（户）", "int"),
    Column("是否达标"),
]


def _meets(value: bool | None) -> str:
    return "无数据" if value is None else ("达标" if value else "未达标")


def _measures(r: MeasureRow) -> list[Any]:
    return [
        r.villages,
        r.required,
        r.clean,
        r.coverage,
        r.effective_coverage,
        r.gap,
        _meets(r.meets),
    ]


def export_townships(
    townships: Sequence[MeasureRow],
    ledgers: Mapping[str, ImportBatch],
    states: Mapping[str, Any],
    period: Any,
) -> Response:
    """The dashboard's township table: newest ledger, sign-off state, measures."""
    rows = [
        [
            t.key,
            t.name,
            ledgers[t.key].ledger_date if t.key in ledgers else "还没有台账",
            states[t.key].label if t.key in states else "",
            *_measures(t),
        ]
        for t in townships
    ]
    return xlsx_download(
        "各乡镇清洁取暖改造进度",
        [
            Column("乡镇代码"),
            Column("乡镇"),
            Column("最新台账日期", "date"),
            Column(f"{period} 期报送"),
            *MEASURE_COLUMNS,
        ],
        rows,
        file_stem="各乡镇清洁取暖改造进度",
        subtitle="数据为当前台账",
    )


def zones_xlsx(
    zones: Sequence[Zone], names: Mapping[str, str], as_of: Any, query: str = ""
) -> Response:
    """The zones table: id, villages, area, households, villages inside and touching
    (with ``query``: the zones holding or touching the villages the zones page found)."""

    def listed(codes: Sequence[str] | None) -> str:
        return "、".join(f"{names.get(c, c)}（{c}）" for c in codes or [])

    rows = [
        [
            z.zone_id,
            len(z.village_codes or []),
            z.area_km2,
            z.households,
            listed(z.village_codes),
            listed(z.touching),
        ]
        for z in zones
    ]
    return xlsx_download(
        "禁煤区列表",
        [
            Column("编号"),
            Column("村庄数", "int"),
            Column("面积（km²）", "area"),
            Column("户数", "int"),
            Column("包含村庄", width=60, wrap=True),
            Column("相邻的未完成村庄", width=40, wrap=True),
        ],
        rows,
        file_stem=f"禁煤区列表（截至{as_of}）" if as_of else "禁煤区列表",
        subtitle=(f"派生截至 {as_of}" if as_of else "尚未生成禁煤区")
        + (f"；只含有或邻接名称含“{query}”或代码以它开头的村的禁煤区" if query else ""),
    )


def export_batches(batches: Sequence[ImportBatch]) -> Response:
    """The import history as on /imports."""
    tz = app_config().timezone
    rows = []
    for b in batches:
        c = b.counts or {}
        rows.append(
            [
                b.id,
                b.file_name,
                b.township.name if b.township else "",
                b.ledger_date,
                b.user.username if b.user else "",
                clock.local(b.created_at, tz).replace(tzinfo=None) if b.created_at else None,
                BATCH_STATUS_LABELS.get(b.status, b.status)
                + ("（仅无误行）" if b.accept_valid else ""),
                c.get("rows"),
                c.get("new"),
                c.get("updated"),
                c.get("unchanged"),
                c.get("rejected"),
                c.get("warnings"),
            ]
        )
    return xlsx_download(
        "台账导入记录",
        [
            Column("批次", "int"),
            Column("文件名"),
            Column("乡镇"),
            Column("台账日期", "date"),
            Column("上传人"),
            Column("上传时间"),
            Column("状态"),
            Column("数据行", "int"),
            Column("新增", "int"),
            Column("更新", "int"),
            Column("未变", "int"),
            Column("错误行", "int"),
            Column("警告", "int"),
        ],
        rows,
        file_stem="台账导入记录",
    )
