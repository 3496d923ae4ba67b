"""One module per group of sheets; ``SHEETS`` is the workbook's order (issue 7)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from heating.report.sheets import (
    boilers,
    comparison,
    cover,
    evidence,
    failing,
    heat_sources,
    households,
    places,
    quality,
    trend,
    zones,
)

# (sheet title, writer(ws, snapshot, picture_png)) in the order the city office reads them.
SHEETS: list[tuple[str, Callable[..., Any]]] = [
    ("封面与说明", cover.write),
    ("总体情况", places.write_overview),
    ("分乡镇", places.write_townships),
    ("分村", places.write_villages),
    ("未达标清单", failing.write),
    ("禁煤区", zones.write),
    ("技术路线", households.write_routes),
    ("回头看问题户", households.write_problems),
    ("热源核查", heat_sources.write),
    ("锅炉清零", boilers.write),
    ("用量核验", evidence.write_usage),
    ("补贴", evidence.write_subsidy),
    ("年度对比", comparison.write),
    ("历年趋势", trend.write),
    ("数据质量", quality.write),
]
